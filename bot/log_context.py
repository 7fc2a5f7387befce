"""What a log line is about, as fields of their own in JSON lines: the chat, instance, step,
Z-API endpoint and outcome of the work under way. Context variables: concurrent updates never
mix them, and a line logged anywhere below (the Z-API client, the courier) carries them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType

__all__ = ["FIELDS", "current", "log_context"]

FIELDS = ("chat", "instance", "step", "endpoint", "outcome")
_CURRENT: ContextVar[Mapping[str, object]] = ContextVar("log_context", default=MappingProxyType({}))


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Within the block, log lines carry these fields (None ones are left out)."""
    given = {name: value for name, value in fields.items() if value is not None}
    token = _CURRENT.set({**_CURRENT.get(), **given})
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current() -> Mapping[str, object]:
    return _CURRENT.get()
