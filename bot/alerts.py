"""Alerts to the admins' private chats: what a member cannot fix, told to those who can, each
kind once per instance per hour at most."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from telegram.error import Forbidden, TelegramError

from bot.config import Settings
from bot.conversation.replies import Reply
from bot.conversation.texts import catalog_for
from bot.delivery import Courier
from bot.domain.clock import Clock
from bot.languages import LanguageChoices

__all__ = ["AdminAlerts"]

logger = logging.getLogger(__name__)

ALERT_INTERVAL = timedelta(hours=1)


class AdminAlerts:
    def __init__(
        self,
        settings: Settings,
        courier: Courier,
        languages: LanguageChoices,
        clock: Clock,
        *,
        interval: timedelta = ALERT_INTERVAL,
    ) -> None:
        self.settings = settings
        self.courier = courier
        self.languages = languages
        self.clock = clock
        self.interval = interval
        self._last: dict[tuple[str, str], datetime] = {}
        self._unreachable: set[int] = set()  # admins Telegram refused to write to
        self._sending: set[asyncio.Task[None]] = set()

    def credentials_refused(self, instance: str, endpoint: str) -> bool:
        """Z-API refused the bot's credentials on `instance`: the admins are told (unless they
        were within the hour). Whether an admin the bot can write to is there to be told."""
        admins = sorted(set(self.settings.admin_user_ids) - self._unreachable)
        if not admins:
            return False
        now = self.clock.now()
        last = self._last.get(("credentials", instance))
        if last is None or now - last >= self.interval:
            self._last[("credentials", instance)] = now
            logger.warning("Z-API refused the credentials on %s: alerting the admins", instance)
            task = asyncio.get_running_loop().create_task(
                self._tell(admins, instance, endpoint), name="alert-credentials"
            )
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        return True

    async def _tell(self, admins: list[int], instance: str, endpoint: str) -> None:
        for admin in admins:
            texts = catalog_for(self.languages.chosen(admin))
            text = texts.alert_credentials.format(instance=instance, endpoint=endpoint)
            try:
                await self.courier.send(admin, [Reply(text, aside=True)])
            except Forbidden:
                # Never started the bot, or blocked it: members hear "tell an admin" instead.
                logger.warning("Admin %s cannot be written to (start the bot in private)", admin)
                self._unreachable.add(admin)
            except TelegramError as error:
                logger.warning("Could not alert admin %s: %s", admin, type(error).__name__)
