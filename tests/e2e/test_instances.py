"""The admins' side of the instances: the /instances board (Refresh, Release), the monitor's
alerts when an instance drops or comes back, the alerts chat, and the team feed."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from bot.conversation.texts.en import ENGLISH as EN
from bot.conversation.texts.pt import PORTUGUESE as PT
from bot.storage.models import AuditEvent, InstanceLease, InstanceStateRow
from tests.clock import TestClock
from tests.conftest import ADMIN, INSTANCE_TOKENS, MEMBER, OTHER_MEMBER
from tests.doubles.telegram_api import ApiCall, TelegramDouble, TgUser
from tests.doubles.zapi import ZapiDouble
from tests.harness import BotHarness, labels, settle, until

TEN = {f"inst-{letter}": f"tok-{letter * 20}" for letter in "abcdefghij"}
GROUP, TOPIC = -1001234567890, 77


def instances_setting(instances: dict[str, str]) -> str:
    return ",".join(f"{name}={name}:{token}" for name, token in instances.items())


def add_instances(zapi: ZapiDouble, instances: dict[str, str]) -> None:
    for name, token in instances.items():
        if name not in INSTANCE_TOKENS:
            zapi.add_instance(name, token)


async def replies(bot: BotHarness, chat_id: int, count: int, timeout: float = 10) -> list[ApiCall]:
    return [await bot.telegram.next_reply(chat_id, timeout=timeout) for _ in range(count)]


async def stored_states(bot: BotHarness) -> dict[str, bool]:
    async with bot.services.database.session() as session:
        rows = (await session.scalars(select(InstanceStateRow))).all()
    return {row.instance: row.connected for row in rows}


async def connect(bot: BotHarness, user: TgUser, instance: str) -> ApiCall:
    """/register on `instance`, by SMS, to "Connected"."""
    await bot.say(user, "/register")
    await bot.tap(user, instance)
    await bot.say(user, "55")
    await bot.say(user, "44 99999-1234")
    await bot.tap(user, "SMS")
    return await bot.say(user, "123456")


# -- the board -------------------------------------------------------------------------------------


async def test_the_board_shows_ten_instances_within_the_timeout_though_two_hang(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble
) -> None:
    add_instances(zapi, TEN)
    for n, name in enumerate(TEN):
        if name in ("inst-c", "inst-d"):
            zapi.hang("status", instance_id=name)
        elif name != "inst-e":
            zapi.set_connected(name, phone=f"55449876{n:05d}")
    bot = await start_bot(zapi_instances=instances_setting(TEN), zapi_timeout_seconds="1")
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")

    started = time.monotonic()
    board = await bot.say(ADMIN, "/instances", timeout=5)
    elapsed = time.monotonic() - started

    assert elapsed < 1.9  # ZAPI_TIMEOUT_SECONDS, plus the bot's and the doubles' own time
    lines = (board.text or "").split("\n")
    assert lines[0].startswith("Instances · ")
    assert lines[1] == "🟢 inst-a: connected · +55 •••• 0000"
    assert lines[2].startswith("    👤 Ana · Country code · since ")
    assert "⚪ inst-c: no answer from Z-API" in lines
    assert "⚪ inst-d: no answer from Z-API" in lines
    assert "🔴 inst-e: not connected · no number connected" in lines
    assert "🟢 inst-j: connected · +55 •••• 0009" in lines
    assert lines.count("    free") == 9
    assert "5544987600009" not in (board.text or "")  # every number masked
    assert labels(board) == ["🔓 Release inst-a", "🔄 Refresh"]
    assert "<b>Instances" in board.params["text"]  # the header in bold


async def test_release_from_the_board_ends_the_flow_and_redraws_it(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble
) -> None:
    bot = await start_bot()
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-b")
    board = await bot.say(ADMIN, "/instances")
    assert "🔓 Release inst-b" in labels(board)

    redrawn = await bot.tap(ADMIN, "Release inst-b")

    told = await telegram.next_reply(MEMBER.id)
    assert told.text == EN.ended_by_admin_released.format(instance="inst-b")
    assert redrawn.method == "editMessageText"
    assert redrawn.params["message_id"] == board.result["message_id"]
    assert EN.admin.board_released.format(instance="inst-b") in (redrawn.text or "")
    assert labels(redrawn) == ["🔄 Refresh"]
    pop_ups = [c.params.get("text") for c in telegram.calls_to("answerCallbackQuery")]
    assert EN.admin.board_releasing.format(instance="inst-b") in pop_ups
    async with bot.services.database.session() as session:
        assert (await session.scalars(select(InstanceLease))).all() == []
        event = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "admin"))
        ).one()
    assert (event.user_id, event.chat_id, event.outcome) == (ADMIN.id, MEMBER.id, "released")


async def test_refresh_edits_the_board_in_place_with_what_changed(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble
) -> None:
    bot = await start_bot()
    board = await bot.say(ADMIN, "/instances")
    assert "🔴 inst-a: not connected · no number connected" in (board.text or "")
    zapi.set_connected("inst-a", phone="5544912345678")

    redrawn = await bot.tap(ADMIN, "Refresh")

    assert redrawn.method == "editMessageText"
    assert redrawn.params["message_id"] == board.result["message_id"]
    assert "🟢 inst-a: connected · +55 •••• 5678" in (redrawn.text or "")
    # What the board saw is what the monitor knows: the change is alerted too.
    alert = await telegram.next_reply(ADMIN.id)
    assert alert.text == EN.admin.alert_reconnected.format(instance="inst-a")


async def test_the_board_is_for_admins_only(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble
) -> None:
    bot = await start_bot()
    await bot.say(OTHER_MEMBER, "/register")
    await bot.tap(OTHER_MEMBER, "inst-a")
    refused = await bot.say(MEMBER, "/instances")
    assert refused.text == EN.admin_only
    # A forged press of Release: refused in its pop-up, nothing released.
    telegram.press(MEMBER, refused.result["message_id"], "board:l:1", strict=False)
    await until(
        lambda: any(
            c.params.get("text") == EN.admin_only for c in telegram.calls_to("answerCallbackQuery")
        )
    )
    assert (await bot.services.flow.load(OTHER_MEMBER.id)) is not None
    assert not zapi.requests_to("status")


async def test_the_board_in_portuguese(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble
) -> None:
    bot = await start_bot()
    admin = TgUser(id=ADMIN.id, first_name="Dora", language_code="pt-BR")
    board = await bot.say(admin, "/instances")
    assert (board.text or "").startswith("Instâncias · ")
    assert "🔴 inst-a: desconectada · nenhum número conectado" in (board.text or "")
    assert labels(board) == [PT.admin.button_refresh]


# -- the monitor -----------------------------------------------------------------------------------


async def test_the_monitor_alerts_a_drop_and_a_return_and_nothing_at_start(
    start_bot: Any,
    telegram: TelegramDouble,
    zapi: ZapiDouble,
    clock: TestClock,
    migrated_url: str,  # SQLite and PostgreSQL
) -> None:
    zapi.set_connected("inst-a", phone="5544999991234")
    bot = await start_bot(migrated_url, instance_check_seconds="60", alert_feed="1")
    await until(lambda: bot.services.monitor.state("inst-b") is not None)
    assert await stored_states(bot) == {"inst-a": True, "inst-b": False}  # seen, not alerted
    await connect(bot, MEMBER, "inst-b")  # the last number registered there: the alert names it
    feed = await telegram.next_reply(ADMIN.id)
    assert feed.text == "🟢 Ana connected +55 •••• 1234 on inst-b"
    # The monitor then sees inst-b connected: the bot's own doing, told by the feed already.
    await clock.advance(60)
    await until(lambda: len(zapi.requests_to("status", "inst-b")) >= 2)
    await until(lambda: bot.services.monitor.state("inst-b").connected)
    assert await stored_states(bot) == {"inst-a": True, "inst-b": True}

    zapi.set_connected("inst-b", False)
    await clock.advance(60)
    dropped = await telegram.next_reply(ADMIN.id)
    assert dropped.text == (
        "🔴 Instance inst-b lost its connection: no number connected.\n"
        "Last number registered there: +55 •••• 1234 (Ana)."
    )
    [[button]] = dropped.params["reply_markup"]["inline_keyboard"]
    assert button == {
        "text": "📲 Register again on inst-b",
        "url": "https://t.me/test_bot?start=register-2",
    }

    await clock.advance(60)  # unchanged: nothing said
    await settle()
    zapi.set_connected("inst-b", True)
    await clock.advance(60)
    back = await telegram.next_reply(ADMIN.id)
    assert back.text == EN.admin.alert_reconnected.format(instance="inst-b")
    await settle()
    assert not [c for c in telegram.calls if c.chat_id == ADMIN.id and c.method == "sendMessage"][
        3:
    ]


async def test_after_a_restart_only_what_changed_meanwhile_is_alerted(
    start_bot: Any,
    telegram: TelegramDouble,
    zapi: ZapiDouble,
    clock: TestClock,
    migrated_sqlite_url: str,
) -> None:
    zapi.set_connected("inst-a")
    first = await start_bot(migrated_sqlite_url, instance_check_seconds="60")
    await until(lambda: first.services.monitor.state("inst-b") is not None)
    await first.stop()

    second = await start_bot(migrated_sqlite_url, instance_check_seconds="60")
    await until(lambda: len(zapi.requests_to("status")) >= 4)
    await settle()
    assert telegram.calls_to("sendMessage", ADMIN.id) == []  # no storm at start
    await second.stop()

    zapi.set_connected("inst-a", False)  # while the bot was down
    await start_bot(migrated_sqlite_url, instance_check_seconds="60")
    dropped = await telegram.next_reply(ADMIN.id)
    assert (dropped.text or "").startswith("🔴 Instance inst-a lost its connection")
    assert len(telegram.calls_to("sendMessage", ADMIN.id)) == 1


async def test_no_answer_changes_nothing(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble, clock: TestClock
) -> None:
    zapi.set_connected("inst-a")
    bot = await start_bot(instance_check_seconds="60", zapi_timeout_seconds="0.5")
    await until(lambda: bot.services.monitor.state("inst-a") is not None)
    zapi.hang("status", instance_id="inst-a")
    await clock.advance(60)
    await until(lambda: len(zapi.requests_to("status", "inst-a")) >= 2)
    await settle(0.8)
    assert telegram.calls_to("sendMessage", ADMIN.id) == []
    assert (await stored_states(bot))["inst-a"] is True


async def test_alerts_go_to_the_alerts_topic_in_its_language(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble, clock: TestClock
) -> None:
    zapi.set_connected("inst-a")
    bot = await start_bot(
        instance_check_seconds="60",
        alert_chat_id=str(GROUP),
        alert_thread_id=str(TOPIC),
        alert_language="pt",
    )
    await until(lambda: bot.services.monitor.state("inst-a") is not None)
    zapi.set_connected("inst-a", False)
    await clock.advance(60)
    alert = await telegram.next_reply(GROUP)
    assert alert.text == "🔴 A instância inst-a caiu: nenhum número conectado."
    assert alert.params["message_thread_id"] == TOPIC
    assert telegram.calls_to("sendMessage", ADMIN.id) == []


async def test_register_again_opens_a_registration_on_that_instance(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble
) -> None:
    bot = await start_bot()
    reply = await bot.say(MEMBER, "/start register-2")
    assert "country code" in (reply.text or "")
    reg = await bot.services.flow.load(MEMBER.id)
    assert reg is not None and reg.instance == "inst-b"
    # Taken by someone else: said so; an unknown position is an ordinary /start.
    taken = await bot.say(OTHER_MEMBER, "/start register-2")
    assert taken.text == EN.instance_busy_now.format(instance="inst-b")
    assert (await bot.say(OTHER_MEMBER, "/start register-9")).text == EN.start


# -- the feed --------------------------------------------------------------------------------------


async def test_the_feed_tells_of_connections_bans_appeals_and_timeouts(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble, clock: TestClock
) -> None:
    from tests.doubles.zapi import NumberProfile

    zapi.add_number("55", "44988887777", NumberProfile(banned=True, unban_status="IN_REVIEW"))
    bot = await start_bot(alert_chat_id=str(GROUP), alert_feed="1")
    await connect(bot, MEMBER, "inst-a")
    assert (await telegram.next_reply(GROUP)).text == "🟢 Ana connected +55 •••• 1234 on inst-a"

    await bot.say(OTHER_MEMBER, "/register")
    await bot.tap(OTHER_MEMBER, "inst-b")
    await bot.say(OTHER_MEMBER, "55")
    await bot.say(OTHER_MEMBER, "44 98888-7777")
    assert (await telegram.next_reply(GROUP)).text == (
        "⛔ Bruno: +55 •••• 7777 is banned by WhatsApp (on inst-b)"
    )
    await bot.tap(OTHER_MEMBER, "Appeal")
    await bot.say(OTHER_MEMBER, "It is my business number")
    assert (await telegram.next_reply(GROUP)).text == (
        "📨 Bruno appealed the ban of +55 •••• 7777: in review"
    )

    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    await clock.advance(901)
    assert (await telegram.next_reply(GROUP)).text == (
        "⌛ Ana's registration on inst-a timed out (at: Country code)"
    )


async def test_alert_feed_0_turns_the_feed_off(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble
) -> None:
    bot = await start_bot(alert_chat_id=str(GROUP), alert_feed="0")
    await connect(bot, MEMBER, "inst-a")
    await settle()
    assert telegram.calls_to("sendMessage", GROUP) == []


# -- refused credentials, names -----------------------------------------------------------------


async def test_refused_credentials_go_to_the_alerts_chat_from_the_monitor_too(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble, clock: TestClock
) -> None:
    from tests.doubles.zapi import Reply

    zapi.script("status", Reply(status=401, json={"error": "Unauthorized"}), instance_id="inst-b")
    bot = await start_bot(instance_check_seconds="60", alert_chat_id=str(GROUP))
    alert = await telegram.next_reply(GROUP)
    assert "inst-b" in (alert.text or "") and "ZAPI_CLIENT_TOKEN" in (alert.text or "")
    assert "Unauthorized" not in (alert.text or "")
    # Within the hour, and on the board: not told again; the board says what it is.
    zapi.script("status", Reply(status=401, json={"error": "Unauthorized"}), instance_id="inst-b")
    board = await bot.say(ADMIN, "/instances")
    assert "🔑 inst-b: Z-API refused the bot's credentials" in (board.text or "")
    await settle()
    assert len(telegram.calls_to("sendMessage", GROUP)) == 1
    assert telegram.calls_to("sendMessage", ADMIN.id) == [board]  # alerts go to the group only


async def test_names_are_remembered_across_a_restart(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble, migrated_sqlite_url: str
) -> None:
    named = TgUser(id=MEMBER.id, first_name="Ana <Maria>", username="ana_m", language_code="en")
    first = await start_bot(migrated_sqlite_url)
    await first.say(named, "/register")
    await first.tap(named, "inst-a")
    await first.stop()  # the sightings are written at the latest on the way out

    second = await start_bot(migrated_sqlite_url)
    board = await second.say(ADMIN, "/instances")
    assert "    👤 Ana <Maria> (@ana_m) · Country code · since " in (board.text or "")
    assert "Ana &lt;Maria&gt;" in board.params["text"]  # escaped in the HTML sent


# -- the replace guard at the instance step --------------------------------------------------


async def test_an_instance_running_a_number_is_marked_and_asks_before_it_is_replaced(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble
) -> None:
    bot = await start_bot(instance_check_seconds="3600")
    await connect(bot, OTHER_MEMBER, "inst-a")  # Bruno's number now runs on inst-a
    zapi.set_connected("inst-b", False)
    await bot.say(ADMIN, "/instances")  # the board sees it (as the monitor would)

    question = await bot.say(MEMBER, "/register")
    assert labels(question)[:2] == ["inst-a · connected", "inst-b"]
    asked = await bot.tap(MEMBER, "inst-a")
    replace = EN.ask_replace_number.format(instance="inst-a", number="+55 •••• 1234")
    assert (asked.text or "").endswith("\n" + replace)
    assert "✅ Yes, replace it" in labels(asked)
    back = await bot.tap(MEMBER, "Back")
    assert "Which instance" in (back.text or "")
    await bot.tap(MEMBER, "inst-a")
    going_on = await bot.tap(MEMBER, "Yes, replace it")
    assert "country code" in (going_on.text or "")
    reg = await bot.services.flow.load(MEMBER.id)
    assert reg is not None and (reg.instance, reg.step) == ("inst-a", "ddi")


async def test_the_only_instance_asks_first_and_no_ends_the_registration(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble, clock: TestClock
) -> None:
    zapi.set_connected("inst-a")
    bot = await start_bot(
        zapi_instances=f"inst-a=inst-a:{INSTANCE_TOKENS['inst-a']}", instance_check_seconds="3600"
    )
    await until(lambda: bot.services.monitor.state("inst-a") is not None)
    asked = await bot.say(MEMBER, "/register")
    assert asked.text == "Step 1/4 · Replace the number\n" + EN.ask_replace.format(
        instance="inst-a"
    )
    assert "Back" not in " ".join(labels(asked))  # nowhere to go back to
    assert (await bot.say(MEMBER, "maybe")).text == EN.step_hints["replace"]
    assert (await bot.say(MEMBER, "no")).text == EN.cancelled
    async with bot.services.database.session() as session:
        assert (await session.scalars(select(InstanceLease))).all() == []


async def test_the_guard_in_portuguese(
    start_bot: Any, telegram: TelegramDouble, zapi: ZapiDouble
) -> None:
    zapi.set_connected("inst-b")
    bot = await start_bot()
    await bot.say(ADMIN, "/instances")
    carla = TgUser(id=1003, first_name="Carla", language_code="pt-BR")
    question = await bot.say(carla, "/register")
    assert labels(question)[:2] == ["inst-a", "inst-b · conectada"]
    asked = await bot.tap(carla, "inst-b")
    assert (asked.text or "").endswith("\n" + PT.ask_replace.format(instance="inst-b"))
    going_on = await bot.say(carla, "sim")
    assert (going_on.text or "").endswith("\n" + PT.ask_ddi), going_on.text
    reg = await bot.services.flow.load(carla.id)
    assert reg is not None and reg.step == "ddi"
