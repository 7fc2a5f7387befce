"""Small Telegram helpers shared by the handlers."""

from __future__ import annotations

import logging

from telegram import CallbackQuery
from telegram.error import TelegramError

__all__ = ["answer_quietly"]

logger = logging.getLogger(__name__)


async def answer_quietly(query: CallbackQuery, text: str | None = None) -> None:
    """Answer a button press; a press Telegram no longer accepts answers for (too old, say,
    after a restart) must still be acted on, so a failure here is only logged."""
    try:
        await query.answer(text)
    except TelegramError as error:
        logger.info("Could not answer a button press: %s", error)
