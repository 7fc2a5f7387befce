"""Nothing promised is lost, with faults injected in Telegram, Z-API and the database.

End-to-end through the real Application (`start_bot`), the Telegram and Z-API doubles on
loopback, and a real SQLite file or PostgreSQL database. Each test asserts what a member would
notice (what they read, whether their code is taken) and what reached Z-API.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.conversation.texts.en import ENGLISH as EN
from tests.conftest import (
    INSTANCE_TOKENS,
    MEMBER,
    OTHER_MEMBER,
    create_postgres_database,
    drop_postgres_database,
)
from tests.doubles.telegram_api import ApiCall, TelegramDouble
from tests.doubles.zapi import NumberProfile, Reply
from tests.faults import (
    hold_sqlite_write_lock,
    lock_postgres_rows,
    terminate_postgres_backends,
    wait_for_postgres_lock_waiters,
)
from tests.harness import BotHarness, settle, until

DDI, PHONE, TYPED_PHONE = "55", "44999999999", "44 99999-9999"
DOUBTFUL_PHONE = "4499999999"  # phonenumbers doubts it: the member is asked to confirm
CODE, PIN = "123456", "654321"
ONE_INSTANCE = f"inst-a=inst-a:{INSTANCE_TOKENS['inst-a']}"
AVAILABLE = "mobile/registration-available"
REQUEST = "mobile/request-registration-code"
CONFIRM = "mobile/confirm-registration-code"
DEVICE = "mobile/device-transfer-confirmed"
RECOVER_PIN = "mobile/recovery-pin-code"
ASK_METHOD = "How should WhatsApp send the code"
CODE_SENT = "Code sent by SMS"
CONNECTED = "Connected!"


# -- helpers ---------------------------------------------------------------------------------


def sqlite_file(bot: BotHarness) -> Path:
    return Path(bot.settings.database_url.split("///", 1)[1])


def rows(bot: BotHarness, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(sqlite_file(bot)) as connection:
        return connection.execute(sql).fetchall()


async def to_method(bot: BotHarness, phone: str = TYPED_PHONE) -> ApiCall:
    reply = await bot.say(MEMBER, "/register")
    if "inst-a" in str(reply.reply_markup):
        await bot.tap(MEMBER, "inst-a")
    await bot.say(MEMBER, DDI)
    return await bot.say(MEMBER, phone)


def texts_to(telegram: TelegramDouble, chat_id: int) -> list[str]:
    return [call.text or "" for call in telegram.calls_to("sendMessage", chat_id) if call.ok]


def toasts(telegram: TelegramDouble) -> list[str]:
    return [str(call.params.get("text", "")) for call in telegram.calls_to("answerCallbackQuery")]


def assert_never_told_to_retry(telegram: TelegramDouble) -> None:
    """The generic "something went wrong, try again" is for steps that were not committed."""
    assert all(EN.unexpected_error not in text for text in texts_to(telegram, MEMBER.id))


# -- one instance, one flow ------------------------------------------------------------------


async def test_a_slow_zapi_call_keeps_its_instance(start_bot, telegram, zapi, clock):
    """The lease outlasts the call: nobody else gets the instance while Z-API is slow, even
    with an idle timeout shorter than the call."""
    bot = await start_bot(
        zapi_instances=ONE_INSTANCE, conversation_timeout_seconds=20, zapi_timeout_seconds=60
    )
    assert ASK_METHOD in (await to_method(bot)).text
    zapi.script(REQUEST, Reply(delay=1.0, simulate=True))
    telegram.press_button(MEMBER, "SMS")
    await until(lambda: len(zapi.requests_to(REQUEST)) == 1)
    await clock.advance(45)  # past the idle timeout, the call still running
    other = await bot.say(OTHER_MEMBER, "/register")
    assert EN.all_instances_busy in other.text, other.text
    reply = await telegram.next_reply(MEMBER.id)
    assert CODE_SENT in reply.text, reply.text
    reply = await bot.say(MEMBER, CODE)
    assert CONNECTED in reply.text, reply.text
    assert zapi.checked_number("inst-a") == (DDI, PHONE)
    assert {request.json["phone"] for request in zapi.requests_to(AVAILABLE)} == {PHONE}


async def test_a_flow_that_lost_its_instance_stops_and_never_calls_zapi(start_bot, telegram, zapi):
    bot = await start_bot(zapi_instances=ONE_INSTANCE)
    await to_method(bot)

    # Another bot process (or an outage past the lease) let another chat take the instance.
    # Written from a thread, as another process would: a write from this thread would stop
    # the bot's loop (the same loop) while its own write may hold the lock.
    def take_the_instance() -> None:
        with sqlite3.connect(sqlite_file(bot)) as connection:
            connection.execute("UPDATE instance_leases SET chat_id = ?", (OTHER_MEMBER.id,))

    await asyncio.to_thread(take_the_instance)
    reply = await bot.tap(MEMBER, "SMS")
    assert "is no longer held for your registration" in reply.text, reply.text
    assert zapi.requests_to(REQUEST) == []
    assert rows(bot, "SELECT count(*) FROM registrations") == [(0,)]
    assert rows(bot, "SELECT chat_id FROM instance_leases") == [(OTHER_MEMBER.id,)]
    reply = await bot.say(MEMBER, CODE)
    assert EN.no_flow in reply.text
    assert zapi.requests_to(CONFIRM) == []


# -- a code that may have been sent stays usable ---------------------------------------------


async def test_connection_lost_after_the_code_request_went_out(start_bot, telegram, zapi):
    bot = await start_bot()
    await to_method(bot)
    zapi.drop_after_acting(REQUEST)  # Z-API sends the SMS, the answer never arrives
    reply = await bot.tap(MEMBER, "SMS")
    assert "couldn't reach Z-API" in reply.text, reply.text
    assert "code may still be on its way" in reply.text
    assert "Didn't get it" in str(reply.reply_markup)
    assert len(zapi.codes_sent_to(DDI, PHONE)) == 1
    reply = await bot.say(MEMBER, CODE)
    assert CONNECTED in reply.text, reply.text
    assert len(zapi.requests_to(REQUEST)) == 1


async def test_a_refused_connection_keeps_the_member_at_the_method_step(start_bot, zapi):
    bot = await start_bot(zapi_base_url="http://127.0.0.1:9")  # nothing listens: nothing sent
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    await bot.say(MEMBER, DDI)
    # The availability check cannot even connect: the member keeps the phone step.
    reply = await bot.say(MEMBER, TYPED_PHONE)
    assert "couldn't reach Z-API" in reply.text, reply.text
    assert "Try again" in str(reply.reply_markup)
    assert (await bot.services.flow.load(MEMBER.id)).step == "phone"


async def test_code_typed_at_the_method_step_after_didnt_get_it(start_bot, zapi):
    """The SMS arrives after the member tapped "Didn't get it": it is the earlier request's."""
    bot = await start_bot()
    await to_method(bot)
    assert CODE_SENT in (await bot.tap(MEMBER, "SMS")).text
    assert ASK_METHOD in (await bot.tap(MEMBER, "Didn't get it")).text
    reply = await bot.say(MEMBER, "123-456")
    assert CONNECTED in reply.text, reply.text
    assert len(zapi.requests_to(REQUEST)) == 1
    assert [request.json for request in zapi.requests_to(CONFIRM)] == [{"code": CODE}]


