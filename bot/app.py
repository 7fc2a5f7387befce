"""Wiring: settings → database, Z-API client, flow, handlers and jobs → an Application."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ContextTypes,
    TypeHandler,
)

from bot.access import AccessGate
from bot.admin import AdminCommands
from bot.concurrency import PerChatUpdateProcessor
from bot.config import Settings
from bot.conversation.flow import RegistrationFlow
from bot.conversation.handlers import RegistrationHandlers, command_menu
from bot.conversation.jobs import FlowJobs
from bot.conversation.texts import CATALOGS
from bot.conversation.timers import JobQueueTimers
from bot.delivery import Courier
from bot.domain.clock import Clock, SystemClock
from bot.error_reporting import ErrorReporter
from bot.storage.database import Database
from bot.telegram_request import AiohttpRequest
from bot.zapi import ZapiClient

__all__ = ["BotServices", "build_application"]

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
BotApplication = Application[Any, Context, Any, Any, Any, Any]


@dataclass
class BotServices:
    settings: Settings
    database: Database
    zapi: ZapiClient
    flow: RegistrationFlow
    handlers: RegistrationHandlers
    timers: JobQueueTimers
    gate: AccessGate
    jobs: FlowJobs
    courier: Courier


def build_application(settings: Settings, *, clock: Clock | None = None) -> BotApplication:
    """The bot, wired. `clock`: where it reads the time (the machine's unless a test brings its
    own)."""
    clock = clock or SystemClock()
    database = Database(
        settings.database_url, busy_timeout_ms=round(settings.sqlite_busy_timeout_seconds * 1000)
    )
    zapi = ZapiClient(
        str(settings.zapi_base_url),
        settings.zapi_client_token,
        timeout=settings.zapi_timeout_seconds,
    )
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .concurrent_updates(PerChatUpdateProcessor())
        .request(AiohttpRequest(connection_pool_size=256, pool_timeout=30))
        .get_updates_request(AiohttpRequest(connection_pool_size=1))
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
    assert application.job_queue is not None, "python-telegram-bot[job-queue] is required"

    timers = JobQueueTimers(application.job_queue, clock)
    flow = RegistrationFlow(settings, database, zapi, timers, clock)
    courier = Courier(application.bot, flow.store, clock=clock)
    flow.courier = courier
    handlers = RegistrationHandlers(flow, courier)
    gate = AccessGate(settings, database)

    processor = application.update_processor
    assert isinstance(processor, PerChatUpdateProcessor)
    jobs = FlowJobs(flow, courier, processor)
    timers.on_due = jobs.announce_waits_over
    services = BotServices(settings, database, zapi, flow, handlers, timers, gate, jobs, courier)
    application.bot_data["services"] = services

    application.add_handler(TypeHandler(Update, gate.check), group=-2)
    application.add_handlers(AdminCommands(gate, database, flow, processor).handlers(), group=-1)
    application.add_handlers(handlers.handlers())
    application.add_error_handler(ErrorReporter(settings).on_error)
    return application


def services_of(application: Application[Any, Any, Any, Any, Any, Any]) -> BotServices:
    services = application.bot_data["services"]
    assert isinstance(services, BotServices)
    return services


async def _on_start(application: BotApplication) -> None:
    services = services_of(application)
    await services.gate.load()
    # Members whose Z-API call a stop cut off are told where they are; then everything still
    # owed (those notices included) goes out.
    interrupted = await services.flow.resume_interrupted()
    owed = await services.courier.start()
    timers = await services.flow.store.pending_timers()
    if timers:
        services.timers.schedule(min(timer.ready_at for timer in timers))
    assert application.job_queue is not None
    # The command menu is cosmetic: published once polling runs, so neither its round trips nor
    # a failure of them holds up the start.
    application.job_queue.run_once(_publish_commands, when=0, name="commands")
    interval = min(30.0, max(0.5, services.settings.conversation_timeout_seconds / 10))
    application.job_queue.run_repeating(
        services.jobs.end_idle_flows, interval=interval, first=0, name="idle-flows"
    )
    logger.info(
        "Started: %d instance(s), %d wait timer(s) restored, %d interrupted call(s), "
        "%d message(s) owed",
        len(services.settings.instances),
        len(timers),
        interrupted,
        owed,
    )


async def _publish_commands(context: Context) -> None:
    await context.bot.set_my_commands(command_menu(CATALOGS["en"]))
    await context.bot.set_my_commands(command_menu(CATALOGS["pt"]), language_code="pt")


async def _on_stop(application: BotApplication) -> None:
    services = services_of(application)
    await services.jobs.stop()
    await services.courier.stop()
    await services.zapi.aclose()
    await services.database.dispose()
    logger.info("Stopped")
