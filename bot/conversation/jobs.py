"""What the bot says unprompted: waits that ended, and flows that timed out."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from telegram import Bot
from telegram.error import NetworkError, RetryAfter, TelegramError
from telegram.ext import ContextTypes

from bot.concurrency import PerChatUpdateProcessor
from bot.conversation.flow import RegistrationFlow, WaitOverNotice
from bot.conversation.handlers import RegistrationHandlers

__all__ = ["FlowJobs"]

logger = logging.getLogger(__name__)

# Hundreds of sends at once mostly wait on each other inside the HTTP client's pool.
NOTICE_CONCURRENCY = 8


class FlowJobs:
    def __init__(
        self,
        flow: RegistrationFlow,
        handlers: RegistrationHandlers,
        processor: PerChatUpdateProcessor,
        bot: Bot,
    ) -> None:
        self.flow = flow
        self.handlers = handlers
        self.processor = processor
        self.bot = bot
        self._sending = asyncio.Semaphore(NOTICE_CONCURRENCY)

    async def announce_waits_over(self) -> datetime | None:
        """Tell every chat whose wait ended; returns when to run again."""
        notices, next_deadline = await self.flow.due_notices()
        retries = await asyncio.gather(*(self._announce(notice) for notice in notices))
        return min(filter(None, [next_deadline, *retries]), default=None)

    async def _announce(self, notice: WaitOverNotice) -> datetime | None:
        """Deliver one notice; when Telegram could not take it, when to try again."""
        try:
            async with self._sending:
                await self.handlers.deliver_to(self.bot, notice.chat_id, [notice.reply])
        except (NetworkError, RetryAfter) as error:  # TimedOut is a NetworkError
            logger.warning("Wait notice to chat %s not delivered: %s", notice.chat_id, error)
            return await self.flow.notice_not_delivered(notice)
        except TelegramError as error:  # e.g. the member blocked the bot: nobody to tell
            logger.warning("Wait notice to chat %s refused: %s", notice.chat_id, error)
        return None

    async def end_idle_flows(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The JobQueue's repeating job: end flows that saw no activity for the timeout."""
        for chat_id in await self.flow.idle_chats():
            # In the chat's turn: a step still in flight (say, a Z-API call) finishes first.
            async with self.processor.turn(chat_id):
                reply = await self.flow.expire_if_idle(chat_id)
            if reply is None:
                continue
            try:
                await self.handlers.deliver_to(self.bot, chat_id, [reply])
            except TelegramError as error:
                logger.warning("Could not tell chat %s its flow timed out: %s", chat_id, error)
