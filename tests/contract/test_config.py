"""Settings: every variable from the environment or a `.env`, defaults, bad values, messages."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import Settings, SettingsError, load_settings
from tests.conftest import BOT_TOKEN, CLIENT_TOKEN, INSTANCE_TOKENS

REPO = Path(__file__).resolve().parents[2]

# The deployment contract: exactly these names.
SETTING_NAMES = [
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_BASE_URL",
    "TELEGRAM_MAX_MESSAGES_PER_SECOND",
    "ZAPI_BASE_URL",
    "ZAPI_CLIENT_TOKEN",
    "ZAPI_INSTANCES",
    "ZAPI_INSTANCE_ID",
    "ZAPI_INSTANCE_TOKEN",
    "ZAPI_TIMEOUT_SECONDS",
    "DATABASE_URL",
    "ALLOWED_USER_IDS",
    "ADMIN_USER_IDS",
    "CONVERSATION_TIMEOUT_SECONDS",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "WEBHOOK_URL",
    "WEBHOOK_SECRET",
    "PORT",
]
TOKEN_A = INSTANCE_TOKENS["inst-a"]
TOKEN_B = INSTANCE_TOKENS["inst-b"]
REQUIRED = {
    "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
    "ZAPI_CLIENT_TOKEN": CLIENT_TOKEN,
    "ZAPI_INSTANCES": f"inst-a:{TOKEN_A}",
}

SetEnv = Callable[..., None]


@pytest.fixture
def setenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SetEnv:
    """A clean environment (none of our variables, no `.env` around); returns a setter."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.chdir(tmp_path)

    def set_values(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_values


def load() -> Settings:
    return load_settings(_env_file=None)


def problems_for(setenv: SetEnv, **values: str) -> list[str]:
    """The problems reported for these variables on top of a valid minimum."""
    setenv(**{**REQUIRED, **values})
    with pytest.raises(SettingsError) as caught:
        load()
    return caught.value.problems


# -- defaults and every variable ------------------------------------------------------------


def test_defaults(setenv: SetEnv) -> None:
    setenv(**REQUIRED)
    settings = load()
    assert settings.telegram_bot_token.get_secret_value() == BOT_TOKEN
    assert settings.zapi_client_token.get_secret_value() == CLIENT_TOKEN
    assert settings.telegram_base_url == "https://api.telegram.org/bot"
    assert str(settings.zapi_base_url).rstrip("/") == "https://api.z-api.io"
    assert settings.zapi_timeout_seconds == 30
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.database_url.removeprefix("sqlite+aiosqlite:///").startswith(
        ("data/", "./data/")
    )
    assert settings.allowed_user_ids == frozenset()
    assert settings.admin_user_ids == frozenset()
    assert settings.members == frozenset()
    assert settings.conversation_timeout_seconds == 900
    assert settings.telegram_max_messages_per_second == 30
    assert settings.log_level == "INFO"
    assert settings.log_format == "text"
    assert settings.webhook_url is None
    assert settings.webhook_secret is None
    assert isinstance(settings.port, int)
    assert 1 <= settings.port <= 65535


def test_every_variable_is_read(setenv: SetEnv) -> None:
    setenv(
        TELEGRAM_BOT_TOKEN=BOT_TOKEN,
        TELEGRAM_BASE_URL="http://127.0.0.1:8081/bot",
        TELEGRAM_MAX_MESSAGES_PER_SECOND="0",
        ZAPI_BASE_URL="http://127.0.0.1:9000",
        ZAPI_CLIENT_TOKEN=CLIENT_TOKEN,
        ZAPI_INSTANCES=f"Main=inst-a:{TOKEN_A},inst-b:{TOKEN_B}",
        ZAPI_TIMEOUT_SECONDS="2.5",
        DATABASE_URL="postgres://bot:pw-0123456789@db.example.com:5432/bot",
        ALLOWED_USER_IDS="1001, 1002,1003",
        ADMIN_USER_IDS="9001",
        CONVERSATION_TIMEOUT_SECONDS="60",
        LOG_LEVEL="debug",
        LOG_FORMAT="JSON",
        WEBHOOK_URL="https://bot.example.com",
        WEBHOOK_SECRET="s3cret_hook-value",
        PORT="5000",
    )
    settings = load()
    assert settings.telegram_base_url == "http://127.0.0.1:8081/bot"
    assert settings.telegram_max_messages_per_second == 0
    assert str(settings.zapi_base_url).rstrip("/") == "http://127.0.0.1:9000"
    assert [(i.name, i.instance_id, i.token.get_secret_value()) for i in settings.instances] == [
        ("Main", "inst-a", TOKEN_A),
        ("inst-b", "inst-b", TOKEN_B),
    ]
    assert settings.zapi_timeout_seconds == 2.5
    assert settings.database_url == "postgresql+asyncpg://bot:pw-0123456789@db.example.com:5432/bot"
    assert settings.allowed_user_ids == {1001, 1002, 1003}
    assert settings.admin_user_ids == {9001}
    assert settings.members == {1001, 1002, 1003, 9001}  # admins are members too
    assert settings.conversation_timeout_seconds == 60
    assert settings.log_level == "DEBUG"
    assert settings.log_format == "json"
    assert str(settings.webhook_url).rstrip("/") == "https://bot.example.com"
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.get_secret_value() == "s3cret_hook-value"
    assert settings.port == 5000


def test_single_instance_variables(setenv: SetEnv) -> None:
    setenv(
        TELEGRAM_BOT_TOKEN=BOT_TOKEN,
        ZAPI_CLIENT_TOKEN=CLIENT_TOKEN,
        ZAPI_INSTANCE_ID="3C0FFEE000",
        ZAPI_INSTANCE_TOKEN=TOKEN_A,
    )
    settings = load()
    (instance,) = settings.instances
    assert (instance.name, instance.instance_id) == ("3C0FFEE000", "3C0FFEE000")
    assert instance.token.get_secret_value() == TOKEN_A
    assert settings.instance("3C0FFEE000") == instance
    assert settings.instance("other") is None


@pytest.mark.parametrize("missing", ["ZAPI_INSTANCE_ID", "ZAPI_INSTANCE_TOKEN"])
def test_single_instance_needs_both_variables(setenv: SetEnv, missing: str) -> None:
    values = {
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "ZAPI_CLIENT_TOKEN": CLIENT_TOKEN,
        "ZAPI_INSTANCE_ID": "3C0FFEE000",
        "ZAPI_INSTANCE_TOKEN": TOKEN_A,
    }
    del values[missing]
    setenv(**values)
    with pytest.raises(SettingsError) as caught:
        load()
    assert len(caught.value.problems) == 1
    assert "ZAPI_INSTANCE" in caught.value.problems[0]
    assert TOKEN_A not in str(caught.value)


# -- ZAPI_INSTANCES -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("inst-a:tok-1234567", [("inst-a", "inst-a", "tok-1234567")]),
        ("Main=inst-a:tok-1234567", [("Main", "inst-a", "tok-1234567")]),
        (
            " Main = inst-a : tok-1234567 , inst-b:tok-7654321 ,",
            [("Main", "inst-a", "tok-1234567"), ("inst-b", "inst-b", "tok-7654321")],
        ),
        (
            "Shop 1=3C0FFEE0:A1B2C3D4,Shop 2=3C0FFEE1:A1B2C3D5",
            [("Shop 1", "3C0FFEE0", "A1B2C3D4"), ("Shop 2", "3C0FFEE1", "A1B2C3D5")],
        ),
    ],
)
def test_instances_parsing(setenv: SetEnv, raw: str, expected: list[tuple[str, str, str]]) -> None:
    setenv(**{**REQUIRED, "ZAPI_INSTANCES": raw})
    settings = load()
    assert [
        (i.name, i.instance_id, i.token.get_secret_value()) for i in settings.instances
    ] == expected
    for name, instance_id, _ in expected:
        found = settings.instance(name)
        assert found is not None
        assert found.instance_id == instance_id


