"""The outbox: messages owed to chats until Telegram confirms them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import (
    OutboxMessage,
)

__all__ = [
    "delete_outbox",
    "insert_outbox",
    "outbox_messages",
]

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
