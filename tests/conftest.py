"""Shared fixtures: the Z-API and Telegram doubles on loopback, databases, and a running bot."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bot.config import Settings, load_settings
from bot.storage.database import Database
from bot.storage.migrate import upgrade
from tests.doubles.telegram_api import TelegramDouble, TgUser
from tests.doubles.zapi import ZapiDouble
from tests.harness import BotHarness

if TYPE_CHECKING:  # process_helpers imports this module
    from tests.process_helpers import Processes

BOT_TOKEN = "123456:TEST-bot-token-ABCDEFGHIJKLMNOP"
CLIENT_TOKEN = "ct-secret-client-token-0123456789"
INSTANCE_TOKENS = {"inst-a": "tok-aaaaaaaaaaaaaaaaaaaa", "inst-b": "tok-bbbbbbbbbbbbbbbbbbbb"}
MEMBER = TgUser(id=1001, first_name="Ana", language_code="en")
OTHER_MEMBER = TgUser(id=1002, first_name="Bruno", language_code="en")
PT_MEMBER = TgUser(id=1003, first_name="Carla", language_code="pt-BR")
ADMIN = TgUser(id=9001, first_name="Dora", language_code="en")
STRANGER = TgUser(id=6666, first_name="Eve", language_code="en")
POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
async def zapi() -> AsyncIterator[ZapiDouble]:
    async with ZapiDouble(client_token=CLIENT_TOKEN, instances=dict(INSTANCE_TOKENS)) as double:
        yield double


@pytest.fixture
async def telegram() -> AsyncIterator[TelegramDouble]:
    async with TelegramDouble(token=BOT_TOKEN) as double:
        yield double
        assert double.violations == [], double.violations


async def create_postgres_database() -> str:
    """A fresh, empty database on the test server; fails loudly when the server is down."""
    url = make_url(POSTGRES_URL)
    name = f"bot_test_{uuid.uuid4().hex[:12]}"
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        connection = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        pytest.fail(
            f"PostgreSQL is not reachable at {url.render_as_string()} ({error}). Start it, or "
            "point TEST_POSTGRES_URL at a server: storage tests run on both databases.",
            pytrace=False,
        )
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return url.set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(database_url: str) -> None:
    url = make_url(database_url)
    admin = make_url(POSTGRES_URL).set(drivername="postgresql")
    connection = await asyncpg.connect(admin.render_as_string(hide_password=False), timeout=5)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Every storage test runs on an SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
        return
    url = await create_postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(url)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated database, as the bot has it after `python -m bot migrate`."""
    database = Database(database_url)
    await upgrade(database)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"


def settings_env(
    zapi: ZapiDouble, telegram: TelegramDouble, database_url: str, **overrides: Any
) -> dict[str, str]:
    """The environment a deployment would set, pointing at the doubles."""
    env = {
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_BASE_URL": telegram.base_url,
        "ZAPI_BASE_URL": zapi.base_url,
        "ZAPI_CLIENT_TOKEN": CLIENT_TOKEN,
        "ZAPI_INSTANCES": ",".join(f"{name}={name}:{tok}" for name, tok in INSTANCE_TOKENS.items()),
        "ZAPI_TIMEOUT_SECONDS": "2",
        "DATABASE_URL": database_url,
        "ALLOWED_USER_IDS": f"{MEMBER.id},{OTHER_MEMBER.id},{PT_MEMBER.id}",
        "ADMIN_USER_IDS": str(ADMIN.id),
        "CONVERSATION_TIMEOUT_SECONDS": "900",
        "TELEGRAM_MAX_MESSAGES_PER_SECOND": "0",
        "LOG_LEVEL": "INFO",
    }
    env.update({key.upper(): str(value) for key, value in overrides.items()})
    return env


def make_settings(env: dict[str, str]) -> Settings:
    return load_settings(_env_file=None, **{key.lower(): value for key, value in env.items()})


@pytest.fixture
async def start_bot(
    zapi: ZapiDouble, telegram: TelegramDouble, sqlite_url: str
) -> AsyncIterator[Callable[..., Any]]:
    """`await start_bot(**settings)` runs the real Application here until the test ends."""
    harnesses: list[BotHarness] = []

    async def start(database_url: str | None = None, **overrides: Any) -> BotHarness:
        env = settings_env(zapi, telegram, database_url or sqlite_url, **overrides)
        harness = BotHarness(make_settings(env), telegram)
        await harness.start()
        harnesses.append(harness)
        return harness

    yield start
    for harness in reversed(harnesses):
        await harness.stop()


@pytest.fixture
async def processes(
    tmp_path: Path, zapi: ZapiDouble, telegram: TelegramDouble
) -> AsyncIterator[Processes]:
    """Runs the bot as a subprocess (`python -m bot`), as deployed; all stopped at the end."""
    from tests.process_helpers import Processes

    workdir = tmp_path / "cwd"
    workdir.mkdir()
    procs = Processes(workdir, zapi, telegram)
    try:
        yield procs
    finally:
        await procs.cleanup()
