"""Each member's language: the one they chose with /language, else their Telegram app's."""

from __future__ import annotations

from telegram import User

from bot.conversation.texts import CATALOGS, language_of
from bot.storage import repositories as repo
from bot.storage.database import Database

__all__ = ["LanguageChoices"]


class LanguageChoices:
    """Read once at start, kept in memory, written through (one bot process per database)."""

    def __init__(self, database: Database) -> None:
        self.db = database
        self._chosen: dict[int, str] = {}

    async def load(self) -> None:
        async with self.db.reader() as session:
            self._chosen = await repo.chosen_languages(session)

    def of(self, user: User | None) -> str:
        """The catalog's language for this member ("en" or "pt")."""
        if user is None:
            return "en"
        return self._chosen.get(user.id) or language_of(user.language_code)

    def chosen(self, user_id: int) -> str | None:
        """What the member chose with /language, if they did."""
        return self._chosen.get(user_id)

    async def choose(self, user_id: int, language: str) -> None:
        if language not in CATALOGS:
            raise ValueError(language)
        async with self.db.session() as session:
            await repo.choose_language(session, user_id, language)
        self._chosen[user_id] = language
