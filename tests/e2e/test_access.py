"""Team-only access: strangers, group chats, and the admins' /allow /deny /members /history.

End-to-end through the real Application (`start_bot`) with the Telegram and Z-API doubles.
"""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import select

from bot.conversation.texts.en import ENGLISH as EN
from bot.storage.models import Member
from tests.conftest import ADMIN, MEMBER, OTHER_MEMBER, PT_MEMBER, STRANGER
from tests.doubles.telegram_api import ApiCall, TelegramDouble, TgUser
from tests.harness import BotHarness

GROUP_ID = -1001234567890
# Methods that answer a button press or show activity, not messages a person reads in the chat.
INVISIBLE = {"answerCallbackQuery", "sendChatAction", "getUpdates"}


def visible_to(telegram: TelegramDouble, chat_id: int) -> list[ApiCall]:
    return [
        call
        for call in telegram.calls
        if call.chat_id == chat_id and call.ok and call.method not in INVISIBLE
    ]


async def settle(bot: BotHarness, telegram: TelegramDouble) -> None:
    """Let the bot finish what it was sent: a member's /status is answered after it, then a beat.

    Updates are fetched in order, so by the time a later update of another chat is answered the
    earlier ones have been taken up; the short pause covers handlers that do no I/O at all.
    """
    reply = await bot.say(MEMBER, "/status")
    assert reply.text == EN.status_none or reply.text.startswith("📋"), reply.text
    await asyncio.sleep(0.3)


async def member_row(bot: BotHarness, user_id: int) -> Member | None:
    async with bot.services.database.session() as session:
        return await session.get(Member, user_id)


async def register_completely(bot: BotHarness, user: TgUser) -> None:
    await bot.say(user, "/register")
    await bot.tap(user, "inst-a")
    await bot.say(user, "+55")
    await bot.say(user, "(44) 99999-9999")
    await bot.tap(user, "SMS")
    reply = await bot.say(user, "123456")
    assert "Connected" in reply.text, reply.text


# -- strangers ----------------------------------------------------------------------------------


async def test_a_stranger_gets_one_reply_with_their_id_and_nothing_else(start_bot, telegram, zapi):
    bot = await start_bot()
    reply = await bot.say(STRANGER, "/start")
    assert str(STRANGER.id) in reply.text
    assert reply.text == EN.access.not_member.format(user_id=STRANGER.id)
    message_id = int(reply.message["message_id"])

    for text in ("/register", "hello?", "+55 44 99999-9999", "123456", "/status", "/allow 6666"):
        telegram.send_text(STRANGER, text)
    telegram.send_message(STRANGER, sticker=True)
    query = telegram.press(STRANGER, message_id, "deadbeef:i:inst-a", strict=False)
    await telegram.wait_for(
        "answerCallbackQuery",
        predicate=lambda call: str(call.params.get("callback_query_id")) == query,
        timeout=15,
    )
    await settle(bot, telegram)

    replies = visible_to(telegram, STRANGER.id)
    assert [call.text for call in replies] == [reply.text]
    assert zapi.requests == []
    assert await bot.services.flow.load(STRANGER.id) is None
    assert await member_row(bot, STRANGER.id) is None


async def test_a_strangers_button_presses_get_no_second_reply(start_bot, telegram, zapi):
    bot = await start_bot()
    reply = await bot.say(STRANGER, "hi")
    assert str(STRANGER.id) in reply.text
    # A stranger never gets a keyboard of ours: press a made-up button on the bot's message.
    message_id = int(reply.message["message_id"])
    for _ in range(3):
        query = telegram.press(STRANGER, message_id, "deadbeef:m:sms", strict=False)
        await telegram.wait_for(
            "answerCallbackQuery",
            predicate=lambda call, q=query: str(call.params.get("callback_query_id")) == q,
            timeout=15,
        )
    await settle(bot, telegram)
    assert len(visible_to(telegram, STRANGER.id)) == 1
    assert zapi.requests == []


# -- group chats --------------------------------------------------------------------------------


