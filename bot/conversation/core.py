"""The service's core: loading a flow, committing a step with what it says, calling Z-API,
and the questions each step asks.

Every step's state is committed to the database together with its replies (the outbox) before
anything is sent, so a crash between two messages never loses a step nor what the member was to
hear of it. Z-API is never called inside a transaction; before each call the flow commits that
the call is under way and makes sure its instance lease outlasts the call.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from bot.config import InstanceConfig, Settings
from bot.conversation.failures import zapi_error_lead
from bot.conversation.keyboards import Keyboards
from bot.conversation.ports import Change, FlowGone, FlowStorage, OwedMessage, ReportedWaits
from bot.conversation.replies import Keyboard, Reply
from bot.conversation.steps import STEPS, progress_order
from bot.conversation.texts import CATALOGS, Catalog, catalog_for, marked
from bot.domain.clock import Clock
from bot.domain.parsing import format_number, masked_number
from bot.domain.record import FlowRecord
from bot.domain.steps import SETUP_STEPS, Step, ZapiCall
from bot.domain.waits import MethodState, blocked_methods, method_states
from bot.log_context import log_context
from bot.zapi import (
    DeliveryMethod,
    ZapiAuthError,
    ZapiClient,
    ZapiError,
)

__all__ = ["Courier", "FlowCore", "Outcome", "Reply", "WorkingSignal"]

logger = logging.getLogger(__name__)

WorkingSignal = Callable[[], None]
R = TypeVar("R")
APPEAL_LENGTH = range(10, 501)
# Beyond the call's own time limit, how long a lease taken for a Z-API call lasts: room for the
# step's commit after the answer.
CALL_LEASE_MARGIN = timedelta(seconds=30)
_CAPTCHA_ANSWER = re.compile(r"[A-Za-z0-9]{1,20}")


def _typed(text: str, words: Callable[[Catalog], frozenset[str]]) -> bool:
    """Whether `text` is one of the words of any language (members mix them)."""
    word = text.strip().casefold()
    return any(word in words(catalog) for catalog in CATALOGS.values())


class Courier(Protocol):
    """Delivers committed messages (at least once) without the caller waiting for Telegram."""

    def post(self, owed: Sequence[OwedMessage]) -> None: ...


class Alerts(Protocol):
    """Tells the admins what members cannot fix (`bot.alerts.AdminAlerts`)."""

    def credentials_refused(self, instance: str, endpoint: str) -> bool:
        """Z-API refused the bot's credentials; whether any admin is told."""
        ...


@dataclass(slots=True)
class Outcome:
    """What to tell the member. `owed`: messages committed with the step (deliver them, at
    least once); `replies`: messages about nothing committed (send them after, once)."""

    owed: list[OwedMessage] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    delete_message: bool = False


