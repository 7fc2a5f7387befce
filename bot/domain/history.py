"""What admins ask of the history: `/history`, `/export` and `/stats` arguments, parsed.

    /history [N] [member:ana] [instance:sales] [outcome:connected] [number:1234] [days:7]

Portuguese keys work too (membro, instancia/instância, resultado, numero/número, dias); a bare
number is N (how many events, 1 to 100). Anything else is refused with the usage: nothing
malformed reaches the database.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_DAYS",
    "MAX_LIMIT",
    "OUTCOMES",
    "SANDBOX_WORDS",
    "STATS_OUTCOMES",
    "HistoryFilter",
    "Registration",
    "StatsRow",
    "parse_filter",
    "stats",
]

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MAX_DAYS = 3660
_KEYS = {
    "member": "member",
    "membro": "member",
    "instance": "instance",
    "instancia": "instance",
    "instância": "instance",
    "outcome": "outcome",
    "resultado": "outcome",
    "number": "number",
    "numero": "number",
    "número": "number",
    "days": "days",
    "dias": "days",
}
# The outcomes an admin filters on, as (action, outcome) of the audit.
OUTCOMES: dict[str, tuple[str, str]] = {
    "connected": ("register", "connected"),
    "banned": ("check", "banned"),
    "unavailable": ("check", "unavailable"),
    "appealed": ("appeal", "in_review"),
    "unbanned": ("appeal", "unbanned"),
    "refused": ("appeal", "refused"),
    "cancelled": ("cancel", "cancelled"),
    "timed_out": ("timeout", "timed_out"),
    "released": ("admin", "released"),
    "denied": ("admin", "denied"),
}
_OUTCOME_WORDS = {
    **{name: name for name in OUTCOMES},
    "conectado": "connected",
    "banido": "banned",
    "indisponivel": "unavailable",
    "indisponível": "unavailable",
    "recurso": "appealed",
    "desbanido": "unbanned",
    "recusado": "refused",
    "cancelado": "cancelled",
    "expirado": "timed_out",
    "timeout": "timed_out",
    "liberado": "released",
}
# `/stats [days] sandbox`: the sandbox's registrations counted in the total too.
SANDBOX_WORDS = frozenset({"sandbox", "teste"})
_NAME = re.compile(r"@?[\w.\-]{1,64}")
_INSTANCE = re.compile(r"[\w.\-]{1,32}")


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    limit: int = DEFAULT_LIMIT
    member: str | None = None  # a user id, a first name or a @username
    instance: str | None = None
    outcome: str | None = None  # a key of OUTCOMES
    last_digits: str | None = None
    days: int | None = None


def parse_filter(args: Iterable[str], *, limit_allowed: bool = True) -> HistoryFilter | None:
    """The filter the arguments ask for; None when one of them makes no sense."""
    values: dict[str, object] = {}
    for arg in args:
        key, colon, value = arg.partition(":")
        if not colon:
            if not (limit_allowed and arg.isascii() and arg.isdigit() and "limit" not in values):
                return None
            if not 1 <= int(arg) <= MAX_LIMIT:
                return None
            values["limit"] = int(arg)
            continue
        name = _KEYS.get(key.casefold())
        if name is None or name in values or not value:
            return None
        parsed = _value(name, value)
        if parsed is None:
            return None
        values[name] = parsed
    return HistoryFilter(
        limit=int(str(values.get("limit", DEFAULT_LIMIT))),
        member=_str(values.get("member")),
        instance=_str(values.get("instance")),
        outcome=_str(values.get("outcome")),
        last_digits=_str(values.get("number")),
        days=int(str(values["days"])) if "days" in values else None,
    )


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _value(name: str, value: str) -> object | None:
    if name == "member":
        return value.casefold() if _NAME.fullmatch(value) else None
    if name == "instance":
        return value if _INSTANCE.fullmatch(value) else None
    if name == "outcome":
        return _OUTCOME_WORDS.get(value.casefold())
    if name == "number":
        return value if value.isascii() and value.isdigit() and 1 <= len(value) <= 15 else None
    if value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_DAYS:  # days
        return int(value)
    return None


# -- /stats -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Registration:
    """One registration as the audit tells it: when it started, where, how it went."""

    instance: str
    started: datetime
    outcomes: frozenset[str]  # keys of OUTCOMES reached
    method: str | None = None  # the delivery method of its code
    connected_at: datetime | None = None
    sandbox: bool = False  # a rehearsal on a sandbox instance


@dataclass(slots=True)
class StatsRow:
    started: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    to_connected: list[float] = field(default_factory=list)  # seconds, /register → connected
    by_method: dict[str, list[float]] = field(default_factory=dict)

    def median(self, method: str | None = None) -> float | None:
        values = self.to_connected if method is None else self.by_method.get(method, [])
        return statistics.median(values) if values else None


STATS_OUTCOMES = (
    "connected",
    "banned",
    "appealed",
    "unbanned",
    "refused",
    "timed_out",
    "cancelled",
)


def stats(
    registrations: Sequence[Registration], *, with_sandbox: bool = False
) -> dict[str, StatsRow]:
    """Per instance and in total ("" key): started, each outcome, times to connected. The
    total leaves sandbox registrations out unless `with_sandbox`."""
    rows: dict[str, StatsRow] = {"": StatsRow()}
    for reg in registrations:
        for key in (reg.instance, "") if with_sandbox or not reg.sandbox else (reg.instance,):
            row = rows.setdefault(key, StatsRow())
            row.started += 1
            for outcome in reg.outcomes:
                row.counts[outcome] = row.counts.get(outcome, 0) + 1
            if reg.connected_at is not None:
                seconds = (reg.connected_at - reg.started).total_seconds()
                row.to_connected.append(seconds)
                row.by_method.setdefault(reg.method or "?", []).append(seconds)
    return rows
