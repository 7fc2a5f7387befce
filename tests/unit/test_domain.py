"""The pure parts, without sockets, databases or sleeps: the wait rule, a step's change, the
steps table, the callback data of buttons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.conversation.ports import Change, ReportedWaits
from bot.conversation.steps import (
    ADMISSION,
    BUTTONS,
    EVERYWHERE,
    FLOWLESS,
    STEPS,
    acts_at,
    back_from,
    progress_order,
)
from bot.conversation.texts import CATALOGS
from bot.domain.methods import DeliveryMethod
from bot.domain.parsing import same_number
from bot.domain.record import FlowRecord
from bot.domain.steps import SETUP_STEPS, Action, Step
from bot.domain.waits import Availability, blocked_methods, method_states, seconds_left
from bot.render import ButtonPress
from bot.zapi.models import MethodWaits

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SMS, VOICE, WA_OLD = DeliveryMethod.SMS, DeliveryMethod.VOICE, DeliveryMethod.WA_OLD


# -- the wait rule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "shown"),
    [(0.0, 0), (-5.0, 0), (0.2, 1), (1.0, 1), (1.001, 2), (65.0, 65), (64.5, 65)],
)
def test_seconds_left_round_up_and_stop_at_zero(left: float, shown: int) -> None:
    assert seconds_left(NOW + timedelta(seconds=left), NOW) == shown


def test_every_method_gets_one_state_in_the_order_offered() -> None:
    states = method_states(
        ready_at={VOICE: NOW + timedelta(seconds=30), SMS: NOW - timedelta(seconds=1)},
        blocked=set(),
        wa_old_eligible=None,
        now=NOW,
    )
    assert list(states) == [SMS, VOICE, WA_OLD]
    assert states[SMS].availability is Availability.USABLE and states[SMS].usable
    assert (states[VOICE].availability, states[VOICE].seconds_left) == (Availability.WAITING, 30)
    assert states[WA_OLD].usable


def test_blocked_wins_over_a_wait_and_the_pop_up_can_be_not_offered() -> None:
    states = method_states(
        ready_at={VOICE: NOW + timedelta(seconds=30)},
        blocked={VOICE},
        wa_old_eligible=False,
        now=NOW,
    )
    assert states[VOICE].availability is Availability.BLOCKED
    assert states[WA_OLD].availability is Availability.NOT_OFFERED
    assert not states[VOICE].usable and not states[WA_OLD].usable


def test_a_wait_that_ends_makes_the_method_usable() -> None:
    ready = {SMS: NOW + timedelta(seconds=10)}
    before = method_states(ready_at=ready, blocked=(), wa_old_eligible=True, now=NOW)
    after = method_states(
        ready_at=ready, blocked=(), wa_old_eligible=True, now=NOW + timedelta(seconds=10)
    )
    assert not before[SMS].usable and after[SMS].usable


def test_blocked_methods_read_from_their_stored_form() -> None:
    assert blocked_methods("") == set()
    assert blocked_methods("voice,wa_old") == {VOICE, WA_OLD}


# -- a step's change -------------------------------------------------------------------------


def flow(**values: object) -> FlowRecord:
    base = FlowRecord(chat_id=1, user_id=1, flow_id="f1", step="method", version=3)
    return base.copy(**values)


def test_a_change_bumps_the_version_and_stamps_the_time() -> None:
    before = flow()
    change = Change.of(before, now=NOW, idle_timeout=timedelta(minutes=15), step="code")
    assert (change.after.step, change.after.version, change.after.updated_at) == ("code", 4, NOW)
    assert (before.step, before.version) == ("method", 3)  # left as it was until committed


def test_waits_become_deadlines_and_minus_one_blocks() -> None:
    reported = ReportedWaits(MethodWaits({SMS: 0, VOICE: 65, WA_OLD: -1}))
    change = Change.of(flow(), now=NOW, idle_timeout=timedelta(minutes=15), waits=reported)
    assert change.ready_at == {"sms": None, "voice": NOW + timedelta(seconds=65)}
    assert change.after.blocked_methods == "wa_old"


def test_retry_after_applies_to_the_method_requested() -> None:
    reported = ReportedWaits(MethodWaits({SMS: 10}), retry_after=120, method=SMS)
    change = Change.of(flow(), now=NOW, idle_timeout=timedelta(minutes=15), waits=reported)
    assert change.ready_at == {"sms": NOW + timedelta(seconds=120)}


def test_the_lease_outlasts_the_idle_deadline_a_wait_and_a_call() -> None:
    idle = timedelta(minutes=15)
    assert Change.of(flow(), now=NOW, idle_timeout=idle).lease_needed == NOW + idle
    waiting = ReportedWaits(MethodWaits({VOICE: 3600}))
    change = Change.of(flow(), now=NOW, idle_timeout=idle, waits=waiting)
    assert change.lease_needed == NOW + timedelta(seconds=3600) + idle
    call = timedelta(hours=2)
    assert Change.of(flow(), now=NOW, idle_timeout=idle, hold_for=call).lease_needed == NOW + call


# -- the steps table -------------------------------------------------------------------------


def test_every_step_is_declared_with_its_texts_in_every_language() -> None:
    assert set(STEPS) == set(Step)
    for catalog in CATALOGS.values():
        assert set(catalog.step_names) >= {step.value for step in Step}, catalog.language
        assert set(catalog.step_hints) >= {step.value for step in Step}, catalog.language


def test_every_button_does_something_somewhere() -> None:
    assert set(BUTTONS) | FLOWLESS | ADMISSION == set(Action)
    assert not set(BUTTONS) & FLOWLESS and not set(BUTTONS) & ADMISSION
    offered = {action for spec in STEPS.values() for action in spec.buttons}
    assert offered | EVERYWHERE | FLOWLESS | ADMISSION == set(Action)


def test_back_leads_one_step_back_and_never_loops() -> None:
    for step in Step:
        seen = {step}
        target = back_from(step, several_instances=True)
        while target is not None:
            assert target not in seen, (step, target)
            seen.add(target)
            target = back_from(target, several_instances=True)
    assert back_from(Step.DDI, several_instances=True) is Step.INSTANCE
    assert back_from(Step.DDI, several_instances=False) is None


def test_progress_counts_five_steps_or_four_with_one_instance() -> None:
    assert progress_order(several_instances=True) == [
        Step.INSTANCE,
        Step.DDI,
        Step.PHONE,
        Step.METHOD,
        Step.CODE,
    ]
    assert Step.INSTANCE not in progress_order(several_instances=False)
    setup = progress_order(several_instances=True, setup=True)
    assert setup == [Step.PROFILE_NAME, Step.PROFILE_ABOUT, Step.TWO_FA, Step.EMAIL]
    counted = progress_order(several_instances=True) + setup
    assert all(STEPS[step].group in counted for step in Step)


def test_buttons_act_only_where_declared() -> None:
    assert acts_at(Step.PIN, Action.FORGOT_PIN) and not acts_at(Step.CODE, Action.FORGOT_PIN)
    assert all(acts_at(step, Action.BACK) for step in Step)
    # The set-up has Finish where the registration has Cancel: the number is connected.
    for step in Step:
        assert acts_at(step, Action.CANCEL) is (step not in SETUP_STEPS), step
        assert acts_at(step, Action.FINISH) is (step in SETUP_STEPS), step


def test_the_pin_step_is_the_secret_one() -> None:
    secret = [step for step, spec in STEPS.items() if spec.secret]
    assert secret == [Step.PIN, Step.TWO_FA, Step.TWO_FA_AGAIN]


def test_buttons_that_make_zapi_act_are_exactly_the_ones_that_call_it() -> None:
    acting = {action for action, spec in BUTTONS.items() if spec.acts_on_zapi}
    assert acting == {
        Action.METHOD,
        Action.RETRY,
        Action.YES,
        Action.DEVICE_ACCEPTED,
        Action.FORGOT_PIN,
        Action.EMAIL_AGAIN,
    }


# -- callback data ---------------------------------------------------------------------------


def test_button_presses_round_trip_within_telegrams_64_bytes() -> None:
    press = ButtonPress("a1b2c3d4", 123456789, Action.BACK, "phone_confirm")
    data = press.encode()
    assert len(data.encode()) <= 64
    assert ButtonPress.decode(data) == press


@pytest.mark.parametrize(
    "data", [None, "", "f:1:m", "f:x:m:sms", "f:1:?:sms", "f:1234567890:m:sms", "f:-1:m:"]
)
def test_malformed_callback_data_is_no_press(data: str | None) -> None:
    assert ButtonPress.decode(data) is None


def test_the_number_z_api_reports_is_the_one_registered() -> None:
    assert same_number("+5544999999999", "5544999999999")
    assert same_number("554499999999", "5544999999999")  # WhatsApp's form without the ninth 9
    assert not same_number("554488888888", "5544999999999")
    assert not same_number("14155550100", "14155550101")
