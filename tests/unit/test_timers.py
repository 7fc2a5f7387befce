"""The timers on the injected clock: armed for the earliest wait, retried after a failed run,
and the repeating sweep; driven by the tests' clock, with no real waiting."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from bot.conversation.timers import RETRY_AFTER, RepeatingTask, WaitTimers
from tests.clock import TestClock


async def turns(count: int = 10) -> None:
    """Let the woken tasks run (no time passes)."""
    for _ in range(count):
        await asyncio.sleep(0)


async def test_the_earliest_deadline_fires_once_and_the_later_one_after_it() -> None:
    clock = TestClock()
    runs: list[datetime] = []
    later = clock.now() + timedelta(seconds=60)

    async def on_due() -> datetime | None:
        runs.append(clock.now())
        return later if len(runs) == 1 else None  # the next wait still pending, then none

    timers = WaitTimers(clock)
    timers.on_due = on_due
    timers.schedule(later)
    timers.schedule(clock.now() + timedelta(seconds=30))  # an earlier wait replaces the timer
    await clock.advance(29)
    await turns()
    assert runs == []
    await clock.advance(1)
    await turns()
    assert len(runs) == 1
    await clock.advance(29)
    await turns()
    assert len(runs) == 1
    await clock.advance(1)
    await turns()
    assert len(runs) == 2
    await clock.advance(3600)
    await turns()
    assert len(runs) == 2  # nothing pending: nothing armed
    await timers.stop()


async def test_a_failed_run_is_tried_again_shortly() -> None:
    clock = TestClock()
    runs = 0

    async def on_due() -> datetime | None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise ConnectionError("the database went away")
        return None

    timers = WaitTimers(clock)
    timers.on_due = on_due
    timers.schedule(clock.now())
    await turns()
    assert runs == 1
    await clock.advance(RETRY_AFTER.total_seconds() - 1)
    await turns()
    assert runs == 1
    await clock.advance(1)
    await turns()
    assert runs == 2
    await timers.stop()


async def test_the_sweep_runs_at_once_then_every_interval_even_after_a_failure() -> None:
    clock = TestClock()
    runs = 0

    async def sweep() -> None:
        nonlocal runs
        runs += 1
        if runs == 2:
            raise RuntimeError("one sweep failed")

    task = RepeatingTask(clock, sweep, interval=30, name="idle-flows")
    task.start()
    await turns()
    assert runs == 1
    for expected in (2, 3, 4):
        await clock.advance(30)
        await turns()
        assert runs == expected
    await task.stop()
    await clock.advance(300)
    await turns()
    assert runs == 4
