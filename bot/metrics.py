"""Prometheus metrics, served at `GET /metrics` next to `/healthz` (bot/webhook.py).

What the bot did is counted as it happens: updates and their latency, registrations started and
finished, Z-API calls and Bot API calls. Each of those costs an increment of a label child bound
once (the first time its labels are seen): no database, no lock of ours. What the bot holds
(instance leases, pending waits, owed messages) is read only when scraped: leases and the retry
backlog from memory, pending waits and the outbox with one COUNT each, left out of that scrape
when the database does not answer within `SCRAPE_DATABASE_TIMEOUT`.

Every label value comes from a small fixed set or from settings (instance names): never a chat,
a user, a number or a token. A value that does not fit is counted as "other".
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from telegram import Update

from bot import __version__
from bot.config import InstanceConfig
from bot.domain.history import OUTCOMES
from bot.domain.methods import DeliveryMethod
from bot.domain.record import FlowRecord
from bot.domain.steps import SETUP_STEPS
from bot.storage import repositories as repo
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

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from bot.storage.database import Database

__all__ = ["PREFIX", "SCRAPE_DATABASE_TIMEOUT", "Metrics"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

PREFIX = "zapi_bot_"
# How long a scrape waits for each COUNT before leaving that gauge out.
SCRAPE_DATABASE_TIMEOUT = 2.0

_UPDATE_KINDS = ("message", "edited_message", "callback_query")
# From the bot taking an update in to its handlers being done: tens of milliseconds for a step
# without Z-API, up to ZAPI_TIMEOUT_SECONDS (30 s) for one waiting on it.
_UPDATE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_ZAPI_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)

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


def _flow_kind(reg: FlowRecord) -> str:
    return "setup" if reg.step in SETUP_STEPS else "registration"


def zapi_result(error: BaseException | None) -> str:
    """The `result` label of a Z-API call that raised `error` (None: it succeeded)."""
    if error is None:
        return "ok"
    for kind, name in _ZAPI_RESULTS:
        if isinstance(error, kind):
            return name
    return "error"


def bot_api_error(answer: int | str) -> str:
    """The `error` label of a Bot API call: its HTTP status, or "timeout" / "network"."""
    if isinstance(answer, str):
        return answer
    return _BOT_API_ERRORS.get(answer) or ("server_error" if answer >= 500 else "http_error")


class _Children:
    """A labelled counter's children, each bound the first time its label values are seen."""

    __slots__ = ("_bound", "_counter")

    def __init__(self, counter: Counter) -> None:
        self._counter = counter
        self._bound: dict[tuple[str, ...], Counter] = {}

    def __call__(self, *values: str) -> Counter:
        child = self._bound.get(values)
        if child is None:
            child = self._bound[values] = self._counter.labels(*values)
        return child


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


