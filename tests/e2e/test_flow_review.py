"""Behaviours found in review: waits outlive the idle timeout, the timeout never cuts a step
short, a Back tapped twice goes back once, and a captcha can be resumed without its picture."""

from __future__ import annotations

import asyncio

from tests.conftest import MEMBER, OTHER_MEMBER
from tests.doubles.zapi import NumberProfile, Reply
from tests.harness import settle, until

DDI, PHONE = "55", "44999999999"


async def _to_method(bot, user=MEMBER, phone="44 99999-9999"):
    await bot.say(user, "/register")
    await bot.tap(user, "inst-a")
    await bot.say(user, "55")
    return await bot.say(user, phone)


def _timed_out(telegram) -> list[str]:
    return [c.text for c in telegram.calls_to("sendMessage", MEMBER.id) if "⌛" in (c.text or "")]


async def test_a_wait_longer_than_the_idle_timeout_keeps_the_flow(start_bot, telegram, zapi, clock):
    zapi.add_number(DDI, PHONE, NumberProfile(waits={"sms": 1800}))
    bot = await start_bot(conversation_timeout_seconds=900)
    reply = await _to_method(bot)
    assert "SMS — wait" in str(reply.reply_markup)
    # Longer than the idle timeout: the member was told to wait, so the flow stays open...
    await clock.advance(1200)
    await settle()
    assert _timed_out(telegram) == []
    await clock.advance(600)
    notice = await telegram.next_reply(MEMBER.id)
    assert "You can request the code by SMS now" in notice.text
    assert notice.reply_markup is not None
    assert _timed_out(telegram) == []
    # ...and the SMS button of the notice works.
    reply = await bot.tap(MEMBER, "SMS")
    assert "Code sent by SMS" in reply.text
    # The idle timeout then applies from the last activity as usual.
    await clock.advance(600)
    await settle()
    assert _timed_out(telegram) == []
    await clock.advance(300)
    timeout_message = await telegram.wait_for(
        "sendMessage", chat_id=MEMBER.id, predicate=lambda call: (call.text or "").startswith("⌛")
    )
    assert "ended the registration" in timeout_message.text


async def test_the_idle_timeout_waits_for_a_step_in_flight(start_bot, telegram, zapi, clock):
    bot = await start_bot(conversation_timeout_seconds=900, zapi_timeout_seconds=300)
    await _to_method(bot)
    await bot.tap(MEMBER, "SMS")
    # The code goes in just before the timeout, and Z-API takes longer than the timeout.
    await clock.advance(899)
    zapi.script("mobile/confirm-registration-code", Reply(json={"success": True}, delay=0.5))
    telegram.send_text(MEMBER, "123456")
    await until(lambda: bool(zapi.requests_to("mobile/confirm-registration-code")))
    await clock.advance(120)  # the timeout passes while Z-API works on the code
    reply = await telegram.next_reply(MEMBER.id)
    assert reply.text.startswith("✅ Connected"), reply.text
    await clock.advance(1800)  # a few sweeps of the idle job
    await settle()
    assert _timed_out(telegram) == []
    async with bot.services.database.reader() as session:
        from sqlalchemy import text

        rows = (await session.execute(text("SELECT action, outcome FROM audit_events"))).all()
    assert ("register", "connected") in [tuple(row) for row in rows]


async def test_back_tapped_twice_goes_back_once(start_bot, telegram, zapi):
    bot = await start_bot()
    await _to_method(bot)
    message_id, data = telegram.button(MEMBER.id, "Back")
    answered_before = len(telegram.calls_to("answerCallbackQuery", MEMBER.id))
    telegram.press(MEMBER, message_id, data)
    telegram.press(MEMBER, message_id, data, strict=False)
    reply = await telegram.next_reply(MEMBER.id)
    assert "Now the number for +55" in reply.text
    for _ in range(100):
        answers = telegram.calls_to("answerCallbackQuery", MEMBER.id)[answered_before:]
        if len(answers) == 2:
            break
        await asyncio.sleep(0.05)
    assert [call.params.get("text") for call in answers] == [
        None,
        "That button belongs to an earlier step.",
    ]
    reply = await bot.say(MEMBER, "/status")
    assert "Phone number" in reply.text  # still one step back, not two


async def test_captcha_step_resumes_without_the_picture(start_bot, telegram, zapi):
    zapi.add_number(DDI, PHONE, NumberProfile(captcha="X7K9"))
    bot = await start_bot()
    await _to_method(bot)
    reply = await bot.tap(MEMBER, "SMS")
    assert reply.method == "sendPhoto"
    reply = await bot.say(MEMBER, "/register")  # resume
    reply = await telegram.next_reply(MEMBER.id)
    assert "No picture any more?" in reply.text
    # "Didn't get it" goes back to the method choice; a new request brings a new picture.
    reply = await bot.tap(MEMBER, "Didn't get it")
    assert "How should WhatsApp send the code" in reply.text
    reply = await bot.tap(MEMBER, "SMS")
    assert reply.method == "sendPhoto"
    assert "Captcha accepted" in (await bot.say(MEMBER, "X7K9")).text


async def test_another_member_cannot_take_an_instance_during_a_long_wait(
    start_bot, telegram, zapi, clock
):
    zapi.add_number(DDI, PHONE, NumberProfile(waits={"sms": 1800}))
    bot = await start_bot(conversation_timeout_seconds=900)
    await _to_method(bot)
    await clock.advance(1200)  # past the idle timeout, inside the wait
    await settle()
    reply = await bot.say(OTHER_MEMBER, "/register")
    assert "inst-a (busy)" in str(reply.reply_markup)
