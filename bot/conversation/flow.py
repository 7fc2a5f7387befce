"""The registration flow as a service: checks input, calls Z-API, writes state, says what to reply.

Every step's state is committed to the database together with its replies (the outbox) before
anything is sent, so a crash between two messages never loses a step nor what the member was to
hear of it. Z-API is never called inside a transaction; before each call the flow commits that
the call is under way and makes sure its instance lease outlasts the call.
"""

from __future__ import annotations

import logging
import math
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar

from telegram import InlineKeyboardMarkup

from bot.config import InstanceConfig, Settings
from bot.conversation.errors import zapi_error_lead, zapi_error_text
from bot.conversation.keyboards import Keyboards, format_wait
from bot.conversation.phone import (
    PhoneProblem,
    format_number,
    parse_code,
    parse_ddi,
    parse_international,
    parse_phone,
    parse_pin,
)
from bot.conversation.replies import Reply
from bot.conversation.states import RegistrationStep
from bot.conversation.store import (
    FlowGone,
    FlowStore,
    InstanceBusy,
    LeaseLost,
    OwedMessage,
    ReportedWaits,
    StorageUnavailable,
    TimerScheduler,
)
from bot.conversation.texts import CATALOGS, Catalog, catalog_for
from bot.storage.database import Database
from bot.storage.models import WaitTimer, utcnow
from bot.storage.records import FlowRecord
from bot.zapi import (
    AvailabilityResult,
    CodeRequestResult,
    DeliveryMethod,
    ZapiClient,
    ZapiError,
)

__all__ = [
    "Courier",
    "FlowGone",
    "LeaseLost",
    "Outcome",
    "RegistrationFlow",
    "Reply",
    "StorageUnavailable",
    "TimerScheduler",
]

logger = logging.getLogger(__name__)

Step = RegistrationStep
BusySignal = Callable[[], None]
R = TypeVar("R")
MAX_WRONG_CODES = 3
APPEAL_LENGTH = range(10, 501)
# Beyond the call's own time limit, how long a lease taken for a Z-API call lasts: room for the
# step's commit after the answer.
CALL_LEASE_MARGIN = timedelta(seconds=30)
_CAPTCHA_ANSWER = re.compile(r"[A-Za-z0-9]{1,20}")

# The Z-API call a flow has under way, as written in `pending_call` before the call.
ZapiCall = Literal[
    "check", "request_code", "captcha", "confirm_code", "device", "confirm_pin", "recover_pin",
    "appeal",
]  # fmt: skip


def _typed(text: str, words: Callable[[Catalog], frozenset[str]]) -> bool:
    """Whether `text` is one of the words of any language (members mix them)."""
    word = text.strip().casefold()
    return any(word in words(catalog) for catalog in CATALOGS.values())


class Courier(Protocol):
    """Delivers committed messages (at least once) without the caller waiting for Telegram."""

    def post(self, owed: Sequence[OwedMessage]) -> None: ...


@dataclass(slots=True)
class Outcome:
    """What to tell the member, and the step the flow is now at (None: no flow any more).

    `owed`: messages committed with the step (deliver them, at least once); `replies`: messages
    about nothing committed (send them after, once)."""

    step: RegistrationStep | None
    owed: list[OwedMessage] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    delete_message: bool = False


