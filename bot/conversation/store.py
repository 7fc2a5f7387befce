"""Where flows live: their registrations row, instance leases, wait timers and audit events.

Every change is committed before the member sees the next question (write-through). Z-API is
never called while a transaction is open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.record import FlowRecord
from bot.storage import repositories as repo
from bot.storage.database import Database
from bot.storage.group_commit import GroupCommit, WriteRefused
from bot.storage.models import WaitTimer, utcnow
from bot.zapi import DeliveryMethod, MethodWaits

__all__ = [
    "Change",
    "FlowGone",
    "FlowStore",
    "InstanceBusy",
    "LeaseLost",
    "Message",
    "OwedMessage",
    "ReportedWaits",
    "StorageUnavailable",
    "TimerScheduler",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
# A write that fails for the database's sake (locked past the busy timeout, a connection lost)
# is tried again after each of these pauses before the caller hears of it.
WRITE_RETRY_DELAYS: tuple[float, ...] = (0.25, 1.0)


@dataclass(frozen=True, slots=True)
class ReportedWaits:
    """Waits Z-API reported; `retry_after` applies to the method that was requested."""

    waits: MethodWaits
    retry_after: int | None = None
    method: DeliveryMethod | None = None

    def seconds(self) -> dict[DeliveryMethod, int]:
        seconds = dict(self.waits.seconds)
        if self.method is not None and self.retry_after is not None and self.retry_after > 0:
            seconds[self.method] = max(seconds.get(self.method, 0), self.retry_after)
        return seconds


class FlowGone(WriteRefused):
    """The flow ended (cancelled, timed out) while this update was being handled."""


class InstanceBusy(WriteRefused):
    """Another flow holds the instance."""


class LeaseLost(WriteRefused):
    """The flow no longer holds its instance: it must stop and never call Z-API again."""

    def __init__(self, instance: str) -> None:
        super().__init__(instance)
        self.instance = instance


class StorageUnavailable(Exception):
    """The database refused a write, also when tried again: nothing of it was committed."""


class _AlreadyCommitted(WriteRefused):
    """A write tried again finds its own earlier attempt committed (its answer was lost)."""


class Message(Protocol):
    """What the outbox stores of a message (`bot.conversation.replies.Reply`)."""

    def to_json(self) -> str: ...


@dataclass(frozen=True, slots=True)
class OwedMessage:
    """A message committed to the outbox, to be delivered at least once."""

    id: int
    chat_id: int
    message: Message


class _MessageIds:
    """Increasing ids for outbox rows: a chat's messages go out in id order, also after a
    restart (nanoseconds since the epoch, bumped when two come in the same one)."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        self._last = max(time.time_ns(), self._last + 1)
        return self._last


@dataclass(slots=True)
class Change:
    """A step's change to its flow, computed before it is committed: the replies of the step
    are built from `after` (its version is the one their buttons carry)."""

    before: FlowRecord
    after: FlowRecord
    ready_at: dict[str, datetime | None] = field(default_factory=dict)
    audit: tuple[str, str] | None = None
    instance_changes: bool = False
    lease_needed: datetime | None = None


class TimerScheduler(Protocol):
    def schedule(self, ready_at: datetime) -> None:
        """Make sure waits ending at `ready_at` get announced then."""


@dataclass(frozen=True, slots=True)
class OpenedFlow:
    registration: FlowRecord
    resumed: bool


@dataclass(frozen=True, slots=True)
class _Saved:
    record: FlowRecord
    lease: tuple[str, datetime] | None
    timers: list[WaitTimer]


def _is_storage_trouble(error: Exception) -> bool:
    """The database (not the write) failed: locked, connection lost, pool exhausted."""
    if isinstance(error, IntegrityError):
        return False
    return isinstance(error, DBAPIError | PoolTimeout | OSError)


