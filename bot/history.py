"""The admins' history: /history (filtered, split over messages or sent as a file), /export
(a CSV document) and /stats (a monospace table), with times in the team's time zone.

CSV columns (/export), one row per event, newest first: time (ISO 8601 in TIMEZONE),
member_id, member_name, instance, number (masked unless EXPORT_FULL_NUMBERS=1), action,
outcome, outcome_text (in the admin's language), by (the admin, for /deny and /release),
sandbox (1 for an event on a sandbox instance, else 0).
"""

from __future__ import annotations

import csv
import html
import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.access import AccessGate
from bot.admin import split_message
from bot.config import Settings
from bot.conversation.texts import Catalog, instance_label
from bot.domain.clock import Clock
from bot.domain.history import (
    OUTCOMES,
    SANDBOX_WORDS,
    STATS_OUTCOMES,
    HistoryFilter,
    Registration,
    parse_filter,
    stats,
)
from bot.domain.parsing import masked_number
from bot.languages import LanguageChoices
from bot.people import People
from bot.storage import repositories as repo
from bot.storage.database import Database
from bot.storage.models import AuditEvent

__all__ = ["HistoryCommands"]

Context = ContextTypes.DEFAULT_TYPE
# More messages than this and the history comes as a file instead.
MAX_MESSAGES = 3
DEFAULT_STATS_DAYS = 30
# The audit action of a flow an admin ended (/deny, /release): its user is the admin.
_ADMIN_ACTION = "admin"
CSV_COLUMNS = (
    "time",
    "member_id",
    "member_name",
    "instance",
    "number",
    "action",
    "outcome",
    "outcome_text",
    "by",
    "sandbox",
)


