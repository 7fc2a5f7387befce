"""A test double of Z-API's "mobile" registration HTTP API (see shared/zapi-mobile-api.md).

`ZapiDouble` is a real aiohttp server on 127.0.0.1 that serves several instances at
`{base_url}/instances/{INSTANCE_ID}/token/{INSTANCE_TOKEN}/{path}`. It checks requests the way
Z-API does, records every request, and answers from a small per-instance registration
simulator, unless a test has queued scripted replies for the path.

Endpoints: the `mobile/*` registration calls and `status`; for the connected number `device`,
`PUT profile-name` / `profile-description`, `security/two-fa-code` (GET, POST, `/remove`),
`security/email` (GET, POST, `/remove`) and `security/verify-email`. Those answer HTTP 400
`{"error": "You are not connected."}` while the instance holds no number; their state (profile,
PIN, e-mail) starts afresh when a number connects through the registration. `profile()`,
`email_code()`, `set_two_factor()` and `set_email()` read and seed it.

Waits (`*WaitSeconds`, `retryAfter`) count down on the double's clock (`time.monotonic` by
default); `advance()` moves that clock forward.

Faults: a scripted `Reply` can carry any status (`Reply(status=502)`), hold its answer back
(`delay`, `hang()`), or close the connection without answering (`drop_connection`,
`drop_after_acting()`: Z-API did the work but the answer never arrived). `requests_to()` counts
what reached the double.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import math
import re
import socket
import struct
import time
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, ClassVar, Literal, NamedTuple, Self

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "HANG_SECONDS",
    "METHODS",
    "CaptchaFormat",
    "NumberProfile",
    "RecordedRequest",
    "Reply",
    "SentCode",
    "UnbanStatus",
    "ZapiDouble",
    "make_png",
]

CaptchaFormat = Literal["data_uri", "base64", "garbage"]
UnbanStatus = Literal["IN_REVIEW", "UNBANNED"]
_Stage = Literal["idle", "captcha", "code_sent", "pin", "device"]

METHODS: tuple[str, ...] = ("sms", "voice", "wa_old")
HANG_SECONDS = 3600.0

_WAIT_FIELDS: dict[str, str] = {
    "sms": "smsWaitSeconds",
    "voice": "voiceWaitSeconds",
    "wa_old": "waOldWaitSeconds",
}
_URL_LAYOUT = re.compile(r"^/instances/(?P<instance>[^/]+)/token/(?P<token>[^/]+)/(?P<path>.*)$")
_NOT_FOUND_BODY: dict[str, str] = {
    "error": "NOT_FOUND",
    "message": "Unable to find matching target resource method",
}
_GARBAGE_CAPTCHA = b"\x00\x01this is not an image\xfe\xff" * 4
_NOT_CONNECTED = "You are not connected."
_TWO_FA_CODE = re.compile(r"[0-9]{6}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def make_png(width: int, height: int, pixel: Callable[[int, int], int]) -> bytes:
    """An 8-bit greyscale PNG; `pixel(x, y)` gives each pixel's grey level (0-255)."""
    rows = (b"\x00" + bytes(pixel(x, y) for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + _png_chunk(b"IEND", b"")
    )


def _normalize_path(path: str) -> str:
    return path.lstrip("/")


@dataclass
class NumberProfile:
    """How WhatsApp treats one phone number. The defaults describe a clean, available number."""

    banned: bool = False
    hidden_ban: bool = False
    unavailable: bool = False
    reason: str = "temporarily_unavailable"
    # Initial wait per method ("sms", "voice", "wa_old"); -1 = method blocked for this number.
    waits: dict[str, int] = field(default_factory=dict)
    wa_old_eligible: bool = True
    captcha: str | None = None
    captcha_format: CaptchaFormat = "data_uri"
    code: str = "123456"
    pin: str | None = None
    device_confirm: bool = False
    unban_status: UnbanStatus = "IN_REVIEW"
    # Wait (and retryAfter) set on the method used once a code has been sent.
    after_request_wait: int = 0
    retry_after_as_string: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.waits) - set(METHODS)
        if unknown:
            raise ValueError(f"unknown methods in waits: {sorted(unknown)}")


