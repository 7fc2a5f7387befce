"""Shared fixtures: the Z-API and Telegram doubles on loopback, databases, and a running bot."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bot.config import Settings, load_settings
from bot.storage.database import Database
from bot.storage.migrate import upgrade
from tests.clock import TestClock
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
T = TypeVar("T")
POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def clock() -> TestClock:
    """The time the bot and the Z-API double read; `await clock.advance(s)` skips ahead."""
    return TestClock()


@pytest.fixture
async def zapi(clock: TestClock) -> AsyncIterator[ZapiDouble]:
    async with ZapiDouble(
        client_token=CLIENT_TOKEN, instances=dict(INSTANCE_TOKENS), clock=clock.monotonic
    ) as double:
        yield double


@pytest.fixture
async def telegram() -> AsyncIterator[TelegramDouble]:
    async with TelegramDouble(token=BOT_TOKEN) as double:
        yield double
        assert double.violations == [], double.violations
        # At any moment at most one message of a chat has working buttons.
        assert double.keyboard_overlaps == [], double.keyboard_overlaps


async def create_postgres_database(*, template: str | None = None) -> str:
    """A fresh database on the test server, empty or a copy of `template` (a database name);
    fails loudly when the server is down."""
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
        copy_of = f' TEMPLATE "{template}"' if template else ""
        await connection.execute(f'CREATE DATABASE "{name}"{copy_of}')
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


async def _migrate(database_url: str) -> None:
    database = Database(database_url)
    try:
        await upgrade(database)
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file at head, migrated once per session: copies of it save each test the
    migrations (the bot still runs them at start, and finds nothing to do)."""
    path = tmp_path_factory.mktemp("template") / "bot.sqlite3"
    run_aside(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """The name of a PostgreSQL database at head, migrated once per session, to copy."""
    url = run_aside(create_postgres_database())
    run_aside(_migrate(url))
    try:
        yield str(make_url(url).database)
    finally:
        run_aside(drop_postgres_database(url))


def run_aside(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to the end on an event loop of its own, in another thread: session
    fixtures are set up from inside a test's running loop as well as outside one."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(params=["sqlite", "postgresql"])
async def migrated_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> AsyncIterator[str]:
    """A database at head, as the bot has it after `python -m bot migrate`, on both engines."""
    if request.param == "sqlite":
        yield copy_sqlite_template(sqlite_template, tmp_path)
        return
    template = request.getfixturevalue("postgres_template")
    url = await create_postgres_database(template=template)
    try:
        yield url
    finally:
        await drop_postgres_database(url)


def copy_sqlite_template(template: Path, directory: Path) -> str:
    for source in template.parent.iterdir():  # the file and any -wal/-shm beside it
        shutil.copy(source, directory / source.name)
    return f"sqlite+aiosqlite:///{directory / template.name}"


@pytest.fixture
async def db(migrated_url: str) -> AsyncIterator[Database]:
    """A migrated database, as the bot has it after `python -m bot migrate`."""
    database = Database(migrated_url)
    await upgrade(database)  # at head already: checks the revision, changes nothing
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """Where an SQLite database would be; nothing there yet."""
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"


@pytest.fixture
def migrated_sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """An SQLite database at head (a copy of the session's template)."""
    return copy_sqlite_template(sqlite_template, tmp_path)


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
        # Off unless a test is about them: the monitor's probes and the feed's messages would
        # otherwise mix into what other tests count.
        "INSTANCE_CHECK_SECONDS": "0",
        "ALERT_FEED": "0",
    }
    env.update({key.upper(): str(value) for key, value in overrides.items()})
    return env


def make_settings(env: dict[str, str]) -> Settings:
    return load_settings(_env_file=None, **{key.lower(): value for key, value in env.items()})


@pytest.fixture
async def start_bot(
    zapi: ZapiDouble, telegram: TelegramDouble, migrated_sqlite_url: str, clock: TestClock
) -> AsyncIterator[Callable[..., Any]]:
    """`await start_bot(**settings)` runs the real Application here until the test ends."""
    harnesses: list[BotHarness] = []

    async def start(database_url: str | None = None, **overrides: Any) -> BotHarness:
        env = settings_env(zapi, telegram, database_url or migrated_sqlite_url, **overrides)
        harness = BotHarness(make_settings(env), telegram, clock)
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
