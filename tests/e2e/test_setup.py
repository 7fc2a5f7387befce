"""After "Connected": the optional set-up of the number (profile name and description, a
two-step PIN, a recovery e-mail), each part skippable, durable, and the PIN kept nowhere."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import MetaData, select

from bot.conversation.texts.en import ENGLISH as EN
from bot.conversation.texts.pt import PORTUGUESE as PT
from bot.storage.models import AuditEvent, InstanceLease
from tests.conftest import ADMIN, INSTANCE_TOKENS, MEMBER, OTHER_MEMBER, PT_MEMBER
from tests.doubles.telegram_api import ApiCall, TelegramDouble, TgUser
from tests.doubles.zapi import NumberProfile, Reply, ZapiDouble
from tests.harness import BotHarness, labels

DDI, PHONE = "55", "44999999999"
ONE_INSTANCE = f"inst-a=inst-a:{INSTANCE_TOKENS['inst-a']}"
NEW_PIN = "482913"
TWO_FA = "security/two-fa-code"
EMAIL = "security/email"
VERIFY = "security/verify-email"
PROFILE_NAME = "profile-name"


async def connect(bot: BotHarness, user: TgUser = MEMBER) -> ApiCall:
    """/register on the one instance, by SMS, to "Connected"."""
    await bot.say(user, "/register")
    await bot.say(user, DDI)
    await bot.say(user, "44 99999-9999")
    await bot.tap(user, "SMS")
    return await bot.say(user, "123456")


async def start(start_bot: Any, **settings: Any) -> BotHarness:
    bot: BotHarness = await start_bot(zapi_instances=ONE_INSTANCE, **settings)
    return bot


async def events(bot: BotHarness) -> list[tuple[str, str]]:
    """How the registrations and their set-ups ended, in order."""
    async with bot.services.database.session() as session:
        rows = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
    return [
        (row.action, row.outcome)
        for row in rows
        if (row.action, row.outcome) == ("register", "connected") or row.action == "setup"
    ]


async def leases(bot: BotHarness) -> dict[str, int]:
    async with bot.services.database.session() as session:
        rows = (await session.scalars(select(InstanceLease))).all()
    return {row.instance: row.chat_id for row in rows}


async def every_stored_value(bot: BotHarness) -> str:
    """Every value of every table, as text."""
    metadata = MetaData()
    async with bot.services.database.session() as session:
        connection = await session.connection()
        await connection.run_sync(metadata.reflect)
        dumped = []
        for table in metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                dumped.append(repr(tuple(row)))
    return "\n".join(dumped)


async def test_the_whole_set_up_sets_each_part_and_ends_with_its_summary(
    start_bot, telegram: TelegramDouble, zapi: ZapiDouble, caplog: pytest.LogCaptureFixture
) -> None:
    # As LOG_LEVEL=DEBUG logs (python-telegram-bot's loggers stay at INFO: bot/logging_setup.py).
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="bot")
    bot = await start(start_bot)
    connected = await connect(bot)
    assert "Connected" in (connected.text or "") and "/setup" in (connected.text or "")
    assert labels(connected) == [EN.setup.button_set_up]
    [connected_id] = telegram.live_keyboards(MEMBER.id)

    reply = await bot.tap(MEMBER, "Set up the number")
    assert reply.method == "sendMessage"  # "Connected" stays in the chat, without its button
    assert not next(
        m for m in telegram.bot_messages(MEMBER.id) if m["message_id"] == connected_id
    ).get("reply_markup")
    assert "Set-up 1/4 · Profile name" in (reply.text or "")
    assert "⏭ Skip" in labels(reply) and EN.setup.button_finish_setup in labels(reply)
    assert await leases(bot) == {"inst-a": MEMBER.id}  # no registration can replace the number

    reply = await bot.say(MEMBER, "  Ana   Sales ")
    assert "Set-up 2/4 · Description" in (reply.text or "")
    reply = await bot.say(MEMBER, "Sales team, 9 to 6")
    assert "Set-up 3/4 · Two-step PIN" in (reply.text or "")
    first = telegram.send_text(MEMBER, NEW_PIN)
    reply = await telegram.next_reply(MEMBER.id)
    assert EN.setup.ask_two_fa_again in (reply.text or "")
    second = telegram.send_text(MEMBER, "482 913")
    reply = await telegram.next_reply(MEMBER.id)
    assert {first, second} <= telegram.deleted(MEMBER.id)
    assert "Set-up 4/4 · Recovery e-mail" in (reply.text or "")

    reply = await bot.say(MEMBER, "Ana@Example.COM")
    assert "ana" in (reply.text or "").lower() and "6 digits" in (reply.text or "")
    code = zapi.email_code("inst-a")
    assert code is not None
    summary = await bot.say(MEMBER, f"Your code: {code[:3]}-{code[3:]}")
    text = summary.text or ""
    assert "Set-up of +55 44 99999-9999 on inst-a" in text, text
    assert text.count("✅ set") == 4, text

    profile = zapi.profile("inst-a")
    assert profile["name"] == "Ana Sales" and profile["about"] == "Sales team, 9 to 6"
    assert profile["two_fa_code"] == NEW_PIN
    assert profile["email"] == "Ana@example.com" and profile["email_verified"] is True
    assert await events(bot) == [("register", "connected"), ("setup", "done")]
    assert await leases(bot) == {}
    assert telegram.live_keyboards(MEMBER.id) == []

    # The PIN and the e-mail's code are nowhere but at Z-API.
    stored = await every_stored_value(bot)
    assert NEW_PIN not in stored and code not in stored
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert NEW_PIN not in logged and "482 913" not in logged and code not in logged


async def test_every_part_can_be_skipped(start_bot, telegram, zapi) -> None:
    bot = await start(start_bot)
    await connect(bot)
    await bot.tap(MEMBER, "Set up the number")
    for _ in range(4):
        reply = await bot.tap(MEMBER, "Skip")
    text = reply.text or ""
    assert text.count("⏭ skipped") == 4, text
    assert zapi.requests_to(PROFILE_NAME) == [] and zapi.requests_to(EMAIL) == []
    assert await events(bot) == [("register", "connected"), ("setup", "skipped")]


async def test_a_number_with_a_pin_keeps_it(start_bot, telegram, zapi) -> None:
    bot = await start(start_bot)
    await connect(bot)
    zapi.set_two_factor("inst-a", "111111")
    await bot.tap(MEMBER, "Set up the number")
    await bot.tap(MEMBER, "Skip")
    reply = await bot.tap(MEMBER, "Skip")
    assert "already has a two-step PIN" in (reply.text or "")
    assert "Recovery e-mail" in (reply.text or "")
    # Back to the PIN: it may still be replaced, and the question says so.
    reply = await bot.tap(MEMBER, "Back")
    assert EN.setup.two_fa_replaces in (reply.text or "")
    reply = await bot.tap(MEMBER, "Finish")
    assert "already had one" in (reply.text or "")
    assert zapi.profile("inst-a")["two_fa_code"] == "111111"


async def test_two_different_pins_set_nothing(start_bot, telegram, zapi) -> None:
    bot = await start(start_bot)
    await connect(bot)
    await bot.tap(MEMBER, "Set up the number")
    await bot.tap(MEMBER, "Skip")
    await bot.tap(MEMBER, "Skip")
    await bot.say(MEMBER, NEW_PIN)
    reply = await bot.say(MEMBER, "111111")
    assert EN.setup.two_fa_mismatch in (reply.text or "")
    assert "Set-up 3/4" in (reply.text or "")
    reply = await bot.say(MEMBER, "12345")
    assert reply.text == EN.setup.two_fa_invalid
    assert [r for r in zapi.requests_to(TWO_FA) if r.http_method == "POST"] == []
    assert zapi.profile("inst-a")["two_fa_code"] is None


async def test_a_restart_between_the_two_pins_asks_for_it_again(start_bot, telegram, zapi) -> None:
    bot = await start(start_bot)
    await connect(bot)
    await bot.tap(MEMBER, "Set up the number")
    await bot.say(MEMBER, "Ana Sales")
    await bot.tap(MEMBER, "Skip")
    await bot.say(MEMBER, NEW_PIN)
    database_url = bot.settings.database_url
    await bot.stop()
    bot = await start(start_bot, database_url=database_url)
    reply = await bot.say(MEMBER, NEW_PIN)
    assert EN.setup.two_fa_start_over in (reply.text or "")
    await bot.say(MEMBER, NEW_PIN)
    reply = await bot.say(MEMBER, NEW_PIN)
    assert "Recovery e-mail" in (reply.text or "")
    assert zapi.profile("inst-a")["two_fa_code"] == NEW_PIN
    summary = await bot.tap(MEMBER, "Finish")
    text = summary.text or ""
    assert "Profile name: ✅ set" in text and "Description: ⏭ skipped" in text, text
    assert "Recovery e-mail: — not reached" in text, text


async def test_a_wrong_e_mail_code_then_a_new_one(start_bot, telegram, zapi) -> None:
    bot = await start(start_bot)
    await connect(bot)
    await bot.tap(MEMBER, "Set up the number")
    for _ in range(3):
        await bot.tap(MEMBER, "Skip")
    reply = await bot.say(MEMBER, "ana@")
    assert reply.text == EN.setup.email_invalid
    assert zapi.requests_to(EMAIL) == []
    await bot.say(MEMBER, "ana@example.com")
    first = zapi.email_code("inst-a")
    wrong = "000000" if first != "000000" else "111111"
    reply = await bot.say(MEMBER, wrong)
    assert reply.text == EN.setup.email_code_wrong
    reply = await bot.tap(MEMBER, "Send the code again")
    assert "ana@example.com" in (reply.text or "")
    second = zapi.email_code("inst-a")
    assert second is not None
    reply = await bot.say(MEMBER, second)
    assert "Recovery e-mail: ✅ set" in (reply.text or "")
    assert zapi.profile("inst-a")["email_verified"] is True


async def test_finishing_while_the_code_is_awaited_says_unverified(start_bot, zapi) -> None:
    bot = await start(start_bot)
    await connect(bot)
    await bot.tap(MEMBER, "Set up the number")
    for _ in range(3):
        await bot.tap(MEMBER, "Skip")
    await bot.say(MEMBER, "ana@example.com")
    reply = await bot.say(MEMBER, "/cancel")
    assert "not confirmed" in (reply.text or "")
    assert await events(bot) == [("register", "connected"), ("setup", "done")]


async def test_z_api_failing_keeps_the_member_at_the_step(start_bot, zapi) -> None:
    bot = await start(start_bot)
    await connect(bot)
    await bot.tap(MEMBER, "Set up the number")
    zapi.script(PROFILE_NAME, Reply(status=500, json={"error": "boom"}))
    reply = await bot.say(MEMBER, "Ana Sales")
    assert EN.error_server in (reply.text or "") and "Skip" in " ".join(labels(reply))
    reply = await bot.say(MEMBER, "Ana Sales")
    assert "Description" in (reply.text or "")
    assert zapi.profile("inst-a")["name"] == "Ana Sales"


async def test_bad_profile_text_reaches_nothing(start_bot, zapi) -> None:
    bot = await start(start_bot)
    await connect(bot)
    await bot.tap(MEMBER, "Set up the number")
    reply = await bot.say(MEMBER, "x" * 26)
    assert reply.text == EN.setup.profile_name_invalid
    reply = await bot.say(MEMBER, "two\nlines")
    assert reply.text == EN.setup.profile_name_invalid
    assert zapi.requests_to(PROFILE_NAME) == []


async def test_setup_later_for_the_last_connected_number(start_bot, telegram, zapi) -> None:
    bot = await start(start_bot)
    reply = await bot.say(MEMBER, "/setup")
    assert reply.text == EN.setup.setup_nothing
    await connect(bot)
    reply = await bot.say(MEMBER, "/setup")
    assert "Set-up 1/4 · Profile name" in (reply.text or "")
    assert "+55 44 99999-9999" in (reply.text or "")
    reply = await bot.say(MEMBER, "/setup")  # again: where it is
    assert reply.text == EN.resumed
    assert "Profile name" in ((await telegram.next_reply(MEMBER.id)).text or "")
    await bot.say(MEMBER, "/cancel")

    zapi.set_connected("inst-a", False)
    reply = await bot.say(MEMBER, "/setup")
    assert "no longer connected on inst-a" in (reply.text or "")
    assert await leases(bot) == {}


async def test_setup_waits_for_a_registration_in_progress(start_bot, zapi) -> None:
    bot = await start(start_bot)
    await connect(bot)
    await bot.say(MEMBER, "/register")
    reply = await bot.say(MEMBER, "/setup")
    assert reply.text == EN.setup.setup_during_registration


async def test_register_during_the_set_up_finishes_it_first(start_bot, telegram, zapi) -> None:
    bot = await start(start_bot)
    await connect(bot)
    await bot.tap(MEMBER, "Set up the number")
    telegram.send_text(MEMBER, "/register")
    summary = await telegram.next_reply(MEMBER.id)
    assert "Set-up of" in (summary.text or "")
    question = await telegram.next_reply(MEMBER.id)
    assert "Country code" in (question.text or "")
    assert len(telegram.live_keyboards(MEMBER.id)) == 1


async def test_an_idle_set_up_ends_and_the_number_stays_connected(
    start_bot, telegram, zapi, clock
) -> None:
    bot = await start(start_bot, conversation_timeout_seconds=900)
    await connect(bot)
    await bot.tap(MEMBER, "Set up the number")
    await clock.advance(960)
    notice = await telegram.next_reply(MEMBER.id)
    assert "closed the set-up" in (notice.text or "") and "/setup" in (notice.text or "")
    assert await events(bot) == [("register", "connected"), ("setup", "timed_out")]
    assert await leases(bot) == {}
    # Another member may take the instance now.
    reply = await bot.say(OTHER_MEMBER, "/register")
    assert "Country code" in (reply.text or "")


async def test_the_set_up_in_portuguese(start_bot, telegram, zapi) -> None:
    bot = await start(start_bot)
    connected = await connect(bot, PT_MEMBER)
    assert labels(connected) == [PT.setup.button_set_up]
    reply = await bot.tap(PT_MEMBER, "Configurar o número")
    assert "Configuração 1/4 · Nome do perfil" in (reply.text or "")
    for _ in range(4):
        reply = await bot.tap(PT_MEMBER, "Pular")
    assert (reply.text or "").count("⏭ pulado") == 4


async def test_an_address_with_html_characters_is_shown_as_typed(start_bot, telegram, zapi) -> None:
    bot = await start(start_bot)
    await connect(bot)
    await bot.tap(MEMBER, "Set up the number")
    for _ in range(3):
        await bot.tap(MEMBER, "Skip")
    reply = await bot.say(MEMBER, "tom&jerry@example.com")
    assert "WhatsApp mailed a code to tom&jerry@example.com." in (reply.text or ""), reply.text


async def test_setup_when_z_api_cannot_say_whether_the_number_is_there(start_bot, zapi) -> None:
    bot = await start(start_bot)
    await connect(bot)
    zapi.script("device", Reply(status=502, json={"error": "Bad Gateway"}))
    reply = await bot.say(MEMBER, "/setup")
    assert reply.text == f"{EN.error_server}\n{EN.setup.setup_check_failed}"
    assert await leases(bot) == {}


async def test_setup_on_an_instance_another_member_is_registering_on(start_bot, zapi) -> None:
    bot = await start(start_bot)
    await connect(bot)
    await bot.say(OTHER_MEMBER, "/register")  # the one instance: held now
    reply = await bot.say(MEMBER, "/setup")
    assert reply.text == EN.setup.setup_busy.format(instance="inst-a")


async def test_setup_during_a_registration_keeps_its_question_live(start_bot, telegram, zapi):
    bot = await start(start_bot)
    await bot.say(MEMBER, "/register")
    live = telegram.live_keyboards(MEMBER.id)
    await bot.say(MEMBER, "/setup")
    assert telegram.live_keyboards(MEMBER.id) == live


async def test_the_button_under_an_earlier_connected_does_not_set_up_a_later_number(
    start_bot, telegram, zapi
) -> None:
    bot = await start(start_bot)
    await connect(bot)
    old_button = telegram.button(MEMBER.id, "Set up the number")
    await bot.say(MEMBER, "/register")
    await bot.say(MEMBER, DDI)
    await bot.say(MEMBER, "44 98888-7777")
    await bot.tap(MEMBER, "SMS")
    await bot.say(MEMBER, "123456")  # the same instance now runs +55 44 98888-7777
    telegram.press(MEMBER, *old_button, strict=False)
    reply = await telegram.next_reply(MEMBER.id)
    assert reply.text == EN.setup.setup_button_outdated.format(number="+55 44 98888-7777")
    assert await leases(bot) == {}


async def test_skipping_a_part_set_before_back_keeps_it_set(start_bot, telegram, zapi) -> None:
    bot = await start(start_bot)
    await connect(bot)
    await bot.tap(MEMBER, "Set up the number")
    await bot.say(MEMBER, "Ana Sales")
    await bot.tap(MEMBER, "Back")
    await bot.tap(MEMBER, "Skip")  # the name, set already
    summary = await bot.tap(MEMBER, "Finish")
    assert "Profile name: ✅ set" in (summary.text or ""), summary.text


async def test_the_registrations_waits_do_not_keep_the_set_up_open(
    start_bot, telegram, zapi, clock
) -> None:
    zapi.add_number(DDI, PHONE, NumberProfile(waits={"voice": 3600}))
    bot = await start(start_bot, conversation_timeout_seconds=900)
    await connect(bot)
    await bot.tap(MEMBER, "Set up the number")
    status = await bot.say(MEMBER, "/status")
    assert "Waits: none" in (status.text or ""), status.text
    await clock.advance(960)
    notice = await telegram.next_reply(MEMBER.id)
    assert "closed the set-up" in (notice.text or "")


async def test_an_admin_freeing_the_instance_ends_the_set_up_in_its_own_words(
    start_bot, telegram, zapi
) -> None:
    bot = await start(start_bot)
    await connect(bot)
    await bot.tap(MEMBER, "Set up the number")
    await bot.say(ADMIN, "/release inst-a")
    notice = await telegram.next_reply(MEMBER.id)
    assert notice.text == EN.setup.setup_interrupted.format(
        instance="inst-a", number="+55 44 99999-9999"
    )


async def test_a_number_gone_from_the_instance_is_told_in_the_set_up(start_bot, zapi) -> None:
    bot = await start(start_bot)
    await connect(bot)
    await bot.tap(MEMBER, "Set up the number")
    zapi.set_connected("inst-a", False)
    reply = await bot.say(MEMBER, "Ana Sales")
    assert EN.error_refused["connected_number"].format(instance="inst-a") in (reply.text or "")
