"""Every branch of what a Z-API answer does to a flow, on answers parsed from Z-API's documented
bodies: no sockets, no clock."""

from __future__ import annotations

import pytest

from bot.domain.methods import DeliveryMethod
from bot.domain.record import FlowRecord
from bot.domain.steps import Step
from bot.domain.transitions import (
    MAX_WRONG_CODES,
    Transition,
    after_appeal,
    after_availability,
    after_captcha,
    after_code,
    after_code_request,
    after_device_transfer,
    after_pin,
    after_pin_recovery,
)
from bot.zapi.models import (
    AvailabilityResult,
    CaptchaImage,
    CodeConfirmation,
    CodeRequestResult,
    UnbanResult,
)

SMS = DeliveryMethod.SMS


def flow(**fields: object) -> FlowRecord:
    values: dict[str, object] = {
        "chat_id": 1,
        "user_id": 1,
        "flow_id": "f1",
        "language": "en",
        "step": Step.CODE.value,
    }
    values.update(fields)
    return FlowRecord(**values)


def test_a_banned_number_goes_to_the_ban_step_with_its_appeal_token() -> None:
    answer = AvailabilityResult.from_body({"blocked": True, "appealToken": "tok-1"})
    move = after_availability(answer)
    assert (move.step, move.audit, move.ends) == (Step.BANNED, ("check", "banned"), False)
    assert move.fields() == {"step": "banned", "appeal_token": "tok-1"}


def test_a_number_not_available_ends_the_flow() -> None:
    move = after_availability(AvailabilityResult.from_body({"available": False}))
    assert move == Transition("check", "unavailable", ends=True)


def test_an_available_number_goes_to_the_method_and_forgets_the_earlier_attempt() -> None:
    answer = AvailabilityResult.from_body({"available": True, "waOldEligible": True})
    move = after_availability(answer)
    assert move.audit == ("check", "available")
    assert move.fields() == {
        "step": "method",
        "wa_old_eligible": True,
        "appeal_token": None,
        "wrong_code_count": 0,
        "method": None,
    }


def test_a_captcha_comes_before_anything_else() -> None:
    image = CaptchaImage(b"\x89PNG\r\n\x1a\n", "image/png")
    answer = CodeRequestResult.from_body({"blocked": True, "success": True}, image)
    assert after_code_request(answer, SMS).step is Step.CAPTCHA


def test_a_ban_found_at_the_code_request() -> None:
    move = after_code_request(CodeRequestResult.from_body({"blocked": True}, None), SMS)
    assert (move.step, move.audit) == (Step.BANNED, ("request_code", "banned"))


def test_a_code_sent_stays_at_the_code_step_and_resets_the_wrong_codes() -> None:
    answer = CodeRequestResult.from_body({"success": True, "smsWaitSeconds": 60}, None)
    move = after_code_request(answer, DeliveryMethod.VOICE)
    assert move.step is None  # the flow is at the code step since before the call
    assert move.audit == ("request_code", "sent_voice")
    assert move.fields() == {"wrong_code_count": 0}


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        ({"success": False, "retryAfter": 30}, "wait"),
        ({"success": False, "retryAfter": "45"}, "wait"),
        ({"success": False, "voiceWaitSeconds": 120}, "wait"),
        ({"success": False}, "refused"),
        ({"success": False, "retryAfter": 0, "smsWaitSeconds": 0}, "refused"),
    ],
)
def test_a_refused_request_goes_back_to_the_method(body: dict[str, object], outcome: str) -> None:
    move = after_code_request(CodeRequestResult.from_body(body, None), SMS)
    assert move.audit == ("request_code", outcome)
    assert move.fields() == {"step": "method", "pending_call": None}


def test_the_captcha_answer() -> None:
    assert after_captcha(True) == Transition("captcha", "solved", Step.CODE)
    wrong = after_captcha(False)
    assert (wrong.step, wrong.audit, wrong.fields()) == (
        None,
        ("captcha", "wrong"),
        {"pending_call": None},
    )


def test_the_code_connects_or_asks_for_the_pin_or_the_transfer() -> None:
    reg = flow()
    connected = after_code(reg, CodeConfirmation.from_body({"success": True}))
    assert connected == Transition("register", "connected", ends=True)
    pin = after_code(reg, CodeConfirmation.from_body({"confirmSecurityCode": True}))
    assert (pin.step, pin.audit) == (Step.PIN, ("confirm_code", "pin_required"))
    device = after_code(reg, CodeConfirmation.from_body({"deviceConfirm": True}))
    assert (device.step, device.audit) == (Step.DEVICE, ("confirm_code", "device_confirm"))


def test_wrong_codes_are_counted_and_the_last_ones_say_so() -> None:
    wrong = CodeConfirmation.from_body({"success": False})
    reg = flow()
    outcomes = []
    for _ in range(MAX_WRONG_CODES + 1):
        move = after_code(reg, wrong)
        assert move.step is None and not move.ends
        outcomes.append(move.outcome)
        reg = reg.copy(**move.fields())
    assert reg.wrong_code_count == MAX_WRONG_CODES + 1
    assert outcomes == ["wrong_code"] * (MAX_WRONG_CODES - 1) + ["wrong_code_many"] * 2


def test_the_device_transfer_and_the_pin() -> None:
    assert after_device_transfer(True).ends
    assert after_device_transfer(False) == Transition("device_transfer", "not_yet")
    assert after_pin(CodeConfirmation.from_body({"success": True})).ends
    device = after_pin(CodeConfirmation.from_body({"deviceConfirm": True}))
    assert (device.step, device.audit) == (Step.DEVICE, ("confirm_pin", "device_confirm"))
    assert after_pin(CodeConfirmation.from_body({})) == Transition("confirm_pin", "wrong_pin")
    assert after_pin_recovery(True).audit == ("recover_pin", "sent")
    assert after_pin_recovery(False).audit == ("recover_pin", "failed")


@pytest.mark.parametrize(
    ("body", "outcome", "ends"),
    [
        ({"success": True, "status": "unbanned"}, "unbanned", False),
        ({"success": True, "status": "IN_REVIEW"}, "in_review", True),
        ({"success": True}, "in_review", True),
        ({"success": False, "status": "UNBANNED"}, "refused", True),
    ],
)
def test_the_appeal(body: dict[str, object], outcome: str, ends: bool) -> None:
    move = after_appeal(UnbanResult.from_body(body))
    assert (move.outcome, move.ends) == (outcome, ends)
    if not ends:
        assert move.fields() == {"step": "phone", "appeal_token": None, "pending_call": None}