@dataclass(frozen=True)
class RecordedRequest:
    instance_id: str | None  # None when the URL does not follow the instance/token layout
    instance_token: str | None
    path: str
    http_method: str
    headers: CIMultiDictProxy[str]
    json: Any  # the parsed body, None when empty or not JSON
    body: bytes


class SentCode(NamedTuple):
    """A registration code the simulator sent (by SMS, voice or WhatsApp)."""

    instance_id: str
    ddi: str
    phone: str
    method: str


@dataclass(frozen=True)
class Reply:
    """A canned answer. `body` (raw bytes) and `json` are exclusive; with neither the body is empty.

    `delay` holds the answer back. With `simulate=True` the simulator handles the call at once
    (its state changes as if Z-API did the work) and only its answer is delayed; status, json,
    body and content_type are then ignored.

    `drop_connection` closes the TCP connection (after `delay`) instead of answering: the client
    sees the server disconnect without a response (httpx: `RemoteProtocolError`), or, with
    `reset` too, a connection reset (httpx: `ReadError`). Combined with `simulate=True` the work
    is done first: Z-API acted, and the answer was lost. The answer's fields are then ignored.
    """

    status: int = 200
    json: Any = None
    body: bytes | None = None
    content_type: str | None = "application/json"
    delay: float = 0.0
    simulate: bool = False
    drop_connection: bool = False
    reset: bool = False

    def __post_init__(self) -> None:
        if self.json is not None and self.body is not None:
            raise ValueError("give json or body, not both")
        if self.reset and not self.drop_connection:
            raise ValueError("reset only applies with drop_connection=True")


def _ok(payload: dict[str, Any]) -> Reply:
    return Reply(json=payload)


def _error(status: int, message: str) -> Reply:
    return Reply(status=status, json={"error": message})


@dataclass
class _NumberState:
    profile: NumberProfile
    ready_at: dict[str, float | None]  # None = method blocked
    captcha_solved: bool = False


@dataclass
class _InstanceState:
    token: str
    instance_id: str = ""
    number: tuple[str, str] | None = None
    stage: _Stage = "idle"
    pending_method: str | None = None
    device_accepted: bool = False
    connected: bool = False
    # The connected number (ddi + phone) and its profile and security settings.
    phone: str | None = None
    webhooks: dict[str, str] = field(default_factory=dict)  # event → URL (update-webhook-*)
    profile_name: str | None = None
    profile_about: str | None = None
    two_fa_code: str | None = None
    email: str | None = None
    email_verified: bool = False
    email_code: str | None = None  # mailed, not yet verified
    emails_sent: int = 0

    def reset_registration(self, number: tuple[str, str]) -> None:
        self.number = number
        self.stage = "idle"
        self.pending_method = None
        self.device_accepted = False

    def reset_connected_number(self) -> None:
        """A new number connected: nothing of the previous one's profile is left."""
        self.phone = "".join(self.number) if self.number is not None else None
        self.profile_name = None
        self.profile_about = None
        self.two_fa_code = None
        self.email = None
        self.email_verified = False
        self.email_code = None


_Handler = Callable[["ZapiDouble", _InstanceState, dict[str, Any]], Reply]


class _Endpoint(NamedTuple):
    http_method: str
    fields: tuple[str, ...]
    handler: _Handler
    body_optional: bool = False
    # Acts on the connected number: HTTP 400 "You are not connected." while there is none.
    needs_number: bool = False


def _methods(*endpoints: _Endpoint) -> dict[str, _Endpoint]:
    return {endpoint.http_method: endpoint for endpoint in endpoints}


