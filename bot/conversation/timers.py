"""Wait timers on python-telegram-bot's JobQueue: one job, armed for the next wait to end.

However many waits end together, one run claims them all in one transaction and the notices go
out concurrently; the job is then armed again for the next pending wait (read from the database,
so a restart picks up where the last process stopped).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from telegram.ext import ContextTypes, Job, JobQueue

from bot.domain.clock import Clock

__all__ = ["JobQueueTimers"]

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
RETRY_AFTER = timedelta(seconds=5)
# Announces every ended wait and returns when the next one ends (None: no wait pending).
DueHandler = Callable[[], Awaitable[datetime | None]]


class JobQueueTimers:
    def __init__(self, job_queue: JobQueue[Context], clock: Clock) -> None:
        self.job_queue = job_queue
        self.clock = clock
        self.on_due: DueHandler | None = None
        self._job: Job[Context] | None = None
        self._armed_for: datetime | None = None

    def schedule(self, ready_at: datetime) -> None:
        if self._armed_for is None or ready_at < self._armed_for:
            self._arm(ready_at)

    def _arm(self, when: datetime) -> None:
        if self._job is not None:
            self._job.schedule_removal()
        self._armed_for = when
        delay = max(0.0, (when - self.clock.now()).total_seconds())
        self._job = self.job_queue.run_once(self._run, when=delay, name="wait-timers")

    async def _run(self, context: Context) -> None:
        if context.job is not self._job:
            return  # replaced by an earlier deadline meanwhile
        self._job, self._armed_for = None, None
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
