"""Logging: one line per event (text or JSON), with every secret masked wherever it appears."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from bot.log_context import FIELDS
from bot.log_context import current as log_fields

__all__ = ["RedactingFilter", "setup_logging"]

MASK = "[redacted]"
# Shorter values would mask ordinary words and numbers; real tokens are far longer.
_MIN_SECRET_LENGTH = 6
# Telegram bot tokens that are not ours (e.g. in a URL) are masked by shape too.
_BOT_TOKEN_SHAPE = re.compile(r"(?<!\d)\d{5,}:[A-Za-z0-9_\-]{30,}(?![A-Za-z0-9_\-])")
_INSTANCE_TOKEN_IN_URL = re.compile(r"(/token/)[^/\s?#]+")


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message (arguments and exception text included)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        values = sorted(
            {secret for secret in secrets if len(secret) >= _MIN_SECRET_LENGTH},
            key=len,
            reverse=True,
        )
        self._pattern = (
            re.compile("|".join(re.escape(value) for value in values)) if values else None
        )

    def redact(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        text = _INSTANCE_TOKEN_IN_URL.sub(rf"\1{MASK}", text)
        return _BOT_TOKEN_SHAPE.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = self.redact(record.getMessage())
        if record.exc_info:
            formatted = logging.Formatter().formatException(record.exc_info)
            message = f"{message}\n{self.redact(formatted)}"
            record.exc_info = None
        if record.stack_info:
            message = f"{message}\n{self.redact(record.stack_info)}"
            record.stack_info = None
        record.msg, record.args, record.exc_text = message, None, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # The work the line is about (bot/log_context.py), or what the call named (`extra`).
        entry.update(log_fields())
        entry.update({name: getattr(record, name) for name in FIELDS if hasattr(record, name)})
        return json.dumps(entry, ensure_ascii=False, default=str)


class OneLineFormatter(logging.Formatter):
    """Keeps tracebacks on the event's line so each event is one line."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).rstrip("\n").replace("\n", " ⏎ ")


def setup_logging(level: str, secrets: Iterable[str], *, json_lines: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter(secrets))
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    _route_python_output_to(root)
    # httpx logs every request URL, which carries the instance token and the bot token.
    for noisy in ("httpx", "httpcore", "hpack", "apscheduler", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # At DEBUG, python-telegram-bot logs whole updates and call parameters: members' codes and
    # PINs would land in the log.
    logging.getLogger("telegram").setLevel(max(logging.INFO, logging.getLevelName(level)))
    # Alembic tells of its context and of every revision it passes at INFO, on each migrate,
    # check and first start: only at DEBUG.
    alembic_level = logging.DEBUG if level == "DEBUG" else logging.WARNING
    logging.getLogger("alembic").setLevel(alembic_level)


def _route_python_output_to(root: logging.Logger) -> None:
    """What Python itself would print on stderr goes through the handler too, masked and on one
    line: uncaught exceptions (in any thread), exceptions ignored in `__del__` and the like
    ("Exception ignored in ..."), and warnings."""
    logging.captureWarnings(True)

    def excepthook(
        kind: type[BaseException], error: BaseException, trace: TracebackType | None
    ) -> None:
        root.critical("Uncaught exception", exc_info=(kind, error, trace))

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is not SystemExit:  # as the default hook does
            name = args.thread.name if args.thread is not None else "?"
            root.critical("Uncaught exception in thread %s", name, exc_info=args.exc_value)

    def unraisablehook(unraisable: sys.UnraisableHookArgs) -> None:
        try:
            where = "" if unraisable.object is None else f": {unraisable.object!r}"
        except Exception:  # a broken __repr__ must not hide the error itself
            where = f": <{type(unraisable.object).__name__} object>"
        message = unraisable.err_msg or "Exception ignored in"
        root.error("%s%s", message, where, exc_info=unraisable.exc_value)

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook
    sys.unraisablehook = unraisablehook
