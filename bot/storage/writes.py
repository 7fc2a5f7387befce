"""The writer every write of the conversation goes through (group commit, retried while the
database is in trouble), the outbox's rows, and the writes shared by the flow store.

What a write *is* (`Change`, the refusals, owed messages) is the service's:
`bot.conversation.ports`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.ports import (
    InstanceBusy,
    Message,
    OwedMessage,
    StorageUnavailable,
    WriteRefused,
)
from bot.domain.clock import Clock
from bot.domain.record import FlowRecord
from bot.storage import repositories as repo
from bot.storage.database import Database
from bot.storage.group_commit import GroupCommit

__all__ = [
    "WRITE_RETRY_DELAYS",
    "MessageIds",
    "Saved",
    "Writer",
    "audit",
    "insert_flows_with_messages",
    "insert_leased",
    "is_storage_trouble",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
# A write that fails for the database's sake (locked past the busy timeout, a connection lost)
# is tried again after each of these pauses before the caller hears of it.
WRITE_RETRY_DELAYS: tuple[float, ...] = (0.25, 1.0)


class MessageIds:
    """Increasing ids for outbox rows: a chat's messages go out in id order, also after a
    restart (nanoseconds since the epoch, bumped when two come in the same one)."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        self._last = max(time.time_ns(), self._last + 1)
        return self._last


@dataclass(frozen=True, slots=True)
class Saved:
    record: FlowRecord
    lease: tuple[str, datetime] | None
    timers: list[repo.WaitSet]


def is_storage_trouble(error: Exception) -> bool:
    """The database (not the write) failed: locked, connection lost, pool exhausted."""
    if isinstance(error, IntegrityError):
        return False
    return isinstance(error, DBAPIError | PoolTimeout | OSError)


class Writer:
    """Writes through group commit, tried again while the database is in trouble; the outbox's
    rows and their acknowledgement."""

    def __init__(
        self,
        database: Database,
        *,
        clock: Clock,
        write_retry_delays: Sequence[float] = WRITE_RETRY_DELAYS,
    ) -> None:
        self.db = database
        self.clock = clock
        self.writes = GroupCommit(database)
        self.write_retry_delays = tuple(write_retry_delays)
        self._message_ids = MessageIds()

    async def _write(self, unit: Callable[[bool], Callable[[AsyncSession], Awaitable[T]]]) -> T:
        """Run a write, trying it again (bounded) while the database is in trouble.

        `unit(retrying)` builds the write; `retrying` tells it an earlier attempt may have
        committed without our hearing (a connection lost during COMMIT)."""
        delays = iter(self.write_retry_delays)
        retrying = False
        while True:
            try:
                return await self.writes.run(unit(retrying))
            except Exception as error:
                if isinstance(error, WriteRefused) or not is_storage_trouble(error):
                    raise
                delay = next(delays, None)
                if delay is None:
                    logger.error("Database write failed (%s); giving up", type(error).__name__)
                    raise StorageUnavailable(type(error).__name__) from None
                logger.warning(
                    "Database write failed (%s); trying again in %.2f s",
                    type(error).__name__,
                    delay,
                )
                await self.clock.sleep(delay)
                retrying = True

    def _owed(self, chat_id: int, messages: Sequence[Message]) -> list[OwedMessage]:
        return [OwedMessage(self._message_ids.next(), chat_id, message) for message in messages]

    def _outbox_rows(self, owed: Sequence[OwedMessage]) -> list[dict[str, Any]]:
        now = self.clock.now()
        return [
            {"id": o.id, "chat_id": o.chat_id, "payload": o.message.to_json(), "created_at": now}
            for o in owed
        ]

    async def commit_messages(
        self,
        messages: Sequence[tuple[int, Message]],
        work: Callable[[AsyncSession], Awaitable[None]] | None = None,
    ) -> list[OwedMessage]:
        """Messages owed to any chats, with `work`, in one transaction (an alert with the state
        it reports): returned as owed, to deliver like a step's."""
        owed = [OwedMessage(self._message_ids.next(), chat, message) for chat, message in messages]
        rows = self._outbox_rows(owed)

        def build(retrying: bool) -> Callable[[AsyncSession], Awaitable[None]]:
            async def write(session: AsyncSession) -> None:
                if work is not None:
                    await work(session)
                if retrying:  # the first attempt may have written them, unheard
                    await repo.delete_outbox(session, [o.id for o in owed])
                await repo.insert_outbox(session, rows)

            return write

        await self._write(build)
        return owed

    async def acknowledge(
        self, ids: Sequence[int], live: Mapping[int, int | None] | None = None
    ) -> None:
        """Telegram confirmed these messages (or they can never be delivered): never again.
        `live`: each chat's message whose buttons now work (None: none)."""

        def build(retrying: bool) -> Callable[[AsyncSession], Awaitable[None]]:
            async def write(session: AsyncSession) -> None:
                await repo.delete_outbox(session, ids)
                if live:
                    await repo.set_live_keyboards(session, live)

            return write

        await self._write(build)

    async def live_keyboards(self) -> dict[int, int]:
        """Each chat's message whose buttons work, as last acknowledged."""
        async with self.db.reader() as session:
            return await repo.live_keyboards(session)

    async def owed_messages(self) -> list[tuple[int, int, str]]:
        """Every message still owed, as (id, chat_id, stored form), oldest first."""
        async with self.db.reader() as session:
            return await repo.outbox_messages(session)


async def audit(
    session: AsyncSession,
    reg: FlowRecord,
    action: str,
    outcome: str,
    *,
    now: datetime,
    by: int | None = None,
    sandbox: bool = False,
) -> None:
    """Record who did what with which number (`by`: the admin, when one did it; `sandbox`: on
    a sandbox instance)."""
    number = f"{reg.ddi}{reg.phone}" if reg.ddi and reg.phone else None
    await repo.record_event(
        session,
        user_id=reg.user_id if by is None else by,
        chat_id=reg.chat_id,
        instance=reg.instance,
        number=number,
        action=action,
        outcome=outcome,
        now=now,
        flow_id=reg.flow_id,
        flow_started_at=reg.created_at,
        sandbox=sandbox,
    )


def insert_leased(
    new: FlowRecord, until: datetime, rows: list[dict[str, Any]]
) -> Callable[[AsyncSession], Awaitable[bool]]:
    """A new flow that names its instance, its lease and its first messages: all or nothing."""

    async def write(session: AsyncSession) -> bool:
        async with session.begin_nested():
            [inserted] = await repo.insert_flows(session, [new])
            if not inserted:
                return False
            if not await repo.acquire_lease(
                session, new.instance or "", new.chat_id, until=until, now=new.created_at
            ):
                raise InstanceBusy(new.instance)
            await repo.insert_outbox(session, rows)
        return True

    return write


async def insert_flows_with_messages(
    session: AsyncSession, items: Sequence[tuple[FlowRecord, list[dict[str, Any]]]]
) -> list[bool]:
    """New flows in one statement, with the first messages of those inserted (a chat that already
    has a flow keeps it, and gets none)."""
    inserted = await repo.insert_flows(session, [record for record, _ in items])
    rows = [
        row for (_, item_rows), new in zip(items, inserted, strict=True) if new for row in item_rows
    ]
    await repo.insert_outbox(session, rows)
    return inserted
