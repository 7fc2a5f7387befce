"""Wiring: settings → database, Z-API client, flow, handlers and jobs → an Application."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ContextTypes,
    TypeHandler,
)

from bot import __version__
from bot.access import AccessGate
from bot.admin import AdminCommands
from bot.admission import Admission
from bot.alerts import AdminAlerts
from bot.board import InstanceBoard
from bot.concurrency import PerChatUpdateProcessor
from bot.config import Settings
from bot.conversation.flow import RegistrationFlow
from bot.conversation.handlers import RegistrationHandlers
from bot.conversation.jobs import FlowJobs
from bot.conversation.timers import RepeatingTask, WaitTimers
from bot.delivery import Courier
from bot.domain.clock import Clock, SystemClock
from bot.error_reporting import ErrorReporter
from bot.history import HistoryCommands
from bot.languages import LanguageChoices
from bot.menu import publish as publish_menus
from bot.metrics import Holdings, Metrics
from bot.monitor import InstanceMonitor
from bot.people import People
from bot.storage.database import Database
from bot.storage.flow_store import FlowStore
from bot.telegram_request import AiohttpRequest
from bot.zapi import ZapiClient

if TYPE_CHECKING:
    from bot.zapi.sandbox import SandboxZapi

__all__ = ["BotServices", "build_application"]

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
BotApplication = Application[Any, Context, Any, Any, Any, Any]
# How often the names and sightings of people are written (they are kept in memory meanwhile).
PEOPLE_FLUSH_SECONDS = 10.0


@dataclass
class BotServices:
    settings: Settings
    database: Database
    store: FlowStore
    zapi: ZapiClient
    flow: RegistrationFlow
    handlers: RegistrationHandlers
    timers: WaitTimers
    idle_sweep: RepeatingTask
    gate: AccessGate
    jobs: FlowJobs
    courier: Courier
    languages: LanguageChoices
    people: People
    alerts: AdminAlerts
    monitor: InstanceMonitor
    repeating: list[RepeatingTask]
    metrics: Metrics
    background: set[asyncio.Task[None]] = field(default_factory=set)


def build_application(settings: Settings, *, clock: Clock | None = None) -> BotApplication:
    """The bot, wired. `clock`: where it reads the time (the machine's unless a test brings its
    own)."""
    clock = clock or SystemClock()
    metrics = Metrics.of(settings.instances)
    database = Database(
        settings.database_url, busy_timeout_ms=round(settings.sqlite_busy_timeout_seconds * 1000)
    )
    sandboxes = {item.instance_id: item.name for item in settings.instances if item.sandbox}
    sandbox: SandboxZapi | None = None
    if sandboxes:  # (its modules are loaded only then)
        from bot.sandbox import SandboxMemoryStore
        from bot.zapi.sandbox import SandboxZapi

        sandbox = SandboxZapi(sandboxes, clock, memory=SandboxMemoryStore(database, clock))
    zapi = ZapiClient(
        str(settings.zapi_base_url),
        settings.zapi_client_token,
        timeout=settings.zapi_timeout_seconds,
        sandbox=sandbox,
    )
    zapi.tally = metrics.tally
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .concurrent_updates(PerChatUpdateProcessor(on_handled=metrics.update_handled))
        .request(
            AiohttpRequest(
                connection_pool_size=256,
                pool_timeout=30,
                read_timeout=settings.telegram_timeout_seconds,
                write_timeout=settings.telegram_timeout_seconds,
                connect_timeout=settings.telegram_timeout_seconds,
                on_answer=metrics.bot_api_answered,
            )
        )
        .get_updates_request(
            AiohttpRequest(connection_pool_size=1, on_answer=metrics.bot_api_answered)
        )
        .post_init(_on_start)
        .post_shutdown(_on_stop)
    )
    if settings.telegram_max_messages_per_second > 0:
        builder = builder.rate_limiter(
            AIORateLimiter(  # type: ignore[arg-type]
                overall_max_rate=settings.telegram_max_messages_per_second, max_retries=3
            )
        )
    application: BotApplication = builder.build()
    timers = WaitTimers(clock)
    store = FlowStore(
        database,
        idle_timeout=timedelta(seconds=settings.conversation_timeout_seconds),
        scheduler=timers,
        clock=clock,
        sandboxes=settings.sandboxes,
    )
    flow = RegistrationFlow(settings, store, zapi, clock)
    courier = Courier(application.bot, store, clock=clock)
    flow.courier = courier
    if sandbox is not None:
        from bot.sandbox import SandboxPhone

        sandbox.deliver = SandboxPhone(store, courier).receive
    languages = LanguageChoices(database)
    people = People(database, clock)
    alerts = AdminAlerts(
        settings,
        courier,
        languages,
        clock,
        store=store,
        people=people,
        bot_username=lambda: _username(application),
    )
    flow.alerts = alerts
    store.on_event = alerts.flow_event
    store.on_open, store.on_end = metrics.flow_opened, metrics.flow_ended
    metrics.holdings = Holdings(database, store.held_instances, courier.backlog_size)
    monitor = InstanceMonitor(settings, zapi, database, alerts, clock)
    flow.runs_a_number = monitor.runs_a_number
    handlers = RegistrationHandlers(flow, courier, languages)
    gate = AccessGate(settings, database, people, courier)

    processor = application.update_processor
    assert isinstance(processor, PerChatUpdateProcessor)
    jobs = FlowJobs(flow, courier, processor)
    timers.on_due = jobs.announce_waits_over
    # A flow ends within a tenth of its timeout after it passes (30 s at most).
    sweep_every = min(30.0, max(0.5, settings.conversation_timeout_seconds / 10))
    idle_sweep = RepeatingTask(clock, jobs.end_idle_flows, interval=sweep_every, name="idle-flows")
    repeating = [RepeatingTask(clock, people.flush, interval=PEOPLE_FLUSH_SECONDS, name="people")]
    if settings.instance_check_seconds > 0:
        repeating.append(
            RepeatingTask(
                clock, monitor.check, interval=settings.instance_check_seconds, name="monitor"
            )
        )
    services = BotServices(
        settings,
        database,
        store,
        zapi,
        flow,
        handlers,
        timers,
        idle_sweep,
        gate,
        jobs,
        courier,
        languages,
        people,
        alerts,
        monitor,
        repeating,
        metrics,
    )
    application.bot_data["services"] = services

    application.add_handler(TypeHandler(Update, gate.check), group=-2)
    board = InstanceBoard(flow, monitor, jobs, gate, people, languages)
    admission = Admission(gate, alerts, store, courier, languages, clock)
    history = HistoryCommands(settings, database, gate, people, languages, clock)
    admin = AdminCommands(
        gate,
        database,
        flow,
        processor,
        languages,
        jobs,
        {
            "instances": board.show,
            "invite": admission.invite,
            "history": history.history,
            "export": history.export,
            "stats": history.stats,
        },
        people,
    )
    application.add_handlers(
        [*admin.handlers(), *board.handlers(), *admission.handlers()], group=-1
    )
    application.add_handlers(handlers.handlers())
    application.add_error_handler(ErrorReporter(settings).on_error)
    return application


def _username(application: BotApplication) -> str | None:
    """The bot's @username, once getMe told it (None before)."""
    try:
        username: str = application.bot.username
    except RuntimeError:  # not initialized yet
        return None
    return username


