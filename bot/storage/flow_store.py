"""Where flows live: their registrations row, instance leases, wait timers and audit events.

Every change is committed before the member sees the next question (write-through). Z-API is
never called while a transaction is open.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.ports import (
    AlreadyCommitted,
    Change,
    ComposeNotices,
    FlowGone,
    InstanceBusy,
    LeaseLost,
    Message,
    OpenedFlow,
    OwedMessage,
    TimerScheduler,
)
from bot.domain.clock import Clock
from bot.domain.methods import DeliveryMethod
from bot.domain.record import FlowRecord
from bot.storage import repositories as repo
from bot.storage.database import Database
from bot.storage.models import WaitTimer
from bot.storage.writes import (
    WRITE_RETRY_DELAYS,
    Saved,
    Writer,
    audit,
    insert_flows_with_messages,
    insert_leased,
)

__all__ = ["FlowStore"]


_EVERY_METHOD = frozenset(method.value for method in DeliveryMethod)


class FlowStore(Writer):
    """Flows, their leases and waits, with the caches of what was committed: the service's
    `FlowStorage` and `OutboxStorage` (`bot.conversation.ports`)."""

    def __init__(
        self,
        database: Database,
        *,
        idle_timeout: timedelta,
        scheduler: TimerScheduler,
        clock: Clock,
        write_retry_delays: Sequence[float] = WRITE_RETRY_DELAYS,
        sandboxes: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(database, clock=clock, write_retry_delays=write_retry_delays)
        self.idle_timeout = idle_timeout
        self.sandboxes = sandboxes  # instances whose events are rehearsals
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
        # Told of every audit event once it is committed (the team feed, bot/alerts.py).
        self.on_event: Callable[[FlowRecord, str, str], None] | None = None
        # Told of each flow opened, and of each ended with its event (bot/metrics.py).
        self.on_open: Callable[[FlowRecord], None] | None = None
        self.on_end: Callable[[FlowRecord, str, str], None] | None = None

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

        def build(retrying: bool) -> Callable[[AsyncSession], Awaitable[Saved]]:
            async def write(session: AsyncSession) -> Saved:
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
                                session,
                                new.instance,
                                reg.chat_id,
                                until=lease[1],
                                now=new.updated_at,
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
                timers: list[repo.WaitSet] = []
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
                    rehearsal = new.instance in self.sandboxes
                    await audit(session, new, *change.audit, now=new.updated_at, sandbox=rehearsal)
                await repo.insert_outbox(session, rows)
                return Saved(new, lease, timers)

            return write

        try:
            saved = await self._write(build)
        except AlreadyCommitted:
            # The first attempt committed unheard: what it wrote of the lease is not known here
            # (the next write refreshes it), and its waits still need their timer armed.
            saved = Saved(new, None, [])
            for when in filter(None, ready_at.values()):
                self.scheduler.schedule(when)
        except (FlowGone, LeaseLost):
            self.forget(reg.chat_id)
            raise
        self._committed(saved.record, saved.lease)
        if ready_at:
            self._remember_waits(saved.record, ready_at)
        for timer in saved.timers:
            self.scheduler.schedule(timer.ready_at)
        reg.update_from(saved.record)  # what was already built from `reg` sees the new step
        if change.audit is not None:
            self._told(saved.record, *change.audit)
        return owed

    def _told(self, reg: FlowRecord, action: str, outcome: str) -> None:
        if self.on_event is not None:
            self.on_event(reg, action, outcome)

    @staticmethod
    async def _update_flow(
        session: AsyncSession, new: FlowRecord, from_version: int, *, retrying: bool
    ) -> None:
        if await repo.update_flow(session, new, from_version=from_version):
            return
        if retrying:
            current = await repo.get_flow(session, new.chat_id)
            if current is not None and current.version == new.version:
                raise AlreadyCommitted(new.chat_id)
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
                        raise AlreadyCommitted(reg.chat_id)
                    raise FlowGone(reg.chat_id)
                await repo.release_leases(session, reg.chat_id)
                await repo.delete_announced_timers(session, reg.chat_id)
                now, rehearsal = self.clock.now(), reg.instance in self.sandboxes
                await audit(session, reg, action, outcome, by=by, now=now, sandbox=rehearsal)
                await repo.insert_outbox(session, rows)

            return write

        with contextlib.suppress(AlreadyCommitted):
            await self._write(build)
        if self.on_end is not None:
            self.on_end(reg, action, outcome)
        if by is None:
            self._told(reg, action, outcome)
        return owed

    async def ready_times(
        self, reg: FlowRecord, pending: Mapping[str, datetime | None] | None = None
    ) -> dict[DeliveryMethod, datetime]:
        """When each delivery method's wait ends for the flow's number (methods without a wait
        left out); `pending`: waits of a change not committed yet, which replace the stored."""
        if not (reg.instance and reg.ddi and reg.phone):
            return {}
        number = (reg.instance, reg.ddi, reg.phone)
        ready_at = self._waits.get(number)
        if ready_at is None and pending is not None and set(pending) >= _EVERY_METHOD:
            ready_at = {}  # Z-API just reported every method's wait: nothing stored counts
        if ready_at is None:
            async with self.db.reader() as session:
                timers = await repo.timers_for_number(session, *number)
            ready_at = self._waits[number] = {timer.method: timer.ready_at for timer in timers}
        merged: dict[str, datetime | None] = {**ready_at, **(pending or {})}
        now = self.clock.now()
        ready = {DeliveryMethod(m): when for m, when in merged.items() if when and when > now}
        if not ready and not pending:
            self._waits.pop(number, None)  # nothing to remember; read again if asked again
        return ready

    async def held_instances(self) -> dict[str, int]:
        """Instance → chat holding it (the database decides who gets one; this is for showing)."""
        if not self._leases_loaded:
            async with self._loading_leases:  # one read, however many ask at once
                if not self._leases_loaded:
                    async with self.db.reader() as session:
                        stored = await repo.held_leases(session, now=self.clock.now())
                    for chat_id, lease in stored.items():
                        self._leases.setdefault(chat_id, lease)  # what this process wrote is newer
                    self._leases_loaded = True
        now = self.clock.now()
        return {instance: chat for chat, (instance, until) in self._leases.items() if until > now}

    async def pending_timers(self) -> Sequence[WaitTimer]:
        async with self.db.reader() as session:
            return await repo.pending_timers(session)

    async def interrupted(self) -> list[FlowRecord]:
        """Flows whose Z-API call was under way when the last process stopped."""
        async with self.db.reader() as session:
            return await repo.interrupted_flows(session)

    async def open(
        self, new: FlowRecord, messages: Sequence[Message] = ()
    ) -> tuple[OpenedFlow, list[OwedMessage]] | None:
        """The chat's flow in progress, or `new` saved with its first messages (leasing its
        instance, if it names one); None when that instance is held by another flow."""
        cached = self._open.get(new.chat_id)
        if cached is not None:
            return OpenedFlow(cached.copy(), resumed=True), []
        new.created_at = new.updated_at = self.clock.now()
        owed = self._owed(new.chat_id, messages)
        rows = self._outbox_rows(owed)
        if new.instance is None:
            # The common case, and the one a crowd sends at once: one INSERT for all of them.
            inserted = await self.writes.add(insert_flows_with_messages, (new, rows))
            lease = None
        else:
            lease = (new.instance, new.updated_at + 2 * self.idle_timeout)
            try:
                inserted = await self.writes.run(insert_leased(new, lease[1], rows))
            except InstanceBusy:
                return None
        if inserted:
            self._committed(new, lease)
            if self.on_open is not None:
                self.on_open(new)
            return OpenedFlow(new.copy(), resumed=False), owed
        existing = await self.load(new.chat_id)  # started before this process did
        if existing is None:  # and ended since: start afresh
            return await self.open(new, messages)
        return OpenedFlow(existing, resumed=True), []

    async def last_number_on(self, instance: str) -> str | None:
        """The number last connected on `instance` by a registration (country code first)."""
        async with self.db.reader() as session:
            last = await repo.last_connected_on(session, instance)
        return None if last is None else last.number

    async def last_connected(self, user_id: int) -> tuple[str, str] | None:
        async with self.db.reader() as session:
            return await repo.last_connected(session, user_id)

    async def idle_chats(self) -> list[int]:
        """Chats whose flow saw no activity for the timeout (a pending wait counts as activity:
        the member was told to wait and will be told when to go on)."""
        async with self.db.reader() as session:
            idle = await repo.idle_flows(session, self.clock.now() - self.idle_timeout)
        return [reg.chat_id for reg in idle]

    async def end_if_idle(
        self, chat_id: int, say: Callable[[FlowRecord], tuple[str, Sequence[Message]]]
    ) -> tuple[FlowRecord, list[OwedMessage]] | None:
        """End the chat's flow if it is still idle, with what `say` says of it (and records
        under the action it names)."""
        self.forget(chat_id)
        async with self.db.reader() as session:
            idle = await repo.idle_flows(
                session, self.clock.now() - self.idle_timeout, chat_id=chat_id
            )
        if not idle:
            return None
        try:
            action, messages = say(idle[0])
            owed = await self.end(idle[0], action, "timed_out", messages)
        except FlowGone:
            return None
        return idle[0], owed

    async def claim_ended_waits(
        self,
        compose: ComposeNotices,
    ) -> tuple[list[OwedMessage], datetime | None]:
        """Claim every ended wait exactly once and commit, in the same transaction, the notices
        `compose(claimed, their chats' flows, waits still pending)` makes of them; the notices
        and when the next pending wait ends."""

        def build(
            retrying: bool,
        ) -> Callable[[AsyncSession], Awaitable[tuple[list[OwedMessage], datetime | None]]]:
            async def write(session: AsyncSession) -> tuple[list[OwedMessage], datetime | None]:
                claimed = await repo.claim_due_timers(session, now=self.clock.now())
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
