"""End-to-end paths through the /register conversation (issue 3).

The real Application runs in-process and talks HTTP to the Telegram Bot API double and to the
Z-API double. Every assertion is about what a member would notice (texts, buttons, photos) or
about what reached Z-API (paths and bodies), plus a few database rows (audit, leases).
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from sqlalchemy import select

from bot.storage.models import AuditEvent, InstanceLease
from tests.conftest import (
    ADMIN,
    BOT_TOKEN,
    CLIENT_TOKEN,
    INSTANCE_TOKENS,
    MEMBER,
    OTHER_MEMBER,
    PT_MEMBER,
)
from tests.doubles.telegram_api import ApiCall, TelegramDouble, TgUser
from tests.doubles.zapi import NumberProfile, Reply, ZapiDouble
from tests.harness import labels, settle, until

AVAILABLE = "mobile/registration-available"
REQUEST = "mobile/request-registration-code"
CAPTCHA = "mobile/respond-captcha"
CONFIRM = "mobile/confirm-registration-code"
PIN = "mobile/confirm-pin-code"
RECOVER_PIN = "mobile/recovery-pin-code"
DEVICE = "mobile/device-transfer-confirmed"
UNBAN = "mobile/request-unbanning"

DDI = "55"
PHONE = "44999999999"
SHOWN = "+55 44 99999-9999"
SINGLE = "inst-a=inst-a:tok-aaaaaaaaaaaaaaaaaaaa"

ASK_METHOD = "How should WhatsApp send the code"
POPUP_NOTE = "the code appears in WhatsApp on the phone that holds this number now"
CONNECTED = "Connected!"
WAIT_OVER = "You can request the code by"


# -- helpers ---------------------------------------------------------------------------------


def has_button(call: ApiCall, label: str) -> bool:
    return any(label.lower() in text.lower() for text in labels(call))


def assert_plain(text: str | None) -> None:
    """A failure told in plain words: no URL, no secret, no stack trace, no class name."""
    assert text, "expected a message"
    secrets_and_internals = [
        BOT_TOKEN,
        CLIENT_TOKEN,
        *INSTANCE_TOKENS.values(),
        "http://",
        "https://",
        "127.0.0.1",
        "/instances/",
        "Traceback",
        "Zapi",
        "Exception",
    ]
    for leak in secrets_and_internals:
        assert leak not in text, f"{leak!r} shown to the member: {text!r}"


def bodies(zapi: ZapiDouble, path: str) -> list[Any]:
    return [request.json for request in zapi.requests_to(path)]


async def to_method(
    bot: Any, user: TgUser = MEMBER, *, phone: str = "44 99999-9999", instance: str = "inst-a"
) -> ApiCall:
    """/register → instance → 55 → phone; returns the method question (or whatever came)."""
    reply = await bot.say(user, "/register")
    if has_button(reply, instance):
        await bot.tap(user, instance)
    await bot.say(user, "55")
    return await bot.say(user, phone)


async def to_code(bot: Any, user: TgUser = MEMBER, method: str = "SMS", **kwargs: Any) -> ApiCall:
    reply = await to_method(bot, user, **kwargs)
    assert ASK_METHOD in (reply.text or ""), reply.text
    return await bot.tap(user, method)


async def events(bot: Any) -> list[tuple[str, str]]:
    async with bot.services.database.session() as session:
        rows = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
    return [(row.action, row.outcome) for row in rows]


async def leases(bot: Any) -> dict[str, int]:
    async with bot.services.database.session() as session:
        rows = (await session.scalars(select(InstanceLease))).all()
    return {row.instance: row.chat_id for row in rows}


def wait_over_messages(telegram: Any, chat_id: int) -> list[ApiCall]:
    return [
        call
        for call in telegram.calls_to("sendMessage", chat_id)
        if call.ok and WAIT_OVER in (call.text or "")
    ]


async def assert_connected(bot: Any, reply: ApiCall, zapi: ZapiDouble) -> None:
    text = reply.text or ""
    assert CONNECTED in text, text
    assert "inst-a" in text and SHOWN in text, text
    assert zapi.connected("inst-a")
    assert await leases(bot) == {}
    assert ("register", "connected") in await events(bot)


# -- happy paths -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "method", "sent"),
    [
        ("SMS", "sms", "Code sent by SMS"),
        ("Voice call", "voice", "WhatsApp is calling"),
        ("WhatsApp pop-up", "wa_old", "Look for the WhatsApp pop-up"),
    ],
)
async def test_happy_path_per_method(start_bot, telegram, zapi, label, method, sent):
    bot = await start_bot()
    reply = await bot.say(MEMBER, "/register")
    assert "Which instance" in reply.text
    assert has_button(reply, "inst-a") and has_button(reply, "inst-b")
    reply = await bot.tap(MEMBER, "inst-a")
    assert "country code" in reply.text.lower()
    reply = await bot.say(MEMBER, "55")
    assert "+55" in reply.text
    reply = await bot.say(MEMBER, "(44) 99999-9999")
    assert ASK_METHOD in reply.text and SHOWN in reply.text
    assert POPUP_NOTE in reply.text
    assert all(has_button(reply, name) for name in ("SMS", "Voice call", "WhatsApp pop-up"))
    assert bodies(zapi, AVAILABLE) == [{"ddi": DDI, "phone": PHONE}]
    # "typing…" while Z-API was asked.
    await telegram.wait_for(
        "sendChatAction", chat_id=MEMBER.id, predicate=lambda c: c.params["action"] == "typing"
    )

    reply = await bot.tap(MEMBER, label)
    assert sent in reply.text, reply.text
    assert has_button(reply, "Didn't get it") and has_button(reply, "Change number")
    assert bodies(zapi, REQUEST) == [{"ddi": DDI, "phone": PHONE, "method": method}]

    reply = await bot.say(MEMBER, "123456")
    assert bodies(zapi, CONFIRM) == [{"code": "123456"}]
    await assert_connected(bot, reply, zapi)


async def test_wa_old_left_out_when_not_eligible(start_bot, zapi):
    zapi.add_number(DDI, PHONE, NumberProfile(wa_old_eligible=False))
    bot = await start_bot()
    reply = await to_method(bot)
    assert ASK_METHOD in reply.text
    assert has_button(reply, "SMS") and has_button(reply, "Voice call")
    assert not has_button(reply, "pop-up"), labels(reply)
    assert POPUP_NOTE not in reply.text
    # Typed anyway: refused without asking Z-API.
    reply = await bot.say(MEMBER, "wa_old")
    assert "can't be used for this number" in reply.text
    assert zapi.requests_to(REQUEST) == []
    reply = await bot.say(MEMBER, "sms")
    assert "Code sent by SMS" in reply.text


async def test_single_instance_skips_instance_step(start_bot, zapi):
    bot = await start_bot(zapi_instances=SINGLE)
    reply = await bot.say(MEMBER, "/register")
    assert "country code" in reply.text.lower()
    assert "Which instance" not in reply.text
    assert "Step 1/4" in reply.text
    assert not has_button(reply, "inst-a")
    assert await leases(bot) == {"inst-a": MEMBER.id}
    await bot.say(MEMBER, "55")
    reply = await bot.say(MEMBER, "44 99999-9999")
    assert ASK_METHOD in reply.text
    assert zapi.requests_to(AVAILABLE)[0].instance_id == "inst-a"


async def test_whole_international_number_at_country_code_step(start_bot, zapi):
    bot = await start_bot()
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    reply = await bot.say(MEMBER, "+55 44 99999-9999")
    assert ASK_METHOD in reply.text and SHOWN in reply.text
    assert bodies(zapi, AVAILABLE) == [{"ddi": DDI, "phone": PHONE}]


# -- numbers phonenumbers calls invalid ----------------------------------------------------


async def test_invalid_number_confirmed_with_yes(start_bot, zapi):
    bot = await start_bot()
    reply = await to_method(bot, phone="4499999999")
    assert "+55 4499999999" in reply.text and "Use it anyway" in reply.text
    assert has_button(reply, "Yes") and has_button(reply, "No")
    assert zapi.requests_to(AVAILABLE) == []
    reply = await bot.say(MEMBER, "yes")
    assert ASK_METHOD in reply.text
    assert bodies(zapi, AVAILABLE) == [{"ddi": DDI, "phone": "4499999999"}]


async def test_invalid_number_confirmed_with_button(start_bot, zapi):
    bot = await start_bot()
    await to_method(bot, phone="4499999999")
    reply = await bot.tap(MEMBER, "Yes")
    assert ASK_METHOD in reply.text
    assert bodies(zapi, AVAILABLE) == [{"ddi": DDI, "phone": "4499999999"}]


async def test_invalid_number_no_returns_to_phone(start_bot, zapi):
    bot = await start_bot()
    await to_method(bot, phone="4499999999")
    reply = await bot.say(MEMBER, "no")
    assert "Now the number for +55" in reply.text
    reply = await bot.say(MEMBER, "44 9999-9999 ")
    assert "Use it anyway" in reply.text
    reply = await bot.tap(MEMBER, "No")
    assert "Now the number for +55" in reply.text
    assert zapi.requests_to(AVAILABLE) == []
    reply = await bot.say(MEMBER, "44 99999-9999")
    assert ASK_METHOD in reply.text
    assert bodies(zapi, AVAILABLE) == [{"ddi": DDI, "phone": PHONE}]


# -- captcha ---------------------------------------------------------------------------------


@pytest.mark.parametrize("captcha_format", ["data_uri", "base64"])
async def test_captcha_right(start_bot, telegram, zapi, captcha_format):
    zapi.add_number(DDI, PHONE, NumberProfile(captcha="ab12", captcha_format=captcha_format))
    bot = await start_bot()
    reply = await to_code(bot)
    assert reply.method == "sendPhoto", reply.summary()
    assert "captcha" in reply.text.lower()
    assert list(reply.files.values()) == [ZapiDouble.CAPTCHA_PNG]
    reply = await bot.say(MEMBER, "ab12")
    assert "Captcha accepted" in reply.text and "SMS" in reply.text
    assert bodies(zapi, CAPTCHA) == [{"captcha": "ab12"}]
    reply = await bot.say(MEMBER, "123456")
    await assert_connected(bot, reply, zapi)


async def test_captcha_wrong_then_right(start_bot, telegram, zapi):
    zapi.add_number(DDI, PHONE, NumberProfile(captcha="ab12"))
    bot = await start_bot()
    reply = await to_code(bot)
    assert reply.method == "sendPhoto"
    reply = await bot.say(MEMBER, "zz99")
    assert "That's not it" in reply.text
    reply = await bot.say(MEMBER, "ab12")
    assert "Captcha accepted" in reply.text
    assert bodies(zapi, CAPTCHA) == [{"captcha": "zz99"}, {"captcha": "ab12"}]
    reply = await bot.say(MEMBER, "123-456")
    await assert_connected(bot, reply, zapi)


async def test_captcha_that_is_not_an_image(start_bot, telegram, zapi):
    zapi.add_number(DDI, PHONE, NumberProfile(captcha="ab12", captcha_format="garbage"))
    bot = await start_bot()
    reply = await to_code(bot)
    assert reply.method == "editMessageText", reply.summary()  # in place of the method question
    assert_plain(reply.text)
    assert "couldn't read" in reply.text
    assert has_button(reply, "SMS")  # still at the method choice
    assert telegram.calls_to("sendPhoto") == []
    assert not telegram.violations


# -- banned, appeal ------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["button", "typed"])
async def test_banned_appeal_in_review(start_bot, zapi, how):
    zapi.add_number(DDI, PHONE, NumberProfile(banned=True))
    bot = await start_bot()
    reply = await to_method(bot)
    assert "banned" in reply.text and SHOWN in reply.text
    assert has_button(reply, "Appeal") and has_button(reply, "Change number")
    reply = await (bot.tap(MEMBER, "Appeal") if how == "button" else bot.say(MEMBER, "appeal"))
    assert "why this number should not be banned" in reply.text
    reply = await bot.say(MEMBER, "too short")
    assert "10 to 500 characters" in reply.text
    assert zapi.requests_to(UNBAN) == []
    description = "This is my own business number and I never sent spam."
    reply = await bot.say(MEMBER, description)
    assert "Appeal sent" in reply.text and "reviewing" in reply.text
    assert bodies(zapi, UNBAN) == [
        {"appealToken": ZapiDouble.appeal_token(DDI, PHONE), "description": description}
    ]
    # The flow ended: nothing in progress, the instance is free.
    reply = await bot.say(MEMBER, "hello")
    assert "No registration in progress" in reply.text
    assert await leases(bot) == {}


async def test_banned_appeal_unbanned_rechecks(start_bot, zapi):
    zapi.add_number(DDI, PHONE, NumberProfile(banned=True, unban_status="UNBANNED"))
    bot = await start_bot()
    await to_method(bot)
    await bot.tap(MEMBER, "Appeal")
    reply = await bot.say(MEMBER, "Please lift the ban, this number belongs to our shop.")
    assert "no longer banned" in reply.text
    reply = await bot.telegram.next_reply(MEMBER.id)
    assert ASK_METHOD in reply.text and has_button(reply, "SMS")
    assert len(zapi.requests_to(AVAILABLE)) == 2
    reply = await bot.tap(MEMBER, "SMS")
    assert "Code sent by SMS" in reply.text


async def test_hidden_ban_at_code_request_has_no_appeal(start_bot, zapi):
    zapi.add_number(DDI, PHONE, NumberProfile(hidden_ban=True))
    bot = await start_bot()
    reply = await to_code(bot)
    assert "banned" in reply.text and "no appeal is possible" in reply.text
    assert not has_button(reply, "Appeal")
    assert has_button(reply, "Change number")
    reply = await bot.say(MEMBER, "appeal")
    assert "no appeal is possible" in reply.text
    assert zapi.requests_to(UNBAN) == []


# -- not available -------------------------------------------------------------------------


async def test_not_available_ends_and_frees_instance(start_bot, zapi):
    zapi.add_number(DDI, PHONE, NumberProfile(unavailable=True))
    bot = await start_bot()
    reply = await to_method(bot)
    assert "cannot be registered right now" in reply.text and SHOWN in reply.text
    assert ASK_METHOD not in reply.text
    assert await leases(bot) == {}
    reply = await bot.say(MEMBER, "sms")
    assert "No registration in progress" in reply.text
    # Another member can take the instance now.
    reply = await bot.say(OTHER_MEMBER, "/register")
    assert not has_button(reply, "busy"), labels(reply)
    reply = await bot.tap(OTHER_MEMBER, "inst-a")
    assert "country code" in reply.text.lower()
    assert await leases(bot) == {"inst-a": OTHER_MEMBER.id}


# -- waits -----------------------------------------------------------------------------------


async def test_wait_at_availability_then_notice_once(start_bot, telegram, zapi, clock):
    zapi.add_number(DDI, PHONE, NumberProfile(waits={"sms": 120}))
    bot = await start_bot()
    reply = await to_method(bot)
    assert ASK_METHOD in reply.text
    assert any(re.search(r"SMS — wait [12] min", label) for label in labels(reply)), labels(reply)
    reply = await bot.tap(MEMBER, "SMS")
    assert re.search(r"SMS can be used again in [12] min", reply.text), reply.text
    assert zapi.requests_to(REQUEST) == []

    await clock.advance(60)
    reply = await bot.say(MEMBER, "/status")
    assert re.search(r"SMS 1 min", reply.text), reply.text  # no notice yet, a minute to go
    await clock.advance(60)
    notice = await telegram.next_reply(MEMBER.id)
    assert "You can request the code by SMS now" in notice.text
    assert "SMS" in labels(notice), labels(notice)
    await clock.advance(300)  # any second notice would be due by now
    await settle()
    assert len(wait_over_messages(telegram, MEMBER.id)) == 1
    reply = await bot.tap(MEMBER, "SMS")
    assert "Code sent by SMS" in reply.text


async def test_request_answering_waits_then_notice(start_bot, telegram, zapi, clock):
    waits = {"smsWaitSeconds": 90, "voiceWaitSeconds": 90, "waOldWaitSeconds": 0}
    zapi.script(REQUEST, Reply(json={"success": False, "retryAfter": 90, **waits, "method": "sms"}))
    bot = await start_bot()
    reply = await to_code(bot)
    assert reply.text.index(ASK_METHOD) < reply.text.index("wait before requesting again")
    # The waits are on the buttons, not repeated in the text.
    assert not re.search(r"\d+ min", reply.text) and "SMS:" not in reply.text, reply.text
    shown = " | ".join(labels(reply))
    assert re.search(r"SMS — wait 1 min (2\d|30) s", shown), shown
    assert re.search(r"Voice call — wait 1 min (2\d|30) s", shown), shown
    assert "WhatsApp pop-up" in labels(reply)
    reply = await bot.tap(MEMBER, "Voice call")
    assert "Voice call can be used again" in reply.text
    assert len(zapi.requests_to(REQUEST)) == 1

    await clock.advance(90)

    def both_announced() -> bool:
        texts = " ".join(call.text or "" for call in wait_over_messages(telegram, MEMBER.id))
        return "SMS" in texts and "Voice call" in texts

    await until(both_announced)
    await clock.advance(300)  # any second notice would be due by now
    await settle()
    notices = [call.text or "" for call in wait_over_messages(telegram, MEMBER.id)]
    assert sum("SMS" in text for text in notices) == 1, notices
    assert sum("Voice call" in text for text in notices) == 1, notices
    reply = await bot.say(MEMBER, "sms")
    # Skip any notice not consumed yet; the next reply to "sms" is the code request's answer.
    while WAIT_OVER in (reply.text or ""):
        reply = await telegram.next_reply(MEMBER.id)
    assert "Code sent by SMS" in reply.text


async def test_a_numbers_waits_outlive_its_flow_and_a_restart(start_bot, telegram, zapi):
    """Waits belong to the number: after "Didn't get it", in a new flow for the number, and after
    a restart the member is told to wait, and nothing is asked of Z-API meanwhile."""
    zapi.add_number(DDI, PHONE, NumberProfile(waits={"voice": 900}, after_request_wait=600))
    bot = await start_bot()
    assert "Code sent by SMS" in (await to_code(bot)).text
    reply = await bot.tap(MEMBER, "Didn't get it")
    assert any("SMS — wait" in label for label in labels(reply)), labels(reply)
    await bot.say(MEMBER, "/cancel")
    reply = await to_method(bot)  # a new flow for the same number
    assert any("SMS — wait" in label for label in labels(reply)), labels(reply)
    database_url = bot.settings.database_url
    await bot.stop()
    bot = await start_bot(database_url=database_url)
    reply = await bot.say(MEMBER, "/status")
    assert re.search(r"SMS (9|10) min", reply.text), reply.text
    reply = await bot.tap(MEMBER, "SMS — wait")
    assert re.search(r"SMS can be used again in (9|10) min", reply.text), reply.text
    assert len(zapi.requests_to(REQUEST)) == 1


async def test_wait_after_a_sent_code_then_notice(start_bot, telegram, zapi, clock):
    """The code went out; Z-API asks to wait (retryAfter as a string) before asking again."""
    zapi.add_number(DDI, PHONE, NumberProfile(after_request_wait=45, retry_after_as_string=True))
    bot = await start_bot()
    reply = await to_code(bot)
    assert "Code sent by SMS" in reply.text
    reply = await bot.tap(MEMBER, "Didn't get it")
    assert ASK_METHOD in reply.text
    assert any(re.search(r"SMS — wait 4[45] s", label) for label in labels(reply)), labels(reply)
    assert "Voice call" in labels(reply)
    reply = await bot.tap(MEMBER, "SMS")
    assert "SMS can be used again" in reply.text
    assert len(zapi.requests_to(REQUEST)) == 1
    await clock.advance(45)
    notice = await telegram.next_reply(MEMBER.id)
    assert "You can request the code by SMS now" in notice.text
    await clock.advance(300)  # any second notice would be due by now
    await settle()
    assert len(wait_over_messages(telegram, MEMBER.id)) == 1
    reply = await bot.tap(MEMBER, "SMS")
    assert "Code sent by SMS" in reply.text
    assert len(zapi.requests_to(REQUEST)) == 2


async def test_blocked_method_shown_unavailable_and_refused(start_bot, zapi):
    zapi.add_number(DDI, PHONE, NumberProfile(waits={"voice": -1}))
    bot = await start_bot()
    reply = await to_method(bot)
    assert "Voice call — unavailable" in labels(reply), labels(reply)
    reply = await bot.tap(MEMBER, "Voice call")
    assert "not available for this number" in reply.text
    reply = await bot.say(MEMBER, "voice")
    assert "not available for this number" in reply.text
    assert zapi.requests_to(REQUEST) == []


# -- two-step PIN ----------------------------------------------------------------------------


async def test_pin_wrong_then_right_messages_deleted(start_bot, telegram, zapi):
    zapi.add_number(DDI, PHONE, NumberProfile(pin="246810"))
    bot = await start_bot()
    await to_code(bot)
    reply = await bot.say(MEMBER, "123456")
    assert "two-step verification" in reply.text and "PIN" in reply.text
    assert has_button(reply, "Forgot the PIN")
    wrong_id = telegram.send_text(MEMBER, "000000")
    reply = await telegram.next_reply(MEMBER.id)
    assert "Wrong PIN" in reply.text
    assert wrong_id in telegram.deleted(MEMBER.id)
    right_id = telegram.send_text(MEMBER, "246810")
    reply = await telegram.next_reply(MEMBER.id)
    assert right_id in telegram.deleted(MEMBER.id)
    assert bodies(zapi, PIN) == [{"code": "000000"}, {"code": "246810"}]
    await assert_connected(bot, reply, zapi)


async def test_forgot_pin(start_bot, zapi):
    zapi.add_number(DDI, PHONE, NumberProfile(pin="246810"))
    bot = await start_bot()
    await to_code(bot)
    await bot.say(MEMBER, "123456")
    reply = await bot.tap(MEMBER, "Forgot the PIN")
    assert "email" in reply.text.lower()
    assert len(zapi.requests_to(RECOVER_PIN)) == 1
    reply = await bot.say(MEMBER, "246810")
    await assert_connected(bot, reply, zapi)


# -- device transfer -------------------------------------------------------------------------


async def test_device_transfer_button(start_bot, zapi):
    zapi.add_number(DDI, PHONE, NumberProfile(device_confirm=True))
    bot = await start_bot()
    await to_code(bot)
    reply = await bot.say(MEMBER, "123456")
    assert "accept the transfer" in reply.text
    assert has_button(reply, "I accepted it")
    reply = await bot.tap(MEMBER, "I accepted it")
    assert "hasn't been accepted yet" in reply.text
    assert has_button(reply, "I accepted it")
    assert not zapi.connected("inst-a")
    zapi.accept_device_transfer("inst-a")
    reply = await bot.tap(MEMBER, "I accepted it")
    assert len(zapi.requests_to(DEVICE)) == 2
    await assert_connected(bot, reply, zapi)


async def test_device_transfer_typed_done(start_bot, zapi):
    zapi.add_number(DDI, PHONE, NumberProfile(device_confirm=True))
    bot = await start_bot()
    await to_code(bot)
    await bot.say(MEMBER, "123456")
    zapi.accept_device_transfer("inst-a")
    reply = await bot.say(MEMBER, "done")
    await assert_connected(bot, reply, zapi)


# -- codes -----------------------------------------------------------------------------------


async def test_wrong_codes_then_suggestion(start_bot, zapi):
    bot = await start_bot()
    await to_code(bot)
    for attempt in (1, 2):
        reply = await bot.say(MEMBER, f"65432{attempt}")
        assert "not accepted" in reply.text, reply.text
        assert "Didn't get it" not in reply.text
    reply = await bot.say(MEMBER, "654323")
    assert "Didn't get it" in reply.text and "3" in reply.text
    assert has_button(reply, "Didn't get it")
    assert len(zapi.requests_to(CONFIRM)) == 3
    reply = await bot.say(MEMBER, "123456")
    await assert_connected(bot, reply, zapi)


@pytest.mark.parametrize("typed", ["123456", "123-456", "123 456"])
async def test_code_formats_accepted(start_bot, zapi, typed):
    bot = await start_bot()
    await to_code(bot)
    reply = await bot.say(MEMBER, typed)
    assert bodies(zapi, CONFIRM) == [{"code": "123456"}]
    await assert_connected(bot, reply, zapi)


async def test_malformed_codes_not_sent(start_bot, zapi):
    bot = await start_bot()
    await to_code(bot)
    for typed in ("12345", "abc", "1234567", "12-34-56"):
        reply = await bot.say(MEMBER, typed)
        assert "6-digit code" in reply.text, typed
        assert has_button(reply, "Didn't get it"), typed
    assert zapi.requests_to(CONFIRM) == []
    reply = await bot.say(MEMBER, "123456")
    await assert_connected(bot, reply, zapi)


async def test_didnt_get_it_returns_to_method_choice(start_bot, zapi):
    bot = await start_bot()
    await to_code(bot)
    reply = await bot.tap(MEMBER, "Didn't get it")
    assert ASK_METHOD in reply.text and has_button(reply, "Voice call")
    reply = await bot.tap(MEMBER, "Voice call")
    assert "WhatsApp is calling" in reply.text
    assert [body["method"] for body in bodies(zapi, REQUEST)] == ["sms", "voice"]


async def test_change_number_rechecks_availability(start_bot, zapi):
    bot = await start_bot()
    await to_code(bot)
    reply = await bot.tap(MEMBER, "Change number")
    assert "Now the number for +55" in reply.text
    reply = await bot.say(MEMBER, "44 98888-7777")
    assert ASK_METHOD in reply.text and "+55 44 98888-7777" in reply.text
    assert bodies(zapi, AVAILABLE) == [
        {"ddi": DDI, "phone": PHONE},
        {"ddi": DDI, "phone": "44988887777"},
    ]
    reply = await bot.tap(MEMBER, "SMS")
    assert bodies(zapi, REQUEST)[-1] == {"ddi": DDI, "phone": "44988887777", "method": "sms"}


# -- Z-API failures ----------------------------------------------------------------------------
# Each test walks to one step and meets every kind of failure there in turn; after each one the
# member's next answer at the same step is what reaches Z-API next, and after the last one a
# valid answer goes through. The timeout kind uses a 1 s ZAPI_TIMEOUT_SECONDS.

FAILURES: dict[str, tuple[Reply | None, str]] = {
    "timeout": (None, "didn't answer within 1 s"),
    "http500": (Reply(status=500, json={"error": "Internal Server Error"}), "having trouble"),
    "http429": (Reply(status=429, json={"error": "Too Many Requests"}), "too many requests"),
    "http401": (Reply(status=401, json={"error": "Unauthorized"}), "credentials"),
    "http403": (Reply(status=403, json={"error": "Forbidden"}), "credentials"),
    "http400": (Reply(status=400, json={"error": "phone not valid"}), "Z-API refused"),
    "error200": (Reply(status=200, json={"error": "something failed"}), "Z-API refused"),
    "not_json": (
        Reply(status=200, body=b"<html><body>Bad Gateway</body></html>", content_type="text/html"),
        "couldn't read",
    ),
}
# Refusals: the same request would be refused again, so no "try again" is offered.
REFUSED = {"http400", "error200"}
# Failures after which Z-API may have sent the code anyway (no answer, a 5xx, an unreadable one).
MAY_HAVE_SENT = {"timeout", "http500", "not_json"}
# Within the timeout (1 s) plus generous slack for a loaded machine.
ANSWERED_WITHIN = 6.0


def inject(zapi: ZapiDouble, path: str, kind: str) -> str:
    reply, expected = FAILURES[kind]
    if reply is None:
        zapi.hang(path)
    else:
        zapi.script(path, reply)
    return expected


def assert_failure_reply(reply: ApiCall, kind: str, expected: str, took: float) -> None:
    assert_plain(reply.text)
    assert expected in (reply.text or ""), (kind, reply.text)
    assert CONNECTED not in (reply.text or ""), kind
    assert took < ANSWERED_WITHIN, (kind, took)


async def test_failures_at_availability_check(start_bot, zapi):
    bot = await start_bot(zapi_timeout_seconds=1)
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    await bot.say(MEMBER, "55")
    refused_before = False
    for index, kind in enumerate(FAILURES):
        expected = inject(zapi, AVAILABLE, kind)
        started = time.monotonic()
        # The first answer is the typed number; then alternately Try again and the number again
        # (typed again after a refusal, which offers no Try again).
        if index % 2 == 0 or refused_before:
            reply = await bot.say(MEMBER, "44 99999-9999")
        else:
            reply = await bot.tap(MEMBER, "Try again")
        assert_failure_reply(reply, kind, expected, time.monotonic() - started)
        assert ASK_METHOD not in reply.text, kind
        refused_before = kind in REFUSED
        if refused_before:
            assert "refused this number" in reply.text, reply.text  # the number check's
            assert not has_button(reply, "Try again"), (kind, labels(reply))
            assert "try again" not in reply.text.lower().replace("try another", ""), reply.text
        else:
            assert has_button(reply, "Try again"), (kind, labels(reply))
        assert len(zapi.requests_to(AVAILABLE)) == index + 1, kind
    reply = await bot.tap(MEMBER, "Try again")
    assert ASK_METHOD in reply.text, reply.text
    assert bodies(zapi, AVAILABLE)[-1] == {"ddi": DDI, "phone": PHONE}
    assert len(zapi.requests_to(AVAILABLE)) == len(FAILURES) + 1


async def test_failures_at_request_code(start_bot, zapi):
    bot = await start_bot(zapi_timeout_seconds=1)
    reply = await to_method(bot)
    assert ASK_METHOD in reply.text
    for index, kind in enumerate(k for k in FAILURES if k != "timeout"):
        expected = inject(zapi, REQUEST, kind)
        started = time.monotonic()
        reply = await bot.tap(MEMBER, "SMS")
        assert_failure_reply(reply, kind, expected, time.monotonic() - started)
        assert "Code sent" not in reply.text, kind
        if kind in MAY_HAVE_SENT:
            # Z-API may have sent the code: the code step takes it, "Didn't get it" goes back.
            assert "code may still be on its way" in reply.text, (kind, reply.text)
            assert has_button(reply, "Didn't get it"), (kind, labels(reply))
            reply = await bot.tap(MEMBER, "Didn't get it")
            assert ASK_METHOD in reply.text, (kind, reply.text)
        else:
            # Z-API's refusal proves nothing was sent: still at the method choice, whose
            # buttons come with the failure.
            assert has_button(reply, "SMS") and has_button(reply, "Voice call"), (
                kind,
                labels(reply),
            )
        assert len(zapi.requests_to(REQUEST)) == index + 1, kind
    reply = await bot.tap(MEMBER, "SMS")
    assert "Code sent by SMS" in reply.text, reply.text
    reply = await bot.say(MEMBER, "123456")
    await assert_connected(bot, reply, zapi)


async def test_request_code_timeout_moves_to_code_step(start_bot, zapi):
    bot = await start_bot(zapi_timeout_seconds=1)
    zapi.hang(REQUEST, simulate=True)  # Z-API sends the code but answers too late
    await to_method(bot)
    started = time.monotonic()
    reply = await bot.tap(MEMBER, "SMS")
    assert_failure_reply(reply, "timeout", "didn't answer within 1 s", time.monotonic() - started)
    assert "code may still be on its way" in reply.text
    assert has_button(reply, "Didn't get it") and has_button(reply, "Change number")
    reply = await bot.say(MEMBER, "123456")
    await assert_connected(bot, reply, zapi)


async def test_failures_at_confirm_code(start_bot, zapi):
    bot = await start_bot(zapi_timeout_seconds=1)
    reply = await to_code(bot)
    assert "Code sent by SMS" in reply.text
    for index, kind in enumerate(FAILURES):
        expected = inject(zapi, CONFIRM, kind)
        started = time.monotonic()
        reply = await bot.say(MEMBER, "123456")
        assert_failure_reply(reply, kind, expected, time.monotonic() - started)
        assert len(zapi.requests_to(CONFIRM)) == index + 1, kind
    reply = await bot.say(MEMBER, "123-456")
    await assert_connected(bot, reply, zapi)


async def test_failures_at_confirm_pin(start_bot, telegram, zapi):
    zapi.add_number(DDI, PHONE, NumberProfile(pin="246810"))
    bot = await start_bot(zapi_timeout_seconds=1)
    await to_code(bot)
    reply = await bot.say(MEMBER, "123456")
    assert "two-step" in reply.text
    for index, kind in enumerate(FAILURES):
        expected = inject(zapi, PIN, kind)
        started = time.monotonic()
        message_id = telegram.send_text(MEMBER, "246810")
        reply = await telegram.next_reply(MEMBER.id)
        assert_failure_reply(reply, kind, expected, time.monotonic() - started)
        assert message_id in telegram.deleted(MEMBER.id), kind
        assert has_button(reply, "Forgot the PIN"), (kind, labels(reply))
        assert len(zapi.requests_to(PIN)) == index + 1, kind
    message_id = telegram.send_text(MEMBER, "246810")
    reply = await telegram.next_reply(MEMBER.id)
    assert message_id in telegram.deleted(MEMBER.id)
    await assert_connected(bot, reply, zapi)


async def test_failure_messages_point_to_buttons_that_exist(start_bot, telegram, zapi):
    """A failure reply that tells the member to tap Try again must carry that button.

    Checked at request-code, confirm-code and confirm-pin (availability has the button).
    """
    zapi.add_number(DDI, PHONE, NumberProfile(pin="246810"))
    bot = await start_bot()
    await to_method(bot)
    misleading: list[str] = []

    def check(step: str, reply: ApiCall) -> None:
        assert "having trouble" in (reply.text or ""), (step, reply.text)
        if "tap try again" in reply.text.lower() and not has_button(reply, "Try again"):
            misleading.append(f"{step}: {reply.text!r} with buttons {labels(reply)}")

    inject(zapi, REQUEST, "http500")
    check("request-code", await bot.tap(MEMBER, "SMS"))
    await bot.tap(MEMBER, "Didn't get it")
    assert "Code sent" in (await bot.tap(MEMBER, "SMS")).text
    inject(zapi, CONFIRM, "http500")
    check("confirm-code", await bot.say(MEMBER, "123456"))
    assert "two-step" in (await bot.say(MEMBER, "123456")).text
    inject(zapi, PIN, "http500")
    check("confirm-pin", await bot.say(MEMBER, "246810"))
    assert misleading == []


# -- language, commands ----------------------------------------------------------------------


async def test_portuguese_member(start_bot, zapi):
    bot = await start_bot()
    reply = await bot.say(PT_MEMBER, "/register")
    assert "Em qual instância" in reply.text and "Passo 1/5" in reply.text
    assert has_button(reply, "Cancelar")
    reply = await bot.tap(PT_MEMBER, "inst-a")
    assert "código do país" in reply.text
    reply = await bot.say(PT_MEMBER, "xx")
    assert "não é um código de país" in reply.text
    reply = await bot.say(PT_MEMBER, "+55")
    assert "Agora o número para +55" in reply.text
    assert has_button(reply, "Voltar")
    reply = await bot.say(PT_MEMBER, "44 99999-9999")
    assert "Como o WhatsApp deve enviar o código" in reply.text
    assert "Pop-up do WhatsApp:" in reply.text
    assert {"SMS", "Ligação", "Pop-up do WhatsApp"} <= set(labels(reply)), labels(reply)
    reply = await bot.say(PT_MEMBER, "voz")
    assert "O WhatsApp está ligando" in reply.text
    assert has_button(reply, "Não recebi") and has_button(reply, "Trocar número")
    assert bodies(zapi, REQUEST)[0]["method"] == "voice"
    reply = await bot.say(PT_MEMBER, "abc")
    assert "Envie o código de 6 dígitos" in reply.text
    reply = await bot.say(PT_MEMBER, "123 456")
    assert "Conectado!" in reply.text and "inst-a" in reply.text and SHOWN in reply.text
    for call in bot.telegram.calls_to("sendMessage", PT_MEMBER.id):
        for english in ("Step ", "Send the", "How should", "Connected"):
            assert english not in (call.text or ""), call.text


async def test_portuguese_failure_text(start_bot, zapi):
    bot = await start_bot()
    inject(zapi, AVAILABLE, "http500")
    reply = await to_method(bot, PT_MEMBER)
    assert_plain(reply.text)
    assert "A Z-API está com problemas" in reply.text
    assert has_button(reply, "Tentar de novo")
    reply = await bot.tap(PT_MEMBER, "Tentar de novo")
    assert "Como o WhatsApp deve enviar o código" in reply.text


PRIVATE_CHATS = {"type": "all_private_chats"}


async def published(telegram: TelegramDouble, calls: int) -> None:
    """Wait for the start's menus and descriptions (published once polling runs)."""
    methods = ("setMyCommands", "deleteMyCommands", "setMyDescription", "setMyShortDescription")
    await until(lambda: sum(len(telegram.calls_to(m)) for m in methods) >= calls)


