"""The global error handler: log (redacted), keep the member's place, alert admins sparingly."""

from __future__ import annotations

import logging
import time

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.config import Settings
from bot.conversation.texts import catalog_for
from bot.render import answer_quietly

__all__ = ["ErrorReporter"]

logger = logging.getLogger(__name__)

ALERT_INTERVAL_SECONDS = 300.0


class ErrorReporter:
    """One alert per admin per ALERT_INTERVAL_SECONDS at most, with a count of those skipped."""

    def __init__(
        self, settings: Settings, *, alert_interval: float = ALERT_INTERVAL_SECONDS
    ) -> None:
        self.settings = settings
        self.alert_interval = alert_interval
        self._last_alert = float("-inf")
        self._suppressed = 0

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        logger.error("Unhandled error while handling an update", exc_info=error)
        if isinstance(update, Update) and update.effective_chat is not None:
            user = update.effective_user
            texts = catalog_for(user.language_code if user else None)
            if update.callback_query is not None:
                await answer_quietly(update.callback_query)
            try:
                await context.bot.send_message(update.effective_chat.id, texts.unexpected_error)
            except TelegramError:
                logger.warning("Could not tell chat %s about the error", update.effective_chat.id)
        await self._alert_admins(context, error)

    async def _alert_admins(
        self, context: ContextTypes.DEFAULT_TYPE, error: BaseException | None
    ) -> None:
        now = time.monotonic()
        if now - self._last_alert < self.alert_interval:
            self._suppressed += 1
            return
        self._last_alert = now
        summary = type(error).__name__ if error is not None else "unknown"
        if self._suppressed:
            summary += f" (+{self._suppressed} more since the last alert)"
            self._suppressed = 0
        for admin in sorted(self.settings.admin_user_ids):
            texts = catalog_for(None)
            try:
                await context.bot.send_message(admin, texts.admin_alert.format(error=summary))
            except TelegramError:
                logger.warning("Could not alert admin %s", admin)
