"""Timers on the bot's clock: one armed for the next wait to end, and a repeating sweep.

However many waits end together, one run claims them all in one transaction and the notices go
out concurrently; the timer is then armed again for the next pending wait (read from the
database, so a restart picks up where the last process stopped).

python-telegram-bot's JobQueue would do the same, but APScheduler under it reads the machine's
clock; these sleep on the injected `Clock`, so a test that moves its clock forward sees a wait end
or a flow time out at once instead of sleeping through it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.domain.clock import Clock

__all__ = ["RepeatingTask", "WaitTimers"]

logger = logging.getLogger(__name__)

RETRY_AFTER = timedelta(seconds=5)
# Announces every ended wait and returns when the next one ends (None: no wait pending).
DueHandler = Callable[[], Awaitable[datetime | None]]


class WaitTimers:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.on_due: DueHandler | None = None
        self._sleeper: asyncio.Task[None] | None = None  # set only while it sleeps
        self._armed_for: datetime | None = None
        self._running: set[asyncio.Task[None]] = set()

    def schedule(self, ready_at: datetime) -> None:
        if self._armed_for is None or ready_at < self._armed_for:
            self._arm(ready_at)

    def _arm(self, when: datetime) -> None:
        if self._sleeper is not None:
            self._sleeper.cancel()  # an earlier deadline replaces it
        self._armed_for = when
        task = asyncio.get_running_loop().create_task(self._fire_at(when), name="wait-timers")
        self._sleeper = task
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _fire_at(self, when: datetime) -> None:
        await self.clock.sleep(max(0.0, (when - self.clock.now()).total_seconds()))
        # Awake: from here on a new deadline arms a timer of its own instead of cancelling this.
        self._sleeper, self._armed_for = None, None
        if self.on_due is None:
            return
        try:
            next_deadline = await self.on_due()
        except Exception:  # a database hiccup must not silence every later notice
            logger.exception("Announcing ended waits failed; trying again shortly")
            self.schedule(self.clock.now() + RETRY_AFTER)
            return
        if next_deadline is not None:
            self.schedule(next_deadline)

    async def stop(self) -> None:
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        self._sleeper, self._armed_for = None, None


class RepeatingTask:
    """Runs `action` now and then every `interval` seconds of the clock until stopped."""

    def __init__(
        self, clock: Clock, action: Callable[[], Awaitable[None]], *, interval: float, name: str
    ) -> None:
        self.clock = clock
        self.action = action
        self.interval = interval
        self.name = name
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name=self.name)

    async def _loop(self) -> None:
        while True:
            try:
                await self.action()
            except Exception:
                logger.exception(
                    "The %s task failed; it runs again in %.0f s", self.name, self.interval
                )
            await self.clock.sleep(self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
