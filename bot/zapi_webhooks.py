"""Z-API's `connected` and `disconnected` webhooks, in webhook mode: a drop is alerted within
seconds instead of at the next poll (the monitor, bot/monitor.py, stays the fallback).

Z-API signs nothing, so the path carries a secret derived from the bot's settings
(`WEBHOOK_URL/zapi/<secret>/<event>`), never logged, and the body's `instanceId` must be one of
ZAPI_INSTANCES. Anything else is 404 and changes nothing. `python -m bot zapi-webhooks` sets
those URLs on every instance.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

import tornado.web

from bot.config import Settings
from bot.domain.instances import connection_event
from bot.monitor import InstanceMonitor
from bot.zapi import ValueEndpoint, ZapiClient, ZapiError

__all__ = ["EVENTS", "ZAPI_WEBHOOK_ROUTE", "ZapiWebhookReceiver", "set_zapi_webhooks"]

logger = logging.getLogger(__name__)

# Each event, and the endpoint that sets its URL on an instance.
EVENTS: dict[str, ValueEndpoint] = {
    "connected": "update-webhook-connected",
    "disconnected": "update-webhook-disconnected",
}
ZAPI_WEBHOOK_ROUTE = r"/zapi/([^/]+)/([^/]+)"


def zapi_webhook_secret(settings: Settings) -> str:
    digest = hashlib.sha256(
        b"zapi-webhook:" + settings.telegram_bot_token.get_secret_value().encode()
    )
    return digest.hexdigest()[:40]


def zapi_webhook_url(settings: Settings, event: str) -> str:
    assert settings.webhook_url is not None
    base = str(settings.webhook_url).rstrip("/")
    return f"{base}/zapi/{zapi_webhook_secret(settings)}/{event}"


class ZapiWebhookReceiver(tornado.web.RequestHandler):
    def initialize(self, settings: Settings, monitor: InstanceMonitor) -> None:
        self.bot_settings = settings
        self.monitor = monitor

    def log_exception(self, *args: Any) -> None:  # tornado would log the path: the secret
        logger.warning("A Z-API webhook failed")

    async def post(self, secret: str, event: str) -> None:
        expected = zapi_webhook_secret(self.bot_settings)
        if not hmac.compare_digest(secret.encode(), expected.encode()) or event not in EVENTS:
            self.set_status(404)
            return
        try:
            body: Any = json.loads(self.request.body)
        except ValueError:
            body = None
        said = connection_event(event, body)
        names = {item.instance_id: item.name for item in self.bot_settings.instances}
        if said is None or said[0] not in names:
            logger.warning("A Z-API %s webhook was refused (not a known instance's)", event)
            self.set_status(404)
            return
        name, probe = names[said[0]], said[1]
        logger.info("Z-API says %s is %s", name, probe.connection.value)
        await self.monitor.observe({name: probe.connection}, {name: probe})
        self.set_status(200)


async def set_zapi_webhooks(settings: Settings) -> int:
    """`python -m bot zapi-webhooks`: point every instance's connected and disconnected
    webhooks at this bot; prints what it did (the secret left out). 0 when all were set."""
    if settings.webhook_url is None or not str(settings.webhook_url).startswith("https://"):
        print(
            "WEBHOOK_URL must be set to the bot's public https:// address (Z-API calls HTTPS only)"
        )
        return 1
    failures = 0
    async with ZapiClient(
        str(settings.zapi_base_url),
        settings.zapi_client_token,
        timeout=settings.zapi_timeout_seconds,
    ) as zapi:
        for instance in settings.instances:
            if instance.sandbox:
                print(f"{instance.name}: sandbox, no webhooks needed")
                continue
            for event, endpoint in EVENTS.items():
                url = zapi_webhook_url(settings, event)
                try:
                    accepted = await zapi.set_value(instance, endpoint, url)
                except ZapiError as error:
                    accepted, said = False, f"not set ({type(error).__name__})"
                else:
                    shown = url.replace(zapi_webhook_secret(settings), "…")
                    said = f"set to {shown}" if accepted else "refused by Z-API"
                print(f"{instance.name}: {event} webhook {said}")
                failures += 0 if accepted else 1
    return 0 if failures == 0 else 1
