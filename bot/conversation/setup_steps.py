"""After "Connected": the optional set-up of the number (profile name and description, a
two-step PIN, a recovery e-mail), each part skippable, durable like the registration.

The set-up is a flow of its own on the instance (it holds the lease, so no registration can
replace the number meanwhile), opened by the button under "Connected" or by /setup for the
member's last connected number. The new PIN is asked twice; between the two answers it lives in
this process only, never in the database or a log: after a restart the member sends it again.
"""

from __future__ import annotations

import secrets

from bot.config import InstanceConfig
from bot.conversation.core import Outcome, Reply, WorkingSignal
from bot.conversation.number_steps import NumberSteps
from bot.conversation.replies import Keyboard
from bot.conversation.texts import catalog_for, instance_label
from bot.domain.parsing import (
    PROFILE_ABOUT_LENGTH,
    PROFILE_NAME_LENGTH,
    format_number,
    parse_code,
    parse_email,
    parse_international,
    parse_pin,
    parse_profile_text,
    same_number,
)
from bot.domain.record import FlowRecord
from bot.domain.setup import Part, PartState, read_parts, write_parts
from bot.domain.steps import SETUP_STEPS, Step, ZapiCall
from bot.zapi import ValueEndpoint, ZapiError, ZapiRejected

__all__ = ["SetupSteps"]

# The part of the set-up each step is about.
_PART_OF = {
    Step.PROFILE_NAME: Part.NAME,
    Step.PROFILE_ABOUT: Part.ABOUT,
    Step.TWO_FA: Part.PIN,
    Step.TWO_FA_AGAIN: Part.PIN,
    Step.EMAIL: Part.EMAIL,
    Step.EMAIL_CODE: Part.EMAIL,
}


