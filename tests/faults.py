"""Database faults for end-to-end tests.

- `hold_sqlite_write_lock(path)`: another process holds SQLite's write lock (`BEGIN IMMEDIATE`),
  so the bot's writers wait out their busy timeout and then fail with "database is locked";
  readers still read (WAL mode).
- `lock_postgres_rows(url, table, where_sql)`: another transaction holds `SELECT ... FOR UPDATE`
  on rows, so a writer to them blocks.
- `wait_for_postgres_lock_waiters(url)`: until some backend waits on a lock (the writer above).
- `terminate_postgres_backends(url)`: `pg_terminate_backend` on the backends connected to the
  database (all but the helper's own, optionally only those waiting on a lock), as when the
  server restarts or an operator kills them.

Database URLs may be SQLAlchemy URLs (`postgresql+asyncpg://...`, `sqlite+aiosqlite:///...`)
or plain ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

__all__ = [
    "PostgresRowLock",
    "SqliteWriteLock",
    "hold_sqlite_write_lock",
    "lock_postgres_rows",
    "terminate_postgres_backends",
    "wait_for_postgres_lock_waiters",
]

# -- SQLite ----------------------------------------------------------------------------------

# Run as `python -c`: takes the write lock, says so, holds it until stdin is closed (or the
# parent dies), then lets go.
_SQLITE_LOCKER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], timeout=float(sys.argv[2]), isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
sys.stdout.write("locked\\n")
sys.stdout.flush()
sys.stdin.read()
connection.execute("ROLLBACK")
connection.close()
"""


def _sqlite_path(path: str | Path) -> Path:
    if isinstance(path, str) and path.startswith("sqlite"):
        database = make_url(path).database
        if not database or database == ":memory:":
            raise ValueError("an in-memory SQLite database cannot be locked from another process")
        path = database
    return Path(path).expanduser()


class SqliteWriteLock:
    """SQLite's write lock, held by another process (see `hold_sqlite_write_lock`)."""

    def __init__(self, path: Path, process: asyncio.subprocess.Process) -> None:
        self.path = path
        self._process = process
        self._released = False

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def held(self) -> bool:
        return not self._released

    async def release(self, timeout: float = 10.0) -> None:
        """Let go of the lock (rollback) and wait for the process to end. Idempotent."""
        if self._released:
            return
        self._released = True
        process = self._process
        if process.stdin is not None:
            process.stdin.close()
            with contextlib.suppress(ConnectionError):
                await process.stdin.wait_closed()
        try:
            async with asyncio.timeout(timeout):
                _, stderr = await process.communicate()
        except TimeoutError:
            await self.kill()
            raise RuntimeError(f"the SQLite lock holder did not exit within {timeout}s") from None
        if process.returncode != 0:
            raise RuntimeError(
                f"the SQLite lock holder failed ({process.returncode}): {stderr.decode().strip()}"
            )

    async def kill(self) -> None:
        """End the holder at once (SIGKILL): the lock goes with the process."""
        self._released = True
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            await self._process.wait()


@asynccontextmanager
async def hold_sqlite_write_lock(
    path: str | Path, *, timeout: float = 10.0
) -> AsyncIterator[SqliteWriteLock]:
    """Hold the SQLite database's write lock from another process for the block.

    Entered once the lock is held (the other process's `BEGIN IMMEDIATE` went through, waiting
    up to `timeout` for the bot's own writers); left by releasing it, unless `release()` (or
    `kill()`) did so earlier. `path` is the database file (it must exist) or an SQLAlchemy URL.
    """
    database = _sqlite_path(path)
    if not database.is_file():
        raise FileNotFoundError(f"no SQLite database at {database}")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _SQLITE_LOCKER,
        str(database),
        str(timeout),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    lock = SqliteWriteLock(database, process)
    try:
        assert process.stdout is not None
        try:
            async with asyncio.timeout(timeout + 10):
                line = await process.stdout.readline()
        except TimeoutError:
            line = b""
        if line.strip() != b"locked":
            await lock.kill()
            assert process.stderr is not None
            stderr = (await process.stderr.read()).decode().strip()
            raise RuntimeError(f"could not take the SQLite write lock on {database}: {stderr}")
        yield lock
    except BaseException:
        await lock.kill()
        raise
    await lock.release()


# -- PostgreSQL ------------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _asyncpg_dsn(database_url: str) -> str:
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {url.render_as_string()}")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _quote_table(table: str) -> str:
    parts = table.split(".")
    if not all(_IDENTIFIER.fullmatch(part) for part in parts) or len(parts) > 2:
        raise ValueError(f"not a table name: {table!r}")
    return ".".join(f'"{part}"' for part in parts)


