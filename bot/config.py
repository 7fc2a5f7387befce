"""Settings, read from the environment and an optional `.env` file.

Every name here is part of the deployment contract (see `.env.example`); rename nothing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url

DEFAULT_SQLITE_PATH = Path("data") / "bot.sqlite3"
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{DEFAULT_SQLITE_PATH.as_posix()}"

SANDBOX = "sandbox"  # NAME=sandbox in ZAPI_INSTANCES: a simulated instance
_INSTANCE_NAME = re.compile(r"^[\w.\- ]{1,32}$")

# Where a missing or invalid value comes from, for the startup message.
SETTING_SOURCES: dict[str, str] = {
    "TELEGRAM_BOT_TOKEN": "the token BotFather gave you (/newbot or /token in @BotFather)",
    "TELEGRAM_BASE_URL": "leave unset unless you run your own Bot API server",
    "ZAPI_BASE_URL": "leave unset unless Z-API told you otherwise",
    "ZAPI_CLIENT_TOKEN": "Z-API panel → Security → account security token",
    "ZAPI_INSTANCES": (
        "Z-API panel → your mobile instance → ID and token, written NAME=INSTANCE_ID:TOKEN, "
        "comma-separated (or set ZAPI_INSTANCE_ID and ZAPI_INSTANCE_TOKEN)"
    ),
    "ZAPI_INSTANCE_ID": "Z-API panel → your mobile instance → ID",
    "ZAPI_INSTANCE_TOKEN": "Z-API panel → your mobile instance → token",
    "ZAPI_TIMEOUT_SECONDS": "a number of seconds, e.g. 30",
    "DATABASE_URL": "e.g. sqlite+aiosqlite:///data/bot.sqlite3 or postgres://user:pass@host/db",
    "ALLOWED_USER_IDS": "comma-separated Telegram user ids (ask @userinfobot for yours)",
    "ADMIN_USER_IDS": "comma-separated Telegram user ids (ask @userinfobot for yours)",
    "CONVERSATION_TIMEOUT_SECONDS": "a number of seconds, e.g. 900",
    "DEFAULT_DDI": "your team's country calling code, e.g. 55 for Brazil (optional)",
    "SQLITE_BUSY_TIMEOUT_SECONDS": "a number of seconds, e.g. 10",
    "TELEGRAM_MAX_MESSAGES_PER_SECOND": "a number, e.g. 30 (0 turns the limiter off)",
    "LOG_LEVEL": "one of DEBUG, INFO, WARNING, ERROR",
    "LOG_FORMAT": "text or json",
    "WEBHOOK_URL": "the public https URL Telegram should call, e.g. https://my-bot.example.com",
    "WEBHOOK_SECRET": "any 1-256 characters of A-Z, a-z, 0-9, _ and -",
    "PORT": "the port your platform gives you, e.g. 8443",
}


@dataclass(frozen=True, slots=True)
class InstanceConfig:
    """One Z-API mobile instance the bot may register numbers on; a `sandbox` one is simulated
    inside the bot (bot/zapi/sandbox.py)."""

    name: str
    instance_id: str
    token: SecretStr
    sandbox: bool = False

    def __repr__(self) -> str:
        return f"InstanceConfig(name={self.name!r}, instance_id={self.instance_id!r})"


def sandbox_instance(name: str) -> InstanceConfig:
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return InstanceConfig(name, f"sandbox-{digest}", SecretStr("sandbox"), sandbox=True)


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, int):
        return [value]
    return value


def parse_instances(raw: str) -> list[InstanceConfig]:
    """Parse `NAME=INSTANCE_ID:INSTANCE_TOKEN,...` (`NAME=` is optional) and `NAME=sandbox`."""
    instances: list[InstanceConfig] = []
    for position, entry in enumerate(raw.split(","), start=1):
        entry = entry.strip()
        if not entry:
            continue
        name, has_name, credentials = entry.partition("=")
        if not has_name:
            name, credentials = "", entry
        sandbox = credentials.strip().lower() == SANDBOX
        instance_id, has_token, token = credentials.partition(":")
        name, instance_id, token = name.strip(), instance_id.strip(), token.strip()
        if not sandbox and (not has_token or not instance_id or not token):
            raise ValueError(
                f"entry {position} is not NAME=INSTANCE_ID:INSTANCE_TOKEN or NAME=sandbox "
                "(the token is missing or empty)"
            )
        if not re.fullmatch(r"[A-Za-z0-9_\-]+", instance_id):
            raise ValueError(f"entry {position} has an instance id with unexpected characters")
        name = name or instance_id
        if not _INSTANCE_NAME.match(name):
            raise ValueError(
                f"entry {position} has a name that is not 1-32 letters, digits, spaces, . _ or -"
            )
        instances.append(
            sandbox_instance(name)
            if sandbox
            else InstanceConfig(name=name, instance_id=instance_id, token=SecretStr(token))
        )
    names = [instance.name for instance in instances]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"instance names must be unique (repeated: {', '.join(duplicates)})")
    return instances


def normalize_database_url(url: str) -> str:
    """Map Heroku-style and driver-less URLs onto the async drivers we ship."""
    url = url.strip()
    for prefix in (
        "postgres://",
        "postgresql://",
        "postgresql+psycopg2://",
        "postgresql+psycopg://",
    ):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite://") and not url.startswith("sqlite+"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


class DatabaseSettings(BaseSettings):
    """What `python -m bot migrate` needs: the database, and how to log. A release phase may
    have nothing else."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        hide_input_in_errors=True,
    )

    database_url: str = Field(default=DEFAULT_DATABASE_URL, repr=False)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        url = normalize_database_url(value)
        if not (url.startswith("sqlite+aiosqlite://") or url.startswith("postgresql+asyncpg://")):
            raise ValueError("must be an SQLite (sqlite://) or PostgreSQL (postgres://) URL")
        return url

    def secrets(self) -> list[str]:
        """Every secret value, for the log redaction filter."""
        password = make_url(self.database_url).password
        return [str(password)] if password else []