async def test_sqlite_locked_past_the_busy_timeout_after_the_code_was_requested(
    start_bot, telegram, zapi, clock
):
    """The database refuses the step after Z-API sent the code: tried again, then the member is
    told honestly that the code was requested, and the code is taken."""
    bot = await start_bot(sqlite_busy_timeout_seconds=0.3)
    await to_method(bot)
    zapi.script(REQUEST, Reply(delay=0.5, simulate=True))
    telegram.press_button(MEMBER, "SMS")
    await until(lambda: len(zapi.requests_to(REQUEST)) == 1)  # the call is under way
    # Only the write's back-offs (0.25 s, 1 s) are skipped: jumping the typing action's 4 s
    # repeat as well would run the clock past the idle timeout while the lock is held.
    async with hold_sqlite_write_lock(sqlite_file(bot)) as lock, clock.skipping(horizon=2.0):
        reply = await telegram.next_reply(MEMBER.id, timeout=15)
        assert "The code was requested by SMS, but I couldn't save" in reply.text, reply.text
        assert "Didn't get it" in str(reply.reply_markup)
        await lock.release()
    reply = await bot.say(MEMBER, CODE)
    assert CONNECTED in reply.text, reply.text
    assert len(zapi.requests_to(REQUEST)) == 1
    assert_never_told_to_retry(telegram)


