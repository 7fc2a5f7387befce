"""Wiring: settings → database, Z-API client, flow, handlers and jobs → an Application."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telegram import BotCommand, Update
from telegram.error import NetworkError, RetryAfter, TelegramError
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
from bot.conversation.flow import RegistrationFlow, Reply, WaitOverNotice
from bot.conversation.handlers import RegistrationHandlers
from bot.conversation.keyboards import format_wait
from bot.conversation.texts import CATALOGS, Catalog, catalog_for
from bot.conversation.timers import JobQueueTimers
from bot.errors import ErrorReporter
from bot.storage.database import Database
from bot.storage.persistence import RegistrationPersistence
from bot.telegram_request import AiohttpRequest
from bot.zapi import ZapiClient

__all__ = ["BotServices", "build_application"]

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
NOTICE_CONCURRENCY = 8
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


def _commands(texts: Catalog) -> list[BotCommand]:
    return [
        BotCommand("register", texts.command_register),
        BotCommand("status", texts.command_status),
        BotCommand("back", texts.command_back),
        BotCommand("cancel", texts.command_cancel),
        BotCommand("help", texts.command_help),
        BotCommand("start", texts.command_start),
    ]


def build_application(settings: Settings) -> BotApplication:
    database = Database(settings.database_url)
    zapi = ZapiClient(
        str(settings.zapi_base_url),
        settings.zapi_client_token,
        timeout=settings.zapi_timeout_seconds,
    )
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .persistence(RegistrationPersistence(database))
        .concurrent_updates(PerChatUpdateProcessor(512))
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

    timers = JobQueueTimers(application.job_queue)
    flow = RegistrationFlow(settings, database, zapi, timers)
    handlers = RegistrationHandlers(flow)
    gate = AccessGate(settings, database)
    services = BotServices(settings, database, zapi, flow, handlers, timers, gate)
    application.bot_data["services"] = services

    # Hundreds of sends at once mostly wait on each other inside the HTTP client's pool.
    sending = asyncio.Semaphore(NOTICE_CONCURRENCY)

    async def announce(notice: WaitOverNotice) -> datetime | None:
        """Deliver one notice; when Telegram could not take it, when to try again."""
        try:
            async with sending:
                await handlers.deliver_to(application.bot, notice.chat_id, [notice.reply])
        except (NetworkError, RetryAfter) as error:  # TimedOut is a NetworkError
            logger.warning("Wait notice to chat %s not delivered: %s", notice.chat_id, error)
            return await flow.notice_not_delivered(notice)
        except TelegramError as error:  # e.g. the member blocked the bot: nobody to tell
            logger.warning("Wait notice to chat %s refused: %s", notice.chat_id, error)
        return None

    async def announce_waits_over() -> datetime | None:
        notices, next_deadline = await flow.due_notices()
        retries = await asyncio.gather(*(announce(notice) for notice in notices))
        return min(filter(None, [next_deadline, *retries]), default=None)

    timers.on_due = announce_waits_over

    application.add_handler(TypeHandler(Update, gate.check), group=-2)
    application.add_handlers(AdminCommands(gate, database).handlers(), group=-1)
    application.add_handler(handlers.conversation())
    application.add_handlers(handlers.outside_handlers())
    application.add_error_handler(ErrorReporter(settings).on_error)
    return application


def services_of(application: Application[Any, Any, Any, Any, Any, Any]) -> BotServices:
    services = application.bot_data["services"]
    assert isinstance(services, BotServices)
    return services


async def _end_idle_flows(context: Context) -> None:
    services = services_of(context.application)
    processor = context.application.update_processor
    assert isinstance(processor, PerChatUpdateProcessor)
    for chat_id in await services.flow.idle_chats():
        # In the chat's turn: a step still in flight (say, a Z-API call) finishes first.
        async with processor.turn(chat_id):
            reg = await services.flow.expire_if_idle(chat_id)
        if reg is None:
            continue
        texts = catalog_for(reg.language)
        duration = format_wait(round(services.settings.conversation_timeout_seconds), texts)
        try:
            await services.handlers.deliver_to(
                context.bot, chat_id, [Reply(texts.idle_timeout.format(duration=duration))]
            )
        except TelegramError as error:
            logger.warning("Could not tell chat %s its flow timed out: %s", chat_id, error)


async def _on_start(application: BotApplication) -> None:
    services = services_of(application)
    await services.gate.load()
    await application.bot.set_my_commands(_commands(CATALOGS["en"]))
    await application.bot.set_my_commands(_commands(CATALOGS["pt"]), language_code="pt")
    timers = await services.flow.pending_timers()
    if timers:
        services.timers.schedule(min(timer.ready_at for timer in timers))
    assert application.job_queue is not None
    interval = min(30.0, max(0.5, services.settings.conversation_timeout_seconds / 10))
    application.job_queue.run_repeating(
        _end_idle_flows, interval=interval, first=0, name="idle-flows"
    )
    logger.info(
        "Started: %d instance(s), %d wait timer(s) restored",
        len(services.settings.instances),
        len(timers),
    )


async def _on_stop(application: BotApplication) -> None:
    services = services_of(application)
    await services.zapi.aclose()
    await services.database.dispose()
    logger.info("Stopped")
