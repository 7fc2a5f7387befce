"""Everything else a member may send, the commands around the flow, stale buttons, idle flows.

End-to-end through the real Application (`start_bot`) with the Telegram and Z-API doubles:
bad input at every step, /status, /back and ⬅ Back, /cancel and ✖ Cancel, /register resuming,
buttons of older flows and steps, the idle timeout, and members racing for an instance.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from bot.conversation.commands import help_text
from bot.conversation.number_steps import CHECKED
from bot.conversation.texts.en import ENGLISH as EN
from bot.domain.steps import SETUP_STEPS, Step
from bot.storage.models import InstanceLease, Registration
from tests.conftest import ADMIN, CLIENT_TOKEN, INSTANCE_TOKENS, MEMBER, OTHER_MEMBER
from tests.doubles.telegram_api import ApiCall, TelegramDouble, TgUser
from tests.doubles.zapi import NumberProfile, ZapiDouble
from tests.harness import BotHarness, settle, until

DDI, PHONE, TYPED_NUMBER = "55", "44999999999", "(44) 99999-9999"
SHOWN_NUMBER = "+55 44 99999-9999"
# phonenumbers calls this invalid (Z-API's own example): the member is asked to confirm it.
DOUBTFUL_NUMBER = "4499999999"
CAPTCHA_ANSWER = "K7P2Q"
PIN = "654321"
APPEAL_TEXT = "This is our support line and it was banned by mistake."
ONE_INSTANCE = f"inst-a=inst-a:{INSTANCE_TOKENS['inst-a']}"

PROFILES = {
    Step.BANNED: NumberProfile(banned=True),
    Step.APPEAL: NumberProfile(banned=True),
    Step.CAPTCHA: NumberProfile(captcha=CAPTCHA_ANSWER),
    Step.DEVICE: NumberProfile(device_confirm=True),
    Step.PIN: NumberProfile(pin=PIN),
}

# What a member sees when a typed answer does not fit the step.
TEXT_HINTS = {
    Step.INSTANCE: EN.unknown_instance,
    Step.REPLACE: EN.step_hints["replace"],
    Step.DDI: EN.bad_ddi,
    Step.PHONE: EN.phone_not_digits,
    Step.PHONE_CONFIRM: EN.phone_confirm_hint,
    Step.BANNED: EN.banned_hint,
    Step.APPEAL: EN.appeal_length,
    Step.METHOD: EN.method_unknown,
    Step.CAPTCHA: EN.captcha_bad_input,
    Step.CODE: EN.bad_code,
    Step.DEVICE: EN.device_hint,
    Step.PIN: EN.bad_pin,
}

# The answer that moves each step on, and a piece of what the member reads then.
VALID_ANSWERS = {
    Step.INSTANCE: ("inst-a", "country code"),
    Step.REPLACE: ("yes", "country code"),
    Step.DDI: ("+55", "Now the number for +55"),
    Step.PHONE: (TYPED_NUMBER, "How should WhatsApp send the code"),
    Step.PHONE_CONFIRM: ("yes", "How should WhatsApp send the code"),
    Step.BANNED: ("appeal", "Describe in a sentence or two"),
    Step.APPEAL: (APPEAL_TEXT, "Appeal sent"),
    Step.METHOD: ("sms", "Code sent by SMS"),
    Step.CAPTCHA: (CAPTCHA_ANSWER, "Captcha accepted"),
    Step.CODE: ("123 456", "Connected"),
    Step.DEVICE: ("done", "Connected"),
    Step.PIN: (PIN, "Connected"),
}

# The question of each step, as it starts (after the step indicator line).
QUESTIONS = {
    Step.INSTANCE: "Which instance should the number go on?",
    Step.REPLACE: "inst-a is connected to WhatsApp right now",
    Step.DDI: "Send the country code (DDI)",
    Step.PHONE: "Now the number for +55",
    Step.PHONE_CONFIRM: "doesn't look like a valid number for +55",
    Step.BANNED: "is banned by WhatsApp",
    Step.APPEAL: "Describe in a sentence or two",
    Step.METHOD: "How should WhatsApp send the code",
    Step.CAPTCHA: "the characters",
    Step.CODE: "Send the 6-digit code WhatsApp sent to",
    Step.DEVICE: "accept the transfer",
    Step.PIN: "two-step verification",
}

# What the member reads on arriving at a step from the step before.
ARRIVALS = {
    **QUESTIONS,
    Step.CAPTCHA: "WhatsApp wants a captcha first",
    Step.CODE: "Code sent by SMS",
}

BACK_TO = {
    Step.DDI: Step.INSTANCE,
    Step.PHONE: Step.DDI,
    Step.PHONE_CONFIRM: Step.PHONE,
    Step.BANNED: Step.PHONE,
    Step.APPEAL: Step.BANNED,
    Step.METHOD: Step.PHONE,
    Step.CAPTCHA: Step.METHOD,
    Step.CODE: Step.METHOD,
    Step.DEVICE: Step.CODE,
    Step.PIN: Step.CODE,
}
# Keyboards without ⬅ Back carry a button that goes back exactly one step under another name.
BACK_EQUIVALENT = {Step.BANNED: "Change number", Step.CODE: "Didn't get it"}

LEAKS = ("http://", "https://", "Traceback", CLIENT_TOKEN, *INSTANCE_TOKENS.values())


# -- helpers ------------------------------------------------------------------------------------


def assert_plain(reply: ApiCall) -> None:
    """No raw error, URL or secret, and not the generic 'something went wrong'."""
    text = reply.text or ""
    assert EN.unexpected_error not in text, text
    for leak in LEAKS:
        assert leak not in text, text


async def load(bot: BotHarness, user: TgUser = MEMBER) -> Registration | None:
    return await bot.services.flow.load(user.id)


async def leases(bot: BotHarness) -> dict[str, int]:
    async with bot.services.database.session() as session:
        rows = await session.execute(select(InstanceLease.instance, InstanceLease.chat_id))
        return {instance: chat_id for instance, chat_id in rows}


async def at_step(bot: BotHarness, step: Step, user: TgUser = MEMBER) -> None:
    reg = await load(bot, user)
    assert reg is not None, "the flow ended"
    assert Step(reg.step) is step, f"expected {step}, the flow is at {reg.step}"


async def until_status(telegram: TelegramDouble, user: TgUser) -> tuple[list[ApiCall], ApiCall]:
    """Send /status as a marker; return the replies that came before its answer, and the answer.

    One chat's updates are handled strictly in order, so everything the bot says about the
    earlier updates comes before the status answer.
    """
    telegram.send_text(user, "/status")
    before: list[ApiCall] = []
    while True:
        reply = await telegram.next_reply(user.id, timeout=15)
        text = reply.text or ""
        if text.startswith("📋") or text == EN.status_none:
            return before, reply
        before.append(reply)


async def drive_to(bot: BotHarness, zapi: ZapiDouble, step: Step, user: TgUser = MEMBER) -> ApiCall:
    """Walk `user` from /register to `step` on inst-a; returns the step's question."""
    zapi.add_number(DDI, PHONE, PROFILES.get(step, NumberProfile()))
    if step is Step.REPLACE:  # inst-a runs a number, as the board (an admin's /instances) saw
        zapi.set_connected("inst-a")
        await bot.say(ADMIN, "/instances")
    reply = await bot.say(user, "/register")
    assert QUESTIONS[Step.INSTANCE] in (reply.text or ""), reply.text
    if step is not Step.INSTANCE:
        reply = await bot.tap(user, "inst-a")
    if step not in (Step.INSTANCE, Step.REPLACE, Step.DDI):
        reply = await bot.say(user, DDI)
    if step is Step.PHONE_CONFIRM:
        reply = await bot.say(user, DOUBTFUL_NUMBER)
    elif step not in (Step.INSTANCE, Step.REPLACE, Step.DDI, Step.PHONE):
        reply = await bot.say(user, TYPED_NUMBER)
    if step is Step.APPEAL:
        reply = await bot.tap(user, "Appeal")
    if step in (Step.CAPTCHA, Step.CODE, Step.DEVICE, Step.PIN):
        reply = await bot.tap(user, "SMS")
    if step in (Step.DEVICE, Step.PIN):
        reply = await bot.say(user, "123456")
    assert ARRIVALS[step] in (reply.text or ""), (step, reply.text)
    await at_step(bot, step, user)
    return reply


