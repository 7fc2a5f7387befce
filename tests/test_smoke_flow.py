from __future__ import annotations

from tests.conftest import MEMBER


async def test_sms_happy_path(start_bot, telegram, zapi):
    bot = await start_bot()
    reply = await bot.say(MEMBER, "/register")
    assert "instance" in reply.text.lower()
    reply = await bot.tap(MEMBER, "inst-a")
    assert "country code" in reply.text.lower()
    reply = await bot.say(MEMBER, "+55")
    assert "+55" in reply.text
    reply = await bot.say(MEMBER, "(44) 99999-9999")
    assert "How should WhatsApp send the code" in reply.text
    reply = await bot.tap(MEMBER, "SMS")
    assert "Code sent by SMS" in reply.text
    reply = await bot.say(MEMBER, "123-456")
    assert "Connected" in reply.text
    assert zapi.connected("inst-a")
