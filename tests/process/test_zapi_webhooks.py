"""Z-API's connection webhooks, on the deployed process: a disconnect is alerted within
seconds, forged calls change nothing, the secret never shows; `python -m bot zapi-webhooks`."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from bot.zapi_webhooks import zapi_webhook_secret
from tests.conftest import ADMIN, BOT_TOKEN, make_settings
from tests.doubles.telegram_api import TelegramDouble
from tests.doubles.zapi import ZapiDouble
from tests.harness import settle
from tests.process_helpers import Processes, free_port


async def post(url: str, body: Any, *, raw: bytes | None = None) -> int:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        data = raw if raw is not None else None
        kwargs: dict[str, Any] = {"data": data} if raw is not None else {"json": body}
        async with http.post(url, **kwargs) as response:
            return response.status


async def test_a_disconnect_webhook_is_alerted_within_seconds_and_forgeries_are_refused(
    processes: Processes, telegram: TelegramDouble, zapi: ZapiDouble, migrated_sqlite_url: str
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    zapi.set_connected("inst-a")
    env = processes.env(
        migrated_sqlite_url, webhook_url=base, port=port, instance_check_seconds=3600
    )
    secret = zapi_webhook_secret(make_settings(env))
    process = await processes.spawn(env)
    await process.wait_until(lambda: bool(telegram.calls_to("setWebhook")), "setWebhook call")
    await process.wait_until(lambda: len(zapi.requests_to("status")) >= 2, "the first check")
    url = f"{base}/zapi/{secret}"
    disconnected = {
        "type": "DisconnectedCallback",
        "disconnected": True,
        "error": "Device has been disconnected",
        "momment": 1580163342,
        "instanceId": "inst-a",
        "extra": "fields are tolerated",
    }
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:  # until the server listens
        try:
            status = await post(f"{url}/disconnected", {"instanceId": "nobody"})
            break
        except aiohttp.ClientConnectorError:
            assert loop.time() < deadline, process.describe()
            await asyncio.sleep(0.1)
    assert status == 404  # an instance not in ZAPI_INSTANCES

    forged = [
        (f"{base}/zapi/not-the-secret/disconnected", disconnected, None),
        (f"{url}/restarted", disconnected, None),  # not an event the bot takes
        (f"{url}/disconnected", None, b"{not json"),
        (f"{url}/disconnected", {**disconnected, "disconnected": False}, None),
        (f"{url}/connected", disconnected, None),  # the wrong event's body
        (f"{base}/zapi/{secret}", disconnected, None),
    ]
    for address, body, raw in forged:
        assert await post(address, body, raw=raw) == 404, address.replace(secret, "…")
    await settle(0.5)
    assert telegram.calls_to("sendMessage", ADMIN.id) == []

    sent = time.monotonic()
    assert await post(f"{url}/disconnected", disconnected) == 200
    alert = await telegram.next_reply(ADMIN.id, timeout=10)
    assert time.monotonic() - sent < 5
    assert alert.text == "🔴 Instance inst-a lost its connection: Device has been disconnected."
    # Told once, however often Z-API repeats itself.
    assert await post(f"{url}/disconnected", disconnected) == 200
    connected = {
        "type": "ConnectedCallback",
        "connected": True,
        "momment": "1580163342",  # a string here, an integer in the other: both as documented
        "instanceId": "inst-a",
        "phone": "5544999999999",
    }
    assert await post(f"{url}/connected", connected) == 200
    back = await telegram.next_reply(ADMIN.id, timeout=10)
    assert back.text == "🟢 Instance inst-a is connected again."
    await settle(0.5)
    assert len(telegram.calls_to("sendMessage", ADMIN.id)) == 2

    process.terminate()
    await process.wait()
    assert secret not in process.output, "the webhook secret reached the log"
    assert BOT_TOKEN not in process.output


async def test_zapi_webhooks_sets_every_instances_urls_and_prints_no_secret(
    processes: Processes, zapi: ZapiDouble, migrated_sqlite_url: str
) -> None:
    env = processes.env(migrated_sqlite_url, webhook_url="https://bot.example.com/base")
    secret = zapi_webhook_secret(make_settings(env))
    process = await processes.run(env, "zapi-webhooks")
    assert process.returncode == 0, process.describe()
    for instance in ("inst-a", "inst-b"):
        assert zapi.webhooks(instance) == {
            "connected": f"https://bot.example.com/base/zapi/{secret}/connected",
            "disconnected": f"https://bot.example.com/base/zapi/{secret}/disconnected",
        }
        assert (
            f"{instance}: connected webhook set to https://bot.example.com/base/zapi/…/connected"
            in process.stdout
        )
    assert secret not in process.output


async def test_zapi_webhooks_needs_an_https_webhook_url(
    processes: Processes, zapi: ZapiDouble, migrated_sqlite_url: str
) -> None:
    for overrides in ({}, {"webhook_url": "http://bot.example.com"}):
        process = await processes.run(
            processes.env(migrated_sqlite_url, **overrides), "zapi-webhooks"
        )
        assert process.returncode == 1, process.describe()
        assert "WEBHOOK_URL must be set to the bot's public https:// address" in process.stdout
    assert not zapi.requests_to("update-webhook-connected")