async def test_commands_published_in_english_and_portuguese_for_private_chats(start_bot, telegram):
    await start_bot()
    # Per language: the default scope cleared, the members' menu, two descriptions, the admin's.
    await published(telegram, 10)
    english = {i["command"]: i["description"] for i in telegram.my_commands(PRIVATE_CHATS)}
    portuguese = {i["command"]: i["description"] for i in telegram.my_commands(PRIVATE_CHATS, "pt")}
    for command in ("register", "cancel", "status", "help", "start", "back", "language"):
        assert command in english and command in portuguese
    assert "allow" not in english and "allow" not in portuguese
    assert english["register"] == "Start a registration, or pick up the one in progress"
    assert portuguese["register"] == "Começar um registro, ou retomar o que está em andamento"
    # Nothing in groups: the default scope holds no commands.
    assert telegram.my_commands() == [] and telegram.my_commands(language_code="pt") == []


async def test_each_admin_sees_the_admin_commands_in_their_chat(start_bot, telegram):
    await start_bot()
    await published(telegram, 10)
    admin_chat = {"type": "chat", "chat_id": ADMIN.id}
    for language in ("", "pt"):
        names = [item["command"] for item in telegram.my_commands(admin_chat, language)]
        members = ["register", "status", "back", "cancel", "setup", "language", "help", "start"]
        assert names[:8] == members, names
        assert names[8:] == [
            "instances",
            "invite",
            "allow",
            "deny",
            "members",
            "history",
            "export",
            "stats",
            "release",
        ], names
    assert "Liberar" in telegram.my_commands(admin_chat, "pt")[-1]["description"]


async def test_descriptions_in_both_languages_fit_telegram(start_bot, telegram):
    await start_bot()
    await published(telegram, 10)
    assert "/register" in telegram.description()
    assert "/register" in telegram.description("pt")
    assert "Z-API" in telegram.description(short=True)
    assert "Registre" in telegram.description("pt", short=True)
    assert all(c.ok for c in telegram.calls_to("setMyDescription"))
    assert all(c.ok for c in telegram.calls_to("setMyShortDescription"))


async def test_a_command_menu_telegram_refuses_does_not_stop_the_bot(start_bot, telegram):
    telegram.fail_next("setMyCommands", 500, "Internal Server Error", times=2)
    bot = await start_bot()
    await telegram.wait_for("setMyCommands", predicate=lambda call: not call.ok)
    assert "Which instance" in (await bot.say(MEMBER, "/register")).text
