"""Instance leases: which chat holds which instance, and until when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import (
    InstanceLease,
    utcnow,
)
from bot.storage.repositories._common import BULK as _BULK

__all__ = [
    "acquire_lease",
    "held_leases",
    "lease_is_held",
    "refresh_lease",
    "release_leases",
]


async def acquire_lease(
    session: AsyncSession,
    instance: str,
    chat_id: int,
    *,
    until: datetime,
    now: datetime | None = None,
) -> bool:
    """Take `instance` for `chat_id` unless another chat holds an unexpired lease on it.

    Any other lease of the chat is released: a chat works on one instance at a time.
    """
    now = now or utcnow()
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
        _REFRESH_LEASE,
        {"where_instance": instance, "where_chat_id": chat_id, "until": until},
        execution_options=_BULK,
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# Both asked at the writes of a flow that holds an instance: built once (see flows.py).
_REFRESH_LEASE = (
    update(InstanceLease)
    .where(
        InstanceLease.instance == bindparam("where_instance"),
        InstanceLease.chat_id == bindparam("where_chat_id"),
    )
    .values(expires_at=bindparam("until"))
)
_LEASE_HELD = select(InstanceLease.chat_id).where(
    InstanceLease.instance == bindparam("instance"), InstanceLease.chat_id == bindparam("chat_id")
)


async def lease_is_held(session: AsyncSession, instance: str, chat_id: int) -> bool:
    """Whether the chat still holds `instance` (see `refresh_lease`)."""
    found = await session.scalar(_LEASE_HELD, {"instance": instance, "chat_id": chat_id})
    return found is not None


async def release_leases(session: AsyncSession, chat_id: int) -> None:
    await session.execute(
        delete(InstanceLease).where(InstanceLease.chat_id == chat_id), execution_options=_BULK
    )


async def held_leases(
    session: AsyncSession, *, now: datetime | None = None
) -> dict[int, tuple[str, datetime]]:
    """Chat → the instance it holds and until when, for leases not yet expired."""
    rows = await session.execute(
        select(InstanceLease.chat_id, InstanceLease.instance, InstanceLease.expires_at).where(
            InstanceLease.expires_at > (now or utcnow())
        )
    )
    return {chat_id: (instance, until) for chat_id, instance, until in rows}