def services_of(application: Application[Any, Any, Any, Any, Any, Any]) -> BotServices:
    services = application.bot_data["services"]
    assert isinstance(services, BotServices)
    return services


async def _on_start(application: BotApplication) -> None:
    services = services_of(application)
    await services.gate.load()
    await services.languages.load()
    await services.people.load()
    # Members whose Z-API call a stop cut off are told where they are; then everything still
    # owed (those notices included) goes out.
    interrupted = await services.flow.resume_interrupted()
    owed = await services.courier.start()
    timers = await services.store.pending_timers()
    if timers:
        services.timers.schedule(min(timer.ready_at for timer in timers))
    # The command menu is cosmetic: published in the background, so neither its round trips nor
    # a failure of them holds up the start.
    menu = asyncio.get_running_loop().create_task(
        publish_menus(application.bot, services.settings.admin_user_ids)
    )
    services.background.add(menu)
    menu.add_done_callback(services.background.discard)
    services.idle_sweep.start()
    for repeating in services.repeating:
        repeating.start()
    if services.settings.open_rehearsal:
        logger.warning(
            "Only sandbox instances and no ALLOWED_USER_IDS or ADMIN_USER_IDS: anyone who finds "
            "the bot can rehearse on it"
        )
    logger.info(
        "Started version %s: %d instance(s), %d wait timer(s) restored, %d interrupted call(s), "
        "%d message(s) owed",
        __version__,
        len(services.settings.instances),
        len(timers),
        interrupted,
        owed,
    )


async def _on_stop(application: BotApplication) -> None:
    services = services_of(application)
    for task in services.background:
        task.cancel()
    await asyncio.gather(*services.background, return_exceptions=True)
    await services.idle_sweep.stop()
    for repeating in services.repeating:
        await repeating.stop()
    await services.alerts.stop()
    try:
        await services.people.flush()
    except Exception as error:  # the sightings are only news; the stop goes on
        logger.warning("Sightings not recorded at stop: %s", type(error).__name__)
    await services.timers.stop()
    await services.jobs.stop()
    await services.courier.stop()
    await services.zapi.aclose()
    await services.database.dispose()
    logger.info("Stopped")
