"""The tests' clock: the machine's time plus an offset the test moves forward.

Waits that a test does not care about still pass in real time. `advance` skips ahead at once and
wakes every sleeper whose time came, so a 3-minute WhatsApp wait or an idle timeout costs no
sleeping; inside `skipping()`, every short sleep (a retry's back-off) ends as soon as it starts.
The Z-API double reads the same clock (`monotonic`), so both sides agree on the time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from bot.domain.clock import utcnow


class TestClock:
    __test__ = False  # not a test class, whatever its name

    def __init__(self) -> None:
        self.offset = 0.0
        self._moved = asyncio.Event()
        self._sleepers: dict[int, float] = {}  # sleeper → when it wakes, on `monotonic`
        self._ids = itertools.count()

    def now(self) -> datetime:
        return utcnow() + timedelta(seconds=self.offset)

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    async def sleep(self, seconds: float) -> None:
        deadline = self.monotonic() + seconds
        sleeper = next(self._ids)
        self._sleepers[sleeper] = deadline
        try:
            await asyncio.sleep(0)
            while (left := deadline - self.monotonic()) > 0:
                moved = self._moved
                try:
                    async with asyncio.timeout(left):
                        await moved.wait()
                except TimeoutError:
                    pass
        finally:
            del self._sleepers[sleeper]

    def has_sleeper_waking_within(self, low: float, high: float) -> bool:
        """Whether something sleeps with between `low` and `high` seconds left (a back-off the
        bot started: advancing before it started would not shorten it)."""
        now = self.monotonic()
        return any(low <= when - now <= high for when in self._sleepers.values())

    async def advance(self, seconds: float) -> None:
        """Move time forward by `seconds` at once; sleepers whose time came wake up."""
        self.offset += seconds
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()
        await asyncio.sleep(0)

    @contextlib.asynccontextmanager
    async def skipping(self, horizon: float = 5.0) -> AsyncIterator[None]:
        """While inside, a sleep due within `horizon` seconds (a retry's back-off) ends at once:
        time jumps to it. Timers further off (idle timeouts, the idle sweep) are left alone."""

        async def skip() -> None:
            while True:
                await asyncio.sleep(0.005)
                now = self.monotonic()
                due = [when for when in self._sleepers.values() if now < when <= now + horizon]
                if due:
                    await self.advance(min(due) - now)

        task = asyncio.get_running_loop().create_task(skip())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
