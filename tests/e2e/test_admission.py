"""Letting people in without typing ids: "Request access" answered once by Allow or Deny (also
after a restart), and one-time invite links that expire."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import MetaData, select

from bot.conversation.texts.en import ENGLISH as EN
from bot.storage.models import Member
from tests.clock import TestClock
from tests.conftest import ADMIN, MEMBER
from tests.doubles.telegram_api import TelegramDouble, TgUser
from tests.doubles.zapi import ZapiDouble
from tests.harness import BotHarness, labels, settle

EVE = TgUser(id=6666, first_name="Eve", username="eve_x", language_code="en")
FRANK = TgUser(id=6667, first_name="Frank", language_code="en")
SECOND_ADMIN = TgUser(id=9002, first_name="Gil", language_code="en")
ADMINS = f"{ADMIN.id},{SECOND_ADMIN.id}"


async def member(bot: BotHarness, user_id: int) -> Member | None:
    async with bot.services.database.session() as session:
        return await session.get(Member, user_id)


async def everything_stored(bot: BotHarness) -> str:
    """Every value of every row of every table, as one string."""
    metadata = MetaData()
    async with bot.services.database.engine.connect() as connection:
        await connection.run_sync(metadata.reflect)
        values = []
        for table in metadata.sorted_tables:
            for row in (await connection.execute(select(table))).all():
                values += [str(value) for value in row]
    return " ".join(values)


async def ask(bot: BotHarness, user: TgUser) -> None:
    refused = await bot.say(user, "hello")
    assert refused.text == EN.access.not_member.format(user_id=user.id)
    assert labels(refused) == [EN.access.button_request]
    assert (await bot.tap(user, "Request access")).text == EN.access.request_sent


async def test_a_request_allowed_lets_the_stranger_in_with_a_welcome(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble
) -> None:
    bot = await start_bot(admin_user_ids=ADMINS)
    await ask(bot, EVE)

    alerts = [await telegram.next_reply(admin) for admin in (ADMIN.id, SECOND_ADMIN.id)]
    for alert in alerts:
        assert alert.text == "🙋 Eve (@eve_x, 6666) asks for access to the bot."
        assert labels(alert) == ["✅ Allow", "🚫 Deny"]
    answered = await bot.tap(ADMIN, "Allow")
    assert answered.text == "✅ Eve (@eve_x) was let in by Dora."
    assert labels(answered) == []
    welcome = await telegram.next_reply(EVE.id)
    assert welcome.text == EN.access.welcome
    assert telegram.live_keyboards(EVE.id) == []  # the Request button went with it
    row = await member(bot, EVE.id)
    assert row is not None and (row.allowed, row.source, row.changed_by) == (
        True,
        "request",
        ADMIN.id,
    )
    assert "Which instance" in ((await bot.say(EVE, "/register")).text or "")

    # The other admin's copy: already answered, said so, and shown as it was answered.
    redrawn = await bot.tap(SECOND_ADMIN, "Deny")
    assert redrawn.text == "✅ Eve (@eve_x) was let in by Dora."
    pop_ups = [c.params.get("text") for c in telegram.calls_to("answerCallbackQuery")]
    assert EN.access.request_already in pop_ups
    assert (await member(bot, EVE.id)).allowed is True  # type: ignore[union-attr]


async def test_a_request_is_answered_once_also_after_a_restart(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble, migrated_sqlite_url: str
) -> None:
    bot = await start_bot(migrated_sqlite_url)
    await ask(bot, FRANK)
    await telegram.next_reply(ADMIN.id)
    await bot.stop()

    # Asked again after a restart, before an answer: told so, the admins not asked twice.
    bot = await start_bot(migrated_sqlite_url)
    await bot.say(FRANK, "hello")  # told once more after the restart, with the button
    assert (await bot.tap(FRANK, "Request access")).text == EN.access.request_pending
    await settle()
    assert len(telegram.calls_to("sendMessage", ADMIN.id)) == 1

    assert (await bot.tap(ADMIN, "Deny")).text == "🚫 Frank was turned away by Dora."
    assert (await telegram.next_reply(FRANK.id)).text == EN.access.request_declined
    assert await member(bot, FRANK.id) is None
    await bot.stop()

    bot = await start_bot(migrated_sqlite_url)
    await bot.say(FRANK, "hello")
    assert (await bot.tap(FRANK, "Request access")).text == EN.access.request_answered_no
    await settle()
    assert len(telegram.calls_to("sendMessage", ADMIN.id)) == 1


async def test_only_admins_answer_requests(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble
) -> None:
    bot = await start_bot()
    await ask(bot, FRANK)
    alert = await telegram.next_reply(ADMIN.id)
    data = alert.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    reply = await bot.say(MEMBER, "/status")
    telegram.press(MEMBER, reply.result["message_id"], data, strict=False)
    await settle()
    pop_ups = [c.params.get("text") for c in telegram.calls_to("answerCallbackQuery")]
    assert EN.admin_only in pop_ups
    assert await member(bot, FRANK.id) is None


async def test_an_invite_link_lets_in_whoever_opens_it_first_once(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble, clock: TestClock
) -> None:
    bot = await start_bot()
    reply = await bot.say(ADMIN, "/invite")
    match = re.search(r"https://t\.me/test_bot\?start=(inv-[A-Za-z0-9_-]+)", reply.text or "")
    assert match is not None, reply.text
    start = match.group(1)
    assert len(start) <= 64  # what Telegram allows of a start parameter

    assert (await bot.say(EVE, f"/start {start}")).text == EN.access.welcome
    row = await member(bot, EVE.id)
    assert row is not None and (row.source, row.changed_by) == ("invite", ADMIN.id)
    assert "Which instance" in ((await bot.say(EVE, "/register")).text or "")
    assert (await bot.say(FRANK, f"/start {start}")).text == EN.access.invite_used
    assert await member(bot, FRANK.id) is None
    # A member opening a link leaves it for someone else.
    second = await bot.say(ADMIN, "/invite")
    other = re.search(r"start=(inv-[A-Za-z0-9_-]+)", second.text or "").group(1)  # type: ignore[union-attr]
    assert (await bot.say(MEMBER, f"/start {other}")).text == EN.access.invite_member_already
    assert (await bot.say(FRANK, f"/start {other}")).text == EN.access.welcome
    # Only the hash is kept.
    stored = await everything_stored(bot)
    assert start.removeprefix("inv-") not in stored and other.removeprefix("inv-") not in stored


async def test_an_invite_expires_after_a_day_and_forged_ones_do_nothing(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble, clock: TestClock
) -> None:
    bot = await start_bot()
    reply = await bot.say(ADMIN, "/invite")
    start = re.search(r"start=(inv-[A-Za-z0-9_-]+)", reply.text or "").group(1)  # type: ignore[union-attr]
    await clock.advance(24 * 3600 + 1)
    assert (await bot.say(EVE, f"/start {start}")).text == EN.access.invite_used
    assert (await bot.say(FRANK, "/start inv-forged")).text == EN.access.invite_used
    assert await member(bot, EVE.id) is None and await member(bot, FRANK.id) is None
    assert zapi.requests == []


async def test_only_admins_make_invites(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble
) -> None:
    bot = await start_bot()
    assert (await bot.say(MEMBER, "/invite")).text == EN.admin_only


async def test_a_request_in_portuguese(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble
) -> None:
    from bot.conversation.texts.pt import PORTUGUESE as PT

    bot = await start_bot()
    admin = TgUser(id=ADMIN.id, first_name="Dora", language_code="pt-BR")
    await bot.say(admin, "/help")  # the admin's language, as Telegram tells it
    await bot.say(admin, "/language pt")
    zeca = TgUser(id=6668, first_name="Zeca", language_code="pt-BR")
    refused = await bot.say(zeca, "oi")
    assert refused.text == PT.access.not_member.format(user_id=zeca.id)
    assert labels(refused) == [PT.access.button_request]
    assert (await bot.tap(zeca, "Pedir acesso")).text == PT.access.request_sent
    alert = await telegram.next_reply(ADMIN.id)
    while alert.text != "🙋 Zeca (6668) está pedindo acesso ao bot.":
        alert = await telegram.next_reply(ADMIN.id)
    assert labels(alert) == ["✅ Liberar", "🚫 Recusar"]
    assert (await bot.tap(admin, "Liberar")).text == "✅ Zeca foi liberado por Dora."
    assert (await telegram.next_reply(zeca.id)).text == PT.access.welcome