@pytest.mark.parametrize(
    ("raw", "hint"),
    [
        ("a=inst-a:tok-1111111,a=inst-b:tok-2222222", "unique"),
        ("inst-a:tok-1111111,inst-a:tok-2222222", "unique"),
        ("Main=inst-a", "token"),
        ("Main=inst-a:", "token"),
        ("inst-a:tok-1111111,inst-b", "token"),
        (",", "instance"),
    ],
    ids=["duplicate-names", "duplicate-ids", "no-colon", "empty-token", "second-no-token", "none"],
)
def test_bad_instances(setenv: SetEnv, raw: str, hint: str) -> None:
    setenv(**{**REQUIRED, "ZAPI_INSTANCES": raw})
    with pytest.raises(SettingsError) as caught:
        load()
    (problem,) = caught.value.problems
    assert problem.startswith("ZAPI_INSTANCES")
    assert hint in problem.lower()
    assert "Z-API panel" in problem
    for token in ("tok-1111111", "tok-2222222"):
        assert token not in str(caught.value)


def test_no_instance_at_all(setenv: SetEnv) -> None:
    setenv(TELEGRAM_BOT_TOKEN=BOT_TOKEN, ZAPI_CLIENT_TOKEN=CLIENT_TOKEN)
    with pytest.raises(SettingsError) as caught:
        load()
    (problem,) = caught.value.problems
    assert "ZAPI_INSTANCES" in problem
    assert "Z-API panel" in problem


