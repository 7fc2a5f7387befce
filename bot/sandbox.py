"""The sandbox's edges (bot/zapi/sandbox.py): the member's phone, where what the simulated
WhatsApp sends (the code by SMS, call or pop-up, a PIN reset, an e-mail code) is shown in the
chat of the member whose flow holds the instance, through the outbox like any reply; and its
memory, in the bot's database."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot.conversation.replies import Reply
from bot.conversation.texts import catalog_for
from bot.delivery import Courier
from bot.domain.clock import Clock
from bot.storage import repositories as repo
from bot.storage.database import Database
from bot.storage.flow_store import FlowStore
from bot.zapi.sandbox_state import SandboxMessage

__all__ = ["SandboxMemoryStore", "SandboxPhone"]

logger = logging.getLogger(__name__)


def _shown(code: str) -> str:
    """123456 → "123-456", as WhatsApp's SMS writes it."""
    return f"{code[:3]}-{code[3:]}" if len(code) == 6 else code


class SandboxPhone:
    def __init__(self, store: FlowStore, courier: Courier) -> None:
        self.store = store
        self.courier = courier

    async def receive(self, instance: str, message: SandboxMessage) -> None:
        try:
            await self._show(instance, message)
        except Exception as error:  # like an SMS that never came: the member asks again
            logger.warning("Sandbox %s: not shown (%s)", instance, type(error).__name__)

    async def _show(self, instance: str, message: SandboxMessage) -> None:
        chat = (await self.store.held_instances()).get(instance)
        if chat is None:  # nobody's flow holds the instance: no phone to show it on
            logger.info("Sandbox %s: a %s with nobody to show it to", instance, message.kind)
            return
        record = await self.store.load(chat)
        texts = catalog_for(record.language if record is not None else None).sandbox
        code = _shown(message.code)
        if message.kind == "code":
            text = texts.code[message.method].format(code=code)
        elif message.kind == "pin_reset":
            text = texts.pin_reset.format(code=message.code)
        elif message.kind == "email_code":
            text = texts.email_code.format(code=code)
        else:
            text = texts.device_prompt
        owed = await self.store.commit_messages([(chat, Reply(text, aside=True))])
        self.courier.post(owed)


class SandboxMemoryStore:
    """`SandboxMemory` in the sandbox_states table."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock

    async def recall(self) -> Mapping[str, str]:
        async with self.database.reader() as session:
            return await repo.sandbox_states(session)

    async def keep(self, states: Mapping[str, str]) -> None:
        async with self.database.session() as session:
            await repo.save_sandbox_states(session, states, now=self.clock.now())
