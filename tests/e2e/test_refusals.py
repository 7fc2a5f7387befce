"""Refusals told as what they are: a refused number offers another, refused credentials reach
the admins (once an hour per instance) and the member hears that they were told."""

from __future__ import annotations

from bot.conversation.texts.en import ENGLISH as EN
from tests.conftest import ADMIN, MEMBER, OTHER_MEMBER
from tests.doubles.telegram_api import TelegramDouble
from tests.doubles.zapi import Reply, ZapiDouble
from tests.harness import BotHarness, labels, settle, until

AVAILABLE = "mobile/registration-available"


async def to_phone(bot: BotHarness, user=MEMBER) -> None:
    await bot.say(user, "/register")
    await bot.tap(user, "inst-a")
    await bot.say(user, "55")


def alerts(telegram: TelegramDouble) -> list[str]:
    return [
        call.text or ""
        for call in telegram.calls
        if call.ok and call.chat_id == ADMIN.id and call.method == "sendMessage"
    ]


async def test_a_refused_number_offers_another_not_the_same_again(
    start_bot, telegram: TelegramDouble, zapi: ZapiDouble
) -> None:
    bot = await start_bot()
    await to_phone(bot)
    zapi.script(AVAILABLE, Reply(status=400, json={"error": "Invalid phone: 5544"}))
    reply = await bot.say(MEMBER, "44 99999-9999")
    text = reply.text or ""
    assert text == EN.error_refused["number"], text
    assert "Invalid phone" not in text  # Z-API's own words stay out
    assert "Try again" not in " ".join(labels(reply))
    reply = await bot.say(MEMBER, "44 98888-7777")  # another number, typed at the same step
    assert "How should WhatsApp send the code" in (reply.text or "")


async def test_an_instance_refusal_says_what_is_wrong_with_the_instance(
    start_bot, telegram: TelegramDouble, zapi: ZapiDouble
) -> None:
    bot = await start_bot()
    await to_phone(bot)
    zapi.script(AVAILABLE, Reply(status=400, json={"error": "Instance already connected"}))
    reply = await bot.say(MEMBER, "44 99999-9999")
    assert reply.text == EN.error_refused["instance"].format(instance="inst-a")


async def test_refused_credentials_alert_the_admins_once_an_hour(
    start_bot, telegram: TelegramDouble, zapi: ZapiDouble, clock
) -> None:
    bot = await start_bot(conversation_timeout_seconds=7200)
    await to_phone(bot)
    zapi.script(AVAILABLE, Reply(status=403, json={"error": "client-token is not configured"}))
    reply = await bot.say(MEMBER, "44 99999-9999")
    text = reply.text or ""
    assert EN.error_auth.format(instance="inst-a") in text and EN.error_auth_alerted in text
    assert "Try again" in " ".join(labels(reply))  # once the admins fixed it
    await telegram.next_reply(ADMIN.id)
    [alert] = alerts(telegram)
    assert "inst-a" in alert and "ZAPI_CLIENT_TOKEN" in alert, alert
    assert "client-token is not configured" not in alert

    # Met again within the hour: the member is told the same, the admins are not told twice.
    zapi.script(AVAILABLE, Reply(status=401, json={"error": "Unauthorized"}))
    reply = await bot.tap(MEMBER, "Try again")
    assert EN.error_auth_alerted in (reply.text or "")
    await settle()
    assert len(alerts(telegram)) == 1

    # Another instance is another alert.
    await bot.say(OTHER_MEMBER, "/register")
    await bot.tap(OTHER_MEMBER, "inst-b")
    await bot.say(OTHER_MEMBER, "55")
    zapi.script(AVAILABLE, Reply(status=401, json={"error": "Unauthorized"}))
    await bot.say(OTHER_MEMBER, "44 98888-7777")
    await telegram.next_reply(ADMIN.id)
    assert "inst-b" in alerts(telegram)[1]

    await clock.advance(3601)
    zapi.script(AVAILABLE, Reply(status=401, json={"error": "Unauthorized"}))
    await bot.tap(MEMBER, "Try again")
    await telegram.next_reply(ADMIN.id)
    assert len(alerts(telegram)) == 3 and "inst-a" in alerts(telegram)[2]


async def test_members_are_not_told_of_an_alert_no_admin_can_receive(
    start_bot, telegram: TelegramDouble, zapi: ZapiDouble
) -> None:
    """The admin never opened the bot: Telegram refuses the alert, and from then on members
    are asked to tell an admin themselves."""
    bot = await start_bot()
    telegram.fail_next(
        "sendMessage",
        403,
        "Forbidden: bot can't initiate conversation with a user",
        None,
        chat_id=ADMIN.id,
    )
    await to_phone(bot)
    zapi.script(AVAILABLE, Reply(status=401, json={"error": "Unauthorized"}))
    await bot.say(MEMBER, "44 99999-9999")
    await until(lambda: any(c.chat_id == ADMIN.id and not c.ok for c in telegram.calls))
    await settle()
    zapi.script(AVAILABLE, Reply(status=401, json={"error": "Unauthorized"}))
    reply = await bot.tap(MEMBER, "Try again")
    assert EN.error_auth_tell in (reply.text or ""), reply.text
