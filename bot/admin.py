"""Admin commands: /allow, /deny, /members, /history, /release."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.constants import MessageLimit
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, BaseHandler, CommandHandler, ContextTypes, filters

from bot.access import AccessGate
from bot.concurrency import PerChatUpdateProcessor
from bot.conversation.flow import RegistrationFlow
from bot.conversation.jobs import FlowJobs
from bot.conversation.texts import Catalog, catalog_for, instance_label
from bot.domain.clock import local_time
from bot.domain.record import FlowRecord
from bot.languages import LanguageChoices
from bot.people import People
from bot.storage import repositories as repo
from bot.storage.database import Database
from bot.storage.models import Member

__all__ = ["MAX_USER_ID", "AdminCommands", "split_message"]

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
Command = Callable[[Update, Context], Coroutine[Any, Any, None]]
# Telegram user ids are positive and fit in 52 bits; anything from 1 to 2**53 - 1 is taken.
MAX_USER_ID = 2**53 - 1
_NUMBER_ARGUMENT = re.compile(r"[0-9]{1,20}")  # ASCII digits only: int() also reads "١٢٣"
# How much of an unknown instance name is repeated back.
ECHO_LIMIT = 64


def _telegram_length(text: str) -> int:
    """Telegram counts a message's length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _pieces(line: str, limit: int) -> Iterator[str]:
    """`line` cut into pieces of at most `limit` (only a line too long for one message)."""
    while _telegram_length(line) > limit:
        cut = limit
        while _telegram_length(line[:cut]) > limit:  # characters outside the BMP count twice
            cut -= 1
        yield line[:cut]
        line = line[cut:]
    yield line


def split_message(
    header: str, lines: Sequence[str], *, limit: int = MessageLimit.MAX_TEXT_LENGTH
) -> list[str]:
    """The header and lines as few messages as fit Telegram's limit, split between lines; the
    header only on the first."""
    messages: list[str] = []
    current: list[str] = []
    size = 0
    for line in [header, *lines] if header else lines:
        for piece in _pieces(line, limit):
            length = _telegram_length(piece)
            if current and size + 1 + length > limit:
                messages.append("\n".join(current))
                current, size = [], 0
            size += length + (1 if current else 0)
            current.append(piece)
    if current:
        messages.append("\n".join(current))
    return messages


@dataclass(frozen=True, slots=True)
class AdminCommand:
    """An admin's command: its name, its line in the admins' menu, and what runs it."""

    name: str
    describe: Callable[[Catalog], str]
    run: Callable[[AdminCommands], Command]


# The one list of admins' commands: the handlers and the admins' menu (bot/menu.py).
ADMIN_COMMANDS: tuple[AdminCommand, ...] = (
    AdminCommand(
        "instances", lambda t: t.admin.command_instances, lambda a: a.elsewhere["instances"]
    ),
    AdminCommand("invite", lambda t: t.access.command_invite, lambda a: a.elsewhere["invite"]),
    AdminCommand("allow", lambda t: t.command_allow, lambda a: a.allow),
    AdminCommand("deny", lambda t: t.command_deny, lambda a: a.deny),
    AdminCommand("members", lambda t: t.command_members, lambda a: a.members),
    AdminCommand("history", lambda t: t.history.command_history, lambda a: a.elsewhere["history"]),
    AdminCommand("export", lambda t: t.history.command_export, lambda a: a.elsewhere["export"]),
    AdminCommand("stats", lambda t: t.history.command_stats, lambda a: a.elsewhere["stats"]),
    AdminCommand("release", lambda t: t.command_release, lambda a: a.release),
)