class Settings(DatabaseSettings):
    telegram_bot_token: SecretStr
    telegram_base_url: str = "https://api.telegram.org/bot"
    zapi_base_url: AnyHttpUrl = AnyHttpUrl("https://api.z-api.io")
    zapi_instance_id: str = ""
    zapi_instance_token: SecretStr = SecretStr("")
    zapi_instances: SecretStr = Field(default=SecretStr(""), validate_default=True)
    # After the instances: it is not needed when every one is a sandbox.
    zapi_client_token: SecretStr = Field(default=SecretStr(""), validate_default=True)
    zapi_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    allowed_user_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    admin_user_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    telegram_max_messages_per_second: float = Field(default=30.0, ge=0)
    # A Bot API call without an answer by then counts as failed (a reply is then sent again).
    telegram_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    conversation_timeout_seconds: float = Field(default=900.0, gt=0)
    # The country code offered as a one-tap button at its step (any other is still taken).
    default_ddi: str | None = None
    # How long an SQLite write waits for another process's lock before it fails (and is retried).
    sqlite_busy_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    webhook_url: AnyHttpUrl | None = None
    webhook_secret: SecretStr | None = None
    port: int = Field(default=8443, ge=1, le=65535)
    # In polling mode, GET /healthz on this port (webhook mode serves it on PORT).
    health_port: int | None = Field(default=None, ge=1, le=65535)
    # Where alerts go: a group or supergroup (a forum topic of it), else each admin's private
    # chat; written in ALERT_LANGUAGE there (admins' private chats: each admin's language).
    alert_chat_id: int | None = None
    alert_thread_id: int | None = Field(default=None, ge=1)
    alert_language: Literal["en", "pt"] = "en"
    # The team feed (connected, banned, appeals, timeouts) in the alerts chat.
    alert_feed: bool = True
    # How often every instance's status is polled for a change (0: never).
    instance_check_seconds: float = Field(default=300.0, ge=0)
    # The team's time zone (an IANA name): the times admins read.
    timezone: str = "UTC"
    # /export writes whole numbers (else masked but for their last four digits).
    export_full_numbers: bool = False

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        if not re.fullmatch(r"\d+:[A-Za-z0-9_\-]{10,}", value.get_secret_value().strip()):
            raise ValueError("does not look like a bot token (digits, a colon, then letters)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("zapi_client_token")
    @classmethod
    def _client_token(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        token = value.get_secret_value().strip()
        instances = info.data.get("zapi_instances")
        listed = "" if instances is None else instances.get_secret_value().strip()
        if not token and not (listed and all(item.sandbox for item in parse_instances(listed))):
            raise ValueError("is required (only sandbox instances do without)")
        return SecretStr(token)

    @field_validator("telegram_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("allowed_user_ids", "admin_user_ids", mode="before")
    @classmethod
    def _user_ids(cls, value: Any) -> Any:
        parts = _split_csv(value)
        if isinstance(parts, list):
            for part in parts:
                if not re.fullmatch(r"-?\d+", str(part)):
                    raise ValueError(f"{part!r} is not a numeric Telegram user id")
        return parts

    @field_validator("default_ddi", mode="before")
    @classmethod
    def _country_code(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        from bot.domain.parsing import parse_ddi

        ddi = parse_ddi(str(value))
        if ddi is None:
            raise ValueError(f"{value!r} is not a country calling code (e.g. 55)")
        return ddi

    @field_validator("alert_language", mode="before")
    @classmethod
    def _language(cls, value: Any) -> Any:
        return value.strip().lower()[:2] if isinstance(value, str) else value

    @field_validator("timezone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone (e.g. America/Sao_Paulo)"
            ) from None
        return value.strip()

    @field_validator("webhook_secret")
    @classmethod
    def _secret_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_\-]{1,256}", value.get_secret_value()
        ):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("zapi_instances")
    @classmethod
    def _instances_present(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        single_id = str(info.data.get("zapi_instance_id", "")).strip()
        token = info.data.get("zapi_instance_token", SecretStr(""))
        single_token = token.get_secret_value().strip()
        if value.get_secret_value().strip():
            if not parse_instances(value.get_secret_value()):
                raise ValueError("no instance listed")
        elif bool(single_id) != bool(single_token):
            raise ValueError("ZAPI_INSTANCE_ID and ZAPI_INSTANCE_TOKEN must be set together")
        elif not single_id:
            raise ValueError(
                "at least one instance is required (or ZAPI_INSTANCE_ID and ZAPI_INSTANCE_TOKEN)"
            )
        return value

    @cached_property
    def instances(self) -> tuple[InstanceConfig, ...]:
        if self.zapi_instances.get_secret_value().strip():
            parsed = parse_instances(self.zapi_instances.get_secret_value())
        else:
            parsed = [
                InstanceConfig(
                    name=self.zapi_instance_id.strip(),
                    instance_id=self.zapi_instance_id.strip(),
                    token=SecretStr(self.zapi_instance_token.get_secret_value().strip()),
                )
            ]
        return tuple(parsed)

    def instance(self, name: str) -> InstanceConfig | None:
        return next((item for item in self.instances if item.name == name), None)

    @cached_property
    def sandboxes(self) -> frozenset[str]:
        """The names of the sandbox instances."""
        return frozenset(item.name for item in self.instances if item.sandbox)

    @property
    def open_rehearsal(self) -> bool:
        """Only sandbox instances and nobody listed: anyone may rehearse (nothing is real)."""
        return len(self.sandboxes) == len(self.instances) and not self.members

    @property
    def members(self) -> frozenset[int]:
        """Members from the environment (admins are members too)."""
        return self.allowed_user_ids | self.admin_user_ids

    def secrets(self) -> list[str]:
        """Every secret value, for the log redaction filter."""
        values = [
            self.telegram_bot_token.get_secret_value(),
            self.zapi_client_token.get_secret_value(),
        ]
        values += [instance.token.get_secret_value() for instance in self.instances]
        if self.webhook_secret is not None:
            values.append(self.webhook_secret.get_secret_value())
        return [value for value in [*values, *super().secrets()] if value]


S = TypeVar("S", bound=DatabaseSettings)


class SettingsError(Exception):
    """Settings are missing or invalid; `str()` is the message for the operator."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "The bot cannot start: its settings are incomplete.\n"
            + "\n".join(f"  - {problem}" for problem in problems)
            + "\nSet them in the environment or in a .env file (see .env.example)."
        )


def _describe(error: dict[str, Any]) -> str:
    location = [str(part) for part in error.get("loc", ()) if part]
    message = str(error.get("msg", "is invalid"))
    message = message.removeprefix("Value error, ")
    name = location[0].upper() if location else "SETTINGS"
    if error.get("type") == "missing":
        message = "is required"
    source = SETTING_SOURCES.get(name)
    return f"{name}: {message}" + (f" — from {source}" if source else "")


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, raising `SettingsError` that lists every problem at once."""
    return _load(Settings, overrides)


def load_database_settings(**overrides: Any) -> DatabaseSettings:
    """Only the database's settings (for `migrate`), with the same errors."""
    return _load(DatabaseSettings, overrides)


def _load(kind: type[S], overrides: dict[str, Any]) -> S:
    try:
        return kind(**overrides)
    except ValidationError as exc:
        problems = [_describe(dict(error)) for error in exc.errors()]
        raise SettingsError(problems) from None
