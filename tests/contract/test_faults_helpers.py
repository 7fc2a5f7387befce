"""The database fault helpers of tests/faults.py do what end-to-end fault tests rely on."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import exc, text

from bot.storage.database import Database
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.faults import (
    hold_sqlite_write_lock,
    lock_postgres_rows,
    terminate_postgres_backends,
    wait_for_postgres_lock_waiters,
)

# -- SQLite ----------------------------------------------------------------------------------


def make_wal_database(path: Path) -> Path:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)")
    connection.execute("INSERT INTO counter VALUES (1, 0)")
    connection.close()
    return path


def increment(path: Path, busy_timeout: float = 0.2) -> None:
    """A writer like the bot's: BEGIN IMMEDIATE, waiting at most `busy_timeout` for the lock."""
    connection = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("UPDATE counter SET value = value + 1")
        connection.execute("COMMIT")
    finally:
        connection.close()


def value(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        return int(connection.execute("SELECT value FROM counter").fetchone()[0])
    finally:
        connection.close()


async def test_sqlite_write_lock_blocks_writers_until_released(tmp_path: Path) -> None:
    path = make_wal_database(tmp_path / "bot.sqlite3")
    async with hold_sqlite_write_lock(path) as lock:
        assert lock.held
        assert lock.pid > 0
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            await asyncio.to_thread(increment, path)
        assert time.monotonic() - started >= 0.15  # it waited out its busy timeout
        assert await asyncio.to_thread(value, path) == 0  # WAL: readers are not blocked
        await lock.release()
        assert not lock.held
        await asyncio.to_thread(increment, path)
        await lock.release()  # idempotent
    assert await asyncio.to_thread(value, path) == 1

    # Leaving the block releases the lock; an SQLAlchemy URL names the file too.
    async with hold_sqlite_write_lock(f"sqlite+aiosqlite:///{path}"):
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            await asyncio.to_thread(increment, path)
    await asyncio.to_thread(increment, path)
    assert await asyncio.to_thread(value, path) == 2


async def test_sqlite_write_lock_against_the_bots_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    database = Database(url, busy_timeout_ms=200)
    try:
        async with database.session() as session:
            await session.execute(text("CREATE TABLE notes (body TEXT)"))
        async with hold_sqlite_write_lock(url) as lock:
            with pytest.raises(exc.OperationalError, match="database is locked"):
                async with database.session() as session:
                    await session.execute(text("INSERT INTO notes VALUES ('locked out')"))
            async with database.reader() as reader:
                assert (await reader.execute(text("SELECT count(*) FROM notes"))).scalar() == 0
            await lock.kill()  # the lock goes with the process
            async with database.session() as session:
                await session.execute(text("INSERT INTO notes VALUES ('after')"))
    finally:
        await database.dispose()


async def test_sqlite_write_lock_needs_an_existing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        async with hold_sqlite_write_lock(tmp_path / "missing.sqlite3"):
            pass
    assert not (tmp_path / "missing.sqlite3").exists()


# -- PostgreSQL ------------------------------------------------------------------------------


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    url = await create_postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(url)


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)


async def make_items(url: str) -> asyncpg.Connection:
    connection = await connect(url)
    await connection.execute("CREATE TABLE items (id integer PRIMARY KEY, value integer NOT NULL)")
    await connection.execute("INSERT INTO items VALUES (1, 0), (2, 0)")
    return connection


async def test_locked_rows_block_a_writer_that_is_then_terminated(pg_url: str) -> None:
    setup = await make_items(pg_url)
    writer = await connect(pg_url)
    try:
        async with lock_postgres_rows(pg_url, "items", "id = $1", 1) as lock:
            assert [row["id"] for row in lock.rows] == [1]
            blocked = asyncio.create_task(writer.execute("UPDATE items SET value = 1 WHERE id = 1"))
            assert await wait_for_postgres_lock_waiters(pg_url) == [writer.get_server_pid()]
            await setup.execute("UPDATE items SET value = 5 WHERE id = 2")  # other rows are free
            assert not blocked.done()

            terminated = await terminate_postgres_backends(pg_url, waiting_on_lock=True)
            assert terminated == [writer.get_server_pid()]
            with pytest.raises(
                (asyncpg.ConnectionDoesNotExistError, asyncpg.AdminShutdownError),
                match="terminating connection due to administrator command",
            ):
                await blocked
            # Only the waiter went: the lock holder and the idle connection are still there.
            assert lock.held
            assert await setup.fetchval("SELECT 1") == 1
        assert await setup.fetch("SELECT id, value FROM items ORDER BY id") == [(1, 0), (2, 5)]
        # The rows are free again.
        await setup.execute("UPDATE items SET value = 3 WHERE id = 1")
    finally:
        await setup.close()
        writer.terminate()


async def test_terminate_every_other_backend(pg_url: str) -> None:
    setup = await make_items(pg_url)
    idle = await connect(pg_url)
    async with lock_postgres_rows(pg_url, "items", "true") as lock:
        assert len(lock.rows) == 2
        spared = await terminate_postgres_backends(pg_url, exclude=[lock.pid])
        assert spared == sorted([setup.get_server_pid(), idle.get_server_pid()])
        for gone in (setup, idle):
            with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError)):
                await gone.fetchval("SELECT 1")
        assert await terminate_postgres_backends(pg_url, waiting_on_lock=True) == []
        # Without `exclude`, the lock holder goes too; releasing it afterwards is harmless.
        assert await terminate_postgres_backends(pg_url) == [lock.pid]
        await lock.release()
    checker = await connect(pg_url)
    try:
        await checker.execute("UPDATE items SET value = 1")  # nothing is locked any more
    finally:
        await checker.close()


async def test_lock_postgres_rows_refuses_nothing_to_lock(pg_url: str) -> None:
    setup = await make_items(pg_url)
    try:
        with pytest.raises(LookupError, match="nothing to lock"):
            async with lock_postgres_rows(pg_url, "items", "id = $1", 99):
                pass
        with pytest.raises(ValueError, match="not a table name"):
            async with lock_postgres_rows(pg_url, "items; DROP TABLE items", "true"):
                pass
        assert await setup.fetchval("SELECT count(*) FROM items") == 2
    finally:
        await setup.close()
