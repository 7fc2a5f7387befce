"""Logging: secrets masked everywhere, quiet HTTP libraries, one line (text or JSON) per event."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot.config import InstanceConfig, Settings, load_settings
from bot.logging_setup import RedactingFilter, setup_logging
from bot.zapi import ZapiClient
from tests.conftest import BOT_TOKEN, CLIENT_TOKEN, INSTANCE_TOKENS
from tests.doubles.zapi import ZapiDouble

TOKEN_A = INSTANCE_TOKENS["inst-a"]
TOKEN_B = INSTANCE_TOKENS["inst-b"]
SECRETS = [BOT_TOKEN, CLIENT_TOKEN, TOKEN_A, TOKEN_B]
QUIET = ["httpx", "httpcore", "hpack", "apscheduler", "aiosqlite", "asyncio", "telegram"]

log = logging.getLogger("bot.test_logging")


def make_settings(**overrides: str) -> Settings:
    return load_settings(
        _env_file=None,
        telegram_bot_token=BOT_TOKEN,
        zapi_client_token=CLIENT_TOKEN,
        zapi_instances=f"inst-a=inst-a:{TOKEN_A},inst-b=inst-b:{TOKEN_B}",
        **overrides,
    )


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """setup_logging reconfigures the root logger and Python's hooks: put things back for the
    other tests."""
    root = logging.getLogger()
    level = root.level
    levels = {name: logging.getLogger(name).level for name in QUIET}
    hooks = (sys.excepthook, sys.unraisablehook, threading.excepthook, warnings.showwarning)
    yield
    logging.captureWarnings(False)
    sys.excepthook, sys.unraisablehook, threading.excepthook, warnings.showwarning = hooks
    for handler in list(root.handlers):
        if any(isinstance(f, RedactingFilter) for f in handler.filters):
            root.removeHandler(handler)
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)


def configure(level: str = "INFO", log_format: str = "text") -> Settings:
    """Configure logging the way `python -m bot` does, from settings."""
    settings = make_settings(log_level=level, log_format=log_format)
    setup_logging(settings.log_level, settings.secrets(), json_lines=settings.log_format == "json")
    return settings


def assert_no_secrets(text: str, *more: str) -> None:
    for secret in [*SECRETS, *more]:
        assert secret not in text, f"{secret!r} leaked into the log:\n{text}"


# -- redaction ------------------------------------------------------------------------------


def test_secrets_masked_in_messages_and_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    configure()
    log.info(f"token in the message {BOT_TOKEN} and {CLIENT_TOKEN}")
    log.info("token in an argument %s / %s", TOKEN_A, TOKEN_B)
    log.warning("in a structure %r", {"client_token": CLIENT_TOKEN, "tokens": [TOKEN_A]})
    log.error("in a URL %s", f"https://api.telegram.org/bot{BOT_TOKEN}/getUpdates")
    err = capsys.readouterr().err
    assert_no_secrets(err)
    lines = err.splitlines()
    assert len(lines) == 4
    assert "token in the message" in lines[0]
    assert "token in an argument" in lines[1]
    assert "client_token" in lines[2]
    assert "https://api.telegram.org/bot" in lines[3]
    assert "getUpdates" in lines[3]


def test_secrets_masked_in_tracebacks(capsys: pytest.CaptureFixture[str]) -> None:
    configure()
    try:
        try:
            raise KeyError(f"bot {BOT_TOKEN}")
        except KeyError as inner:
            raise RuntimeError(f"Z-API refused {CLIENT_TOKEN} for {TOKEN_A}") from inner
    except RuntimeError:
        log.exception("call failed on %s", TOKEN_B)
    err = capsys.readouterr().err
    assert_no_secrets(err)
    assert "RuntimeError" in err
    assert "KeyError" in err
    assert "call failed on" in err


def test_exception_text_carrying_a_token_url(capsys: pytest.CaptureFixture[str]) -> None:
    """httpx puts the whole request URL, instance token included, in its exception texts."""
    configure()
    url = f"https://api.z-api.io/instances/inst-a/token/{TOKEN_A}/status"
    response = httpx.Response(404, request=httpx.Request("GET", url))
    try:
        response.raise_for_status()
    except httpx.HTTPStatusError as error:
        log.warning("Z-API failed: %s", error, exc_info=True)
    err = capsys.readouterr().err
    assert_no_secrets(err)
    assert "HTTPStatusError" in err
    assert "404" in err


@pytest.mark.parametrize(
    "url",
    [
        "https://api.z-api.io/instances/3C0FFEE0/token/UNKNOWN-TOKEN-9f8e7d6c/mobile/status",
        "http://127.0.0.1:8080/instances/x/token/zz9zz9zz9/status?x=1",
    ],
)
def test_unknown_token_in_a_zapi_url_is_masked(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    configure()
    log.info("GET %s", url)
    err = capsys.readouterr().err
    assert "UNKNOWN-TOKEN-9f8e7d6c" not in err
    assert "zz9zz9zz9" not in err
    assert "/instances/" in err
    assert "/token/" in err


def test_another_bot_token_shape_is_masked(capsys: pytest.CaptureFixture[str]) -> None:
    configure()
    other = "987654321:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"
    log.info("https://api.telegram.org/bot%s/getMe", other)
    err = capsys.readouterr().err
    assert other not in err
    assert "getMe" in err


def test_filter_on_its_own() -> None:
    redact = RedactingFilter([CLIENT_TOKEN, TOKEN_A, ""]).redact
    assert CLIENT_TOKEN not in redact(f"header Client-Token: {CLIENT_TOKEN}")
    assert TOKEN_A not in redact(f"..{TOKEN_A}..{TOKEN_A}")
    assert redact("nothing secret here") == "nothing secret here"


# -- levels ---------------------------------------------------------------------------------


def test_http_libraries_are_quiet_even_at_debug(capsys: pytest.CaptureFixture[str]) -> None:
    configure("DEBUG")
    assert logging.getLogger().getEffectiveLevel() == logging.DEBUG
    for name in ("httpx", "httpcore"):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING, name
        assert logging.getLogger(f"{name}.child").getEffectiveLevel() >= logging.WARNING, name
    log.debug("debug is on")
    assert "debug is on" in capsys.readouterr().err


async def test_zapi_calls_at_debug_leak_no_url_or_token(
    zapi: ZapiDouble, capsys: pytest.CaptureFixture[str]
) -> None:
    configure("DEBUG")
    instance = InstanceConfig("inst-a", "inst-a", SecretStr(TOKEN_A))
    async with ZapiClient(zapi.base_url, SecretStr(CLIENT_TOKEN), timeout=2) as client:
        await client.status(instance)
        await client.registration_available(instance, "55", "4499999999")
    log.debug("done")
    err = capsys.readouterr().err
    assert "done" in err
    assert "HTTP Request" not in err  # httpx's per-request INFO line carries the URL
    assert_no_secrets(err)
    assert f"/token/{TOKEN_A}" not in err


def test_log_level_is_applied(capsys: pytest.CaptureFixture[str]) -> None:
    configure("WARNING")
    log.info("not shown")
    log.warning("shown")
    err = capsys.readouterr().err
    assert "not shown" not in err
    assert "shown" in err


# -- formats --------------------------------------------------------------------------------


def test_text_format_one_line_per_event(capsys: pytest.CaptureFixture[str]) -> None:
    configure()
    configure()  # configuring twice must not duplicate lines
    log.info("first line\nsecond line of the same event")
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        log.exception("division failed")
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert "first line" in lines[0]
    assert "second line of the same event" in lines[0]
    assert "division failed" in lines[1]
    assert "Traceback" in lines[1]
    assert "ZeroDivisionError" in lines[1]
    assert "INFO" in lines[0]
    assert "ERROR" in lines[1]


def test_json_format_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    settings = configure(log_format="json")
    assert settings.log_format == "json"
    log.info("hello %s", "world")
    log.warning("multi\nline with ação and a token %s", TOKEN_A)
    try:
        raise ValueError(f"bad {CLIENT_TOKEN}")
    except ValueError:
        log.exception("failed")
    err = capsys.readouterr().err
    assert_no_secrets(err)
    lines = err.splitlines()
    assert len(lines) == 3, err
    entries = [json.loads(line) for line in lines]
    assert all(isinstance(entry, dict) for entry in entries)
    assert [entry["level"] for entry in entries] == ["INFO", "WARNING", "ERROR"]
    assert entries[0]["message"] == "hello world"
    assert entries[0]["logger"] == "bot.test_logging"
    assert "ação" in entries[1]["message"]
    assert "\n" in entries[1]["message"]  # kept inside the JSON string, not split
    assert "Traceback" in entries[2]["message"]
    assert "ValueError" in entries[2]["message"]
    assert all(entry.get("time") for entry in entries)


def test_log_format_json_from_the_environment(tmp_path: Path) -> None:
    """`python -m bot migrate` with LOG_FORMAT=json writes only JSON lines."""
    env = {key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ}
    env.update(
        TELEGRAM_BOT_TOKEN=BOT_TOKEN,
        ZAPI_CLIENT_TOKEN=CLIENT_TOKEN,
        ZAPI_INSTANCES=f"inst-a:{TOKEN_A}",
        DATABASE_URL=f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        LOG_FORMAT="json",
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines, "migrate logged nothing"
    for line in lines:
        entry = json.loads(line)
        assert isinstance(entry, dict)
        assert {"level", "message"} <= set(entry)
    assert_no_secrets(result.stderr)
