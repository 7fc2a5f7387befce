"""What the bot counts for its Prometheus metrics, as it happens (bot/metrics_export.py turns it
into the exposition that `GET /metrics` serves).

Updates and their latency, registrations started and finished, Z-API calls and Bot API calls
are counted here in plain dicts and lists: an update costs a few dict increments and a bisect,
no lock and no database (everything runs on the event loop's thread). What the bot holds
(instance leases, pending waits, owed messages) is not counted at all: it is read when scraped
(`Holdings`). prometheus_client itself is loaded only where /metrics is served (HEALTH_PORT or
webhook mode), as tornado is.

Every label value comes from a small fixed set or from settings (instance names): never a chat,
a user, a number or a token. A value that does not fit is counted as "other".
"""

from __future__ import annotations

import asyncio
import re
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from types import TracebackType

from telegram import Update

from bot.config import InstanceConfig
from bot.domain.history import OUTCOMES
from bot.domain.methods import DeliveryMethod
from bot.domain.record import FlowRecord
from bot.domain.steps import SETUP_STEPS
from bot.storage.database import Database
from bot.zapi import (
    ZapiAuthError,
    ZapiBadResponse,
    ZapiError,
    ZapiNetworkError,
    ZapiRateLimited,
    ZapiRejected,
    ZapiServerError,
    ZapiTimeout,
)

__all__ = ["FLOW_KINDS", "UPDATE_KINDS", "Histogram", "Holdings", "Metrics"]

UPDATE_KINDS = ("message", "edited_message", "callback_query", "other")
# Flows begin as these kinds; they end as these or "sandbox" (either, on a sandbox instance).
FLOW_KINDS = ("registration", "setup")
# From the bot taking an update in to its handlers being done: tens of milliseconds for a step
# without Z-API, up to ZAPI_TIMEOUT_SECONDS (30 s) for one waiting on it.
UPDATE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
ZAPI_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)

# The most specific class first: a timeout is also a transport error.
_ZAPI_RESULTS: tuple[tuple[type[ZapiError], str], ...] = (
    (ZapiTimeout, "timeout"),
    (ZapiNetworkError, "network"),
    (ZapiAuthError, "auth"),
    (ZapiRateLimited, "rate_limited"),
    (ZapiServerError, "server_error"),
    (ZapiRejected, "rejected"),
    (ZapiBadResponse, "bad_response"),
)
_ENDPOINT = re.compile(r"[a-z][a-z0-9/-]{0,63}")

# A Bot API URL ends in the method's name; the token is the segment before it.
_BOT_API_METHOD = re.compile(r"[A-Za-z]{1,40}")
_BOT_API_ERRORS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "too_large",
    429: "rate_limited",
}

# How a flow ended, by its audit event (action, outcome): /history's words where it has them.
_ENDINGS: dict[tuple[str, str], str] = {
    **{event: name for name, event in OUTCOMES.items()},
    ("lease", "lost"): "lease_lost",
    ("setup", "done"): "done",
    ("setup", "skipped"): "skipped",
    ("setup", "timed_out"): "timed_out",
}
_METHODS = frozenset(method.value for method in DeliveryMethod)


def zapi_result(error: BaseException | None) -> str:
    """The `result` label of a Z-API call that raised `error` (None: it succeeded)."""
    if error is None:
        return "ok"
    for kind, name in _ZAPI_RESULTS:
        if isinstance(error, kind):
            return name
    return "error"


def bot_api_error(answer: int | str) -> str:
    """The `error` label of a Bot API call: its HTTP status's name, or "timeout" / "network"."""
    if isinstance(answer, str):
        return answer
    return _BOT_API_ERRORS.get(answer) or ("server_error" if answer >= 500 else "http_error")


class Histogram:
    """Observations counted per bucket (`bounds`, then +Inf), not cumulative, and their sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value


class _ZapiCall:
    """Times one Z-API call and counts it by how it ended (`ZapiClient.tally`)."""

    __slots__ = ("_endpoint", "_instance", "_metrics", "_started")

    def __init__(self, metrics: Metrics, instance: str, endpoint: str) -> None:
        self._metrics = metrics
        self._instance = instance
        self._endpoint = endpoint
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if isinstance(error, asyncio.CancelledError):
            return  # the bot is stopping: the call did not end
        seconds = time.perf_counter() - self._started
        self._metrics.zapi_call_ended(self._instance, self._endpoint, zapi_result(error), seconds)


@dataclass
class Holdings:
    """Where what the bot holds is read when scraped: the database (pending waits, the
    outbox), the held leases (instance → chat) and the courier's retry backlog."""

    database: Database
    leases: Callable[[], Awaitable[Mapping[str, int]]]
    backlog: Callable[[], int]


