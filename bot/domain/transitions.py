"""What each Z-API answer does to a flow: pure functions of the flow and the answer.

The service (`bot/conversation/number_steps.py`, `code_steps.py`) makes the call, commits the
transition (as a `Change`, with its audit event and the step's replies) and picks what to say by
the transition's outcome. Nothing here waits, reads the clock or talks to anything, so every
branch is unit-tested as plain data (`tests/unit/test_transitions.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.domain.methods import DeliveryMethod
from bot.domain.record import FlowRecord
from bot.domain.steps import Step

__all__ = [
    "MAX_WRONG_CODES",
    "Transition",
    "after_appeal",
    "after_availability",
    "after_captcha",
    "after_code",
    "after_code_request",
    "after_device_transfer",
    "after_pin",
    "after_pin_recovery",
]

# From this many wrong codes on, the member is told to ask for a new one.
MAX_WRONG_CODES = 3


@dataclass(frozen=True, slots=True)
class Transition:
    """Where an answer takes the flow and what is recorded of it.

    `step`: the flow's next step (None: it stays where it is); `ends`: the flow is over and its
    instance freed; `changes`: other fields of the flow the answer sets."""

    action: str
    outcome: str
    step: Step | None = None
    ends: bool = False
    changes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def audit(self) -> tuple[str, str]:
        return self.action, self.outcome

    def fields(self) -> dict[str, Any]:
        """The flow's fields as the transition leaves them (for `Change.of`)."""
        fields = dict(self.changes)
        if self.step is not None:
            fields["step"] = self.step.value
        return fields


# What the transitions read of Z-API's answers (bot.zapi.models has the full shapes).


class Waits(Protocol):
    @property
    def seconds(self) -> Mapping[DeliveryMethod, int]: ...


class AvailabilityAnswer(Protocol):
    @property
    def available(self) -> bool: ...
    @property
    def blocked(self) -> bool: ...
    @property
    def appeal_token(self) -> str | None: ...
    @property
    def wa_old_eligible(self) -> bool | None: ...


class CodeRequestAnswer(Protocol):
    @property
    def success(self) -> bool: ...
    @property
    def captcha(self) -> object | None: ...
    @property
    def blocked(self) -> bool: ...
    @property
    def retry_after(self) -> int | None: ...
    @property
    def waits(self) -> Waits: ...


class CodeAnswer(Protocol):
    @property
    def success(self) -> bool: ...
    @property
    def confirm_security_code(self) -> bool: ...
    @property
    def device_confirm(self) -> bool: ...


class PinAnswer(Protocol):
    @property
    def success(self) -> bool: ...
    @property
    def device_confirm(self) -> bool: ...


class AppealAnswer(Protocol):
    @property
    def success(self) -> bool: ...
    @property
    def status(self) -> str | None: ...


def after_availability(answer: AvailabilityAnswer) -> Transition:
    """`registration-available`: banned, not available (the flow ends), or on to the method."""
    if answer.blocked:
        return Transition(
            "check", "banned", Step.BANNED, changes={"appeal_token": answer.appeal_token}
        )
    if not answer.available:
        return Transition("check", "unavailable", ends=True)
    return Transition(
        "check",
        "available",
        Step.METHOD,
        changes={
            "wa_old_eligible": answer.wa_old_eligible,
            "appeal_token": None,
            "wrong_code_count": 0,
            "method": None,
        },
    )


def after_code_request(answer: CodeRequestAnswer, method: DeliveryMethod) -> Transition:
    """`request-registration-code` (the flow is at the code step since before the call): a
    captcha to solve, a ban, the code on its way, or back to the method with Z-API's waits."""
    if answer.captcha is not None:
        return Transition("request_code", "captcha", Step.CAPTCHA)
    if answer.blocked:
        return Transition("request_code", "banned", Step.BANNED)
    if answer.success:
        return Transition("request_code", f"sent_{method.value}", changes={"wrong_code_count": 0})
    told_to_wait = (answer.retry_after or 0) > 0 or any(
        seconds > 0 for seconds in answer.waits.seconds.values()
    )
    return Transition(
        "request_code",
        "wait" if told_to_wait else "refused",
        Step.METHOD,
        changes={"pending_call": None},
    )


def after_captcha(solved: bool) -> Transition:
    if solved:
        return Transition("captcha", "solved", Step.CODE)
    return Transition("captcha", "wrong", changes={"pending_call": None})


def after_code(reg: FlowRecord, answer: CodeAnswer) -> Transition:
    """`confirm-registration-code`: connected, a two-step PIN, a device transfer, or a wrong
    code (counted: from `MAX_WRONG_CODES` on, the member is told to ask for a new one)."""
    if answer.success:
        return Transition("register", "connected", ends=True)
    if answer.confirm_security_code:
        return Transition("confirm_code", "pin_required", Step.PIN)
    if answer.device_confirm:
        return Transition("confirm_code", "device_confirm", Step.DEVICE)
    count = reg.wrong_code_count + 1
    outcome = "wrong_code_many" if count >= MAX_WRONG_CODES else "wrong_code"
    return Transition("confirm_code", outcome, changes={"wrong_code_count": count})


def after_device_transfer(accepted: bool) -> Transition:
    if accepted:
        return Transition("register", "connected", ends=True)
    return Transition("device_transfer", "not_yet")


def after_pin(answer: PinAnswer) -> Transition:
    if answer.success:
        return Transition("register", "connected", ends=True)
    if answer.device_confirm:
        return Transition("confirm_pin", "device_confirm", Step.DEVICE)
    return Transition("confirm_pin", "wrong_pin")


def after_pin_recovery(sent: bool) -> Transition:
    return Transition("recover_pin", "sent" if sent else "failed")


def after_appeal(answer: AppealAnswer) -> Transition:
    """`request-unbanning`: unbanned (back to the number, checked again), in review or refused
    (either way the flow ends)."""
    if answer.success and (answer.status or "").upper() == "UNBANNED":
        return Transition(
            "appeal",
            "unbanned",
            Step.PHONE,
            changes={"appeal_token": None, "pending_call": None},
        )
    return Transition("appeal", "in_review" if answer.success else "refused", ends=True)
