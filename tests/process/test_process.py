"""`python -m bot` as a real process: crashes, restarts, secrets in logs, operations commands.

Every test here starts the bot with `asyncio.create_subprocess_exec` (see tests/process_helpers.py)
and talks to it through the Telegram and Z-API doubles running in the test's event loop.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot import __version__
from bot.storage.models import Base, UTCDateTime
from tests.clock import TestClock
from tests.conftest import (
    BOT_TOKEN,
    CLIENT_TOKEN,
    INSTANCE_TOKENS,
    MEMBER,
    OTHER_MEMBER,
)
from tests.doubles.telegram_api import TelegramDouble, TgUser
from tests.doubles.zapi import NumberProfile, ZapiDouble
from tests.harness import settle, until
from tests.process_helpers import BotProcess, Chat, Processes, free_port

DDI = "55"
PHONE_TEXT = "(44) 99999-9999"
PHONE = "44999999999"
# phonenumbers calls this one invalid, Z-API's own examples use it: asked to confirm.
ODD_PHONE_TEXT = "44 9999-9999"
ODD_PHONE = "4499999999"
CODE = "123456"
PIN = "582619"
CAPTCHA = "Xq7Kp2"
APPEAL = "This is my own business number and it never sent spam."


def sqlite_path(url: str) -> Path:
    return Path(url.split("///", 1)[1])


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(sqlite_path(url)) as connection:
        return connection.execute(sql).fetchall()


async def time_passes_while_down(url: str, clock: TestClock, seconds: float) -> None:
    """`seconds` go by while no bot runs: every time the database holds moves that far into the
    past (so the next process, on the machine's clock, sees them as that old), and the Z-API
    double's clock moves on by as much."""
    shift = timedelta(seconds=seconds)
    with sqlite3.connect(sqlite_path(url)) as connection:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                if not isinstance(column.type, UTCDateTime):
                    continue
                name = f'"{table.name}"."{column.name}"'
                stored = connection.execute(
                    f"SELECT rowid, {name} FROM {table.name} WHERE {name} IS NOT NULL"  # noqa: S608
                ).fetchall()
                for rowid, value in stored:
                    moved = datetime.fromisoformat(value) - shift
                    connection.execute(
                        f"UPDATE {table.name} SET {column.name} = ? WHERE rowid = ?",  # noqa: S608
                        (moved.strftime("%Y-%m-%d %H:%M:%S.%f"), rowid),
                    )
    await clock.advance(seconds)


async def recorded_delivered(url: str, timeout: float = 5.0) -> None:
    """Wait until the bot has recorded every message Telegram confirmed (the outbox is empty):
    a kill after that point repeats nothing."""
    await until(lambda: query(url, "SELECT count(*) FROM outbox") == [(0,)], timeout)


def assert_clean_exit(process: BotProcess, code: int) -> None:
    assert code == 0, process.describe()
    assert "Traceback" not in process.output, process.describe()


# ------------------------------------------------------------------------------------------
# 1. Durability: SIGKILL at every step, restart on the same database, carry on
# ------------------------------------------------------------------------------------------

# A script is a list of (action, argument, expected substring of the bot's next reply):
#   ("say", text, ...)  the member types text
#   ("tap", label, ...) the member presses the newest button whose label contains `label`
#   ("old", None, ...)  the member presses the button captured before the crash
#   ("reply", None, ...) the bot sends one more message on its own (a second reply)
# Arguments may name the member's seat: {instance}, {phone}, {odd_phone}.
Script = list[tuple[str, str | None, str]]


@dataclass(frozen=True)
class Seat:
    """A member with the instance and numbers they register."""

    user: TgUser
    instance: str
    phone_text: str
    phone: str
    odd_phone_text: str  # phonenumbers calls it invalid: the bot asks to confirm it
    odd_phone: str

    def fill(self, text: str) -> str:
        return text.format(
            instance=self.instance, phone=self.phone_text, odd_phone=self.odd_phone_text
        )


# Two members cross every crash together: the first carries on by typing, the second by
# pressing a button of a keyboard the killed process sent.
TEXT_SEAT = Seat(MEMBER, "inst-a", PHONE_TEXT, PHONE, ODD_PHONE_TEXT, ODD_PHONE)
BUTTON_SEAT = Seat(
    OTHER_MEMBER, "inst-b", "(21) 98888-7777", "21988887777", "21 9888-7777", "2198887777"
)

TO_INSTANCE: Script = [("say", "/register", "Which instance")]
TO_DDI: Script = [*TO_INSTANCE, ("tap", "{instance}", "Send the country code")]
TO_PHONE: Script = [*TO_DDI, ("say", DDI, f"Now the number for +{DDI}")]
TO_METHOD: Script = [*TO_PHONE, ("say", "{phone}", "How should WhatsApp send the code")]
TO_CODE: Script = [*TO_METHOD, ("tap", "SMS", "Code sent by SMS")]
TO_BANNED: Script = [*TO_PHONE, ("say", "{phone}", "banned by WhatsApp")]

AFTER_CODE_QUESTION: Script = [("say", CODE, "Connected")]
AFTER_METHOD_QUESTION: Script = [("say", "sms", "Code sent by SMS"), *AFTER_CODE_QUESTION]
AFTER_PHONE_QUESTION: Script = [
    ("say", "{phone}", "How should WhatsApp send the code"),
    *AFTER_METHOD_QUESTION,
]
AFTER_DDI_QUESTION: Script = [("say", DDI, f"Now the number for +{DDI}"), *AFTER_PHONE_QUESTION]
AFTER_APPEAL_QUESTION: Script = [
    ("say", APPEAL, "no longer banned"),
    ("reply", None, "How should WhatsApp send the code"),
    *AFTER_METHOD_QUESTION,
]


@dataclass
class CrashCase:
    """Drive to a step, crash, restart, then carry on by typing or by an old button."""

    drive: Script
    old_button: str  # label of a button on the last keyboard before the crash
    by_text: Script
    by_button: Script
    odd_phone: bool = False
    profile: NumberProfile = field(default_factory=NumberProfile)
    accept_transfer: bool = False


CRASH_CASES: dict[str, CrashCase] = {
    "instance": CrashCase(
        TO_INSTANCE,
        "{instance}",
        [("say", "{instance}", "Send the country code"), *AFTER_DDI_QUESTION],
        [("old", None, "Send the country code"), *AFTER_DDI_QUESTION],
    ),
    "ddi": CrashCase(
        TO_DDI,
        "Back",
        AFTER_DDI_QUESTION,
        [
            ("old", None, "Which instance"),
            ("tap", "{instance}", "Send the country code"),
            *AFTER_DDI_QUESTION,
        ],
    ),
    "phone": CrashCase(
        TO_PHONE,
        "Back",
        AFTER_PHONE_QUESTION,
        [("old", None, "Send the country code"), *AFTER_DDI_QUESTION],
    ),
    "phone_confirm": CrashCase(
        [*TO_PHONE, ("say", "{odd_phone}", "doesn't look like a valid number")],
        "Yes, use it",
        [("say", "yes", "How should WhatsApp send the code"), *AFTER_METHOD_QUESTION],
        [("old", None, "How should WhatsApp send the code"), *AFTER_METHOD_QUESTION],
        odd_phone=True,
    ),
    "method": CrashCase(
        TO_METHOD,
        "SMS",
        AFTER_METHOD_QUESTION,
        [("old", None, "Code sent by SMS"), *AFTER_CODE_QUESTION],
    ),
    "captcha": CrashCase(
        [*TO_METHOD, ("tap", "SMS", "captcha")],
        "Back",
        [("say", CAPTCHA, "Captcha accepted"), *AFTER_CODE_QUESTION],
        [
            ("old", None, "How should WhatsApp send the code"),
            ("tap", "SMS", "captcha"),
            ("say", CAPTCHA, "Captcha accepted"),
            *AFTER_CODE_QUESTION,
        ],
        profile=NumberProfile(captcha=CAPTCHA, captcha_format="base64"),
    ),
    "code": CrashCase(
        TO_CODE,
        "Didn't get it",
        [("say", "123 456", "Connected")],
        [("old", None, "How should WhatsApp send the code"), *AFTER_METHOD_QUESTION],
    ),
    "device": CrashCase(
        [*TO_CODE, ("say", CODE, "accept the transfer")],
        "I accepted it",
        [("say", "done", "Connected")],
        [("old", None, "Connected")],
        profile=NumberProfile(device_confirm=True),
        accept_transfer=True,
    ),
    "pin": CrashCase(
        [*TO_CODE, ("say", CODE, "two-step verification")],
        "Forgot the PIN",
        [("say", PIN, "Connected")],
        [("old", None, "reset link"), ("say", PIN, "Connected")],
        profile=NumberProfile(pin=PIN),
    ),
    "banned": CrashCase(
        TO_BANNED,
        "Appeal",
        [("say", "appeal", "Describe"), *AFTER_APPEAL_QUESTION],
        [("old", None, "Describe"), *AFTER_APPEAL_QUESTION],
        profile=NumberProfile(banned=True, unban_status="UNBANNED"),
    ),
    "appeal": CrashCase(
        [*TO_BANNED, ("tap", "Appeal", "Describe")],
        "Back",
        AFTER_APPEAL_QUESTION,
        [
            ("old", None, "banned by WhatsApp"),
            ("say", "appeal", "Describe"),
            *AFTER_APPEAL_QUESTION,
        ],
        profile=NumberProfile(banned=True, unban_status="UNBANNED"),
    ),
}


async def play(
    chat: Chat, script: Script, old: tuple[int, str] | None = None, seat: Seat = TEXT_SEAT
) -> None:
    for action, template, expected in script:
        argument = None if template is None else seat.fill(template)
        if action == "say":
            assert argument is not None
            reply = await chat.say(argument)
        elif action == "tap":
            assert argument is not None
            reply = await chat.tap(argument)
        elif action == "old":
            assert old is not None
            reply = await chat.press(old)
        else:
            reply = await chat.reply()
        shown = f"{action} {argument!r}" if argument else action
        assert expected in (reply.text or ""), (
            f"{seat.user.first_name}: after {shown} expected {expected!r}, "
            f"the bot said {reply.text!r}"
        )


def crash_seats(index: int) -> tuple[Seat, Seat]:
    """The two members of crash case `index`: their own instances and numbers."""
    n = f"{index:02d}"
    typing = Seat(
        TgUser(id=3000 + 2 * index, first_name=f"T{n}", language_code="en"),
        f"k{n}text",
        f"(44) 99{n}1-0000",
        f"4499{n}10000",
        f"44 9{n}1-0000",
        f"449{n}10000",
    )
    pressing = Seat(
        TgUser(id=3001 + 2 * index, first_name=f"B{n}", language_code="en"),
        f"k{n}button",
        f"(21) 98{n}2-7777",
        f"2198{n}27777",
        f"21 9{n}2-7777",
        f"219{n}27777",
    )
    return typing, pressing


async def test_sigkill_at_every_step_then_members_carry_on(
    processes: Processes, telegram: TelegramDouble, zapi: ZapiDouble, migrated_sqlite_url: str
) -> None:
    """Two members stand at each step (24 in all, each on an instance of their own) when the
    process is killed; after a restart on the same database every one of them carries on to
    "Connected": one by typing, the other by a button of a keyboard the killed process sent."""
    cases = {
        step: (case, crash_seats(index)) for index, (step, case) in enumerate(CRASH_CASES.items())
    }
    seats = [seat for _, pair in cases.values() for seat in pair]
    for case, pair in cases.values():
        for seat in pair:
            zapi.add_instance(seat.instance, f"tok-{seat.instance}")
            zapi.add_number(DDI, seat.odd_phone if case.odd_phone else seat.phone, case.profile)
    settings = {
        "zapi_instances": ",".join(f"{s.instance}={s.instance}:tok-{s.instance}" for s in seats),
        "allowed_user_ids": ",".join(str(seat.user.id) for seat in seats),
    }
    chats = {seat.user.id: Chat(telegram, seat.user) for seat in seats}

    first = await processes.start_polling(migrated_sqlite_url, **settings)
    old_buttons: dict[int, tuple[int, str]] = {}

    async def drive(case: CrashCase, typing: Seat, pressing: Seat) -> None:
        await play(chats[typing.user.id], case.drive, seat=typing)
        await play(chats[pressing.user.id], case.drive, seat=pressing)
        old_buttons[pressing.user.id] = chats[pressing.user.id].button(
            pressing.fill(case.old_button)
        )

    await asyncio.gather(*(drive(case, *pair) for case, pair in cases.values()))
    await recorded_delivered(migrated_sqlite_url)
    await first.kill()
    assert first.returncode == -9

    for case, pair in cases.values():
        if case.accept_transfer:  # done on the old phones while the bot was down
            for seat in pair:
                zapi.accept_device_transfer(seat.instance)
    second = await processes.start_polling(migrated_sqlite_url, **settings)

    async def carry_on(case: CrashCase, typing: Seat, pressing: Seat) -> None:
        await play(chats[typing.user.id], case.by_text, seat=typing)
        old = old_buttons[pressing.user.id]
        await play(chats[pressing.user.id], case.by_button, old, seat=pressing)

    await asyncio.gather(*(carry_on(case, *pair) for case, pair in cases.values()))

    for step, (case, pair) in cases.items():
        for seat in pair:
            assert zapi.connected(seat.instance), (step, seat)
            number = seat.odd_phone if case.odd_phone else seat.phone
            assert zapi.checked_number(seat.instance) == (DDI, number), (step, seat)
    assert query(migrated_sqlite_url, "SELECT count(*) FROM registrations") == [(0,)]
    assert query(migrated_sqlite_url, "SELECT count(*) FROM instance_leases") == [(0,)]
    second.terminate()
    assert_clean_exit(second, await second.wait())


async def test_wait_that_ended_while_down_is_announced_once_at_start(
    processes: Processes,
    telegram: TelegramDouble,
    zapi: ZapiDouble,
    migrated_sqlite_url: str,
    clock: TestClock,
) -> None:
    chat = Chat(telegram, MEMBER)
    first = await processes.start_polling(migrated_sqlite_url)
    await play(chat, TO_PHONE)
    zapi.add_number(DDI, PHONE, NumberProfile(waits={"sms": 240}))
    reply = await chat.say(PHONE_TEXT)
    assert "How should WhatsApp send the code" in (reply.text or "")
    assert "wait" in json.dumps(reply.reply_markup)
    await recorded_delivered(migrated_sqlite_url)
    await first.kill()

    await time_passes_while_down(migrated_sqlite_url, clock, 300)  # the wait ends meanwhile
    second = await processes.start_polling(migrated_sqlite_url)
    notice = await chat.reply()
    assert "You can request the code by SMS now" in (notice.text or ""), notice.text
    assert notice.reply_markup is not None
    await recorded_delivered(migrated_sqlite_url)
    await second.kill()

    third = await processes.start_polling(migrated_sqlite_url)
    status = await chat.say("/status")
    assert "How to get the code" in (status.text or ""), status.text
    await settle(0.5)  # a second notice would come right after the start
    notices = [text for text in chat.texts() if "You can request the code" in text]
    assert len(notices) == 1, chat.texts()

    message_id, data = telegram.button(MEMBER.id, "SMS")
    assert message_id == notice.message["message_id"]  # the notice's own keyboard
    await play(chat, [("old", None, "Code sent by SMS"), *AFTER_CODE_QUESTION], (message_id, data))
    assert zapi.connected("inst-a")
    third.terminate()
    assert_clean_exit(third, await third.wait())


async def test_sigkill_during_the_code_request_then_the_code_is_taken(
    processes: Processes, telegram: TelegramDouble, zapi: ZapiDouble, migrated_sqlite_url: str
) -> None:
    """Z-API sends the SMS, the bot dies before the answer: after the restart the member is
    told where they are, unprompted, and the code that arrived is taken."""
    chat = Chat(telegram, MEMBER)
    first = await processes.start_polling(migrated_sqlite_url)
    await play(chat, TO_METHOD)
    # The method question's delivery is recorded (a crash before that sends it again: at least
    # once), and so is its keyboard, which the restart's notice must take away.
    await until(lambda: query(migrated_sqlite_url, "SELECT count(*) FROM outbox") == [(0,)])
    await until(lambda: len(query(migrated_sqlite_url, "SELECT * FROM live_keyboards")) == 1)
    zapi.hang("mobile/request-registration-code", simulate=True)
    telegram.press_button(MEMBER, "SMS")
    await until(lambda: bool(zapi.requests_to("mobile/request-registration-code")))
    await first.kill()

    second = await processes.start_polling(migrated_sqlite_url)
    notice = await chat.reply()
    assert "I restarted while asking WhatsApp for your code" in (notice.text or ""), notice.text
    assert "Didn't get it" in json.dumps(notice.reply_markup)
    await play(chat, AFTER_CODE_QUESTION)
    assert zapi.connected("inst-a")
    assert len(zapi.requests_to("mobile/request-registration-code")) == 1
    assert query(migrated_sqlite_url, "SELECT count(*) FROM registrations") == [(0,)]
    second.terminate()
    assert_clean_exit(second, await second.wait())


async def test_wait_notice_cut_off_by_a_crash_is_sent_after_restart(
    processes: Processes, telegram: TelegramDouble, zapi: ZapiDouble, migrated_sqlite_url: str
) -> None:
    """The wait was claimed (it will not be claimed again) and its notice was on its way to
    Telegram when the bot died: the outbox still holds it."""
    chat = Chat(telegram, MEMBER)
    first = await processes.start_polling(migrated_sqlite_url)
    await play(chat, TO_PHONE)
    zapi.add_number(DDI, PHONE, NumberProfile(waits={"sms": 1}))
    reply = await chat.say(PHONE_TEXT)
    assert "How should WhatsApp send the code" in (reply.text or "")
    telegram.hang_next("sendMessage", 60, chat_id=MEMBER.id)  # the notice's send never returns
    await telegram.wait_for("sendMessage", chat_id=MEMBER.id, predicate=lambda call: call.held)
    await first.kill()
    assert query(migrated_sqlite_url, "SELECT notified FROM wait_timers") == [(1,)]  # claimed

    second = await processes.start_polling(migrated_sqlite_url)
    notice = await chat.reply()
    assert "You can request the code by SMS now" in (notice.text or ""), notice.text
    await recorded_delivered(migrated_sqlite_url)
    second.terminate()
    assert_clean_exit(second, await second.wait())


async def test_flow_idle_past_its_timeout_while_down_is_ended_at_start(
    processes: Processes,
    telegram: TelegramDouble,
    zapi: ZapiDouble,
    migrated_sqlite_url: str,
    clock: TestClock,
) -> None:
    chat = Chat(telegram, MEMBER)
    first = await processes.start_polling(migrated_sqlite_url, conversation_timeout_seconds=900)
    await play(chat, TO_DDI)
    await recorded_delivered(migrated_sqlite_url)
    await first.kill()
    await time_passes_while_down(
        migrated_sqlite_url, clock, 960
    )  # the flow's timeout passes meanwhile

    second = await processes.start_polling(migrated_sqlite_url, conversation_timeout_seconds=900)
    ended = await chat.reply()
    assert "ended the registration" in (ended.text or ""), ended.text
    assert query(migrated_sqlite_url, "SELECT count(*) FROM registrations") == [(0,)]
    assert query(migrated_sqlite_url, "SELECT count(*) FROM instance_leases") == [(0,)]

    # The flow is over for the member, and the instance is free for everyone.
    reply = await chat.say(DDI)
    assert "No registration in progress" in (reply.text or ""), reply.text
    other = Chat(telegram, OTHER_MEMBER)
    reply = await other.say("/register")
    labels = [button["text"] for row in reply.reply_markup["inline_keyboard"] for button in row]
    assert "inst-a" in labels, labels
    assert not zapi.requests, "nothing reached Z-API"
    second.terminate()
    assert_clean_exit(second, await second.wait())


# ------------------------------------------------------------------------------------------
# 2. Secret hygiene: whole flows at DEBUG, nothing sensitive printed or replied
# ------------------------------------------------------------------------------------------

SECRET_CODE = "731942"
WRONG_CODE = "846213"
SECRET_PIN = "915372"
WRONG_PIN = "264851"
SECRET_CAPTCHA = "Kw4Rz9"
WRONG_CAPTCHA = "Jd3Nq7"


async def test_no_secret_in_debug_logs_or_replies(
    processes: Processes, telegram: TelegramDouble, zapi: ZapiDouble, migrated_sqlite_url: str
) -> None:
    zapi.add_number(
        DDI,
        PHONE,
        NumberProfile(captcha=SECRET_CAPTCHA, code=SECRET_CODE, pin=SECRET_PIN),
    )
    zapi.add_number(DDI, "44988887777", NumberProfile(banned=True))
    process = await processes.start_polling(migrated_sqlite_url, log_level="DEBUG")

    member = Chat(telegram, MEMBER)
    await play(
        member,
        [
            *TO_METHOD,
            ("tap", "SMS", "captcha"),
            ("say", WRONG_CAPTCHA, "That's not it"),
            ("say", SECRET_CAPTCHA, "Captcha accepted"),
            ("say", WRONG_CODE, "not accepted"),
            ("say", f"{SECRET_CODE[:3]}-{SECRET_CODE[3:]}", "two-step verification"),
            ("say", WRONG_PIN, "Wrong PIN"),
            ("say", SECRET_PIN, "Connected"),
        ],
    )
    other = Chat(telegram, OTHER_MEMBER)
    await play(
        other,
        [
            ("say", "/register", "Which instance"),
            ("tap", "inst-b", "Send the country code"),
            ("say", "+55 44 98888-7777", "banned by WhatsApp"),
            ("tap", "Appeal", "Describe"),
            ("say", APPEAL, "Appeal sent"),
        ],
    )
    assert zapi.connected("inst-a")
    pin_messages = [call for call in telegram.calls_to("deleteMessage", MEMBER.id) if call.ok]
    assert len(pin_messages) == 2, "both PIN messages are deleted"
    process.terminate()
    assert_clean_exit(process, await process.wait())

    assert " DEBUG " in process.output, "the run logged at DEBUG"
    secrets = {
        "bot token": BOT_TOKEN,
        "Client-Token": CLIENT_TOKEN,
        **{f"token of {name}": token for name, token in INSTANCE_TOKENS.items()},
        "registration code": SECRET_CODE,
        "wrong registration code": WRONG_CODE,
        "captcha answer": SECRET_CAPTCHA,
        "wrong captcha answer": WRONG_CAPTCHA,
        "PIN": SECRET_PIN,
        "wrong PIN": WRONG_PIN,
    }
    bot_token_secret = BOT_TOKEN.split(":", 1)[1]
    for what, value in {**secrets, "bot token secret part": bot_token_secret}.items():
        assert value not in process.output, f"the {what} is in the process output"
    sent = [
        (call.method, json.dumps(call.params, ensure_ascii=False))
        for call in telegram.calls
        if call.method != "getUpdates"
    ]
    for what, value in secrets.items():
        echoed = [method for method, params in sent if value in params]
        assert not echoed, f"the {what} was sent to Telegram by {echoed}"
    for table in ("registrations", "wait_timers", "instance_leases", "audit_events"):
        dump = repr(query(migrated_sqlite_url, f"SELECT * FROM {table}"))  # noqa: S608 - fixed names
        for what, value in secrets.items():
            assert value not in dump, f"the {what} is stored in {table}"


# ------------------------------------------------------------------------------------------
# 3. Operations: missing settings, migrate, check
# ------------------------------------------------------------------------------------------


async def test_no_settings_exits_2_with_a_plain_message(processes: Processes) -> None:
    env = {
        key: value
        for key, value in processes.env("sqlite+aiosqlite:///unused.sqlite3").items()
        if key in ("PATH", "HOME", "PYTHONPATH", "PYTHONUNBUFFERED")
    }
    process = await processes.run(env)
    assert process.returncode == 2, process.describe()
    assert "Traceback" not in process.output, process.describe()
    for name in ("TELEGRAM_BOT_TOKEN", "ZAPI_CLIENT_TOKEN", "ZAPI_INSTANCES"):
        assert name in process.stderr, process.describe()
    assert "BotFather" in process.stderr
    assert "Z-API panel" in process.stderr


async def test_with_settings_it_polls_and_answers_start(
    processes: Processes, telegram: TelegramDouble, tmp_path: Path
) -> None:
    """The quick start's run command, pointed at the doubles: it long-polls and answers."""
    await processes.start_polling(f"sqlite+aiosqlite:///{tmp_path / 'start.sqlite3'}")
    reply = await Chat(telegram, MEMBER).say("/start")
    assert "I register phone numbers as WhatsApp accounts" in (reply.text or "")
    assert telegram.calls_to("getUpdates")


async def test_migrate_upgrades_a_fresh_sqlite_database(
    processes: Processes, sqlite_url: str
) -> None:
    assert not sqlite_path(sqlite_url).exists()
    process = await processes.run(processes.env(sqlite_url), "migrate")
    assert process.returncode == 0, process.describe()
    assert "Traceback" not in process.output, process.describe()
    tables = {row[0] for row in query(sqlite_url, "SELECT name FROM sqlite_master")}
    expected = {
        "alembic_version",
        "registrations",
        "wait_timers",
        "instance_leases",
        "members",
        "audit_events",
    }
    assert expected <= tables, tables
    assert len(query(sqlite_url, "SELECT version_num FROM alembic_version")) == 1


async def test_migrate_without_database_url_creates_the_default_sqlite_file(
    processes: Processes, sqlite_url: str
) -> None:
    env = processes.env(sqlite_url)
    del env["DATABASE_URL"]
    process = await processes.run(env, "migrate")
    assert process.returncode == 0, process.describe()
    default = processes.cwd / "data" / "bot.sqlite3"
    assert default.exists(), process.describe()
    assert "registrations" in {
        row[0] for row in query(f"sqlite:///{default}", "SELECT name FROM sqlite_master")
    }


def check_row(output: str, name: str) -> str:
    rows = [line for line in output.splitlines() if line.startswith(name)]
    assert len(rows) == 1, f"no single row for {name!r} in:\n{output}"
    return rows[0]


def row_ok(output: str, name: str) -> bool:
    status = check_row(output, name)[len(name) :].split()
    assert status and status[0] in ("ok", "WARN", "FAIL"), check_row(output, name)
    return status[0] == "ok"


def row_status(output: str, name: str) -> str:
    return check_row(output, name)[len(name) :].split()[0]


CHECK_ROWS = ("Settings", "Telegram bot token", "Z-API instance inst-a", "Z-API instance inst-b")


async def test_check_against_healthy_services_prints_ok_rows(
    processes: Processes, zapi: ZapiDouble, migrated_sqlite_url: str
) -> None:
    env = processes.env(migrated_sqlite_url)
    zapi.set_connected("inst-b")
    process = await processes.run(env, "check")
    assert process.returncode == 0, process.describe()
    for name in (*CHECK_ROWS, "Database"):
        assert row_ok(process.stdout, name), process.stdout
    assert "not connected" in check_row(process.stdout, "Z-API instance inst-a")
    assert "not connected" not in check_row(process.stdout, "Z-API instance inst-b")
    assert zapi.requests_to("status", "inst-a") and zapi.requests_to("status", "inst-b")
    for secret in (BOT_TOKEN, CLIENT_TOKEN, *INSTANCE_TOKENS.values()):
        assert secret not in process.output


@pytest.mark.parametrize("fault", ["wrong client token", "wrong instance token", "closed port"])
async def test_check_names_the_instance_that_fails(
    fault: str, processes: Processes, zapi: ZapiDouble, migrated_sqlite_url: str
) -> None:
    overrides: dict[str, Any] = {}
    failing = {"inst-a", "inst-b"}
    if fault == "wrong client token":
        overrides["zapi_client_token"] = "ct-not-the-account-token-999"
    elif fault == "wrong instance token":
        overrides["zapi_instances"] = (
            f"inst-a=inst-a:{INSTANCE_TOKENS['inst-a']},inst-b=inst-b:tok-wrong-wrong-wrong-1"
        )
        failing = {"inst-b"}
    else:
        overrides["zapi_base_url"] = f"http://127.0.0.1:{free_port()}"
    env = processes.env(migrated_sqlite_url, **overrides)
    process = await processes.run(env, "check")
    assert process.returncode not in (0, None), process.describe()
    assert "Traceback" not in process.output, process.describe()
    for name in ("inst-a", "inst-b"):
        ok = row_ok(process.stdout, f"Z-API instance {name}")
        assert ok is (name not in failing), process.stdout
    assert row_ok(process.stdout, "Database"), process.stdout
    assert row_ok(process.stdout, "Telegram bot token"), process.stdout


async def test_check_says_a_new_database_will_be_migrated_and_creates_nothing(
    processes: Processes, sqlite_url: str
) -> None:
    process = await processes.run(processes.env(sqlite_url), "check")
    assert process.returncode == 0, process.describe()
    assert "Traceback" not in process.output, process.describe()
    assert row_status(process.stdout, "Database") == "WARN"
    assert "migrated at start" in check_row(process.stdout, "Database"), process.stdout
    assert not sqlite_path(sqlite_url).exists()  # the check made nothing
    for name in CHECK_ROWS:
        assert row_ok(process.stdout, name), process.stdout


async def test_check_says_a_database_behind_will_be_migrated(
    processes: Processes, sqlite_url: str
) -> None:
    path = sqlite_path(sqlite_url)
    sqlite3.connect(path).close()  # an empty file: no revision at all
    process = await processes.run(processes.env(sqlite_url), "check")
    assert process.returncode == 0, process.describe()
    assert "at revision none" in check_row(process.stdout, "Database"), process.stdout
    assert row_status(process.stdout, "Database") == "WARN"


async def test_check_is_bounded_by_one_timeout_when_instances_hang(
    processes: Processes, zapi: ZapiDouble, migrated_sqlite_url: str
) -> None:
    ten = {f"inst-{c}": f"tok-{c * 20}" for c in "abcdefghij"}
    for name, token in ten.items():
        if name not in ("inst-a", "inst-b"):
            zapi.add_instance(name, token)
        zapi.hang("status", instance_id=name)
    env = processes.env(
        migrated_sqlite_url,
        zapi_instances=",".join(f"{n}={n}:{t}" for n, t in ten.items()),
        zapi_timeout_seconds="1",
    )
    started = time.monotonic()
    process = await processes.run(env, "check")
    elapsed = time.monotonic() - started
    assert process.returncode == 1, process.describe()
    for name in ten:
        assert not row_ok(process.stdout, f"Z-API instance {name}"), process.stdout
    # One ZAPI_TIMEOUT_SECONDS plus the margin, plus the interpreter's start: not ten of them.
    assert elapsed < 1 + 3 + 4, elapsed


async def test_check_says_a_wrong_base_url_is_the_url(
    processes: Processes, telegram: TelegramDouble, migrated_sqlite_url: str
) -> None:
    host = telegram.base_url.removesuffix("/bot")
    for base, said in ((host, "must end with /bot"), (f"{host}/api/bot", "404 Not Found")):
        env = processes.env(migrated_sqlite_url, telegram_base_url=base)
        process = await processes.run(env, "check")
        assert process.returncode == 1, process.describe()
        row = check_row(process.stdout, "Telegram bot token")
        assert said in row and "TELEGRAM_BASE_URL" in row, row
        assert "refused" not in row  # the URL is the cause, not the token


async def test_check_warns_of_no_admins_placeholders_and_sqlite_on_a_dyno(
    processes: Processes, migrated_sqlite_url: str
) -> None:
    env = processes.env(
        migrated_sqlite_url, admin_user_ids="", allowed_user_ids="111111111,222222222", dyno="web.1"
    )
    process = await processes.run(env, "check")
    assert process.returncode == 0, process.describe()  # warnings, not failures
    assert row_status(process.stdout, "Admins") == "WARN"
    assert "ADMIN_USER_IDS is empty" in check_row(process.stdout, "Admins")
    assert "ALLOWED_USER_IDS" in check_row(process.stdout, "Placeholders"), process.stdout
    assert "DYNO" in check_row(process.stdout, "Storage"), process.stdout


# ------------------------------------------------------------------------------------------
# 4. Webhook mode
# ------------------------------------------------------------------------------------------


def command_update(user: Any, text: str, update_id: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 900 + update_id % 100,
            "from": user.to_dict(),
            "chat": user.private_chat(),
            "date": int(time.time()),
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
        },
    }


