"""Reading Telegram's updates at the edge: which ones the bot asks for, what a member typed or
pressed, and the "typing…" shown while Z-API works."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Final

from telegram import Bot, Message, Update
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.ext import filters

from bot.domain.clock import Clock
from bot.render import Pressed

__all__ = [
    "ALLOWED_UPDATES",
    "NEW_MESSAGES",
    "TYPING_EVERY",
    "Typing",
    "language_named",
    "pressed_message",
    "typed_text",
    "typing_while",
]

# What the bot asks Telegram for (polling and webhook alike).
ALLOWED_UPDATES: Final = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY]
# Commands and answers come in new messages; edited ones have their own handler.
NEW_MESSAGES: Final = filters.UpdateType.MESSAGE
# Telegram shows "typing…" for at most 5 s; a Z-API call may take 30.
TYPING_EVERY: Final = 4.0


class Typing:
    """ "typing…" in the chat while the step's Z-API call runs, sent again every TYPING_EVERY
    seconds (on the bot's clock) until the step is done; `start` is the service's signal that
    a call begins."""

    def __init__(self, bot: Bot, chat_id: int, clock: Clock) -> None:
        self.bot, self.chat_id, self.clock = bot, chat_id, clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._repeat(), name=f"typing:{self.chat_id}"
            )

    async def _repeat(self) -> None:
        while True:
            with contextlib.suppress(TelegramError):  # cosmetic only
                await self.bot.send_chat_action(self.chat_id, ChatAction.TYPING)
            await self.clock.sleep(TYPING_EVERY)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


@contextlib.asynccontextmanager
async def typing_while(bot: Bot, chat_id: int, clock: Clock) -> AsyncIterator[Typing]:
    """A Typing for one update's step, stopped when the step is done."""
    typing = Typing(bot, chat_id, clock)
    try:
        yield typing
    finally:
        await typing.stop()


def pressed_message(update: Update) -> Pressed | None:
    """The message a button was pressed on, if Telegram still lets the bot edit it."""
    query = update.callback_query
    message = query.message if query is not None else None
    if not isinstance(message, Message):
        return None
    return Pressed(message.message_id, photo=bool(message.photo))


_LANGUAGE_NAMES = {
    "en": "en", "english": "en", "inglês": "en", "ingles": "en",
    "pt": "pt", "pt-br": "pt", "português": "pt", "portugues": "pt", "portuguese": "pt",
}  # fmt: skip


def language_named(text: str) -> str | None:
    return _LANGUAGE_NAMES.get(text.strip().casefold())


def typed_text(update: Update) -> str:
    message = update.effective_message
    return (message.text or "") if message else ""