async def test_sqlite_lock_that_clears_while_the_write_is_retried(start_bot, telegram, zapi, clock):
    bot = await start_bot(sqlite_busy_timeout_seconds=0.3)
    await to_method(bot)
    zapi.script(REQUEST, Reply(delay=0.2, simulate=True))
    telegram.press_button(MEMBER, "SMS")
    await until(lambda: len(zapi.requests_to(REQUEST)) == 1)
    async with hold_sqlite_write_lock(sqlite_file(bot)) as lock:
        await asyncio.sleep(0.6)  # the answer arrives, the first write fails on the lock
        await lock.release()
    reply = await telegram.next_reply(MEMBER.id, timeout=15)
    assert CODE_SENT in reply.text, reply.text  # the step's own reply: the retry committed
    assert CONNECTED in (await bot.say(MEMBER, CODE)).text
    assert_never_told_to_retry(telegram)


async def test_database_refusing_the_claim_sends_nothing_to_zapi(start_bot, telegram, zapi, clock):
    """Nothing could be written before the call: nothing is asked of Z-API, and "try again" is
    then the truth."""
    bot = await start_bot(sqlite_busy_timeout_seconds=0.2)
    await to_method(bot)
    async with hold_sqlite_write_lock(sqlite_file(bot)), clock.skipping():
        reply = await bot.tap(MEMBER, "SMS", timeout=15)
    assert EN.unexpected_error in reply.text, reply.text
    assert zapi.requests_to(REQUEST) == []
    assert CODE_SENT in (await bot.tap(MEMBER, "SMS")).text


async def test_database_refusing_a_step_after_zapi_answered(start_bot, telegram, zapi, clock):
    zapi.add_number(DDI, PHONE, NumberProfile(pin=PIN))
    bot = await start_bot(sqlite_busy_timeout_seconds=0.2)
    await to_method(bot)
    await bot.tap(MEMBER, "SMS")
    zapi.script(CONFIRM, Reply(delay=0.5, simulate=True))
    telegram.send_text(MEMBER, CODE)
    await until(lambda: len(zapi.requests_to(CONFIRM)) == 1)
    async with hold_sqlite_write_lock(sqlite_file(bot)), clock.skipping():
        reply = await telegram.next_reply(MEMBER.id, timeout=15)
    assert EN.step_unsaved in reply.text, reply.text
    assert_never_told_to_retry(telegram)


@pytest.fixture
async def postgres_url() -> Any:
    url = await create_postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(url)


async def test_postgres_connection_killed_inside_the_write(postgres_url, start_bot, telegram, zapi):
    # postgres_url first: its database is dropped after the bot stopped.
    bot = await start_bot(database_url=postgres_url)
    await to_method(bot)
    zapi.script(REQUEST, Reply(delay=0.5, simulate=True))
    telegram.press_button(MEMBER, "SMS")
    await until(lambda: len(zapi.requests_to(REQUEST)) == 1)
    async with lock_postgres_rows(postgres_url, "registrations", "chat_id = $1", MEMBER.id):
        # The step's UPDATE waits on the row; its backend is killed in the middle of it.
        await wait_for_postgres_lock_waiters(postgres_url)
        assert await terminate_postgres_backends(postgres_url, waiting_on_lock=True)
    reply = await telegram.next_reply(MEMBER.id, timeout=15)
    assert CODE_SENT in reply.text, reply.text
    assert CONNECTED in (await bot.say(MEMBER, CODE)).text
    assert len(zapi.requests_to(REQUEST)) == 1
    assert_never_told_to_retry(telegram)


# -- one press, one side effect --------------------------------------------------------------


async def five_quick_taps(
    telegram: TelegramDouble, label: str, *, button: tuple[int, str] | None = None
) -> int:
    """Five presses of one button within a few milliseconds (a nervous thumb); returns how many
    button presses were answered before them. `button`: one seen earlier, which a client that
    missed the edit taking it away may still show."""
    before = len(telegram.calls_to("answerCallbackQuery"))
    message_id, data = button or telegram.button(MEMBER.id, label)
    for _ in range(5):
        telegram.press(MEMBER, message_id, data, strict=button is None)
    return before


async def answers_to_the_taps(telegram: TelegramDouble, before: int) -> list[str]:
    """The toasts the five taps got, once all five are answered."""
    await until(lambda: len(telegram.calls_to("answerCallbackQuery")) >= before + 5)
    return toasts(telegram)[before : before + 5]


def refused(answers: list[str]) -> int:
    """Taps answered "already used" or "from an earlier step": they did nothing."""
    return sum(text in (EN.button_used, EN.stale_button, EN.stale_button_ended) for text in answers)