class FlowCore:
    """What every step uses: the flow's state, committing, Z-API calls, the questions."""

    def __init__(
        self,
        settings: Settings,
        store: FlowStorage,
        zapi: ZapiClient,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.store = store
        self.zapi = zapi
        self.clock = clock
        self.courier: Courier | None = None  # wired by the application
        self.alerts: Alerts | None = None  # wired by the application
        # Whether an instance runs a number, as last seen (the monitor, wired by the application).
        self.runs_a_number: Callable[[str], bool] = lambda instance: False
        self._call_lease = timedelta(seconds=settings.zapi_timeout_seconds) + CALL_LEASE_MARGIN
        # The set-up's new PIN between its two answers, by flow: in this process only.
        self._new_pins: dict[str, tuple[str, datetime]] = {}

    @property
    def several_instances(self) -> bool:
        return len(self.settings.instances) > 1

    async def load(self, chat_id: int) -> FlowRecord | None:
        return await self.store.load(chat_id)

    @property
    def idle_timeout(self) -> timedelta:
        return timedelta(seconds=self.settings.conversation_timeout_seconds)

    def _change(
        self,
        reg: FlowRecord,
        *,
        audit: tuple[str, str] | None = None,
        waits: ReportedWaits | None = None,
        hold_for: timedelta | None = None,
        **changes: Any,
    ) -> Change:
        """The flow as `changes` would leave it now, not yet committed (see `Change.of`)."""
        return Change.of(
            reg,
            now=self.clock.now(),
            idle_timeout=self.idle_timeout,
            audit=audit,
            waits=waits,
            hold_for=hold_for,
            **changes,
        )

    async def _save(
        self,
        reg: FlowRecord,
        *,
        audit: tuple[str, str] | None = None,
        hold_for: timedelta | None = None,
        **changes: Any,
    ) -> FlowRecord:
        """Commit a change with nothing to say; `reg`, brought up to date by the commit."""
        await self.store.commit(self._change(reg, audit=audit, hold_for=hold_for, **changes))
        return reg

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
        change = self._change(reg, audit=audit, waits=waits, **changes)
        new = change.after
        if reply is not None:
            replies = reply(new)
        else:
            replies = await self.prompt(new, pending=change.ready_at, lead=lead)
        owed = await self.store.commit(change, [*before, *replies])
        return Outcome(owed)

    async def _end(
        self,
        reg: FlowRecord,
        action: str,
        outcome: str,
        text: str,
        *,
        by: int | None = None,
        keyboard: Keyboard | None = None,
    ) -> Outcome:
        said = marked(self.texts(reg), text, reg.instance, self.settings.sandboxes)
        return Outcome(await self.store.end(reg, action, outcome, [Reply(said, keyboard)], by=by))

    async def _call(
        self,
        reg: FlowRecord,
        call: ZapiCall,
        request: Callable[[InstanceConfig], Awaitable[R]],
        working: WorkingSignal,
        **changes: Any,
    ) -> R:
        """Make a Z-API call for the flow: first commit that it is under way (with `changes`)
        and a lease that outlasts it, then call. `reg` is the flow as committed before the call.
        Raises LeaseLost (the instance was taken: nothing is sent), StorageUnavailable (nothing
        is sent either) or the call's ZapiError."""
        instance = self._instance(reg)
        with log_context(chat=reg.chat_id, instance=instance.name, step=reg.step):
            await self._save(reg, pending_call=call, hold_for=self._call_lease, **changes)
            working()
            return await request(instance)

    async def _failure(
        self,
        reg: FlowRecord,
        error: ZapiError,
        keyboard: Callable[[FlowRecord], Keyboard | None],
        *,
        delete_message: bool = False,
        **changes: Any,
    ) -> Outcome:
        """A Z-API call failed: the member keeps their place (and the attempt is activity)."""
        text = marked(
            self.texts(reg), self._error(reg, error), reg.instance, self.settings.sandboxes
        )
        outcome = await self._step(reg, lambda new: [Reply(text, keyboard(new))], **changes)
        outcome.delete_message = delete_message
        return outcome

    def _error(self, reg: FlowRecord, error: ZapiError) -> str:
        """What the member is told of a failed call, with how to go on."""
        lead = self._failure_lead(reg, error)
        return f"{lead}\n{self.texts(reg).error_retry_hint}" if error.retryable else lead

    def _failure_lead(self, reg: FlowRecord, error: ZapiError) -> str:
        """What went wrong (refused credentials are reported to the admins)."""
        # The type and endpoint only: Z-API's words may hold what the member typed.
        outcome = type(error).__name__
        fields = {"instance": reg.instance, "step": reg.step, "outcome": outcome}
        with log_context(chat=reg.chat_id, endpoint=error.endpoint, **fields):
            logger.warning("Z-API %s failed for chat %s: %s", error.endpoint, reg.chat_id, outcome)
        return self._lead(error, self.texts(reg), reg.instance or "")

    def _lead(self, error: ZapiError, texts: Catalog, instance: str) -> str:
        alerted = (
            isinstance(error, ZapiAuthError)
            and self.alerts is not None
            and self.alerts.credentials_refused(instance, error.endpoint)
        )
        return zapi_error_lead(
            error,
            texts,
            timeout_seconds=self.settings.zapi_timeout_seconds,
            instance=instance,
            admins_alerted=alerted,
        )

    def _unsaved(self, reg: FlowRecord, text: str, keyboard: Keyboard | None) -> Outcome:
        """Z-API acted but the database refused the step: say honestly what Z-API did."""
        return Outcome(replies=[Reply(text, keyboard)])

    # -- questions -------------------------------------------------------------------------

    def _indicator(self, reg: FlowRecord, step: Step) -> str:
        setup = step in SETUP_STEPS
        order = progress_order(several_instances=self.several_instances, setup=setup)
        group = STEPS[step].group
        # With one instance its step is not counted: its replace question comes first.
        position = order.index(group) + 1 if group in order else 1
        texts = self.texts(reg)
        template = texts.setup.setup_indicator if setup else texts.step_indicator
        header = template.format(n=position, total=len(order), name=texts.step_names[step.value])
        return (
            f"{texts.sandbox.mark} · {header}"
            if reg.instance in self.settings.sandboxes
            else header
        )

    def _question(self, reg: FlowRecord, body: str, keyboard: Keyboard | None = None) -> Reply:
        return Reply(f"{self._indicator(reg, Step(reg.step))}\n{body}", keyboard, headed=True)

    async def prompt(
        self,
        reg: FlowRecord,
        *,
        pending: Mapping[str, datetime | None] | None = None,
        lead: str | None = None,
    ) -> list[Reply]:
        """The question of the step the flow is at (to resume, go back, or repeat); `pending`:
        waits about to be committed with it; `lead` opens the method question."""
        return await STEPS[Step(reg.step)].asks(self, reg, pending, lead)  # type: ignore[arg-type]

    # Each step's question (which one a step asks is declared in bot/conversation/steps.py).

    async def ask_instance(self, reg: FlowRecord) -> list[Reply]:
        held = await self.store.held_instances()
        taken = [name for name, chat in held.items() if chat != reg.chat_id]
        names = [instance.name for instance in self.settings.instances]
        connected = [name for name in names if self.runs_a_number(name)]
        keyboard = self._keyboards(reg).instances(names, taken, connected, self.settings.sandboxes)
        return [self._question(reg, self.texts(reg).ask_instance, keyboard)]

    async def ask_replace(self, reg: FlowRecord) -> list[Reply]:
        texts = self.texts(reg)
        instance = reg.instance or "—"
        number = await self.store.last_number_on(instance)
        body = texts.ask_replace.format(instance=instance)
        if number is not None:
            body = texts.ask_replace_number.format(instance=instance, number=masked_number(number))
        keyboard = self._keyboards(reg).replace(back=self.several_instances)
        return [self._question(reg, body, keyboard)]

    async def ask_ddi(self, reg: FlowRecord) -> list[Reply]:
        keyboard = self._keyboards(reg).ddi(self.settings.default_ddi, back=self.several_instances)
        return [self._question(reg, self.texts(reg).ask_ddi, keyboard)]

    async def ask_phone(self, reg: FlowRecord) -> list[Reply]:
        body = self.texts(reg).ask_phone.format(ddi=reg.ddi)
        return [self._question(reg, body, self._keyboards(reg).navigation())]

    async def ask_phone_confirm(self, reg: FlowRecord) -> list[Reply]:
        texts = self.texts(reg)
        causes = texts.phone_confirm_causes
        cause = causes.get(reg.ddi or "", causes["*"])
        body = f"{texts.phone_confirm.format(number=self._number(reg), ddi=reg.ddi)}\n{cause}"
        return [self._question(reg, body, self._keyboards(reg).yes_no())]

    async def ask_banned(self, reg: FlowRecord) -> list[Reply]:
        texts = self.texts(reg)
        template = texts.banned_appeal if reg.appeal_token else texts.banned_no_appeal
        keyboard = self._keyboards(reg).banned(can_appeal=bool(reg.appeal_token))
        return [self._question(reg, template.format(number=self._number(reg)), keyboard)]

    async def ask_appeal(self, reg: FlowRecord) -> list[Reply]:
        return [self._question(reg, self.texts(reg).ask_appeal, self._keyboards(reg).navigation())]

    async def ask_captcha(self, reg: FlowRecord) -> list[Reply]:
        # The picture is not stored; "Didn't get it" requests the code (and a picture) again.
        body = self.texts(reg).captcha_resume
        return [self._question(reg, body, self._keyboards(reg).captcha())]

    async def ask_code(self, reg: FlowRecord) -> list[Reply]:
        body = self.texts(reg).ask_code.format(number=self._number(reg))
        return [self._question(reg, body, self._keyboards(reg).code())]

    async def ask_device(self, reg: FlowRecord) -> list[Reply]:
        body = self.texts(reg).device_confirm.format(number=self._number(reg))
        return [self._question(reg, body, self._keyboards(reg).device())]

    async def ask_pin(self, reg: FlowRecord) -> list[Reply]:
        return [self._question(reg, self.texts(reg).ask_pin, self._keyboards(reg).pin())]

    def _states_from(
        self, reg: FlowRecord, ready_at: Mapping[DeliveryMethod, datetime]
    ) -> dict[DeliveryMethod, MethodState]:
        return method_states(
            ready_at=ready_at,
            blocked=blocked_methods(reg.blocked_methods),
            wa_old_eligible=reg.wa_old_eligible,
            now=self.clock.now(),
        )

    async def method_states(
        self, reg: FlowRecord, pending: Mapping[str, datetime | None] | None = None
    ) -> dict[DeliveryMethod, MethodState]:
        """Each delivery method's state for the flow's number now (see bot/domain/waits.py);
        `pending`: waits about to be committed."""
        return self._states_from(reg, await self.store.ready_times(reg, pending))

    async def ask_method(
        self,
        reg: FlowRecord,
        lead: str | None = None,
        pending: Mapping[str, datetime | None] | None = None,
    ) -> list[Reply]:
        texts = self.texts(reg)
        # The question first; what led to it after (a refused request, the waits).
        body = texts.ask_method.format(number=self._number(reg))
        if lead:
            body = f"{body}\n\n{lead}"
        if reg.wa_old_eligible is not False:
            body += f"\n\n{texts.popup_note}"
        states = await self.method_states(reg, pending)
        return [self._question(reg, body, self._keyboards(reg).methods(states))]

    async def repeat(self, reg: FlowRecord, hint: str | None = None) -> Outcome:
        """Keep the member where they are, with a hint of what the step expects (any message,
        even a wrong one, is activity)."""
        texts = self.texts(reg)
        message = hint if hint is not None else texts.step_hints[reg.step]
        change = self._change(reg, pending_call=None)
        keyboard = (await self.prompt(change.after))[-1].keyboard
        owed = await self.store.commit(change, [Reply(message, keyboard)])
        return Outcome(owed)