async def test_a_group_chat_gets_one_private_chat_reply_then_silence(start_bot, telegram, zapi):
    bot = await start_bot()
    telegram.send_message(MEMBER, "/register", chat_type="group", chat_id=GROUP_ID)
    reply = await telegram.next_reply(GROUP_ID)
    assert reply.text == EN.private_only
    assert "private chat" in reply.text

    telegram.send_message(MEMBER, "/register", chat_type="group", chat_id=GROUP_ID)
    telegram.send_message(MEMBER, "+55 44 99999-9999", chat_type="group", chat_id=GROUP_ID)
    telegram.send_message(OTHER_MEMBER, "/start", chat_type="group", chat_id=GROUP_ID)
    telegram.send_message(ADMIN, "/allow 6666", chat_type="group", chat_id=GROUP_ID)
    telegram.send_message(STRANGER, "hello", chat_type="group", chat_id=GROUP_ID)
    telegram.send_message(MEMBER, sticker=True, chat_type="group", chat_id=GROUP_ID)
    await settle(bot, telegram)

    assert len(visible_to(telegram, GROUP_ID)) == 1
    assert zapi.requests == []
    assert await bot.services.flow.load(GROUP_ID) is None
    assert await member_row(bot, STRANGER.id) is None
    # The group said nothing of its own to the members' private chats either.
    assert visible_to(telegram, OTHER_MEMBER.id) == []
    assert visible_to(telegram, STRANGER.id) == []


# -- /allow and /deny ---------------------------------------------------------------------------


async def test_allow_lets_a_stranger_in(start_bot, telegram, zapi):
    bot = await start_bot()
    reply = await bot.say(STRANGER, "/register")
    assert str(STRANGER.id) in reply.text

    reply = await bot.say(ADMIN, f"/allow {STRANGER.id}")
    assert reply.text == EN.allowed.format(user_id=STRANGER.id)
    row = await member_row(bot, STRANGER.id)
    assert row is not None and row.allowed and row.changed_by == ADMIN.id

    reply = await bot.say(STRANGER, "/register")
    assert "Which instance" in reply.text
    reply = await bot.tap(STRANGER, "inst-a")
    assert "country code" in reply.text


async def test_deny_shuts_a_member_out_and_survives_a_restart(
    start_bot, telegram, zapi, sqlite_url
):
    bot = await start_bot()
    assert "Which instance" in (await bot.say(MEMBER, "/register")).text
    await bot.say(MEMBER, "/cancel")

    reply = await bot.say(ADMIN, f"/deny {MEMBER.id}")
    assert reply.text == EN.denied.format(user_id=MEMBER.id)
    row = await member_row(bot, MEMBER.id)
    assert row is not None and row.allowed is False and row.changed_by == ADMIN.id
    reply = await bot.say(ADMIN, f"/allow {STRANGER.id}")
    assert reply.text == EN.allowed.format(user_id=STRANGER.id)

    reply = await bot.say(MEMBER, "/register")
    assert reply.text == EN.access.not_member.format(user_id=MEMBER.id)
    assert await bot.services.flow.load(MEMBER.id) is None

    database_url = bot.settings.database_url
    await bot.stop()
    bot = await start_bot(database_url=database_url)

    reply = await bot.say(MEMBER, "/register")
    assert reply.text == EN.access.not_member.format(user_id=MEMBER.id)
    assert await bot.services.flow.load(MEMBER.id) is None
    reply = await bot.say(STRANGER, "/register")
    assert "Which instance" in reply.text
    reply = await bot.say(ADMIN, "/members")
    assert f" {MEMBER.id} · " not in reply.text
    assert f"· {STRANGER.id} · member · added with /allow by Dora since " in reply.text
    assert zapi.requests == []

    # An admin lets them back in.
    assert (await bot.say(ADMIN, f"/allow {MEMBER.id}")).text == EN.allowed.format(
        user_id=MEMBER.id
    )
    assert "Which instance" in (await bot.say(MEMBER, "/register")).text


async def test_deny_of_an_admin_is_refused(start_bot, telegram, zapi):
    bot = await start_bot()
    reply = await bot.say(ADMIN, f"/deny {ADMIN.id}")
    assert reply.text == EN.deny_admin.format(user_id=ADMIN.id)
    assert await member_row(bot, ADMIN.id) is None
    reply = await bot.say(ADMIN, "/members")
    assert "• Dora · 9001 · admin · in ADMIN_USER_IDS · last seen " in reply.text
    assert "Which instance" in (await bot.say(ADMIN, "/register")).text


