"""Async client for the Z-API mobile registration endpoints (see shared/zapi-mobile-api.md)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import SecretStr

from bot.config import InstanceConfig
from bot.log_context import log_context
from bot.zapi._exceptions import (
    ZapiAuthError,
    ZapiBadResponse,
    ZapiNetworkError,
    ZapiRateLimited,
    ZapiRejected,
    ZapiServerError,
    ZapiTimeout,
)
from bot.zapi.models import (
    AvailabilityResult,
    CaptchaImage,
    CodeConfirmation,
    CodeRequestResult,
    ConnectedDevice,
    DeliveryMethod,
    EmailStatus,
    InstanceStatus,
    OperationResult,
    UnbanResult,
    ValueEndpoint,
    decode_captcha,
    read_flag,
)
from bot.zapi.tally import Tally, untallied
from bot.zapi.transport import AiohttpTransport

if TYPE_CHECKING:  # loaded only where a sandbox is configured
    from bot.zapi.sandbox import SandboxZapi

__all__ = ["ZapiClient"]

logger = logging.getLogger(__name__)

_DIGITS = re.compile(r"\d{1,15}")
_ASCII_DIGITS = re.compile(r"[0-9]{1,15}")
_PIN_DIGITS = 6
_AUTH_HINTS = ("client-token", "null not allowed", "instance not found", "invalid token")
_MAX_MESSAGE = 200
_URL_LIKE = re.compile(r"https?://\S+|\S*/instances/\S+|\S*/token/\S+")
# Their payload is what the member typed (code, PIN, captcha answer, appeal, profile text,
# e-mail): Z-API's error may quote it ("invalid code 123456"), so none of its words are kept.
# A GET on one of these paths sends nothing typed: its words are kept.
_MEMBER_TYPED = frozenset(
    {
        "mobile/respond-captcha",
        "mobile/confirm-registration-code",
        "mobile/confirm-pin-code",
        "mobile/request-unbanning",
        "profile-name",
        "profile-description",
        "security/two-fa-code",
        "security/email",
        "security/verify-email",
    }
)
# A value sent that Z-API echoes is masked from this length (shorter: a DDI, "sms").
_MIN_ECHOED = 4


def _zapi_message(body: Any, hidden: tuple[str, ...]) -> str | None:
    """Z-API's own words from an error body (`error`, then `message`), trimmed, with any URL or
    `hidden` value (secrets, what was sent) it echoes masked: the text reaches logs."""
    if not isinstance(body, Mapping):
        return None
    parts = [str(body[key]) for key in ("error", "message") if body.get(key)]
    text = " — ".join(parts).strip()
    values = sorted({value for value in hidden if value}, key=len, reverse=True)
    if values:
        pattern = "|".join(re.escape(value) for value in values)
        text = re.sub(pattern, "[redacted]", text, flags=re.IGNORECASE)
    text = _URL_LIKE.sub("[url]", text)
    return text[:_MAX_MESSAGE] or None


def _require_digits(name: str, value: str) -> str:
    if not _DIGITS.fullmatch(value):
        raise ValueError(f"{name} must be 1-15 digits")
    return value


def _require_secret_digits(name: str, value: str, *, length: int | None = None) -> str:
    """Like `_require_digits`, ASCII digits only (`length` of them, or 1-15). The value is a
    secret (a PIN, an e-mailed code): the message never carries it."""
    if not _ASCII_DIGITS.fullmatch(value) or (length is not None and len(value) != length):
        raise ValueError(f"{name} must be {length or '1-15'} digits")
    return value


class ZapiClient:
    """One pooled HTTP client per process; every call is bounded by `timeout` seconds. Requests
    travel on aiohttp (`bot/zapi/transport.py`) unless another httpx `transport` is given; the
    `sandbox`'s instances' go to it (`bot/zapi/sandbox.py`).

    request-registration-code and the confirm calls are never retried: a timeout may already have
    sent the code. Any call may be retried once after a connect error, when nothing was sent.
    """

    def __init__(
        self,
        base_url: str,
        client_token: SecretStr,
        *,
        timeout: float = 30.0,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        sandbox: SandboxZapi | None = None,
    ) -> None:
        self._client_token = client_token.get_secret_value()
        self._timeout = timeout
        self.tally: Tally = untallied  # the context every call runs in (bot/metrics.py)
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Client-Token": client_token.get_secret_value(), "Accept": "application/json"},
            timeout=httpx.Timeout(timeout),
            transport=sandbox.in_front_of(transport or AiohttpTransport(max_connections))
            if sandbox is not None
            else transport or AiohttpTransport(max_connections),
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> ZapiClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- endpoints ---------------------------------------------------------------------------

    async def registration_available(
        self, instance: InstanceConfig, ddi: str, phone: str
    ) -> AvailabilityResult:
        body = await self._call(
            instance,
            "POST",
            "mobile/registration-available",
            {"ddi": _require_digits("ddi", ddi), "phone": _require_digits("phone", phone)},
        )
        return AvailabilityResult.from_body(body)

    async def request_code(
        self, instance: InstanceConfig, ddi: str, phone: str, method: DeliveryMethod
    ) -> CodeRequestResult:
        endpoint = "mobile/request-registration-code"
        body = await self._call(
            instance,
            "POST",
            endpoint,
            {
                "ddi": _require_digits("ddi", ddi),
                "phone": _require_digits("phone", phone),
                "method": DeliveryMethod(method).value,
            },
        )
        captcha: CaptchaImage | None = None
        raw_captcha = body.get("captcha")
        if isinstance(raw_captcha, str) and raw_captcha.strip():
            try:
                captcha = decode_captcha(raw_captcha)
            except ValueError as exc:
                # A captcha instead of a code: nothing was sent.
                raise ZapiBadResponse(str(exc), endpoint=endpoint, acted=False) from None
        return CodeRequestResult.from_body(body, captcha)

    async def respond_captcha(self, instance: InstanceConfig, answer: str) -> OperationResult:
        body = await self._call(instance, "POST", "mobile/respond-captcha", {"captcha": answer})
        return OperationResult.from_body(body)

    async def confirm_code(self, instance: InstanceConfig, code: str) -> CodeConfirmation:
        body = await self._call(
            instance,
            "POST",
            "mobile/confirm-registration-code",
            {"code": _require_digits("code", code)},
        )
        return CodeConfirmation.from_body(body)

    async def confirm_pin(self, instance: InstanceConfig, pin: str) -> CodeConfirmation:
        """Like confirm_code: a right PIN may still need the device transfer (`deviceConfirm`)."""
        body = await self._call(
            instance, "POST", "mobile/confirm-pin-code", {"code": _require_digits("pin", pin)}
        )
        return CodeConfirmation.from_body(body)

    async def recover_pin(self, instance: InstanceConfig) -> OperationResult:
        body = await self._call(instance, "POST", "mobile/recovery-pin-code", {})
        return OperationResult.from_body(body)

    async def device_transfer_confirmed(self, instance: InstanceConfig) -> OperationResult:
        """`success` false while the transfer was not accepted on the old phone (Z-API says 400)."""
        try:
            body = await self._call(instance, "GET", "mobile/device-transfer-confirmed", None)
        except ZapiRejected as exc:
            if exc.status_code == 400:
                return OperationResult(success=False)
            raise
        return OperationResult.from_body(body)

    async def request_unbanning(
        self, instance: InstanceConfig, appeal_token: str, description: str
    ) -> UnbanResult:
        body = await self._call(
            instance,
            "POST",
            "mobile/request-unbanning",
            {"appealToken": appeal_token, "description": description},
        )
        return UnbanResult.from_body(body)

    async def status(self, instance: InstanceConfig) -> InstanceStatus:
        body = await self._call(instance, "GET", "status", None, error_is_failure=False)
        return InstanceStatus.from_body(body)

    # -- the connected number ----------------------------------------------------------------

    async def device(self, instance: InstanceConfig) -> ConnectedDevice:
        """The number connected on the instance; a 4xx when none is (ZapiRejected)."""
        body = await self._call(instance, "GET", "device", None)
        return ConnectedDevice.from_body(body)

    async def set_value(
        self, instance: InstanceConfig, endpoint: ValueEndpoint, value: str
    ) -> bool:
        """`PUT endpoint` `{"value": value}` (a profile text, a webhook URL): whether it took."""
        return read_flag(await self._call(instance, "PUT", endpoint, {"value": value}), "value")

    async def two_factor_status(self, instance: InstanceConfig) -> bool:
        """Whether the connected number has a two-step PIN."""
        body = await self._call(instance, "GET", "security/two-fa-code", None)
        return read_flag(body, "hasCode")

    async def set_two_factor_code(self, instance: InstanceConfig, code: str) -> OperationResult:
        """Set (or replace) the number's two-step PIN: 6 digits, refused before sending else."""
        body = await self._call(
            instance,
            "POST",
            "security/two-fa-code",
            {"code": _require_secret_digits("code", code, length=_PIN_DIGITS)},
        )
        return OperationResult.from_body(body)

    async def email_status(self, instance: InstanceConfig) -> EmailStatus:
        body = await self._call(instance, "GET", "security/email", None)
        return EmailStatus.from_body(body)

    async def set_email(self, instance: InstanceConfig, email: str) -> OperationResult:
        """Set the recovery e-mail; WhatsApp mails it a code for `verify_email`."""
        body = await self._call(instance, "POST", "security/email", {"email": email})
        return OperationResult.from_body(body)

    async def verify_email(self, instance: InstanceConfig, code: str) -> OperationResult:
        """`success` false for a wrong code."""
        body = await self._call(
            instance,
            "POST",
            "security/verify-email",
            {"verificationCode": _require_secret_digits("verification code", code)},
        )
        return OperationResult.from_body(body)

    # -- plumbing ----------------------------------------------------------------------------

    async def _call(
        self,
        instance: InstanceConfig,
        method: Literal["GET", "POST", "PUT"],
        endpoint: str,
        payload: Mapping[str, str] | None,
        *,
        error_is_failure: bool = True,
    ) -> Mapping[str, Any]:
        path = f"/instances/{instance.instance_id}/token/{instance.token.get_secret_value()}/"
        started = time.perf_counter()
        with log_context(instance=instance.name, endpoint=endpoint), self.tally(instance, endpoint):
            response = await self._send(method, path + endpoint, endpoint, payload)
            logger.debug(
                "Z-API %s on %s: HTTP %s in %.0f ms",
                endpoint,
                instance.name,
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )
            # Every value of the body (POST or PUT) is masked where Z-API's words quote it.
            sent = [value for value in (payload or {}).values() if len(value) >= _MIN_ECHOED]
            hidden = (instance.token.get_secret_value(), self._client_token, *sent)
            return self._read(
                response,
                endpoint,
                hidden,
                error_is_failure=error_is_failure,
                keep_words=method == "GET" or endpoint not in _MEMBER_TYPED,
            )

    async def _send(
        self, method: str, url: str, endpoint: str, payload: Mapping[str, str] | None
    ) -> httpx.Response:
        # httpx bounds each phase (connect, write, read); this bounds the whole call, the one
        # retry after a failed connection included.
        try:
            async with asyncio.timeout(self._timeout):
                return await self._send_with_retry(method, url, endpoint, payload)
        except TimeoutError:
            raise ZapiTimeout("no answer in time", endpoint=endpoint, request_sent=True) from None

    async def _send_with_retry(
        self, method: str, url: str, endpoint: str, payload: Mapping[str, str] | None
    ) -> httpx.Response:
        for attempt in (1, 2):
            try:
                if payload is None:
                    return await self._client.request(method, url)
                return await self._client.request(method, url, json=dict(payload))
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Nothing reached Z-API: one more try is safe for every endpoint.
                if attempt == 1:
                    logger.info("Z-API %s: connect failed, retrying once", endpoint)
                    continue
                if isinstance(exc, httpx.ConnectError):
                    raise ZapiNetworkError(
                        "could not connect", endpoint=endpoint, request_sent=False
                    ) from None
                raise ZapiTimeout(
                    "connecting timed out", endpoint=endpoint, request_sent=False
                ) from None
            except httpx.TimeoutException:
                raise ZapiTimeout(
                    "no answer in time", endpoint=endpoint, request_sent=True
                ) from None
            except httpx.TransportError as exc:
                # Reset or closed after the request was written: Z-API may have acted on it.
                raise ZapiNetworkError(
                    f"connection failed ({type(exc).__name__})",
                    endpoint=endpoint,
                    request_sent=True,
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _read(
        response: httpx.Response,
        endpoint: str,
        hidden: tuple[str, ...],
        *,
        error_is_failure: bool,
        keep_words: bool,
    ) -> Mapping[str, Any]:
        try:
            body: Any = json.loads(response.content) if response.content else None
        except (ValueError, UnicodeDecodeError):
            body = None
        status = response.status_code
        # `status` uses `error` for information ("You are not connected."), but a body with
        # `error` and no `connected` is a failure there too (e.g. NOT_FOUND with HTTP 200).
        failed = status >= 400 or (
            isinstance(body, Mapping)
            and bool(body.get("error"))
            and (error_is_failure or "connected" not in body)
        )
        if failed:
            message = _zapi_message(body, hidden)  # its masking is only paid for on failures
            lowered = (message or "").lower()
            kwargs: dict[str, Any] = {
                "endpoint": endpoint,
                "status_code": status,
                "zapi_message": message if keep_words else None,
            }
            if status in (401, 403) or any(hint in lowered for hint in _AUTH_HINTS):
                raise ZapiAuthError("credentials refused", **kwargs)
            if status == 429:
                raise ZapiRateLimited("too many requests", **kwargs)
            if status >= 500:
                raise ZapiServerError("Z-API failed", **kwargs)
            raise ZapiRejected("request refused", **kwargs)
        if not isinstance(body, Mapping):
            raise ZapiBadResponse(
                f"HTTP {status} with a body that is not a JSON object", endpoint=endpoint
            )
        return body