async def answer_validly(bot: BotHarness, zapi: ZapiDouble, step: Step) -> ApiCall:
    text, expected = VALID_ANSWERS[step]
    if step is Step.DEVICE:
        zapi.accept_device_transfer("inst-a")
    reply = await bot.say(MEMBER, text)
    assert expected in (reply.text or ""), (step, reply.text)
    if step is Step.REPLACE:  # the number is gone again, for the steps after
        zapi.set_connected("inst-a", False)
        await bot.say(ADMIN, "/instances")
    return reply


async def end_flow(bot: BotHarness, telegram: TelegramDouble) -> None:
    """End whatever flow MEMBER has, reading every reply up to the answer to /cancel."""
    telegram.send_text(MEMBER, "/cancel")
    while True:
        reply = await telegram.next_reply(MEMBER.id, timeout=15)
        if reply.text in (EN.cancelled, EN.nothing_to_cancel):
            break
    assert await load(bot) is None
    assert await leases(bot) == {}


def callback_answer(telegram: TelegramDouble, query_id: str) -> Any:
    return telegram.wait_for(
        "answerCallbackQuery",
        predicate=lambda call: str(call.params.get("callback_query_id")) == query_id,
        timeout=15,
    )


# -- bad input at every step --------------------------------------------------------------------

