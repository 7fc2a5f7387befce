"""No output path prints a secret, and a failed start is one plain line.

The hooks are tested in this process (as `python -m bot` installs them); the failed starts run
`python -m bot` as a subprocess against the Telegram double (tests/process_helpers.py).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logging_setup import RedactingFilter, setup_logging
from tests.conftest import BOT_TOKEN, CLIENT_TOKEN, INSTANCE_TOKENS
from tests.doubles.telegram_api import TelegramDouble
from tests.process_helpers import REPO_ROOT, BotProcess, Processes, free_port

DB_PASSWORD = "db-pa55word-never-printed"
WEBHOOK_SECRET = "webhook-secret-0123456789"
SECRETS = {
    "bot token": BOT_TOKEN,
    "bot token secret part": BOT_TOKEN.split(":", 1)[1],
    "Client-Token": CLIENT_TOKEN,
    **{f"token of {name}": token for name, token in INSTANCE_TOKENS.items()},
}


def assert_no_secret(text: str, *more: str) -> None:
    for what, value in [*SECRETS.items(), *(("extra", value) for value in more)]:
        assert value not in text, f"the {what} ({value!r}) was printed:\n{text}"


# -- Python's own output goes through the redacting handler -----------------------------------


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """setup_logging reconfigures the root logger and Python's hooks: put them back."""
    root = logging.getLogger()
    level, hooks = root.level, (sys.excepthook, sys.unraisablehook, threading.excepthook)
    showwarning = warnings.showwarning
    try:
        yield
    finally:
        logging.captureWarnings(False)
        warnings.showwarning = showwarning
        sys.excepthook, sys.unraisablehook, threading.excepthook = hooks
        for handler in list(root.handlers):
            if any(isinstance(f, RedactingFilter) for f in handler.filters):
                root.removeHandler(handler)
        root.setLevel(level)


def configure(*, json_lines: bool = False) -> None:
    """As `python -m bot` does (inside the test: the handler writes to capsys's stderr)."""
    secrets = [BOT_TOKEN, CLIENT_TOKEN, *INSTANCE_TOKENS.values(), DB_PASSWORD, WEBHOOK_SECRET]
    setup_logging("INFO", secrets, json_lines=json_lines)


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_uncaught_exception_is_one_redacted_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure()
    try:
        raise RuntimeError(f"Telegram said {BOT_TOKEN} with {CLIENT_TOKEN} and {DB_PASSWORD}")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())  # what the interpreter calls as it dies
    line = one_line(capsys.readouterr().err)
    assert_no_secret(line, DB_PASSWORD)
    assert "CRITICAL" in line
    assert "RuntimeError" in line
    assert "Telegram said" in line


def test_uncaught_exception_in_a_thread_is_one_redacted_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure()

    def fail() -> None:
        raise ValueError(f"webhook secret {WEBHOOK_SECRET}")

    thread = threading.Thread(target=fail, name="worker-7")
    thread.start()
    thread.join()
    line = one_line(capsys.readouterr().err)
    assert WEBHOOK_SECRET not in line
    assert "worker-7" in line
    assert "ValueError" in line


def test_a_warning_is_one_redacted_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(f"token {INSTANCE_TOKENS['inst-a']} in a warning", UserWarning, stacklevel=1)
    line = one_line(capsys.readouterr().err)
    assert_no_secret(line)
    assert "py.warnings" in line
    assert "UserWarning" in line


class _FailsToClose:
    def __del__(self) -> None:
        raise OSError(f"closing https://api.telegram.org/bot{BOT_TOKEN}/close for {CLIENT_TOKEN}")


def test_an_unraisable_exception_is_one_redacted_line(capsys: pytest.CaptureFixture[str]) -> None:
    """What Python cannot raise (here from `__del__`) it reports as "Exception ignored in"."""
    configure()
    closing = _FailsToClose()
    del closing
    gc.collect()
    line = one_line(capsys.readouterr().err)
    assert_no_secret(line)
    assert "Exception ignored in" in line
    assert "OSError" in line


def test_hooks_write_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure(json_lines=True)
    try:
        raise KeyError(BOT_TOKEN)
    except KeyError:
        sys.excepthook(*sys.exc_info())
    entry = json.loads(one_line(capsys.readouterr().err))
    assert entry["level"] == "CRITICAL"
    assert "KeyError" in entry["message"]
    assert BOT_TOKEN not in entry["message"]