class ZapiDouble:
    CAPTCHA_PNG: ClassVar[bytes] = make_png(48, 16, lambda x, y: 0 if (x + 2 * y) % 7 < 3 else 255)

    def __init__(
        self,
        *,
        client_token: str | None = "client-token",
        instances: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`client_token=None` behaves like an account without a security token: no header check."""
        self.client_token = client_token
        self.requests: list[RecordedRequest] = []
        # Every code the simulator sent, in order, whether or not its answer reached the client.
        self.sent_codes: list[SentCode] = []
        self._instances: dict[str, _InstanceState] = {}
        for instance_id, token in (instances or {"instance": "token"}).items():
            self.add_instance(instance_id, token)
        self._numbers: dict[tuple[str, str], _NumberState] = {}
        self._scripts: dict[tuple[str, str | None], deque[Reply]] = {}
        self._delay = 0.0
        self._clock = clock
        self._clock_offset = 0.0
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._released = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("already started")
        self._released = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            await web.SockSite(runner, sock).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._port = int(sock.getsockname()[1])
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving; replies still being held back (delay, hang) are released first."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._released.set()
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("the double is not started")
        return f"http://127.0.0.1:{self._port}"

    def instance_url(self, instance_id: str) -> str:
        """`{base_url}/instances/{id}/token/{token}/`, ready to be joined with a path."""
        token = self._instance(instance_id).token
        return f"{self.base_url}/instances/{instance_id}/token/{token}/"

    # -- configuration ---------------------------------------------------------------------

    def add_instance(self, instance_id: str, token: str) -> None:
        self._instances[instance_id] = _InstanceState(token=token, instance_id=instance_id)

    def add_number(self, ddi: str, phone: str, profile: NumberProfile | None = None) -> None:
        """Configure (or reconfigure, resetting its waits) a number; unknown numbers are clean."""
        self._numbers[(ddi, phone)] = self._new_number(profile or NumberProfile())

    def script(self, path: str, *replies: Reply, instance_id: str | None = None) -> None:
        """Queue one-shot replies for the next calls to `path` (on `instance_id`, or on any).

        A scripted reply is used once the request has passed the instance, token and
        Client-Token checks and, on known paths, the method, content type and body checks.
        Instance-specific replies go before ones for any instance.
        """
        queue = self._scripts.setdefault((_normalize_path(path), instance_id), deque())
        queue.extend(replies)

    def clear_scripts(self) -> None:
        self._scripts.clear()

    def hang(self, path: str, *, instance_id: str | None = None, simulate: bool = False) -> None:
        """Make the next call to `path` hang (until `stop()`); see `Reply.simulate`."""
        self.script(path, Reply(delay=HANG_SECONDS, simulate=simulate), instance_id=instance_id)

    def drop_after_acting(
        self, path: str, instance_id: str | None = None, *, reset: bool = False, delay: float = 0.0
    ) -> None:
        """Let the next call to `path` do its work, then close the connection without answering.

        The simulator's state changes as if Z-API had answered (a code request sends the code);
        the client gets no HTTP response: a closed connection, or with `reset` a reset one,
        `delay` seconds after the request (see `Reply.drop_connection`).
        """
        self.script(
            path,
            Reply(simulate=True, drop_connection=True, reset=reset, delay=delay),
            instance_id=instance_id,
        )

    def set_delay(self, seconds: float) -> None:
        """Hold back every answer by `seconds` (added to any scripted delay)."""
        self._delay = seconds

    def advance(self, seconds: float) -> None:
        """Move the double's clock forward: waits shrink by `seconds`."""
        self._clock_offset += seconds

    def accept_device_transfer(self, instance_id: str) -> None:
        """The member accepted the transfer on the old phone (until the next availability check)."""
        self._instance(instance_id).device_accepted = True

    def set_connected(
        self, instance_id: str, connected: bool = True, *, phone: str | None = None
    ) -> None:
        """Connect (or disconnect) the instance; `phone`: the number `device` then reports."""
        state = self._instance(instance_id)
        state.connected = connected
        if phone is not None:
            state.phone = phone

    def set_two_factor(self, instance_id: str, code: str | None) -> None:
        """Seed the connected number's two-step PIN (None: it has none)."""
        self._instance(instance_id).two_fa_code = code

    def set_email(self, instance_id: str, email: str | None, verified: bool = True) -> None:
        """Seed the connected number's recovery e-mail (None: it has none); no code is pending."""
        state = self._instance(instance_id)
        state.email = email
        state.email_verified = verified and email is not None
        state.email_code = None

    # -- inspection ------------------------------------------------------------------------

    def webhooks(self, instance_id: str) -> dict[str, str]:
        """The webhook URLs set on the instance, by event (connected, disconnected)."""
        return dict(self._instance(instance_id).webhooks)

    def connected(self, instance_id: str) -> bool:
        return self._instance(instance_id).connected

    def registration_stage(self, instance_id: str) -> str:
        """Where the instance's registration is: idle, captcha, code_sent, pin or device."""
        return self._instance(instance_id).stage

    def profile(self, instance_id: str) -> dict[str, Any]:
        """The connected number's settings: name, about, two_fa_code, email, email_verified."""
        state = self._instance(instance_id)
        return {
            "name": state.profile_name,
            "about": state.profile_about,
            "two_fa_code": state.two_fa_code,
            "email": state.email,
            "email_verified": state.email_verified,
        }

    def email_code(self, instance_id: str) -> str | None:
        """The code last mailed by `POST security/email`, while it waits to be verified."""
        return self._instance(instance_id).email_code

    def codes_sent_to(self, ddi: str, phone: str) -> list[SentCode]:
        return [code for code in self.sent_codes if (code.ddi, code.phone) == (ddi, phone)]

    def checked_number(self, instance_id: str) -> tuple[str, str] | None:
        """The (ddi, phone) last checked by registration-available on the instance."""
        return self._instance(instance_id).number

    def requests_to(self, path: str, instance_id: str | None = None) -> list[RecordedRequest]:
        wanted = _normalize_path(path)
        return [
            r
            for r in self.requests
            if r.path == wanted and (instance_id is None or r.instance_id == instance_id)
        ]

    @staticmethod
    def appeal_token(ddi: str, phone: str) -> str:
        """The 200-character appealToken the double gives a banned number."""
        seed = f"{ddi}:{phone}".encode()
        digest = b"".join(hashlib.sha512(seed + bytes([i])).digest() for i in range(3))
        return "Ae0B_" + base64.urlsafe_b64encode(digest).decode()[:195]

    # -- HTTP plumbing ---------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        match = _URL_LAYOUT.match(request.path)
        recorded = RecordedRequest(
            instance_id=match["instance"] if match else None,
            instance_token=match["token"] if match else None,
            path=_normalize_path(match["path"] if match else request.path),
            http_method=request.method,
            headers=CIMultiDictProxy(CIMultiDict(request.headers)),
            json=_parse_json(body),
            body=body,
        )
        self.requests.append(recorded)
        reply = self._dispatch(recorded)
        await self._pause(self._delay + reply.delay)
        if reply.drop_connection:
            _drop(request, reset=reply.reset)
            return web.Response()  # never written: the transport is gone
        headers = {"Content-Type": reply.content_type} if reply.content_type else None
        if reply.body is not None:
            payload = reply.body
        elif reply.json is not None:
            payload = json.dumps(reply.json).encode()
        else:
            payload = b""
        return web.Response(status=reply.status, body=payload, headers=headers)

    async def _pause(self, seconds: float) -> None:
        if seconds <= 0 or self._released.is_set():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._released.wait()

    def _dispatch(self, request: RecordedRequest) -> Reply:
        if request.instance_id is None:
            return _ok(_NOT_FOUND_BODY)
        state = self._instances.get(request.instance_id)
        if state is None:
            return _error(404, "Instance not found")
        if request.instance_token != state.token:
            return _error(401, "Invalid token")
        if self.client_token is not None:
            given = request.headers.get("Client-Token")
            if not given:
                return _error(400, "null not allowed")
            if given != self.client_token:
                return _error(403, "your client-token is not configured")

        methods = self._ENDPOINTS.get(request.path)
        if methods is None:
            return self._next_script(request) or _ok(_NOT_FOUND_BODY)
        endpoint = methods.get(request.http_method)
        if endpoint is None:
            return _error(405, "Method Not Allowed")
        payload: dict[str, Any] = {}
        if endpoint.http_method in ("POST", "PUT") and not (
            endpoint.body_optional and not request.body
        ):
            content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if content_type != "application/json":
                return _error(415, "Unsupported Media Type: use application/json")
            problem = _check_body(request, endpoint.fields)
            if problem:
                return _error(400, problem)
            payload = request.json

        scripted = self._next_script(request)
        if scripted is not None and not scripted.simulate:
            return scripted
        if endpoint.needs_number and not state.connected:
            answer = _error(400, _NOT_CONNECTED)
        else:
            answer = endpoint.handler(self, state, payload)
        if scripted is None:
            return answer
        return replace(
            answer,
            delay=scripted.delay,
            drop_connection=scripted.drop_connection,
            reset=scripted.reset,
        )

    def _next_script(self, request: RecordedRequest) -> Reply | None:
        for key in ((request.path, request.instance_id), (request.path, None)):
            queue = self._scripts.get(key)
            if queue:
                return queue.popleft()
        return None

    # -- simulator -------------------------------------------------------------------------

    def _now(self) -> float:
        return self._clock() + self._clock_offset

    def _instance(self, instance_id: str) -> _InstanceState:
        try:
            return self._instances[instance_id]
        except KeyError:
            raise KeyError(f"unknown instance {instance_id!r}") from None

    def _new_number(self, profile: NumberProfile) -> _NumberState:
        now = self._now()
        ready_at: dict[str, float | None] = {}
        for method in METHODS:
            wait = profile.waits.get(method, 0)
            ready_at[method] = None if wait < 0 else now + wait
        return _NumberState(profile=profile, ready_at=ready_at)

    def _number(self, key: tuple[str, str]) -> _NumberState:
        if key not in self._numbers:
            self._numbers[key] = self._new_number(NumberProfile())
        return self._numbers[key]

    def _waits(self, number: _NumberState) -> dict[str, int]:
        now = self._now()
        waits: dict[str, int] = {}
        for method, ready_at in number.ready_at.items():
            seconds = -1 if ready_at is None else max(0, math.ceil(ready_at - now))
            waits[_WAIT_FIELDS[method]] = seconds
        return waits

    def _registration_available(self, state: _InstanceState, body: dict[str, Any]) -> Reply:
        key = (body["ddi"], body["phone"])
        state.reset_registration(key)
        number = self._number(key)
        profile = number.profile
        if profile.banned:
            token = self.appeal_token(*key)
            return _ok({"available": False, "blocked": True, "appealToken": token})
        if profile.unavailable:
            return _ok({"available": False, "blocked": False, "reason": profile.reason})
        return _ok(
            {"available": True, **self._waits(number), "waOldEligible": profile.wa_old_eligible}
        )

    def _request_registration_code(self, state: _InstanceState, body: dict[str, Any]) -> Reply:
        key = (body["ddi"], body["phone"])
        if state.number != key:
            return _error(400, "Check registration-available for this number first")
        number = self._number(key)
        profile = number.profile
        if profile.banned or profile.hidden_ban:
            return _ok({"success": False, "blocked": True})
        if profile.unavailable:
            return _ok({"success": False, "reason": profile.reason})
        method: str = body["method"]
        waits = self._waits(number)
        wait = waits[_WAIT_FIELDS[method]]
        if method == "wa_old" and not profile.wa_old_eligible:
            return _ok({"success": False, "reason": "wa_old_not_eligible", **waits})
        if wait < 0:
            return _ok({"success": False, "reason": "no_routes", **waits, "method": method})
        if wait > 0:
            retry_after = self._retry_after(profile, wait)
            return _ok({"success": False, "retryAfter": retry_after, **waits, "method": method})
        if profile.captcha is not None and not number.captcha_solved:
            state.stage = "captcha"
            state.pending_method = method
            return _ok({"success": False, "captcha": _captcha_image(profile.captcha_format)})
        return _ok({"success": True, **self._send_code(state, number, method)})

    def _send_code(
        self, state: _InstanceState, number: _NumberState, method: str
    ) -> dict[str, Any]:
        state.stage = "code_sent"
        state.pending_method = None
        if state.number is not None:
            self.sent_codes.append(SentCode(state.instance_id, *state.number, method))
        wait = number.profile.after_request_wait
        number.ready_at[method] = self._now() + wait
        retry_after = self._retry_after(number.profile, wait)
        return {"retryAfter": retry_after, **self._waits(number), "method": method}

    @staticmethod
    def _retry_after(profile: NumberProfile, seconds: int) -> int | str:
        return str(seconds) if profile.retry_after_as_string else seconds

    def _respond_captcha(self, state: _InstanceState, body: dict[str, Any]) -> Reply:
        if state.stage != "captcha" or state.number is None or state.pending_method is None:
            return _ok({"success": False})
        number = self._number(state.number)
        if body["captcha"] != number.profile.captcha:
            return _ok({"success": False})
        number.captcha_solved = True
        self._send_code(state, number, state.pending_method)
        return _ok({"success": True})

    def _confirm_registration_code(self, state: _InstanceState, body: dict[str, Any]) -> Reply:
        if state.stage != "code_sent" or state.number is None:
            return _ok({"success": False})
        profile = self._number(state.number).profile
        if body["code"] != profile.code:
            return _ok({"success": False})
        if profile.pin is not None:
            state.stage = "pin"
            return _ok({"success": False, "confirmSecurityCode": True})
        return self._after_security_checks(state, profile)

    def _confirm_pin_code(self, state: _InstanceState, body: dict[str, Any]) -> Reply:
        if state.stage != "pin" or state.number is None:
            return _ok({"success": False})
        profile = self._number(state.number).profile
        if body["code"] != profile.pin:
            return _ok({"success": False})
        return self._after_security_checks(state, profile)

    def _after_security_checks(self, state: _InstanceState, profile: NumberProfile) -> Reply:
        if profile.device_confirm:
            state.stage = "device"
            return _ok({"success": False, "deviceConfirm": True})
        self._connect(state)
        return _ok({"success": True})

    def _connect(self, state: _InstanceState) -> None:
        state.connected = True
        state.stage = "idle"
        state.reset_connected_number()

    def _recovery_pin_code(self, state: _InstanceState, body: dict[str, Any]) -> Reply:
        return _ok({"success": state.stage == "pin"})

    def _device_transfer_confirmed(self, state: _InstanceState, body: dict[str, Any]) -> Reply:
        if state.stage != "device" or not state.device_accepted:
            return _error(400, "The device transfer has not been confirmed")
        self._connect(state)
        return _ok({"success": True})

    def _request_unbanning(self, state: _InstanceState, body: dict[str, Any]) -> Reply:
        for (ddi, phone), number in self._numbers.items():
            if number.profile.banned and self.appeal_token(ddi, phone) == body["appealToken"]:
                status = number.profile.unban_status
                if status == "UNBANNED":
                    number.profile = replace(number.profile, banned=False)
                return _ok({"success": True, "status": status})
        return _error(400, "Invalid appealToken")

    def _status(self, state: _InstanceState, body: dict[str, Any]) -> Reply:
        if state.connected:
            return _ok(
                {
                    "connected": True,
                    "error": "You are already connected.",
                    "smartphoneConnected": True,
                }
            )
        return _ok(
            {"connected": False, "error": "You are not connected.", "smartphoneConnected": False}
        )

    # -- the connected number ----------------------------------------------------------------

    def _device(self, state: _InstanceState, body: dict[str, Any]) -> Reply:
        phone = state.phone
        if phone is None and state.number is not None:  # connected by set_connected()
            phone = "".join(state.number)
        return _ok(
            {
                "phone": phone,
                "name": state.profile_name,
                "about": state.profile_about,
                "imgUrl": None,
                "isBusiness": False,
                "originalDevice": "android",
                "sessionId": 1,
                "device": {"sessionName": "Z-API", "device_model": "Z-API"},
            }
        )

    def _webhook(self, state: _InstanceState, event: str, url: Any) -> Reply:
        if not isinstance(url, str) or not url.startswith("https://"):
            return _error(400, "The webhook URL must use HTTPS")
        state.webhooks[event] = url
        return _ok({"value": True})

    def _webhook_connected(self, state: _InstanceState, body: dict[str, Any]) -> Reply:
        return self._webhook(state, "connected", body["value"])

    def _webhook_disconnected(self, state: _InstanceState, body: dict[str, Any]) -> Reply:
        return self._webhook(state, "disconnected", body["value"])

    def _profile_name(self, state: _InstanceState, body: dict[str, Any]) -> Reply:
        if not body["value"].strip():
            return _error(400, "Field 'value' must not be empty")
        state.profile_name = body["value"]
        return _ok({"value": True})

    def _profile_description(self, state: _InstanceState, body: dict[str, Any]) -> Reply:
        if not body["value"].strip():
            return _error(400, "Field 'value' must not be empty")
        state.profile_about = body["value"]
        return _ok({"value": True})

    def _two_fa_status(self, state: _InstanceState, body: dict[str, Any]) -> Reply:
        return _ok({"success": True, "hasCode": state.two_fa_code is not None})

    def _set_two_fa(self, state: _InstanceState, body: dict[str, Any]) -> Reply:
        if not _TWO_FA_CODE.fullmatch(body["code"]):
            return _error(400, "Field 'code' must have 6 digits")
        state.two_fa_code = body["code"]
        return _ok({"success": True})

    def _remove_two_fa(self, state: _InstanceState, body: dict[str, Any]) -> Reply:
        state.two_fa_code = None
        return _ok({"success": True})

    def _email_status(self, state: _InstanceState, body: dict[str, Any]) -> Reply:
        return _ok(
            {
                "success": True,
                "hasEmail": state.email is not None,
                "email": state.email,
                "verified": state.email_verified,
            }
        )

    def _set_email(self, state: _InstanceState, body: dict[str, Any]) -> Reply:
        email: str = body["email"]
        if not _EMAIL.fullmatch(email):
            return _error(400, "Field 'email' must be an e-mail address")
        state.emails_sent += 1
        seed = f"{state.instance_id}:{email}:{state.emails_sent}".encode()
        number = int.from_bytes(hashlib.sha256(seed).digest()[:8], "big")
        state.email = email
        state.email_verified = False
        state.email_code = f"{number % 1_000_000:06d}"
        return _ok({"success": True, "message": "VERIFY_EMAIL"})

    def _verify_email(self, state: _InstanceState, body: dict[str, Any]) -> Reply:
        if state.email_code is None:
            return _error(400, "No e-mail is waiting to be verified")
        if body["verificationCode"] != state.email_code:
            return _ok({"success": False})
        state.email_verified = True
        state.email_code = None
        return _ok({"success": True})

    def _remove_email(self, state: _InstanceState, body: dict[str, Any]) -> Reply:
        state.email = None
        state.email_verified = False
        state.email_code = None
        return _ok({"success": True, "message": "REMOVED"})

    # path → HTTP method → endpoint; another method on a known path is a 405.
    _ENDPOINTS: ClassVar[dict[str, dict[str, _Endpoint]]] = {
        "mobile/registration-available": _methods(
            _Endpoint("POST", ("ddi", "phone"), _registration_available)
        ),
        "mobile/request-registration-code": _methods(
            _Endpoint("POST", ("ddi", "phone", "method"), _request_registration_code)
        ),
        "mobile/respond-captcha": _methods(_Endpoint("POST", ("captcha",), _respond_captcha)),
        "mobile/confirm-registration-code": _methods(
            _Endpoint("POST", ("code",), _confirm_registration_code)
        ),
        "mobile/confirm-pin-code": _methods(_Endpoint("POST", ("code",), _confirm_pin_code)),
        "mobile/recovery-pin-code": _methods(
            _Endpoint("POST", (), _recovery_pin_code, body_optional=True)
        ),
        "mobile/device-transfer-confirmed": _methods(
            _Endpoint("GET", (), _device_transfer_confirmed)
        ),
        "mobile/request-unbanning": _methods(
            _Endpoint("POST", ("appealToken", "description"), _request_unbanning)
        ),
        "status": _methods(_Endpoint("GET", (), _status)),
        "update-webhook-connected": _methods(_Endpoint("PUT", ("value",), _webhook_connected)),
        "update-webhook-disconnected": _methods(
            _Endpoint("PUT", ("value",), _webhook_disconnected)
        ),
        "device": _methods(_Endpoint("GET", (), _device, needs_number=True)),
        "profile-name": _methods(_Endpoint("PUT", ("value",), _profile_name, needs_number=True)),
        "profile-description": _methods(
            _Endpoint("PUT", ("value",), _profile_description, needs_number=True)
        ),
        "security/two-fa-code": _methods(
            _Endpoint("GET", (), _two_fa_status, needs_number=True),
            _Endpoint("POST", ("code",), _set_two_fa, needs_number=True),
        ),
        "security/two-fa-code/remove": _methods(
            _Endpoint("POST", (), _remove_two_fa, body_optional=True, needs_number=True)
        ),
        "security/email": _methods(
            _Endpoint("GET", (), _email_status, needs_number=True),
            _Endpoint("POST", ("email",), _set_email, needs_number=True),
        ),
        "security/email/remove": _methods(
            _Endpoint("POST", (), _remove_email, body_optional=True, needs_number=True)
        ),
        "security/verify-email": _methods(
            _Endpoint("POST", ("verificationCode",), _verify_email, needs_number=True)
        ),
    }


def _drop(request: web.Request, *, reset: bool) -> None:
    """Close the request's connection without a response: FIN, or with `reset` an RST."""
    transport = request.transport
    if transport is None:  # the client is already gone
        return
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Linger on, timeout 0: closing the socket sends RST instead of FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _parse_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _check_body(request: RecordedRequest, fields: tuple[str, ...]) -> str | None:
    """Why the body is not as documented, or None when it is."""
    payload = request.json
    if payload is None and request.body.strip() != b"null":
        return "The body is not valid JSON"
    if not isinstance(payload, dict):
        return "The body must be a JSON object"
    for name in fields:
        if name not in payload:
            return f"Field '{name}' is required"
        if not isinstance(payload[name], str):
            return f"Field '{name}' must be a string"
    for name in ("ddi", "phone"):
        if name in fields and not re.fullmatch(r"[0-9]+", payload[name]):
            return f"Field '{name}' must contain digits only"
    if "method" in fields and payload["method"] not in METHODS:
        return f"Field 'method' must be one of {', '.join(METHODS)}"
    return None


def _captcha_image(captcha_format: CaptchaFormat) -> str:
    if captcha_format == "garbage":
        return base64.b64encode(_GARBAGE_CAPTCHA).decode()
    encoded = base64.b64encode(ZapiDouble.CAPTCHA_PNG).decode()
    if captcha_format == "data_uri":
        return f"data:image/png;base64,{encoded}"
    return encoded