BAD_INPUTS: list[tuple[str, dict[str, Any]]] = [
    ("sticker", {"sticker": True}),
    ("photo", {"photo": True}),
    ("photo with a caption", {"photo": True, "caption": "55 44 99999-9999"}),
    ("voice note", {"voice": True}),
    ("document", {"document": True}),
    ("4000 digits", {"text": "1234567890" * 400}),
    ("4000 letters", {"text": "x" * 4000}),
    ("emoji", {"text": "😀👍🎉"}),
    ("letters", {"text": "abc, xyz!"}),
    ("unknown command", {"text": "/foo"}),
    ("unknown command with arguments", {"text": "/foo 123456"}),
]


async def test_bad_input_at_every_step_gets_a_hint_and_keeps_the_step(start_bot, telegram, zapi):
    bot = await start_bot()
    # The set-up's steps: tests/e2e/test_setup.py.
    for step in (step for step in Step if step not in SETUP_STEPS):
        await drive_to(bot, zapi, step)
        requests_before = len(zapi.requests)
        expected = (EN.step_hints[step.value], TEXT_HINTS[step])

        for label, message in BAD_INPUTS:
            telegram.send_message(MEMBER, **message)
            reply = await telegram.next_reply(MEMBER.id, timeout=15)
            assert any(hint in (reply.text or "") for hint in expected), (step, label, reply.text)
            assert_plain(reply)
            await at_step(bot, step)

        assert len(zapi.requests) == requests_before, (step, [r.path for r in zapi.requests])
        await answer_validly(bot, zapi, step)
        await end_flow(bot, telegram)


async def test_start_and_help_in_the_middle_of_a_step_remind_the_step(start_bot, telegram, zapi):
    bot = await start_bot()
    for step in (Step.INSTANCE, Step.PHONE, Step.METHOD, Step.CODE, Step.PIN):
        await drive_to(bot, zapi, step)
        requests_before = len(zapi.requests)
        for command, general in (("/start", EN.start), ("/help", help_text(EN))):
            telegram.send_text(MEMBER, command)
            replies, status = await until_status(telegram, MEMBER)
            texts = [reply.text or "" for reply in replies]
            assert any(general in text for text in texts), (step, command, texts)
            reminder = (
                EN.step_hints[step.value],
                f"· {EN.step_names[step.value]}",
                QUESTIONS[step],
            )
            assert any(part in text for text in texts for part in reminder), (
                f"{command} in the middle of the {step.value} step does not say what the step "
                "expects",
                texts,
            )
            assert f"· {EN.step_names[step.value]}" in (status.text or "")
            await at_step(bot, step)
        assert len(zapi.requests) == requests_before
        await answer_validly(bot, zapi, step)
        await end_flow(bot, telegram)


