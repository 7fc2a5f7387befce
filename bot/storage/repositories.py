"""Queries, one function per question the bot asks its database. Each takes an open session."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from bot.domain.record import FlowRecord
from bot.storage.models import (
    AuditEvent,
    InstanceLease,
    Member,
    OutboxMessage,
    Registration,
    WaitTimer,
    utcnow,
)

__all__ = [
    "acquire_lease",
    "active_registrations",
    "apply_waits",
    "claim_due_timers",
    "delete_announced_timers",
    "delete_outbox",
    "delete_registration",
    "flows_for",
    "get_flow",
    "get_registration",
    "held_instances",
    "held_leases",
    "idle_flows",
    "insert_flows",
    "insert_outbox",
    "interrupted_flows",
    "lease_is_held",
    "member_overrides",
    "outbox_messages",
    "pending_timers",
    "recent_events",
    "record_event",
    "refresh_lease",
    "release_leases",
    "set_member",
    "set_timer",
    "timers_for_number",
    "unclaim_timers",
    "update_flow",
]


# Bulk UPDATE/DELETE here never need the ORM to find and refresh loaded objects.
_BULK = {"synchronize_session": False}

# -- registration state ----------------------------------------------------------------------


async def get_registration(session: AsyncSession, chat_id: int) -> Registration | None:
    return await session.get(Registration, chat_id, populate_existing=True)


_FLOWS = cast(Table, Registration.__table__)
# Columns a flow's update writes (the version is bumped by the caller's record).
_MUTABLE = tuple(
    column.key for column in _FLOWS.columns if column.key not in {"chat_id", "created_at"}
)


async def get_flow(session: AsyncSession, chat_id: int) -> FlowRecord | None:
    row = (
        (await session.execute(select(_FLOWS).where(_FLOWS.c.chat_id == chat_id)))
        .mappings()
        .first()
    )
    return FlowRecord.from_row(row) if row is not None else None


async def flows_for(session: AsyncSession, chat_ids: Iterable[int]) -> dict[int, FlowRecord]:
    wanted = list(chat_ids)
    if not wanted:
        return {}
    rows = await session.execute(select(_FLOWS).where(_FLOWS.c.chat_id.in_(wanted)))
    return {row["chat_id"]: FlowRecord.from_row(row) for row in rows.mappings()}


def _insert_new_flows(session: AsyncSession) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING RETURNING chat_id: dialect syntax, so each dialect's
    module is loaded only by the deployments using it."""
    if session.get_bind().dialect.name == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(_FLOWS).on_conflict_do_nothing().returning(_FLOWS.c.chat_id)
    from sqlalchemy.dialects import postgresql

    return postgresql.insert(_FLOWS).on_conflict_do_nothing().returning(_FLOWS.c.chat_id)


async def insert_flows(session: AsyncSession, records: Sequence[FlowRecord]) -> list[bool]:
    """Insert new flows in one statement; for each, False when its chat already has a flow."""
    fresh: dict[int, FlowRecord] = {}
    for record in records:
        fresh.setdefault(record.chat_id, record)
    inserted: set[int] = set()
    if fresh:
        result = await session.execute(
            _insert_new_flows(session), [r.values() for r in fresh.values()]
        )
        inserted = set(result.scalars())
    # A second record for one chat in the same call finds the first one there.
    return [r.chat_id in inserted and fresh[r.chat_id] is r for r in records]


