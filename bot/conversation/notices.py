"""What the flow says unprompted: waits that ended, idle timeouts, lost leases, flows an admin
ended, calls a restart cut off.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from bot.conversation.core import (
    Outcome,
    Reply,
    logger,
)
from bot.conversation.keyboards import format_wait
from bot.conversation.ports import EndedWait, FlowGone, LeaseLost, OwedMessage
from bot.conversation.setup_steps import SetupSteps
from bot.conversation.texts import marked
from bot.domain.record import FlowRecord
from bot.domain.steps import SETUP_STEPS, Step
from bot.zapi import (
    DeliveryMethod,
)


class Notices(SetupSteps):
    """Notices and ends that no member update asked for."""

    async def idle_chats(self) -> list[int]:
        return await self.store.idle_chats()

    async def expire_if_idle(self, chat_id: int) -> list[OwedMessage]:
        """End the chat's flow if it is still idle (run it in the chat's turn); what is owed."""

        def say(reg: FlowRecord) -> tuple[str, list[Reply]]:
            texts = self.texts(reg)
            duration = format_wait(round(self.settings.conversation_timeout_seconds), texts)
            if Step(reg.step) in SETUP_STEPS:
                self._new_pins.pop(reg.flow_id, None)
                text = texts.setup.setup_idle_timeout.format(
                    duration=duration, number=self._number(reg)
                )
                return "setup", [Reply(self._marked(reg, text))]
            return "timeout", [
                Reply(self._marked(reg, texts.idle_timeout.format(duration=duration)))
            ]

        ended = await self.store.end_if_idle(chat_id, say)
        return ended[1] if ended is not None else []

    async def lease_lost(self, reg: FlowRecord, instance: str) -> Outcome:
        """The flow's instance was taken while the flow lived on: it stops here."""
        logger.warning("Chat %s lost its lease on %s; its flow ends", reg.chat_id, instance)
        text = self.texts(reg).instance_lost.format(instance=instance)
        if Step(reg.step) in SETUP_STEPS:
            text = self._setup_interrupted(reg)
        return await self._end(reg, "lease", "lost", self._marked(reg, text))

    def _marked(self, reg: FlowRecord, text: str) -> str:
        """A notice of a flow on a sandbox, marked as its questions are."""
        return marked(self.texts(reg), text, reg.instance, self.settings.sandboxes)

    def _setup_interrupted(self, reg: FlowRecord) -> str:
        self._new_pins.pop(reg.flow_id, None)
        return self.texts(reg).setup.setup_interrupted.format(
            instance=reg.instance or "—", number=self._number(reg)
        )

    async def end_by_admin(
        self, chat_id: int, *, by: int, reason: Literal["denied", "released"]
    ) -> FlowRecord | None:
        """An admin ends the chat's open flow and frees its instance (run it in the chat's
        turn). The member is told (delivered at least once); None when there was no flow."""
        reg = await self.store.load(chat_id)
        if reg is None:
            return None
        texts = self.texts(reg)
        if reason == "denied":
            text = texts.ended_by_admin_denied
        elif Step(reg.step) in SETUP_STEPS:
            text = self._setup_interrupted(reg)
        else:
            text = texts.ended_by_admin_released.format(instance=reg.instance or "—")
        try:
            outcome = await self._end(reg, "admin", reason, text, by=by)
        except FlowGone:
            return None
        self._post(outcome.owed)
        return reg

    def _post(self, owed: Sequence[OwedMessage]) -> None:
        if owed and self.courier is not None:
            self.courier.post(owed)

    async def resume_interrupted(self) -> int:
        """After a restart: commit, for every member whose Z-API call was cut off, a notice of
        where they are (sent with whatever else the outbox owes). How many there were."""
        told = 0
        for reg in await self.store.interrupted():
            try:
                await self._resume(reg)
            except (FlowGone, LeaseLost):
                continue
            told += 1
        return told

    async def _resume(self, reg: FlowRecord) -> Outcome:
        texts = self.texts(reg)
        if Step(reg.step) in SETUP_STEPS and (resumed := await self.resume_setup(reg)):
            return resumed
        if reg.pending_call == "request_code":
            # The code may have been sent: the code step takes it, "Didn't get it" asks again.
            return await self._step(
                reg,
                lambda new: [Reply(texts.restarted_code_request, self._keyboards(new).code())],
            )
        if reg.pending_call == "check" and reg.phone:
            number = self._number(reg)

            def again(new: FlowRecord) -> list[Reply]:
                body = f"{texts.restarted_during_call}\n{texts.phone_confirm_hint}"
                return [Reply(f"{body} ({number})", self._keyboards(new).retry())]

            return await self._step(reg, again)
        return await self._step(reg, before=[Reply(texts.restarted_during_call)])

    async def due_notices(self) -> tuple[list[OwedMessage], datetime | None]:
        """Claim every ended wait (exactly once) and commit, per chat, which methods are usable
        now; the notices and when the next wait ends.

        A chat is told only while its flow is still choosing a method or waiting for the code
        for that number.
        """
        return await self.store.claim_ended_waits(self._wait_notices)

    def _wait_notices(
        self,
        claimed: Sequence[EndedWait],
        regs: dict[int, FlowRecord],
        pending: Sequence[EndedWait],
    ) -> list[tuple[int, Reply]]:
        ended: dict[int, set[DeliveryMethod]] = {}
        for timer in claimed:
            reg = regs.get(timer.chat_id)
            if reg is not None and (timer.instance, timer.ddi, timer.phone) == (
                reg.instance,
                reg.ddi,
                reg.phone,
            ):
                ended.setdefault(timer.chat_id, set()).add(DeliveryMethod(timer.method))
        pending_by_number: dict[tuple[str, str, str], list[EndedWait]] = {}
        for timer in pending:
            pending_by_number.setdefault((timer.instance, timer.ddi, timer.phone), []).append(timer)
        notices = []
        for chat_id, methods in ended.items():
            reg = regs[chat_id]
            if Step(reg.step) not in (Step.METHOD, Step.CODE):
                continue
            number = (reg.instance or "", reg.ddi or "", reg.phone or "")
            ready_at = {
                DeliveryMethod(timer.method): timer.ready_at
                for timer in pending_by_number.get(number, [])
            }
            states = self._states_from(reg, ready_at)
            usable = [
                method for method, state in states.items() if method in methods and state.usable
            ]
            if not usable:
                continue
            texts = self.texts(reg)
            names = " / ".join(texts.method_names[m.value] for m in usable)
            reply = Reply(
                self._marked(reg, texts.wait_over.format(methods=names)),
                self._keyboards(reg).methods(states),
            )
            notices.append((chat_id, reply))
        return notices
