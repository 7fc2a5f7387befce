"""`python -m bot check`: settings, bot token, each Z-API instance and the database, as a table.

Every probe runs at once, each bounded by ZAPI_TIMEOUT_SECONDS plus a margin, so the whole
check takes about one timeout however many instances hang. A row is ok, WARN (worth fixing,
the bot still runs: a database it will migrate at start, no admins, values left from
.env.example, SQLite where the disk is wiped) or FAIL; only a FAIL makes the exit status
non-zero. The check creates nothing: a missing SQLite file is reported, not made.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import aiohttp
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.config import InstanceConfig, Settings
from bot.storage.database import Database
from bot.storage.migrate import current_revision, head_revision
from bot.zapi import ZapiAuthError, ZapiClient, ZapiError

__all__ = ["CheckResult", "run_checks"]

Status = Literal["ok", "WARN", "FAIL"]
# Beyond ZAPI_TIMEOUT_SECONDS, for a probe's own retries and its connection's set-up.
MARGIN_SECONDS = 3.0
EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"
DEFAULT_BOT_URL = "https://api.telegram.org/bot"


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    status: Status
    detail: str

    @property
    def ok(self) -> bool:
        return self.status != "FAIL"


async def _check_bot(settings: Settings) -> CheckResult:
    """getMe, asked directly: its HTTP status tells a wrong URL (404) from a refused token (401),
    which python-telegram-bot reports alike. The URL carries the token: it is never shown."""
    name = "Telegram bot token"
    base = settings.telegram_base_url
    if not base.endswith("/bot"):  # the token is appended to it
        return CheckResult(
            name, "FAIL", f"TELEGRAM_BASE_URL {base!r} must end with /bot, e.g. {DEFAULT_BOT_URL}"
        )
    url = f"{base}{settings.telegram_bot_token.get_secret_value()}/getMe"
    try:
        async with (
            aiohttp.ClientSession(trust_env=True) as session,
            session.get(
                url, timeout=aiohttp.ClientTimeout(total=settings.telegram_timeout_seconds)
            ) as answer,
        ):
            status = answer.status
            body = await answer.json(content_type=None) if status == 200 else None
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        return CheckResult(name, "FAIL", f"Telegram not reachable ({type(error).__name__})")
    if status == 404:
        return CheckResult(
            name,
            "FAIL",
            f"Telegram answered 404 Not Found: TELEGRAM_BASE_URL {base!r} looks wrong, or the "
            "token is not one BotFather gave",
        )
    if status == 401:
        return CheckResult(name, "FAIL", "refused by Telegram (401): check TELEGRAM_BOT_TOKEN")
    result = body.get("result") if isinstance(body, dict) else None
    if status != 200 or not isinstance(result, dict):
        return CheckResult(name, "FAIL", f"Telegram answered HTTP {status}")
    return CheckResult(name, "ok", f"@{result.get('username')}")


async def _check_instance(zapi: ZapiClient, instance: InstanceConfig) -> CheckResult:
    name = f"Z-API instance {instance.name}"
    if instance.sandbox:
        return CheckResult(name, "ok", "sandbox: simulated inside the bot, no Z-API account used")
    try:
        status = await zapi.status(instance)
    except ZapiAuthError:
        return CheckResult(name, "FAIL", "credentials refused (Client-Token or token)")
    except ZapiError as error:
        return CheckResult(name, "FAIL", f"unreachable ({type(error).__name__})")
    state = "connected (already holds a number)" if status.connected else "not connected"
    return CheckResult(name, "ok", f"reachable, credentials valid, {state}")


def _no_sqlite_file(settings: Settings) -> bool:
    """An SQLite database whose file does not exist yet (connecting would create it)."""
    url = make_url(settings.database_url)
    return (
        url.get_backend_name() == "sqlite"
        and bool(url.database)
        and not (Path(str(url.database)).exists())
    )


async def _check_database(settings: Settings) -> CheckResult:
    if _no_sqlite_file(settings):
        return CheckResult("Database", "WARN", "no SQLite file yet: created and migrated at start")
    database = Database(settings.database_url)
    try:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        current, head = await current_revision(database), head_revision()
    except Exception as error:  # any failure to reach the database is the finding
        return CheckResult("Database", "FAIL", f"unreachable ({type(error).__name__})")
    finally:
        await database.dispose()
    if current != head:
        return CheckResult(
            "Database",
            "WARN",
            f"at revision {current or 'none'}, head is {head}: migrated at start",
        )
    return CheckResult("Database", "ok", f"reachable, migrations at head ({head})")


def _placeholders(settings: Settings) -> list[str]:
    """The settings still holding .env.example's values."""
    if not EXAMPLE.exists():
        return []
    # Commented-out examples count too: uncommented unedited, they are placeholders as well.
    example: dict[str, set[str]] = {}
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        key, equals, value = line.lstrip("# ").partition("=")
        if equals and re.fullmatch(r"[A-Z_]+", key.strip()):
            example.setdefault(key.strip(), set()).add(value.strip())
    current = {
        "TELEGRAM_BOT_TOKEN": settings.telegram_bot_token.get_secret_value(),
        "ZAPI_CLIENT_TOKEN": settings.zapi_client_token.get_secret_value(),
        "ZAPI_INSTANCES": settings.zapi_instances.get_secret_value(),
        "ALLOWED_USER_IDS": ",".join(str(n) for n in sorted(settings.allowed_user_ids)),
        "ADMIN_USER_IDS": ",".join(str(n) for n in sorted(settings.admin_user_ids)),
    }
    if settings.sandboxes == {item.name for item in settings.instances}:
        del current["ZAPI_INSTANCES"]  # sandboxes are no placeholder: they work as they are
    return [key for key, value in current.items() if value and value in example.get(key, ())]


