"""The registrations table: a flow's row, read and written as a FlowRecord."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from bot.domain.record import FlowRecord
from bot.domain.steps import SETUP_STEPS
from bot.storage.models import (
    Registration,
    WaitTimer,
)
from bot.storage.repositories._common import BULK as _BULK

__all__ = [
    "delete_registration",
    "flows_for",
    "get_flow",
    "idle_flows",
    "insert_flows",
    "interrupted_flows",
    "update_flow",
]


_FLOWS = cast(Table, Registration.__table__)
# Columns a flow's update writes (the version is bumped by the caller's record).
_MUTABLE = tuple(
    column.key for column in _FLOWS.columns if column.key not in {"chat_id", "created_at"}
)
# Built once: the update of every step, with its values as parameters (building the statement
# and its cache key anew each time cost more CPU than the database's own work on SQLite).
_UPDATE_FLOW = (
    update(_FLOWS)
    .where(
        _FLOWS.c.chat_id == bindparam("where_chat_id"),
        _FLOWS.c.version == bindparam("where_version"),
    )
    .values({key: bindparam(f"set_{key}", type_=_FLOWS.c[key].type) for key in _MUTABLE})
)


_FLOW_OF_CHAT = select(_FLOWS).where(_FLOWS.c.chat_id == bindparam("chat_id"))


async def get_flow(session: AsyncSession, chat_id: int) -> FlowRecord | None:
    row = (await session.execute(_FLOW_OF_CHAT, {"chat_id": chat_id})).mappings().first()
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
    values = {f"set_{key}": getattr(record, key) for key in _MUTABLE}
    values.update(where_chat_id=record.chat_id, where_version=from_version)
    result = await session.execute(_UPDATE_FLOW, values)
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
    # A set-up is not kept open by its number's waits: they were the registration's.
    in_setup = _FLOWS.c.step.in_([step.value for step in SETUP_STEPS])
    query = select(_FLOWS).where(_FLOWS.c.updated_at < cutoff, in_setup | ~pending_wait)
    if chat_id is not None:
        query = query.where(_FLOWS.c.chat_id == chat_id)
    return [FlowRecord.from_row(row) for row in (await session.execute(query)).mappings()]


async def interrupted_flows(session: AsyncSession) -> list[FlowRecord]:
    """Flows whose Z-API call was under way when the last process stopped."""
    query = select(_FLOWS).where(_FLOWS.c.pending_call.is_not(None))
    return [FlowRecord.from_row(row) for row in (await session.execute(query)).mappings()]


async def delete_registration(
    session: AsyncSession, chat_id: int, *, version: int | None = None
) -> bool:
    """Delete the chat's flow (only at `version`, when given); False when nothing matched."""
    statement = delete(Registration).where(Registration.chat_id == chat_id)
    if version is not None:
        statement = statement.where(Registration.version == version)
    result = await session.execute(statement, execution_options=_BULK)
    return bool(result.rowcount)  # type: ignore[attr-defined]
