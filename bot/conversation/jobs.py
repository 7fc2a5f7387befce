"""What the bot says unprompted: waits that ended, and flows that timed out."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from bot.concurrency import PerChatUpdateProcessor
from bot.conversation.flow import RegistrationFlow
from bot.delivery import Courier

__all__ = ["FlowJobs"]

logger = logging.getLogger(__name__)


class FlowJobs:
    def __init__(
        self, flow: RegistrationFlow, courier: Courier, processor: PerChatUpdateProcessor
    ) -> None:
        self.flow = flow
        self.courier = courier
        self.processor = processor
        self._expiring: dict[int, asyncio.Task[None]] = {}

    async def announce_waits_over(self) -> datetime | None:
        """Tell every chat whose wait ended (the notices are committed with the claim, so they
        are delivered at least once); returns when to run again."""
        notices, next_deadline = await self.flow.due_notices()
        await self.courier.deliver(notices, background=True)
        return next_deadline

    async def end_idle_flows(self) -> None:
        """The repeating sweep: end flows that saw no activity for the timeout.

        Each chat's flow ends in that chat's turn (a step still in flight, say a Z-API call,
        finishes first), and each chat waits for its own turn only: one slow chat delays no
        other chat's timeout."""
        for chat_id in await self.flow.idle_chats():
            if chat_id not in self._expiring:
                task = asyncio.get_running_loop().create_task(
                    self._expire(chat_id), name=f"expire:{chat_id}"
                )
                self._expiring[chat_id] = task

    async def _expire(self, chat_id: int) -> None:
        try:
            async with self.processor.turn(chat_id):
                owed = await self.flow.expire_if_idle(chat_id)
            await self.courier.deliver(owed, background=True)
        except Exception:
            logger.exception("Could not end the idle flow of chat %s", chat_id)
        finally:
            del self._expiring[chat_id]

    async def stop(self) -> None:
        for task in list(self._expiring.values()):
            task.cancel()
        await asyncio.gather(*self._expiring.values(), return_exceptions=True)
