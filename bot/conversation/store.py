"""Where flows live: their registrations row, instance leases, wait timers and audit events.

Every change is committed before the member sees the next question (write-through). Z-API is
never called while a transaction is open.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage import repositories as repo
from bot.storage.database import Database
from bot.storage.group_commit import GroupCommit, WriteRefused
from bot.storage.models import WaitTimer, utcnow
from bot.storage.records import FlowRecord
from bot.zapi import DeliveryMethod, MethodWaits

__all__ = ["FlowGone", "FlowStore", "InstanceBusy", "ReportedWaits", "TimerScheduler"]


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


class FlowStore:
    def __init__(
        self, database: Database, *, idle_timeout: timedelta, scheduler: TimerScheduler
    ) -> None:
        self.db = database
        self.writes = GroupCommit(database)
        self.idle_timeout = idle_timeout
        self.scheduler = scheduler
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

    async def save(
        self,
        reg: FlowRecord,
        *,
        audit: tuple[str, str] | None = None,
        waits: ReportedWaits | None = None,
        **changes: object,
    ) -> FlowRecord:
        """Commit `changes` (with an audit event, Z-API's waits and, when `instance` changes, its
        lease, all in one transaction) if nobody else changed or ended the flow meanwhile; the
        flow as committed.

        `reg` itself is updated once the transaction committed. Raises FlowGone, or InstanceBusy
        when the new instance is held by another flow; `reg` is then left as it was.
        """
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
        held = self._leases.get(reg.chat_id)
        instance_changes = "instance" in changes

        async def write(session: AsyncSession) -> _Saved:
            lease = held
            if instance_changes:
                # Taking an instance can fail after the flow's row was written: a savepoint
                # keeps the batch clean of it.
                async with session.begin_nested():
                    if not await repo.update_flow(session, new, from_version=reg.version):
                        raise FlowGone(reg.chat_id)
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
                if not await repo.update_flow(session, new, from_version=reg.version):
                    raise FlowGone(reg.chat_id)
                if new.instance is not None and (lease is None or lease[1] < needed):
                    lease = (new.instance, needed + self.idle_timeout)
                    await repo.refresh_lease(session, reg.chat_id, until=lease[1])
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
            if audit is not None:
                await self._audit(session, new, *audit)
            return _Saved(new, lease, timers)

        try:
            saved = await self.writes.run(write)
        except FlowGone:
            self.forget(reg.chat_id)
            raise
        self._committed(saved.record, saved.lease)
        if ready_at:
            self._remember_waits(saved.record, ready_at)
        for timer in saved.timers:
            self.scheduler.schedule(timer.ready_at)
        reg.update_from(saved.record)  # what was already built from `reg` sees the new step
        return reg

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

    async def end(self, reg: FlowRecord, action: str, outcome: str) -> None:
        self.forget(reg.chat_id)
        self._waits.pop((reg.instance or "", reg.ddi or "", reg.phone or ""), None)

        async def write(session: AsyncSession) -> None:
            if not await repo.delete_registration(session, reg.chat_id, version=reg.version):
                raise FlowGone(reg.chat_id)
            await repo.release_leases(session, reg.chat_id)
            await repo.delete_announced_timers(session, reg.chat_id)
            await self._audit(session, reg, action, outcome)

        await self.writes.run(write)

    async def _audit(
        self, session: AsyncSession, reg: FlowRecord, action: str, outcome: str
    ) -> None:
        number = f"{reg.ddi}{reg.phone}" if reg.ddi and reg.phone else None
        await repo.record_event(
            session,
            user_id=reg.user_id,
            chat_id=reg.chat_id,
            instance=reg.instance,
            number=number,
            action=action,
            outcome=outcome,
        )

    async def remaining_waits(self, reg: FlowRecord) -> dict[DeliveryMethod, int]:
        """Seconds left per delivery method for the flow's number (ended waits left out)."""
        if not (reg.instance and reg.ddi and reg.phone):
            return {}
        number = (reg.instance, reg.ddi, reg.phone)
        ready_at = self._waits.get(number)
        if ready_at is None:
            async with self.db.reader() as session:
                timers = await repo.timers_for_number(session, *number)
            ready_at = self._waits[number] = {timer.method: timer.ready_at for timer in timers}
        now = utcnow()
        remaining: dict[DeliveryMethod, int] = {}
        for method, when in ready_at.items():
            left = int((when - now).total_seconds() + 0.999)
            if left > 0:
                remaining[DeliveryMethod(method)] = left
        if not remaining:
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

    async def open(self, new: FlowRecord) -> OpenedFlow | None:
        """The chat's flow in progress, or `new` saved (leasing its instance, if it names one);
        None when that instance is held by another flow."""
        cached = self._open.get(new.chat_id)
        if cached is not None:
            return OpenedFlow(cached.copy(), resumed=True)
        new.created_at = new.updated_at = utcnow()
        if new.instance is None:
            # The common case, and the one a crowd sends at once: one INSERT for all of them.
            inserted = await self.writes.add(repo.insert_flows, new)
            lease = None
        else:
            lease = (new.instance, new.updated_at + self.idle_timeout)
            try:
                inserted = await self.writes.run(self._insert_leased(new, lease[1]))
            except InstanceBusy:
                return None
        if inserted:
            self._committed(new, lease)
            return OpenedFlow(new.copy(), resumed=False)
        existing = await self.load(new.chat_id)  # started before this process did
        if existing is None:  # and ended since: start afresh
            return await self.open(new)
        return OpenedFlow(existing, resumed=True)

    @staticmethod
    def _insert_leased(
        new: FlowRecord, until: datetime
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
            return True

        return write

    async def idle_chats(self) -> list[int]:
        """Chats whose flow saw no activity for the timeout (a pending wait counts as activity:
        the member was told to wait and will be told when to go on)."""
        async with self.db.reader() as session:
            idle = await repo.idle_flows(session, utcnow() - self.idle_timeout)
        return [reg.chat_id for reg in idle]

    async def end_if_idle(self, chat_id: int) -> FlowRecord | None:
        """End the chat's flow if it is still idle; the ended flow."""
        self.forget(chat_id)
        async with self.db.reader() as session:
            idle = await repo.idle_flows(session, utcnow() - self.idle_timeout, chat_id=chat_id)
        if not idle:
            return None
        try:
            await self.end(idle[0], "timeout", "timed_out")
        except FlowGone:
            return None
        return idle[0]

    async def claim_ended_waits(
        self,
    ) -> tuple[Sequence[WaitTimer], dict[int, FlowRecord], Sequence[WaitTimer]]:
        """Every ended wait, claimed exactly once; the flows of their chats; the waits pending."""

        async def write(
            session: AsyncSession,
        ) -> tuple[Sequence[WaitTimer], dict[int, FlowRecord], Sequence[WaitTimer]]:
            claimed = await repo.claim_due_timers(session, now=utcnow())
            flows = await repo.flows_for(session, {timer.chat_id for timer in claimed})
            pending = await repo.pending_timers(session)
            return claimed, flows, pending

        return await self.writes.run(write)

    async def announce_again(self, timer_ids: Sequence[int], *, after: timedelta) -> datetime:
        retry_at = utcnow() + after

        async def write(session: AsyncSession) -> None:
            await repo.unclaim_timers(session, timer_ids, ready_at=retry_at)

        await self.writes.run(write)
        return retry_at
