"""Members added or removed by admins, and the audit trail of who did what."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import (
    AuditEvent,
    Member,
    MemberLanguage,
    utcnow,
)

__all__ = [
    "choose_language",
    "chosen_languages",
    "member_overrides",
    "recent_events",
    "record_event",
    "set_member",
]

# A Core insert, not an ORM object: the unit of work's flush cost more than the insert itself.
_INSERT_EVENT = insert(cast(Table, AuditEvent.__table__))


async def set_member(session: AsyncSession, user_id: int, *, allowed: bool, by: int) -> None:
    member = await session.get(Member, user_id)
    if member is None:
        session.add(Member(user_id=user_id, allowed=allowed, changed_by=by, changed_at=utcnow()))
    else:
        member.allowed, member.changed_by, member.changed_at = allowed, by, utcnow()


async def member_overrides(session: AsyncSession) -> dict[int, bool]:
    rows = await session.execute(select(Member.user_id, Member.allowed))
    return {user_id: allowed for user_id, allowed in rows}


async def record_event(
    session: AsyncSession,
    *,
    user_id: int,
    chat_id: int,
    action: str,
    outcome: str,
    instance: str | None = None,
    number: str | None = None,
    now: datetime | None = None,
) -> None:
    event = {
        "user_id": user_id,
        "chat_id": chat_id,
        "instance": instance,
        "number": number,
        "action": action,
        "outcome": outcome,
        "created_at": now or utcnow(),
    }
    await session.execute(_INSERT_EVENT, event)


async def recent_events(
    session: AsyncSession, limit: int, *, actions: Sequence[str] | None = None
) -> Sequence[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    if actions:
        query = query.where(AuditEvent.action.in_(actions))
    return (await session.scalars(query.limit(limit))).all()


async def last_connected(session: AsyncSession, user_id: int) -> tuple[str, str] | None:
    """The instance and number of the member's last registration that connected."""
    query = (
        select(AuditEvent.instance, AuditEvent.number)
        .where(
            AuditEvent.user_id == user_id,
            AuditEvent.action == "register",
            AuditEvent.outcome == "connected",
        )
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(1)
    )
    row = (await session.execute(query)).first()
    if row is None or row.instance is None or row.number is None:
        return None
    return row.instance, row.number


async def chosen_languages(session: AsyncSession) -> dict[int, str]:
    rows = await session.execute(select(MemberLanguage.user_id, MemberLanguage.language))
    return {user_id: language for user_id, language in rows}


async def choose_language(session: AsyncSession, user_id: int, language: str) -> None:
    chosen = await session.get(MemberLanguage, user_id)
    if chosen is None:
        session.add(MemberLanguage(user_id=user_id, language=language))
    else:
        chosen.language = language
