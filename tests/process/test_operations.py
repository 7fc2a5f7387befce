"""Operating the bot: `--version`, `migrate` with nothing but DATABASE_URL (a release phase),
and Alembic's chatter kept out of the log."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot import __version__
from tests.process_helpers import REPO_ROOT, Processes


def bare_env(**values: str) -> dict[str, str]:
    """Only what the interpreter needs, and `values`: no bot settings at all."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108 - only a fallback
        "PYTHONPATH": str(REPO_ROOT),
        **values,
    }


async def test_version_needs_no_settings(processes: Processes) -> None:
    process = await processes.run(bare_env(), "--version")
    assert process.returncode == 0, process.describe()
    assert process.stdout.strip() == f"zapi-registration-bot {__version__}"


async def test_migrate_needs_only_database_url_and_says_one_line(
    processes: Processes, tmp_path: Path
) -> None:
    path = tmp_path / "release.sqlite3"
    process = await processes.run(bare_env(DATABASE_URL=f"sqlite:///{path}"), "migrate")
    assert process.returncode == 0, process.describe()
    with sqlite3.connect(path) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"registrations", "people", "invites", "instance_states"} <= tables
    lines = [line for line in process.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].endswith("Database is at the latest revision"), lines
    assert "alembic" not in process.output.lower()


async def test_alembic_speaks_at_debug(processes: Processes, tmp_path: Path) -> None:
    path = tmp_path / "debug.sqlite3"
    env = bare_env(DATABASE_URL=f"sqlite:///{path}", LOG_LEVEL="DEBUG")
    process = await processes.run(env, "migrate")
    assert process.returncode == 0, process.describe()
    assert "Running upgrade" in process.output


async def test_http_proxy_is_honoured_for_telegram_and_z_api(
    processes: Processes, telegram: Any, zapi: Any, migrated_sqlite_url: str
) -> None:
    """HTTP(S)_PROXY routes the Bot API's calls and Z-API's through the proxy (NO_PROXY
    empty): a forwarding proxy on loopback records them."""
    seen: list[str] = []

    async def forward(request: web.Request) -> web.StreamResponse:
        seen.append(str(request.url))
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method,
                str(request.url),
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
                data=await request.read(),
            ) as answer,
        ):
            return web.Response(
                status=answer.status,
                body=await answer.read(),
                content_type=answer.content_type,
            )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        proxy = f"http://127.0.0.1:{port}"
        env = processes.env(
            migrated_sqlite_url,
            http_proxy=proxy,
            https_proxy=proxy,
            no_proxy="",
            instance_check_seconds="3600",
        )
        env.update(HTTP_PROXY=proxy, HTTPS_PROXY=proxy, NO_PROXY="")
        process = await processes.spawn(env)
        await process.wait_until(
            lambda: (
                any("/getUpdates" in url for url in seen) and any("/status" in url for url in seen)
            ),
            "calls through the proxy",
        )
        assert any(url.startswith(telegram.base_url) for url in seen)
        assert any(url.startswith(zapi.base_url) for url in seen)
    finally:
        await runner.cleanup()


async def test_health_port_serves_healthz_in_polling_mode(
    processes: Processes, telegram: Any, migrated_sqlite_url: str
) -> None:
    from tests.process_helpers import free_port

    port = free_port()
    env = processes.env(migrated_sqlite_url, health_port=port)
    process = await processes.spawn(env)
    await process.wait_until(lambda: bool(telegram.calls_to("getUpdates")), "polling")
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        assert response.status == 200
        assert await response.json() == {"ok": True, "version": __version__}
    process.terminate()
    assert await process.wait() == 0, process.describe()
    assert "Traceback" not in process.output


async def test_json_log_lines_carry_chat_instance_step_endpoint_and_outcome(
    processes: Processes, telegram: Any, zapi: Any, migrated_sqlite_url: str
) -> None:
    import json

    from tests.conftest import MEMBER
    from tests.doubles.zapi import Reply
    from tests.process_helpers import Chat

    process = await processes.start_polling(migrated_sqlite_url, log_format="json")
    chat = Chat(telegram, MEMBER)
    await chat.say("/register")
    await chat.tap("inst-a")
    await chat.say("55")
    zapi.script("mobile/registration-available", Reply(status=502, json={"error": "down"}))
    await chat.say("44 99999-9999")
    process.terminate()
    await process.wait()
    entries = [json.loads(line) for line in process.stderr.splitlines() if line.startswith("{")]
    [failed] = [e for e in entries if "failed for chat" in e["message"]]
    assert {
        key: failed.get(key) for key in ("chat", "instance", "step", "endpoint", "outcome")
    } == {
        "chat": MEMBER.id,
        "instance": "inst-a",
        "step": "phone",
        "endpoint": "mobile/registration-available",
        "outcome": "ZapiServerError",
    }


async def test_the_quick_start_registers_on_a_sandbox_with_only_a_bot_token(
    processes: Processes, telegram: Any, zapi: Any
) -> None:
    """The README's quick start: `.env.example` copied, only the token changed (here: the
    double's URL too). A stranger's phone goes from /register to "Connected"; nothing reaches
    Z-API; `check` is clean."""
    import re

    from tests.conftest import BOT_TOKEN
    from tests.doubles.telegram_api import TgUser
    from tests.process_helpers import Chat

    example = (REPO_ROOT / ".env.example").read_text(encoding="utf-8")
    dotenv = re.sub(r"(?m)^TELEGRAM_BOT_TOKEN=.*$", f"TELEGRAM_BOT_TOKEN={BOT_TOKEN}", example)
    (processes.cwd / ".env").write_text(dotenv, encoding="utf-8")
    env = bare_env(TELEGRAM_BASE_URL=telegram.base_url, PYTHONUNBUFFERED="1")

    checked = await processes.run(env, "check")
    assert checked.returncode == 0, checked.describe()
    assert "sandbox: simulated inside the bot" in checked.stdout
    assert "Placeholders" not in checked.stdout, checked.stdout

    before = len(telegram.calls_to("deleteWebhook"))
    process = await processes.spawn(env)
    await process.wait_until(lambda: len(telegram.calls_to("deleteWebhook")) > before, "polling")
    readme = " ".join((REPO_ROOT / "README.md").read_text(encoding="utf-8").split())
    steps = re.search(r"send `/register`, then `(\d+)` and `([\d -]+)`, tap SMS", readme)
    assert steps is not None, "the quick start's steps moved"
    phone = Chat(telegram, TgUser(id=777001, first_name="Newcomer", language_code="en"))
    await phone.say("/register")
    await phone.say(steps.group(1))
    assert "How should WhatsApp send the code" in (await phone.say(steps.group(2))).text
    await phone.tap("SMS")
    sms = await telegram.wait_for(
        "sendMessage", chat_id=777001, predicate=lambda c: "Sandbox SMS" in (c.text or "")
    )
    found = re.search(r"(\d{3})-(\d{3})", sms.text or "")
    assert found is not None
    telegram.send_text(phone.user, found.group(0))
    await telegram.wait_for(
        "sendMessage", chat_id=777001, predicate=lambda c: "Connected!" in (c.text or "")
    )
    assert zapi.requests == []
    process.terminate()
    assert await process.wait() == 0, process.describe()
    assert "anyone who finds the bot can rehearse" in process.output
    assert "Traceback" not in process.output