# -- DATABASE_URL ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgres://u:p4ss-word@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d8abc",
            "postgresql+asyncpg://u:p4ss-word@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d8abc",
        ),
        (
            "postgresql://u:p4ss-word@db.example.com/bot",
            "postgresql+asyncpg://u:p4ss-word@db.example.com/bot",
        ),
        (
            "postgresql+asyncpg://u@127.0.0.1:5432/test",
            "postgresql+asyncpg://u@127.0.0.1:5432/test",
        ),
        ("sqlite:///data/bot.sqlite3", "sqlite+aiosqlite:///data/bot.sqlite3"),
        ("sqlite:////var/lib/bot/bot.sqlite3", "sqlite+aiosqlite:////var/lib/bot/bot.sqlite3"),
        ("sqlite+aiosqlite:///other.db", "sqlite+aiosqlite:///other.db"),
    ],
)
def test_database_url_forms(setenv: SetEnv, given: str, expected: str) -> None:
    setenv(**{**REQUIRED, "DATABASE_URL": given})
    assert load().database_url == expected


def test_database_password_is_a_secret(setenv: SetEnv) -> None:
    setenv(**{**REQUIRED, "DATABASE_URL": "postgres://bot:pw-0123456789@db.example.com/bot"})
    settings = load()
    assert "pw-0123456789" in settings.secrets()
    assert "pw-0123456789" not in repr(settings)
    assert "pw-0123456789" not in str(settings)


# -- bad values -----------------------------------------------------------------------------

BAD_VALUES = [
    ("TELEGRAM_BOT_TOKEN", "not-a-bot-token"),
    ("TELEGRAM_BASE_URL", "api.telegram.org/bot"),
    ("TELEGRAM_BASE_URL", "ftp://api.telegram.org/bot"),
    ("TELEGRAM_MAX_MESSAGES_PER_SECOND", "-1"),
    ("TELEGRAM_MAX_MESSAGES_PER_SECOND", "fast"),
    ("ZAPI_BASE_URL", "not a url"),
    ("ZAPI_CLIENT_TOKEN", "   "),
    ("ZAPI_INSTANCES", "inst-a"),
    ("ZAPI_TIMEOUT_SECONDS", "abc"),
    ("ZAPI_TIMEOUT_SECONDS", "0"),
    ("ZAPI_TIMEOUT_SECONDS", "-5"),
    ("DATABASE_URL", "mysql://u:p@h/db"),
    ("DATABASE_URL", "not a url"),
    ("ALLOWED_USER_IDS", "1001,ana"),
    ("ALLOWED_USER_IDS", "@ana"),
    ("ADMIN_USER_IDS", "9001;9002"),
    ("DEFAULT_DDI", "999"),
    ("DEFAULT_DDI", "Brazil"),
    ("CONVERSATION_TIMEOUT_SECONDS", "0"),
    ("CONVERSATION_TIMEOUT_SECONDS", "soon"),
    ("LOG_LEVEL", "VERBOSE"),
    ("LOG_FORMAT", "xml"),
    ("WEBHOOK_URL", "not a url"),
    ("WEBHOOK_SECRET", "has spaces and !"),
    ("PORT", "0"),
    ("PORT", "70000"),
    ("PORT", "http"),
]


