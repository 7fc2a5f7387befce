"""/instances: the admins' board, one message edited in place. For each instance its Z-API
state and the number it runs (masked), who holds it, at which step, since and until when, and
the number's pending waits; a Refresh button, and a Release button per instance held.

Z-API is asked about every instance at once, each call bounded by ZAPI_TIMEOUT_SECONDS, so the
board appears within that time however many instances hang (those say "no answer"). What the
board sees also feeds the monitor (bot/monitor.py): a drop seen here is alerted too.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    ContextTypes,
)

from bot.access import AccessGate
from bot.conversation.flow import RegistrationFlow
from bot.conversation.jobs import FlowJobs
from bot.conversation.replies import Reply
from bot.conversation.texts import Catalog, instance_label
from bot.domain.clock import local_time
from bot.domain.instances import Connection, Probe, reason_key
from bot.domain.parsing import masked_number
from bot.domain.record import FlowRecord
from bot.languages import LanguageChoices
from bot.monitor import InstanceMonitor
from bot.people import People
from bot.render import answer_quietly, formatted, take_buttons_away

__all__ = ["InstanceBoard"]

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
REFRESH = "board:r"
RELEASE = "board:l:"  # + the instance's position, from 1


class InstanceBoard:
    def __init__(
        self,
        flow: RegistrationFlow,
        monitor: InstanceMonitor,
        jobs: FlowJobs,
        gate: AccessGate,
        people: People,
        languages: LanguageChoices,
    ) -> None:
        self.flow = flow
        self.settings = flow.settings
        self.monitor = monitor
        self.jobs = jobs
        self.gate = gate
        self.people = people
        self.languages = languages
        self.zone = ZoneInfo(self.settings.timezone)
        self._shown: dict[int, int] = {}  # admin's chat → its latest board (the one that acts)

    def handlers(self) -> list[BaseHandler[Update, Context, Any]]:
        """The buttons' handler (/instances is in the admins' table, bot/admin.py)."""
        return [CallbackQueryHandler(self.pressed, pattern=r"^board:")]

    async def _texts(self, update: Update, context: Context) -> Catalog:
        return await self.gate.admin_texts(
            update, context, self.languages.of(update.effective_user)
        )

    async def show(self, update: Update, context: Context) -> None:
        texts = await self._texts(update, context)
        assert update.effective_chat is not None
        chat_id = update.effective_chat.id
        try:
            await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
        except TelegramError as error:  # cosmetic
            logger.info("No typing action in chat %s: %s", chat_id, type(error).__name__)
        text, markup = await self.board(texts)
        earlier = self._shown.get(chat_id)
        if earlier is not None:  # one board with working buttons per chat: the newest
            try:
                await take_buttons_away(context.bot, chat_id, earlier)
            except TelegramError as error:  # cosmetic: its Refresh would still work
                logger.info("An earlier board kept its buttons: %s", type(error).__name__)
        sent = await context.bot.send_message(
            chat_id, text, reply_markup=markup, parse_mode=ParseMode.HTML
        )
        self._shown[chat_id] = sent.message_id
        raise ApplicationHandlerStop

    async def pressed(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None and update.effective_user is not None
        texts = await self._texts(update, context)
        data = query.data or ""
        if not data.startswith(RELEASE):
            await answer_quietly(query, texts.admin.board_refreshed)
            await self._redraw(update, context, texts)
            raise ApplicationHandlerStop
        position = data.removeprefix(RELEASE)
        instances = self.settings.instances
        if not position.isdigit() or not 1 <= int(position) <= len(instances):
            await answer_quietly(query)
            raise ApplicationHandlerStop
        name = instances[int(position) - 1].name
        shown = instance_label(texts, name, self.settings.sandboxes)
        await answer_quietly(query, texts.admin.board_releasing.format(instance=shown))
        # The holder's flow ends in its chat's turn, which may wait on a slow Z-API call: not
        # in the admin's own turn (see FlowJobs.free_instance).
        admin = update.effective_user.id
        context.application.create_task(
            self._release(update, context, texts, name, admin), name="board-release"
        )
        raise ApplicationHandlerStop

    async def _release(
        self, update: Update, context: Context, texts: Catalog, name: str, admin: int
    ) -> None:
        try:
            ended = await self.jobs.free_instance(name, by=admin)
            template = texts.admin.board_released if ended else texts.admin.board_release_free
            shown = instance_label(texts, name, self.settings.sandboxes)
            await self._redraw(update, context, texts, note=template.format(instance=shown))
        except Exception:
            logger.exception("Releasing %s from the board failed", name)

    async def _redraw(
        self, update: Update, context: Context, texts: Catalog, *, note: str | None = None
    ) -> None:
        message = update.callback_query.message if update.callback_query else None
        if message is None:
            return
        text, markup = await self.board(texts, note=note)
        try:
            await context.bot.edit_message_text(
                text,
                chat_id=message.chat.id,
                message_id=message.message_id,
                reply_markup=markup,
                parse_mode=ParseMode.HTML,
            )
        except BadRequest as error:
            if "not modified" not in error.message.lower():
                raise

    async def board(
        self, texts: Catalog, *, note: str | None = None
    ) -> tuple[str, InlineKeyboardMarkup]:
        """The board as it is now: its text (Telegram HTML) and its buttons; `note`: what the
        last button did, under the header."""
        probes = await self.monitor.probe_all(device=True)
        await self.monitor.observe({n: p.connection for n, p in probes.items()}, probes)
        held = await self.flow.store.held_instances()
        now = self.flow.clock.now()
        lines = [texts.admin.board_header.format(time=local_time(now, self.zone, now))]
        if note:
            lines.append(note)
        buttons: list[list[InlineKeyboardButton]] = []
        for position, instance in enumerate(self.settings.instances, 1):
            shown = instance_label(texts, instance.name, self.settings.sandboxes)
            lines.append(self._state_line(texts, shown, probes[instance.name]))
            chat = held.get(instance.name)
            reg = await self.flow.store.load(chat) if chat is not None else None
            if reg is None:
                lines.append(texts.admin.board_free)
                continue
            lines += await self._holder_lines(texts, reg, now)
            label = texts.admin.button_release.format(instance=shown)
            buttons.append([InlineKeyboardButton(label, callback_data=f"{RELEASE}{position}")])
        buttons.append([InlineKeyboardButton(texts.admin.button_refresh, callback_data=REFRESH)])
        text = formatted(Reply("\n".join(lines), headed=True))
        return text, InlineKeyboardMarkup(buttons)

    @staticmethod
    def _state_line(texts: Catalog, instance: str, probe: Probe) -> str:
        admin = texts.admin
        if probe.connection is Connection.CONNECTED:
            return admin.board_connected.format(
                instance=instance, number=masked_number(probe.phone)
            )
        if probe.connection is Connection.DISCONNECTED:
            key = reason_key(probe.reason)
            reason = admin.board_reasons[key] if key is not None else (probe.reason or "—")
            return admin.board_disconnected.format(instance=instance, reason=reason)
        if probe.connection is Connection.REFUSED:
            return admin.board_refused.format(instance=instance)
        return admin.board_no_answer.format(instance=instance)

    async def _holder_lines(self, texts: Catalog, reg: FlowRecord, now: datetime) -> list[str]:
        until = reg.updated_at + timedelta(seconds=self.settings.conversation_timeout_seconds)
        lines = [
            texts.admin.board_held.format(
                member=self.people.name(reg.user_id, texts.admin.member_unknown),
                step=texts.step_names.get(reg.step, reg.step),
                since=local_time(reg.created_at, self.zone, now),
                until=local_time(until, self.zone, now),
            )
        ]
        waits = await self.flow.pending_waits(reg, texts)
        if waits:
            lines.append(texts.admin.board_waits.format(waits=waits))
        return lines