class SetupSteps(NumberSteps):
    """The set-up's steps, from its opening to its summary; in the set-up, /cancel finishes it
    and /register finishes it before it starts a registration."""

    async def _cancel(self, reg: FlowRecord, *, sure: bool) -> Outcome:
        if Step(reg.step) in SETUP_STEPS:
            return await self.finish_setup(reg)
        return await super()._cancel(reg, sure=sure)

    async def _register_again(
        self, reg: FlowRecord, user_id: int, language_code: str | None
    ) -> Outcome:
        if Step(reg.step) not in SETUP_STEPS:
            return await super()._register_again(reg, user_id, language_code)
        finished = await self.finish_setup(reg)
        started = await self.start(reg.chat_id, user_id, language_code)
        return Outcome([*finished.owed, *started.owed], started.replies)

    # -- opening ------------------------------------------------------------------------------

    async def start_setup(
        self, chat_id: int, user_id: int, language_code: str | None, *, number: str | None = None
    ) -> Outcome:
        """/setup, or the button under "Connected" (`number`: the one it was shown for): the
        set-up of the member's last connected number, once Z-API confirms the number still runs
        on its instance."""
        texts = catalog_for(language_code)
        reg = await self.store.load(chat_id)
        if reg is not None:
            if Step(reg.step) in SETUP_STEPS:
                return Outcome(replies=[Reply(self.texts(reg).resumed), *await self.prompt(reg)])
            # Said aside: the registration's question keeps its buttons.
            return Outcome(replies=[Reply(texts.setup.setup_during_registration, aside=True)])
        last = await self.store.last_connected(user_id)
        split = parse_international(f"+{last[1]}") if last is not None else None
        if last is None or split is None:
            return Outcome(replies=[Reply(texts.setup.setup_nothing)])
        name, digits = last
        ddi, phone = split
        shown = format_number(ddi, phone)
        if number is not None and number != digits:
            # The button under an earlier "Connected": a later number connected since.
            body = texts.setup.setup_button_outdated.format(number=shown)
            return Outcome(replies=[Reply(body, aside=True)])
        number = shown
        instance = self.settings.instance(name)
        label = instance_label(texts, name, self.settings.sandboxes)
        if instance is None:
            body = texts.setup.setup_instance_gone.format(instance=label, number=number)
            return Outcome(replies=[Reply(body)])
        try:
            device = await self.zapi.device(instance)
        except ZapiRejected:  # "You are not connected."
            body = texts.setup.setup_not_connected.format(number=number, instance=label)
            return Outcome(replies=[Reply(body)])
        except ZapiError as error:
            lead = self._lead(error, texts, name)
            return Outcome(replies=[Reply(f"{lead}\n{texts.setup.setup_check_failed}")])
        if not same_number(device.phone or "", digits):
            body = texts.setup.setup_not_connected.format(number=number, instance=label)
            return Outcome(replies=[Reply(body)])
        new = FlowRecord(
            chat_id=chat_id,
            user_id=user_id,
            flow_id=secrets.token_hex(4),
            language=texts.language,
            step=Step.PROFILE_NAME.value,
            instance=name,
            ddi=ddi,
            phone=phone,
        )
        opened = await self.store.open(new, await self.prompt(new))
        if opened is None:
            return Outcome(replies=[Reply(texts.setup.setup_busy.format(instance=label))])
        flow, owed = opened
        if flow.resumed:  # a flow opened meanwhile, by another update of this chat
            return Outcome(replies=await self.prompt(flow.registration))
        return Outcome(owed)

    # -- the questions --------------------------------------------------------------------

    def _ask(self, reg: FlowRecord, body: str, lead: str | None = None) -> list[Reply]:
        """A set-up question (`lead`: what led to it, said first), with its step's keyboard."""
        text = f"{lead}\n\n{body}" if lead else body
        return [self._question(reg, text, self._same_keyboard(reg))]

    async def ask_profile_name(self, reg: FlowRecord, lead: str | None) -> list[Reply]:
        body = self.texts(reg).setup.ask_profile_name.format(number=self._number(reg))
        return self._ask(reg, body, lead)

    async def ask_profile_about(self, reg: FlowRecord, lead: str | None) -> list[Reply]:
        return self._ask(reg, self.texts(reg).setup.ask_profile_about, lead)

    async def ask_two_fa(self, reg: FlowRecord, lead: str | None) -> list[Reply]:
        texts = self.texts(reg).setup
        body = texts.ask_two_fa.format(number=self._number(reg))
        if read_parts(reg.setup_parts).get(Part.PIN) is PartState.ALREADY:
            body += f"\n{texts.two_fa_replaces}"
        return self._ask(reg, body, lead)

    async def ask_two_fa_again(self, reg: FlowRecord) -> list[Reply]:
        return self._ask(reg, self.texts(reg).setup.ask_two_fa_again)

    async def ask_email(self, reg: FlowRecord, lead: str | None) -> list[Reply]:
        return self._ask(reg, self.texts(reg).setup.ask_email, lead)

    async def ask_email_code(self, reg: FlowRecord) -> list[Reply]:
        return self._ask(reg, self.texts(reg).setup.ask_email_code.format(email=reg.email or "—"))

    # -- moving on --------------------------------------------------------------------------

    async def _next_part(
        self,
        reg: FlowRecord,
        part: Part,
        state: PartState,
        working: WorkingSignal,
    ) -> Outcome:
        """Record what became of `part` and ask for the next one (the summary after the last);
        on the way to the PIN, Z-API is asked whether the number has one already."""
        parts = read_parts(reg.setup_parts)
        parts[part] = state
        recorded = write_parts(parts)
        if part is Part.NAME:
            return await self._step(reg, step=Step.PROFILE_ABOUT.value, setup_parts=recorded)
        if part is Part.ABOUT:
            return await self._to_pin(reg, recorded, working)
        if part is Part.PIN:
            return await self._step(reg, step=Step.EMAIL.value, setup_parts=recorded)
        return await self._summary(reg, recorded)

    async def resume_setup(self, reg: FlowRecord) -> Outcome | None:
        """After a restart cut a set-up call off: where the member goes on (None: at the step,
        asked again)."""
        texts = self.texts(reg)
        if reg.pending_call == "two_fa_check":
            return await self._to_pin(reg, reg.setup_parts, lambda: None)
        if reg.pending_call == "two_fa_set":
            lead = f"{texts.restarted_during_call}\n{texts.setup.two_fa_maybe_set}"
            return await self._step(reg, lead=lead, step=Step.TWO_FA.value)
        return None

    async def _to_pin(self, reg: FlowRecord, recorded: str, working: WorkingSignal) -> Outcome:
        texts = self.texts(reg)
        try:
            has_pin = await self._call(
                reg, "two_fa_check", self.zapi.two_factor_status, working, setup_parts=recorded
            )
        except ZapiError:
            # Not knowing is no reason to stop: a PIN sent at the next step replaces any.
            return await self._step(reg, lead=texts.setup.two_fa_unknown, step=Step.TWO_FA.value)
        if has_pin:
            parts = read_parts(recorded)
            parts[Part.PIN] = PartState.ALREADY
            lead = texts.setup.two_fa_already.format(number=self._number(reg))
            return await self._step(
                reg, lead=lead, step=Step.EMAIL.value, setup_parts=write_parts(parts)
            )
        return await self._step(reg, step=Step.TWO_FA.value)

    async def skip(self, reg: FlowRecord, working: WorkingSignal) -> Outcome:
        step = Step(reg.step)
        self._forget_new_pin(reg)
        part = _PART_OF[step]
        done = read_parts(reg.setup_parts).get(part)
        state: PartState
        if done in (PartState.SET, PartState.ALREADY):
            state = done  # set before Back came here: skipping it now changes nothing
        elif step is Step.EMAIL_CODE:
            state = PartState.UNVERIFIED  # given, but its code not confirmed
        else:
            state = PartState.SKIPPED
        return await self._next_part(reg, part, state, working)

    async def finish_setup(self, reg: FlowRecord) -> Outcome:
        """Finish (or /cancel) in the set-up: it ends here, with what it set."""
        self._forget_new_pin(reg)
        parts = read_parts(reg.setup_parts)
        if Step(reg.step) is Step.EMAIL_CODE:
            parts[Part.EMAIL] = PartState.UNVERIFIED
        return await self._summary(reg, write_parts(parts))

    async def _summary(self, reg: FlowRecord, recorded: str) -> Outcome:
        texts = self.texts(reg)
        parts = read_parts(recorded)
        lines = [
            f"• {texts.setup.setup_part_names[part.value]}: "
            f"{texts.setup.setup_part_states[parts[part].value if part in parts else '']}"
            for part in Part
        ]
        instance = instance_label(texts, reg.instance or "", self.settings.sandboxes)
        body = texts.setup.setup_summary.format(
            number=self._number(reg), instance=instance, parts="\n".join(lines)
        )
        text = f"{body}\n\n{texts.setup.setup_again}"
        outcome = "done" if any(s is not PartState.SKIPPED for s in parts.values()) else "skipped"
        owed = await self.store.end(reg, "setup", outcome, [Reply(text)])
        return Outcome(owed)

    # -- profile ------------------------------------------------------------------------------

    async def receive_profile_name(
        self, reg: FlowRecord, text: str, working: WorkingSignal
    ) -> Outcome:
        name = parse_profile_text(text, PROFILE_NAME_LENGTH)
        if name is None:
            return await self.repeat(reg, self.texts(reg).setup.profile_name_invalid)
        return await self._set_profile(reg, Part.NAME, name, working)

    async def receive_profile_about(
        self, reg: FlowRecord, text: str, working: WorkingSignal
    ) -> Outcome:
        about = parse_profile_text(text, PROFILE_ABOUT_LENGTH)
        if about is None:
            return await self.repeat(reg, self.texts(reg).setup.profile_about_invalid)
        return await self._set_profile(reg, Part.ABOUT, about, working)

    async def _set_profile(
        self, reg: FlowRecord, part: Part, value: str, working: WorkingSignal
    ) -> Outcome:
        call: ZapiCall = "profile_name" if part is Part.NAME else "profile_about"
        endpoint: ValueEndpoint = "profile-name" if part is Part.NAME else "profile-description"

        async def request(instance: InstanceConfig) -> bool:
            return await self.zapi.set_value(instance, endpoint, value)

        try:
            accepted = await self._call(reg, call, request, working)
        except ZapiError as error:
            return await self._failure(reg, error, self._same_keyboard)
        if not accepted:
            return await self.repeat(reg, self.texts(reg).setup.profile_refused)
        return await self._next_part(reg, part, PartState.SET, working)

    def _same_keyboard(self, reg: FlowRecord) -> Keyboard:
        step = Step(reg.step)
        return self._keyboards(reg).setup_step(
            back=step is not Step.PROFILE_NAME, email_again=step is Step.EMAIL_CODE
        )

    # -- the two-step PIN -------------------------------------------------------------------

    def _remember_new_pin(self, reg: FlowRecord, pin: str) -> None:
        # Forgotten also unread: a PIN older than a flow may stay idle answers no flow.
        now = self.clock.now()
        for flow_id in [
            key for key, (_, at) in self._new_pins.items() if now - at > self.idle_timeout
        ]:
            del self._new_pins[flow_id]
        self._new_pins[reg.flow_id] = (pin, now)

    def _forget_new_pin(self, reg: FlowRecord) -> str | None:
        remembered = self._new_pins.pop(reg.flow_id, None)
        return remembered[0] if remembered else None

    async def receive_two_fa(self, reg: FlowRecord, text: str) -> Outcome:
        pin = parse_pin(text)
        if pin is None:
            outcome = await self.repeat(reg, self.texts(reg).setup.two_fa_invalid)
        else:
            self._remember_new_pin(reg, pin)
            outcome = await self._step(reg, step=Step.TWO_FA_AGAIN.value)
        outcome.delete_message = True
        return outcome

    async def confirm_two_fa(self, reg: FlowRecord, text: str, working: WorkingSignal) -> Outcome:
        texts = self.texts(reg)
        pin = parse_pin(text)
        if pin is None:
            outcome = await self.repeat(reg, texts.setup.two_fa_invalid)
            outcome.delete_message = True
            return outcome
        first = self._forget_new_pin(reg)
        if first != pin:
            lead = texts.setup.two_fa_start_over if first is None else texts.setup.two_fa_mismatch
            outcome = await self._step(reg, lead=lead, step=Step.TWO_FA.value)
        else:
            outcome = await self._set_two_fa(reg, pin, working)
        outcome.delete_message = True
        return outcome

    async def _set_two_fa(self, reg: FlowRecord, pin: str, working: WorkingSignal) -> Outcome:
        texts = self.texts(reg)
        try:
            result = await self._call(
                reg,
                "two_fa_set",
                lambda instance: self.zapi.set_two_factor_code(instance, pin),
                working,
            )
        except ZapiError as error:
            # The PIN is not kept: the member sends it again from the start.
            lead = f"{self._failure_lead(reg, error)}\n{texts.setup.send_again_hint}"
            return await self._step(reg, lead=lead, step=Step.TWO_FA.value)
        if not result.success:
            return await self._step(reg, lead=texts.setup.two_fa_refused, step=Step.TWO_FA.value)
        return await self._next_part(reg, Part.PIN, PartState.SET, working)

    # -- the recovery e-mail ------------------------------------------------------------------

    async def receive_email(self, reg: FlowRecord, text: str, working: WorkingSignal) -> Outcome:
        texts = self.texts(reg)
        email = parse_email(text)
        if email is None:
            return await self.repeat(reg, texts.setup.email_invalid)
        try:
            result = await self._call(
                reg, "email_set", lambda instance: self.zapi.set_email(instance, email), working
            )
        except ZapiError as error:
            return await self._failure(reg, error, self._same_keyboard)
        if not result.success:
            return await self.repeat(reg, texts.setup.email_refused)
        return await self._step(reg, step=Step.EMAIL_CODE.value, email=email)

    async def email_again(self, reg: FlowRecord, working: WorkingSignal) -> Outcome:
        texts = self.texts(reg).setup
        email = reg.email or ""
        try:
            result = await self._call(
                reg, "email_set", lambda instance: self.zapi.set_email(instance, email), working
            )
        except ZapiError as error:
            return await self._failure(reg, error, self._same_keyboard)
        said = texts.email_code_resent if result.success else texts.email_refused
        return await self.repeat(reg, said.format(email=email))

    async def receive_email_code(
        self, reg: FlowRecord, text: str, working: WorkingSignal
    ) -> Outcome:
        texts = self.texts(reg)
        code = parse_code(text)
        if code is None:
            return await self.repeat(reg, texts.setup.email_code_invalid)
        try:
            result = await self._call(
                reg,
                "email_verify",
                lambda instance: self.zapi.verify_email(instance, code),
                working,
            )
        except ZapiError as error:
            return await self._failure(reg, error, self._same_keyboard)
        if not result.success:
            return await self.repeat(reg, texts.setup.email_code_wrong)
        return await self._next_part(reg, Part.EMAIL, PartState.SET, working)
