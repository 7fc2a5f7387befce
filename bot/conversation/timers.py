"""Wait timers as python-telegram-bot JobQueue jobs, rebuilt from the database at start."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from telegram.ext import ContextTypes, JobQueue

from bot.storage.models import utcnow

__all__ = ["JobQueueTimers"]

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE


class JobQueueTimers:
    """Schedules one job per wait timer; when it runs, `on_due(chat_id)` announces the end."""

    def __init__(self, job_queue: JobQueue[Context]) -> None:
        self.job_queue = job_queue
        self.on_due: Callable[[int], Awaitable[None]] | None = None

    def schedule(self, timer_id: int, chat_id: int, ready_at: datetime) -> None:
        name = f"wait:{timer_id}"
        for job in self.job_queue.get_jobs_by_name(name):
            job.schedule_removal()
        delay = max(0.0, (ready_at - utcnow()).total_seconds())
        self.job_queue.run_once(self._run, when=delay, data=chat_id, name=name, chat_id=chat_id)

    async def _run(self, context: Context) -> None:
        job = context.job
        if job is None or self.on_due is None or not isinstance(job.data, int):
            return
        await self.on_due(job.data)
