"""Who may use the bot: team members in private chats only."""

from __future__ import annotations

import logging
from collections.abc import Callable

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.config import Settings
from bot.conversation.replies import Button, Keyboard, Reply
from bot.conversation.texts import Catalog, catalog_for
from bot.delivery import Courier
from bot.domain.steps import Action
from bot.people import People
from bot.render import answer_quietly
from bot.storage import repositories as repo
from bot.storage.database import Database

__all__ = ["AccessGate"]

logger = logging.getLogger(__name__)


def request_keyboard(texts: Catalog) -> Keyboard:
    """The stranger's "Request access" (answered by bot/admission.py)."""
    button = Button(texts.access.button_request, Action.REQUEST_ACCESS)
    return Keyboard("access", 0, ((button,),), texts.language)


class AccessGate:
    """Runs before every handler; strangers and group chats stop here.

    Members are ALLOWED_USER_IDS and ADMIN_USER_IDS merged with the admins' /allow and /deny,
    which are stored in the database and override the environment list (admins excepted).
    """

    def __init__(
        self, settings: Settings, database: Database, people: People, courier: Courier
    ) -> None:
        self.settings = settings
        self.courier = courier
        self.database = database
        self.people = people
        self._overrides: dict[int, bool] = {}
        # What a stranger may still do (ask for access, open an invite: bot/admission.py).
        self.lets_in: Callable[[Update], bool] = lambda update: False
        self._told_groups: set[int] = set()
        self._told_strangers: set[int] = set()

    async def load(self) -> None:
        async with self.database.reader() as session:
            self._overrides = await repo.member_overrides(session)

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.settings.admin_user_ids

    def is_member(self, user_id: int) -> bool:
        if self.is_admin(user_id) or self.settings.open_rehearsal:
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

    async def admin_texts(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, language: str
    ) -> Catalog:
        """The admin's catalog (in `language`); anyone else is told that only admins can (a
        button press: in its pop-up) and the update stops here."""
        user, chat = update.effective_user, update.effective_chat
        assert user is not None and chat is not None
        texts = catalog_for(language)
        if self.is_admin(user.id):
            return texts
        if update.callback_query is not None:
            await answer_quietly(update.callback_query, texts.admin_only)
        else:
            await self._say(context, chat.id, texts.admin_only)
        raise ApplicationHandlerStop

    async def set_member(self, user_id: int, *, allowed: bool, by: int) -> None:
        async with self.database.session() as session:
            await repo.set_member(session, user_id, allowed=allowed, by=by)
        self.noted(user_id, allowed=allowed)

    def noted(self, user_id: int, *, allowed: bool) -> None:
        """A membership written elsewhere (an answered request, an invite)."""
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
        if self.is_member(user.id) or self.lets_in(update):
            return
        logger.info("Refused user %s (not a member)", user.id)
        if update.callback_query is not None:
            await answer_quietly(update.callback_query)
        if user.id not in self._told_strangers:
            self._told_strangers.add(user.id)
            # Through the courier: its button is the chat's live one, taken off by the next
            # message (the welcome, once let in).
            said = Reply(texts.access.not_member.format(user_id=user.id), request_keyboard(texts))
            try:
                await self.courier.send(chat.id, [said])
            except TelegramError as error:
                logger.warning("Could not answer chat %s: %s", chat.id, error)
        raise ApplicationHandlerStop

    @staticmethod
    async def _say(context: ContextTypes.DEFAULT_TYPE, chat_id: int, text: str) -> None:
        try:
            await context.bot.send_message(chat_id, text)
        except TelegramError as error:
            logger.warning("Could not answer chat %s: %s", chat_id, error)
