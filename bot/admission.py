"""Letting people in without typing ids: a stranger's "Request access", answered once by an
admin's Allow or Deny; and one-time invite links (/invite, valid 24 h, stored hashed).

Each answer is one transaction: the request answered (or the invite spent), the membership
written, and the message to the person committed to the outbox. Of two admins answering at
once, or two people opening one invite, one wins; the other hears it was already done.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update, User
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.access import AccessGate
from bot.alerts import AdminAlerts
from bot.conversation.ports import WriteRefused
from bot.conversation.replies import Button, Keyboard, Reply
from bot.conversation.texts import Catalog, catalog_for
from bot.delivery import Courier
from bot.domain.clock import Clock
from bot.domain.steps import Action
from bot.languages import LanguageChoices
from bot.render import ButtonPress, answer_quietly, formatted
from bot.storage import repositories as repo
from bot.storage.models import AccessRequest
from bot.storage.writes import Writer

__all__ = ["INVITE_PREFIX", "INVITE_VALIDITY", "Admission", "token_hash"]

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
INVITE_VALIDITY = timedelta(hours=24)
INVITE_PREFIX = "inv-"  # t.me/<bot>?start=inv-<token>
KEYBOARD_ID = "access"  # the flow id of admission buttons (they belong to no flow)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def person(user: User) -> str:
    """ "Ana (@ana, 1234)": what admins read of someone asking in."""
    handle = f"@{user.username}, " if user.username else ""
    return f"{user.full_name} ({handle}{user.id})"


class _AlreadyDone(WriteRefused):
    """The request was answered, or the invite spent, before this: nothing was written."""


class Admission:
    def __init__(
        self,
        gate: AccessGate,
        alerts: AdminAlerts,
        store: Writer,
        courier: Courier,
        languages: LanguageChoices,
        clock: Clock,
    ) -> None:
        self.gate = gate
        self.alerts = alerts
        self.store = store
        self.courier = courier
        self.languages = languages
        self.clock = clock
        gate.lets_in = self.lets_in

    def handlers(self) -> list[BaseHandler[Update, Context, Any]]:
        return [
            CallbackQueryHandler(self.pressed, pattern=rf"^{KEYBOARD_ID}:"),
            MessageHandler(
                filters.UpdateType.MESSAGE & filters.Regex(rf"^/start {INVITE_PREFIX}\S+$"),
                self.open_invite,
            ),
        ]

    @staticmethod
    def lets_in(update: Update) -> bool:
        """What a stranger may do: ask for access, open an invite."""
        query = update.callback_query
        if query is not None:
            press = ButtonPress.decode(query.data)
            return press is not None and press.action is Action.REQUEST_ACCESS
        message = update.message
        text = (message.text or "") if message is not None else ""
        return text.startswith(f"/start {INVITE_PREFIX}")

    def _texts(self, user: User) -> Catalog:
        return catalog_for(self.languages.of(user))

    # -- a stranger asks; an admin answers ------------------------------------------------------

    async def pressed(self, update: Update, context: Context) -> None:
        query, user = update.callback_query, update.effective_user
        assert query is not None and user is not None
        press = ButtonPress.decode(query.data)
        if press is None:
            await answer_quietly(query)
        elif press.action is Action.REQUEST_ACCESS:
            await self._request(update, context, user)
        elif press.action in (Action.ALLOW, Action.DENY) and press.argument.isdigit():
            await self._answer(update, context, int(press.argument), press.action is Action.ALLOW)
        else:
            await answer_quietly(query)
        raise ApplicationHandlerStop

    async def _request(self, update: Update, context: Context, user: User) -> None:
        assert update.callback_query is not None and update.effective_chat is not None
        texts = self._texts(user)
        await answer_quietly(update.callback_query)
        if self.gate.is_member(user.id):
            return  # let in meanwhile: the welcome said so
        async with self.store.db.reader() as session:
            asked = await session.get(AccessRequest, user.id)
        if asked is not None:
            said = (
                texts.access.request_pending
                if asked.answered_at is None
                else (texts.access.request_answered_no)
            )
            await self.courier.send(update.effective_chat.id, [Reply(said)])
            return
        name = person(user)

        def alert(t: Catalog) -> Reply:
            rows = (
                (
                    Button(t.access.button_allow, Action.ALLOW, str(user.id)),
                    Button(t.access.button_deny, Action.DENY, str(user.id)),
                ),
            )
            keyboard = Keyboard(KEYBOARD_ID, 0, rows, t.language)
            return Reply(t.access.request_alert.format(name=name), keyboard)

        now = self.clock.now()

        async def record(session: AsyncSession) -> None:
            await repo.record_request(session, user.id, now=now, language=texts.language)

        await self.alerts.post([alert], record)
        logger.info("User %s asked for access", user.id)
        await self.courier.send(update.effective_chat.id, [Reply(texts.access.request_sent)])

    async def _answer(self, update: Update, context: Context, user_id: int, allow: bool) -> None:
        query, admin = update.callback_query, update.effective_user
        assert query is not None and admin is not None
        texts = await self.gate.admin_texts(update, context, self.languages.of(admin))
        now = self.clock.now()
        settled: list[AccessRequest] = []

        async def answer(session: AsyncSession) -> None:
            answered = await repo.answer_request(
                session, user_id, allowed=allow, by=admin.id, now=now
            )
            if answered is None or not answered[1]:
                raise _AlreadyDone
            settled.append(answered[0])
            if allow:
                await repo.set_member(session, user_id, allowed=True, by=admin.id, source="request")

        async with self.store.db.reader() as session:
            asked = await session.get(AccessRequest, user_id)
        theirs = catalog_for(self.languages.chosen(user_id) or (asked.language if asked else None))
        said = theirs.access.welcome if allow else theirs.access.request_declined
        try:
            owed = await self.store.commit_messages([(user_id, Reply(said))], answer)
        except _AlreadyDone:
            await answer_quietly(query, texts.access.request_already)
            await self._show_answer(update, context, user_id)
            return
        if allow:
            self.gate.noted(user_id, allowed=True)
        self.courier.post(owed)
        logger.info(
            "Access of %s %s by admin %s", user_id, "allowed" if allow else "denied", admin.id
        )
        await answer_quietly(query)
        await self._show_answer(update, context, user_id)

    async def _show_answer(self, update: Update, context: Context, user_id: int) -> None:
        """The admin's copy of the request, as it was answered (its buttons gone)."""
        query, admin = update.callback_query, update.effective_user
        assert query is not None and admin is not None
        message = query.message
        async with self.store.db.reader() as session:
            request = await session.get(AccessRequest, user_id)
        if message is None or request is None or request.answered_at is None:
            return
        texts = self._texts(admin)
        who = self.alerts.people.name(user_id, texts.admin.member_unknown)
        by = self.alerts.people.name(request.answered_by or 0, texts.admin.member_unknown)
        template = (
            texts.access.request_allowed_by if request.allowed else (texts.access.request_denied_by)
        )
        try:
            await context.bot.edit_message_text(
                formatted(Reply(template.format(name=who, admin=by))),
                chat_id=message.chat.id,
                message_id=message.message_id,
                parse_mode=ParseMode.HTML,
            )
        except BadRequest as error:
            logger.info("Could not show the answer to a request: %s", error)

    # -- invite links ---------------------------------------------------------------------------

    def new_invite(self) -> tuple[str, str]:
        """A fresh token and its hash (only the hash is stored)."""
        token = secrets.token_urlsafe(18)
        return token, token_hash(token)

    async def invite(self, update: Update, context: Context) -> None:
        """/invite (admins): a one-time link, valid INVITE_VALIDITY."""
        admin, chat = update.effective_user, update.effective_chat
        assert admin is not None and chat is not None
        texts = await self.gate.admin_texts(update, context, self.languages.of(admin))
        username = self.alerts.bot_username()
        if not username:
            await context.bot.send_message(chat.id, texts.access.invite_no_username)
            return
        token, hashed = self.new_invite()
        now = self.clock.now()
        async with self.store.db.session() as session:
            await repo.create_invite(
                session, hashed, by=admin.id, now=now, expires_at=now + INVITE_VALIDITY
            )
        link = f"https://t.me/{username}?start={INVITE_PREFIX}{token}"
        logger.info("Admin %s made an invite link", admin.id)
        await context.bot.send_message(chat.id, texts.access.invite_created.format(link=link))

    async def open_invite(self, update: Update, context: Context) -> None:
        user, chat, message = update.effective_user, update.effective_chat, update.message
        assert user is not None and chat is not None and message is not None
        texts = self._texts(user)
        if self.gate.is_member(user.id):
            await self.courier.send(chat.id, [Reply(texts.access.invite_member_already)])
            raise ApplicationHandlerStop
        token = (message.text or "").split(" ", 1)[1].removeprefix(INVITE_PREFIX)
        now = self.clock.now()

        async def spend(session: AsyncSession) -> None:
            creator = await repo.use_invite(session, token_hash(token), user_id=user.id, now=now)
            if creator is None:
                raise _AlreadyDone
            await repo.set_member(session, user.id, allowed=True, by=creator, source="invite")

        try:
            owed = await self.store.commit_messages([(chat.id, Reply(texts.access.welcome))], spend)
        except _AlreadyDone:
            await self.courier.send(chat.id, [Reply(texts.access.invite_used)])
            raise ApplicationHandlerStop from None
        self.gate.noted(user.id, allowed=True)
        logger.info("User %s came in with an invite", user.id)
        await self.courier.deliver(owed)
        raise ApplicationHandlerStop
