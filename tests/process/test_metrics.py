"""`GET /metrics` served by `python -m bot`: on HEALTH_PORT in polling mode, on PORT in webhook
mode. The values move with real flows through the doubles, and no label carries a chat, a
number or a secret."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import asyncpg
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from bot import __version__
from tests.conftest import (
    BOT_TOKEN,
    CLIENT_TOKEN,
    INSTANCE_TOKENS,
    POSTGRES_URL,
    create_postgres_database,
    drop_postgres_database,
)
from tests.doubles.telegram_api import TelegramDouble, TgUser
from tests.doubles.zapi import Reply, ZapiDouble
from tests.process_helpers import BotProcess, Chat, Processes, free_port

# A member of its own, so that neither its id nor its number could be mistaken for another
# test's: both are searched for in what /metrics shows.
MEMBER = TgUser(id=7714250093, first_name="Dora", language_code="en")
PHONE_TEXT = "(31) 98765-4321"
PHONE = "31987654321"
AVAILABLE = "mobile/registration-available"
REQUEST = "mobile/request-registration-code"
CONFIRM = "mobile/confirm-registration-code"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample's value; 0 for one not shown (a counter whose labels were never seen)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def shown(samples: Samples, name: str) -> bool:
    return any(sample_name == name for sample_name, _ in samples)


async def scrape(http: aiohttp.ClientSession, base: str) -> tuple[str, Samples]:
    async with http.get(f"{base}/metrics") as response:
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await response.text()
    return text, parse(text)


def assert_nothing_personal(text: str) -> None:
    """No label of the bot's metrics is a number (bucket bounds aside), none names the member,
    and no id, number or secret appears anywhere in the exposition."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            for label, label_value in sample.labels.items():
                assert str(MEMBER.id) not in label_value, (sample.name, label)
                assert PHONE not in label_value, (sample.name, label)
                if family.name.startswith("zapi_bot_") and label not in ("le", "version"):
                    assert not label_value.replace(".", "").isdigit(), (sample.name, label)
    for secret in (PHONE, f"55{PHONE}", BOT_TOKEN, CLIENT_TOKEN, *INSTANCE_TOKENS.values()):
        assert secret not in text, secret


