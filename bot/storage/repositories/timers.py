"""Wait timers: when Z-API lets a number's delivery method be used again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import (
    WaitTimer,
)
from bot.storage.repositories._common import BULK as _BULK

_TIMERS = cast(Table, WaitTimer.__table__)

__all__ = [
    "WaitSet",
    "apply_waits",
    "claim_due_timers",
    "count_pending_timers",
    "delete_announced_timers",
    "pending_timers",
    "timers_for_number",
]


@dataclass(frozen=True, slots=True)
class WaitSet:
    """A method's wait as a step set it."""

    id: int
    method: str
    ready_at: datetime


async def apply_waits(
    session: AsyncSession,
    *,
    instance: str,
    ddi: str,
    phone: str,
    chat_id: int,
    ready_at: Mapping[str, datetime | None],
) -> list[WaitSet]:
    """Set the number's wait per method (None: no wait any more), as Core statements (no ORM
    unit of work: this runs in most steps' transactions); returns the waits set."""
    number = {"instance": instance, "ddi": ddi, "phone": phone}
    ended = [method for method, when in ready_at.items() if when is None]
    if ended:
        await session.execute(
            delete(_TIMERS).where(
                _TIMERS.c.instance == instance,
                _TIMERS.c.ddi == ddi,
                _TIMERS.c.phone == phone,
                _TIMERS.c.method.in_(ended),
            )
        )
    rows = [
        {**number, "method": method, "chat_id": chat_id, "ready_at": when, "notified": False}
        for method, when in ready_at.items()
        if when is not None
    ]
    if not rows:
        return []
    # Dialect syntax, loaded only by the deployments using it (see flows.py).
    if session.get_bind().dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
    upsert = insert(_TIMERS).values(rows)
    statement = upsert.on_conflict_do_update(
        index_elements=[_TIMERS.c.instance, _TIMERS.c.ddi, _TIMERS.c.phone, _TIMERS.c.method],
        set_={
            "chat_id": upsert.excluded.chat_id,
            "ready_at": upsert.excluded.ready_at,
            "notified": upsert.excluded.notified,
        },
    ).returning(_TIMERS.c.id, _TIMERS.c.method, _TIMERS.c.ready_at)
    result = await session.execute(statement)
    return [WaitSet(row.id, row.method, row.ready_at) for row in result]


# Asked at every method question of a number not read yet: built once (see flows.py).
_TIMERS_OF_NUMBER = select(WaitTimer).where(
    WaitTimer.instance == bindparam("instance"),
    WaitTimer.ddi == bindparam("ddi"),
    WaitTimer.phone == bindparam("phone"),
)


async def timers_for_number(
    session: AsyncSession, instance: str, ddi: str, phone: str
) -> Sequence[WaitTimer]:
    number = {"instance": instance, "ddi": ddi, "phone": phone}
    return (await session.scalars(_TIMERS_OF_NUMBER, number)).all()


async def pending_timers(session: AsyncSession) -> Sequence[WaitTimer]:
    return (
        await session.scalars(
            select(WaitTimer).where(WaitTimer.notified.is_(False)).order_by(WaitTimer.ready_at)
        )
    ).all()


async def count_pending_timers(session: AsyncSession) -> int:
    """How many waits are not announced yet (ended or not)."""
    count = await session.scalar(
        select(func.count()).select_from(_TIMERS).where(_TIMERS.c.notified.is_(False))
    )
    return int(count or 0)


async def claim_due_timers(session: AsyncSession, *, now: datetime) -> Sequence[WaitTimer]:
    """Mark every ended, unannounced wait as announced and return them.

    One UPDATE … RETURNING: a wait is claimed exactly once, however many callers race.
    """
    statement = (
        update(WaitTimer)
        .where(WaitTimer.notified.is_(False), WaitTimer.ready_at <= now)
        .values(notified=True)
        .returning(WaitTimer)
    )
    result = await session.scalars(statement, execution_options=_BULK)
    return result.all()


async def delete_announced_timers(session: AsyncSession, chat_id: int) -> None:
    """Waits already announced to a chat whose flow ended are of no further use."""
    await session.execute(
        delete(WaitTimer).where(WaitTimer.chat_id == chat_id, WaitTimer.notified.is_(True)),
        execution_options=_BULK,
    )
