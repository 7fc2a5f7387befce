"""Admin commands: /allow, /deny, /members, /history."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, CommandHandler, ContextTypes

from bot.access import AccessGate
from bot.conversation.texts import Catalog, catalog_for
from bot.storage import repositories as repo
from bot.storage.database import Database

__all__ = ["AdminCommands", "mask_number"]

Context = ContextTypes.DEFAULT_TYPE
HISTORY_DEFAULT = 10
HISTORY_MAX = 100
REGISTRATION_ACTIONS = ("register", "cancel", "timeout", "check", "appeal")


def mask_number(number: str | None) -> str:
    """Every digit but the last four hidden: +55 ••••••9999."""
    if not number:
        return "—"
    return "•" * max(0, len(number) - 4) + number[-4:]


class AdminCommands:
    def __init__(self, gate: AccessGate, database: Database) -> None:
        self.gate = gate
        self.database = database

    def handlers(self) -> list[BaseHandler[Update, Context, Any]]:
        return [
            CommandHandler("allow", self.allow),
            CommandHandler("deny", self.deny),
            CommandHandler("members", self.members),
            CommandHandler("history", self.history),
        ]

    async def _admin_texts(self, update: Update, context: Context) -> Catalog:
        """The admin's catalog; anyone else is told no and the update stops here."""
        user, chat = update.effective_user, update.effective_chat
        assert user is not None and chat is not None
        texts = catalog_for(user.language_code)
        if not self.gate.is_admin(user.id):
            await context.bot.send_message(chat.id, texts.admin_only)
            raise ApplicationHandlerStop
        return texts

    @staticmethod
    def _user_id(context: Context) -> int | None:
        args = context.args or []
        if len(args) != 1 or not args[0].lstrip("-").isdigit() or len(args[0]) > 20:
            return None
        return int(args[0])

    async def _reply(self, update: Update, context: Context, text: str) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, text)
        raise ApplicationHandlerStop

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
        await self.gate.set_member(user_id, allowed=False, by=update.effective_user.id)
        await self._reply(update, context, texts.denied.format(user_id=user_id))

    async def members(self, update: Update, context: Context) -> None:
        texts = await self._admin_texts(update, context)
        members = self.gate.members()
        if not members:
            await self._reply(update, context, texts.members_none)
            return
        lines = [texts.members_line.format(user_id=uid, source=src) for uid, src in members.items()]
        await self._reply(update, context, "\n".join([texts.members_header, *lines]))

    async def history(self, update: Update, context: Context) -> None:
        texts = await self._admin_texts(update, context)
        args = context.args or []
        limit = HISTORY_DEFAULT
        if args:
            if len(args) != 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= HISTORY_MAX:
                await self._reply(update, context, texts.history_usage)
                return
            limit = int(args[0])
        async with self.database.reader() as session:
            events = await repo.recent_events(session, limit, actions=REGISTRATION_ACTIONS)
        if not events:
            await self._reply(update, context, texts.history_none)
            return
        lines = [
            texts.history_line.format(
                when=event.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                user_id=event.user_id,
                instance=event.instance or "—",
                number=mask_number(event.number),
                outcome=f"{event.action}: {event.outcome}",
            )
            for event in events
        ]
        await self._reply(update, context, "\n".join([texts.history_header, *lines]))
