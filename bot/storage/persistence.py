"""python-telegram-bot persistence backed by the registrations table.

The flow writes every step through to the database itself, before it replies; this class only
hands the conversation its states back at start, so nothing is held in PTB's own stores.
"""

from __future__ import annotations

from typing import Any

from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import ConversationDict, ConversationKey

from bot.conversation.states import RegistrationStep
from bot.storage import repositories as repo
from bot.storage.database import Database

__all__ = ["RegistrationPersistence"]

Data = dict[Any, Any]


class RegistrationPersistence(BasePersistence[Data, Data, Data]):
    def __init__(self, database: Database) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=False, user_data=False, callback_data=False
            ),
            update_interval=60,
        )
        self.database = database

    async def get_conversations(self, name: str) -> ConversationDict:
        async with self.database.reader() as session:
            rows = await repo.active_registrations(session)
        return {(row.chat_id, row.user_id): RegistrationStep(row.step) for row in rows}

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        """Nothing to do: the flow committed this state before the member saw the question."""

    async def get_user_data(self) -> dict[int, Data]:
        return {}

    async def get_chat_data(self) -> dict[int, Data]:
        return {}

    async def get_bot_data(self) -> Data:
        return {}

    async def get_callback_data(self) -> None:
        return None

    async def update_user_data(self, user_id: int, data: Data) -> None:
        return None

    async def update_chat_data(self, chat_id: int, data: Data) -> None:
        return None

    async def update_bot_data(self, data: Data) -> None:
        return None

    async def update_callback_data(self, data: Any) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def drop_user_data(self, user_id: int) -> None:
        return None

    async def refresh_user_data(self, user_id: int, user_data: Data) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: Data) -> None:
        return None

    async def refresh_bot_data(self, bot_data: Data) -> None:
        return None

    async def flush(self) -> None:
        return None
