"""Updates of different chats run concurrently; updates of one chat run strictly in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.log_context import log_context

__all__ = ["MAX_CONCURRENT_UPDATES", "MAX_QUEUED_UPDATES", "PerChatUpdateProcessor"]

# Updates handled at once, all chats together. Members of one team rarely have more than a few
# dozen flows open; the cap bounds the memory a burst of updates can take.
MAX_CONCURRENT_UPDATES = 128
# Updates let in to wait for their chat's turn.
MAX_QUEUED_UPDATES = 4096


@dataclass
class _ChatQueue:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """A lock per chat (asyncio locks wake waiters first-in, first-out).

    The handlers (which read the step from the flow's row) and the write-through state rely on
    one chat's updates being handled one after the other; a member stuck on a slow Z-API call
    holds only their own chat.

    PTB takes a slot of its semaphore before `do_process_update` sees an update. Were that the
    limit, the updates queued behind one busy chat (a member pasting fifty messages while a
    Z-API call hangs) would sit on slots every other chat needs. So PTB's semaphore is made wide
    (its tasks exist for every fetched update anyway) and `max_running` applies once an update
    has its chat's turn.
    """

    def __init__(
        self,
        max_running: int = MAX_CONCURRENT_UPDATES,
        *,
        max_queued: int = MAX_QUEUED_UPDATES,
        on_handled: Callable[[object, float], None] | None = None,
    ) -> None:
        """`on_handled(update, seconds)`: told of each update once its handlers are done, with
        the seconds since it came in (its chat's turn included)."""
        super().__init__(max(max_queued, max_running))
        self.max_running = max_running
        self.on_handled = on_handled
        self._running = asyncio.BoundedSemaphore(max_running)
        self._chats: dict[int, _ChatQueue] = {}

    @staticmethod
    def _key(update: object) -> int | None:
        if not isinstance(update, Update):
            return None
        if update.effective_chat is not None:
            return update.effective_chat.id
        return update.effective_user.id if update.effective_user is not None else None

    async def do_process_update(self, update: object, coroutine: Awaitable[object]) -> None:
        started = time.perf_counter()
        try:
            key = self._key(update)
            if key is None:
                async with self._running:
                    await coroutine
                return
            async with self.turn(key), self._running:
                with log_context(chat=key):
                    await coroutine
        finally:
            if self.on_handled is not None:
                self.on_handled(update, time.perf_counter() - started)

    @asynccontextmanager
    async def turn(self, chat_id: int) -> AsyncIterator[None]:
        """Wait for the chat's turn: for jobs that change a chat's flow (e.g. the idle timeout)
        and so must not interleave with an update of that chat."""
        queue = self._chats.setdefault(chat_id, _ChatQueue())
        queue.waiting += 1
        try:
            async with queue.lock:
                yield
        finally:
            queue.waiting -= 1
            if queue.waiting == 0:
                del self._chats[chat_id]

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None
