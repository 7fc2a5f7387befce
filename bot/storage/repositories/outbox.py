"""The outbox: messages owed to chats until Telegram confirms them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import (
    LiveKeyboard,
    OutboxMessage,
)

__all__ = [
    "count_outbox",
    "delete_outbox",
    "insert_outbox",
    "live_keyboards",
    "outbox_messages",
    "set_live_keyboards",
]

_OUTBOX = cast(Table, OutboxMessage.__table__)
_LIVE = cast(Table, LiveKeyboard.__table__)


async def insert_outbox(session: AsyncSession, rows: Sequence[Mapping[str, object]]) -> None:
    """Messages owed to chats (`id`, `chat_id`, `payload`, `created_at`), in one statement."""
    if rows:
        await session.execute(_OUTBOX.insert(), list(rows))


async def delete_outbox(session: AsyncSession, ids: Sequence[int]) -> None:
    """Messages Telegram confirmed (or that can never be delivered)."""
    if ids:
        await session.execute(delete(_OUTBOX).where(_OUTBOX.c.id.in_(list(ids))))


async def count_outbox(session: AsyncSession) -> int:
    """How many messages are owed (committed, not yet confirmed by Telegram)."""
    return int(await session.scalar(select(func.count()).select_from(_OUTBOX)) or 0)


async def outbox_messages(session: AsyncSession) -> list[tuple[int, int, str]]:
    """Every owed message as (id, chat_id, payload), oldest first."""
    rows = await session.execute(
        select(_OUTBOX.c.id, _OUTBOX.c.chat_id, _OUTBOX.c.payload).order_by(_OUTBOX.c.id)
    )
    return [(row.id, row.chat_id, row.payload) for row in rows]


async def set_live_keyboards(session: AsyncSession, live: Mapping[int, int | None]) -> None:
    """Each chat's message with working buttons (None: no message has them any more)."""
    gone = [chat_id for chat_id, message_id in live.items() if message_id is None]
    if gone:
        await session.execute(delete(_LIVE).where(_LIVE.c.chat_id.in_(gone)))
    rows = [
        {"chat_id": chat_id, "message_id": message_id}
        for chat_id, message_id in live.items()
        if message_id is not None
    ]
    if rows:
        # Dialect syntax, loaded only by the deployments using it (see flows.py).
        if session.get_bind().dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
        upsert = insert(_LIVE)
        await session.execute(
            upsert.on_conflict_do_update(
                index_elements=[_LIVE.c.chat_id],
                set_={"message_id": upsert.excluded.message_id},
            ),
            rows,
        )


async def live_keyboards(session: AsyncSession) -> dict[int, int]:
    """Every chat's message with working buttons, by chat."""
    rows = await session.execute(select(_LIVE.c.chat_id, _LIVE.c.message_id))
    return {chat_id: message_id for chat_id, message_id in rows}