def _warnings(settings: Settings) -> list[CheckResult]:
    results = []
    if not settings.admin_user_ids:
        results.append(
            CheckResult(
                "Admins",
                "WARN",
                "ADMIN_USER_IDS is empty: nobody can /allow or answer requests for access, and "
                "alerts reach nobody",
            )
        )
    left = _placeholders(settings)
    if left:
        results.append(
            CheckResult("Placeholders", "WARN", f"still as in .env.example: {', '.join(left)}")
        )
    if os.environ.get("DYNO") and make_url(settings.database_url).get_backend_name() == "sqlite":
        results.append(
            CheckResult(
                "Storage",
                "WARN",
                "SQLite on a platform whose disk is wiped at every restart (DYNO is set): "
                "set DATABASE_URL to a PostgreSQL database",
            )
        )
    return results


async def _bounded(name: str, probe: Awaitable[CheckResult], seconds: float) -> CheckResult:
    try:
        async with asyncio.timeout(seconds):
            return await probe
    except TimeoutError:
        return CheckResult(name, "FAIL", f"no answer within {seconds:.0f} s")


def format_table(results: list[CheckResult]) -> str:
    width = max(len(result.name) for result in results)
    lines = [f"{'check'.ljust(width)}  status  detail", f"{'-' * width}  ------  ------"]
    lines += [f"{r.name.ljust(width)}  {r.status:6}  {r.detail}" for r in results]
    return "\n".join(lines)


async def run_checks(settings: Settings) -> int:
    limit = settings.zapi_timeout_seconds + MARGIN_SECONDS
    async with ZapiClient(
        str(settings.zapi_base_url),
        settings.zapi_client_token,
        timeout=settings.zapi_timeout_seconds,
    ) as zapi:
        probes = [
            _bounded("Telegram bot token", _check_bot(settings), limit),
            *(
                _bounded(f"Z-API instance {item.name}", _check_instance(zapi, item), limit)
                for item in settings.instances
            ),
            _bounded("Database", _check_database(settings), limit),
        ]
        found = await asyncio.gather(*probes)
    results = [
        CheckResult("Settings", "ok", f"{len(settings.instances)} instance(s)"),
        *found,
        *_warnings(settings),
    ]
    print(format_table(results))
    return 0 if all(result.ok for result in results) else 1
