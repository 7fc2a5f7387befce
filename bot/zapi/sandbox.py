"""Sandbox instances: Z-API's mobile endpoints simulated inside the bot, for rehearsals.

An instance written `NAME=sandbox` in `ZAPI_INSTANCES` is served by `SandboxZapi`, an httpx
transport: the Z-API client reads its answers as it reads Z-API's. It follows
`shared/zapi-mobile-api.md`, by the number's last two digits (`SCENARIOS`, in sandbox_state.py
and the README). What WhatsApp would send the phone (the code, a PIN reset, an e-mail code)
goes to `deliver`, which shows it in the member's chat. What it remembers is written to
`memory` (the bot's database) after each call, so a restart forgets nothing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any, Final

import httpx

from bot.domain.clock import Clock
from bot.zapi.sandbox_captcha import captcha_png
from bot.zapi.sandbox_number import ConnectedNumber
from bot.zapi.sandbox_state import (
    METHODS,
    SLOW_SECONDS,
    WAIT_SECONDS,
    Deliver,
    InstanceState,
    NumberState,
    SandboxMemory,
    SandboxMessage,
    Scenario,
    appeal_token,
    captcha_answer,
    dump_instance,
    load_instance,
    registration_code,
    scenario_of,
    two_step_pin,
    wait_field_of,
)

__all__ = ["SandboxRouter", "SandboxZapi"]

logger = logging.getLogger(__name__)


# What leaves the sandbox as it was (the rest is written down after each call).
_READS = frozenset(
    {
        ("GET", "status"),
        ("GET", "device"),
        ("GET", "me"),
        ("GET", "restart"),
        ("GET", "restore-session"),
        ("GET", "security/two-fa-code"),
        ("GET", "security/email"),
    }
)
_PATH = re.compile(r"/instances/([^/]+)/token/[^/]+/(.+)$")
FORGOTTEN_AFTER = timedelta(hours=1)
_NOT_FOUND = {"error": "NOT_FOUND", "message": "Unable to find matching target resource method"}
Answer = tuple[int, Mapping[str, Any]]


class SandboxZapi(ConnectedNumber, httpx.AsyncBaseTransport):
    """Z-API for the instances in `instances` (instance id → name); `deliver` receives what
    the phone would (instance name, message)."""

    def __init__(
        self,
        instances: Mapping[str, str],
        clock: Clock,
        deliver: Deliver | None = None,
        memory: SandboxMemory | None = None,
    ) -> None:
        self._instances = {iid: InstanceState(name) for iid, name in instances.items()}
        self._clock = clock
        self.deliver = deliver
        self.memory = memory
        self._recalled = asyncio.Lock() if memory is not None else None

    def in_front_of(self, real: httpx.AsyncBaseTransport) -> SandboxRouter:
        """A transport for every instance: this sandbox's, and `real` for the others."""
        return SandboxRouter(self, real)

    def serves(self, path: str) -> bool:
        found = _PATH.search(path)
        return found is not None and found.group(1) in self._instances

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not await self._recall():  # its memory could not be read: nothing is changed
            return _response(request, 503, {"error": "Sandbox unavailable"})
        found = _PATH.search(request.url.path)  # …/instances/{id}/token/{token}/{endpoint}
        instance = self._instances.get(found.group(1)) if found else None
        if found is None or instance is None:
            return _response(request, 200, _NOT_FOUND)
        endpoint = found.group(2)
        route = _ROUTES.get((request.method, endpoint))
        if route is None:
            known = any(path == endpoint for _, path in _ROUTES)
            if known:
                return _response(request, 405, {"error": "Method Not Allowed"})
            return _response(request, 200, _NOT_FOUND)
        handler, fields = route
        body: dict[str, str] = {}
        if fields:
            if "application/json" not in request.headers.get("content-type", ""):
                return _response(request, 415, {"error": "Unsupported Media Type"})
            parsed = _json_object(await request.aread())
            if parsed is None or any(not isinstance(parsed.get(name), str) for name in fields):
                return _response(request, 400, {"error": f"expected {', '.join(fields)}"})
            body = {name: parsed[name] for name in fields}
        checked = instance.checked
        slow = endpoint.startswith("mobile/") and (
            scenario_of(body.get("phone") or (checked[1] if checked else "")) is Scenario.SLOW
        )
        if slow:
            await self._clock.sleep(SLOW_SECONDS)
        try:
            status, answer = await handler(self, instance, body)
        except Exception as error:  # Z-API failing as it may: the bot hears a 500
            logger.warning(
                "Sandbox %s failed on %s: %s", instance.name, endpoint, type(error).__name__
            )
            status, answer = 500, {"error": "Internal Server Error"}
        if self.memory is not None and (request.method, endpoint) not in _READS:
            await self._keep(found.group(1), instance)
        return _response(request, status, answer)

    async def _recall(self) -> bool:
        """Whether what the sandbox remembers is loaded (read once, at its first call)."""
        if self._recalled is None or self.memory is None:
            return True
        async with self._recalled:
            if self._recalled is None:
                return True
            try:
                kept = await self.memory.recall()
            except Exception as error:  # asked again at the next call
                logger.warning("Sandbox state not read: %s", type(error).__name__)
                return False
            for instance_id, text in kept.items():
                if instance_id not in self._instances:
                    continue  # a sandbox no longer configured
                try:
                    state = load_instance(text)
                except (ValueError, KeyError, TypeError, AssertionError):
                    logger.warning("Sandbox state of %s unreadable: started afresh", instance_id)
                    continue
                name = self._instances[instance_id].name
                self._instances[instance_id] = replace(state, name=name)
            self._recalled = None
        return True

    async def _keep(self, instance_id: str, instance: InstanceState) -> None:
        assert self.memory is not None
        try:
            await self.memory.keep({instance_id: dump_instance(instance)})
        except Exception as error:  # the answer stands; only a restart would forget it
            logger.warning("Sandbox state not written: %s", type(error).__name__)

    # -- registration ------------------------------------------------------------------------

    def _number(self, instance: InstanceState, ddi: str, phone: str) -> NumberState:
        """What WhatsApp remembers of the number on this instance: afresh once it connected
        (see `_connect`) or an hour after its last code request."""
        key = f"{ddi}:{phone}"
        number = instance.numbers.get(key)
        now = self._clock.now()
        if number is None or (
            number.ready_at and max(number.ready_at.values()) < now - FORGOTTEN_AFTER
        ):
            scenario = scenario_of(phone)
            banned = scenario in (Scenario.BANNED_IN_REVIEW, Scenario.BANNED_UNBANNED)
            number = instance.numbers[key] = NumberState(scenario, banned)
        return number

    def _waits(self, number: NumberState) -> dict[str, int]:
        now = self._clock.now()
        waits = {
            method: max(0, math.ceil((number.ready_at[method] - now).total_seconds()))
            if method in number.ready_at
            else 0
            for method in METHODS
        }
        if number.scenario is Scenario.NO_POPUP:
            waits["wa_old"] = -1
        return {wait_field_of(method): wait for method, wait in waits.items()}

    async def _available(self, instance: InstanceState, body: dict[str, str]) -> Answer:
        ddi, phone = body["ddi"], body["phone"]
        if not (re.fullmatch(r"\d{1,4}", ddi) and re.fullmatch(r"\d{6,15}", phone)):
            return 400, {"error": "invalid ddi or phone"}
        number = self._number(instance, ddi, phone)
        if number.scenario is Scenario.SERVER_ERROR:
            return 503, {"error": "Service Unavailable"}
        instance.checked, instance.code_sent, instance.captcha = (ddi, phone), False, False
        instance.awaiting = None
        if number.banned:
            return 200, {
                "available": False,
                "blocked": True,
                "appealToken": appeal_token(ddi, phone),
            }
        return 200, {
            "available": True,
            "blocked": False,
            "waOldEligible": number.scenario is not Scenario.NO_POPUP,
            **self._waits(number),
        }

    async def _request_code(self, instance: InstanceState, body: dict[str, str]) -> Answer:
        ddi, phone, method = body["ddi"], body["phone"], body["method"]
        if method not in METHODS:
            return 400, {"error": "method must be sms, voice or wa_old"}
        if instance.checked != (ddi, phone):
            return 400, {"error": "check the number with registration-available first"}
        number = self._number(instance, ddi, phone)
        if number.banned or number.scenario is Scenario.HIDDEN_BAN:
            return 200, {"success": False, "blocked": True}
        waits = self._waits(number)
        if method == "wa_old" and number.scenario is Scenario.NO_POPUP:
            return 200, {"success": False, "reason": "no_routes", **waits}
        left = waits[wait_field_of(method)]
        if left > 0:
            return 200, {"success": False, "retryAfter": left, **waits}
        instance.method = method
        if number.scenario is Scenario.CAPTCHA and not number.captcha_solved:
            instance.captcha = True
            image = base64.b64encode(captcha_png(captcha_answer(ddi, phone))).decode()
            return 200, {"success": False, "captcha": f"data:image/png;base64,{image}"}
        wait = await self._send_code(instance, number, ddi, phone)
        return 200, {"success": True, "retryAfter": wait, "method": method, **self._waits(number)}

    async def _send_code(
        self, instance: InstanceState, number: NumberState, ddi: str, phone: str
    ) -> int:
        number.requests += 1
        wait = WAIT_SECONDS
        if number.scenario is Scenario.GROWING_WAITS:
            wait = 60 * 2 ** (number.requests - 1)
        until = self._clock.now() + timedelta(seconds=wait)
        number.ready_at = dict.fromkeys(METHODS, until)
        instance.code_sent = True
        code = registration_code(ddi, phone)
        await self._tell(instance, SandboxMessage("code", code=code, method=instance.method))
        return wait

    async def _respond_captcha(self, instance: InstanceState, body: dict[str, str]) -> Answer:
        if not instance.captcha or instance.checked is None:
            return 400, {"error": "no captcha to answer"}
        if body["captcha"].strip() != captcha_answer(*instance.checked):
            return 200, {"success": False}
        number = self._number(instance, *instance.checked)
        number.captcha_solved, instance.captcha = True, False
        await self._send_code(instance, number, *instance.checked)
        return 200, {"success": True}

    async def _confirm_code(self, instance: InstanceState, body: dict[str, str]) -> Answer:
        if not instance.code_sent or instance.checked is None:
            return 400, {"error": "no registration code was requested"}
        ddi, phone = instance.checked
        if body["code"] != registration_code(ddi, phone):
            return 200, {"success": False}
        scenario = self._number(instance, ddi, phone).scenario
        if scenario is Scenario.TWO_STEP_PIN:
            instance.awaiting = "pin"
            return 200, {"success": False, "confirmSecurityCode": True}
        if scenario is Scenario.DEVICE_TRANSFER:
            instance.awaiting, instance.device_checks = "device", 0
            await self._tell(instance, SandboxMessage("device_prompt"))
            return 200, {"success": False, "deviceConfirm": True}
        return self._connect(instance)

    async def _confirm_pin(self, instance: InstanceState, body: dict[str, str]) -> Answer:
        if instance.awaiting != "pin" or instance.checked is None:
            return 400, {"error": "no two-step PIN is awaited"}
        if body["code"] != two_step_pin(instance.checked[1]):
            return 200, {"success": False}
        return self._connect(instance)

    async def _recover_pin(self, instance: InstanceState, body: dict[str, str]) -> Answer:
        if instance.awaiting != "pin" or instance.checked is None:
            return 400, {"error": "no two-step PIN is awaited"}
        pin = two_step_pin(instance.checked[1])
        await self._tell(instance, SandboxMessage("pin_reset", code=pin))
        return 200, {"success": True}

    async def _device_confirmed(self, instance: InstanceState, body: dict[str, str]) -> Answer:
        if instance.awaiting != "device":
            return 400, {"error": "no device transfer is awaited"}
        instance.device_checks += 1
        if instance.device_checks == 1:  # the first look: not accepted on the old phone yet
            return 400, {"error": "the transfer was not confirmed on the device"}
        return self._connect(instance)

    async def _unban(self, instance: InstanceState, body: dict[str, str]) -> Answer:
        if instance.checked is None or body["appealToken"] != appeal_token(*instance.checked):
            return 400, {"error": "invalid appeal token"}
        number = self._number(instance, *instance.checked)
        if number.scenario is Scenario.BANNED_UNBANNED:
            number.banned = False
            return 200, {"success": True, "status": "UNBANNED"}
        return 200, {"success": True, "status": "IN_REVIEW"}

    def _connect(self, instance: InstanceState) -> Answer:
        assert instance.checked is not None
        ddi, phone = instance.checked
        instance.numbers.pop(f"{ddi}:{phone}", None)  # the next registration starts afresh
        scenario = scenario_of(phone)
        instance.connected, instance.awaiting, instance.code_sent = (ddi, phone), None, False
        instance.has_pin = scenario is Scenario.TWO_STEP_PIN
        instance.profile, instance.email, instance.email_verified = {}, None, False
        return 200, {"success": True}

    async def _tell(self, instance: InstanceState, message: SandboxMessage) -> None:
        if self.deliver is not None:
            await self.deliver(instance.name, message)