class RegistrationFlow:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        zapi: ZapiClient,
        scheduler: TimerScheduler,
    ) -> None:
        self.settings = settings
        self.zapi = zapi
        self.store = FlowStore(database, idle_timeout=self.idle_timeout, scheduler=scheduler)
        self.courier: Courier | None = None  # wired by the application
        self._call_lease = timedelta(seconds=settings.zapi_timeout_seconds) + CALL_LEASE_MARGIN

    # -- reading state ---------------------------------------------------------------------

    @property
    def several_instances(self) -> bool:
        return len(self.settings.instances) > 1

    async def load(self, chat_id: int) -> FlowRecord | None:
        return await self.store.load(chat_id)

    @property
    def idle_timeout(self) -> timedelta:
        return timedelta(seconds=self.settings.conversation_timeout_seconds)

    @staticmethod
    def texts(reg: FlowRecord) -> Catalog:
        return catalog_for(reg.language)

    def _instance(self, reg: FlowRecord) -> InstanceConfig:
        instance = self.settings.instance(reg.instance or "")
        if instance is None:
            # The instance was removed from ZAPI_INSTANCES while this flow was open.
            raise FlowGone(reg.chat_id)
        return instance

    def _number(self, reg: FlowRecord) -> str:
        return format_number(reg.ddi or "", reg.phone or "")

    def _keyboards(self, reg: FlowRecord) -> Keyboards:
        return Keyboards(self.texts(reg), reg)

    # -- committing a step -----------------------------------------------------------------

    async def _step(
        self,
        reg: FlowRecord,
        reply: Callable[[FlowRecord], list[Reply]] | None = None,
        *,
        lead: str | None = None,
        before: Sequence[Reply] = (),
        audit: tuple[str, str] | None = None,
        waits: ReportedWaits | None = None,
        **changes: Any,
    ) -> Outcome:
        """Commit the step's changes with what it says, in one transaction: `reply(new state)`,
        else the question of the step the flow moves to (`lead` opens the method question;
        `before` goes first). Committing clears the call under way."""
        changes.setdefault("pending_call", None)
        change = self.store.change(reg, audit=audit, waits=waits, **changes)
        new = change.after
        if reply is not None:
            replies = reply(new)
        else:
            replies = await self.prompt(new, pending=change.ready_at, lead=lead)
        owed = await self.store.commit(change, [*before, *replies])
        return Outcome(Step(new.step), owed)

    async def _end(
        self,
        reg: FlowRecord,
        action: str,
        outcome: str,
        text: str,
        *,
        by: int | None = None,
    ) -> Outcome:
        owed = await self.store.end(reg, action, outcome, [Reply(text)], by=by)
        return Outcome(None, owed)

    async def _call(
        self,
        reg: FlowRecord,
        call: ZapiCall,
        request: Callable[[InstanceConfig], Awaitable[R]],
        busy: BusySignal,
        **changes: Any,
    ) -> R:
        """Make a Z-API call for the flow: first commit that it is under way (with `changes`)
        and a lease that outlasts it, then call. `reg` is the flow as committed before the call.

        Raises LeaseLost (the instance was taken: nothing is sent), StorageUnavailable (nothing
        is sent either) or the call's ZapiError."""
        instance = self._instance(reg)
        await self.store.save(reg, pending_call=call, hold_for=self._call_lease, **changes)
        busy()
        return await request(instance)

    async def _failure(
        self,
        reg: FlowRecord,
        error: ZapiError,
        keyboard: Callable[[FlowRecord], InlineKeyboardMarkup | None],
        *,
        delete_message: bool = False,
        **changes: Any,
    ) -> Outcome:
        """A Z-API call failed: the member keeps their place (and the attempt is activity)."""
        text = self._error(reg, error)
        outcome = await self._step(reg, lambda new: [Reply(text, keyboard(new))], **changes)
        outcome.delete_message = delete_message
        return outcome

    def _error(self, reg: FlowRecord, error: ZapiError) -> str:
        # The type and endpoint only: Z-API's words may hold what the member typed.
        logger.warning(
            "Z-API %s failed for chat %s: %s", error.endpoint, reg.chat_id, type(error).__name__
        )
        return zapi_error_text(
            error, self.texts(reg), timeout_seconds=self.settings.zapi_timeout_seconds
        )

    def _unsaved(
        self, reg: FlowRecord, text: str, keyboard: InlineKeyboardMarkup | None
    ) -> Outcome:
        """Z-API acted but the database refused the step: say honestly what Z-API did."""
        return Outcome(Step(reg.step), replies=[Reply(text, keyboard)])

    # -- questions -------------------------------------------------------------------------

    def _indicator(self, reg: FlowRecord, step: RegistrationStep) -> str:
        order = [Step.INSTANCE] if self.several_instances else []
        order += [Step.DDI, Step.PHONE, Step.METHOD, Step.CODE]
        grouped = {
            Step.PHONE_CONFIRM: Step.PHONE,
            Step.BANNED: Step.PHONE,
            Step.APPEAL: Step.PHONE,
            Step.CAPTCHA: Step.METHOD,
            Step.DEVICE: Step.CODE,
            Step.PIN: Step.CODE,
        }
        position = order.index(grouped.get(step, step)) + 1
        texts = self.texts(reg)
        return texts.step_indicator.format(
            n=position, total=len(order), name=texts.step_names[step.value]
        )

    def _question(
        self, reg: FlowRecord, body: str, keyboard: InlineKeyboardMarkup | None = None
    ) -> Reply:
        return Reply(f"{self._indicator(reg, Step(reg.step))}\n{body}", keyboard)

    async def prompt(
        self,
        reg: FlowRecord,
        *,
        pending: Mapping[str, datetime | None] | None = None,
        lead: str | None = None,
    ) -> list[Reply]:
        """The question of the step the flow is at (to resume, go back, or repeat); `pending`:
        waits about to be committed with it; `lead` opens the method question."""
        texts, keyboards, step = self.texts(reg), self._keyboards(reg), Step(reg.step)
        number = self._number(reg) if reg.phone else ""  # the first steps have none yet
        if step is Step.INSTANCE:
            held = await self.store.held_instances()
            busy = [name for name, chat in held.items() if chat != reg.chat_id]
            names = [instance.name for instance in self.settings.instances]
            return [self._question(reg, texts.ask_instance, keyboards.instances(names, busy))]
        if step is Step.DDI:
            return [
                self._question(
                    reg, texts.ask_ddi, keyboards.navigation(back=self.several_instances)
                )
            ]
        if step is Step.PHONE:
            return [
                self._question(reg, texts.ask_phone.format(ddi=reg.ddi), keyboards.navigation())
            ]
        if step is Step.PHONE_CONFIRM:
            body = texts.phone_confirm.format(number=number, ddi=reg.ddi)
            return [self._question(reg, body, keyboards.yes_no())]
        if step is Step.BANNED:
            template = texts.banned_appeal if reg.appeal_token else texts.banned_no_appeal
            keyboard = keyboards.banned(can_appeal=bool(reg.appeal_token))
            return [self._question(reg, template.format(number=number), keyboard)]
        if step is Step.APPEAL:
            return [self._question(reg, texts.ask_appeal, keyboards.navigation())]
        if step is Step.METHOD:
            return [await self._method_question(reg, lead, pending)]
        if step is Step.CAPTCHA:
            # The picture is not stored; "Didn't get it" requests the code (and a picture) again.
            return [self._question(reg, texts.captcha_resume, keyboards.captcha())]
        if step is Step.CODE:
            return [self._question(reg, texts.ask_code.format(number=number), keyboards.code())]
        if step is Step.DEVICE:
            return [
                self._question(reg, texts.device_confirm.format(number=number), keyboards.device())
            ]
        return [self._question(reg, texts.ask_pin, keyboards.pin())]

    def _blocked(self, reg: FlowRecord) -> set[DeliveryMethod]:
        return {DeliveryMethod(value) for value in reg.blocked_methods.split(",") if value}

    def _method_keyboard_for(
        self, reg: FlowRecord, waits: dict[DeliveryMethod, int]
    ) -> InlineKeyboardMarkup:
        return self._keyboards(reg).methods(
            waits, blocked=self._blocked(reg), wa_old_eligible=reg.wa_old_eligible
        )

    async def _method_question(
        self,
        reg: FlowRecord,
        lead: str | None = None,
        pending: Mapping[str, datetime | None] | None = None,
    ) -> Reply:
        texts = self.texts(reg)
        body = texts.ask_method.format(number=self._number(reg))
        if reg.wa_old_eligible is not False:
            body += f"\n\n{texts.popup_note}"
        if lead:
            body = f"{lead}\n\n{body}"
        waits = await self.store.remaining_waits(reg, pending)
        return self._question(reg, body, self._method_keyboard_for(reg, waits))

    def _waits_text(self, reg: FlowRecord, waits: dict[DeliveryMethod, int]) -> str:
        texts = self.texts(reg)
        lines = [
            texts.wait_line.format(
                method=texts.method_names[method.value], wait=format_wait(seconds, texts)
            )
            for method, seconds in waits.items()
            if seconds > 0
        ]
        return "\n".join([texts.waits_header, *lines])

    # -- entry, exit, navigation -----------------------------------------------------------

    async def start(self, chat_id: int, user_id: int, language_code: str | None) -> Outcome:
        texts = catalog_for(language_code)
        several = self.several_instances
        new = FlowRecord(
            chat_id=chat_id,
            user_id=user_id,
            flow_id=secrets.token_hex(4),
            language=texts.language,
            step=Step.INSTANCE.value if several else Step.DDI.value,
            instance=None if several else self.settings.instances[0].name,
        )
        opened = await self.store.open(new, await self.prompt(new))
        if opened is None:
            return Outcome(None, replies=[Reply(texts.all_instances_busy)])
        flow, owed = opened
        if not flow.resumed:
            return Outcome(Step(new.step), owed)
        reg = flow.registration
        replies = [Reply(self.texts(reg).resumed), *await self.prompt(reg)]
        return Outcome(Step(reg.step), replies=replies)

    async def cancel(self, chat_id: int, language_code: str | None) -> Outcome:
        reg = await self.store.load(chat_id)
        if reg is None:
            return Outcome(None, replies=[Reply(catalog_for(language_code).nothing_to_cancel)])
        return await self._end(reg, "cancel", "cancelled", self.texts(reg).cancelled)

    async def status(self, chat_id: int, language_code: str | None) -> Outcome:
        reg = await self.store.load(chat_id)
        if reg is None:
            return Outcome(None, replies=[Reply(catalog_for(language_code).status_none)])
        texts = self.texts(reg)
        waits = await self.store.remaining_waits(reg)
        wait_text = (
            ", ".join(
                f"{texts.method_names[m.value]} {format_wait(s, texts)}" for m, s in waits.items()
            )
            or texts.status_waits_none
        )
        body = texts.status.format(
            step=self._indicator(reg, Step(reg.step)),
            instance=reg.instance or "—",
            number=self._number(reg) if reg.phone else (f"+{reg.ddi}" if reg.ddi else "—"),
            waits=wait_text,
        )
        return Outcome(Step(reg.step), replies=[Reply(body)])

    async def back(self, reg: FlowRecord) -> Outcome:
        previous = Step(reg.step).previous(several_instances=self.several_instances)
        if previous is None:
            return await self._step(reg, before=[Reply(self.texts(reg).first_step)])
        if previous is Step.INSTANCE:
            return await self._step(reg, step=previous.value, instance=None)
        if previous in (Step.PHONE, Step.DDI):
            return await self._step(
                reg, step=previous.value, appeal_token=None, captcha_pending=False
            )
        return await self._step(reg, step=previous.value, captcha_pending=False)

    async def repeat(self, reg: FlowRecord, hint: str | None = None) -> Outcome:
        """Keep the member where they are, with a hint of what the step expects (any message,
        even a wrong one, is activity)."""
        texts = self.texts(reg)
        message = hint if hint is not None else texts.step_hints[reg.step]
        change = self.store.change(reg, pending_call=None)
        keyboard = (await self.prompt(change.after))[-1].keyboard
        owed = await self.store.commit(change, [Reply(message, keyboard)])
        return Outcome(Step(change.after.step), owed)

    async def idle_chats(self) -> list[int]:
        return await self.store.idle_chats()

    async def expire_if_idle(self, chat_id: int) -> list[OwedMessage]:
        """End the chat's flow if it is still idle (run it in the chat's turn); what is owed."""

        def say(reg: FlowRecord) -> list[Reply]:
            texts = self.texts(reg)
            duration = format_wait(round(self.settings.conversation_timeout_seconds), texts)
            return [Reply(texts.idle_timeout.format(duration=duration))]

        ended = await self.store.end_if_idle(chat_id, say)
        return ended[1] if ended is not None else []

    async def lease_lost(self, reg: FlowRecord, instance: str) -> Outcome:
        """The flow's instance was taken while the flow lived on: it stops here."""
        logger.warning("Chat %s lost its lease on %s; its flow ends", reg.chat_id, instance)
        text = self.texts(reg).instance_lost.format(instance=instance)
        return await self._end(reg, "lease", "lost", text)

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

    # -- steps -----------------------------------------------------------------------------

    async def choose_instance(self, reg: FlowRecord, name: str) -> Outcome:
        texts = self.texts(reg)
        wanted = name.strip().casefold()
        instance = next(
            (item for item in self.settings.instances if item.name.casefold() == wanted), None
        )
        if (
            instance is None
            and wanted.isascii()
            and wanted.isdigit()
            and int(wanted) < len(self.settings.instances)
        ):
            instance = self.settings.instances[int(wanted)]
        if instance is None:
            return await self.repeat(reg, texts.unknown_instance)
        try:
            return await self._step(reg, step=Step.DDI.value, instance=instance.name)
        except InstanceBusy:
            question = await self.prompt(reg)
            busy = Reply(texts.instance_busy.format(instance=instance.name), question[0].keyboard)
            return Outcome(Step(reg.step), replies=[busy])

    async def receive_ddi(self, reg: FlowRecord, text: str, busy: BusySignal) -> Outcome:
        whole = parse_international(text)
        if whole is not None:
            ddi, national = whole
            reg = await self.store.save(reg, ddi=ddi, step=Step.PHONE.value)
            return await self.receive_phone(reg, national, busy)
        parsed_ddi = parse_ddi(text)
        if parsed_ddi is None:
            return await self.repeat(reg, self.texts(reg).bad_ddi)
        return await self._step(reg, ddi=parsed_ddi, step=Step.PHONE.value)

    async def receive_phone(self, reg: FlowRecord, text: str, busy: BusySignal) -> Outcome:
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
        return await self.check_availability(reg, busy, phone=parsed.digits)

    async def phone_confirmation(self, reg: FlowRecord, text: str, busy: BusySignal) -> Outcome:
        if _typed(text, lambda catalog: catalog.yes_words):
            return await self.confirm_phone(reg, True, busy)
        if _typed(text, lambda catalog: catalog.no_words):
            return await self.confirm_phone(reg, False, busy)
        return await self.repeat(reg, self.texts(reg).phone_confirm_hint)

    async def confirm_phone(self, reg: FlowRecord, use_it: bool, busy: BusySignal) -> Outcome:
        if use_it:
            return await self.check_availability(reg, busy)
        return await self._step(reg, step=Step.PHONE.value, phone=None)

    async def check_availability(
        self,
        reg: FlowRecord,
        busy: BusySignal,
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
                busy,
                step=Step.PHONE.value,
                phone=number,
            )
        except ZapiError as error:
            return await self._failure(reg, error, lambda new: self._keyboards(new).retry())
        return await self._after_availability(reg, result, before)

    async def _after_availability(
        self, reg: FlowRecord, result: AvailabilityResult, before: Sequence[Reply]
    ) -> Outcome:
        texts = self.texts(reg)
        number = self._number(reg)
        if result.blocked:
            return await self._step(
                reg,
                before=before,
                audit=("check", "banned"),
                step=Step.BANNED.value,
                appeal_token=result.appeal_token,
            )
        if not result.available:
            logger.info("Number not available for chat %s (reason: %s)", reg.chat_id, result.reason)
            owed = await self.store.end(
                reg,
                "check",
                "unavailable",
                [*before, Reply(texts.unavailable.format(number=number))],
            )
            return Outcome(None, owed)
        return await self._step(
            reg,
            before=before,
            audit=("check", "available"),
            waits=ReportedWaits(result.waits),
            step=Step.METHOD.value,
            wa_old_eligible=result.wa_old_eligible,
            appeal_token=None,
            wrong_code_count=0,
            captcha_pending=False,
            method=None,
        )

    # banned → appeal

    async def banned_reply(self, reg: FlowRecord, text: str) -> Outcome:
        if _typed(text, lambda catalog: catalog.appeal_words):
            return await self.start_appeal(reg)
        return await self.repeat(reg, self.texts(reg).banned_hint)

    async def start_appeal(self, reg: FlowRecord) -> Outcome:
        if not reg.appeal_token:
            return Outcome(Step(reg.step), replies=await self.prompt(reg))
        return await self._step(reg, step=Step.APPEAL.value)

    async def receive_appeal(self, reg: FlowRecord, text: str, busy: BusySignal) -> Outcome:
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
                busy,
            )
        except ZapiError as error:
            return await self.repeat(reg, self._error(reg, error))
        if result.success and (result.status or "").upper() == "UNBANNED":
            reg = await self.store.save(
                reg,
                audit=("appeal", "unbanned"),
                step=Step.PHONE.value,
                appeal_token=None,
                pending_call=None,
            )
            return await self.check_availability(reg, busy, before=[Reply(texts.appeal_unbanned)])
        outcome = "in_review" if result.success else "refused"
        message = texts.appeal_in_review if result.success else texts.appeal_refused
        return await self._end(reg, "appeal", outcome, message)

    async def change_number(self, reg: FlowRecord) -> Outcome:
        return await self._step(
            reg,
            step=Step.PHONE.value,
            phone=None,
            method=None,
            appeal_token=None,
            captcha_pending=False,
            wrong_code_count=0,
            blocked_methods="",
            wa_old_eligible=None,
        )

    # method → code request

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
        return await self._step(reg, step=Step.METHOD.value, captcha_pending=False)

    async def method_reply(self, reg: FlowRecord, text: str, busy: BusySignal) -> Outcome:
        """A typed answer at the method step: a method, or the code of an earlier request that
        arrived after all (after "Didn't get it", say)."""
        if reg.method is not None and self._parse_method(text) is None:
            code = parse_code(text)
            if code is not None:
                return await self.receive_code(reg, text, busy)
        return await self.choose_method(reg, text, busy)

    async def choose_method(self, reg: FlowRecord, text: str, busy: BusySignal) -> Outcome:
        texts = self.texts(reg)
        method = self._parse_method(text)
        if method is None:
            return await self.repeat(reg, texts.method_unknown)
        name = texts.method_names[method.value]
        waits = await self.store.remaining_waits(reg)
        if method in self._blocked(reg):
            refusal = texts.method_blocked.format(method=name)
        elif method is DeliveryMethod.WA_OLD and reg.wa_old_eligible is False:
            refusal = texts.method_not_eligible.format(method=name)
        elif waits.get(method, 0) > 0:
            wait = format_wait(waits[method], texts)
            refusal = texts.method_waiting.format(method=name, wait=wait)
        else:
            return await self._request_code(reg, method, busy)
        return Outcome(
            Step(reg.step), replies=[Reply(refusal, self._method_keyboard_for(reg, waits))]
        )

    async def _request_code(
        self, reg: FlowRecord, method: DeliveryMethod, busy: BusySignal
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
                busy,
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
            lead = zapi_error_lead(error, texts, timeout_seconds=self.settings.zapi_timeout_seconds)
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
        change = self.store.change(
            reg,
            audit=("request_code", "failed"),
            step=Step.METHOD.value,
            method=previous.method,
            pending_call=None,
        )
        question_waits = await self.store.remaining_waits(change.after)
        keyboard = self._method_keyboard_for(change.after, question_waits)
        owed = await self.store.commit(change, [Reply(text, keyboard)])
        return Outcome(Step.METHOD, owed)

    async def _after_code_request(
        self,
        reg: FlowRecord,
        method: DeliveryMethod,
        number: str,
        result: CodeRequestResult,
    ) -> Outcome:
        texts = self.texts(reg)
        if result.captcha is not None:
            photo = result.captcha.data

            def captcha(new: FlowRecord) -> list[Reply]:
                caption = f"{self._indicator(new, Step.CAPTCHA)}\n{texts.captcha_caption}"
                return [Reply(caption, self._keyboards(new).captcha(), photo=photo)]

            return await self._step(
                reg,
                captcha,
                audit=("request_code", "captcha"),
                step=Step.CAPTCHA.value,
                captcha_pending=True,
            )
        if result.blocked:
            return await self._step(reg, audit=("request_code", "banned"), step=Step.BANNED.value)
        reported = ReportedWaits(result.waits, result.retry_after, method)
        if result.success:
            body = texts.code_sent[method.value].format(number=number)
            return await self._step(
                reg,
                lambda new: [self._question(new, body, self._keyboards(new).code())],
                audit=("request_code", f"sent_{method.value}"),
                waits=reported,
                wrong_code_count=0,
            )
        told_to_wait = any(seconds > 0 for seconds in reported.seconds().values())
        change = self.store.change(
            reg,
            audit=("request_code", "wait" if told_to_wait else "refused"),
            waits=reported,
            step=Step.METHOD.value,
            pending_call=None,
        )
        waits = await self.store.remaining_waits(change.after, change.ready_at)
        if waits:
            lead = self._waits_text(reg, waits)
        else:
            logger.info("Code request refused for chat %s (reason: %s)", reg.chat_id, result.reason)
            lead = texts.request_failed.format(method=texts.method_names[method.value])
        question = await self._method_question(change.after, lead, change.ready_at)
        owed = await self.store.commit(change, [question])
        return Outcome(Step.METHOD, owed)

    async def receive_captcha(self, reg: FlowRecord, text: str, busy: BusySignal) -> Outcome:
        texts = self.texts(reg)
        answer = re.sub(r"\s", "", text)
        if not _CAPTCHA_ANSWER.fullmatch(answer):
            return await self.repeat(reg, texts.captcha_bad_input)
        try:
            result = await self._call(
                reg, "captcha", lambda instance: self.zapi.respond_captcha(instance, answer), busy
            )
        except ZapiError as error:
            return await self.repeat(reg, self._error(reg, error))
        if not result.success:
            reg = await self.store.save(reg, audit=("captcha", "wrong"), pending_call=None)
            return await self.repeat(reg, texts.captcha_wrong)
        method = texts.method_names.get(reg.method or "", reg.method or "")
        body = texts.captcha_ok.format(method=method)
        return await self._step(
            reg,
            lambda new: [self._question(new, body, self._keyboards(new).code())],
            audit=("captcha", "solved"),
            step=Step.CODE.value,
            captcha_pending=False,
        )

    # code → PIN / device transfer → connected

    async def receive_code(self, reg: FlowRecord, text: str, busy: BusySignal) -> Outcome:
        texts = self.texts(reg)
        code = parse_code(text)
        if code is None:
            return await self.repeat(reg, texts.bad_code)
        try:
            result = await self._call(
                reg,
                "confirm_code",
                lambda instance: self.zapi.confirm_code(instance, code),
                busy,
                step=Step.CODE.value,
            )
        except ZapiError as error:
            return await self.repeat(reg, self._error(reg, error))
        if result.success:
            return await self._connected(reg)
        if result.confirm_security_code:
            return await self._step(
                reg, audit=("confirm_code", "pin_required"), step=Step.PIN.value
            )
        if result.device_confirm:
            return await self._step(
                reg, audit=("confirm_code", "device_confirm"), step=Step.DEVICE.value
            )
        count = reg.wrong_code_count + 1
        message = (
            texts.wrong_code_many.format(count=count)
            if count >= MAX_WRONG_CODES
            else texts.wrong_code
        )
        return await self._step(
            reg,
            lambda new: [Reply(message, self._keyboards(new).code())],
            audit=("confirm_code", "wrong_code"),
            wrong_code_count=count,
        )

    async def device_reply(self, reg: FlowRecord, text: str, busy: BusySignal) -> Outcome:
        if _typed(text, lambda catalog: catalog.done_words):
            return await self.device_accepted(reg, busy)
        return await self.repeat(reg, self.texts(reg).device_hint)

    async def device_accepted(self, reg: FlowRecord, busy: BusySignal) -> Outcome:
        texts = self.texts(reg)
        try:
            result = await self._call(
                reg, "device", lambda instance: self.zapi.device_transfer_confirmed(instance), busy
            )
        except ZapiError as error:
            return await self._failure(reg, error, lambda new: self._keyboards(new).device())
        if result.success:
            return await self._connected(reg)
        return await self._step(
            reg,
            lambda new: [Reply(texts.device_not_yet, self._keyboards(new).device())],
            audit=("device_transfer", "not_yet"),
        )

    async def receive_pin(self, reg: FlowRecord, text: str, busy: BusySignal) -> Outcome:
        texts = self.texts(reg)
        pin = parse_pin(text)
        if pin is None:
            outcome = await self.repeat(reg, texts.bad_pin)
            outcome.delete_message = True
            return outcome
        try:
            result = await self._call(
                reg, "confirm_pin", lambda instance: self.zapi.confirm_pin(instance, pin), busy
            )
        except ZapiError as error:
            return await self._failure(
                reg, error, lambda new: self._keyboards(new).pin(), delete_message=True
            )
        if result.success:
            outcome = await self._connected(reg)
        elif result.device_confirm:
            outcome = await self._step(
                reg, audit=("confirm_pin", "device_confirm"), step=Step.DEVICE.value
            )
        else:
            outcome = await self._step(
                reg,
                lambda new: [Reply(texts.wrong_pin, self._keyboards(new).pin())],
                audit=("confirm_pin", "wrong_pin"),
            )
        outcome.delete_message = True
        return outcome

    async def forgot_pin(self, reg: FlowRecord, busy: BusySignal) -> Outcome:
        texts = self.texts(reg)
        try:
            result = await self._call(
                reg, "recover_pin", lambda instance: self.zapi.recover_pin(instance), busy
            )
        except ZapiError as error:
            return await self._failure(reg, error, lambda new: self._keyboards(new).pin())
        message = texts.pin_recovery_sent if result.success else texts.pin_recovery_failed
        try:
            return await self._step(
                reg,
                lambda new: [Reply(message, self._keyboards(new).pin())],
                audit=("recover_pin", "sent" if result.success else "failed"),
            )
        except StorageUnavailable:
            return self._unsaved(reg, message, None)

    async def retry(self, reg: FlowRecord, busy: BusySignal) -> Outcome:
        """The "Try again" button: repeats the failed availability check, else re-asks."""
        if Step(reg.step) is Step.PHONE and reg.phone:
            return await self.check_availability(reg, busy)
        return Outcome(Step(reg.step), replies=await self.prompt(reg))

    async def _connected(self, reg: FlowRecord) -> Outcome:
        texts = self.texts(reg)
        message = texts.connected.format(instance=reg.instance, number=self._number(reg))
        try:
            return await self._end(reg, "register", "connected", message)
        except StorageUnavailable:
            # Z-API connected the number: that is what the member must hear.
            logger.error("Chat %s connected but the database refused to record it", reg.chat_id)
            return Outcome(None, replies=[Reply(message)])

    # -- wait timers -----------------------------------------------------------------------

    async def due_notices(self) -> tuple[list[OwedMessage], datetime | None]:
        """Claim every ended wait (exactly once) and commit, per chat, which methods are usable
        now; the notices and when the next wait ends.

        A chat is told only while its flow is still choosing a method or waiting for the code
        for that number.
        """
        return await self.store.claim_ended_waits(self._wait_notices)

    def _wait_notices(
        self,
        claimed: Sequence[WaitTimer],
        regs: dict[int, FlowRecord],
        pending: Sequence[WaitTimer],
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
        now = utcnow()
        pending_by_number: dict[tuple[str, str, str], list[WaitTimer]] = {}
        for timer in pending:
            pending_by_number.setdefault((timer.instance, timer.ddi, timer.phone), []).append(timer)
        notices = []
        for chat_id, methods in ended.items():
            reg = regs[chat_id]
            if Step(reg.step) not in (Step.METHOD, Step.CODE):
                continue
            usable = [m for m in DeliveryMethod if m in methods and m not in self._blocked(reg)]
            if DeliveryMethod.WA_OLD in usable and reg.wa_old_eligible is False:
                usable.remove(DeliveryMethod.WA_OLD)
            if not usable:
                continue
            number = (reg.instance or "", reg.ddi or "", reg.phone or "")
            waits = {
                DeliveryMethod(timer.method): math.ceil((timer.ready_at - now).total_seconds())
                for timer in pending_by_number.get(number, [])
            }
            texts = self.texts(reg)
            names = " / ".join(texts.method_names[m.value] for m in usable)
            reply = Reply(
                texts.wait_over.format(methods=names), self._method_keyboard_for(reg, waits)
            )
            notices.append((chat_id, reply))
        return notices
