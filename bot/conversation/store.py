"""Where flows live: their registrations row, instance leases, wait timers and audit events.

Every change is committed before the member sees the next question (write-through). Z-API is
never called while a transaction is open.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage import repositories as repo
from bot.storage.database import Database
from bot.storage.models import Registration, WaitTimer, utcnow
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


class FlowGone(Exception):
    """The flow ended (cancelled, timed out) while this update was being handled."""


class InstanceBusy(Exception):
    """Another flow holds the instance."""


class TimerScheduler(Protocol):
    def schedule(self, ready_at: datetime) -> None:
        """Make sure waits ending at `ready_at` get announced then."""


def _copy(reg: Registration) -> Registration:
    """A detached copy holding the same column values."""
    return Registration(**{column.key: getattr(reg, column.key) for column in _COLUMNS})


_COLUMNS = tuple(Registration.__table__.columns)


@dataclass(frozen=True, slots=True)
class OpenedFlow:
    registration: Registration
    resumed: bool
    # Instance → chat holding it, read with the flow when it is at the instance step.
    held: dict[str, int] | None


class FlowStore:
    def __init__(
        self, database: Database, *, idle_timeout: timedelta, scheduler: TimerScheduler
    ) -> None:
        self.db = database
        self.idle_timeout = idle_timeout
        self.scheduler = scheduler
        # Committed state of open flows. Every change to a flow is made by this process (one bot
        # process per database), so the copy saves a read per update; the database stays the
        # truth: a save whose version no longer matches fails and drops the copy.
        self._open: dict[int, Registration] = {}
        # How long each chat's instance lease runs; it is extended only when it gets short.
        self._lease_until: dict[int, datetime] = {}

    async def load(self, chat_id: int) -> Registration | None:
        cached = self._open.get(chat_id)
        if cached is not None:
            return _copy(cached)
        async with self.db.reader() as session:
            reg = await repo.get_registration(session, chat_id)
        if reg is not None:
            self._open[chat_id] = _copy(reg)
        return reg

    def forget(self, chat_id: int) -> None:
        self._open.pop(chat_id, None)
        self._lease_until.pop(chat_id, None)

    async def save(
        self,
        reg: Registration,
        *,
        audit: tuple[str, str] | None = None,
        waits: ReportedWaits | None = None,
        **changes: object,
    ) -> Registration:
        """Commit `changes` (with an audit event, Z-API's waits and, when `instance` changes, its
        lease, all in one transaction) if nobody else changed or ended the flow meanwhile.

        Raises FlowGone, or InstanceBusy when the new instance is held by another flow; `reg` is
        then left as it was.
        """
        snapshot = {
            name: getattr(reg, name) for name in (*changes, "updated_at", "blocked_methods")
        }
        try:
            return await self._save(reg, audit, waits, changes)
        except BaseException:
            for name, value in snapshot.items():
                setattr(reg, name, value)
            raise

    async def _save(
        self,
        reg: Registration,
        audit: tuple[str, str] | None,
        waits: ReportedWaits | None,
        changes: dict[str, object],
    ) -> Registration:
        for name, value in changes.items():
            setattr(reg, name, value)
        reg.updated_at = utcnow()
        ready_at: dict[str, datetime | None] = {}
        if waits is not None:
            blocked = set(filter(None, reg.blocked_methods.split(",")))
            for method, seconds in waits.seconds().items():
                if seconds < 0:
                    blocked.add(method.value)
                    continue
                blocked.discard(method.value)
                ready_at[method.value] = (
                    reg.updated_at + timedelta(seconds=seconds) if seconds > 0 else None
                )
            reg.blocked_methods = ",".join(sorted(blocked))
        # The lease outlives the flow's idle deadline, which a pending wait pushes out.
        needed = max([reg.updated_at, *filter(None, ready_at.values())]) + self.idle_timeout
        lease_until = self._lease_until.get(reg.chat_id)
        async with self.db.session() as session:
            # The UPDATE checks the version the flow was read at: a flow ended or changed
            # meanwhile matches no row.
            if not await repo.save_registration(session, reg):
                self.forget(reg.chat_id)
                raise FlowGone(reg.chat_id)
            if "instance" in changes:
                lease_until = None if reg.instance is None else needed + self.idle_timeout
                if reg.instance is None:
                    await repo.release_leases(session, reg.chat_id)
                elif not await repo.acquire_lease(
                    session, reg.instance, reg.chat_id, until=needed + self.idle_timeout
                ):
                    raise InstanceBusy(reg.instance)
            elif reg.instance is not None and (lease_until is None or lease_until < needed):
                lease_until = needed + self.idle_timeout
                await repo.refresh_lease(session, reg.chat_id, until=lease_until)
            timers: list[WaitTimer] = []
            if ready_at:
                timers = await repo.apply_waits(
                    session,
                    instance=reg.instance or "",
                    ddi=reg.ddi or "",
                    phone=reg.phone or "",
                    chat_id=reg.chat_id,
                    ready_at=ready_at,
                )
            if audit is not None:
                await self._audit(session, reg, *audit)
        self._open[reg.chat_id] = _copy(reg)
        if lease_until is None:
            self._lease_until.pop(reg.chat_id, None)
        else:
            self._lease_until[reg.chat_id] = lease_until
        for timer in timers:
            self.scheduler.schedule(timer.ready_at)
        return reg

    async def end(self, reg: Registration, action: str, outcome: str) -> None:
        self.forget(reg.chat_id)
        async with self.db.session() as session:
            if not await repo.delete_registration(session, reg.chat_id, version=reg.version):
                raise FlowGone(reg.chat_id)
            await repo.release_leases(session, reg.chat_id)
            await repo.delete_announced_timers(session, reg.chat_id)
            await self._audit(session, reg, action, outcome)

    async def _audit(
        self, session: AsyncSession, reg: Registration, action: str, outcome: str
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

    async def remaining_waits(self, reg: Registration) -> dict[DeliveryMethod, int]:
        if not (reg.instance and reg.ddi and reg.phone):
            return {}
        async with self.db.reader() as session:
            timers = await repo.timers_for_number(session, reg.instance, reg.ddi, reg.phone)
        now = utcnow()
        remaining: dict[DeliveryMethod, int] = {}
        for timer in timers:
            left = int((timer.ready_at - now).total_seconds() + 0.999)
            if left > 0:
                remaining[DeliveryMethod(timer.method)] = left
        return remaining

    async def held_instances(self) -> dict[str, int]:
        async with self.db.reader() as session:
            return await repo.held_instances(session)

    async def pending_timers(self) -> Sequence[WaitTimer]:
        async with self.db.reader() as session:
            return await repo.pending_timers(session)

    async def open(self, new: Registration) -> OpenedFlow | None:
        """The chat's flow in progress, or `new` saved (leasing its instance, if it names one);
        None when that instance is held by another flow."""
        cached = await self.load(new.chat_id) if new.chat_id in self._open else None
        if cached is not None:
            return OpenedFlow(cached, resumed=True, held=None)
        now = utcnow()
        async with self.db.session() as session:
            reg = await repo.get_registration(session, new.chat_id)
            resumed = reg is not None
            if reg is None:
                reg = new
                reg.created_at = reg.updated_at = now
                if reg.instance is not None and not await repo.acquire_lease(
                    session, reg.instance, reg.chat_id, until=now + self.idle_timeout
                ):
                    return None
                session.add(reg)
                await session.flush()
            held = await repo.held_instances(session) if reg.instance is None else None
        self._open[reg.chat_id] = _copy(reg)
        return OpenedFlow(reg, resumed=resumed, held=held)

    async def idle_chats(self) -> list[int]:
        """Chats whose flow saw no activity for the timeout (a pending wait counts as activity:
        the member was told to wait and will be told when to go on)."""
        async with self.db.reader() as session:
            idle = await repo.idle_registrations(session, utcnow() - self.idle_timeout)
        return [reg.chat_id for reg in idle]

    async def end_if_idle(self, chat_id: int) -> Registration | None:
        """End the chat's flow if it is still idle; the ended flow."""
        self.forget(chat_id)
        async with self.db.reader() as session:
            idle = await repo.idle_registrations(
                session, utcnow() - self.idle_timeout, chat_id=chat_id
            )
        if not idle:
            return None
        try:
            await self.end(idle[0], "timeout", "timed_out")
        except FlowGone:
            return None
        return idle[0]

    async def claim_ended_waits(
        self,
    ) -> tuple[Sequence[WaitTimer], dict[int, Registration], Sequence[WaitTimer]]:
        """Every ended wait, claimed exactly once; the flows of their chats; the waits pending."""
        async with self.db.session() as session:
            claimed = await repo.claim_due_timers(session, now=utcnow())
            regs = await repo.registrations_for(session, {timer.chat_id for timer in claimed})
            pending = await repo.pending_timers(session)
        return claimed, regs, pending

    async def announce_again(self, timer_ids: Sequence[int], *, after: timedelta) -> datetime:
        retry_at = utcnow() + after
        async with self.db.session() as session:
            await repo.unclaim_timers(session, timer_ids, ready_at=retry_at)
        return retry_at
