"""A flow's registrations row as plain data: what the conversation reads, copies and changes.

The ORM class `Registration` defines the table; flows travel as `FlowRecord`s, which cost a few
microseconds to build or copy where an ORM instance costs tens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, Self

from bot.domain.clock import utcnow

__all__ = ["FLOW_COLUMNS", "FlowRecord"]


@dataclass(slots=True)
class FlowRecord:
    chat_id: int
    user_id: int
    flow_id: str
    step: str
    language: str = "en"
    instance: str | None = None
    ddi: str | None = None
    phone: str | None = None
    method: str | None = None
    wrong_code_count: int = 0
    wa_old_eligible: bool | None = None
    blocked_methods: str = ""
    appeal_token: str | None = None
    pending_call: str | None = None
    setup_parts: str = ""
    email: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    version: int = 1

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Self:
        return cls(**{name: row[name] for name in FLOW_COLUMNS})

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FLOW_COLUMNS}

    def copy(self, **changes: Any) -> Self:
        return replace(self, **changes)

    def update_from(self, other: FlowRecord) -> None:
        for name in FLOW_COLUMNS:
            setattr(self, name, getattr(other, name))


FLOW_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(FlowRecord))