async def test_five_taps_on_sms_send_one_code_request(start_bot, telegram, zapi):
    bot = await start_bot()
    await to_method(bot)
    zapi.script(REQUEST, Reply(delay=0.3, simulate=True))
    taps = await five_quick_taps(telegram, "SMS")
    reply = await telegram.next_reply(MEMBER.id)
    assert CODE_SENT in reply.text
    answers = await answers_to_the_taps(telegram, taps)
    assert len(zapi.requests_to(REQUEST)) == 1
    assert answers.count(EN.button_used) == 4, answers


async def test_taps_after_a_zapi_timeout_send_no_new_request(start_bot, telegram, zapi):
    bot = await start_bot(zapi_timeout_seconds=1)
    await to_method(bot)
    zapi.hang(REQUEST, simulate=True)
    sms = telegram.button(MEMBER.id, "SMS")
    reply = await bot.tap(MEMBER, "SMS")
    assert "didn't answer within 1 s" in reply.text
    assert reply.method == "editMessageText"  # the method question became the timeout message
    taps = await five_quick_taps(telegram, "SMS", button=sms)
    answers = await answers_to_the_taps(telegram, taps)
    assert len(zapi.requests_to(REQUEST)) == 1
    assert answers == [EN.button_used] * 5
    # Only "Didn't get it" asks again, and then Z-API's waits apply.
    assert ASK_METHOD in (await bot.tap(MEMBER, "Didn't get it")).text
    assert CONNECTED in (await bot.say(MEMBER, CODE)).text


async def test_five_taps_on_forgot_the_pin_send_one_email(start_bot, telegram, zapi):
    zapi.add_number(DDI, PHONE, NumberProfile(pin=PIN))
    bot = await start_bot()
    await to_method(bot)
    await bot.tap(MEMBER, "SMS")
    assert "two-step" in (await bot.say(MEMBER, CODE)).text
    taps = await five_quick_taps(telegram, "Forgot the PIN")
    reply = await telegram.next_reply(MEMBER.id)
    assert "reset link" in reply.text, reply.text
    answers = await answers_to_the_taps(telegram, taps)
    assert answers.count(EN.button_used) == 4, answers
    assert len(zapi.requests_to(RECOVER_PIN)) == 1


async def test_five_taps_on_i_accepted_it_make_one_call(start_bot, telegram, zapi):
    zapi.add_number(DDI, PHONE, NumberProfile(device_confirm=True))
    bot = await start_bot()
    await to_method(bot)
    await bot.tap(MEMBER, "SMS")
    assert "accept the transfer" in (await bot.say(MEMBER, CODE)).text
    zapi.accept_device_transfer("inst-a")
    taps = await five_quick_taps(telegram, "I accepted it")
    reply = await telegram.next_reply(MEMBER.id)
    assert CONNECTED in reply.text, reply.text
    answers = await answers_to_the_taps(telegram, taps)
    assert refused(answers) == 4, answers
    assert len(zapi.requests_to(DEVICE)) == 1


async def test_five_taps_on_try_again_make_one_check(start_bot, telegram, zapi):
    bot = await start_bot()
    zapi.script(AVAILABLE, Reply(status=500, json={"error": "Internal Server Error"}))
    assert "having trouble" in (await to_method(bot)).text
    taps = await five_quick_taps(telegram, "Try again")
    reply = await telegram.next_reply(MEMBER.id)
    assert ASK_METHOD in reply.text, reply.text
    assert refused(await answers_to_the_taps(telegram, taps)) == 4
    assert len(zapi.requests_to(AVAILABLE)) == 2


async def test_five_taps_on_yes_use_it_make_one_check(start_bot, telegram, zapi):
    bot = await start_bot()
    assert "doesn't look like a valid number" in (await to_method(bot, DOUBTFUL_PHONE)).text
    taps = await five_quick_taps(telegram, "Yes")
    reply = await telegram.next_reply(MEMBER.id)
    assert ASK_METHOD in reply.text, reply.text
    assert refused(await answers_to_the_taps(telegram, taps)) == 4
    assert len(zapi.requests_to(AVAILABLE)) == 1


