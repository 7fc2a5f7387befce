"""Access requests and invite links."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import AccessRequest, Invite

__all__ = ["answer_request", "create_invite", "record_request", "use_invite"]


async def record_request(
    session: AsyncSession, user_id: int, *, now: datetime, language: str
) -> bool:
    """Note the request (`language`: the answer's); False when this person asked before."""
    if await session.get(AccessRequest, user_id) is not None:
        return False
    session.add(AccessRequest(user_id=user_id, requested_at=now, language=language))
    await session.flush()
    return True


async def answer_request(
    session: AsyncSession, user_id: int, *, allowed: bool, by: int, now: datetime
) -> tuple[AccessRequest, bool] | None:
    """Answer the request unless it was answered already (one UPDATE: of two admins answering
    at once, one does). The request as it now stands, and whether this answered it; None when
    this person never asked."""
    result = await session.execute(
        update(AccessRequest)
        .where(AccessRequest.user_id == user_id, AccessRequest.answered_at.is_(None))
        .values(allowed=allowed, answered_by=by, answered_at=now)
        .returning(AccessRequest.user_id)
    )
    answered_now = result.scalar_one_or_none() is not None
    request = await session.get(AccessRequest, user_id, populate_existing=True)
    return None if request is None else (request, answered_now)


async def create_invite(
    session: AsyncSession, token_hash: str, *, by: int, now: datetime, expires_at: datetime
) -> None:
    session.add(Invite(token_hash=token_hash, created_by=by, created_at=now, expires_at=expires_at))


async def use_invite(
    session: AsyncSession, token_hash: str, *, user_id: int, now: datetime
) -> int | None:
    """Spend the invite for `user_id` if it is unused and unexpired (one UPDATE: of two people
    opening it at once, one gets it); who made it, or None."""
    result = await session.execute(
        update(Invite)
        .where(
            Invite.token_hash == token_hash,
            Invite.used_by.is_(None),
            Invite.expires_at > now,
        )
        .values(used_by=user_id, used_at=now)
        .returning(Invite.created_by)
    )
    return result.scalar_one_or_none()
