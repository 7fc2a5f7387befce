"""Different chats run concurrently; one chat's updates run strictly in order (issue 5)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from telegram import Chat, Message, Update

from bot.concurrency import PerChatUpdateProcessor
from bot.storage import repositories as repo
from tests.conftest import INSTANCE_TOKENS, MEMBER, OTHER_MEMBER, PT_MEMBER
from tests.doubles.telegram_api import TgUser

THREE_INSTANCES = ",".join(
    [*(f"{name}={name}:{token}" for name, token in INSTANCE_TOKENS.items()), "inst-c=inst-c:tok-c"]
)


async def _register_until_method(bot, user: TgUser, instance: str, phone: str) -> None:
    await bot.say(user, "/register")
    await bot.tap(user, instance)
    await bot.say(user, "55")
    reply = await bot.say(user, phone, timeout=20)
    assert "send the code" in reply.text.lower() or "enviar o código" in reply.text.lower()


async def test_two_chats_finish_while_a_third_waits_on_a_hanging_zapi_call(
    start_bot, telegram, zapi
):
    zapi.add_instance("inst-c", "tok-c")
    bot = await start_bot(zapi_instances=THREE_INSTANCES, zapi_timeout_seconds=60)
    zapi.hang("mobile/registration-available", instance_id="inst-c")

    await bot.say(PT_MEMBER, "/register")
    await bot.tap(PT_MEMBER, "inst-c")
    await bot.say(PT_MEMBER, "55")
    telegram.send_text(PT_MEMBER, "44 99999-0000")  # its availability check never answers
    await telegram.wait_for(
        "sendChatAction", chat_id=PT_MEMBER.id, timeout=10
    )  # the stuck chat is inside its Z-API call now

    async def complete(user: TgUser, instance: str, phone: str) -> str:
        await _register_until_method(bot, user, instance, phone)
        await bot.tap(user, "SMS")
        return (await bot.say(user, "123456")).text

    results = await asyncio.wait_for(
        asyncio.gather(
            complete(MEMBER, "inst-a", "44 99999-1111"),
            complete(OTHER_MEMBER, "inst-b", "44 99999-2222"),
        ),
        timeout=30,
    )
    assert all("Connected" in text for text in results)
    assert zapi.connected("inst-a")
    assert zapi.connected("inst-b")
    assert not zapi.connected("inst-c")
    # The stuck member has had no answer to their number yet: it is still in flight. They got
    # two messages: the instance question (the tap turned it into the country-code question)
    # and the phone question.
    assert len(telegram.calls_to("sendMessage", PT_MEMBER.id)) == 2
    assert len(telegram.calls_to("editMessageText", PT_MEMBER.id)) == 1
    await zapi.stop()  # releases the hanging call so the bot can shut down promptly


async def test_rapid_updates_of_one_chat_are_handled_in_order(start_bot, telegram, zapi):
    await start_bot(zapi_instances="inst-a=inst-a:" + INSTANCE_TOKENS["inst-a"])
    # Each answer only makes sense at the step the previous one leads to; all are queued
    # before the bot can handle the first.
    for text in ["/register", "55", "4499999999", "yes", "sms", "123 456"]:
        telegram.send_text(MEMBER, text)
    texts = []
    for _ in range(6):
        texts.append((await telegram.next_reply(MEMBER.id, timeout=20)).text)
    assert "country code" in texts[0].lower()
    assert "+55" in texts[1]
    assert "use it anyway" in texts[2].lower()
    assert "send the code" in texts[3].lower()
    assert "code sent by sms" in texts[4].lower()
    assert texts[5].startswith("✅ Connected")
    assert [r.path for r in zapi.requests] == [
        "mobile/registration-available",
        "mobile/request-registration-code",
        "mobile/confirm-registration-code",
    ]


async def test_many_chats_at_once_each_get_their_own_answer(start_bot, telegram, zapi):
    bot = await start_bot()
    users = [TgUser(id=5000 + n, first_name=f"M{n}", language_code="en") for n in range(40)]
    for user in users:
        await bot.services.gate.set_member(user.id, allowed=True, by=0)
    for user in users:
        telegram.send_text(user, "/register")
    replies = await asyncio.gather(*(telegram.next_reply(u.id, timeout=20) for u in users))
    assert all("Which instance" in reply.text for reply in replies)
    # Each answer came after its own flow was committed, each flow with buttons of its own.
    async with bot.services.database.reader() as session:
        flows = await repo.flows_for(session, [u.id for u in users])
    assert sorted(flows) == [u.id for u in users]
    for user, reply in zip(users, replies, strict=True):
        buttons = [button for row in reply.reply_markup["inline_keyboard"] for button in row]
        assert buttons
        assert all(b["callback_data"].startswith(f"{flows[user.id].flow_id}:") for b in buttons)


def _update(chat_id: int, number: int) -> Update:
    chat = Chat(chat_id, Chat.PRIVATE)
    return Update(number, message=Message(number, datetime.now(UTC), chat, text=f"#{number}"))


async def test_a_busy_chat_with_a_backlog_does_not_hold_up_other_chats() -> None:
    """More updates of one stuck chat than there are slots: another chat still gets through."""
    processor = PerChatUpdateProcessor(2)
    stuck = asyncio.Event()
    handled: list[str] = []

    async def handle(name: str, *, wait: bool = False) -> None:
        if wait:
            await stuck.wait()
        handled.append(name)

    backlog = [
        asyncio.create_task(processor.process_update(_update(1, n), handle(f"a{n}", wait=n == 1)))
        for n in range(1, 7)
    ]
    await asyncio.sleep(0.05)  # the backlog is queued behind a1
    await asyncio.wait_for(processor.process_update(_update(2, 100), handle("b")), timeout=2)
    assert handled == ["b"]
    stuck.set()
    await asyncio.gather(*backlog)
    assert handled == ["b", "a1", "a2", "a3", "a4", "a5", "a6"]


async def test_no_more_updates_run_at_once_than_the_limit() -> None:
    processor = PerChatUpdateProcessor(3)
    running = 0
    most = 0

    async def handle() -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.02)
        running -= 1

    await asyncio.gather(
        *(processor.process_update(_update(chat, chat), handle()) for chat in range(1, 21))
    )
    assert most == 3