def test_the_interpreter_itself_goes_through_the_hooks(tmp_path: Path) -> None:
    """A real interpreter: an exception ignored in `__del__`, a warning and an uncaught
    exception, each one masked line (text, then JSON)."""
    script = f"""
import sys, warnings
from bot.logging_setup import setup_logging
setup_logging("INFO", [{CLIENT_TOKEN!r}], json_lines=sys.argv[1] == "json")
class Session:
    def __del__(self):
        raise OSError("unclosed, token {CLIENT_TOKEN}")
Session()
warnings.warn("token {CLIENT_TOKEN}")
raise RuntimeError("token {CLIENT_TOKEN}")
"""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO_ROOT)}
    for log_format in ("text", "json"):
        result = subprocess.run(
            [sys.executable, "-c", script, log_format],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 1, result.stderr
        assert result.stdout == ""
        assert_no_secret(result.stderr)
        lines = result.stderr.splitlines()
        assert len(lines) == 3, result.stderr
        if log_format == "json":
            lines = [json.loads(line)["message"] for line in lines]
        assert "Exception ignored in" in lines[0]
        assert "UserWarning" in lines[1]
        assert "Uncaught exception" in lines[2]
        assert "RuntimeError: token [redacted]" in lines[2]


# -- a failed start: one plain line, exit status 1 ------------------------------------------


def failed_start(process: BotProcess) -> str:
    """The one line a failed start prints; nothing on stdout, no traceback, no secret."""
    assert process.returncode == 1, process.describe()
    assert_no_secret(process.stdout + process.stderr)
    assert process.stdout == "", process.describe()
    lines = process.stderr.splitlines()
    assert len(lines) == 1, process.describe()
    for noise in ("Traceback", "Exception ignored", "Unclosed", "⏎"):
        assert noise not in lines[0], process.describe()
    return lines[0]


async def test_token_refused_by_telegram(
    processes: Processes, telegram: TelegramDouble, migrated_sqlite_url: str
) -> None:
    telegram.fail_next("getMe", 401, "Unauthorized")
    process = await processes.run(processes.env(migrated_sqlite_url))
    line = failed_start(process)
    assert "ERROR" in line
    assert "refused the bot token" in line
    assert "TELEGRAM_BOT_TOKEN" in line
    assert not telegram.calls_to("getUpdates")


async def test_token_refused_in_webhook_mode(
    processes: Processes, telegram: TelegramDouble, migrated_sqlite_url: str
) -> None:
    telegram.fail_next("getMe", 404, "Not Found")
    port = free_port()
    env = processes.env(migrated_sqlite_url, webhook_url=f"http://127.0.0.1:{port}", port=port)
    line = failed_start(await processes.run(env))
    assert "refused the bot token" in line
    assert not telegram.calls_to("setWebhook")


@pytest.mark.parametrize("suffix", ["", "/"])
async def test_base_url_without_bot_suffix(
    processes: Processes, telegram: TelegramDouble, migrated_sqlite_url: str, suffix: str
) -> None:
    """A valid token, but TELEGRAM_BASE_URL lacks its /bot: the line says the URL is wrong."""
    base_url = telegram.base_url.removesuffix("/bot") + suffix
    process = await processes.run(processes.env(migrated_sqlite_url, telegram_base_url=base_url))
    line = failed_start(process)
    assert "TELEGRAM_BASE_URL" in line
    assert "must end with /bot" in line
    assert "https://api.telegram.org/bot" in line


async def test_telegram_unreachable(processes: Processes, migrated_sqlite_url: str) -> None:
    closed = free_port()
    env = processes.env(migrated_sqlite_url, telegram_base_url=f"http://127.0.0.1:{closed}/bot")
    line = failed_start(await processes.run(env))
    assert "Could not reach Telegram" in line
    assert f"127.0.0.1:{closed}" in line


async def test_failed_start_in_json(
    processes: Processes, telegram: TelegramDouble, migrated_sqlite_url: str
) -> None:
    telegram.fail_next("getMe", 401, "Unauthorized")
    process = await processes.run(processes.env(migrated_sqlite_url, log_format="json"))
    entry = json.loads(failed_start(process))
    assert entry["level"] == "ERROR"
    assert "refused the bot token" in entry["message"]


async def test_failed_migration_is_one_line(processes: Processes) -> None:
    """The migration child (`python -m bot`) and `python -m bot migrate` alike (at ERROR: Alembic
    says at INFO what it sets up)."""
    closed = free_port()
    url = f"postgresql://bot:{DB_PASSWORD}@127.0.0.1:{closed}/bot"
    env = processes.env(url, log_level="ERROR")
    for args in ((), ("migrate",)):
        process = await processes.run(env, *args)
        line = failed_start(process)
        assert DB_PASSWORD not in process.output
        assert "Could not migrate the database: 127.0.0.1:" in line, args
        assert f"{closed} is unreachable (ConnectionRefusedError); check DATABASE_URL" in line
