"""Instance states: each instance as the monitor last saw it; what sandboxes remember."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.instances import InstanceState
from bot.storage.models import InstanceStateRow, SandboxStateRow

__all__ = ["instance_states", "sandbox_states", "save_instance_states", "save_sandbox_states"]


async def instance_states(session: AsyncSession) -> dict[str, InstanceState]:
    rows = await session.scalars(select(InstanceStateRow))
    return {
        row.instance: InstanceState(row.instance, row.connected, row.reason, row.changed_at)
        for row in rows
    }


async def save_instance_states(
    session: AsyncSession, states: Sequence[InstanceState], *, checked_at: datetime
) -> None:
    """Replace the rows of these instances (a handful: a delete and an insert on every
    backend, rather than each dialect's upsert)."""
    if not states:
        return
    names = [state.instance for state in states]
    await session.execute(delete(InstanceStateRow).where(InstanceStateRow.instance.in_(names)))
    await session.execute(
        insert(InstanceStateRow),
        [
            {
                "instance": state.instance,
                "connected": state.connected,
                "reason": (state.reason or "")[:200] or None,
                "changed_at": state.changed_at,
                "checked_at": checked_at,
            }
            for state in states
        ],
    )


async def sandbox_states(session: AsyncSession) -> dict[str, str]:
    rows = (await session.execute(select(SandboxStateRow.key, SandboxStateRow.state))).all()
    return {key: state for key, state in rows}


async def save_sandbox_states(
    session: AsyncSession, states: Mapping[str, str], *, now: datetime
) -> None:
    """Write these keys' states, whoever wrote them last (an upsert: two writers at once
    never collide on a key)."""
    if session.get_bind().dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as upsert
    else:
        from sqlalchemy.dialects.postgresql import insert as upsert  # type: ignore[assignment]
    rows = [{"key": key, "state": state, "updated_at": now} for key, state in states.items()]
    statement = upsert(SandboxStateRow).values(rows)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[SandboxStateRow.key],
            set_={"state": statement.excluded.state, "updated_at": statement.excluded.updated_at},
        )
    )
