"""The audit trail as admins query it: filtered events, and the registrations for /stats."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.history import OUTCOMES, HistoryFilter
from bot.storage.models import AuditEvent

__all__ = ["filtered_events", "flow_events"]

# Every event /history and /export show: what became of registrations, and admins' ends of them.
HISTORY_ACTIONS = ("register", "cancel", "timeout", "check", "appeal", "lease", "admin")
EXPORT_MAX = 100_000


async def filtered_events(
    session: AsyncSession,
    wanted: HistoryFilter,
    *,
    since: datetime | None,
    members: Sequence[int] | None,
    limit: int | None,
) -> Sequence[AuditEvent]:
    """The newest events first. `members`: the user ids the member filter names (None: any);
    `limit`: None for every event (up to EXPORT_MAX)."""
    query = select(AuditEvent).where(AuditEvent.action.in_(HISTORY_ACTIONS))
    if since is not None:
        query = query.where(AuditEvent.created_at >= since)
    if members is not None:
        # An admin's action (/deny, /release) is about the member whose chat it was.
        query = query.where(
            or_(
                and_(AuditEvent.action != "admin", AuditEvent.user_id.in_(members)),
                and_(AuditEvent.action == "admin", AuditEvent.chat_id.in_(members)),
            )
        )
    if wanted.instance is not None:
        query = query.where(AuditEvent.instance == wanted.instance)
    if wanted.outcome is not None:
        action, outcome = OUTCOMES[wanted.outcome]
        query = query.where(AuditEvent.action == action, AuditEvent.outcome == outcome)
    if wanted.last_digits is not None:
        query = query.where(AuditEvent.number.like(f"%{wanted.last_digits}"))
    query = query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    return (await session.scalars(query.limit(limit or EXPORT_MAX))).all()


async def flow_events(session: AsyncSession, *, since: datetime) -> Sequence[AuditEvent]:
    """Every event of registrations begun since `since`, oldest first."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.flow_id.is_not(None), AuditEvent.flow_started_at >= since)
        .order_by(AuditEvent.created_at, AuditEvent.id)
    )
    return (await session.scalars(query)).all()