Handler = Callable[[SandboxZapi, InstanceState, dict[str, str]], Awaitable[Answer]]


def _value(key: str) -> Handler:
    async def handle(sandbox: SandboxZapi, instance: InstanceState, body: dict[str, str]) -> Answer:
        return await sandbox._set_value(instance, body, key)

    return handle


# (HTTP method, endpoint) → (handler, the body's fields)
_ROUTES: Final[dict[tuple[str, str], tuple[Handler, Sequence[str]]]] = {
    ("POST", "mobile/registration-available"): (SandboxZapi._available, ("ddi", "phone")),
    ("POST", "mobile/request-registration-code"): (
        SandboxZapi._request_code,
        ("ddi", "phone", "method"),
    ),
    ("POST", "mobile/respond-captcha"): (SandboxZapi._respond_captcha, ("captcha",)),
    ("POST", "mobile/confirm-registration-code"): (SandboxZapi._confirm_code, ("code",)),
    ("POST", "mobile/confirm-pin-code"): (SandboxZapi._confirm_pin, ("code",)),
    ("POST", "mobile/recovery-pin-code"): (SandboxZapi._recover_pin, ()),
    ("GET", "mobile/device-transfer-confirmed"): (SandboxZapi._device_confirmed, ()),
    ("POST", "mobile/request-unbanning"): (SandboxZapi._unban, ("appealToken", "description")),
    ("GET", "status"): (SandboxZapi._status, ()),
    ("GET", "device"): (SandboxZapi._device, ()),
    ("GET", "me"): (SandboxZapi._me, ()),
    ("GET", "disconnect"): (SandboxZapi._disconnect, ()),
    ("GET", "restart"): (SandboxZapi._restart, ()),
    ("GET", "restore-session"): (SandboxZapi._restart, ()),
    **{
        ("PUT", key): (_value(key), ("value",))
        for key in (
            "profile-name",
            "profile-description",
            "profile-picture",
            "update-webhook-connected",
            "update-webhook-disconnected",
        )
    },
    ("GET", "security/two-fa-code"): (SandboxZapi._two_fa, ()),
    ("POST", "security/two-fa-code"): (SandboxZapi._two_fa, ("code",)),
    ("POST", "security/two-fa-code/remove"): (SandboxZapi._two_fa_remove, ()),
    ("GET", "security/email"): (SandboxZapi._email, ()),
    ("POST", "security/email"): (SandboxZapi._email, ("email",)),
    ("POST", "security/email/remove"): (SandboxZapi._email_remove, ()),
    ("POST", "security/verify-email"): (SandboxZapi._verify_email, ("verificationCode",)),
}


class SandboxRouter(httpx.AsyncBaseTransport):
    """The sandbox's instances' requests to the sandbox, every other one to Z-API."""

    def __init__(self, sandbox: SandboxZapi, real: httpx.AsyncBaseTransport) -> None:
        self.sandbox, self._real = sandbox, real

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.sandbox.serves(request.url.path):
            return await self.sandbox.handle_async_request(request)
        return await self._real.handle_async_request(request)

    async def aclose(self) -> None:
        await self._real.aclose()


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _response(request: httpx.Request, status: int, body: Mapping[str, Any]) -> httpx.Response:
    return httpx.Response(status, json=body, request=request)
