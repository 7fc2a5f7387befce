"""Time, injected: the bot reads it from a Clock, tests bring their own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, tzinfo
from typing import Protocol

__all__ = ["Clock", "SystemClock", "local_time", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_time(when: datetime, zone: tzinfo, now: datetime) -> str:
    """ "14:05" on the day of `now` in the team's time zone, "2026-12-01 14:05" another day."""
    local = when.astimezone(zone)
    if local.date() == now.astimezone(zone).date():
        return local.strftime("%H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Pause the caller for `seconds` of this clock's time."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return utcnow()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
