"""The registration flow as a service: checks input, calls Z-API, writes state, says what to reply.

Every step's state is committed to the database *before* the reply is returned (write-through), so
a crash between two messages never loses a step. Z-API is never called inside a transaction.
"""

from __future__ import annotations

import logging
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

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
from bot.conversation.states import RegistrationStep
from bot.conversation.store import (
    FlowGone,
    FlowStore,
    InstanceBusy,
    ReportedWaits,
    TimerScheduler,
)
from bot.conversation.texts import CATALOGS, Catalog, catalog_for
from bot.storage.database import Database
from bot.storage.models import WaitTimer, utcnow
from bot.storage.records import FlowRecord
from bot.zapi import (
    AvailabilityResult,
    DeliveryMethod,
    ZapiClient,
    ZapiError,
    ZapiTimeout,
)

__all__ = ["FlowGone", "Outcome", "RegistrationFlow", "Reply", "TimerScheduler", "WaitOverNotice"]

logger = logging.getLogger(__name__)

Step = RegistrationStep
BusySignal = Callable[[], None]
MAX_WRONG_CODES = 3
NOTICE_RETRY = timedelta(seconds=10)
APPEAL_LENGTH = range(10, 501)
_CAPTCHA_ANSWER = re.compile(r"[A-Za-z0-9]{1,20}")


def _typed(text: str, words: Callable[[Catalog], frozenset[str]]) -> bool:
    """Whether `text` is one of the words of any language (members mix them)."""
    word = text.strip().casefold()
    return any(word in words(catalog) for catalog in CATALOGS.values())


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    keyboard: InlineKeyboardMarkup | None = None
    photo: bytes | None = None


@dataclass(slots=True)
class Outcome:
    """What to tell the member, and the step the flow is now at (None: no flow any more)."""

    replies: list[Reply]
    step: RegistrationStep | None
    delete_message: bool = False
    language: str = "en"


