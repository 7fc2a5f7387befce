"""Members added or removed by admins, and the audit trail of who did what."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import (
    AuditEvent,
    Member,
    MemberLanguage,
    Person,
    utcnow,
)

__all__ = [
    "LastConnected",
    "choose_language",
    "chosen_languages",
    "last_connected_on",
    "member_overrides",
    "members",
    "people",
    "recent_events",
    "record_event",
    "save_people",
    "set_member",
]

# A Core insert, not an ORM object: the unit of work's flush cost more than the insert itself.
_INSERT_EVENT = insert(cast(Table, AuditEvent.__table__))


async def set_member(
    session: AsyncSession, user_id: int, *, allowed: bool, by: int, source: str = "allow"
) -> None:
    member = await session.get(Member, user_id)
    if member is None:
        session.add(
            Member(
                user_id=user_id,
                allowed=allowed,
                changed_by=by,
                changed_at=utcnow(),
                source=source,
            )
        )
    else:
        member.allowed, member.changed_by, member.changed_at = allowed, by, utcnow()
        member.source = source


async def members(session: AsyncSession) -> Sequence[Member]:
    return (await session.scalars(select(Member))).all()


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
    flow_id: str | None = None,
    flow_started_at: datetime | None = None,
    sandbox: bool = False,
) -> None:
    event = {
        "sandbox": sandbox,
        "flow_id": flow_id,
        "flow_started_at": flow_started_at,
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


@dataclass(frozen=True, slots=True)
class LastConnected:
    user_id: int
    number: str
    at: datetime


async def last_connected_on(session: AsyncSession, instance: str) -> LastConnected | None:
    """Who last connected a number on `instance`, which number, and when."""
    query = (
        select(AuditEvent.user_id, AuditEvent.number, AuditEvent.created_at)
        .where(
            AuditEvent.instance == instance,
            AuditEvent.action == "register",
            AuditEvent.outcome == "connected",
        )
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(1)
    )
    row = (await session.execute(query)).first()
    if row is None or row.number is None:
        return None
    return LastConnected(row.user_id, row.number, row.created_at)


async def people(session: AsyncSession) -> Sequence[Person]:
    return (await session.scalars(select(Person))).all()


async def save_people(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert or update people by user id (first_name, username, first_seen, last_seen); the
    first sighting stays as first written."""
    if not rows:
        return
    # The dialect's own upsert, imported when needed: a bot on one backend need not load the
    # other's dialect.
    statement: Any
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        statement = postgresql_insert(Person)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(Person)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Person.user_id],
            set_={
                "first_name": statement.excluded.first_name,
                "username": statement.excluded.username,
                "last_seen": statement.excluded.last_seen,
            },
        ),
        list(rows),
    )


async def chosen_languages(session: AsyncSession) -> dict[int, str]:
    rows = await session.execute(select(MemberLanguage.user_id, MemberLanguage.language))
    return {user_id: language for user_id, language in rows}


async def choose_language(session: AsyncSession, user_id: int, language: str) -> None:
    chosen = await session.get(MemberLanguage, user_id)
    if chosen is None:
        session.add(MemberLanguage(user_id=user_id, language=language))
    else:
        chosen.language = language
