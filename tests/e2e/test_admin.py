"""Admin commands at their edges: long listings, odd user ids, errors, /deny and /release.

End-to-end through the real Application (`start_bot`) with the Telegram and Z-API doubles.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from bot.admin import MAX_USER_ID, split_message
from bot.conversation.texts import catalog_for
from bot.conversation.texts.en import ENGLISH as EN
from bot.domain.steps import Step
from bot.storage.models import AuditEvent, InstanceLease, Member, utcnow
from tests.conftest import ADMIN, MEMBER, OTHER_MEMBER, PT_MEMBER
from tests.doubles.telegram_api import ApiCall, TelegramDouble, TgUser
from tests.harness import BotHarness

TELEGRAM_LIMIT = 4096
# Answered with a fixed text whatever the state: marks the end of what came before it.
MARKER, MARKER_REPLY = "/deny", EN.deny_usage


def telegram_length(value: str) -> int:
    return len(value.encode("utf-16-le")) // 2


async def replies_until_marker(bot: BotHarness, user: TgUser = ADMIN) -> list[ApiCall]:
    """Everything the bot sent `user` before answering a marker command sent now."""
    bot.telegram.send_text(user, MARKER)
    replies: list[ApiCall] = []
    while True:
        reply = await bot.telegram.next_reply(user.id, timeout=15)
        if reply.text == MARKER_REPLY:
            return replies
        replies.append(reply)


def refused_sends(telegram: TelegramDouble, chat_id: int) -> list[ApiCall]:
    return [c for c in telegram.calls if c.chat_id == chat_id and not c.ok]


async def leases(bot: BotHarness) -> dict[str, int]:
    async with bot.services.database.session() as session:
        rows = await session.execute(select(InstanceLease.instance, InstanceLease.chat_id))
        return {instance: chat_id for instance, chat_id in rows}


async def member_row(bot: BotHarness, user_id: int) -> Member | None:
    async with bot.services.database.session() as session:
        return await session.get(Member, user_id)


async def to_phone_step(bot: BotHarness, user: TgUser, instance: str = "inst-a") -> None:
    assert "Which instance" in ((await bot.say(user, "/register")).text or "")
    assert "country code" in ((await bot.tap(user, instance)).text or "")
    assert "Now the number for +55" in ((await bot.say(user, "55")).text or "")


async def step_of(bot: BotHarness, user: TgUser) -> str | None:
    reg = await bot.services.flow.load(user.id)
    return None if reg is None else reg.step


# -- splitting ----------------------------------------------------------------------------------


def test_split_message_keeps_lines_whole_and_the_header_first():
    lines = [f"line {n:03} " + "x" * 90 for n in range(200)]
    messages = split_message("Header:", lines)
    assert len(messages) > 1
    assert all(telegram_length(message) <= TELEGRAM_LIMIT for message in messages)
    assert messages[0].startswith("Header:\n")
    assert not any("Header:" in message for message in messages[1:])
    assert [line for message in messages for line in message.split("\n")] == ["Header:", *lines]


def test_split_message_counts_as_telegram_does_and_cuts_only_an_overlong_line():
    # Outside the BMP a character is two UTF-16 code units: 2,100 emoji are 4,200 of them.
    messages = split_message("H", ["😀" * 2100, "short"])
    assert all(telegram_length(message) <= TELEGRAM_LIMIT for message in messages)
    assert "".join(messages).replace("\n", "") == "H" + "😀" * 2100 + "short"
    assert split_message("Only a header", []) == ["Only a header"]


async def test_history_of_100_events_comes_in_several_messages_under_the_limit(
    start_bot, telegram, zapi
):
    bot = await start_bot()
    start = utcnow() - timedelta(days=1)
    async with bot.services.database.session() as session:
        session.add_all(
            AuditEvent(
                created_at=start + timedelta(minutes=n),
                user_id=MAX_USER_ID - n,
                chat_id=MAX_USER_ID - n,
                instance=f"instance-with-a-long-name-{n:04}",
                number=f"5544{n:011}",
                action="register" if n % 2 else "cancel",
                outcome="an-outcome-of-thirty-two-chars!!",
            )
            for n in range(130)
        )
        # Not registrations: never listed.
        session.add_all(
            AuditEvent(user_id=1, chat_id=1, action="member", outcome="allowed") for _ in range(5)
        )

    header = EN.history.header.format(zone="UTC")
    # 60 lines of 150 characters: split between lines, in as few messages as fit.
    reply = await bot.say(ADMIN, "/history 60")
    messages = [reply, *await replies_until_marker(bot)]
    assert 2 <= len(messages) <= 3, [m.text for m in messages]
    texts = [m.text or "" for m in messages]
    assert all(telegram_length(t) <= TELEGRAM_LIMIT for t in texts), [len(t) for t in texts]
    assert refused_sends(telegram, ADMIN.id) == []
    assert texts[0].startswith(header + "\n")
    assert not any(header in t for t in texts[1:])
    lines = [line for t in texts for line in t.split("\n")][1:]
    assert len(lines) == 60

    # 100 would take more than three messages: they come as one file instead.
    reply = await bot.say(ADMIN, "/history 100")
    assert reply.method == "sendDocument"
    assert reply.text == EN.history.as_file.format(count=100)
    [(chat, document)] = telegram.documents
    assert chat == ADMIN.id
    lines = document.decode("utf-8").splitlines()
    assert lines[0] == header and len(lines) == 101
    lines = lines[1:]
    # Newest first, each line whole, numbers masked but for their last four digits.
    assert [line.split(" · ")[1] for line in lines] == [
        str(MAX_USER_ID - n) for n in range(129, 29, -1)
    ]
    assert all(line.startswith("• ") and line.endswith("thirty-two-chars!!") for line in lines)
    assert "5544" not in document.decode("utf-8")


async def test_members_of_600_come_in_several_messages_under_the_limit(start_bot, telegram, zapi):
    many = [MAX_USER_ID - n for n in range(600)]
    env_ids = [MEMBER.id, OTHER_MEMBER.id, PT_MEMBER.id, *many]
    bot = await start_bot(allowed_user_ids=",".join(map(str, env_ids)))
    reply = await bot.say(ADMIN, "/members")
    messages = [reply, *await replies_until_marker(bot)]
    texts = [m.text or "" for m in messages]
    assert len(texts) >= 3, texts
    assert all(telegram_length(t) <= TELEGRAM_LIMIT for t in texts), [len(t) for t in texts]
    assert refused_sends(telegram, ADMIN.id) == []
    assert texts[0].startswith(EN.access.members_header + "\n")
    assert not any(EN.access.members_header in t for t in texts[1:])
    lines = [line for t in texts for line in t.split("\n")][1:]
    assert len(lines) == 604
    never = " · member · in ALLOWED_USER_IDS · never wrote to the bot"
    [admin] = [line for line in lines if line.startswith("• Dora · 9001 · admin · ")]
    others = [line for line in lines if line != admin]
    assert set(others) == {f"• {uid}{never}" for uid in env_ids}
    assert others == sorted(others, key=lambda line: int(line.split()[1]))


# -- user ids -----------------------------------------------------------------------------------


async def test_user_ids_out_of_range_or_not_numbers_get_the_usage_text(start_bot, telegram, zapi):
    bot = await start_bot()
    bad = [
        "99999999999999999999",  # beyond 64 bits
        "18446744073709551616",
        str(MAX_USER_ID + 1),
        "0",
        "000",
        "-5",
        "+5",
        "abc",
        "12 34",
        f"{MEMBER.id} {OTHER_MEMBER.id}",
        "١٢٣",  # Arabic-Indic digits: int() would read them as 123
        "１２３",  # full-width
        "²",  # str.isdigit() says yes, int() fails
        "1e5",
        "0x10",
    ]
    for command, usage in (("/allow", EN.allow_usage), ("/deny", EN.deny_usage)):
        for argument in bad:
            reply = await bot.say(ADMIN, f"{command} {argument}")
            assert reply.text == usage, (command, argument, reply.text)
    async with bot.services.database.session() as session:
        assert (await session.scalars(select(Member))).all() == []
    assert refused_sends(telegram, ADMIN.id) == []

    for argument in ("0", "-5", "²", "١٠", "101", "99999999999999999999"):
        assert (await bot.say(ADMIN, f"/history {argument}")).text == EN.history.usage, argument

    # The largest id taken, and the smallest.
    for user_id in (MAX_USER_ID, 1):
        reply = await bot.say(ADMIN, f"/allow {user_id}")
        assert reply.text == EN.allowed.format(user_id=user_id)
        row = await member_row(bot, user_id)
        assert row is not None and row.allowed
    reply = await bot.say(ADMIN, f"/deny {MAX_USER_ID}")
    assert reply.text == EN.denied.format(user_id=MAX_USER_ID)


# -- errors never reach the conversation --------------------------------------------------------


async def test_an_admin_commands_error_is_answered_once_and_stops_there(
    start_bot, telegram, zapi, caplog
):
    bot = await start_bot()
    caplog.set_level(logging.ERROR, logger="bot.admin")

    # Telegram refuses the listing: the admin hears one short error, not "no registration".
    telegram.fail_next("sendMessage", 400, "Bad Request: chat not found", None, chat_id=ADMIN.id)
    reply = await bot.say(ADMIN, "/members")
    assert reply.text == EN.admin_error
    assert await replies_until_marker(bot) == []
    assert any(
        record.name == "bot.admin" and record.exc_info and "/members" in record.getMessage()
        for record in caplog.records
    ), caplog.records

    # Mid-flow, a failing command leaves the admin's step as it was, without a hint.
    await to_phone_step(bot, ADMIN)
    async with bot.services.database.session() as session:
        await session.execute(text("DROP TABLE audit_events"))
    caplog.clear()
    reply = await bot.say(ADMIN, "/history")
    assert reply.text == EN.admin_error
    assert await replies_until_marker(bot) == []
    assert await step_of(bot, ADMIN) == Step.PHONE.value
    [record] = [r for r in caplog.records if r.name == "bot.admin"]
    assert record.exc_info and "/history" in record.getMessage()
    # Not the global error handler's member text, nor its alert.
    assert not any(EN.unexpected_error in (c.text or "") for c in telegram.calls)

    # The same when the end of a flow, run after the update, fails.
    caplog.clear()
    telegram.fail_next("sendMessage", 400, "Bad Request: chat not found", None, chat_id=ADMIN.id)
    reply = await bot.say(ADMIN, "/release inst-b")
    assert reply.text == EN.admin_error
    assert await replies_until_marker(bot) == []
    [record] = [r for r in caplog.records if r.name == "bot.admin"]
    assert record.exc_info and "/release" in record.getMessage()


async def test_admin_commands_from_a_member_mid_flow_leave_the_step_alone(
    start_bot, telegram, zapi
):
    bot = await start_bot()
    await to_phone_step(bot, MEMBER)
    for command in ("/release inst-a", "/release", f"/deny {OTHER_MEMBER.id}", "/history 5"):
        telegram.send_text(MEMBER, command)
        assert (await telegram.next_reply(MEMBER.id)).text == EN.admin_only, command
    assert await step_of(bot, MEMBER) == Step.PHONE.value
    assert await leases(bot) == {"inst-a": MEMBER.id}
    reply = await bot.say(MEMBER, "(44) 99999-9999")
    assert "How should WhatsApp send the code" in (reply.text or "")


# -- /release without a holder ------------------------------------------------------------------


async def test_release_usage_unknown_and_free_instances(start_bot, telegram, zapi):
    bot = await start_bot()
    listed = "inst-a, inst-b"
    for command in ("/release", "/release inst-a inst-b"):
        reply = await bot.say(ADMIN, command)
        assert reply.text == EN.release_usage.format(instances=listed), command
    reply = await bot.say(ADMIN, "/release nope")
    assert reply.text == EN.release_unknown.format(instance="nope", instances=listed)
    reply = await bot.say(ADMIN, "/release " + "z" * 300)
    assert reply.text == EN.release_unknown.format(instance="z" * 64 + "…", instances=listed)
    for command in ("/release inst-a", "/release INST-B"):
        reply = await bot.say(ADMIN, command)
        instance = command.split()[1].lower()
        assert reply.text == EN.release_free.format(instance=instance), command
    assert zapi.requests == []
    assert await replies_until_marker(bot) == []


@pytest.mark.parametrize("language", ["en", "pt-BR"])
async def test_release_answers_in_the_admins_language(start_bot, telegram, zapi, language):
    bot = await start_bot()
    admin = TgUser(id=ADMIN.id, first_name=ADMIN.first_name, language_code=language)
    texts = catalog_for(language)
    assert (await bot.say(admin, "/release inst-a")).text == texts.release_free.format(
        instance="inst-a"
    )


# -- /deny and /release of a flow in progress ---------------------------------------------------


async def notices(bot: BotHarness, user: TgUser) -> list[str]:
    """What `user` was told up to the answer to a /status sent now."""
    bot.telegram.send_text(user, "/status")
    told: list[str] = []
    while True:
        reply = await bot.telegram.next_reply(user.id, timeout=15)
        text_ = reply.text or ""
        if text_.startswith("📋") or text_ == EN.status_none or text_.startswith("🔒"):
            return told
        told.append(text_)


async def admin_events(bot: BotHarness) -> list[AuditEvent]:
    async with bot.services.database.reader() as session:
        query = select(AuditEvent).where(AuditEvent.action == "admin").order_by(AuditEvent.id)
        return list((await session.scalars(query)).all())


async def test_deny_ends_the_members_registration_and_frees_its_instance(start_bot, telegram, zapi):
    bot = await start_bot()
    await to_phone_step(bot, MEMBER)
    assert await leases(bot) == {"inst-a": MEMBER.id}

    reply = await bot.say(ADMIN, f"/deny {MEMBER.id}")
    details = EN.admin_flow_details.format(step=EN.step_names["phone"], instance="inst-a")
    assert reply.text == EN.denied_flow_ended.format(user_id=MEMBER.id, details=details)
    assert await replies_until_marker(bot) == []

    told = await telegram.next_reply(MEMBER.id, timeout=15)
    assert told.text == EN.ended_by_admin_denied
    assert await bot.services.flow.load(MEMBER.id) is None
    assert await leases(bot) == {}
    [event] = await admin_events(bot)
    assert (event.user_id, event.chat_id, event.instance, event.outcome) == (
        ADMIN.id,
        MEMBER.id,
        "inst-a",
        "denied",
    )

    # The instance is free for another member; the denied one is out.
    reply = await bot.say(OTHER_MEMBER, "/register")
    assert EN.button_busy.format(name="inst-a") not in str(reply.reply_markup)
    assert "country code" in ((await bot.tap(OTHER_MEMBER, "inst-a")).text or "")
    assert await leases(bot) == {"inst-a": OTHER_MEMBER.id}
    reply = await bot.say(MEMBER, "55")
    assert reply.text == EN.access.not_member.format(user_id=MEMBER.id)
    assert await bot.services.flow.load(MEMBER.id) is None
    assert zapi.requests == []


async def test_deny_of_a_member_who_has_not_chosen_an_instance(start_bot, telegram, zapi):
    bot = await start_bot()
    assert "Which instance" in ((await bot.say(MEMBER, "/register")).text or "")
    reply = await bot.say(ADMIN, f"/deny {MEMBER.id}")
    details = EN.admin_flow_details_no_instance.format(step=EN.step_names["instance"])
    assert reply.text == EN.denied_flow_ended.format(user_id=MEMBER.id, details=details)
    assert (await telegram.next_reply(MEMBER.id, timeout=15)).text == EN.ended_by_admin_denied
    assert await bot.services.flow.load(MEMBER.id) is None

    # Without a registration in progress: the plain answer, and nobody is told anything.
    reply = await bot.say(ADMIN, f"/deny {OTHER_MEMBER.id}")
    assert reply.text == EN.denied.format(user_id=OTHER_MEMBER.id)
    assert [c for c in telegram.calls if c.chat_id == OTHER_MEMBER.id] == []
    assert len(await admin_events(bot)) == 1


async def test_release_ends_the_holders_flow_and_frees_the_instance(start_bot, telegram, zapi):
    bot = await start_bot()
    await to_phone_step(bot, MEMBER)
    await to_phone_step(bot, OTHER_MEMBER, "inst-b")

    reply = await bot.say(ADMIN, "/release inst-a")
    assert reply.text == EN.released.format(
        instance="inst-a", user_id=MEMBER.id, step=EN.step_names["phone"]
    )
    assert await replies_until_marker(bot) == []
    assert await notices(bot, MEMBER) == [EN.ended_by_admin_released.format(instance="inst-a")]
    assert await bot.services.flow.load(MEMBER.id) is None
    assert await leases(bot) == {"inst-b": OTHER_MEMBER.id}
    [event] = await admin_events(bot)
    assert (event.user_id, event.chat_id, event.instance, event.outcome) == (
        ADMIN.id,
        MEMBER.id,
        "inst-a",
        "released",
    )
    # The other member's flow goes on; the released instance is free again.
    assert await step_of(bot, OTHER_MEMBER) == Step.PHONE.value
    assert (await bot.say(ADMIN, "/release inst-a")).text == EN.release_free.format(
        instance="inst-a"
    )

    # The member is still a member: they start again, on the very instance.
    await to_phone_step(bot, MEMBER)
    reply = await bot.say(MEMBER, "(44) 99999-9999")
    assert "How should WhatsApp send the code" in (reply.text or "")
    assert await leases(bot) == {"inst-a": MEMBER.id, "inst-b": OTHER_MEMBER.id}
    # /history shows who ended it.
    history = (await bot.say(ADMIN, "/history")).text or ""
    assert any(
        f"Ana ({MEMBER.id})" in line and f"released by Dora ({ADMIN.id})" in line
        for line in history.splitlines()
    ), history


async def test_release_of_an_instance_the_admin_holds(start_bot, telegram, zapi):
    bot = await start_bot()
    await to_phone_step(bot, ADMIN)
    reply = await bot.say(ADMIN, "/release INST-A")  # no deadlock on the admin's own turn
    assert reply.text in (
        EN.released.format(instance="inst-a", user_id=ADMIN.id, step=EN.step_names["phone"]),
        EN.ended_by_admin_released.format(instance="inst-a"),
    )
    told = {reply.text, *(r.text for r in await replies_until_marker(bot))}
    assert told == {
        EN.released.format(instance="inst-a", user_id=ADMIN.id, step=EN.step_names["phone"]),
        EN.ended_by_admin_released.format(instance="inst-a"),
    }
    assert await bot.services.flow.load(ADMIN.id) is None
    assert await leases(bot) == {}


async def test_release_waits_for_the_holders_step_in_flight(start_bot, telegram, zapi):
    bot = await start_bot()
    await to_phone_step(bot, MEMBER)
    zapi.set_delay(1.0)
    telegram.send_text(MEMBER, "(44) 99999-9999")  # Z-API takes a second to answer the check
    for _ in range(500):  # until the check reached Z-API
        if zapi.requests_to("mobile/registration-available"):
            break
        await asyncio.sleep(0.01)
    assert zapi.requests_to("mobile/registration-available")
    reply = await bot.say(ADMIN, "/release inst-a", timeout=15)
    # The step finished first: the admin's reply names the step it had reached.
    assert reply.text == EN.released.format(
        instance="inst-a", user_id=MEMBER.id, step=EN.step_names["method"]
    )
    zapi.set_delay(0.0)
    told = await notices(bot, MEMBER)
    assert "How should WhatsApp send the code" in told[0], told
    assert told[1:] == [EN.ended_by_admin_released.format(instance="inst-a")], told
    assert await bot.services.flow.load(MEMBER.id) is None
    assert await leases(bot) == {}


async def test_two_admins_releasing_each_others_instances_at_once(start_bot, telegram, zapi):
    second = TgUser(id=9002, first_name="Edu", language_code="en")
    bot = await start_bot(admin_user_ids=f"{ADMIN.id},{second.id}")
    await to_phone_step(bot, ADMIN, "inst-a")
    await to_phone_step(bot, second, "inst-b")
    # Both chats busy with a slow Z-API check, each /release queued behind its own chat's step:
    # each admin's update then holds their own chat's turn and needs the other's.
    zapi.set_delay(1.0)
    telegram.send_text(ADMIN, "(44) 99999-9999")
    telegram.send_text(second, "(44) 98888-8888")
    for _ in range(500):
        if len(zapi.requests_to("mobile/registration-available")) == 2:
            break
        await asyncio.sleep(0.01)
    telegram.send_text(ADMIN, "/release inst-b")
    telegram.send_text(second, "/release inst-a")
    for admin, theirs, other_admin, others in (
        (ADMIN, "inst-a", second, "inst-b"),
        (second, "inst-b", ADMIN, "inst-a"),
    ):
        replies = [(await telegram.next_reply(admin.id, timeout=15)).text for _ in range(3)]
        assert "How should WhatsApp send the code" in (replies[0] or ""), replies
        assert set(replies[1:]) == {
            EN.released.format(
                instance=others, user_id=other_admin.id, step=EN.step_names["method"]
            ),
            EN.ended_by_admin_released.format(instance=theirs),
        }, replies
    zapi.set_delay(0.0)
    assert await leases(bot) == {}