@pytest.mark.parametrize(("name", "value"), BAD_VALUES)
def test_bad_value_is_reported_with_its_name_and_source(
    setenv: SetEnv, name: str, value: str
) -> None:
    problems = problems_for(setenv, **{name: value})
    assert len(problems) == 1, problems
    (problem,) = problems
    assert problem.startswith(f"{name}:"), problem
    assert " — from " in problem, problem  # where the value comes from
    if name in {"TELEGRAM_BOT_TOKEN", "ZAPI_CLIENT_TOKEN", "WEBHOOK_SECRET", "ZAPI_INSTANCES"}:
        assert value.strip() == "" or value not in problem  # a secret is never echoed


def test_every_bad_value_is_reported_at_once(setenv: SetEnv) -> None:
    bad = dict(BAD_VALUES)  # one bad value per variable
    setenv(**bad)
    with pytest.raises(SettingsError) as caught:
        load()
    reported = [problem.split(":", 1)[0] for problem in caught.value.problems]
    assert sorted(reported) == sorted(bad), caught.value.problems
    message = str(caught.value)
    for problem in caught.value.problems:
        assert problem in message


def test_secrets_never_in_repr_or_str(setenv: SetEnv) -> None:
    setenv(
        TELEGRAM_BOT_TOKEN=BOT_TOKEN,
        ZAPI_CLIENT_TOKEN=CLIENT_TOKEN,
        ZAPI_INSTANCES=f"Main=inst-a:{TOKEN_A},inst-b:{TOKEN_B}",
        WEBHOOK_SECRET="s3cret_hook-value",
        DATABASE_URL="postgres://bot:pw-0123456789@db.example.com/bot",
        WEBHOOK_URL="https://bot.example.com",
    )
    settings = load()
    secrets = [BOT_TOKEN, CLIENT_TOKEN, TOKEN_A, TOKEN_B, "s3cret_hook-value", "pw-0123456789"]
    shown = [repr(settings), str(settings), repr(settings.instances), str(settings.instances)]
    for text in shown:
        for secret in secrets:
            assert secret not in text
    # ...while the redaction filter gets every one of them
    assert set(secrets) <= set(settings.secrets())


# -- the missing-settings message ------------------------------------------------------------


def test_missing_settings_message(setenv: SetEnv) -> None:
    with pytest.raises(SettingsError) as caught:
        load()
    problems = {problem.split(":", 1)[0]: problem for problem in caught.value.problems}
    assert set(problems) == {"TELEGRAM_BOT_TOKEN", "ZAPI_CLIENT_TOKEN", "ZAPI_INSTANCES"}
    assert "BotFather" in problems["TELEGRAM_BOT_TOKEN"]
    assert "Z-API panel" in problems["ZAPI_CLIENT_TOKEN"]
    assert "Z-API panel" in problems["ZAPI_INSTANCES"]
    message = str(caught.value)
    assert all(problem in message for problem in problems.values())
    assert ".env" in message


def test_missing_and_bad_values_together(setenv: SetEnv) -> None:
    setenv(PORT="http", LOG_LEVEL="loud")
    with pytest.raises(SettingsError) as caught:
        load()
    reported = {problem.split(":", 1)[0] for problem in caught.value.problems}
    assert reported == {
        "TELEGRAM_BOT_TOKEN",
        "ZAPI_CLIENT_TOKEN",
        "ZAPI_INSTANCES",
        "PORT",
        "LOG_LEVEL",
    }


# -- .env -----------------------------------------------------------------------------------