async def test_long_appeal_and_short_appeal_are_refused_without_calling_zapi(
    start_bot, telegram, zapi
):
    bot = await start_bot()
    await drive_to(bot, zapi, Step.APPEAL)
    requests_before = len(zapi.requests)
    for text in ("too short", "a" * 501, "word " * 120):
        reply = await bot.say(MEMBER, text)
        assert EN.appeal_length in (reply.text or ""), reply.text
        await at_step(bot, Step.APPEAL)
    assert len(zapi.requests) == requests_before
    await answer_validly(bot, zapi, Step.APPEAL)
    [appeal] = zapi.requests_to("mobile/request-unbanning")
    assert appeal.json["description"] == APPEAL_TEXT


async def test_malformed_numbers_and_codes_never_reach_zapi(start_bot, telegram, zapi):
    bot = await start_bot()
    await drive_to(bot, zapi, Step.PHONE)
    # (Digits of other scripts are read as the digits they are: see test_phone_input.py.)
    for text in ("12345", "9" * 16, "44 9999x-9999", "+1 202 555 0123", "⁴⁴⁹⁹⁹⁹⁹⁹⁹⁹⁹"):
        reply = await bot.say(MEMBER, text)
        assert_plain(reply)
        await at_step(bot, Step.PHONE)
    assert zapi.requests == []

    await answer_validly(bot, zapi, Step.PHONE)
    [check] = zapi.requests_to("mobile/registration-available")
    assert check.json == {"ddi": DDI, "phone": PHONE}

    await bot.tap(MEMBER, "SMS")
    await at_step(bot, Step.CODE)
    before = len(zapi.requests)
    for text in ("12345", "1234567", "12a456", "①②③④⑤⑥", "123--456", "123456 or 654321"):
        reply = await bot.say(MEMBER, text)
        assert EN.bad_code in (reply.text or ""), (text, reply.text)
    assert len(zapi.requests) == before
    await answer_validly(bot, zapi, Step.CODE)
    [confirm] = zapi.requests_to("mobile/confirm-registration-code")
    assert confirm.json == {"code": "123456"}


# -- /status ------------------------------------------------------------------------------------


async def test_status_without_a_flow(start_bot, telegram, zapi):
    bot = await start_bot()
    reply = await bot.say(MEMBER, "/status")
    assert reply.text == EN.status_none
    assert zapi.requests == []


async def test_status_shows_step_instance_number_and_waits(start_bot, telegram, zapi):
    bot = await start_bot()
    await drive_to(bot, zapi, Step.INSTANCE)
    zapi.add_number(DDI, PHONE, NumberProfile(waits={"sms": 600, "voice": 90}))

    status = await bot.say(MEMBER, "/status")
    assert "Step 1/5 · Instance" in status.text
    assert "Instance: —" in status.text and "Number: —" in status.text
    assert "Waits: none" in status.text

    await bot.tap(MEMBER, "inst-a")
    await bot.say(MEMBER, DDI)
    status = await bot.say(MEMBER, "/status")
    assert "Step 3/5 · Phone number" in status.text
    assert "Instance: inst-a" in status.text and "Number: +55" in status.text

    reply = await bot.say(MEMBER, TYPED_NUMBER)
    assert QUESTIONS[Step.METHOD] in reply.text
    status = await bot.say(MEMBER, "/status")
    assert "Step 4/5 · How to get the code" in status.text
    assert f"Number: {SHOWN_NUMBER}" in status.text
    assert re.search(r"SMS (10|9) min", status.text), status.text
    assert "Voice call 1 min" in status.text, status.text

    # /status changed nothing: the method step still takes an answer.
    reply = await bot.say(MEMBER, "wa_old")
    assert "WhatsApp pop-up" in reply.text
    status = await bot.say(MEMBER, "/status")
    assert "Step 5/5 · Code" in status.text
    assert "SMS" in status.text and "Voice call" in status.text
    await at_step(bot, Step.CODE)


