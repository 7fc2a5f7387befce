"""`GET /metrics`: what bot/metrics.py counted, and what the bot holds read now, as
prometheus_client exposes it (imported only where /metrics is served, by bot/webhook.py).

One registry per application, so that several bots in one process (the tests) keep apart; the
process, platform and garbage collector metrics are on it too. What the bot holds is read at
scrape time: leases and the retry backlog from memory, pending waits and the outbox with one
COUNT each. A gauge whose read fails or takes over `SCRAPE_DATABASE_TIMEOUT` is left out of
that scrape; the rest is served.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import TypeVar

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from bot import __version__
from bot.metrics import Histogram, Holdings, Metrics
from bot.storage import repositories as repo
from bot.storage.database import Database

__all__ = ["PREFIX", "SCRAPE_DATABASE_TIMEOUT", "Exporter"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

PREFIX = "zapi_bot_"
# How long a scrape waits for each read of what the bot holds before leaving that gauge out.
SCRAPE_DATABASE_TIMEOUT = 2.0


class Exporter(Collector):
    """The application's registry, with its metrics on it."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.registry.register(self)
        self._held: Mapping[str, int] | None = None
        self._pending: int | None = None
        self._owed: int | None = None

    async def scrape(self, accept: str = "") -> tuple[bytes, str]:
        """Every metric and its content type, in the format the scraper's `Accept` header asks
        for: Prometheus' text format unless it asks for OpenMetrics."""
        holdings = self.metrics.holdings
        held = pending = owed = None
        if holdings is not None:
            held = await _within(holdings.leases(), "leases")
            pending = await _within(_count(holdings.database, repo.count_pending_timers), "waits")
            owed = await _within(_count(holdings.database, repo.count_outbox), "outbox")
        self._held, self._pending, self._owed = held, pending, owed
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type

    def collect(self) -> Iterator[Metric]:
        metrics = self.metrics
        info = GaugeMetricFamily(
            PREFIX + "build_info", "The running version (always 1).", labels=["version"]
        )
        info.add_metric([__version__], 1)
        yield info
        yield _counter(
            "updates", "Telegram updates handled, by kind.", ["kind"], _single(metrics.updates)
        )
        yield _histogram(
            "update_duration_seconds",
            "From taking an update in (its chat's turn included) to its handlers being done.",
            [],
            {(): metrics.update_seconds},
        )
        yield _counter(
            "registrations_started",
            "Flows opened, by kind (a registration, or the set-up of a connected number).",
            ["kind"],
            _single(metrics.started),
        )
        yield _counter(
            "registrations_finished",
            "Flows ended, by kind (sandbox: on a sandbox instance), outcome and the delivery "
            "method of their code (none: none was chosen).",
            ["kind", "outcome", "method"],
            metrics.finished.items(),
        )
        yield _counter(
            "zapi_calls",
            "Z-API calls, by instance, endpoint and result.",
            ["instance", "endpoint", "result"],
            metrics.zapi_calls.items(),
        )
        yield _histogram(
            "zapi_call_duration_seconds",
            "How long Z-API calls took (the retry after a failed connection included).",
            ["endpoint"],
            {(endpoint,): timer for endpoint, timer in metrics.zapi_seconds.items()},
        )
        yield _counter(
            "telegram_requests",
            "Bot API requests, by method.",
            ["method"],
            _single(metrics.bot_api_calls),
        )
        yield _counter(
            "telegram_errors",
            "Bot API requests that failed, by method and error (the HTTP status's name, "
            "timeout or network).",
            ["method", "error"],
            metrics.bot_api_errors.items(),
        )
        yield from self._holdings()

    def _holdings(self) -> Iterator[Metric]:
        if self._held is not None:
            leases = GaugeMetricFamily(
                PREFIX + "leases_held",
                "Whether the instance is held by a flow (1) or free (0).",
                labels=["instance"],
            )
            for instance in self.metrics.instances:
                leases.add_metric([instance], 1 if instance in self._held else 0)
            yield leases
        if self._pending is not None:
            yield GaugeMetricFamily(
                PREFIX + "pending_waits",
                "Z-API waits whose end is not announced yet.",
                value=self._pending,
            )
        if self._owed is not None:
            yield GaugeMetricFamily(
                PREFIX + "outbox_owed_messages",
                "Messages committed to the outbox and not yet confirmed by Telegram.",
                value=self._owed,
            )
        holdings: Holdings | None = self.metrics.holdings
        if holdings is not None:
            yield GaugeMetricFamily(
                PREFIX + "outbox_backlog_messages",
                "Messages Telegram could not take yet, waiting in their chats' backlogs for a "
                "retry.",
                value=holdings.backlog(),
            )


def _single(counts: Mapping[str, int]) -> Iterator[tuple[tuple[str], int]]:
    return (((label,), count) for label, count in counts.items())


def _counter(
    name: str,
    documentation: str,
    labels: list[str],
    counts: Iterable[tuple[Sequence[str], int]],
) -> CounterMetricFamily:
    family = CounterMetricFamily(PREFIX + name, documentation, labels=labels)
    for values, count in counts:
        family.add_metric(list(values), count)
    return family


def _histogram(
    name: str,
    documentation: str,
    labels: list[str],
    histograms: Mapping[tuple[str, ...], Histogram],
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(PREFIX + name, documentation, labels=labels)
    for values, histogram in histograms.items():
        buckets: list[tuple[str, float]] = []
        total = 0
        for bound, count in zip((*histogram.bounds, float("inf")), histogram.counts, strict=True):
            total += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), total))
        family.add_metric(list(values), buckets, histogram.sum)
    return family


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