async def update_flow(session: AsyncSession, record: FlowRecord, *, from_version: int) -> bool:
    """Write every column of `record` if the row is still at `from_version`.

    False when the row was changed or deleted meanwhile (optimistic concurrency)."""
    result = await session.execute(
        update(_FLOWS)
        .where(_FLOWS.c.chat_id == record.chat_id, _FLOWS.c.version == from_version)
        .values({key: getattr(record, key) for key in _MUTABLE})
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def idle_flows(
    session: AsyncSession, cutoff: datetime, *, chat_id: int | None = None
) -> list[FlowRecord]:
    """Flows last changed before `cutoff` and with no wait for their number ending after it."""
    pending_wait = (
        select(WaitTimer.id)
        .where(
            WaitTimer.instance == Registration.instance,
            WaitTimer.ddi == Registration.ddi,
            WaitTimer.phone == Registration.phone,
            WaitTimer.notified.is_(False),
            WaitTimer.ready_at > cutoff,
        )
        .exists()
    )
    query = select(_FLOWS).where(_FLOWS.c.updated_at < cutoff, ~pending_wait)
    if chat_id is not None:
        query = query.where(_FLOWS.c.chat_id == chat_id)
    return [FlowRecord.from_row(row) for row in (await session.execute(query)).mappings()]


async def interrupted_flows(session: AsyncSession) -> list[FlowRecord]:
    """Flows whose Z-API call was under way when the last process stopped."""
    query = select(_FLOWS).where(_FLOWS.c.pending_call.is_not(None))
    return [FlowRecord.from_row(row) for row in (await session.execute(query)).mappings()]


async def active_registrations(session: AsyncSession) -> Sequence[Registration]:
    return (await session.scalars(select(Registration).order_by(Registration.chat_id))).all()


async def delete_registration(
    session: AsyncSession, chat_id: int, *, version: int | None = None
) -> bool:
    """Delete the chat's flow (only at `version`, when given); False when nothing matched."""
    statement = delete(Registration).where(Registration.chat_id == chat_id)
    if version is not None:
        statement = statement.where(Registration.version == version)
    result = await session.execute(statement, execution_options=_BULK)
    return bool(result.rowcount)  # type: ignore[attr-defined]


# -- instance leases -------------------------------------------------------------------------


async def acquire_lease(
    session: AsyncSession, instance: str, chat_id: int, *, until: datetime
) -> bool:
    """Take `instance` for `chat_id` unless another chat holds an unexpired lease on it.

    Any other lease of the chat is released: a chat works on one instance at a time.
    """
    now = utcnow()
    await session.execute(
        delete(InstanceLease).where(
            InstanceLease.chat_id == chat_id, InstanceLease.instance != instance
        ),
        execution_options=_BULK,
    )
    taken = await session.execute(
        update(InstanceLease)
        .where(
            InstanceLease.instance == instance,
            or_(InstanceLease.chat_id == chat_id, InstanceLease.expires_at <= now),
        )
        .values(chat_id=chat_id, expires_at=until, acquired_at=now),
        execution_options=_BULK,
    )
    if taken.rowcount:  # type: ignore[attr-defined]
        return True
    try:
        async with session.begin_nested():
            session.add(
                InstanceLease(instance=instance, chat_id=chat_id, acquired_at=now, expires_at=until)
            )
    except IntegrityError:
        return False
    return True


async def refresh_lease(
    session: AsyncSession, instance: str, chat_id: int, *, until: datetime
) -> bool:
    """Extend the chat's lease on `instance`; False when the chat no longer holds it.

    The row names the chat for as long as nobody else took the instance (taking an instance
    rewrites its row; ending a flow deletes only that flow's rows), so its presence proves the
    chat held the instance all along, even past the old expiry.
    """
    result = await session.execute(
        update(InstanceLease)
        .where(InstanceLease.instance == instance, InstanceLease.chat_id == chat_id)
        .values(expires_at=until),
        execution_options=_BULK,
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def lease_is_held(session: AsyncSession, instance: str, chat_id: int) -> bool:
    """Whether the chat still holds `instance` (see `refresh_lease`)."""
    found = await session.scalar(
        select(InstanceLease.chat_id).where(
            InstanceLease.instance == instance, InstanceLease.chat_id == chat_id
        )
    )
    return found is not None


async def release_leases(session: AsyncSession, chat_id: int) -> None:
    await session.execute(
        delete(InstanceLease).where(InstanceLease.chat_id == chat_id), execution_options=_BULK
    )


async def held_instances(session: AsyncSession) -> dict[str, int]:
    """Instance name → chat holding it, for leases not yet expired."""
    rows = await session.execute(
        select(InstanceLease.instance, InstanceLease.chat_id).where(
            InstanceLease.expires_at > utcnow()
        )
    )
    return {instance: chat_id for instance, chat_id in rows}


async def held_leases(session: AsyncSession) -> dict[int, tuple[str, datetime]]:
    """Chat → the instance it holds and until when, for leases not yet expired."""
    rows = await session.execute(
        select(InstanceLease.chat_id, InstanceLease.instance, InstanceLease.expires_at).where(
            InstanceLease.expires_at > utcnow()
        )
    )
    return {chat_id: (instance, until) for chat_id, instance, until in rows}


# -- wait timers -----------------------------------------------------------------------------


async def set_timer(
    session: AsyncSession,
    *,
    instance: str,
    ddi: str,
    phone: str,
    method: str,
    chat_id: int,
    ready_at: datetime,
) -> WaitTimer:
    """Create or move the timer for (instance, number, method); it will be announced again."""
    timer = await session.scalar(
        select(WaitTimer).where(
            WaitTimer.instance == instance,
            WaitTimer.ddi == ddi,
            WaitTimer.phone == phone,
            WaitTimer.method == method,
        )
    )
    if timer is None:
        timer = WaitTimer(instance=instance, ddi=ddi, phone=phone, method=method, chat_id=chat_id)
        session.add(timer)
    timer.chat_id = chat_id
    timer.ready_at = ready_at
    timer.notified = False
    await session.flush()
    return timer


async def apply_waits(
    session: AsyncSession,
    *,
    instance: str,
    ddi: str,
    phone: str,
    chat_id: int,
    ready_at: Mapping[str, datetime | None],
) -> list[WaitTimer]:
    """Set the number's timer per method (None: no wait any more); returns the timers set."""
    existing = {
        timer.method: timer for timer in await timers_for_number(session, instance, ddi, phone)
    }
    changed: list[WaitTimer] = []
    for method, when in ready_at.items():
        timer = existing.get(method)
        if when is None:
            if timer is not None:
                await session.delete(timer)
            continue
        if timer is None:
            timer = WaitTimer(instance=instance, ddi=ddi, phone=phone, method=method)
            session.add(timer)
        timer.chat_id, timer.ready_at, timer.notified = chat_id, when, False
        changed.append(timer)
    await session.flush()
    return changed


async def timers_for_number(
    session: AsyncSession, instance: str, ddi: str, phone: str
) -> Sequence[WaitTimer]:
    return (
        await session.scalars(
            select(WaitTimer).where(
                WaitTimer.instance == instance, WaitTimer.ddi == ddi, WaitTimer.phone == phone
            )
        )
    ).all()


async def pending_timers(session: AsyncSession) -> Sequence[WaitTimer]:
    return (
        await session.scalars(
            select(WaitTimer).where(WaitTimer.notified.is_(False)).order_by(WaitTimer.ready_at)
        )
    ).all()


async def claim_due_timers(
    session: AsyncSession, chat_id: int | None = None, *, now: datetime
) -> Sequence[WaitTimer]:
    """Mark ended, unannounced waits (of one chat, or all) as announced and return them.

    One UPDATE … RETURNING: a wait is claimed exactly once, however many callers race.
    """
    statement = (
        update(WaitTimer)
        .where(WaitTimer.notified.is_(False), WaitTimer.ready_at <= now)
        .values(notified=True)
        .returning(WaitTimer)
    )
    if chat_id is not None:
        statement = statement.where(WaitTimer.chat_id == chat_id)
    result = await session.scalars(statement, execution_options=_BULK)
    return result.all()


async def unclaim_timers(
    session: AsyncSession, timer_ids: Iterable[int], *, ready_at: datetime
) -> None:
    """Announce these waits again at `ready_at` (their notice could not be delivered)."""
    await session.execute(
        update(WaitTimer)
        .where(WaitTimer.id.in_(list(timer_ids)))
        .values(notified=False, ready_at=ready_at),
        execution_options=_BULK,
    )


async def delete_announced_timers(session: AsyncSession, chat_id: int) -> None:
    """Waits already announced to a chat whose flow ended are of no further use."""
    await session.execute(
        delete(WaitTimer).where(WaitTimer.chat_id == chat_id, WaitTimer.notified.is_(True)),
        execution_options=_BULK,
    )


# -- members ---------------------------------------------------------------------------------


async def set_member(session: AsyncSession, user_id: int, *, allowed: bool, by: int) -> None:
    member = await session.get(Member, user_id)
    if member is None:
        session.add(Member(user_id=user_id, allowed=allowed, changed_by=by, changed_at=utcnow()))
    else:
        member.allowed, member.changed_by, member.changed_at = allowed, by, utcnow()


async def member_overrides(session: AsyncSession) -> dict[int, bool]:
    rows = await session.execute(select(Member.user_id, Member.allowed))
    return {user_id: allowed for user_id, allowed in rows}


# -- audit -----------------------------------------------------------------------------------


async def record_event(
    session: AsyncSession,
    *,
    user_id: int,
    chat_id: int,
    action: str,
    outcome: str,
    instance: str | None = None,
    number: str | None = None,
) -> None:
    session.add(
        AuditEvent(
            user_id=user_id,
            chat_id=chat_id,
            instance=instance,
            number=number,
            action=action,
            outcome=outcome,
            created_at=utcnow(),
        )
    )


async def recent_events(
    session: AsyncSession, limit: int, *, actions: Sequence[str] | None = None
) -> Sequence[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    if actions:
        query = query.where(AuditEvent.action.in_(actions))
    return (await session.scalars(query.limit(limit))).all()


# -- outbox ----------------------------------------------------------------------------------

_OUTBOX = cast(Table, OutboxMessage.__table__)


async def insert_outbox(session: AsyncSession, rows: Sequence[Mapping[str, object]]) -> None:
    """Messages owed to chats (`id`, `chat_id`, `payload`, `created_at`), in one statement."""
    if rows:
        await session.execute(_OUTBOX.insert(), list(rows))


async def delete_outbox(session: AsyncSession, ids: Sequence[int]) -> None:
    """Messages Telegram confirmed (or that can never be delivered)."""
    if ids:
        await session.execute(delete(_OUTBOX).where(_OUTBOX.c.id.in_(list(ids))))


async def outbox_messages(session: AsyncSession) -> list[tuple[int, int, str]]:
    """Every owed message as (id, chat_id, payload), oldest first."""
    rows = await session.execute(
        select(_OUTBOX.c.id, _OUTBOX.c.chat_id, _OUTBOX.c.payload).order_by(_OUTBOX.c.id)
    )
    return [(row.id, row.chat_id, row.payload) for row in rows]