async def test_status_at_the_pin_step_and_after_the_end(start_bot, telegram, zapi):
    bot = await start_bot()
    await drive_to(bot, zapi, Step.PIN)
    status = await bot.say(MEMBER, "/status")
    assert "Two-step PIN" in status.text and "inst-a" in status.text
    assert SHOWN_NUMBER in status.text
    await answer_validly(bot, zapi, Step.PIN)
    status = await bot.say(MEMBER, "/status")
    assert status.text == EN.status_none


# -- /back and ⬅ Back ---------------------------------------------------------------------------


async def test_back_command_goes_back_exactly_one_step_from_every_step(start_bot, telegram, zapi):
    bot = await start_bot()
    for step, target in BACK_TO.items():
        await drive_to(bot, zapi, step)
        requests_before = len(zapi.requests)
        reply = await bot.say(MEMBER, "/back")
        assert QUESTIONS[target] in (reply.text or ""), (step, reply.text)
        await at_step(bot, target)
        assert len(zapi.requests) == requests_before, step
        # The member carries on from there (where Z-API's own state allows a plain answer).
        if step in (Step.DDI, Step.PHONE, Step.PHONE_CONFIRM, Step.METHOD, Step.CODE):
            await answer_validly(bot, zapi, target)
        await end_flow(bot, telegram)


async def test_back_button_goes_back_exactly_one_step_from_every_step(start_bot, telegram, zapi):
    """⬅ Back where the keyboard has it; the code and banned steps have a named equivalent."""
    bot = await start_bot()
    for step, target in BACK_TO.items():
        await drive_to(bot, zapi, step)
        requests_before = len(zapi.requests)
        reply = await bot.tap(MEMBER, BACK_EQUIVALENT.get(step, EN.button_back))
        assert QUESTIONS[target] in (reply.text or ""), (step, reply.text)
        await at_step(bot, target)
        assert len(zapi.requests) == requests_before, step
        await end_flow(bot, telegram)


async def test_back_at_the_first_step_says_so(start_bot, telegram, zapi):
    bot = await start_bot()
    await drive_to(bot, zapi, Step.PHONE)
    assert QUESTIONS[Step.DDI] in (await bot.say(MEMBER, "/back")).text
    assert QUESTIONS[Step.INSTANCE] in (await bot.say(MEMBER, "/back")).text
    reply = await bot.say(MEMBER, "/back")
    assert reply.text == EN.first_step
    question = await telegram.next_reply(MEMBER.id)
    assert QUESTIONS[Step.INSTANCE] in question.text
    await at_step(bot, Step.INSTANCE)
    await answer_validly(bot, zapi, Step.INSTANCE)


async def test_back_at_the_first_step_with_one_instance(start_bot, telegram, zapi):
    bot = await start_bot(zapi_instances=ONE_INSTANCE)
    reply = await bot.say(MEMBER, "/register")
    assert QUESTIONS[Step.DDI] in reply.text
    reply = await bot.say(MEMBER, "/back")
    assert reply.text == EN.first_step
    assert QUESTIONS[Step.DDI] in (await telegram.next_reply(MEMBER.id)).text
    await at_step(bot, Step.DDI)
    assert await leases(bot) == {"inst-a": MEMBER.id}


async def test_back_to_the_instance_step_frees_the_instance(start_bot, telegram, zapi):
    bot = await start_bot()
    await drive_to(bot, zapi, Step.DDI)
    assert await leases(bot) == {"inst-a": MEMBER.id}
    reply = await bot.tap(MEMBER, EN.button_back)
    assert QUESTIONS[Step.INSTANCE] in reply.text
    assert await leases(bot) == {}

    reply = await bot.say(OTHER_MEMBER, "/register")
    labels = [button["text"] for row in reply.reply_markup["inline_keyboard"] for button in row]
    assert "inst-a" in labels, labels
    reply = await bot.tap(OTHER_MEMBER, "inst-a")
    assert "country code" in reply.text

    # Now the first member sees it busy, and cannot take it back.
    reply = await bot.say(MEMBER, "inst-a")
    assert "inst-a is busy" in reply.text
    await at_step(bot, Step.INSTANCE)


# -- /cancel and ✖ Cancel -----------------------------------------------------------------------


