"""What the bot does in a chat from outside it: waits that ended, flows that timed out, an
instance an admin frees."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from bot.concurrency import PerChatUpdateProcessor
from bot.conversation.flow import RegistrationFlow
from bot.delivery import Courier
from bot.domain.record import FlowRecord

__all__ = ["RELEASE_ATTEMPTS", "FlowJobs"]

logger = logging.getLogger(__name__)

# A holder found, then gone before its turn came (and the instance taken by someone else): look
# again, a few times.
RELEASE_ATTEMPTS = 3


class FlowJobs:
    def __init__(
        self, flow: RegistrationFlow, courier: Courier, processor: PerChatUpdateProcessor
    ) -> None:
        self.flow = flow
        self.courier = courier
        self.processor = processor
        self._expiring: dict[int, asyncio.Task[None]] = {}

    async def announce_waits_over(self) -> datetime | None:
        """Tell every chat whose wait ended (the notices are committed with the claim, so they
        are delivered at least once); returns when to run again."""
        notices, next_deadline = await self.flow.due_notices()
        await self.courier.deliver(notices, background=True)
        return next_deadline

    async def end_idle_flows(self) -> None:
        """The repeating sweep: end flows that saw no activity for the timeout.

        Each chat's flow ends in that chat's turn (a step still in flight, say a Z-API call,
        finishes first), and each chat waits for its own turn only: one slow chat delays no
        other chat's timeout."""
        for chat_id in await self.flow.idle_chats():
            if chat_id not in self._expiring:
                task = asyncio.get_running_loop().create_task(
                    self._expire(chat_id), name=f"expire:{chat_id}"
                )
                self._expiring[chat_id] = task

    async def _expire(self, chat_id: int) -> None:
        try:
            async with self.processor.turn(chat_id):
                owed = await self.flow.expire_if_idle(chat_id)
            await self.courier.deliver(owed, background=True)
        except Exception:
            logger.exception("Could not end the idle flow of chat %s", chat_id)
        finally:
            del self._expiring[chat_id]

    async def free_instance(self, instance: str, *, by: int) -> FlowRecord | None:
        """End the flow holding `instance` in its chat's turn (its member told), for the admin
        `by`; the flow ended, or None when none held it. Run it outside the admin's own turn:
        two admins freeing each other's instances would otherwise each wait for the other."""
        for _ in range(RELEASE_ATTEMPTS):
            holder = (await self.flow.store.held_instances()).get(instance)
            if holder is None:
                return None
            async with self.processor.turn(holder):
                if (await self.flow.store.held_instances()).get(instance) != holder:
                    continue  # ended meanwhile: maybe someone else holds it now
                ended = await self.flow.end_by_admin(holder, by=by, reason="released")
            if ended is not None:
                return ended
        return None

    async def stop(self) -> None:
        for task in list(self._expiring.values()):
            task.cancel()
        await asyncio.gather(*self._expiring.values(), return_exceptions=True)