@dataclass(frozen=True, slots=True)
class WaitOverNotice:
    chat_id: int
    reply: Reply
    timer_ids: tuple[int, ...]


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

    def _outcome(
        self, reg: FlowRecord, replies: list[Reply], *, delete_message: bool = False
    ) -> Outcome:
        return Outcome(
            replies, Step(reg.step), delete_message=delete_message, language=reg.language
        )

    async def _failure(
        self,
        reg: FlowRecord,
        error: ZapiError,
        keyboard: InlineKeyboardMarkup | None,
        *,
        delete_message: bool = False,
    ) -> Outcome:
        """A Z-API call failed: the member keeps their place (and the attempt is activity)."""
        reg = await self.store.save(reg)
        return self._outcome(
            reg, [Reply(self._error(reg, error), keyboard)], delete_message=delete_message
        )

    def _error(self, reg: FlowRecord, error: ZapiError) -> str:
        logger.warning("Z-API call failed for chat %s: %s", reg.chat_id, error)
        return zapi_error_text(
            error, self.texts(reg), timeout_seconds=self.settings.zapi_timeout_seconds
        )

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

    async def prompt(self, reg: FlowRecord) -> list[Reply]:
        """The question of the step the flow is at (to resume, go back, or repeat)."""
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
            return [await self._method_question(reg)]
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

    async def _method_keyboard(self, reg: FlowRecord) -> InlineKeyboardMarkup:
        return self._method_keyboard_for(reg, await self.store.remaining_waits(reg))

    def _method_keyboard_for(
        self, reg: FlowRecord, waits: dict[DeliveryMethod, int]
    ) -> InlineKeyboardMarkup:
        return self._keyboards(reg).methods(
            waits, blocked=self._blocked(reg), wa_old_eligible=reg.wa_old_eligible
        )

    async def _method_question(self, reg: FlowRecord, lead: str | None = None) -> Reply:
        texts = self.texts(reg)
        body = texts.ask_method.format(number=self._number(reg))
        if reg.wa_old_eligible is not False:
            body += f"\n\n{texts.popup_note}"
        if lead:
            body = f"{lead}\n\n{body}"
        return self._question(reg, body, await self._method_keyboard(reg))

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
        opened = await self.store.open(new)
        if opened is None:
            return Outcome([Reply(texts.all_instances_busy)], None)
        resumed = [Reply(texts.resumed)] if opened.resumed else []
        reg = opened.registration
        return self._outcome(reg, [*resumed, *await self.prompt(reg)])

    async def cancel(self, chat_id: int, language_code: str | None) -> Outcome:
        reg = await self.store.load(chat_id)
        if reg is None:
            return Outcome([Reply(catalog_for(language_code).nothing_to_cancel)], None)
        await self.store.end(reg, "cancel", "cancelled")
        return Outcome([Reply(self.texts(reg).cancelled)], None, language=reg.language)

    async def status(self, chat_id: int, language_code: str | None) -> Outcome:
        reg = await self.store.load(chat_id)
        if reg is None:
            return Outcome([Reply(catalog_for(language_code).status_none)], None)
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
        return self._outcome(reg, [Reply(body)])

    async def back(self, reg: FlowRecord) -> Outcome:
        previous = Step(reg.step).previous(several_instances=self.several_instances)
        if previous is None:
            return self._outcome(reg, [Reply(self.texts(reg).first_step), *await self.prompt(reg)])
        if previous is Step.INSTANCE:
            reg = await self.store.save(reg, step=previous.value, instance=None)
        elif previous in (Step.PHONE, Step.DDI):
            reg = await self.store.save(
                reg, step=previous.value, appeal_token=None, captcha_pending=False
            )
        else:
            reg = await self.store.save(reg, step=previous.value, captcha_pending=False)
        return self._outcome(reg, await self.prompt(reg))

    async def repeat(self, reg: FlowRecord, hint: str | None = None) -> Outcome:
        """Keep the member where they are, with a hint of what the step expects."""
        texts = self.texts(reg)
        reg = await self.store.save(reg)  # any message, even a wrong one, is activity
        message = hint if hint is not None else texts.step_hints[reg.step]
        return self._outcome(reg, [Reply(message, await self._current_keyboard(reg))])

    async def _current_keyboard(self, reg: FlowRecord) -> InlineKeyboardMarkup | None:
        replies = await self.prompt(reg)
        return replies[-1].keyboard if replies else None

    async def idle_chats(self) -> list[int]:
        return await self.store.idle_chats()

    async def expire_if_idle(self, chat_id: int) -> Reply | None:
        """End the chat's flow if it is still idle (run it in the chat's turn); what to say."""
        reg = await self.store.end_if_idle(chat_id)
        if reg is None:
            return None
        texts = self.texts(reg)
        duration = format_wait(round(self.settings.conversation_timeout_seconds), texts)
        return Reply(texts.idle_timeout.format(duration=duration))

    # -- steps -----------------------------------------------------------------------------

    async def choose_instance(self, reg: FlowRecord, name: str) -> Outcome:
        texts = self.texts(reg)
        wanted = name.strip().casefold()
        instance = next(
            (item for item in self.settings.instances if item.name.casefold() == wanted), None
        )
        if instance is None and wanted.isdigit() and int(wanted) < len(self.settings.instances):
            instance = self.settings.instances[int(wanted)]
        if instance is None:
            return await self.repeat(reg, texts.unknown_instance)
        try:
            reg = await self.store.save(reg, step=Step.DDI.value, instance=instance.name)
        except InstanceBusy:
            replies = await self.prompt(reg)
            busy = Reply(texts.instance_busy.format(instance=instance.name), replies[0].keyboard)
            return self._outcome(reg, [busy])
        return self._outcome(reg, await self.prompt(reg))

    async def receive_ddi(self, reg: FlowRecord, text: str, busy: BusySignal) -> Outcome:
        whole = parse_international(text)
        if whole is not None:
            ddi, national = whole
            return await self.receive_phone(
                await self.store.save(reg, ddi=ddi, step=Step.PHONE.value), national, busy
            )
        parsed_ddi = parse_ddi(text)
        if parsed_ddi is None:
            return await self.repeat(reg, self.texts(reg).bad_ddi)
        reg = await self.store.save(reg, ddi=parsed_ddi, step=Step.PHONE.value)
        return self._outcome(reg, await self.prompt(reg))

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
            reg = await self.store.save(reg, phone=parsed.digits, step=Step.PHONE_CONFIRM.value)
            return self._outcome(reg, await self.prompt(reg))
        reg.phone = parsed.digits  # saved with the check's outcome, before the member hears it
        return await self.check_availability(reg, busy)

    async def phone_confirmation(self, reg: FlowRecord, text: str, busy: BusySignal) -> Outcome:
        if _typed(text, lambda catalog: catalog.yes_words):
            return await self.confirm_phone(reg, True, busy)
        if _typed(text, lambda catalog: catalog.no_words):
            return await self.confirm_phone(reg, False, busy)
        return await self.repeat(reg, self.texts(reg).phone_confirm_hint)

    async def confirm_phone(self, reg: FlowRecord, use_it: bool, busy: BusySignal) -> Outcome:
        if use_it:
            return await self.check_availability(reg, busy)
        reg = await self.store.save(reg, step=Step.PHONE.value, phone=None)
        return self._outcome(reg, await self.prompt(reg))

    async def check_availability(self, reg: FlowRecord, busy: BusySignal) -> Outcome:
        """registration-available: mandatory before a code can be requested for the number."""
        keyboards = self._keyboards(reg)
        instance = self._instance(reg)
        busy()
        try:
            result = await self.zapi.registration_available(
                instance, reg.ddi or "", reg.phone or ""
            )
        except ZapiError as error:
            reg.step = Step.PHONE.value
            return await self._failure(reg, error, keyboards.retry())
        return await self._after_availability(reg, result)

    async def _after_availability(self, reg: FlowRecord, result: AvailabilityResult) -> Outcome:
        texts = self.texts(reg)
        number = self._number(reg)
        if result.blocked:
            reg = await self.store.save(
                reg,
                audit=("check", "banned"),
                step=Step.BANNED.value,
                appeal_token=result.appeal_token,
            )
            return self._outcome(reg, await self.prompt(reg))
        if not result.available:
            await self.store.end(reg, "check", "unavailable")
            logger.info("Number not available for chat %s (reason: %s)", reg.chat_id, result.reason)
            return Outcome(
                [Reply(texts.unavailable.format(number=number))],
                None,
                language=reg.language,
            )
        reg = await self.store.save(
            reg,
            audit=("check", "available"),
            waits=ReportedWaits(result.waits),
            step=Step.METHOD.value,
            wa_old_eligible=result.wa_old_eligible,
            appeal_token=None,
            wrong_code_count=0,
            captcha_pending=False,
            method=None,
        )
        return self._outcome(reg, await self.prompt(reg))

    # banned → appeal

    async def banned_reply(self, reg: FlowRecord, text: str) -> Outcome:
        if _typed(text, lambda catalog: catalog.appeal_words):
            return await self.start_appeal(reg)
        return await self.repeat(reg, self.texts(reg).banned_hint)

    async def start_appeal(self, reg: FlowRecord) -> Outcome:
        if not reg.appeal_token:
            return self._outcome(reg, await self.prompt(reg))
        reg = await self.store.save(reg, step=Step.APPEAL.value)
        return self._outcome(reg, await self.prompt(reg))

    async def receive_appeal(self, reg: FlowRecord, text: str, busy: BusySignal) -> Outcome:
        texts = self.texts(reg)
        description = " ".join(text.split())
        if len(description) not in APPEAL_LENGTH:
            return await self.repeat(reg, texts.appeal_length)
        busy()
        try:
            result = await self.zapi.request_unbanning(
                self._instance(reg), reg.appeal_token or "", description
            )
        except ZapiError as error:
            return await self.repeat(reg, self._error(reg, error))
        if result.success and (result.status or "").upper() == "UNBANNED":
            reg = await self.store.save(
                reg, audit=("appeal", "unbanned"), step=Step.PHONE.value, appeal_token=None
            )
            checked = await self.check_availability(reg, busy)
            checked.replies.insert(0, Reply(texts.appeal_unbanned))
            return checked
        outcome = "in_review" if result.success else "refused"
        await self.store.end(reg, "appeal", outcome)
        message = texts.appeal_in_review if result.success else texts.appeal_refused
        return Outcome([Reply(message)], None, language=reg.language)

    async def change_number(self, reg: FlowRecord) -> Outcome:
        reg = await self.store.save(
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
        return self._outcome(reg, await self.prompt(reg))

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
        reg = await self.store.save(reg, step=Step.METHOD.value, captcha_pending=False)
        return self._outcome(reg, await self.prompt(reg))

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
        return self._outcome(reg, [Reply(refusal, self._method_keyboard_for(reg, waits))])

    async def _request_code(
        self, reg: FlowRecord, method: DeliveryMethod, busy: BusySignal
    ) -> Outcome:
        texts, keyboards = self.texts(reg), self._keyboards(reg)
        number = self._number(reg)
        busy()
        try:
            result = await self.zapi.request_code(
                self._instance(reg), reg.ddi or "", reg.phone or "", method
            )
        except ZapiError as error:
            if not (isinstance(error, ZapiTimeout) and error.request_sent):
                reg = await self.store.save(
                    reg, audit=("request_code", "failed"), step=Step.METHOD.value
                )
                return self._outcome(
                    reg, [Reply(self._error(reg, error), await self._method_keyboard(reg))]
                )
            # The code may have been sent anyway: let the member type it if it arrives.
            logger.warning("Z-API call failed for chat %s: %s", reg.chat_id, error)
            reg = await self.store.save(
                reg, audit=("request_code", "timeout"), step=Step.CODE.value, method=method.value
            )
            lead = zapi_error_lead(error, texts, timeout_seconds=self.settings.zapi_timeout_seconds)
            return self._outcome(reg, [Reply(f"{lead}\n{texts.code_maybe_sent}", keyboards.code())])
        if result.captcha is not None:
            reg = await self.store.save(
                reg,
                audit=("request_code", "captcha"),
                step=Step.CAPTCHA.value,
                method=method.value,
                captcha_pending=True,
            )
            caption = f"{self._indicator(reg, Step.CAPTCHA)}\n{texts.captcha_caption}"
            return self._outcome(
                reg, [Reply(caption, keyboards.captcha(), photo=result.captcha.data)]
            )
        if result.blocked:
            reg = await self.store.save(
                reg, audit=("request_code", "banned"), step=Step.BANNED.value
            )
            return self._outcome(reg, await self.prompt(reg))
        reported = ReportedWaits(result.waits, result.retry_after, method)
        if result.success:
            reg = await self.store.save(
                reg,
                audit=("request_code", f"sent_{method.value}"),
                waits=reported,
                step=Step.CODE.value,
                method=method.value,
                wrong_code_count=0,
            )
            body = texts.code_sent[method.value].format(number=number)
            return self._outcome(reg, [self._question(reg, body, keyboards.code())])
        told_to_wait = any(seconds > 0 for seconds in reported.seconds().values())
        reg = await self.store.save(
            reg,
            audit=("request_code", "wait" if told_to_wait else "refused"),
            waits=reported,
            step=Step.METHOD.value,
        )
        waits = await self.store.remaining_waits(reg)
        if waits:
            lead = self._waits_text(reg, waits)
        else:
            logger.info("Code request refused for chat %s (reason: %s)", reg.chat_id, result.reason)
            lead = texts.request_failed.format(method=texts.method_names[method.value])
        return self._outcome(reg, [await self._method_question(reg, lead)])

    async def receive_captcha(self, reg: FlowRecord, text: str, busy: BusySignal) -> Outcome:
        texts, keyboards = self.texts(reg), self._keyboards(reg)
        answer = re.sub(r"\s", "", text)
        if not _CAPTCHA_ANSWER.fullmatch(answer):
            return await self.repeat(reg, texts.captcha_bad_input)
        busy()
        try:
            result = await self.zapi.respond_captcha(self._instance(reg), answer)
        except ZapiError as error:
            return await self.repeat(reg, self._error(reg, error))
        if not result.success:
            reg = await self.store.save(reg, audit=("captcha", "wrong"))
            return await self.repeat(reg, texts.captcha_wrong)
        reg = await self.store.save(
            reg, audit=("captcha", "solved"), step=Step.CODE.value, captcha_pending=False
        )
        method = texts.method_names.get(reg.method or "", reg.method or "")
        return self._outcome(
            reg, [self._question(reg, texts.captcha_ok.format(method=method), keyboards.code())]
        )

    # code → PIN / device transfer → connected

    async def receive_code(self, reg: FlowRecord, text: str, busy: BusySignal) -> Outcome:
        texts, keyboards = self.texts(reg), self._keyboards(reg)
        code = parse_code(text)
        if code is None:
            return await self.repeat(reg, texts.bad_code)
        busy()
        try:
            result = await self.zapi.confirm_code(self._instance(reg), code)
        except ZapiError as error:
            return await self.repeat(reg, self._error(reg, error))
        if result.success:
            return await self._connected(reg)
        if result.confirm_security_code:
            reg = await self.store.save(
                reg, audit=("confirm_code", "pin_required"), step=Step.PIN.value
            )
            return self._outcome(reg, await self.prompt(reg))
        if result.device_confirm:
            reg = await self.store.save(
                reg, audit=("confirm_code", "device_confirm"), step=Step.DEVICE.value
            )
            return self._outcome(reg, await self.prompt(reg))
        reg = await self.store.save(
            reg, audit=("confirm_code", "wrong_code"), wrong_code_count=reg.wrong_code_count + 1
        )
        if reg.wrong_code_count >= MAX_WRONG_CODES:
            message = texts.wrong_code_many.format(count=reg.wrong_code_count)
        else:
            message = texts.wrong_code
        return self._outcome(reg, [Reply(message, keyboards.code())])

    async def device_reply(self, reg: FlowRecord, text: str, busy: BusySignal) -> Outcome:
        if _typed(text, lambda catalog: catalog.done_words):
            return await self.device_accepted(reg, busy)
        return await self.repeat(reg, self.texts(reg).device_hint)

    async def device_accepted(self, reg: FlowRecord, busy: BusySignal) -> Outcome:
        texts, keyboards = self.texts(reg), self._keyboards(reg)
        busy()
        try:
            result = await self.zapi.device_transfer_confirmed(self._instance(reg))
        except ZapiError as error:
            return await self._failure(reg, error, keyboards.device())
        if result.success:
            return await self._connected(reg)
        reg = await self.store.save(reg, audit=("device_transfer", "not_yet"))
        return self._outcome(reg, [Reply(texts.device_not_yet, keyboards.device())])

    async def receive_pin(self, reg: FlowRecord, text: str, busy: BusySignal) -> Outcome:
        texts, keyboards = self.texts(reg), self._keyboards(reg)
        pin = parse_pin(text)
        if pin is None:
            outcome = await self.repeat(reg, texts.bad_pin)
            outcome.delete_message = True
            return outcome
        busy()
        try:
            result = await self.zapi.confirm_pin(self._instance(reg), pin)
        except ZapiError as error:
            return await self._failure(reg, error, keyboards.pin(), delete_message=True)
        if result.success:
            outcome = await self._connected(reg)
            outcome.delete_message = True
            return outcome
        if result.device_confirm:
            reg = await self.store.save(
                reg, audit=("confirm_pin", "device_confirm"), step=Step.DEVICE.value
            )
            return self._outcome(reg, await self.prompt(reg), delete_message=True)
        reg = await self.store.save(reg, audit=("confirm_pin", "wrong_pin"))
        return self._outcome(reg, [Reply(texts.wrong_pin, keyboards.pin())], delete_message=True)

    async def forgot_pin(self, reg: FlowRecord, busy: BusySignal) -> Outcome:
        texts, keyboards = self.texts(reg), self._keyboards(reg)
        busy()
        try:
            result = await self.zapi.recover_pin(self._instance(reg))
        except ZapiError as error:
            return await self._failure(reg, error, keyboards.pin())
        reg = await self.store.save(
            reg, audit=("recover_pin", "sent" if result.success else "failed")
        )
        message = texts.pin_recovery_sent if result.success else texts.pin_recovery_failed
        return self._outcome(reg, [Reply(message, keyboards.pin())])

    async def retry(self, reg: FlowRecord, busy: BusySignal) -> Outcome:
        """The "Try again" button: repeats the failed availability check, else re-asks."""
        if Step(reg.step) is Step.PHONE and reg.phone:
            return await self.check_availability(reg, busy)
        return self._outcome(reg, await self.prompt(reg))

    async def _connected(self, reg: FlowRecord) -> Outcome:
        texts = self.texts(reg)
        await self.store.end(reg, "register", "connected")
        message = texts.connected.format(instance=reg.instance, number=self._number(reg))
        return Outcome([Reply(message)], None, language=reg.language)

    # -- wait timers -----------------------------------------------------------------------

    async def due_notices(self) -> tuple[list[WaitOverNotice], datetime | None]:
        """Claim every ended wait (exactly once) and say, per chat, which methods are usable now.

        Returns the notices and when the next wait ends. A chat is told only while its flow is
        still choosing a method or waiting for the code for that number.
        """
        claimed, regs, pending = await self.store.claim_ended_waits()
        next_deadline = min((timer.ready_at for timer in pending), default=None)
        ended: dict[int, set[DeliveryMethod]] = {}
        timer_ids: dict[int, list[int]] = {}
        for timer in claimed:
            timer_ids.setdefault(timer.chat_id, []).append(timer.id)
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
            notices.append(WaitOverNotice(chat_id, reply, tuple(timer_ids[chat_id])))
        return notices, next_deadline

    async def notice_not_delivered(self, notice: WaitOverNotice) -> datetime:
        """Telegram did not take the notice: its waits are announced again shortly."""
        return await self.store.announce_again(notice.timer_ids, after=NOTICE_RETRY)