# -- replies are delivered at least once -----------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param((502, "Bad Gateway", None), id="5xx"),
        pytest.param((429, "Too Many Requests: retry after 1", 1), id="429"),
    ],
)
async def test_a_reply_telegram_fails_once_still_arrives(start_bot, telegram, zapi, clock, fault):
    code, description, retry_after = fault
    bot = await start_bot()  # the outgoing rate limiter is off (its own retries would hide it)
    await to_method(bot)
    # The press's reply edits the method question; that edit fails, the retry sends it anew.
    telegram.fail_next("editMessageText", code, description, retry_after, chat_id=MEMBER.id)
    telegram.press_button(MEMBER, "SMS")
    async with clock.skipping():  # the backlog's retry comes at once
        reply = await telegram.next_reply(MEMBER.id)
    assert CODE_SENT in reply.text, reply.text
    assert reply.method == "sendMessage"
    failed = [call for call in telegram.calls if not call.ok]
    assert [(call.method, call.error_code) for call in failed] == [("editMessageText", code)]
    assert len(telegram.live_keyboards(MEMBER.id)) == 1
    assert_never_told_to_retry(telegram)
    assert CONNECTED in (await bot.say(MEMBER, CODE)).text
    await until(lambda: rows(bot, "SELECT count(*) FROM outbox") == [(0,)])


async def test_a_reply_whose_send_hangs_still_arrives(start_bot, telegram, zapi, clock):
    bot = await start_bot(telegram_timeout_seconds=0.5)
    await to_method(bot)
    # The press's reply edits the method question; that edit hangs past the Bot API client's
    # timeout, and the retry sends the reply as a new message.
    telegram.hang_next("editMessageText", 30, chat_id=MEMBER.id)
    telegram.press_button(MEMBER, "SMS")
    async with clock.skipping():  # the backlog's retry comes at once
        reply = await telegram.next_reply(MEMBER.id)
    assert CODE_SENT in reply.text, reply.text
    assert reply.method == "sendMessage"
    assert_never_told_to_retry(telegram)


async def test_a_lost_connected_is_delivered_and_said_once(start_bot, telegram, zapi, clock):
    bot = await start_bot()
    await to_method(bot)
    await bot.tap(MEMBER, "SMS")
    telegram.fail_next("sendMessage", 500, "Internal Server Error", None, chat_id=MEMBER.id)
    async with clock.skipping():  # the backlog's retry comes at once
        reply = await bot.say(MEMBER, CODE)
    assert CONNECTED in reply.text, reply.text
    assert_never_told_to_retry(telegram)
    await until(lambda: rows(bot, "SELECT count(*) FROM outbox") == [(0,)])
    await clock.advance(60)  # the backlog's later attempts would have come by now
    await settle()
    assert sum(CONNECTED in text for text in texts_to(telegram, MEMBER.id)) == 1


async def test_a_wait_over_notice_telegram_fails_is_sent_again(start_bot, telegram, zapi, clock):
    zapi.add_number(DDI, PHONE, NumberProfile(waits={"sms": 60}))
    bot = await start_bot()
    reply = await to_method(bot)
    assert "wait" in str(reply.reply_markup)
    telegram.fail_next("sendMessage", 502, "Bad Gateway", None, chat_id=MEMBER.id)
    await clock.advance(60)
    async with clock.skipping():  # the backlog's retry comes at once
        notice = await telegram.next_reply(MEMBER.id)
    assert "You can request the code by SMS" in notice.text, notice.text
    assert [call.ok for call in telegram.calls_to("sendMessage", MEMBER.id)][-2:] == [False, True]


# -- idle timeouts ---------------------------------------------------------------------------


async def test_idle_timeouts_run_on_time_while_another_chat_waits_on_zapi(
    start_bot, telegram, zapi, clock
):
    bot = await start_bot(conversation_timeout_seconds=20, zapi_timeout_seconds=600)
    # Bruno's availability check hangs for the whole test.
    await bot.say(OTHER_MEMBER, "/register")
    await bot.tap(OTHER_MEMBER, "inst-b")
    await bot.say(OTHER_MEMBER, DDI)
    zapi.hang(AVAILABLE)
    telegram.send_text(OTHER_MEMBER, TYPED_PHONE)
    await until(lambda: len(zapi.requests_to(AVAILABLE)) == 1)
    # Ana stops answering at the country-code step.
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    await clock.advance(19)
    await settle()
    assert not [text for text in texts_to(telegram, MEMBER.id) if "No answer for" in text]
    # The timeout (20 s) plus one run of the idle sweep (every 2 s here).
    await clock.advance(3)
    ended = await telegram.next_reply(MEMBER.id, timeout=2)
    assert "No answer for 20 s" in ended.text, ended.text
    await zapi.stop()  # lets Bruno's call end now rather than at its limit


