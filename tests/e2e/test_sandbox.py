"""Sandbox instances (issue 13): the whole registration on a simulated Z-API, through every
number the README documents, read as a member reads it: the code from the "SMS" in the chat,
the captcha from its picture."""

from __future__ import annotations

import re
import struct
import zlib
from typing import Any

import pytest

from bot.conversation.texts.pt import PORTUGUESE as PT
from tests.conftest import MEMBER, PT_MEMBER
from tests.doubles.telegram_api import ApiCall, TelegramDouble, TgUser
from tests.harness import labels, settle

SANDBOX_ONLY = {"zapi_instances": "Rehearsal=sandbox", "zapi_client_token": ""}
ASK_METHOD = "How should WhatsApp send the code"
CONNECTED = "Connected!"
MARK = "🧪 Sandbox"


def number(ending: str) -> tuple[str, str]:
    """(what the member types, how the bot shows it) for a São Paulo mobile ending so."""
    return f"11 91234-56{ending}", f"+55 11 91234-56{ending}"


def has_button(call: ApiCall, label: str) -> bool:
    return any(label.lower() in text.lower() for text in labels(call))


async def sandbox_bot(start_bot: Any, database_url: str | None = None, **overrides: Any) -> Any:
    return await start_bot(database_url, **{**SANDBOX_ONLY, **overrides})


async def to_method(bot: Any, ending: str, user: TgUser = MEMBER) -> ApiCall:
    await bot.say(user, "/register")
    await bot.say(user, "55")
    return await bot.say(user, number(ending)[0])


def sandbox_code(text: str) -> str:
    """The code as the "SMS" in the chat writes it (123-456), as typed back (123456)."""
    found = re.search(r"(\d{3})-(\d{3})", text)
    assert found, text
    return found.group(1) + found.group(2)


async def code_message(telegram: TelegramDouble, user: TgUser = MEMBER) -> ApiCall:
    return await telegram.wait_for(
        "sendMessage",
        chat_id=user.id,
        predicate=lambda call: re.match(r"🧪 .*\d{3}-\d{3}$", call.text or "") is not None,
    )


async def reply_saying(
    telegram: TelegramDouble, needle: str, user: TgUser | int = MEMBER
) -> ApiCall:
    """The next reply in the chat that says `needle` (the "SMS" comes among the bot's own)."""
    chat = user if isinstance(user, int) else user.id
    while needle not in (reply := await telegram.next_reply(chat)).text:
        pass
    return reply


async def say(bot: Any, text: str, needle: str, user: TgUser = MEMBER) -> ApiCall:
    bot.telegram.send_text(user, text)
    return await reply_saying(bot.telegram, needle, user)


async def tap(bot: Any, label: str, needle: str, user: TgUser = MEMBER) -> ApiCall:
    message_id, data = bot.telegram.button(user.id, label)
    bot.telegram.press(user, message_id, data)
    return await reply_saying(bot.telegram, needle, user)