async def test_members_lists_env_db_and_admin_members_with_sources(start_bot, telegram, zapi):
    bot = await start_bot()
    await bot.say(MEMBER, "/help")  # seen: named from now on
    reply = await bot.say(ADMIN, "/members")
    lines = reply.text.splitlines()
    assert lines[0] == EN.access.members_header
    assert "• Ana · 1001 · member · in ALLOWED_USER_IDS · last seen " in reply.text
    for user in (OTHER_MEMBER, PT_MEMBER):
        assert f"• {user.id} · member · in ALLOWED_USER_IDS · never wrote to the bot" in lines
    assert "• Dora · 9001 · admin · in ADMIN_USER_IDS · last seen " in reply.text
    assert str(STRANGER.id) not in reply.text

    await bot.say(ADMIN, f"/allow {STRANGER.id}")
    await bot.say(ADMIN, f"/deny {OTHER_MEMBER.id}")
    reply = await bot.say(ADMIN, "/members")
    lines = reply.text.splitlines()
    [stranger] = [line for line in lines if str(STRANGER.id) in line]
    assert stranger.startswith(f"• {STRANGER.id} · member · added with /allow by Dora since ")
    assert stranger.endswith(" · never wrote to the bot")
    assert not any(str(OTHER_MEMBER.id) in line for line in lines), lines


# -- /history -----------------------------------------------------------------------------------


async def test_history_lists_registrations_with_masked_numbers(start_bot, telegram, zapi):
    bot = await start_bot()
    reply = await bot.say(ADMIN, "/history")
    assert reply.text == EN.history.none

    await register_completely(bot, MEMBER)
    await bot.say(OTHER_MEMBER, "/register")
    await bot.tap(OTHER_MEMBER, "inst-b")
    await bot.say(OTHER_MEMBER, "/cancel")

    reply = await bot.say(ADMIN, "/history")
    lines = reply.text.splitlines()
    assert lines[0] == EN.history.header.format(zone="UTC")
    connected = [line for line in lines if "connected" in line]
    assert len(connected) == 1, lines
    line = connected[0]
    assert str(MEMBER.id) in line and "inst-a" in line
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", line), line
    assert "+55 •••• 9999 · " in line, f"number not masked but for 9999: {line}"
    assert any(str(OTHER_MEMBER.id) in line and "cancel" in line for line in lines), lines
    # Nothing longer than the four last digits of the number is shown.
    assert not re.search(r"\d{5,}", reply.text), reply.text
    assert "44 99999" not in reply.text and "99999" not in reply.text

    reply = await bot.say(ADMIN, "/history 1")
    lines = reply.text.splitlines()
    assert lines[0] == EN.history.header.format(zone="UTC")
    assert len(lines) == 2, lines
    assert "cancel" in lines[1] and str(OTHER_MEMBER.id) in lines[1]

    reply = await bot.say(ADMIN, "/history 100")
    assert len(reply.text.splitlines()) >= 3


async def test_bad_arguments_get_usage_texts(start_bot, telegram, zapi):
    bot = await start_bot()
    cases = {
        "/allow": EN.allow_usage,
        "/allow abc": EN.allow_usage,
        "/allow 1 2": EN.allow_usage,
        "/allow @someone": EN.allow_usage,
        "/allow 12345678901234567890123": EN.allow_usage,
        "/deny": EN.deny_usage,
        "/deny xyz": EN.deny_usage,
        "/deny 1 2": EN.deny_usage,
        "/history 0": EN.history.usage,
        "/history 101": EN.history.usage,
        "/history abc": EN.history.usage,
        "/history -5": EN.history.usage,
        "/history 1 2": EN.history.usage,
    }
    for command, usage in cases.items():
        reply = await bot.say(ADMIN, command)
        assert reply.text == usage, (command, reply.text)
    async with bot.services.database.session() as session:
        assert (await session.scalars(select(Member))).all() == []


async def test_non_admins_are_told_only_admins(start_bot, telegram, zapi):
    bot = await start_bot()
    for command in (f"/allow {STRANGER.id}", f"/deny {OTHER_MEMBER.id}", "/members", "/history"):
        reply = await bot.say(MEMBER, command)
        assert reply.text == EN.admin_only, (command, reply.text)
    async with bot.services.database.session() as session:
        assert (await session.scalars(select(Member))).all() == []
    assert "Which instance" in (await bot.say(OTHER_MEMBER, "/register")).text

    # Mid-flow, an admin command does not disturb the member's step.
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    assert (await bot.say(MEMBER, "/members")).text == EN.admin_only
    assert "Now the number for +55" in (await bot.say(MEMBER, "55")).text

    # A stranger cannot let themselves in.
    reply = await bot.say(STRANGER, f"/allow {STRANGER.id}")
    assert reply.text == EN.access.not_member.format(user_id=STRANGER.id)
    assert await member_row(bot, STRANGER.id) is None