async def test_cancel_command_ends_the_flow_and_frees_the_instance(start_bot, telegram, zapi):
    bot = await start_bot()
    await drive_to(bot, zapi, Step.PHONE)
    reply = await bot.say(MEMBER, "/cancel")
    assert reply.text == EN.cancelled
    assert await load(bot) is None
    assert await leases(bot) == {}

    reply = await bot.say(MEMBER, TYPED_NUMBER)
    assert reply.text == EN.no_flow
    assert zapi.requests == []

    await bot.say(OTHER_MEMBER, "/register")
    reply = await bot.tap(OTHER_MEMBER, "inst-a")
    assert "country code" in reply.text


async def test_cancel_without_a_flow(start_bot, telegram, zapi):
    bot = await start_bot()
    reply = await bot.say(MEMBER, "/cancel")
    assert reply.text == EN.nothing_to_cancel
    reply = await bot.say(MEMBER, "/back")
    assert reply.text == EN.no_flow


async def test_cancel_command_and_button_from_any_step(start_bot, telegram, zapi):
    bot = await start_bot()
    steps = [Step.INSTANCE, Step.PHONE_CONFIRM, Step.BANNED, Step.CAPTCHA, Step.CODE, Step.PIN]
    for how in ("command", "button"):
        for step in steps:
            await drive_to(bot, zapi, step)
            requests_before = len(zapi.requests)
            if how == "command":
                reply = await bot.say(MEMBER, "/cancel")  # typed: taken as meant
            else:
                reply = await bot.tap(MEMBER, EN.button_cancel)
                if step in CHECKED:  # a checked number would be lost: the button asks first
                    assert "Cancel this registration?" in (reply.text or ""), (step, reply.text)
                    assert await load(bot) is not None
                    reply = await bot.tap(MEMBER, EN.button_cancel_sure)
            assert reply.text == EN.cancelled, (how, step, reply.text)
            assert await load(bot) is None
            assert await leases(bot) == {}, (how, step)
            assert len(zapi.requests) == requests_before
    await bot.say(OTHER_MEMBER, "/register")
    assert "country code" in (await bot.tap(OTHER_MEMBER, "inst-a")).text


# -- /register resumes --------------------------------------------------------------------------


async def test_register_during_a_flow_resumes_it(start_bot, telegram, zapi):
    bot = await start_bot()
    for step in (Step.INSTANCE, Step.DDI, Step.PHONE, Step.METHOD, Step.CODE, Step.PIN):
        await drive_to(bot, zapi, step)
        before = await load(bot)
        requests_before = len(zapi.requests)

        reply = await bot.say(MEMBER, "/register")
        assert reply.text == EN.resumed, (step, reply.text)
        question = await telegram.next_reply(MEMBER.id)
        assert QUESTIONS[step] in question.text, (step, question.text)

        after = await load(bot)
        assert after is not None and before is not None
        assert (after.flow_id, after.step, after.instance, after.ddi, after.phone) == (
            before.flow_id,
            before.step,
            before.instance,
            before.ddi,
            before.phone,
        ), step
        assert len(zapi.requests) == requests_before, f"resuming at {step} called Z-API"
        await answer_validly(bot, zapi, step)
        await end_flow(bot, telegram)


# -- stale buttons ------------------------------------------------------------------------------


async def test_buttons_of_a_cancelled_flow_change_nothing(start_bot, telegram, zapi):
    bot = await start_bot()
    await bot.say(MEMBER, "/register")
    old_instance = telegram.button(MEMBER.id, "inst-a")
    await bot.tap(MEMBER, "inst-a")
    old_back = telegram.button(MEMBER.id, EN.button_back)
    old_cancel = telegram.button(MEMBER.id, EN.button_cancel)
    assert (await bot.say(MEMBER, "/cancel")).text == EN.cancelled
    assert telegram.live_keyboards(MEMBER.id) == []  # the cancelled flow's buttons are gone

    # A client that missed that still shows them: with no flow at all, an old button only
    # gets a short answer.
    query = telegram.press(MEMBER, *old_instance, strict=False)
    answer = await callback_answer(telegram, query)
    assert answer.params.get("text") == EN.stale_button_ended  # and what to do instead
    assert await load(bot) is None and await leases(bot) == {}

    reply = await bot.say(MEMBER, "/register")
    assert QUESTIONS[Step.INSTANCE] in reply.text
    new_flow = await load(bot)
    assert new_flow is not None

    for button in (old_instance, old_back, old_cancel):
        query = telegram.press(MEMBER, *button, strict=False)
        answer = await callback_answer(telegram, query)
        text = answer.params.get("text")
        assert text and len(text) <= 200, text
        replies, status = await until_status(telegram, MEMBER)
        assert replies == [], [r.text for r in replies]
        assert "Step 1/5 · Instance" in status.text
        reg = await load(bot)
        assert reg is not None
        assert (reg.flow_id, reg.step, reg.instance) == (new_flow.flow_id, "instance", None)
        assert await leases(bot) == {}
    assert zapi.requests == []


