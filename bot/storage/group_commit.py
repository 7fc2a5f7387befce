"""Group commit: the writes of many chats in one transaction, each caller awaiting its commit.

A committed transaction costs the same whether it carries one chat's step or two hundred, so
when many members answer at once their writes queue here and go to the database together. Each
caller still gets its own result only after the transaction holding its write has committed:
write-through holds, a reply never precedes the state it reports.

Two kinds of work:

- `run(unit)`: an async function of the session, run alone in the batch's transaction, in
  submission order.
- `add(bulk, item)`: one item for a bulk function of many items (for instance one INSERT for all
  the new flows of a batch); items of one bulk function are applied with a single call.

Units must leave the session as they found it when they raise `WriteRefused` (check before
writing, or write inside a savepoint): the batch goes on without them. Any other exception from a
write rolls the batch back; that write's caller gets the exception and the other writes go again
in a new transaction, so one failing write fails only its own caller. When the transaction itself
fails (the database locked by another process past its busy timeout, say), every caller of the
batch gets that error at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.ports import WriteRefused
from bot.storage.database import Database

__all__ = ["BulkWrite", "GroupCommit", "WriteRefused", "WriteUnit"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741
WriteUnit = Callable[[AsyncSession], Awaitable[T]]
BulkWrite = Callable[[AsyncSession, Sequence[I]], Awaitable[Sequence[T]]]

# Enough to absorb a burst in a few transactions, small enough that none holds SQLite's write
# lock for long.
MAX_BATCH = 256


@dataclass(eq=False, slots=True)
class _Pending:
    future: asyncio.Future[Any]
    unit: WriteUnit[Any] | None = None
    bulk: BulkWrite[Any, Any] | None = None
    item: Any = None


@dataclass(slots=True)
class _Outcomes:
    results: dict[_Pending, Any] = field(default_factory=dict)
    refusals: dict[_Pending, WriteRefused] = field(default_factory=dict)


class GroupCommit:
    def __init__(self, database: Database, *, max_batch: int = MAX_BATCH) -> None:
        self.database = database
        self.max_batch = max_batch
        self._queue: list[_Pending] = []
        self._worker: asyncio.Task[None] | None = None

    async def run(self, unit: WriteUnit[T]) -> T:
        """Run `unit` in the next transaction; its result once that transaction committed."""
        return await self._submit(_Pending(self._future(), unit=unit))  # type: ignore[no-any-return]

    async def add(self, bulk: BulkWrite[I, T], item: I) -> T:
        """Apply `bulk` to `item` (with the batch's other items for `bulk`); its result."""
        return await self._submit(_Pending(self._future(), bulk=bulk, item=item))  # type: ignore[no-any-return]

    @staticmethod
    def _future() -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()

    def _submit(self, pending: _Pending) -> asyncio.Future[Any]:
        self._queue.append(pending)
        if self._worker is None:
            # The worker lives while there is work: nothing to start or stop with the bot.
            self._worker = asyncio.get_running_loop().create_task(
                self._drain(), name="group-commit"
            )
        return pending.future

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                await self._commit(batch)
        finally:
            self._worker = None
            if self._queue:  # cancelled: nobody will write these
                for pending in self._queue:
                    _settle(pending, error=asyncio.CancelledError())
                self._queue.clear()

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            outcomes = await self._transaction(batch)
        except asyncio.CancelledError:
            for pending in batch:
                _settle(pending, error=asyncio.CancelledError())
            raise
        except _WriteFailed as failure:
            # The batch is rolled back. The writes that failed get their error (a bulk write
            # cannot say which of its items failed: each is tried alone); the others go again.
            if len(failure.suspects) == 1:
                _settle(failure.suspects[0], error=failure.error)
            else:
                for suspect in failure.suspects:
                    await self._commit([suspect])
            rest = [pending for pending in batch if pending not in failure.suspects]
            if rest:
                logger.warning("A write failed; the %d others of its batch go again", len(rest))
                await self._commit(rest)
            return
        except Exception as error:
            # The transaction itself (BEGIN, COMMIT, the connection): no write is to blame, and
            # trying each alone would only wait for the same refusal once per write.
            for pending in batch:
                _settle(pending, error=error)
            return
        for pending, result in outcomes.results.items():
            _settle(pending, result=result)
        for pending, refusal in outcomes.refusals.items():
            _settle(pending, error=refusal)

    async def _transaction(self, batch: list[_Pending]) -> _Outcomes:
        outcomes = _Outcomes()
        bulks: dict[BulkWrite[Any, Any], list[_Pending]] = {}
        for pending in batch:
            if pending.bulk is not None:
                bulks.setdefault(pending.bulk, []).append(pending)
        async with self.database.session() as session:
            # Begin now (SQLite: take the write lock), so that a database that refuses the
            # transaction is told apart from a write that fails.
            await session.connection()
            for bulk, items in bulks.items():
                try:
                    results = await bulk(session, [pending.item for pending in items])
                    await session.flush()
                except Exception as error:
                    raise _WriteFailed(items, error) from error
                outcomes.results.update(zip(items, results, strict=True))
            for pending in batch:
                if pending.unit is None:
                    continue
                try:
                    # Flushed here, so that a failure shows on the write that caused it rather
                    # than on the next one, or at the commit.
                    outcomes.results[pending] = await pending.unit(session)
                    await session.flush()
                except WriteRefused as refusal:
                    outcomes.refusals[pending] = refusal
                except Exception as error:
                    raise _WriteFailed([pending], error) from error
        return outcomes


class _WriteFailed(Exception):
    def __init__(self, suspects: list[_Pending], error: Exception) -> None:
        super().__init__(str(error))
        self.suspects = suspects
        self.error = error


def _settle(pending: _Pending, *, result: Any = None, error: BaseException | None = None) -> None:
    if pending.future.done():  # its caller was cancelled; the write stands
        return
    if isinstance(error, asyncio.CancelledError):
        pending.future.cancel()
    elif error is not None:
        pending.future.set_exception(error)
    else:
        pending.future.set_result(result)
