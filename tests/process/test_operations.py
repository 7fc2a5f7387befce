"""Operating the bot: `--version`, `migrate` with nothing but DATABASE_URL (a release phase),
and Alembic's chatter kept out of the log."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

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
