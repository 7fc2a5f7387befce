"""The first steps: starting, leaving and going back; the instance, the country code and the
number, its availability check, a ban and its appeal.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from bot.config import InstanceConfig
from bot.conversation.core import (
    APPEAL_LENGTH,
    FlowCore,
    Outcome,
    Reply,
    WorkingSignal,
    _typed,
    logger,
)
from bot.conversation.keyboards import format_wait
from bot.conversation.ports import InstanceBusy, ReportedWaits
from bot.conversation.steps import STEPS, back_from
from bot.conversation.texts import Catalog, catalog_for, instance_label
from bot.domain.parsing import (
    PhoneProblem,
    parse_ddi,
    parse_international,
    parse_phone,
)
from bot.domain.record import FlowRecord
from bot.domain.steps import SETUP_STEPS, Step
from bot.domain.transitions import after_appeal, after_availability
from bot.domain.waits import Availability
from bot.zapi import (
    AvailabilityResult,
    ZapiError,
    ZapiRejected,
)

# Steps past Z-API's availability check: cancelling there throws the checked number away.
CHECKED = frozenset(
    {Step.BANNED, Step.APPEAL, Step.METHOD, Step.CAPTCHA, Step.CODE, Step.DEVICE, Step.PIN}
)


class NumberSteps(FlowCore):
    """From /register to the method question."""

    async def start(
        self, chat_id: int, user_id: int, language_code: str | None, *, on: str | None = None
    ) -> Outcome:
        """A new flow (or the open one, where it is); `on`: the instance it is to use (an
        alert's "Register again"), its question skipped."""
        texts = catalog_for(language_code)
        chosen = self.settings.instance(on) if on is not None else None
        if chosen is None and not self.several_instances:
            chosen = self.settings.instances[0]
        new = FlowRecord(
            chat_id=chat_id,
            user_id=user_id,
            flow_id=secrets.token_hex(4),
            language=texts.language,
            step=(
                Step.INSTANCE
                if chosen is None
                else Step.REPLACE
                if self.runs_a_number(chosen.name)
                else Step.DDI
            ).value,
            instance=None if chosen is None else chosen.name,
        )
        opened = await self.store.open(new, await self.prompt(new))
        if opened is None:
            if self.several_instances and chosen is not None:
                busy = texts.instance_busy_now.format(
                    instance=instance_label(texts, chosen.name, self.settings.sandboxes)
                )
                return Outcome(replies=[Reply(busy)])
            return Outcome(replies=[Reply(texts.all_instances_busy)])
        flow, owed = opened
        if not flow.resumed:
            return Outcome(owed)
        return await self._register_again(flow.registration, user_id, language_code)

    async def _register_again(
        self, reg: FlowRecord, user_id: int, language_code: str | None
    ) -> Outcome:
        """/register with a flow open: it goes on where it is."""
        return Outcome(replies=[Reply(self.texts(reg).resumed), *await self.prompt(reg)])

    async def switch_language(self, chat_id: int, language: str) -> Outcome:
        """Say so in the new language; an open flow goes on in it (its question asked again)."""
        said = Reply(catalog_for(language).language_switched)
        reg = await self.store.load(chat_id)
        if reg is None:
            return Outcome(replies=[said])
        return await self._step(reg, before=[said], language=language)

    async def cancel(
        self, chat_id: int, language_code: str | None, *, sure: bool = False
    ) -> Outcome:
        """End the flow; first ask, unless `sure`, when that throws away a number Z-API
        already checked (and the waits it set)."""
        reg = await self.store.load(chat_id)
        if reg is None:
            return Outcome(replies=[Reply(catalog_for(language_code).nothing_to_cancel)])
        return await self._cancel(reg, sure=sure)

    async def _cancel(self, reg: FlowRecord, *, sure: bool) -> Outcome:
        if not sure and Step(reg.step) in CHECKED:
            texts = self.texts(reg)
            question = texts.cancel_confirm.format(number=self._number(reg))
            waits = await self.pending_waits(reg)
            if waits:
                question += "\n" + texts.cancel_confirm_waits.format(waits=waits)
            return Outcome(replies=[Reply(question, self._keyboards(reg).cancel_confirm())])
        return await self._end(reg, "cancel", "cancelled", self.texts(reg).cancelled)

    async def pending_waits(self, reg: FlowRecord, texts: Catalog | None = None) -> str:
        """The number's waits still running, as "SMS 2 min, Voice call 45 s" ("" if none), in
        the member's words unless `texts` (an admin's) are given."""
        texts = texts or self.texts(reg)
        return ", ".join(
            f"{texts.method_names[s.method.value]} {format_wait(s.seconds_left, texts)}"
            for s in (await self.method_states(reg)).values()
            if s.availability is Availability.WAITING
        )

    async def keep_going(self, reg: FlowRecord) -> Outcome:
        """ "No, keep going" at the cancel confirmation: the question the member is at."""
        return Outcome(replies=await self.prompt(reg))

    async def status(self, chat_id: int, language_code: str | None) -> Outcome:
        reg = await self.store.load(chat_id)
        if reg is None:
            return Outcome(replies=[Reply(catalog_for(language_code).status_none)])
        texts = self.texts(reg)
        # In the set-up, the number's waits are the registration's, over and done with.
        in_setup = Step(reg.step) in SETUP_STEPS
        wait_text = (not in_setup and await self.pending_waits(reg)) or texts.status_waits_none
        body = texts.status.format(
            step=self._indicator(reg, Step(reg.step)),
            instance=instance_label(texts, reg.instance or "—", self.settings.sandboxes),
            number=self._number(reg) if reg.phone else (f"+{reg.ddi}" if reg.ddi else "—"),
            waits=wait_text,
        )
        return Outcome(replies=[Reply(body, aside=True)])

    async def back(self, reg: FlowRecord) -> Outcome:
        previous = back_from(Step(reg.step), several_instances=self.several_instances)
        if previous is None:
            return await self._step(reg, before=[Reply(self.texts(reg).first_step)])
        return await self._step(reg, step=previous.value, **STEPS[previous].on_return)

    async def choose_instance(self, reg: FlowRecord, typed: str) -> Outcome:
        """A typed instance: its name, or its position as the member sees it, counted from 1."""
        wanted = typed.strip().casefold()
        instances = self.settings.instances
        instance = next((item for item in instances if item.name.casefold() == wanted), None)
        if instance is None and wanted.isascii() and wanted.isdigit():
            position = int(wanted)
            instance = instances[position - 1] if 1 <= position <= len(instances) else None
        return await self._take_instance(reg, instance)

    async def press_instance(self, reg: FlowRecord, index: str) -> Outcome:
        """An instance button: it carries the instance's index (Telegram's callback data is 64
        bytes, too few for some names)."""
        instances = self.settings.instances
        valid = index.isascii() and index.isdigit() and int(index) < len(instances)
        return await self._take_instance(reg, instances[int(index)] if valid else None)

    async def _take_instance(self, reg: FlowRecord, instance: InstanceConfig | None) -> Outcome:
        texts = self.texts(reg)
        if instance is None:
            return await self.repeat(reg, texts.unknown_instance)
        step = Step.REPLACE if self.runs_a_number(instance.name) else Step.DDI
        try:
            return await self._step(reg, step=step.value, instance=instance.name)
        except InstanceBusy:
            question = await self.prompt(reg)
            taken = Reply(
                texts.instance_busy.format(
                    instance=instance_label(texts, instance.name, self.settings.sandboxes)
                ),
                question[0].keyboard,
            )
            return Outcome(replies=[taken])

    async def confirm_replace(self, reg: FlowRecord) -> Outcome:
        """Register on the instance although it runs a number (it will be disconnected)."""
        return await self._step(reg, step=Step.DDI.value)

    async def replace_reply(self, reg: FlowRecord, text: str) -> Outcome:
        """Typed at the replace question: yes goes on; no picks another instance (or ends the
        registration, when there is no other)."""
        texts = self.texts(reg)
        answer = text.strip().casefold()
        if answer in texts.yes_words:
            return await self.confirm_replace(reg)
        if answer in texts.no_words:
            if self.several_instances:
                return await self.back(reg)
            return await self._cancel(reg, sure=True)
        return await self.repeat(reg, texts.step_hints[Step.REPLACE.value])

    async def receive_ddi(self, reg: FlowRecord, text: str, working: WorkingSignal) -> Outcome:
        whole = parse_international(text)
        if whole is not None:
            ddi, national = whole
            reg = await self._save(reg, ddi=ddi, step=Step.PHONE.value)
            return await self.receive_phone(reg, national, working)
        parsed_ddi = parse_ddi(text)
        if parsed_ddi is None:
            return await self.repeat(reg, self.texts(reg).bad_ddi)
        return await self._step(reg, ddi=parsed_ddi, step=Step.PHONE.value)

    async def receive_contact(
        self, reg: FlowRecord, phone_number: str, working: WorkingSignal
    ) -> Outcome:
        """A shared contact card: its number fills the country code and the phone steps."""
        number = phone_number.strip()
        whole = parse_international(number if number.startswith("+") else f"+{number}")
        if whole is None:
            return await self.repeat(reg, self.texts(reg).contact_unreadable)
        ddi, national = whole
        reg = await self._save(reg, ddi=ddi, step=Step.PHONE.value)
        return await self.receive_phone(reg, national, working)

    async def receive_phone(self, reg: FlowRecord, text: str, working: WorkingSignal) -> Outcome:
        texts = self.texts(reg)
        parsed = parse_phone(reg.ddi or "", text)
        if isinstance(parsed, PhoneProblem):
            hint = {
                PhoneProblem.NOT_DIGITS: texts.phone_not_digits,
                PhoneProblem.TOO_SHORT: texts.phone_too_short,
                PhoneProblem.TOO_LONG: texts.phone_too_long,
            }[parsed]
            return await self.repeat(reg, hint)
        if not parsed.valid:
            return await self._step(reg, phone=parsed.digits, step=Step.PHONE_CONFIRM.value)
        return await self.check_availability(reg, working, phone=parsed.digits)

    async def phone_confirmation(
        self, reg: FlowRecord, text: str, working: WorkingSignal
    ) -> Outcome:
        if _typed(text, lambda catalog: catalog.yes_words):
            return await self.confirm_phone(reg, True, working)
        if _typed(text, lambda catalog: catalog.no_words):
            return await self.confirm_phone(reg, False, working)
        return await self.repeat(reg, self.texts(reg).phone_confirm_hint)

    async def confirm_phone(self, reg: FlowRecord, use_it: bool, working: WorkingSignal) -> Outcome:
        if use_it:
            return await self.check_availability(reg, working)
        return await self._step(reg, step=Step.PHONE.value, phone=None)

    async def check_availability(
        self,
        reg: FlowRecord,
        working: WorkingSignal,
        *,
        phone: str | None = None,
        before: Sequence[Reply] = (),
    ) -> Outcome:
        """registration-available: mandatory before a code can be requested for the number."""
        ddi, number = reg.ddi or "", phone or reg.phone or ""
        try:
            result = await self._call(
                reg,
                "check",
                lambda instance: self.zapi.registration_available(instance, ddi, number),
                working,
                step=Step.PHONE.value,
                phone=number,
            )
        except ZapiRejected as error:
            # The same number would be refused again: no Try again, another number is typed.
            return await self._failure(reg, error, lambda new: self._keyboards(new).navigation())
        except ZapiError as error:
            return await self._failure(reg, error, lambda new: self._keyboards(new).retry())
        return await self._after_availability(reg, result, before)

    async def _after_availability(
        self, reg: FlowRecord, result: AvailabilityResult, before: Sequence[Reply]
    ) -> Outcome:
        move = after_availability(result)
        if move.ends:
            logger.info("Number not available for chat %s (reason: %s)", reg.chat_id, result.reason)
            text = self.texts(reg).unavailable.format(number=self._number(reg))
            owed = await self.store.end(reg, *move.audit, [*before, Reply(text)])
            return Outcome(owed)
        waits = ReportedWaits(result.waits) if move.step is Step.METHOD else None
        return await self._step(reg, before=before, audit=move.audit, waits=waits, **move.fields())

    async def banned_reply(self, reg: FlowRecord, text: str) -> Outcome:
        if _typed(text, lambda catalog: catalog.appeal_words):
            return await self.start_appeal(reg)
        return await self.repeat(reg, self.texts(reg).banned_hint)

    async def start_appeal(self, reg: FlowRecord) -> Outcome:
        if not reg.appeal_token:
            return Outcome(replies=await self.prompt(reg))
        return await self._step(reg, step=Step.APPEAL.value)

    async def receive_appeal(self, reg: FlowRecord, text: str, working: WorkingSignal) -> Outcome:
        texts = self.texts(reg)
        description = " ".join(text.split())
        if len(description) not in APPEAL_LENGTH:
            return await self.repeat(reg, texts.appeal_length)
        token = reg.appeal_token or ""
        try:
            result = await self._call(
                reg,
                "appeal",
                lambda instance: self.zapi.request_unbanning(instance, token, description),
                working,
            )
        except ZapiError as error:
            return await self.repeat(reg, self._error(reg, error))
        move = after_appeal(result)
        if not move.ends:
            reg = await self._save(reg, audit=move.audit, **move.fields())
            return await self.check_availability(
                reg, working, before=[Reply(texts.appeal_unbanned)]
            )
        message = texts.appeal_in_review if result.success else texts.appeal_refused
        return await self._end(reg, *move.audit, message)

    async def change_number(self, reg: FlowRecord) -> Outcome:
        return await self._step(
            reg,
            step=Step.PHONE.value,
            phone=None,
            method=None,
            appeal_token=None,
            wrong_code_count=0,
            blocked_methods="",
            wa_old_eligible=None,
        )

    async def retry(self, reg: FlowRecord, working: WorkingSignal) -> Outcome:
        """The "Try again" button: repeats the failed availability check, else re-asks."""
        if Step(reg.step) is Step.PHONE and reg.phone:
            return await self.check_availability(reg, working)
        return Outcome(replies=await self.prompt(reg))