async def test_instance_button_pressed_past_the_instance_step(start_bot, telegram, zapi):
    bot = await start_bot()
    await bot.say(MEMBER, "/register")
    instance_b = telegram.button(MEMBER.id, "inst-b")
    await bot.tap(MEMBER, "inst-a")
    await bot.say(MEMBER, DDI)
    await at_step(bot, Step.PHONE)
    assert instance_b[0] not in telegram.live_keyboards(MEMBER.id)  # its buttons were taken off

    query = telegram.press(MEMBER, *instance_b, strict=False)  # a client that missed that
    answer = await callback_answer(telegram, query)
    text = answer.params.get("text")
    assert text and len(text) <= 200, f"the stale press got no callback answer text: {text!r}"
    await until_status(telegram, MEMBER)

    reg = await load(bot)
    assert reg is not None
    assert (reg.step, reg.instance, reg.ddi) == ("phone", "inst-a", DDI)
    assert await leases(bot) == {"inst-a": MEMBER.id}
    assert zapi.requests == []
    await answer_validly(bot, zapi, Step.PHONE)


# -- idle timeout -------------------------------------------------------------------------------


async def test_idle_flow_times_out_and_frees_the_instance(start_bot, telegram, zapi, clock):
    bot = await start_bot(conversation_timeout_seconds=900)
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    assert await leases(bot) == {"inst-a": MEMBER.id}

    await clock.advance(870)
    await settle()
    assert await load(bot) is not None, "the flow ended before it was idle"
    await clock.advance(60)
    notice = await telegram.next_reply(MEMBER.id)
    assert "No answer for" in notice.text and "/register" in notice.text, notice.text
    assert await load(bot) is None
    assert await leases(bot) == {}

    reply = await bot.say(MEMBER, DDI)
    assert reply.text == EN.no_flow
    assert zapi.requests == []

    await bot.say(OTHER_MEMBER, "/register")
    assert "country code" in (await bot.tap(OTHER_MEMBER, "inst-a")).text


async def test_idle_timeout_while_zapi_is_slow_leaves_no_half_flow(
    start_bot, telegram, zapi, clock
):
    """The flow times out while the bot waits on Z-API for the member's number.

    Whatever the bot then decides, the member is not told 'something went wrong, your place is
    kept', and the flow and its instance lease end together (or live on together).
    """
    bot = await start_bot(conversation_timeout_seconds=900, zapi_timeout_seconds=120)
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    await bot.say(MEMBER, DDI)
    await clock.advance(899)
    zapi.set_delay(0.5)
    telegram.send_text(MEMBER, TYPED_NUMBER)
    await until(lambda: bool(zapi.requests_to("mobile/registration-available")))
    await clock.advance(60)  # the timeout passes while Z-API looks the number up
    replies, status = await until_status(telegram, MEMBER)
    await bot.stop()  # freeze the state: no more idle checks

    texts = [reply.text or "" for reply in replies]
    assert len(zapi.requests_to("mobile/registration-available")) == 1
    for reply in replies:
        assert_plain(reply)
    reg = await load(bot)
    held = await leases(bot)
    if reg is None:
        assert held == {}, held
        assert any("No answer for" in text for text in texts), texts
        assert not any(QUESTIONS[Step.METHOD] in text for text in texts[-1:]), texts
        assert status.text == EN.status_none, status.text
    else:
        assert held == {"inst-a": MEMBER.id}, held
        assert Step(reg.step) is Step.METHOD