def test_dotenv_in_the_working_directory_is_read(
    setenv: SetEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "# settings for the test\n"
        f"TELEGRAM_BOT_TOKEN={BOT_TOKEN}\n"
        f"ZAPI_CLIENT_TOKEN={CLIENT_TOKEN}\n"
        f"ZAPI_INSTANCES=Main=inst-a:{TOKEN_A}\n"
        "ALLOWED_USER_IDS=1001,1002\n"
        "LOG_LEVEL=WARNING\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.telegram_bot_token.get_secret_value() == BOT_TOKEN
    assert [i.name for i in settings.instances] == ["Main"]
    assert settings.allowed_user_ids == {1001, 1002}
    assert settings.log_level == "WARNING"

    setenv(LOG_LEVEL="ERROR")  # the environment wins over the file
    assert load_settings().log_level == "ERROR"
    with pytest.raises(SettingsError):  # and `_env_file=None` really ignores the file
        load_settings(_env_file=None)


def test_env_example_is_complete_and_loads(setenv: SetEnv, tmp_path: Path) -> None:
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    for name in SETTING_NAMES:
        assert re.search(rf"^#?\s*{name}=", example, re.MULTILINE), f"{name} not in .env.example"
    shutil.copy(REPO / ".env.example", tmp_path / ".env")
    settings = load_settings()
    assert settings.instances


# -- python -m bot --------------------------------------------------------------------------


def run_bot(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", [[], ["check"]])
def test_python_m_bot_without_settings(tmp_path: Path, command: list[str]) -> None:
    result = run_bot(tmp_path, *command)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "Traceback" not in result.stdout
    for name in ("TELEGRAM_BOT_TOKEN", "ZAPI_CLIENT_TOKEN", "ZAPI_INSTANCES"):
        assert name in result.stderr
    assert "BotFather" in result.stderr
    assert "Z-API panel" in result.stderr
    assert not (tmp_path / "data").exists()  # nothing created before the settings are right


def test_migrate_asks_only_for_a_database_url_that_works(tmp_path: Path) -> None:
    result = run_bot(tmp_path, "migrate", DATABASE_URL="mysql://nope")
    assert result.returncode == 2, result.stderr
    assert "DATABASE_URL" in result.stderr and "TELEGRAM_BOT_TOKEN" not in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()


def test_python_m_bot_with_bad_values(tmp_path: Path) -> None:
    result = run_bot(tmp_path, TELEGRAM_BOT_TOKEN="nope-secret-value", PORT="http")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for name in ("TELEGRAM_BOT_TOKEN", "ZAPI_CLIENT_TOKEN", "ZAPI_INSTANCES", "PORT"):
        assert name in result.stderr
    assert "nope-secret-value" not in result.stderr


def test_default_database_is_created_under_data(tmp_path: Path) -> None:
    result = run_bot(tmp_path, "migrate", **REQUIRED)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    files = list((tmp_path / "data").iterdir())
    assert any(path.suffix in {".sqlite3", ".sqlite", ".db"} for path in files), files
    for secret in (BOT_TOKEN, CLIENT_TOKEN, TOKEN_A):
        assert secret not in result.stderr


# -- sandbox instances ------------------------------------------------------------------------


def test_sandbox_instances_need_no_client_token(setenv: SetEnv) -> None:
    setenv(TELEGRAM_BOT_TOKEN=BOT_TOKEN, ZAPI_INSTANCES="Try=sandbox, Shop 2 = SANDBOX,sandbox")
    settings = load()
    assert [(item.name, item.sandbox) for item in settings.instances] == [
        ("Try", True),
        ("Shop 2", True),
        ("sandbox", True),
    ]
    ids = [item.instance_id for item in settings.instances]
    assert len(set(ids)) == 3 and all(re.fullmatch(r"sandbox-[0-9a-f]{12}", i) for i in ids)
    assert settings.sandboxes == {"Try", "Shop 2", "sandbox"}
    assert settings.open_rehearsal  # nobody listed: anyone may rehearse
    again = load()
    assert [item.instance_id for item in again.instances] == ids  # stable across restarts


def test_a_real_instance_next_to_a_sandbox_needs_the_client_token(setenv: SetEnv) -> None:
    setenv(TELEGRAM_BOT_TOKEN=BOT_TOKEN, ZAPI_INSTANCES=f"Try=sandbox,main=inst-a:{TOKEN_A}")
    with pytest.raises(SettingsError) as caught:
        load()
    (problem,) = caught.value.problems
    assert problem.startswith("ZAPI_CLIENT_TOKEN: is required") and "Security" in problem
    setenv(ZAPI_CLIENT_TOKEN=CLIENT_TOKEN, ALLOWED_USER_IDS="1001")
    settings = load()
    assert settings.sandboxes == {"Try"} and not settings.open_rehearsal
    main = settings.instance("main")
    assert main is not None and not main.sandbox


def test_members_listed_close_a_sandbox_only_bot(setenv: SetEnv) -> None:
    setenv(TELEGRAM_BOT_TOKEN=BOT_TOKEN, ZAPI_INSTANCES="Try=sandbox", ADMIN_USER_IDS="1001")
    assert not load().open_rehearsal
