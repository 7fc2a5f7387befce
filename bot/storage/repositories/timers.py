"""Wait timers: when Z-API lets a number's delivery method be used again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import (
    WaitTimer,
)
from bot.storage.repositories._common import BULK as _BULK

__all__ = [
    "apply_waits",
    "claim_due_timers",
    "delete_announced_timers",
    "pending_timers",
    "timers_for_number",
]


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
