"""Webhook mode: Telegram posts updates to WEBHOOK_URL, Z-API its connection events
(bot/zapi_webhooks.py); `/healthz` reports on the bot's health and `/metrics` serves its
Prometheus metrics (bot/metrics.py). In polling mode HEALTH_PORT serves those two."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import signal
from typing import Any

import tornado.httpserver
import tornado.web
from sqlalchemy import text
from telegram import Update

from bot import __version__
from bot.app import BotApplication, services_of
from bot.config import Settings
from bot.conversation.updates import ALLOWED_UPDATES
from bot.metrics_export import Exporter
from bot.zapi_webhooks import ZAPI_WEBHOOK_ROUTE, ZapiWebhookReceiver

__all__ = ["WEBHOOK_PATH", "serve_webhook", "start_health_server", "webhook_secret"]

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name


def webhook_secret(settings: Settings) -> str:
    """WEBHOOK_SECRET, or one derived from the bot token so that it is stable across restarts."""
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value()
    digest = hashlib.sha256(b"webhook:" + settings.telegram_bot_token.get_secret_value().encode())
    return digest.hexdigest()[:48]


class _UpdateReceiver(tornado.web.RequestHandler):
    def initialize(self, bot_application: BotApplication, secret: str) -> None:
        self.bot_application = bot_application
        self.secret = secret

    async def post(self) -> None:
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            self.set_status(403)
            return
        try:
            data: Any = json.loads(self.request.body)
            update = Update.de_json(data, self.bot_application.bot)
        except (ValueError, TypeError, KeyError):
            self.set_status(400)
            return
        await self.bot_application.update_queue.put(update)
        self.set_status(200)


class _Health(tornado.web.RequestHandler):
    def initialize(self, bot_application: BotApplication) -> None:
        self.bot_application = bot_application

    async def get(self) -> None:
        healthy = self.bot_application.running
        if healthy:
            try:
                database = services_of(self.bot_application).database
                async with database.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
            except Exception:  # any database failure means unhealthy
                healthy = False
        self.set_status(200 if healthy else 503)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"ok": healthy, "version": __version__}))


class _Metrics(tornado.web.RequestHandler):
    def initialize(self, exporter: Exporter) -> None:
        self.exporter = exporter

    async def get(self) -> None:
        body, content_type = await self.exporter.scrape(self.request.headers.get("Accept", ""))
        self.set_header("Content-Type", content_type)
        self.finish(body)


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """Tornado's access log, without the secret a Z-API webhook's path carries."""
    path = re.sub(r"^/zapi/[^/]+", "/zapi/…", handler.request.path)
    status = handler.get_status()
    level = logging.WARNING if status >= 400 else logging.DEBUG
    logger.log(level, "%s %s %s", status, handler.request.method, path)


def start_health_server(application: BotApplication, port: int) -> tornado.httpserver.HTTPServer:
    """`GET /healthz` and `/metrics` on `port` (polling mode: nothing else listens); stop() it
    at the end."""
    routes: list[Any] = [
        ("/healthz", _Health, {"bot_application": application}),
        ("/metrics", _Metrics, {"exporter": Exporter(services_of(application).metrics)}),
    ]
    server = tornado.httpserver.HTTPServer(
        tornado.web.Application(routes, log_function=_log_request)
    )
    server.listen(port, address="0.0.0.0")  # noqa: S104 - the platform probes it
    return server


async def serve_webhook(application: BotApplication, settings: Settings) -> None:
    assert settings.webhook_url is not None
    secret = webhook_secret(settings)
    url = str(settings.webhook_url).rstrip("/") + WEBHOOK_PATH
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with application:
            if application.post_init is not None:
                await application.post_init(application)
            await application.start()
            routes: list[Any] = [
                (WEBHOOK_PATH, _UpdateReceiver, {"bot_application": application, "secret": secret}),
                ("/healthz", _Health, {"bot_application": application}),
                ("/metrics", _Metrics, {"exporter": Exporter(services_of(application).metrics)}),
                (
                    ZAPI_WEBHOOK_ROUTE,
                    ZapiWebhookReceiver,
                    {"settings": settings, "monitor": services_of(application).monitor},
                ),
            ]
            server = tornado.httpserver.HTTPServer(
                tornado.web.Application(routes, log_function=_log_request)
            )
            try:
                server.listen(settings.port, address="0.0.0.0")  # noqa: S104 - the platform routes to it
                # Listening first: Telegram starts posting as soon as the webhook is set.
                await application.bot.set_webhook(
                    url,
                    secret_token=secret,
                    allowed_updates=ALLOWED_UPDATES,
                )
                logger.info("Webhook mode on port %s", settings.port)
                await stop.wait()
                logger.info("Stopping")
            finally:  # also when the start fails (setWebhook refused, port taken): stop cleanly
                server.stop()
                await application.stop()
                if application.post_stop is not None:
                    await application.post_stop(application)
    finally:
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
