"""Who may use the bot: team members in private chats only."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.config import Settings
from bot.conversation.texts import catalog_for
from bot.people import People
from bot.render import answer_quietly
from bot.storage import repositories as repo
from bot.storage.database import Database

__all__ = ["AccessGate"]

logger = logging.getLogger(__name__)


class AccessGate:
    """Runs before every handler; strangers and group chats stop here.

    Members are ALLOWED_USER_IDS and ADMIN_USER_IDS merged with the admins' /allow and /deny,
    which are stored in the database and override the environment list (admins excepted).
    """

    def __init__(self, settings: Settings, database: Database, people: People) -> None:
        self.settings = settings
        self.database = database
        self.people = people
        self._overrides: dict[int, bool] = {}
        self._told_groups: set[int] = set()
        self._told_strangers: set[int] = set()

    async def load(self) -> None:
        async with self.database.reader() as session:
            self._overrides = await repo.member_overrides(session)

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.settings.admin_user_ids

    def is_member(self, user_id: int) -> bool:
        if self.is_admin(user_id):
            return True
        override = self._overrides.get(user_id)
        if override is not None:
            return override
        return user_id in self.settings.allowed_user_ids

    def members(self) -> dict[int, str]:
        """Every member with where their access comes from."""
        result: dict[int, str] = {uid: "env" for uid in self.settings.allowed_user_ids}
        result.update({uid: "db" for uid, allowed in self._overrides.items() if allowed})
        for uid, allowed in self._overrides.items():
            if not allowed:
                result.pop(uid, None)
        result.update({uid: "admin" for uid in self.settings.admin_user_ids})
        return dict(sorted(result.items()))

    async def set_member(self, user_id: int, *, allowed: bool, by: int) -> None:
        async with self.database.session() as session:
            await repo.set_member(session, user_id, allowed=allowed, by=by)
        self._overrides[user_id] = allowed
        self._told_strangers.discard(user_id)

    async def check(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not isinstance(update, Update):
            raise ApplicationHandlerStop
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None:
            raise ApplicationHandlerStop
        self.people.saw(user)
        texts = catalog_for(user.language_code)
        if chat.type != ChatType.PRIVATE:
            if chat.id not in self._told_groups and update.effective_message is not None:
                self._told_groups.add(chat.id)
                await self._say(context, chat.id, texts.private_only)
            raise ApplicationHandlerStop
        if self.is_member(user.id):
            return
        logger.info("Refused user %s (not a member)", user.id)
        if update.callback_query is not None:
            await answer_quietly(update.callback_query)
        if user.id not in self._told_strangers:
            self._told_strangers.add(user.id)
            await self._say(context, chat.id, texts.not_member.format(user_id=user.id))
        raise ApplicationHandlerStop

    @staticmethod
    async def _say(context: ContextTypes.DEFAULT_TYPE, chat_id: int, text: str) -> None:
        try:
            await context.bot.send_message(chat_id, text)
        except TelegramError as error:
            logger.warning("Could not answer chat %s: %s", chat_id, error)
