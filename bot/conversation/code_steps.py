"""From the method choice to "Connected": the code request, the captcha, the code, the device
transfer and the two-step PIN.
"""

from __future__ import annotations

import re

from bot.conversation.core import (
    _CAPTCHA_ANSWER,
    FlowCore,
    Outcome,
    Reply,
    WorkingSignal,
    _typed,
    logger,
)
from bot.conversation.keyboards import format_wait
from bot.conversation.ports import ReportedWaits, StorageUnavailable
from bot.conversation.texts import CATALOGS, instance_label
from bot.domain.parsing import (
    parse_code,
    parse_pin,
)
from bot.domain.record import FlowRecord
from bot.domain.steps import Step
from bot.domain.transitions import (
    Transition,
    after_captcha,
    after_code,
    after_code_request,
    after_device_transfer,
    after_pin,
    after_pin_recovery,
)
from bot.domain.waits import Availability
from bot.zapi import (
    CodeRequestResult,
    DeliveryMethod,
    ZapiError,
)


class CodeSteps(FlowCore):
    """From the method question to the end."""

    def _parse_method(self, text: str) -> DeliveryMethod | None:
        word = text.strip().casefold()
        for catalog in CATALOGS.values():
            if word in catalog.method_words:
                return DeliveryMethod(catalog.method_words[word])
            for value, name in catalog.method_names.items():
                if word == name.casefold():
                    return DeliveryMethod(value)
        return None

    async def resend(self, reg: FlowRecord) -> Outcome:
        """ "Didn't get it": back to the method choice, with the current waits."""
        return await self._step(reg, step=Step.METHOD.value)

    async def method_reply(self, reg: FlowRecord, text: str, working: WorkingSignal) -> Outcome:
        """A typed answer at the method step: a method, or the code of an earlier request that
        arrived after all (after "Didn't get it", say)."""
        if reg.method is not None and self._parse_method(text) is None:
            code = parse_code(text)
            if code is not None:
                return await self.receive_code(reg, text, working)
        return await self.choose_method(reg, text, working)

    async def choose_method(self, reg: FlowRecord, text: str, working: WorkingSignal) -> Outcome:
        texts = self.texts(reg)
        method = self._parse_method(text)
        if method is None:
            return await self.repeat(reg, texts.method_unknown)
        name = texts.method_names[method.value]
        states = await self.method_states(reg)
        state = states[method]
        if state.availability is Availability.BLOCKED:
            refusal = texts.method_blocked.format(method=name)
        elif state.availability is Availability.NOT_OFFERED:
            refusal = texts.method_not_eligible.format(method=name)
        elif state.availability is Availability.WAITING:
            wait = format_wait(state.seconds_left, texts)
            refusal = texts.method_waiting.format(method=name, wait=wait)
        else:
            return await self._request_code(reg, method, working)
        keyboard = self._keyboards(reg).methods(states)
        return Outcome(replies=[Reply(refusal, keyboard)])

    async def _request_code(
        self, reg: FlowRecord, method: DeliveryMethod, working: WorkingSignal
    ) -> Outcome:
        texts = self.texts(reg)
        number = self._number(reg)
        previous = reg.copy()
        ddi, phone = reg.ddi or "", reg.phone or ""
        # Committed before the call: whatever becomes of the call, the code step takes a code
        # that arrives.
        try:
            result = await self._call(
                reg,
                "request_code",
                lambda instance: self.zapi.request_code(instance, ddi, phone, method),
                working,
                step=Step.CODE.value,
                method=method.value,
            )
        except ZapiError as error:
            if not error.may_have_acted:
                # Nothing was sent: back to the method choice.
                return await self._method_after_failure(reg, previous, self._error(reg, error))
            logger.warning(
                "Z-API request-registration-code may have acted for chat %s: %s",
                reg.chat_id,
                type(error).__name__,
            )
            lead = self._failure_lead(reg, error)
            return await self._step(
                reg,
                lambda new: [
                    Reply(f"{lead}\n{texts.code_maybe_sent}", self._keyboards(new).code())
                ],
                audit=("request_code", "uncertain"),
            )
        try:
            return await self._after_code_request(reg, method, number, result)
        except StorageUnavailable:
            if not (result.success and result.captcha is None and not result.blocked):
                raise
            # The flow is at the code step since before the call: the code is taken.
            text = texts.code_requested_unsaved.format(method=texts.method_names[method.value])
            return self._unsaved(reg, text, self._keyboards(reg).code())

    async def _method_after_failure(
        self, reg: FlowRecord, previous: FlowRecord, text: str
    ) -> Outcome:
        change = self._change(
            reg,
            audit=("request_code", "failed"),
            step=Step.METHOD.value,
            method=previous.method,
            pending_call=None,
        )
        keyboard = self._keyboards(change.after).methods(await self.method_states(change.after))
        owed = await self.store.commit(change, [Reply(text, keyboard)])
        return Outcome(owed)

    async def _after_code_request(
        self,
        reg: FlowRecord,
        method: DeliveryMethod,
        number: str,
        result: CodeRequestResult,
    ) -> Outcome:
        texts = self.texts(reg)
        move = after_code_request(result, method)
        reported = ReportedWaits(result.waits, result.retry_after, method)
        if move.step is Step.CAPTCHA:
            assert result.captcha is not None
            photo = result.captcha.data

            def captcha(new: FlowRecord) -> list[Reply]:
                caption = f"{self._indicator(new, Step.CAPTCHA)}\n{texts.captcha_caption}"
                return [Reply(caption, self._keyboards(new).captcha(), photo=photo)]

            return await self._step(reg, captcha, audit=move.audit, **move.fields())
        if move.step is Step.BANNED:
            return await self._step(reg, audit=move.audit, **move.fields())
        if move.step is None:  # the code is on its way
            body = texts.code_sent[method.value].format(number=number)
            return await self._step(
                reg,
                lambda new: [self._question(new, body, self._keyboards(new).code())],
                audit=move.audit,
                waits=reported,
                **move.fields(),
            )
        change = self._change(reg, audit=move.audit, waits=reported, **move.fields())
        states = await self.method_states(change.after, change.ready_at)
        if any(state.availability is Availability.WAITING for state in states.values()):
            lead = texts.waits_header  # each wait is on its method's button
        else:
            logger.info("Code request refused for chat %s (reason: %s)", reg.chat_id, result.reason)
            lead = texts.request_failed.format(method=texts.method_names[method.value])
        question = await self.ask_method(change.after, lead, change.ready_at)
        owed = await self.store.commit(change, question)
        return Outcome(owed)

    async def receive_captcha(self, reg: FlowRecord, text: str, working: WorkingSignal) -> Outcome:
        texts = self.texts(reg)
        answer = re.sub(r"\s", "", text)
        if not _CAPTCHA_ANSWER.fullmatch(answer):
            return await self.repeat(reg, texts.captcha_bad_input)
        try:
            result = await self._call(
                reg,
                "captcha",
                lambda instance: self.zapi.respond_captcha(instance, answer),
                working,
            )
        except ZapiError as error:
            return await self.repeat(reg, self._error(reg, error))
        move = after_captcha(result.success)
        if move.step is None:
            reg = await self._save(reg, audit=move.audit, **move.fields())
            return await self.repeat(reg, texts.captcha_wrong)
        method = texts.method_names.get(reg.method or "", reg.method or "")
        body = texts.captcha_ok.format(method=method)
        return await self._step(
            reg,
            lambda new: [self._question(new, body, self._keyboards(new).code())],
            audit=move.audit,
            **move.fields(),
        )

    async def receive_code(self, reg: FlowRecord, text: str, working: WorkingSignal) -> Outcome:
        texts = self.texts(reg)
        code = parse_code(text)
        if code is None:
            return await self.repeat(reg, texts.bad_code)
        try:
            result = await self._call(
                reg,
                "confirm_code",
                lambda instance: self.zapi.confirm_code(instance, code),
                working,
                step=Step.CODE.value,
            )
        except ZapiError as error:
            return await self.repeat(reg, self._error(reg, error))
        move = after_code(reg, result)
        if move.ends:
            return await self._connected(reg, move)
        if move.step is not None:  # a two-step PIN, or a device transfer
            return await self._step(reg, audit=move.audit, **move.fields())
        message = (
            texts.wrong_code_many.format(count=move.changes["wrong_code_count"])
            if move.outcome == "wrong_code_many"
            else texts.wrong_code
        )
        return await self._step(
            reg,
            lambda new: [Reply(message, self._keyboards(new).code())],
            audit=move.audit,
            **move.fields(),
        )

    async def device_reply(self, reg: FlowRecord, text: str, working: WorkingSignal) -> Outcome:
        if _typed(text, lambda catalog: catalog.done_words):
            return await self.device_accepted(reg, working)
        return await self.repeat(reg, self.texts(reg).device_hint)

    async def device_accepted(self, reg: FlowRecord, working: WorkingSignal) -> Outcome:
        texts = self.texts(reg)
        try:
            result = await self._call(
                reg,
                "device",
                lambda instance: self.zapi.device_transfer_confirmed(instance),
                working,
            )
        except ZapiError as error:
            return await self._failure(reg, error, lambda new: self._keyboards(new).device())
        move = after_device_transfer(result.success)
        if move.ends:
            return await self._connected(reg, move)
        return await self._step(
            reg,
            lambda new: [Reply(texts.device_not_yet, self._keyboards(new).device())],
            audit=move.audit,
        )

    async def receive_pin(self, reg: FlowRecord, text: str, working: WorkingSignal) -> Outcome:
        texts = self.texts(reg)
        pin = parse_pin(text)
        if pin is None:
            outcome = await self.repeat(reg, texts.bad_pin)
            outcome.delete_message = True
            return outcome
        try:
            result = await self._call(
                reg, "confirm_pin", lambda instance: self.zapi.confirm_pin(instance, pin), working
            )
        except ZapiError as error:
            return await self._failure(
                reg, error, lambda new: self._keyboards(new).pin(), delete_message=True
            )
        move = after_pin(result)
        if move.ends:
            outcome = await self._connected(reg, move)
        elif move.step is not None:  # a device transfer
            outcome = await self._step(reg, audit=move.audit, **move.fields())
        else:
            outcome = await self._step(
                reg,
                lambda new: [Reply(texts.wrong_pin, self._keyboards(new).pin())],
                audit=move.audit,
            )
        outcome.delete_message = True
        return outcome

    async def forgot_pin(self, reg: FlowRecord, working: WorkingSignal) -> Outcome:
        texts = self.texts(reg)
        try:
            result = await self._call(
                reg, "recover_pin", lambda instance: self.zapi.recover_pin(instance), working
            )
        except ZapiError as error:
            return await self._failure(reg, error, lambda new: self._keyboards(new).pin())
        move = after_pin_recovery(result.success)
        message = texts.pin_recovery_sent if result.success else texts.pin_recovery_failed
        try:
            return await self._step(
                reg,
                lambda new: [Reply(message, self._keyboards(new).pin())],
                audit=move.audit,
            )
        except StorageUnavailable:
            return self._unsaved(reg, message, None)

    async def _connected(self, reg: FlowRecord, move: Transition) -> Outcome:
        texts = self.texts(reg)
        instance = instance_label(texts, reg.instance or "", self.settings.sandboxes)
        message = texts.connected.format(instance=instance, number=self._number(reg))
        offer = f"{message}\n\n{texts.setup.connected_setup_offer}"
        try:
            return await self._end(
                reg,
                *move.audit,
                offer,
                keyboard=self._keyboards(reg).set_up(f"{reg.ddi}{reg.phone}"),
            )
        except StorageUnavailable:
            # Z-API connected the number: that is what the member must hear.
            logger.error("Chat %s connected but the database refused to record it", reg.chat_id)
            return Outcome(replies=[Reply(message)])