class HistoryCommands:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        gate: AccessGate,
        people: People,
        languages: LanguageChoices,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.db = database
        self.gate = gate
        self.people = people
        self.languages = languages
        self.clock = clock
        self.zone = ZoneInfo(settings.timezone)

    async def _texts(self, update: Update, context: Context) -> Catalog:
        return await self.gate.admin_texts(
            update, context, self.languages.of(update.effective_user)
        )

    # -- reading events ---------------------------------------------------------------------

    async def _events(self, wanted: HistoryFilter, *, limit: int | None) -> Sequence[AuditEvent]:
        members = None if wanted.member is None else self._members_named(wanted.member)
        since = None if wanted.days is None else self.clock.now() - timedelta(days=wanted.days)
        async with self.db.reader() as session:
            return await repo.filtered_events(
                session, wanted, since=since, members=members, limit=limit
            )

    def _members_named(self, member: str) -> list[int]:
        """The user ids a member filter names: an id, a first name or a @username."""
        if member.isdigit():
            return [int(member)]
        wanted = member.removeprefix("@")
        return [
            user_id
            for user_id, seen in self.people.everyone().items()
            if seen.first_name.casefold() == wanted or (seen.username or "").casefold() == wanted
        ]

    def _who(self, texts: Catalog, user_id: int) -> str:
        seen = self.people.get(user_id)
        return f"{seen.label()} ({user_id})" if seen is not None else str(user_id)

    @staticmethod
    def _instance(texts: Catalog, event: AuditEvent) -> str:
        name = event.instance or "—"
        return texts.sandbox.instance.format(instance=name) if event.sandbox else name

    def _outcome(self, texts: Catalog, event: AuditEvent) -> str:
        words = texts.history.outcomes.get(f"{event.action}:{event.outcome}")
        if words is None:
            return f"{event.action}: {event.outcome}"
        return words.format(admin=self._who(texts, event.user_id))

    def _member_of(self, event: AuditEvent) -> int:
        # An admin's action is recorded under the admin; the member is the chat's (private).
        return event.chat_id if event.action == _ADMIN_ACTION else event.user_id

    def _when(self, event: AuditEvent) -> str:
        return event.created_at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    # -- the commands -----------------------------------------------------------------------

    async def history(self, update: Update, context: Context) -> None:
        texts = await self._texts(update, context)
        assert update.effective_chat is not None
        chat_id = update.effective_chat.id
        wanted = parse_filter(context.args or [])
        if wanted is None:
            await context.bot.send_message(chat_id, texts.history.usage)
            return
        events = await self._events(wanted, limit=wanted.limit)
        if not events:
            await context.bot.send_message(chat_id, texts.history.none)
            return
        header = texts.history.header.format(zone=self.settings.timezone)
        lines = [
            texts.history.line.format(
                when=self._when(event),
                member=self._who(texts, self._member_of(event)),
                instance=self._instance(texts, event),
                number=masked_number(event.number),
                outcome=self._outcome(texts, event),
            )
            for event in events
        ]
        messages = split_message(header, lines)
        if len(messages) > MAX_MESSAGES:
            document = ("\n".join([header, *lines]) + "\n").encode("utf-8")
            await context.bot.send_document(
                chat_id,
                document,
                filename="history.txt",
                caption=texts.history.as_file.format(count=len(events)),
            )
            return
        for message in messages:
            await context.bot.send_message(chat_id, message)

    async def export(self, update: Update, context: Context) -> None:
        texts = await self._texts(update, context)
        assert update.effective_chat is not None
        chat_id = update.effective_chat.id
        wanted = parse_filter(context.args or [], limit_allowed=False)
        if wanted is None:
            await context.bot.send_message(chat_id, texts.history.usage)
            return
        events = await self._events(wanted, limit=None)
        if not events:
            await context.bot.send_message(chat_id, texts.history.none)
            return
        full = self.settings.export_full_numbers
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for event in events:
            member = self._member_of(event)
            seen = self.people.get(member)
            by = event.user_id if event.action == _ADMIN_ACTION else ""
            number = (event.number or "") if full else masked_number(event.number)
            writer.writerow(
                [
                    event.created_at.astimezone(self.zone).isoformat(timespec="seconds"),
                    member,
                    seen.label() if seen is not None else "",
                    event.instance or "",
                    number,
                    event.action,
                    event.outcome,
                    self._outcome(texts, event),
                    by,
                    int(event.sandbox),
                ]
            )
        numbers = texts.history.export_full if full else texts.history.export_masked
        stamp = self.clock.now().astimezone(self.zone).strftime("%Y%m%d-%H%M")
        await context.bot.send_document(
            chat_id,
            buffer.getvalue().encode("utf-8"),
            filename=f"history-{stamp}.csv",
            caption=texts.history.export_caption.format(count=len(events), numbers=numbers),
        )

    async def stats(self, update: Update, context: Context) -> None:
        texts = await self._texts(update, context)
        assert update.effective_chat is not None
        chat_id = update.effective_chat.id
        args = context.args or []
        with_sandbox = any(arg.casefold() in SANDBOX_WORDS for arg in args)
        args = [arg for arg in args if arg.casefold() not in SANDBOX_WORDS]
        wanted = parse_filter([f"days:{args[0]}"] if len(args) == 1 else ["x"] if args else [])
        if wanted is None:
            await context.bot.send_message(chat_id, texts.history.stats_usage)
            return
        days = wanted.days or DEFAULT_STATS_DAYS
        since = self.clock.now() - timedelta(days=days)
        async with self.db.reader() as session:
            events = await repo.flow_events(session, since=since)
        registrations = _registrations(events)
        if not registrations:
            await context.bot.send_message(chat_id, texts.history.stats_none.format(days=days))
            return
        await context.bot.send_message(
            chat_id,
            self._table(texts, registrations, days, with_sandbox=with_sandbox),
            parse_mode=ParseMode.HTML,
        )

    def _table(
        self, texts: Catalog, registrations: list[Registration], days: int, *, with_sandbox: bool
    ) -> str:
        rows = stats(registrations, with_sandbox=with_sandbox)
        sandboxes = {reg.instance for reg in registrations if reg.sandbox}
        columns = texts.history.stats_columns
        table: list[list[str]] = [list(columns)]
        order = [*sorted(name for name in rows if name), ""]
        for name in order:
            row = rows[name]
            median = row.median()
            table.append(
                [
                    instance_label(texts, name, sandboxes) if name else texts.history.stats_total,
                    str(row.started),
                    *(str(row.counts.get(outcome, 0)) for outcome in STATS_OUTCOMES),
                    _duration(median),
                ]
            )
        widths = [max(_width(line[n]) for line in table) for n in range(len(columns))]
        lines = [
            "  ".join(
                cell + " " * (widths[n] - _width(cell))
                if n == 0
                else " " * (widths[n] - _width(cell)) + cell
                for n, cell in enumerate(line)
            )
            for line in table
        ]
        total = rows[""]
        methods = ", ".join(
            f"{texts.method_names.get(method, method)} {_duration(total.median(method))}"
            for method in sorted(total.by_method)
        )
        parts = [
            html.escape(texts.history.stats_header.format(days=days)),
            "<pre>" + html.escape("\n".join(lines)) + "</pre>",
        ]
        if methods:
            parts.append(html.escape(texts.history.stats_median_by_method.format(methods=methods)))
        left_out = sum(reg.sandbox for reg in registrations)
        if left_out and not with_sandbox:
            parts.append(html.escape(texts.sandbox.totals_note.format(count=left_out)))
        return "\n".join(parts)


def _width(cell: str) -> int:
    """Columns `cell` takes in a monospace font (🧪 takes two)."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in cell)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


@dataclass(slots=True)
class _Gathered:
    started: datetime
    instance: str | None = None
    method: str | None = None
    outcomes: set[str] = field(default_factory=set)
    connected_at: datetime | None = None
    sandbox: bool = False


def _registrations(events: Sequence[AuditEvent]) -> list[Registration]:
    """The audit's events (oldest first) gathered per registration."""
    gathered: dict[str, _Gathered] = {}
    names = {pair: name for name, pair in OUTCOMES.items()}
    for event in events:
        assert event.flow_id is not None and event.flow_started_at is not None
        reg = gathered.setdefault(event.flow_id, _Gathered(event.flow_started_at))
        reg.instance = event.instance or reg.instance
        reg.sandbox = reg.sandbox or event.sandbox
        if event.action == "request_code" and event.outcome.startswith("sent_"):
            reg.method = event.outcome.removeprefix("sent_")
        outcome = names.get((event.action, event.outcome))
        if outcome is not None:
            reg.outcomes.add(outcome)
            if outcome == "connected":
                reg.connected_at = event.created_at
    return [
        Registration(
            instance=reg.instance or "—",
            started=reg.started,
            outcomes=frozenset(reg.outcomes),
            method=reg.method,
            connected_at=reg.connected_at,
            sandbox=reg.sandbox,
        )
        for reg in gathered.values()
    ]