class AdminCommands:
    def __init__(
        self,
        gate: AccessGate,
        database: Database,
        flow: RegistrationFlow,
        processor: PerChatUpdateProcessor,
        languages: LanguageChoices,
        jobs: FlowJobs,
        elsewhere: dict[str, Command],
        people: People,
    ) -> None:
        """`elsewhere`: the admins' commands other modules run (instances, invite)."""
        self.jobs = jobs
        self.elsewhere: dict[str, Command] = elsewhere
        self.people = people
        self.languages = languages
        self.gate = gate
        self.database = database
        self.flow = flow
        self.processor = processor

    def handlers(self) -> list[BaseHandler[Update, Context, Any]]:
        return [
            # Only new messages: an admin editing an old /deny must not run it again.
            CommandHandler(
                command.name,
                self._guarded(command.name, command.run(self)),
                filters=filters.UpdateType.MESSAGE,
            )
            for command in ADMIN_COMMANDS
        ]

    @staticmethod
    def _guarded(name: str, command: Command) -> Command:
        """An admin command ends the update whatever happens: it never falls through to the
        conversation. An unexpected error is logged and the admin told in one short reply."""

        async def run(update: Update, context: Context) -> None:
            try:
                await command(update, context)
            except ApplicationHandlerStop:
                raise
            except Exception:
                logger.exception("Admin command /%s failed", name)
                await AdminCommands._say_failed(update, context)
            raise ApplicationHandlerStop

        return run

    @staticmethod
    async def _say_failed(update: Update, context: Context) -> None:
        chat, user = update.effective_chat, update.effective_user
        if chat is None:
            return
        texts = catalog_for(user.language_code if user is not None else None)
        try:
            await context.bot.send_message(chat.id, texts.admin_error)
        except TelegramError as error:
            logger.warning("Could not tell chat %s an admin command failed: %s", chat.id, error)

    async def _admin_texts(self, update: Update, context: Context) -> Catalog:
        """The admin's catalog; anyone else is told no and the update stops here."""
        return await self.gate.admin_texts(
            update, context, self.languages.of(update.effective_user)
        )

    @staticmethod
    def _number_argument(context: Context) -> int | None:
        args = context.args or []
        if len(args) != 1 or _NUMBER_ARGUMENT.fullmatch(args[0]) is None:
            return None
        return int(args[0])

    @classmethod
    def _user_id(cls, context: Context) -> int | None:
        user_id = cls._number_argument(context)
        return user_id if user_id is not None and 1 <= user_id <= MAX_USER_ID else None

    @staticmethod
    async def _reply(
        update: Update, context: Context, text: str, lines: Sequence[str] = ()
    ) -> None:
        """`text` (a header when `lines` follow), in as many messages as Telegram needs."""
        assert update.effective_chat is not None
        for message in split_message(text, lines):
            await context.bot.send_message(update.effective_chat.id, message)

    # -- ending a member's flow ---------------------------------------------------------------
    #
    # A flow is ended in its chat's turn, so the end does not interleave with a step in flight.
    # That wait runs after the admin's update, outside the admin's own turn: were the update to
    # wait, two admins releasing each other's instances would each hold the turn the other
    # needs, an admin's chat would be stuck behind a member's slow Z-API call, and the admin's
    # own flow could not be ended at all (its turn is the one the update holds).

    def _detach(
        self, update: Update, context: Context, name: str, work: Coroutine[Any, Any, None]
    ) -> None:
        async def run() -> None:
            try:
                await work
            except Exception:
                logger.exception("Admin command /%s failed", name)
                await self._say_failed(update, context)

        context.application.create_task(run(), name=f"admin-{name}")

    async def _end_denied(
        self, update: Update, context: Context, texts: Catalog, user_id: int
    ) -> None:
        assert update.effective_user is not None
        async with self.processor.turn(user_id):  # a private chat's id is its user's
            ended = await self.flow.end_by_admin(
                user_id, by=update.effective_user.id, reason="denied"
            )
        if ended is None:
            await self._reply(update, context, texts.denied.format(user_id=user_id))
            return
        step = self._step_name(texts, ended)
        if ended.instance:
            shown = instance_label(texts, ended.instance, self.gate.settings.sandboxes)
            details = texts.admin_flow_details.format(step=step, instance=shown)
        else:
            details = texts.admin_flow_details_no_instance.format(step=step)
        await self._reply(
            update, context, texts.denied_flow_ended.format(user_id=user_id, details=details)
        )

    async def _release(
        self, update: Update, context: Context, texts: Catalog, instance: str
    ) -> None:
        assert update.effective_user is not None
        ended = await self.jobs.free_instance(instance, by=update.effective_user.id)
        instance = instance_label(texts, instance, self.gate.settings.sandboxes)
        if ended is None:
            await self._reply(update, context, texts.release_free.format(instance=instance))
            return
        step = self._step_name(texts, ended)
        await self._reply(
            update,
            context,
            texts.released.format(instance=instance, user_id=ended.user_id, step=step),
        )

    @staticmethod
    def _step_name(texts: Catalog, reg: FlowRecord) -> str:
        return texts.step_names.get(reg.step, reg.step)

    # -- the commands -------------------------------------------------------------------------

    async def allow(self, update: Update, context: Context) -> None:
        texts = await self._admin_texts(update, context)
        user_id = self._user_id(context)
        if user_id is None:
            await self._reply(update, context, texts.allow_usage)
            return
        assert update.effective_user is not None
        await self.gate.set_member(user_id, allowed=True, by=update.effective_user.id)
        await self._reply(update, context, texts.allowed.format(user_id=user_id))

    async def deny(self, update: Update, context: Context) -> None:
        texts = await self._admin_texts(update, context)
        user_id = self._user_id(context)
        if user_id is None:
            await self._reply(update, context, texts.deny_usage)
            return
        if self.gate.is_admin(user_id):
            await self._reply(update, context, texts.deny_admin.format(user_id=user_id))
            return
        assert update.effective_user is not None
        # Denied first: the member's next update is refused at the gate, so no new flow starts.
        await self.gate.set_member(user_id, allowed=False, by=update.effective_user.id)
        self._detach(update, context, "deny", self._end_denied(update, context, texts, user_id))

    async def release(self, update: Update, context: Context) -> None:
        texts = await self._admin_texts(update, context)
        names = [instance.name for instance in self.flow.settings.instances]
        listed = ", ".join(names)
        args = context.args or []
        if len(args) != 1:
            await self._reply(update, context, texts.release_usage.format(instances=listed))
            return
        wanted = args[0].casefold()
        instance = next((name for name in names if name.casefold() == wanted), None)
        if instance is None:
            shown = args[0] if len(args[0]) <= ECHO_LIMIT else args[0][:ECHO_LIMIT] + "…"
            await self._reply(
                update, context, texts.release_unknown.format(instance=shown, instances=listed)
            )
            return
        self._detach(update, context, "release", self._release(update, context, texts, instance))

    async def members(self, update: Update, context: Context) -> None:
        texts = await self._admin_texts(update, context)
        members = self.gate.members()
        if not members:
            await self._reply(update, context, texts.members_none)
            return
        async with self.database.reader() as session:
            rows = {row.user_id: row for row in await repo.members(session)}
        lines = [
            self._member_line(texts, uid, source, rows.get(uid)) for uid, source in members.items()
        ]
        await self._reply(update, context, texts.access.members_header, lines)

    def _member_line(self, texts: Catalog, user_id: int, source: str, row: Member | None) -> str:
        """ "• Ana (@ana) · 1001 · member · added with /allow by Dora since … · last seen …"."""
        access = texts.access
        zone, now = ZoneInfo(self.flow.settings.timezone), self.flow.clock.now()
        seen = self.people.get(user_id)
        name = f"{seen.label()} · {user_id}" if seen is not None else str(user_id)
        kind, since = source, ""
        if source == "db" and row is not None:
            kind = row.source
            admin = self.people.name(row.changed_by, texts.admin.member_unknown)
            kind_text = access.sources.get(kind, kind) + access.by.format(admin=admin)
            since = access.since.format(date=local_time(row.changed_at, zone, now))
        else:
            kind_text = access.sources.get(kind, kind)
        role = access.roles["admin" if self.gate.is_admin(user_id) else "member"]
        last = (
            access.last_seen.format(when=local_time(seen.last_seen, zone, now))
            if seen is not None
            else access.never_seen
        )
        return access.members_line.format(
            name=name, role=role, source=kind_text, since=since, seen=last
        )
