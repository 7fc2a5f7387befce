"""Runs the real Application inside the test's event loop, long polling the Telegram double."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bot.__main__ import migrate_database
from bot.app import build_application, services_of
from bot.config import Settings
from bot.conversation.updates import ALLOWED_UPDATES
from bot.domain.clock import Clock
from tests.doubles.telegram_api import ApiCall, TelegramDouble, TgUser


class BotHarness:
    def __init__(self, settings: Settings, telegram: TelegramDouble, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.telegram = telegram
        self.application: Any = None
        self.running = False

    async def start(self) -> None:
        await migrate_database(self.settings)
        self.application = build_application(self.settings, clock=self.clock)
        app = self.application
        await app.initialize()
        if app.post_init is not None:
            await app.post_init(app)
        await app.updater.start_polling(
            poll_interval=0.0,
            timeout=1,
            allowed_updates=ALLOWED_UPDATES,  # what `python -m bot` asks for
        )
        await app.start()
        self.running = True

    async def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        app = self.application
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)

    @property
    def services(self) -> Any:
        return services_of(self.application)

    async def say(self, user: TgUser, text: str, *, timeout: float = 10.0) -> ApiCall:
        """Send text as `user` and return the bot's next visible reply in that chat."""
        self.telegram.send_text(user, text)
        return await self.telegram.next_reply(user.id, timeout=timeout)

    async def tap(self, user: TgUser, label: str, *, timeout: float = 10.0) -> ApiCall:
        """Press the newest button whose label contains `label`; return the next reply."""
        message_id, data = self.telegram.button(user.id, label)
        self.telegram.press(user, message_id, data)
        return await self.telegram.next_reply(user.id, timeout=timeout)


def labels(call: ApiCall) -> list[str]:
    """The inline button labels of one bot message, as the member sees them."""
    markup = call.reply_markup or {}
    return [button["text"] for row in markup.get("inline_keyboard", []) for button in row]


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for state the bot changes in the background (a request reaching the Z-API double, a
    row in the database) that raises no event of its own."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - nothing to await but the state itself
            await asyncio.sleep(0.01)


async def settle(seconds: float = 0.2) -> None:
    """Give background work a moment before asserting that something did *not* happen (a second
    notice, a timeout message): there is no event to wait for when nothing comes."""
    await asyncio.sleep(seconds)