@dataclass
class Metrics:
    """The counts of one application; `instances`: the instance names of its settings."""

    instances: tuple[str, ...]
    sandboxes: frozenset[str] = frozenset()
    updates: dict[str, int] = field(default_factory=lambda: dict.fromkeys(UPDATE_KINDS, 0))
    update_seconds: Histogram = field(default_factory=lambda: Histogram(UPDATE_BUCKETS))
    started: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FLOW_KINDS, 0))
    # (kind, outcome, method) → flows ended so
    finished: dict[tuple[str, str, str], int] = field(default_factory=dict)
    # (instance, endpoint, result) → calls
    zapi_calls: dict[tuple[str, str, str], int] = field(default_factory=dict)
    zapi_seconds: dict[str, Histogram] = field(default_factory=dict)
    bot_api_calls: dict[str, int] = field(default_factory=dict)
    # (method, error) → failed calls
    bot_api_errors: dict[tuple[str, str], int] = field(default_factory=dict)
    holdings: Holdings | None = None

    @classmethod
    def of(cls, instances: Iterable[InstanceConfig]) -> Metrics:
        instances = tuple(instances)
        names = tuple(instance.name for instance in instances)
        return cls(names, frozenset(item.name for item in instances if item.sandbox))

    def _flow_kind(self, reg: FlowRecord) -> str:
        if reg.instance in self.sandboxes:
            return "sandbox"
        return "setup" if reg.step in SETUP_STEPS else "registration"

    def update_handled(self, update: object, seconds: float) -> None:
        kind = "other"
        if isinstance(update, Update):
            if update.message is not None:
                kind = "message"
            elif update.callback_query is not None:
                kind = "callback_query"
            elif update.edited_message is not None:
                kind = "edited_message"
        self.updates[kind] += 1
        self.update_seconds.observe(seconds)

    def flow_opened(self, reg: FlowRecord) -> None:
        # Not "sandbox": with several instances, none is chosen yet when a flow begins.
        self.started["setup" if reg.step in SETUP_STEPS else "registration"] += 1

    def flow_ended(self, reg: FlowRecord, action: str, outcome: str) -> None:
        ending = _ENDINGS.get((action, outcome), "other")
        method = reg.method if reg.method is not None and reg.method in _METHODS else "none"
        key = (self._flow_kind(reg), ending, method)
        self.finished[key] = self.finished.get(key, 0) + 1

    def tally(self, instance: InstanceConfig, endpoint: str) -> AbstractContextManager[object]:
        """The context of one Z-API call (`ZapiClient.tally`); a sandbox's are no Z-API calls."""
        return nullcontext() if instance.sandbox else _ZapiCall(self, instance.name, endpoint)

    def zapi_call_ended(self, instance: str, endpoint: str, result: str, seconds: float) -> None:
        if not _ENDPOINT.fullmatch(endpoint):
            endpoint = "other"
        if instance not in self.instances:
            instance = "other"
        key = (instance, endpoint, result)
        self.zapi_calls[key] = self.zapi_calls.get(key, 0) + 1
        timer = self.zapi_seconds.get(endpoint)
        if timer is None:
            timer = self.zapi_seconds[endpoint] = Histogram(ZAPI_BUCKETS)
        timer.observe(seconds)

    def bot_api_answered(self, url: str, answer: int | str) -> None:
        """A Bot API request to `url` was answered with the HTTP status `answer`, or failed
        ("timeout", "network")."""
        method = url.rpartition("/")[2]
        if method not in self.bot_api_calls and not _BOT_API_METHOD.fullmatch(method):
            method = "other"
        self.bot_api_calls[method] = self.bot_api_calls.get(method, 0) + 1
        if isinstance(answer, str) or not 200 <= answer < 300:
            key = (method, bot_api_error(answer))
            self.bot_api_errors[key] = self.bot_api_errors.get(key, 0) + 1