# -- secrets in the chat ---------------------------------------------------------------------


async def test_pin_that_cannot_be_deleted_gets_a_warning(start_bot, telegram, zapi):
    zapi.add_number(DDI, PHONE, NumberProfile(pin=PIN))
    bot = await start_bot()
    await to_method(bot)
    await bot.tap(MEMBER, "SMS")
    await bot.say(MEMBER, CODE)
    telegram.fail_next(
        "deleteMessage", 400, "Bad Request: message can't be deleted", None, chat_id=MEMBER.id
    )
    telegram.send_text(MEMBER, "000000")
    replies = [await telegram.next_reply(MEMBER.id), await telegram.next_reply(MEMBER.id)]
    assert any(EN.pin_not_deleted in reply.text for reply in replies), [r.text for r in replies]


async def test_a_photo_captioned_with_the_pin_is_deleted(start_bot, telegram, zapi):
    zapi.add_number(DDI, PHONE, NumberProfile(pin=PIN))
    bot = await start_bot()
    await to_method(bot)
    await bot.tap(MEMBER, "SMS")
    await bot.say(MEMBER, CODE)
    message_id = telegram.send_message(MEMBER, photo=True, caption=PIN)
    reply = await telegram.next_reply(MEMBER.id)
    assert EN.bad_pin in reply.text
    assert message_id in telegram.deleted(MEMBER.id)


async def test_stopping_while_the_database_refuses_to_record_deliveries(
    start_bot, telegram, zapi, caplog, clock
):
    """A delivery Telegram confirmed cannot be recorded (the database is locked): stopping still
    ends within its time limit, and the message stays owed (sent again at the next start)."""
    bot = await start_bot(sqlite_busy_timeout_seconds=0.2)
    telegram.hang_next("sendMessage", 2.0, chat_id=MEMBER.id, deliver=True)
    telegram.send_text(MEMBER, "/register")
    await telegram.next_reply(MEMBER.id)  # delivered; its answer reaches the bot in 2 s
    async with hold_sqlite_write_lock(sqlite_file(bot)):
        # Telegram's answer arrives, and recording the delivery fails on the lock.
        await until(
            lambda: any("Database write failed" in r.getMessage() for r in caplog.records),
            timeout=10,
        )
        started = clock.monotonic()
        async with clock.skipping():  # the time limit for recording it passes at once
            await bot.stop()
        took = clock.monotonic() - started
        assert rows(bot, "SELECT count(*) FROM outbox") == [(1,)]
    assert 2 <= took < 10, took  # the bot waited out its limit (2 s), no more


async def test_zapi_echoing_the_pin_or_code_never_reaches_the_log(
    start_bot, telegram, zapi, caplog
):
    zapi.add_number(DDI, PHONE, NumberProfile(pin=PIN))
    bot = await start_bot(log_level="DEBUG")
    caplog.set_level("DEBUG")
    await to_method(bot)
    await bot.tap(MEMBER, "SMS")
    zapi.script(CONFIRM, Reply(status=400, json={"error": "code 987654 is not valid"}))
    assert "refused the request" in (await bot.say(MEMBER, "987654")).text
    assert "two-step" in (await bot.say(MEMBER, CODE)).text
    zapi.script("mobile/confirm-pin-code", Reply(status=500, json={"error": f"bad pin {PIN}"}))
    assert "having trouble" in (await bot.say(MEMBER, PIN)).text
    # The bot's own loggers (python-telegram-bot's DEBUG dump of updates is held at INFO by
    # setup_logging in production; tests/process/test_process.py scans a real DEBUG run for that).
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot"))
    assert "mobile/confirm-pin-code" in logged  # the failure is logged, by endpoint
    assert "987654" not in logged and PIN not in logged


async def test_the_pin_leaves_the_chat_before_z_api_answers(start_bot, telegram, zapi):
    """Deleted before the step runs: a step that then fails (a refused write, a lost lease)
    cannot leave the PIN in the chat."""
    zapi.add_number(DDI, PHONE, NumberProfile(pin=PIN))
    bot = await start_bot()
    await to_method(bot)
    await bot.tap(MEMBER, "SMS")
    await bot.say(MEMBER, CODE)
    zapi.hang("mobile/confirm-pin-code")
    typed = telegram.send_text(MEMBER, PIN)
    await until(lambda: len(zapi.requests_to("mobile/confirm-pin-code")) == 1)
    assert typed in telegram.deleted(MEMBER.id)