async def wait_listening(process: BotProcess, http: aiohttp.ClientSession, base: str) -> None:
    """Until GET /healthz answers 200 (webhook mode listens once the application started)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:
        try:
            async with http.get(f"{base}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectorError:
            pass
        assert process.running, process.describe()
        assert loop.time() < deadline, f"/healthz never answered 200\n{process.describe()}"
        await asyncio.sleep(0.1)


async def test_polling_mode_serves_metrics_on_the_health_port_and_they_move(
    processes: Processes, telegram: TelegramDouble, migrated_sqlite_url: str
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = await processes.start_polling(
        migrated_sqlite_url, health_port=port, allowed_user_ids=str(MEMBER.id)
    )
    chat = Chat(telegram, MEMBER)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        _, before = await scrape(http, base)
        assert value(before, "zapi_bot_build_info", version=__version__) == 1
        assert value(before, "zapi_bot_updates_total", kind="message") == 0
        assert value(before, "zapi_bot_leases_held", instance="inst-a") == 0
        assert shown(before, "process_resident_memory_bytes")

        # The first answer to /register meets a failing Telegram; the courier sends it again.
        telegram.fail_next("sendMessage", 502, "Bad Gateway", chat_id=MEMBER.id)
        assert "Which instance" in ((await chat.say("/register")).text or "")
        assert "country code" in ((await chat.tap("inst-a")).text or "")
        _, during = await scrape(http, base)
        assert value(during, "zapi_bot_leases_held", instance="inst-a") == 1
        assert value(during, "zapi_bot_leases_held", instance="inst-b") == 0
        assert value(during, "zapi_bot_registrations_started_total", kind="registration") == 1
        assert value(during, "zapi_bot_telegram_errors_total", method="sendMessage",
                     error="server_error") == 1  # fmt: skip

        await chat.say("55")
        assert "How should WhatsApp send the code" in ((await chat.say(PHONE_TEXT)).text or "")
        assert "Code sent by SMS" in ((await chat.say("sms")).text or "")
        assert "Connected" in ((await chat.say("123456")).text or "")
        text, after = await scrape(http, base)

    assert value(after, "zapi_bot_updates_total", kind="message") == 5
    assert value(after, "zapi_bot_updates_total", kind="callback_query") == 1
    assert value(after, "zapi_bot_update_duration_seconds_count") == 6
    for endpoint in (AVAILABLE, REQUEST, CONFIRM):
        ok = {"instance": "inst-a", "endpoint": endpoint, "result": "ok"}
        assert value(after, "zapi_bot_zapi_calls_total", **ok) == 1, endpoint
        assert value(after, "zapi_bot_zapi_call_duration_seconds_count", endpoint=endpoint) == 1
    finished = {"kind": "registration", "outcome": "connected", "method": "sms"}
    assert value(after, "zapi_bot_registrations_finished_total", **finished) == 1
    assert value(after, "zapi_bot_leases_held", instance="inst-a") == 0
    assert value(after, "zapi_bot_telegram_requests_total", method="sendMessage") >= 5
    assert value(after, "zapi_bot_telegram_requests_total", method="getUpdates") >= 1
    assert value(after, "zapi_bot_outbox_backlog_messages") == 0
    assert shown(after, "zapi_bot_pending_waits")
    assert shown(after, "zapi_bot_outbox_owed_messages")
    assert_nothing_personal(text)

    process.terminate()
    assert await process.wait() == 0, process.describe()
    assert "Traceback" not in process.output


async def test_webhook_mode_serves_metrics_on_port(
    processes: Processes, telegram: TelegramDouble, zapi: ZapiDouble, migrated_sqlite_url: str
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = processes.env(
        migrated_sqlite_url, webhook_url=base, port=port, allowed_user_ids=str(MEMBER.id)
    )
    process = await processes.spawn(env)
    await process.wait_until(lambda: bool(telegram.calls_to("setWebhook")), "setWebhook call")
    chat = Chat(telegram, MEMBER)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        await wait_listening(process, http, base)
        await chat.say("/register")
        await chat.tap("inst-b")
        await chat.say("55")
        zapi.script(AVAILABLE, Reply(status=502, json={"error": "down"}))
        await chat.say(PHONE_TEXT)
        _, failed = await scrape(http, base)
        openmetrics = {"Accept": "application/openmetrics-text; version=1.0.0"}
        async with http.get(f"{base}/metrics", headers=openmetrics) as response:
            assert response.headers["Content-Type"].startswith("application/openmetrics-text")
            assert (await response.text()).rstrip().endswith("# EOF")
        assert "cancelled" in ((await chat.say("/cancel")).text or "").lower()
        text, after = await scrape(http, base)

    server_error = {"instance": "inst-b", "endpoint": AVAILABLE, "result": "server_error"}
    assert value(failed, "zapi_bot_zapi_calls_total", **server_error) == 1
    assert value(failed, "zapi_bot_zapi_calls_total", **{**server_error, "result": "ok"}) == 0
    assert value(failed, "zapi_bot_updates_total", kind="message") == 3
    assert value(failed, "zapi_bot_updates_total", kind="callback_query") == 1
    assert value(failed, "zapi_bot_leases_held", instance="inst-b") == 1
    assert value(after, "zapi_bot_updates_total", kind="message") == 4
    cancelled = {"kind": "registration", "outcome": "cancelled", "method": "none"}
    assert value(after, "zapi_bot_registrations_finished_total", **cancelled) == 1
    assert value(after, "zapi_bot_leases_held", instance="inst-b") == 0
    assert value(after, "zapi_bot_telegram_requests_total", method="setWebhook") == 1
    assert not shown(after, "zapi_bot_telegram_errors_total")
    assert_nothing_personal(text)

    process.terminate()
    assert await process.wait() == 0, process.describe()
    assert "Traceback" not in process.output


async def set_connections(database_url: str, allowed: bool) -> None:
    """Let clients connect to the database, or refuse them and end those connected."""
    name = make_url(database_url).database
    admin = make_url(POSTGRES_URL).set(drivername="postgresql")
    connection = await asyncpg.connect(admin.render_as_string(hide_password=False), timeout=5)
    try:
        await connection.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {allowed}')
        if not allowed:
            await connection.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = $1",
                name,
            )
    finally:
        await connection.close()


async def test_a_scrape_while_the_database_is_down_leaves_out_only_what_it_holds(
    processes: Processes, telegram: TelegramDouble, postgres_template: Any
) -> None:
    url = await create_postgres_database(template=postgres_template)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        process = await processes.start_polling(url, health_port=port)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            _, up = await scrape(http, base)
            assert value(up, "zapi_bot_pending_waits") == 0 and shown(up, "zapi_bot_pending_waits")
            assert shown(up, "zapi_bot_outbox_owed_messages")
            await set_connections(url, allowed=False)
            try:
                _, down = await scrape(http, base)
                async with http.get(f"{base}/healthz") as response:
                    assert response.status == 503
            finally:
                await set_connections(url, allowed=True)
        assert not shown(down, "zapi_bot_pending_waits")
        assert not shown(down, "zapi_bot_outbox_owed_messages")
        assert shown(down, "zapi_bot_leases_held")  # kept in memory once read
        assert shown(down, "zapi_bot_outbox_backlog_messages")
        assert value(down, "zapi_bot_build_info", version=__version__) == 1
        process.terminate()
        assert await process.wait() == 0, process.describe()
    finally:
        await drop_postgres_database(url)