class Metrics:
    """One registry per application (tests run several bots in one process)."""

    def __init__(self, instances: Iterable[str]) -> None:
        self.instances = tuple(instances)
        self._instance_names = frozenset(self.instances)
        # A `_created` series beside each counter and histogram would double what a scrape
        # carries, for a start time Prometheus does not use (process-wide, and the same for any
        # bot in the process).
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        registry = self.registry
        self._updates = Counter(
            PREFIX + "updates",
            "Telegram updates handled, by kind.",
            ["kind"],
            registry=registry,
        )
        self._updates_by_kind = {kind: self._updates.labels(kind) for kind in _UPDATE_KINDS}
        self._other_update = self._updates.labels("other")
        self._update_seconds = Histogram(
            PREFIX + "update_duration_seconds",
            "From taking an update in (its chat's turn included) to its handlers being done.",
            buckets=_UPDATE_BUCKETS,
            registry=registry,
        )
        self._started = _Children(
            Counter(
                PREFIX + "registrations_started",
                "Flows opened, by kind (registration, or the set-up of a connected number).",
                ["kind"],
                registry=registry,
            )
        )
        self._finished = _Children(
            Counter(
                PREFIX + "registrations_finished",
                "Flows ended, by kind, outcome and the delivery method of their code (none: "
                "none was chosen).",
                ["kind", "outcome", "method"],
                registry=registry,
            )
        )
        self._zapi_calls = _Children(
            Counter(
                PREFIX + "zapi_calls",
                "Z-API calls, by instance, endpoint and result.",
                ["instance", "endpoint", "result"],
                registry=registry,
            )
        )
        self._zapi_seconds = Histogram(
            PREFIX + "zapi_call_duration_seconds",
            "How long Z-API calls took (the retry after a failed connection included).",
            ["endpoint"],
            buckets=_ZAPI_BUCKETS,
            registry=registry,
        )
        self._bot_api_calls = Counter(
            PREFIX + "telegram_requests",
            "Bot API requests, by method.",
            ["method"],
            registry=registry,
        )
        self._bot_api_errors = _Children(
            Counter(
                PREFIX + "telegram_errors",
                "Bot API requests that failed, by method and error (the HTTP status's name, "
                "timeout or network).",
                ["method", "error"],
                registry=registry,
            )
        )
        self._zapi_timers: dict[str, Histogram] = {}
        self._bot_api_bound: dict[str, tuple[str, Counter]] = {}
        self._held = _Holdings(self.instances)
        registry.register(self._held)

    def watch(
        self,
        database: Database,
        leases: Callable[[], Awaitable[Mapping[str, int]]],
        backlog: Callable[[], int],
    ) -> None:
        """Where the gauges are read at scrape time: the database (pending waits, the outbox),
        the held leases (instance → chat) and the courier's retry backlog."""
        self._held.database = database
        self._held.leases = leases
        self._held.backlog = backlog

    # -- counted as it happens ---------------------------------------------------------------

    def update_handled(self, update: object, seconds: float) -> None:
        child = self._other_update
        if isinstance(update, Update):
            if update.message is not None:
                child = self._updates_by_kind["message"]
            elif update.callback_query is not None:
                child = self._updates_by_kind["callback_query"]
            elif update.edited_message is not None:
                child = self._updates_by_kind["edited_message"]
        child.inc()
        self._update_seconds.observe(seconds)

    def flow_opened(self, reg: FlowRecord) -> None:
        self._started(_flow_kind(reg)).inc()

    def flow_ended(self, reg: FlowRecord, action: str, outcome: str) -> None:
        ending = _ENDINGS.get((action, outcome), "other")
        method = reg.method if reg.method in _METHODS else "none"
        self._finished(_flow_kind(reg), ending, method).inc()

    def tally(self, instance: InstanceConfig, endpoint: str) -> _ZapiCall:
        """The context of one Z-API call (`ZapiClient.tally`)."""
        return _ZapiCall(self, instance.name, endpoint)

    def zapi_call_ended(self, instance: str, endpoint: str, result: str, seconds: float) -> None:
        if not _ENDPOINT.fullmatch(endpoint):
            endpoint = "other"
        if instance not in self._instance_names:
            instance = "other"
        self._zapi_calls(instance, endpoint, result).inc()
        timer = self._zapi_timers.get(endpoint)
        if timer is None:
            timer = self._zapi_timers[endpoint] = self._zapi_seconds.labels(endpoint)
        timer.observe(seconds)

    def bot_api_answered(self, url: str, answer: int | str) -> None:
        """A Bot API request to `url` was answered with the HTTP status `answer`, or failed
        ("timeout", "network")."""
        method, calls = self._bot_api_method(url.rpartition("/")[2])
        calls.inc()
        if isinstance(answer, str) or not 200 <= answer < 300:
            self._bot_api_errors(method, bot_api_error(answer)).inc()

    def _bot_api_method(self, name: str) -> tuple[str, Counter]:
        bound = self._bot_api_bound.get(name)
        if bound is None:
            method = name if _BOT_API_METHOD.fullmatch(name) else "other"
            bound = (method, self._bot_api_calls.labels(method))
            if method != "other":
                self._bot_api_bound[name] = bound
        return bound

    # -- read when scraped -------------------------------------------------------------------

    async def scrape(self, accept: str = "") -> tuple[bytes, str]:
        """Every metric (the gauges read now) and its content type, in the format the scraper's
        `Accept` header asks for: Prometheus' text format unless it asks for OpenMetrics."""
        await self._held.read()
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type


class _Holdings(Collector):
    """The gauges of what the bot holds, as last read (None: not readable then, left out)."""

    def __init__(self, instances: tuple[str, ...]) -> None:
        self.instances = instances
        self.database: Database | None = None
        self.leases: Callable[[], Awaitable[Mapping[str, int]]] | None = None
        self.backlog: Callable[[], int] | None = None
        self.held: Mapping[str, int] | None = None
        self.pending: int | None = None
        self.owed: int | None = None

    async def read(self) -> None:
        held = pending = owed = None
        if self.leases is not None:
            held = await _within(self.leases(), "leases")
        if self.database is not None:
            pending = await _within(_count(self.database, repo.count_pending_timers), "waits")
            owed = await _within(_count(self.database, repo.count_outbox), "outbox")
        self.held, self.pending, self.owed = held, pending, owed

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            PREFIX + "build_info", "The running version (always 1).", labels=["version"]
        )
        info.add_metric([__version__], 1)
        yield info
        if self.held is not None:
            leases = GaugeMetricFamily(
                PREFIX + "leases_held",
                "Whether the instance is held by a flow (1) or free (0).",
                labels=["instance"],
            )
            for instance in self.instances:
                leases.add_metric([instance], 1 if instance in self.held else 0)
            yield leases
        if self.pending is not None:
            yield GaugeMetricFamily(
                PREFIX + "pending_waits",
                "Z-API waits whose end is not announced yet.",
                value=self.pending,
            )
        if self.owed is not None:
            yield GaugeMetricFamily(
                PREFIX + "outbox_owed_messages",
                "Messages committed to the outbox and not yet confirmed by Telegram.",
                value=self.owed,
            )
        if self.backlog is not None:
            yield GaugeMetricFamily(
                PREFIX + "outbox_backlog_messages",
                "Messages Telegram could not take yet, waiting in their chats' backlogs for a "
                "retry.",
                value=self.backlog(),
            )


async def _count(database: Database, query: Callable[..., Awaitable[int]]) -> int:
    async with database.reader() as session:
        return await query(session)


async def _within(work: Awaitable[_T], what: str) -> _T | None:
    try:
        async with asyncio.timeout(SCRAPE_DATABASE_TIMEOUT):
            return await work
    except Exception as error:  # the scrape goes on without that gauge
        logger.debug("Metrics: %s not read (%s)", what, type(error).__name__)
        return None