class FlowStore:
    def __init__(
        self,
        database: Database,
        *,
        idle_timeout: timedelta,
        scheduler: TimerScheduler,
        write_retry_delays: Sequence[float] = WRITE_RETRY_DELAYS,
    ) -> None:
        self.db = database
        self.writes = GroupCommit(database)
        self.idle_timeout = idle_timeout
        self.scheduler = scheduler
        self.write_retry_delays = tuple(write_retry_delays)
        self._message_ids = _MessageIds()
        # Committed state of open flows. Every change to a flow is made by this process (one bot
        # process per database), so the copy saves a read per update; the database stays the
        # truth: a write whose version no longer matches fails and drops the copy.
        self._open: dict[int, FlowRecord] = {}
        # Chat → the instance it holds and until when, as committed; a lease is extended only
        # when it gets short. Loaded once from the database, then kept up to date here.
        self._leases: dict[int, tuple[str, datetime]] = {}
        self._leases_loaded = False
        # (instance, ddi, phone) → method → when Z-API lets it be requested again, as committed;
        # read from the database the first time a number's waits are asked for.
        self._waits: dict[tuple[str, str, str], dict[str, datetime]] = {}
        self._loading_leases = asyncio.Lock()

    async def load(self, chat_id: int) -> FlowRecord | None:
        cached = self._open.get(chat_id)
        if cached is not None:
            return cached.copy()
        async with self.db.reader() as session:
            record = await repo.get_flow(session, chat_id)
        if record is not None:
            self._open[chat_id] = record.copy()
        return record

    def forget(self, chat_id: int) -> None:
        self._open.pop(chat_id, None)
        self._leases.pop(chat_id, None)

    def _committed(self, record: FlowRecord, lease: tuple[str, datetime] | None) -> None:
        self._open[record.chat_id] = record.copy()
        if lease is None:
            self._leases.pop(record.chat_id, None)
        else:
            self._leases[record.chat_id] = lease

    # -- writing ---------------------------------------------------------------------------

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
                if isinstance(error, WriteRefused) or not _is_storage_trouble(error):
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
                await asyncio.sleep(delay)
                retrying = True

    def _owed(self, chat_id: int, messages: Sequence[Message]) -> list[OwedMessage]:
        return [OwedMessage(self._message_ids.next(), chat_id, message) for message in messages]

    @staticmethod
    def _outbox_rows(owed: Sequence[OwedMessage]) -> list[dict[str, Any]]:
        now = utcnow()
        return [
            {"id": o.id, "chat_id": o.chat_id, "payload": o.message.to_json(), "created_at": now}
            for o in owed
        ]

    def change(
        self,
        reg: FlowRecord,
        *,
        audit: tuple[str, str] | None = None,
        waits: ReportedWaits | None = None,
        hold_for: timedelta | None = None,
        **changes: object,
    ) -> Change:
        """The flow as `changes` (and Z-API's waits) would leave it, not yet committed.

        `hold_for`: the instance lease must last at least that long from now (a Z-API call is
        about to be made)."""
        new = reg.copy(**changes, updated_at=utcnow(), version=reg.version + 1)
        ready_at: dict[str, datetime | None] = {}
        if waits is not None:
            blocked = set(filter(None, new.blocked_methods.split(",")))
            for method, seconds in waits.seconds().items():
                if seconds < 0:
                    blocked.add(method.value)
                    continue
                blocked.discard(method.value)
                ready_at[method.value] = (
                    new.updated_at + timedelta(seconds=seconds) if seconds > 0 else None
                )
            new.blocked_methods = ",".join(sorted(blocked))
        # The lease outlives the flow's idle deadline, which a pending wait pushes out.
        needed = max([new.updated_at, *filter(None, ready_at.values())]) + self.idle_timeout
        if hold_for is not None:
            needed = max(needed, new.updated_at + hold_for)
        return Change(
            before=reg,
            after=new,
            ready_at=ready_at,
            audit=audit,
            instance_changes="instance" in changes,
            lease_needed=needed,
        )

    async def save(
        self,
        reg: FlowRecord,
        *,
        audit: tuple[str, str] | None = None,
        waits: ReportedWaits | None = None,
        hold_for: timedelta | None = None,
        **changes: object,
    ) -> FlowRecord:
        """`commit(change(...))` with nothing to say; the flow as committed."""
        change = self.change(reg, audit=audit, waits=waits, hold_for=hold_for, **changes)
        await self.commit(change)
        return reg

    async def commit(self, change: Change, messages: Sequence[Message] = ()) -> list[OwedMessage]:
        """Commit the change with the step's messages (into the outbox), an audit event,
        Z-API's waits and the instance lease, all in one transaction, if nobody else changed or
        ended the flow meanwhile. Returns the messages as owed (to deliver, then acknowledge).

        `change.before` is updated once the transaction committed. Raises FlowGone, LeaseLost,
        InstanceBusy (the new instance is held by another flow) or StorageUnavailable; the
        flow is then left as it was."""
        reg, new, ready_at = change.before, change.after, change.ready_at
        needed = change.lease_needed or new.updated_at + self.idle_timeout
        held = self._leases.get(reg.chat_id)
        owed = self._owed(reg.chat_id, messages)
        rows = self._outbox_rows(owed)

        def build(retrying: bool) -> Callable[[AsyncSession], Awaitable[_Saved]]:
            async def write(session: AsyncSession) -> _Saved:
                lease = held
                if change.instance_changes:
                    # Taking an instance can fail after the flow's row was written: a savepoint
                    # keeps the batch clean of it.
                    async with session.begin_nested():
                        await self._update_flow(session, new, reg.version, retrying=retrying)
                        if new.instance is None:
                            await repo.release_leases(session, reg.chat_id)
                            lease = None
                        else:
                            lease = (new.instance, needed + self.idle_timeout)
                            if not await repo.acquire_lease(
                                session, new.instance, reg.chat_id, until=lease[1]
                            ):
                                raise InstanceBusy(new.instance)
                else:
                    if new.instance is not None:
                        # Checked before anything is written, so a refusal leaves no trace.
                        if lease is None or lease[0] != new.instance or lease[1] < needed:
                            lease = (new.instance, needed + self.idle_timeout)
                            holds = await repo.refresh_lease(
                                session, new.instance, reg.chat_id, until=lease[1]
                            )
                        else:
                            holds = await repo.lease_is_held(session, new.instance, reg.chat_id)
                        if not holds:
                            raise LeaseLost(new.instance)
                    await self._update_flow(session, new, reg.version, retrying=retrying)
                timers: list[WaitTimer] = []
                if ready_at:
                    timers = await repo.apply_waits(
                        session,
                        instance=new.instance or "",
                        ddi=new.ddi or "",
                        phone=new.phone or "",
                        chat_id=new.chat_id,
                        ready_at=ready_at,
                    )
                if change.audit is not None:
                    await self._audit(session, new, *change.audit)
                await repo.insert_outbox(session, rows)
                return _Saved(new, lease, timers)

            return write

        try:
            saved = await self._write(build)
        except _AlreadyCommitted:
            saved = _Saved(new, held, [])
        except (FlowGone, LeaseLost):
            self.forget(reg.chat_id)
            raise
        self._committed(saved.record, saved.lease)
        if ready_at:
            self._remember_waits(saved.record, ready_at)
        for timer in saved.timers:
            self.scheduler.schedule(timer.ready_at)
        reg.update_from(saved.record)  # what was already built from `reg` sees the new step
        return owed

    @staticmethod
    async def _update_flow(
        session: AsyncSession, new: FlowRecord, from_version: int, *, retrying: bool
    ) -> None:
        if await repo.update_flow(session, new, from_version=from_version):
            return
        if retrying:
            current = await repo.get_flow(session, new.chat_id)
            if current is not None and current.version == new.version:
                raise _AlreadyCommitted(new.chat_id)
        raise FlowGone(new.chat_id)

    def _remember_waits(self, reg: FlowRecord, ready_at: dict[str, datetime | None]) -> None:
        number = (reg.instance or "", reg.ddi or "", reg.phone or "")
        known = self._waits.get(number)
        if known is None:
            return  # not read yet: the first question reads them all, these included
        for method, when in ready_at.items():
            if when is None:
                known.pop(method, None)
            else:
                known[method] = when

    async def end(
        self,
        reg: FlowRecord,
        action: str,
        outcome: str,
        messages: Sequence[Message] = (),
        *,
        by: int | None = None,
    ) -> list[OwedMessage]:
        """End the flow (its row, its lease, its announced waits) with an audit event and the
        messages that say so, in one transaction. `by`: the admin who ended it, if one did."""
        self.forget(reg.chat_id)
        self._waits.pop((reg.instance or "", reg.ddi or "", reg.phone or ""), None)
        owed = self._owed(reg.chat_id, messages)
        rows = self._outbox_rows(owed)

        def build(retrying: bool) -> Callable[[AsyncSession], Awaitable[None]]:
            async def write(session: AsyncSession) -> None:
                if not await repo.delete_registration(session, reg.chat_id, version=reg.version):
                    if retrying and await repo.get_flow(session, reg.chat_id) is None:
                        raise _AlreadyCommitted(reg.chat_id)
                    raise FlowGone(reg.chat_id)
                await repo.release_leases(session, reg.chat_id)
                await repo.delete_announced_timers(session, reg.chat_id)
                await self._audit(session, reg, action, outcome, by=by)
                await repo.insert_outbox(session, rows)

            return write

        with contextlib.suppress(_AlreadyCommitted):
            await self._write(build)
        return owed

    async def _audit(
        self,
        session: AsyncSession,
        reg: FlowRecord,
        action: str,
        outcome: str,
        *,
        by: int | None = None,
    ) -> None:
        number = f"{reg.ddi}{reg.phone}" if reg.ddi and reg.phone else None
        await repo.record_event(
            session,
            user_id=reg.user_id if by is None else by,
            chat_id=reg.chat_id,
            instance=reg.instance,
            number=number,
            action=action,
            outcome=outcome,
        )

    async def acknowledge(self, ids: Sequence[int]) -> None:
        """Telegram confirmed these messages (or they can never be delivered): never again."""

        def build(retrying: bool) -> Callable[[AsyncSession], Awaitable[None]]:
            async def write(session: AsyncSession) -> None:
                await repo.delete_outbox(session, ids)

            return write

        await self._write(build)

    async def owed_messages(self) -> list[tuple[int, int, str]]:
        """Every message still owed, as (id, chat_id, stored form), oldest first."""
        async with self.db.reader() as session:
            return await repo.outbox_messages(session)

    # -- reading ---------------------------------------------------------------------------

    async def remaining_waits(
        self, reg: FlowRecord, pending: Mapping[str, datetime | None] | None = None
    ) -> dict[DeliveryMethod, int]:
        """Seconds left per delivery method for the flow's number (ended waits left out);
        `pending`: waits of a change not committed yet, which replace the stored ones."""
        if not (reg.instance and reg.ddi and reg.phone):
            return {}
        number = (reg.instance, reg.ddi, reg.phone)
        ready_at = self._waits.get(number)
        if ready_at is None:
            async with self.db.reader() as session:
                timers = await repo.timers_for_number(session, *number)
            ready_at = self._waits[number] = {timer.method: timer.ready_at for timer in timers}
        merged: dict[str, datetime | None] = {**ready_at, **(pending or {})}
        now = utcnow()
        remaining: dict[DeliveryMethod, int] = {}
        for method, when in merged.items():
            if when is None:
                continue
            left = int((when - now).total_seconds() + 0.999)
            if left > 0:
                remaining[DeliveryMethod(method)] = left
        if not remaining and not pending:
            self._waits.pop(number, None)  # nothing to remember; read again if asked again
        return remaining

    async def held_instances(self) -> dict[str, int]:
        """Instance → chat holding it (the database decides who gets one; this is for showing)."""
        if not self._leases_loaded:
            async with self._loading_leases:  # one read, however many ask at once
                if not self._leases_loaded:
                    async with self.db.reader() as session:
                        stored = await repo.held_leases(session)
                    for chat_id, lease in stored.items():
                        self._leases.setdefault(chat_id, lease)  # what this process wrote is newer
                    self._leases_loaded = True
        now = utcnow()
        return {instance: chat for chat, (instance, until) in self._leases.items() if until > now}

    async def pending_timers(self) -> Sequence[WaitTimer]:
        async with self.db.reader() as session:
            return await repo.pending_timers(session)

    async def interrupted(self) -> list[FlowRecord]:
        """Flows whose Z-API call was under way when the last process stopped."""
        async with self.db.reader() as session:
            return await repo.interrupted_flows(session)

    # -- starting and ending ---------------------------------------------------------------

    async def open(
        self, new: FlowRecord, messages: Sequence[Message] = ()
    ) -> tuple[OpenedFlow, list[OwedMessage]] | None:
        """The chat's flow in progress, or `new` saved with its first messages (leasing its
        instance, if it names one); None when that instance is held by another flow."""
        cached = self._open.get(new.chat_id)
        if cached is not None:
            return OpenedFlow(cached.copy(), resumed=True), []
        new.created_at = new.updated_at = utcnow()
        owed = self._owed(new.chat_id, messages)
        rows = self._outbox_rows(owed)
        if new.instance is None:
            # The common case, and the one a crowd sends at once: one INSERT for all of them.
            inserted = await self.writes.add(_insert_flows_with_messages, (new, rows))
            lease = None
        else:
            lease = (new.instance, new.updated_at + 2 * self.idle_timeout)
            try:
                inserted = await self.writes.run(self._insert_leased(new, lease[1], rows))
            except InstanceBusy:
                return None
        if inserted:
            self._committed(new, lease)
            return OpenedFlow(new.copy(), resumed=False), owed
        existing = await self.load(new.chat_id)  # started before this process did
        if existing is None:  # and ended since: start afresh
            return await self.open(new, messages)
        return OpenedFlow(existing, resumed=True), []

    @staticmethod
    def _insert_leased(
        new: FlowRecord, until: datetime, rows: list[dict[str, Any]]
    ) -> Callable[[AsyncSession], Awaitable[bool]]:
        async def write(session: AsyncSession) -> bool:
            async with session.begin_nested():
                [inserted] = await repo.insert_flows(session, [new])
                if not inserted:
                    return False
                if not await repo.acquire_lease(
                    session, new.instance or "", new.chat_id, until=until
                ):
                    raise InstanceBusy(new.instance)
                await repo.insert_outbox(session, rows)
            return True

        return write

    async def idle_chats(self) -> list[int]:
        """Chats whose flow saw no activity for the timeout (a pending wait counts as activity:
        the member was told to wait and will be told when to go on)."""
        async with self.db.reader() as session:
            idle = await repo.idle_flows(session, utcnow() - self.idle_timeout)
        return [reg.chat_id for reg in idle]

    async def end_if_idle(
        self, chat_id: int, say: Callable[[FlowRecord], Sequence[Message]]
    ) -> tuple[FlowRecord, list[OwedMessage]] | None:
        """End the chat's flow if it is still idle, with what `say` says of it."""
        self.forget(chat_id)
        async with self.db.reader() as session:
            idle = await repo.idle_flows(session, utcnow() - self.idle_timeout, chat_id=chat_id)
        if not idle:
            return None
        try:
            owed = await self.end(idle[0], "timeout", "timed_out", say(idle[0]))
        except FlowGone:
            return None
        return idle[0], owed

    async def claim_ended_waits(
        self,
        compose: Callable[
            [Sequence[WaitTimer], dict[int, FlowRecord], Sequence[WaitTimer]],
            Sequence[tuple[int, Message]],
        ],
    ) -> tuple[list[OwedMessage], datetime | None]:
        """Claim every ended wait exactly once and commit, in the same transaction, the notices
        `compose(claimed, their chats' flows, waits still pending)` makes of them; the notices
        and when the next pending wait ends."""

        def build(
            retrying: bool,
        ) -> Callable[[AsyncSession], Awaitable[tuple[list[OwedMessage], datetime | None]]]:
            async def write(session: AsyncSession) -> tuple[list[OwedMessage], datetime | None]:
                claimed = await repo.claim_due_timers(session, now=utcnow())
                flows = await repo.flows_for(session, {timer.chat_id for timer in claimed})
                pending = await repo.pending_timers(session)
                owed = [
                    OwedMessage(self._message_ids.next(), chat_id, message)
                    for chat_id, message in compose(claimed, flows, pending)
                ]
                await repo.insert_outbox(session, self._outbox_rows(owed))
                return owed, min((timer.ready_at for timer in pending), default=None)

            return write

        return await self._write(build)


async def _insert_flows_with_messages(
    session: AsyncSession, items: Sequence[tuple[FlowRecord, list[dict[str, Any]]]]
) -> list[bool]:
    inserted = await repo.insert_flows(session, [record for record, _ in items])
    rows = [
        row for (_, item_rows), new in zip(items, inserted, strict=True) if new for row in item_rows
    ]
    await repo.insert_outbox(session, rows)
    return inserted
