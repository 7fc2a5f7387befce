"""The registration, step by step: the one place that says what each step is.

Read top to bottom, it is the whole flow: for each step, the question it asks, what it takes
typed, which buttons act there, where Back leads, the progress group it counts in, and the Z-API
calls it may make. Then what each button does, wherever it is pressed. The handlers route every
update through these tables by the step the flow's row is at; the service implements the steps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from bot.conversation.keyboards import CANCEL_SURE
from bot.domain.record import FlowRecord
from bot.domain.steps import SETUP_STEPS, Action, Step, ZapiCall

if TYPE_CHECKING:
    from bot.conversation.core import Outcome, Reply, WorkingSignal
    from bot.conversation.flow import RegistrationFlow

__all__ = [
    "ADMISSION",
    "BUTTONS",
    "EVERYWHERE",
    "FLOWLESS",
    "STEPS",
    "ButtonSpec",
    "StepSpec",
    "acts_at",
    "back_from",
    "progress_order",
]

Pending = Mapping[str, datetime | None] | None
Ask = Callable[["RegistrationFlow", FlowRecord, Pending, str | None], Awaitable[list["Reply"]]]
Typed = Callable[["RegistrationFlow", FlowRecord, str, "WorkingSignal"], Awaitable["Outcome"]]
Press = Callable[["RegistrationFlow", FlowRecord, str, "WorkingSignal"], Awaitable["Outcome"]]


@dataclass(frozen=True, slots=True, kw_only=True)
class StepSpec:
    asks: Ask  # the question (with the waits about to be committed, and a lead for it)
    typed: Typed  # a typed answer
    group: Step  # the progress indicator counts the step as this one
    back: Step | None = None  # where Back leads (None: nowhere, it is the first step)
    buttons: frozenset[Action] = frozenset()  # besides Back and Cancel, which act everywhere
    calls: frozenset[ZapiCall] = frozenset()  # the Z-API calls the step may make
    secret: bool = False  # what the member sends here is deleted at once
    contact: Typed | None = None  # the number of a shared contact card (None: not taken here)
    edits: bool = False  # an edited message is taken as a new answer here
    # What going Back to this step forgets.
    on_return: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


STEPS: Mapping[Step, StepSpec] = MappingProxyType(
    {
        Step.INSTANCE: StepSpec(
            asks=lambda flow, reg, pending, lead: flow.ask_instance(reg),
            typed=lambda flow, reg, text, working: flow.choose_instance(reg, text),
            group=Step.INSTANCE,
            buttons=frozenset({Action.INSTANCE}),
            on_return=MappingProxyType({"instance": None}),
        ),
        Step.REPLACE: StepSpec(
            asks=lambda flow, reg, pending, lead: flow.ask_replace(reg),
            typed=lambda flow, reg, text, working: flow.replace_reply(reg, text),
            group=Step.INSTANCE,
            back=Step.INSTANCE,  # when there are several instances
            buttons=frozenset({Action.REPLACE}),
        ),
        Step.DDI: StepSpec(
            asks=lambda flow, reg, pending, lead: flow.ask_ddi(reg),
            typed=lambda flow, reg, text, working: flow.receive_ddi(reg, text, working),
            contact=lambda flow, reg, number, working: flow.receive_contact(reg, number, working),
            edits=True,
            group=Step.DDI,
            buttons=frozenset({Action.DDI}),  # with DEFAULT_DDI set
            back=Step.INSTANCE,  # when there are several instances
            calls=frozenset({"check"}),  # a whole number pasted here is checked at once
            on_return=MappingProxyType({"appeal_token": None}),
        ),
        Step.PHONE: StepSpec(
            asks=lambda flow, reg, pending, lead: flow.ask_phone(reg),
            typed=lambda flow, reg, text, working: flow.receive_phone(reg, text, working),
            contact=lambda flow, reg, number, working: flow.receive_contact(reg, number, working),
            edits=True,
            group=Step.PHONE,
            back=Step.DDI,
            buttons=frozenset({Action.RETRY}),  # after a failed availability check
            calls=frozenset({"check"}),
            on_return=MappingProxyType({"appeal_token": None}),
        ),
        Step.PHONE_CONFIRM: StepSpec(
            asks=lambda flow, reg, pending, lead: flow.ask_phone_confirm(reg),
            typed=lambda flow, reg, text, working: flow.phone_confirmation(reg, text, working),
            group=Step.PHONE,
            back=Step.PHONE,
            buttons=frozenset({Action.YES, Action.NO}),
            calls=frozenset({"check"}),
        ),
        Step.BANNED: StepSpec(
            asks=lambda flow, reg, pending, lead: flow.ask_banned(reg),
            typed=lambda flow, reg, text, working: flow.banned_reply(reg, text),
            group=Step.PHONE,
            back=Step.PHONE,
            buttons=frozenset({Action.APPEAL, Action.CHANGE_NUMBER}),
        ),
        Step.APPEAL: StepSpec(
            asks=lambda flow, reg, pending, lead: flow.ask_appeal(reg),
            typed=lambda flow, reg, text, working: flow.receive_appeal(reg, text, working),
            group=Step.PHONE,
            back=Step.BANNED,
            calls=frozenset({"appeal", "check"}),
        ),
        Step.METHOD: StepSpec(
            asks=lambda flow, reg, pending, lead: flow.ask_method(reg, lead, pending),
            typed=lambda flow, reg, text, working: flow.method_reply(reg, text, working),
            group=Step.METHOD,
            back=Step.PHONE,
            buttons=frozenset({Action.METHOD, Action.CHANGE_NUMBER}),
            # A code typed here after "Didn't get it" is the earlier request's.
            calls=frozenset({"request_code", "confirm_code"}),
        ),
        Step.CAPTCHA: StepSpec(
            asks=lambda flow, reg, pending, lead: flow.ask_captcha(reg),
            typed=lambda flow, reg, text, working: flow.receive_captcha(reg, text, working),
            group=Step.METHOD,
            back=Step.METHOD,
            buttons=frozenset({Action.RESEND}),
            calls=frozenset({"captcha"}),
        ),
        Step.CODE: StepSpec(
            asks=lambda flow, reg, pending, lead: flow.ask_code(reg),
            typed=lambda flow, reg, text, working: flow.receive_code(reg, text, working),
            group=Step.CODE,
            back=Step.METHOD,
            # METHOD: the keyboard of a "you can request again" notice.
            buttons=frozenset({Action.RESEND, Action.CHANGE_NUMBER, Action.METHOD}),
            calls=frozenset({"confirm_code", "request_code"}),
        ),
        Step.DEVICE: StepSpec(
            asks=lambda flow, reg, pending, lead: flow.ask_device(reg),
            typed=lambda flow, reg, text, working: flow.device_reply(reg, text, working),
            group=Step.CODE,
            back=Step.CODE,
            buttons=frozenset({Action.DEVICE_ACCEPTED}),
            calls=frozenset({"device"}),
        ),
        Step.PIN: StepSpec(
            asks=lambda flow, reg, pending, lead: flow.ask_pin(reg),
            typed=lambda flow, reg, text, working: flow.receive_pin(reg, text, working),
            group=Step.CODE,
            back=Step.CODE,
            buttons=frozenset({Action.FORGOT_PIN}),
            calls=frozenset({"confirm_pin", "recover_pin"}),
            secret=True,
        ),
        # The set-up of the connected number (/setup, or the button under "Connected").
        Step.PROFILE_NAME: StepSpec(
            asks=lambda flow, reg, pending, lead: flow.ask_profile_name(reg, lead),
            typed=lambda flow, reg, text, working: flow.receive_profile_name(reg, text, working),
            group=Step.PROFILE_NAME,
            buttons=frozenset({Action.SKIP, Action.FINISH}),
            calls=frozenset({"profile_name"}),
        ),
        Step.PROFILE_ABOUT: StepSpec(
            asks=lambda flow, reg, pending, lead: flow.ask_profile_about(reg, lead),
            typed=lambda flow, reg, text, working: flow.receive_profile_about(reg, text, working),
            group=Step.PROFILE_ABOUT,
            back=Step.PROFILE_NAME,
            buttons=frozenset({Action.SKIP, Action.FINISH}),
            # Whether the number has a two-step PIN is asked on the way to that step.
            calls=frozenset({"profile_about", "two_fa_check"}),
        ),
        Step.TWO_FA: StepSpec(
            asks=lambda flow, reg, pending, lead: flow.ask_two_fa(reg, lead),
            typed=lambda flow, reg, text, working: flow.receive_two_fa(reg, text),
            group=Step.TWO_FA,
            back=Step.PROFILE_ABOUT,
            buttons=frozenset({Action.SKIP, Action.FINISH}),
            secret=True,
        ),
        Step.TWO_FA_AGAIN: StepSpec(
            asks=lambda flow, reg, pending, lead: flow.ask_two_fa_again(reg),
            typed=lambda flow, reg, text, working: flow.confirm_two_fa(reg, text, working),
            group=Step.TWO_FA,
            back=Step.TWO_FA,
            buttons=frozenset({Action.SKIP, Action.FINISH}),
            calls=frozenset({"two_fa_set"}),
            secret=True,
        ),
        Step.EMAIL: StepSpec(
            asks=lambda flow, reg, pending, lead: flow.ask_email(reg, lead),
            typed=lambda flow, reg, text, working: flow.receive_email(reg, text, working),
            group=Step.EMAIL,
            back=Step.TWO_FA,
            buttons=frozenset({Action.SKIP, Action.FINISH}),
            calls=frozenset({"email_set"}),
            on_return=MappingProxyType({"email": None}),
        ),
        Step.EMAIL_CODE: StepSpec(
            asks=lambda flow, reg, pending, lead: flow.ask_email_code(reg),
            typed=lambda flow, reg, text, working: flow.receive_email_code(reg, text, working),
            group=Step.EMAIL,
            back=Step.EMAIL,
            buttons=frozenset({Action.SKIP, Action.FINISH, Action.EMAIL_AGAIN}),
            calls=frozenset({"email_verify", "email_set"}),
        ),
    }
)


@dataclass(frozen=True, slots=True)
class ButtonSpec:
    press: Press  # what the button does (its argument: the instance's position, the method)
    # It makes Z-API act: it acts once, on the very question it came with (see `ButtonPress`).
    acts_on_zapi: bool = False


BUTTONS: Mapping[Action, ButtonSpec] = MappingProxyType(
    {
        Action.INSTANCE: ButtonSpec(lambda flow, reg, arg, working: flow.press_instance(reg, arg)),
        Action.REPLACE: ButtonSpec(lambda flow, reg, arg, working: flow.confirm_replace(reg)),
        Action.DDI: ButtonSpec(lambda flow, reg, arg, working: flow.receive_ddi(reg, arg, working)),
        Action.METHOD: ButtonSpec(
            lambda flow, reg, arg, working: flow.choose_method(reg, arg, working), acts_on_zapi=True
        ),
        Action.BACK: ButtonSpec(lambda flow, reg, arg, working: flow.back(reg)),
        Action.CANCEL: ButtonSpec(
            lambda flow, reg, arg, working: flow.cancel(
                reg.chat_id, reg.language, sure=arg == CANCEL_SURE
            )
        ),
        Action.KEEP: ButtonSpec(lambda flow, reg, arg, working: flow.keep_going(reg)),
        Action.RETRY: ButtonSpec(
            lambda flow, reg, arg, working: flow.retry(reg, working), acts_on_zapi=True
        ),
        Action.YES: ButtonSpec(
            lambda flow, reg, arg, working: flow.confirm_phone(reg, True, working),
            acts_on_zapi=True,
        ),
        Action.NO: ButtonSpec(
            lambda flow, reg, arg, working: flow.confirm_phone(reg, False, working)
        ),
        Action.APPEAL: ButtonSpec(lambda flow, reg, arg, working: flow.start_appeal(reg)),
        Action.CHANGE_NUMBER: ButtonSpec(lambda flow, reg, arg, working: flow.change_number(reg)),
        Action.RESEND: ButtonSpec(lambda flow, reg, arg, working: flow.resend(reg)),
        Action.DEVICE_ACCEPTED: ButtonSpec(
            lambda flow, reg, arg, working: flow.device_accepted(reg, working), acts_on_zapi=True
        ),
        Action.FORGOT_PIN: ButtonSpec(
            lambda flow, reg, arg, working: flow.forgot_pin(reg, working), acts_on_zapi=True
        ),
        Action.SKIP: ButtonSpec(lambda flow, reg, arg, working: flow.skip(reg, working)),
        Action.FINISH: ButtonSpec(lambda flow, reg, arg, working: flow.finish_setup(reg)),
        Action.EMAIL_AGAIN: ButtonSpec(
            lambda flow, reg, arg, working: flow.email_again(reg, working), acts_on_zapi=True
        ),
    }
)
EVERYWHERE = frozenset({Action.BACK, Action.CANCEL, Action.KEEP})
# Buttons that act with no flow in progress (under "Connected", whose flow has ended); the
# handlers run them.
FLOWLESS = frozenset({Action.SET_UP})
# Letting people in: run by bot/admission.py before any flow is looked at.
ADMISSION = frozenset({Action.REQUEST_ACCESS, Action.ALLOW, Action.DENY})


def progress_order(*, several_instances: bool, setup: bool = False) -> list[Step]:
    """The steps the progress indicator counts, in order: the registration's, or (`setup`)
    the set-up's."""
    groups = list(dict.fromkeys(spec.group for spec in STEPS.values()))
    if setup:
        return [step for step in groups if step in SETUP_STEPS]
    return [
        step
        for step in groups
        if step not in SETUP_STEPS and (several_instances or step is not Step.INSTANCE)
    ]


def back_from(step: Step, *, several_instances: bool) -> Step | None:
    """Where Back leads from `step` (None: it is the first step)."""
    target = STEPS[step].back
    if target is Step.INSTANCE and not several_instances:
        return None
    return target


def acts_at(step: Step, action: Action) -> bool:
    """Whether a button of `action` acts at `step` (the set-up has Finish for Cancel)."""
    if action is Action.CANCEL and step in SETUP_STEPS:
        return False
    return action in EVERYWHERE or action in STEPS[step].buttons