async def _connect(database_url: str) -> asyncpg.Connection:
    return await asyncpg.connect(_asyncpg_dsn(database_url), timeout=5)


class PostgresRowLock:
    """Rows locked `FOR UPDATE` by an open transaction (see `lock_postgres_rows`)."""

    def __init__(self, connection: asyncpg.Connection, rows: Sequence[asyncpg.Record]) -> None:
        self._connection = connection
        self.rows = list(rows)
        self.pid: int = connection.get_server_pid()
        self._released = False

    @property
    def held(self) -> bool:
        return not self._released

    async def release(self) -> None:
        """End the transaction (rollback) and close the connection. Idempotent; a connection
        terminated meanwhile (e.g. by `terminate_postgres_backends`) is simply dropped."""
        if self._released:
            return
        self._released = True
        try:
            await self._connection.execute("ROLLBACK")
            await self._connection.close(timeout=5)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            self._connection.terminate()


@asynccontextmanager
async def lock_postgres_rows(
    database_url: str, table: str, where_sql: str, *args: Any
) -> AsyncIterator[PostgresRowLock]:
    """Hold `SELECT * FROM table WHERE where_sql FOR UPDATE` in an open transaction.

    `where_sql` is SQL (test code only) and may use `$1`, `$2`... bound to `args`. Entered once
    the rows are locked; at least one row must match (a lock on nothing would block nothing).
    Left by rolling back, unless `release()` did so earlier.
    """
    quoted = _quote_table(table)
    connection = await _connect(database_url)
    lock: PostgresRowLock | None = None
    try:
        await connection.execute("BEGIN")
        rows = await connection.fetch(f"SELECT * FROM {quoted} WHERE {where_sql} FOR UPDATE", *args)  # noqa: S608
        if not rows:
            raise LookupError(f"no row of {table} matches {where_sql!r}: nothing to lock")
        lock = PostgresRowLock(connection, rows)
        yield lock
    finally:
        if lock is not None:
            await lock.release()
        else:
            connection.terminate()


_BACKENDS_SQL = """
SELECT pid FROM pg_stat_activity
WHERE datname = current_database()
  AND pid <> pg_backend_pid()
  AND backend_type = 'client backend'
  AND ($1::boolean IS FALSE OR wait_event_type = 'Lock')
  AND NOT (pid = ANY($2::integer[]))
ORDER BY pid
"""


async def terminate_postgres_backends(
    database_url: str, *, waiting_on_lock: bool = False, exclude: Iterable[int] = ()
) -> list[int]:
    """Terminate the backends connected to the database, and wait until they are gone.

    All client backends but the helper's own and those in `exclude` (e.g. a
    `PostgresRowLock.pid`), or with `waiting_on_lock` only those waiting on a lock
    (`wait_event_type = 'Lock'`). Returns the terminated pids, in order.
    """
    connection = await _connect(database_url)
    try:
        pids: list[int] = [
            row["pid"]
            for row in await connection.fetch(_BACKENDS_SQL, waiting_on_lock, list(exclude))
        ]
        # With a timeout (PostgreSQL 14+) the call returns once the backend has exited.
        wait = ", 5000" if connection.get_server_version().major >= 14 else ""
        terminated: list[int] = []
        for pid in pids:
            if await connection.fetchval(f"SELECT pg_terminate_backend($1{wait})", pid):
                terminated.append(pid)
        await _wait_gone(connection, terminated)
        return terminated
    finally:
        await connection.close()


async def _wait_gone(connection: asyncpg.Connection, pids: list[int], timeout: float = 5) -> None:
    """Until none of `pids` is in pg_stat_activity any more."""
    async with asyncio.timeout(timeout):
        while pids:
            remaining = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::integer[])", pids
            )
            if not remaining:
                return
            await asyncio.sleep(0.02)


async def wait_for_postgres_lock_waiters(
    database_url: str, *, count: int = 1, timeout: float = 10.0
) -> list[int]:
    """The pids of the backends waiting on a lock in the database, once there are `count`."""
    connection = await _connect(database_url)
    try:
        try:
            async with asyncio.timeout(timeout):
                while True:
                    rows = await connection.fetch(_BACKENDS_SQL, True, [])
                    if len(rows) >= count:
                        return [row["pid"] for row in rows]
                    await asyncio.sleep(0.02)
        except TimeoutError:
            raise AssertionError(
                f"fewer than {count} backends waited on a lock within {timeout}s"
            ) from None
    finally:
        await connection.close()