async def test_webhook_mode_end_to_end(
    processes: Processes, telegram: TelegramDouble, zapi: ZapiDouble, migrated_sqlite_url: str
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = processes.env(migrated_sqlite_url, webhook_url=base, port=port)
    process = await processes.spawn(env)
    await process.wait_until(lambda: bool(telegram.calls_to("setWebhook")), "setWebhook call")
    hook = telegram.calls_to("setWebhook")[0]
    assert hook.ok, hook.summary()
    assert str(hook.params["url"]).endswith("/telegram"), hook.params
    assert str(hook.params["url"]).startswith(base), hook.params
    secret = hook.params.get("secret_token")
    assert secret, "setWebhook carries a secret_token"
    assert not telegram.calls_to("getUpdates"), "no polling in webhook mode"

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:

        async def health() -> int:
            """The status of GET /healthz; 0 while nothing listens, -1 for a broken answer."""
            try:
                async with http.get(f"{base}/healthz") as response:
                    return response.status
            except aiohttp.ClientConnectorError:
                return 0
            except aiohttp.ClientError:
                return -1

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while (status := await health()) == 0:  # not listening yet
            assert process.running, process.describe()
            assert loop.time() < deadline, f"/healthz never answered\n{process.describe()}"
            await asyncio.sleep(0.1)
        if status != 200:
            await asyncio.sleep(0.5)  # let the process log why
        assert status == 200, f"/healthz answered {status}\n{process.describe()}"
        async with http.get(f"{base}/healthz") as response:
            assert await response.json() == {"ok": True, "version": __version__}

        chat = Chat(telegram, MEMBER)
        await play(chat, [*TO_METHOD, *AFTER_METHOD_QUESTION])
        assert zapi.connected("inst-a")
        assert not telegram.webhook_errors, telegram.webhook_errors

        url = f"{base}/telegram"
        for headers in ({"X-Telegram-Bot-Api-Secret-Token": "not-the-secret"}, {}):
            body = command_update(OTHER_MEMBER, "/start", 5000 + len(headers))
            async with http.post(url, json=body, headers=headers) as response:
                assert response.status == 403, headers
        await asyncio.sleep(1.0)
        assert not telegram.calls_to("sendMessage", OTHER_MEMBER.id), "a forged update was run"

        # The same update with the right secret is answered: the 403s were about the secret.
        body = command_update(OTHER_MEMBER, "/start", 5002)
        headers = {"X-Telegram-Bot-Api-Secret-Token": str(secret)}
        async with http.post(url, json=body, headers=headers) as response:
            assert response.status == 200
        start = await Chat(telegram, OTHER_MEMBER).reply()
        assert "/register" in (start.text or "")

        assert await health() == 200
    process.terminate()
    assert_clean_exit(process, await process.wait())


# ------------------------------------------------------------------------------------------
# 5. Graceful shutdown: SIGTERM while a Z-API call is in flight
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("zapi_answer", ["late", "never"])
async def test_sigterm_during_a_zapi_call_exits_cleanly_and_keeps_the_step(
    zapi_answer: str,
    processes: Processes,
    telegram: TelegramDouble,
    zapi: ZapiDouble,
    migrated_sqlite_url: str,
) -> None:
    timeout = 1.0
    chat = Chat(telegram, MEMBER)
    process = await processes.start_polling(migrated_sqlite_url, zapi_timeout_seconds=timeout)
    await play(chat, TO_METHOD)
    if zapi_answer == "late":
        zapi.set_delay(0.5)
    else:
        zapi.hang("mobile/request-registration-code", simulate=True)

    sms = chat.button("SMS")
    telegram.press(MEMBER, *sms)
    await process.wait_until(
        lambda: bool(zapi.requests_to("mobile/request-registration-code")),
        "request-registration-code call",
    )
    process.terminate()
    stopping = time.monotonic()
    code = await process.wait(timeout=timeout + 15)
    took = time.monotonic() - stopping
    assert_clean_exit(process, code)
    assert took < timeout + 5, f"shutdown took {took:.1f}s"

    # The step that was in flight is answered before the process ends...
    reply = await chat.reply(timeout=1)
    if zapi_answer == "late":
        assert "Code sent by SMS" in (reply.text or ""), reply.text
    else:
        assert "didn't answer within" in (reply.text or ""), reply.text
        assert "may still be on its way" in (reply.text or ""), reply.text
    assert query(migrated_sqlite_url, "SELECT step FROM registrations") == [("code",)]

    # ...and after a restart the member carries on with the code that arrived.
    zapi.set_delay(0)
    again = await processes.start_polling(migrated_sqlite_url)
    await play(chat, AFTER_CODE_QUESTION)
    assert zapi.connected("inst-a")
    assert len(zapi.requests_to("mobile/request-registration-code")) == 1, "never sent twice"
    again.terminate()
    assert_clean_exit(again, await again.wait())