async def test_an_active_member_does_not_time_out(start_bot, telegram, zapi, clock):
    bot = await start_bot(conversation_timeout_seconds=900)
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    for _ in range(5):  # 50 min in all, never 15 min idle
        await clock.advance(600)
        reply = await bot.say(MEMBER, "😀")
        assert EN.bad_ddi in reply.text or EN.step_hints["ddi"] in reply.text, reply.text
    await at_step(bot, Step.DDI)
    assert "Now the number for +55" in (await bot.say(MEMBER, DDI)).text


# -- members racing for one instance ------------------------------------------------------------


async def test_two_members_racing_for_one_instance(start_bot, telegram, zapi):
    bot = await start_bot()
    await bot.say(MEMBER, "/register")
    await bot.say(OTHER_MEMBER, "/register")
    first = telegram.button(MEMBER.id, "inst-a")
    second = telegram.button(OTHER_MEMBER.id, "inst-a")
    telegram.press(MEMBER, *first)
    telegram.press(OTHER_MEMBER, *second)
    replies = {
        user.id: await telegram.next_reply(user.id, timeout=15) for user in (MEMBER, OTHER_MEMBER)
    }

    winners = [uid for uid, reply in replies.items() if "country code" in reply.text]
    losers = [uid for uid, reply in replies.items() if "inst-a is busy" in reply.text]
    assert len(winners) == 1 and len(losers) == 1, {k: r.text for k, r in replies.items()}
    [winner], [loser] = winners, losers
    assert await leases(bot) == {"inst-a": winner}

    labels = [button["text"] for row in telegram.last_keyboard(loser) or [] for button in row]
    assert "inst-a (busy)" in labels, labels
    loser_user = MEMBER if loser == MEMBER.id else OTHER_MEMBER
    await at_step(bot, Step.INSTANCE, loser_user)

    # The busy button cannot be taken either: the message already says so, and still does.
    message_id, _ = telegram.button(loser, "inst-a (busy)")
    telegram.press_button(loser_user, "inst-a (busy)")
    await until_status(telegram, loser_user)
    [question] = [m for m in telegram.bot_messages(loser) if m["message_id"] == message_id]
    assert "inst-a is busy" in question["text"]
    assert await leases(bot) == {"inst-a": winner}

    reply = await bot.tap(loser_user, "inst-b")
    assert "country code" in reply.text
    assert await leases(bot) == {"inst-a": winner, "inst-b": loser}


async def test_one_instance_held_means_every_instance_is_busy(start_bot, telegram, zapi):
    bot = await start_bot(zapi_instances=ONE_INSTANCE)
    reply = await bot.say(MEMBER, "/register")
    assert QUESTIONS[Step.DDI] in reply.text
    assert await leases(bot) == {"inst-a": MEMBER.id}

    reply = await bot.say(OTHER_MEMBER, "/register")
    assert reply.text == EN.all_instances_busy
    assert await load(bot, OTHER_MEMBER) is None
    assert (await bot.say(OTHER_MEMBER, DDI)).text == EN.no_flow

    assert (await bot.say(MEMBER, "/cancel")).text == EN.cancelled
    reply = await bot.say(OTHER_MEMBER, "/register")
    assert QUESTIONS[Step.DDI] in reply.text
    assert await leases(bot) == {"inst-a": OTHER_MEMBER.id}


async def test_keep_going_at_the_cancel_question_returns_to_the_step(start_bot, telegram, zapi):
    bot = await start_bot()
    await drive_to(bot, zapi, Step.PHONE)
    zapi.add_number(DDI, PHONE, NumberProfile(waits={"voice": 120}))
    await answer_validly(bot, zapi, Step.PHONE)
    question = await bot.tap(MEMBER, EN.button_cancel)
    assert question.method == "editMessageText"  # in place of the method question
    assert "was already checked" in (question.text or "")
    assert "Voice call 2 min" in (question.text or ""), question.text
    reply = await bot.tap(MEMBER, EN.button_keep_going)
    assert "How should WhatsApp send the code" in (reply.text or "")
    reg = await load(bot)
    assert reg is not None and reg.step == "method"
    assert len(telegram.live_keyboards(MEMBER.id)) == 1