def read_captcha(png: bytes) -> str:
    """The digits drawn in the sandbox's captcha, read off its pixels as an eye would."""
    from bot.zapi.sandbox_captcha import _GLYPHS, _MARGIN, _SCALE

    width, height = struct.unpack(">II", png[16:24])
    start = png.index(b"IDAT") + 4
    length = struct.unpack(">I", png[start - 8 : start - 4])[0]
    raw = zlib.decompress(png[start : start + length])
    stride = width + 1

    def inked(column: int, row: int) -> bool:
        x = (column + _MARGIN) * _SCALE + _SCALE // 2
        y = (row + _MARGIN) * _SCALE + _SCALE // 2
        return raw[y * stride + 1 + x] < 128

    digits = []
    for glyph in range((width // _SCALE - 2 * _MARGIN + 1) // 6):
        rows = tuple(
            "".join("#" if inked(glyph * 6 + dx, dy) else "." for dx in range(5)) for dy in range(7)
        )
        digits.append(next(d for d, shape in _GLYPHS.items() if shape == rows))
    assert height == (7 + 2 * _MARGIN) * _SCALE
    return "".join(digits)


# -- the quick start: one sandbox instance, nothing else -------------------------------------


async def test_plain_success_needs_no_zapi_account(start_bot, telegram, zapi):
    bot = await sandbox_bot(start_bot)
    reply = await to_method(bot, "00")
    assert reply.text.startswith(MARK), reply.text
    assert ASK_METHOD in reply.text and number("00")[1] in reply.text
    assert has_button(reply, "WhatsApp pop-up")
    await tap(bot, "SMS", "Code sent by SMS")
    sms = await code_message(telegram)
    assert "Sandbox SMS" in sms.text
    reply = await say(bot, sandbox_code(sms.text), CONNECTED)
    assert CONNECTED in reply.text and "🧪 Rehearsal" in reply.text, reply.text
    assert zapi.requests == []  # nothing went to Z-API


@pytest.mark.parametrize(
    ("label", "sent", "phone_says"),
    [
        ("Voice call", "WhatsApp is calling", "Sandbox call"),
        ("WhatsApp pop-up", "Look for the WhatsApp pop-up", "Sandbox pop-up"),
    ],
)
async def test_the_code_comes_by_each_method(start_bot, telegram, label, sent, phone_says):
    bot = await sandbox_bot(start_bot)
    await to_method(bot, "00")
    await tap(bot, label, sent)
    message = await code_message(telegram)
    assert phone_says in message.text
    reply = await say(bot, sandbox_code(message.text), CONNECTED)
    assert number("00")[1] in reply.text


async def test_a_wrong_code_is_refused_and_the_right_one_taken(start_bot, telegram):
    bot = await sandbox_bot(start_bot)
    await to_method(bot, "00")
    await tap(bot, "SMS", "Code sent by SMS")
    code = sandbox_code((await code_message(telegram)).text)
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    await say(bot, wrong, "That code was not accepted")
    await say(bot, f"{code[:3]} {code[3:]}", CONNECTED)


async def test_01_asks_a_captcha_first(start_bot, telegram):
    bot = await sandbox_bot(start_bot)
    await to_method(bot, "01")
    photo = await tap(bot, "SMS", "captcha")
    assert photo.method == "sendPhoto" and photo.text.startswith(MARK)
    answer = read_captcha(next(iter(photo.files.values())))
    await say(bot, "0000" if answer != "0000" else "1111", "That's not it")
    await settle()
    assert not [call for call in telegram.calls_to("sendMessage", MEMBER.id) if "SMS" in call.text]
    await say(bot, answer, "Captcha accepted")
    code = sandbox_code((await code_message(telegram)).text)
    await say(bot, code, CONNECTED)


async def test_02_has_a_two_step_pin_and_a_forgotten_one_is_recovered(start_bot, telegram):
    bot = await sandbox_bot(start_bot)
    await to_method(bot, "02")
    await tap(bot, "SMS", "Code sent by SMS")
    code = sandbox_code((await code_message(telegram)).text)
    await say(bot, code, "two-step verification")
    await say(bot, "111111", "Wrong PIN")
    await tap(bot, "Forgot the PIN", "email")
    reset = await telegram.wait_for(
        "sendMessage", chat_id=MEMBER.id, predicate=lambda c: "reset" in (c.text or "")
    )
    assert "Sandbox e-mail" in reset.text
    pin = re.search(r"the PIN is (\d{6})", reset.text)
    assert pin is not None and pin.group(1) == "345602"  # the number's last six digits
    await say(bot, pin.group(1), CONNECTED)


async def test_03_moves_from_another_device(start_bot, telegram):
    bot = await sandbox_bot(start_bot)
    await to_method(bot, "03")
    await tap(bot, "SMS", "Code sent by SMS")
    code = sandbox_code((await code_message(telegram)).text)
    await say(bot, code, "accept the transfer")
    prompt = await telegram.wait_for(
        "sendMessage", chat_id=MEMBER.id, predicate=lambda c: "old phone" in (c.text or "")
    )
    assert prompt.text.startswith("🧪")
    await tap(bot, "I accepted it", "hasn't been accepted yet")
    await tap(bot, "I accepted it", CONNECTED)


async def test_04_is_banned_and_its_appeal_goes_into_review(start_bot):
    bot = await sandbox_bot(start_bot)
    reply = await to_method(bot, "04")
    assert "banned" in reply.text and has_button(reply, "Appeal")
    await tap(bot, "Appeal", "why this number should not be banned")
    reply = await say(bot, "This is our shop's number and it never sent spam.", "Appeal sent")
    assert "reviewing" in reply.text and reply.text.startswith(f"{MARK} · "), reply.text
    await say(bot, "/register", "country code")
    await say(bot, "55", "number")
    reply = await say(bot, number("04")[0], "banned")  # still, while it is reviewed
    assert has_button(reply, "Appeal")


async def test_05_is_banned_then_unbanned_and_registers(start_bot, telegram):
    bot = await sandbox_bot(start_bot)
    await to_method(bot, "05")
    await tap(bot, "Appeal", "why this number should not be banned")
    await say(bot, "This is our shop's number and it never sent spam.", "no longer banned")
    await reply_saying(telegram, ASK_METHOD)
    await tap(bot, "SMS", "Code sent by SMS")
    await say(bot, sandbox_code((await code_message(telegram)).text), CONNECTED)


async def test_06_is_a_hidden_ban_without_appeal(start_bot):
    bot = await sandbox_bot(start_bot)
    reply = await to_method(bot, "06")
    assert ASK_METHOD in reply.text  # the check passed
    reply = await tap(bot, "SMS", "banned")
    assert "no appeal is possible" in reply.text and not has_button(reply, "Appeal")
    assert reply.text.startswith(MARK), reply.text


async def test_07_cannot_use_the_pop_up(start_bot, telegram):
    bot = await sandbox_bot(start_bot)
    reply = await to_method(bot, "07")
    assert ASK_METHOD in reply.text
    assert has_button(reply, "SMS") and not has_button(reply, "WhatsApp pop-up")
    await tap(bot, "SMS", "Code sent by SMS")
    await say(bot, sandbox_code((await code_message(telegram)).text), CONNECTED)


def wait_on(call: ApiCall, method: str) -> int:
    """The seconds a method's button says to wait ("SMS — wait 2 min")."""
    label = next(text for text in labels(call) if text.startswith(method))
    units = {"h": 3600, "min": 60, "s": 1}
    parts = re.findall(r"(\d+) (h|min|s)\b", label)
    assert parts, label
    return sum(int(amount) * units[unit] for amount, unit in parts)


async def test_08_waits_grow_with_each_request(start_bot, telegram, clock):
    bot = await sandbox_bot(start_bot)
    await to_method(bot, "08")
    waits = []
    for _ in range(3):
        await tap(bot, "SMS", "Code sent by SMS")
        reply = await tap(bot, "Didn't get it", ASK_METHOD)
        waits.append(wait_on(reply, "SMS"))
        await clock.advance(waits[-1] + 1)
        notice = await reply_saying(telegram, "You can request the code by")
        assert notice.text.startswith(f"{MARK} · ⏰")
    assert waits[0] >= 55 and waits[1] >= 2 * waits[0] - 5 and waits[2] >= 2 * waits[1] - 5, waits


async def test_09_answers_slowly(start_bot, telegram, clock):
    bot = await sandbox_bot(start_bot, zapi_timeout_seconds="30")
    await bot.say(MEMBER, "/register")
    await bot.say(MEMBER, "55")
    telegram.send_text(MEMBER, number("09")[0])
    from tests.harness import until

    await until(lambda: clock.has_sleeper_waking_within(7.0, 8.5))
    assert not [c for c in telegram.calls_to("sendMessage", MEMBER.id) if ASK_METHOD in c.text]
    await clock.advance(8.5)
    await reply_saying(telegram, ASK_METHOD)


async def test_99_is_an_outage_with_a_way_forward(start_bot):
    bot = await sandbox_bot(start_bot)
    reply = await to_method(bot, "99")
    assert "Z-API is having trouble" in reply.text and reply.text.startswith(f"{MARK} · ")
    assert has_button(reply, "Try again")


async def test_a_portuguese_member_gets_the_sandbox_in_portuguese(start_bot, telegram):
    bot = await sandbox_bot(start_bot)
    await bot.say(PT_MEMBER, "/register")
    await bot.say(PT_MEMBER, "55")
    reply = await bot.say(PT_MEMBER, number("00")[0])
    assert reply.text.startswith("🧪 Teste"), reply.text
    message_id, data = telegram.button(PT_MEMBER.id, "SMS")
    telegram.press(PT_MEMBER, message_id, data)
    sms = await code_message(telegram, PT_MEMBER)
    assert "SMS de teste" in sms.text


async def test_sandbox_and_real_instances_side_by_side(start_bot, telegram, zapi):
    """A sandbox next to real instances: marked at the choice, and only the real one's calls
    reach Z-API."""
    real = "inst-a=inst-a:tok-aaaaaaaaaaaaaaaaaaaa"
    bot = await start_bot(zapi_instances=f"{real},Rehearsal=sandbox")
    reply = await bot.say(MEMBER, "/register")
    assert has_button(reply, "🧪 Rehearsal") and has_button(reply, "inst-a")
    assert not has_button(reply, "🧪 inst-a")
    await bot.tap(MEMBER, "Rehearsal")
    await bot.say(MEMBER, "55")
    reply = await bot.say(MEMBER, number("00")[0])
    assert reply.text.startswith(MARK) and ASK_METHOD in reply.text, reply.text
    assert zapi.requests == []


# -- the admins' side: marked, and out of the totals -------------------------------------------

GROUP = -1001234567890
REAL = "inst-a=inst-a:tok-aaaaaaaaaaaaaaaaaaaa"


async def rehearse(bot: Any, user: TgUser, ending: str = "00") -> None:
    """/register on the sandbox "Rehearsal", by SMS, to "Connected"."""
    await bot.say(user, "/register")
    await bot.tap(user, "Rehearsal")
    await bot.say(user, "55")
    await bot.say(user, number(ending)[0])
    await tap(bot, "SMS", "Code sent by SMS", user)
    await say(bot, sandbox_code((await code_message(bot.telegram, user)).text), CONNECTED, user)


async def test_history_stats_export_board_and_feed_mark_the_sandbox(
    start_bot, telegram, zapi, migrated_url
):
    import csv
    import io

    from tests.conftest import ADMIN, OTHER_MEMBER

    bot = await start_bot(
        migrated_url,
        zapi_instances=f"{REAL},Rehearsal=sandbox",
        alert_chat_id=str(GROUP),
        alert_feed="1",
    )
    # A real registration on inst-a (the Z-API double), a rehearsal on the sandbox.
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    await bot.say(MEMBER, "55")
    await bot.say(MEMBER, "44 99999-1234")
    await bot.tap(MEMBER, "SMS")
    assert CONNECTED in (await bot.say(MEMBER, "123456")).text
    await rehearse(bot, OTHER_MEMBER)

    real_feed = await reply_saying(telegram, "connected", GROUP)
    assert real_feed.text.startswith("🟢") and "inst-a" in real_feed.text
    feed = await reply_saying(telegram, "connected", GROUP)
    assert feed.text.startswith(f"{MARK} · 🟢") and "Rehearsal" in feed.text, feed.text

    stats = (await bot.say(ADMIN, "/stats")).text
    rows = {line.split()[0]: line.split() for line in stats.splitlines()[1:5]}
    assert rows["inst-a"][1:3] == ["1", "1"]
    assert rows["🧪"][1:4] == ["Rehearsal", "1", "1"]  # listed apart…
    assert rows["total"][1:3] == ["1", "1"]  # …and left out of the total
    assert "🧪 Sandbox registrations left out: 1" in stats
    counted = (await bot.say(ADMIN, "/stats 30 sandbox")).text
    total = next(line.split() for line in counted.splitlines() if line.startswith("total"))
    assert total[1:3] == ["2", "2"] and "left out" not in counted

    history = (await bot.say(ADMIN, "/history")).text
    marked = [line for line in history.splitlines() if "Rehearsal" in line]
    assert marked and all("🧪 Rehearsal" in line for line in marked)
    assert all("🧪" not in line for line in history.splitlines() if "inst-a" in line)

    await bot.say(ADMIN, "/export")
    [(_, document)] = telegram.documents
    exported = list(csv.DictReader(io.StringIO(document.decode("utf-8"))))
    assert {row["instance"]: row["sandbox"] for row in exported} == {
        "inst-a": "0",
        "Rehearsal": "1",
    }

    board = (await bot.say(ADMIN, "/instances")).text
    assert "🧪 Rehearsal: connected" in board and "🧪 inst-a" not in board


async def test_the_set_up_of_a_sandbox_number_shows_the_e_mail_code(start_bot, telegram):
    bot = await sandbox_bot(start_bot, zapi_instances="Rehearsal=sandbox,Other=sandbox")
    await rehearse(bot, MEMBER)
    await tap(bot, "Set up", "What name should people see")
    await say(bot, "Rehearsal shop", "description")
    await say(bot, "Open 9-18", "two-step PIN")
    await say(bot, "135790", "once more")
    await say(bot, "135790", "e-mail address")
    await say(bot, "ana@example.com", "mailed a code")
    mail = await telegram.wait_for(
        "sendMessage",
        chat_id=MEMBER.id,
        predicate=lambda c: (c.text or "").startswith("🧪 Sandbox e-mail"),
    )
    code = sandbox_code(mail.text)
    await say(bot, "000000" if code != "000000" else "111111", "That code was not accepted")
    summary = await say(bot, code, "Set-up of")
    assert "🧪 Rehearsal" in summary.text, summary.text
    assert summary.text.count("✅ set") == 4, summary.text


async def test_anyone_may_rehearse_on_a_sandbox_only_bot_nobody_on_a_listed_one(
    start_bot, telegram
):
    from tests.doubles.telegram_api import TgUser as User

    stranger = User(id=4242, first_name="Zé", language_code="pt-BR")
    open_bot = await sandbox_bot(start_bot, allowed_user_ids="", admin_user_ids="")
    reply = await open_bot.say(stranger, "/register")
    assert "código do país" in reply.text.lower(), reply.text
    await open_bot.stop()

    closed = await sandbox_bot(start_bot)  # ALLOWED_USER_IDS and ADMIN_USER_IDS listed
    reply = await closed.say(stranger, "/register")
    assert reply.text == PT.access.not_member.format(user_id=stranger.id), reply.text


async def test_an_idle_rehearsal_times_out_marked(start_bot, telegram, clock):
    bot = await sandbox_bot(start_bot)
    await to_method(bot, "00")
    await clock.advance(901)
    notice = await reply_saying(telegram, "ended")
    assert notice.text.startswith(f"{MARK} · "), notice.text


@pytest.mark.parametrize("ending", ["00", "02"])
async def test_a_restart_forgets_nothing_and_writes_down_no_secret(
    start_bot, telegram, migrated_url, ending
):
    """Stopped at the code (or the PIN), restarted on the same database: the code the chat
    showed (the PIN) is still taken. The sandbox's memory does not hold the code."""
    from sqlalchemy import select

    from bot.storage.models import SandboxStateRow

    bot = await sandbox_bot(start_bot, migrated_url)
    await to_method(bot, ending)
    await tap(bot, "SMS", "Code sent by SMS")
    code = sandbox_code((await code_message(telegram)).text)
    if ending == "02":
        await say(bot, code, "two-step verification")
    async with bot.services.database.session() as session:
        kept = " ".join((await session.scalars(select(SandboxStateRow.state))).all())
    assert kept and code not in kept  # (the PIN is the number's own last digits)
    await bot.stop()

    bot = await sandbox_bot(start_bot, migrated_url)
    await say(bot, "345602" if ending == "02" else code, CONNECTED)


async def test_metrics_count_rehearsals_apart(start_bot, telegram, zapi):
    from tests.conftest import OTHER_MEMBER
    from tests.e2e.test_metrics import scraped, value

    bot = await start_bot(zapi_instances=f"{REAL},Rehearsal=sandbox")
    await rehearse(bot, OTHER_MEMBER)
    samples = await scraped(bot)
    connected = {"outcome": "connected", "method": "sms"}
    assert value(samples, "zapi_bot_registrations_finished_total", kind="sandbox", **connected)
    assert not value(
        samples, "zapi_bot_registrations_finished_total", kind="registration", **connected
    )
    # It began before an instance was chosen: a registration; and no call was Z-API's.
    assert value(samples, "zapi_bot_registrations_started_total", kind="registration") == 1
    calls = [key for key in samples if key[0] == "zapi_bot_zapi_calls_total"]
    assert calls == [], calls


async def test_every_ending_can_be_rehearsed_again_once_connected(start_bot, telegram):
    bot = await sandbox_bot(start_bot)
    for _ in range(2):
        await say(bot, "/register", "country code")
        await say(bot, "55", "number")
        await say(bot, number("01")[0], ASK_METHOD)
        photo = await tap(bot, "SMS", "captcha")
        assert photo.method == "sendPhoto"
        await say(bot, read_captcha(next(iter(photo.files.values()))), "Captcha accepted")
        await say(bot, sandbox_code((await code_message(telegram)).text), CONNECTED)


async def test_a_base_url_with_a_path_still_keeps_sandbox_calls_inside(start_bot, telegram, zapi):
    bot = await sandbox_bot(start_bot, zapi_base_url=f"{zapi.base_url}/zapi")
    await to_method(bot, "00")
    await tap(bot, "SMS", "Code sent by SMS")
    await say(bot, sandbox_code((await code_message(telegram)).text), CONNECTED)
    assert zapi.requests == []
