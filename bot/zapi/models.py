"""Typed results of the Z-API mobile endpoints.

Z-API's documentation is loose: fields go missing, numbers arrive as strings, a wait of -1 means
"blocked for this number". Every parser here tolerates that and keeps every documented field.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Self

from bot.domain.methods import DeliveryMethod

__all__ = [
    "AvailabilityResult",
    "CaptchaImage",
    "CodeConfirmation",
    "CodeRequestResult",
    "ConnectedDevice",
    "DeliveryMethod",
    "EmailStatus",
    "InstanceStatus",
    "MethodWaits",
    "OperationResult",
    "UnbanResult",
    "ValueEndpoint",
    "decode_captcha",
    "read_flag",
]

# The endpoints that take `PUT {"value": ...}` and answer `{"value": true|false}`.
ValueEndpoint = Literal[
    "profile-name", "profile-description", "update-webhook-connected", "update-webhook-disconnected"
]

BLOCKED = -1


# Where `registration-available` and `request-registration-code` give each method's wait.
_WAIT_FIELDS: Mapping[DeliveryMethod, str] = {
    DeliveryMethod.SMS: "smsWaitSeconds",
    DeliveryMethod.VOICE: "voiceWaitSeconds",
    DeliveryMethod.WA_OLD: "waOldWaitSeconds",
}


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    return None


def _as_seconds(value: Any) -> int | None:
    """Whole seconds; -1 (any negative) means blocked; None when absent or unreadable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not re.fullmatch(r"-?\d+(\.\d+)?", value):
            return None
        value = float(value)
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return None
        return BLOCKED if value < 0 else math.ceil(value)
    return None


def _as_text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    return None


def read_flag(body: Mapping[str, Any], key: str) -> bool:
    """Whether `body[key]` is true (`true`, `"true"`, 1); absent or unreadable is false."""
    return _as_bool(body.get(key)) is True


_PHONE = re.compile(r"\+?([0-9]{1,20})")


def _as_phone(value: Any) -> str | None:
    """The digits of a phone number given as `"5544999999999"` (tolerated: a leading `+`, a
    JSON number); None when absent or anything else."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        value = str(value)
    if not isinstance(value, str):
        return None
    match = _PHONE.fullmatch(value.strip())
    return match[1] if match else None


@dataclass(frozen=True, slots=True)
class MethodWaits:
    """Seconds to wait per delivery method: 0 = now, -1 = blocked, absent = not reported."""

    seconds: Mapping[DeliveryMethod, int] = field(default_factory=dict)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        seconds: dict[DeliveryMethod, int] = {}
        for method in DeliveryMethod:
            value = _as_seconds(body.get(_WAIT_FIELDS[method]))
            if value is not None:
                seconds[method] = value
        return cls(seconds)

    def get(self, method: DeliveryMethod) -> int | None:
        return self.seconds.get(method)

    def is_blocked(self, method: DeliveryMethod) -> bool:
        return self.seconds.get(method) == BLOCKED

    def __bool__(self) -> bool:
        return bool(self.seconds)


@dataclass(frozen=True, slots=True)
class CaptchaImage:
    data: bytes
    mime_type: str


_IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)


def _sniff_image(data: bytes) -> str | None:
    for signature, mime in _IMAGE_SIGNATURES:
        if data.startswith(signature):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def decode_captcha(value: str) -> CaptchaImage:
    """Decode a captcha sent as bare base64 or as a `data:image/...;base64,` URI.

    Raises ValueError when it is not base64 or the bytes are not an image.
    """
    text = value.strip()
    if text.startswith("data:"):
        header, comma, text = text.partition(",")
        if not comma or ";base64" not in header:
            raise ValueError("captcha data URI is not base64")
    text = re.sub(r"\s+", "", text)
    text += "=" * (-len(text) % 4)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        try:
            data = base64.urlsafe_b64decode(text)
        except (binascii.Error, ValueError):
            raise ValueError("captcha is not base64") from None
    mime = _sniff_image(data)
    if mime is None:
        raise ValueError("captcha bytes are not an image")
    return CaptchaImage(data=data, mime_type=mime)


@dataclass(frozen=True, slots=True)
class AvailabilityResult:
    """`POST mobile/registration-available`."""

    available: bool
    blocked: bool
    appeal_token: str | None
    waits: MethodWaits
    wa_old_eligible: bool | None
    reason: str | None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        return cls(
            available=_as_bool(body.get("available")) is True,
            blocked=_as_bool(body.get("blocked")) is True,
            appeal_token=_as_text(body.get("appealToken")),
            waits=MethodWaits.from_body(body),
            wa_old_eligible=_as_bool(body.get("waOldEligible")),
            reason=_as_text(body.get("reason")),
        )


@dataclass(frozen=True, slots=True)
class CodeRequestResult:
    """`POST mobile/request-registration-code`.

    A present `captcha` is the signal whatever `success` says; a captcha that could not be decoded
    is a failure (raised by the client), never passed on.
    """

    success: bool
    captcha: CaptchaImage | None
    blocked: bool
    retry_after: int | None
    waits: MethodWaits
    method: DeliveryMethod | None
    reason: str | None

    @classmethod
    def from_body(cls, body: Mapping[str, Any], captcha: CaptchaImage | None) -> Self:
        method_text = body.get("method")
        method = (
            DeliveryMethod(method_text)
            if method_text in {m.value for m in DeliveryMethod}
            else None
        )
        return cls(
            success=_as_bool(body.get("success")) is True and captcha is None,
            captcha=captcha,
            blocked=_as_bool(body.get("blocked")) is True,
            retry_after=_as_seconds(body.get("retryAfter")),
            waits=MethodWaits.from_body(body),
            method=method,
            reason=_as_text(body.get("reason")),
        )


@dataclass(frozen=True, slots=True)
class CodeConfirmation:
    """`POST mobile/confirm-registration-code`."""

    success: bool
    confirm_security_code: bool
    device_confirm: bool

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        return cls(
            success=_as_bool(body.get("success")) is True,
            confirm_security_code=_as_bool(body.get("confirmSecurityCode")) is True,
            device_confirm=_as_bool(body.get("deviceConfirm")) is True,
        )


@dataclass(frozen=True, slots=True)
class OperationResult:
    """Endpoints answering `{"success": bool}` (captcha, PIN, PIN recovery, device transfer)."""

    success: bool

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        return cls(success=_as_bool(body.get("success")) is True)


@dataclass(frozen=True, slots=True)
class UnbanResult:
    """`POST mobile/request-unbanning`: status is e.g. IN_REVIEW or UNBANNED."""

    success: bool
    status: str | None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        return cls(
            success=_as_bool(body.get("success")) is True,
            status=_as_text(body.get("status")),
        )


@dataclass(frozen=True, slots=True)
class InstanceStatus:
    """`GET status`. `error` here is informational ("You are not connected."), not a failure."""

    connected: bool
    smartphone_connected: bool | None
    message: str | None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        return cls(
            connected=_as_bool(body.get("connected")) is True,
            smartphone_connected=_as_bool(body.get("smartphoneConnected")),
            message=_as_text(body.get("error")),
        )


@dataclass(frozen=True, slots=True)
class ConnectedDevice:
    """`GET device`: the connected number (digits, country code first) and its profile."""

    phone: str | None
    name: str | None
    about: str | None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        return cls(
            phone=_as_phone(body.get("phone")),
            name=_as_text(body.get("name")),
            about=_as_text(body.get("about")),
        )


@dataclass(frozen=True, slots=True)
class EmailStatus:
    """`GET security/email`: the recovery e-mail of the connected number."""

    has_email: bool
    email: str | None
    verified: bool

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        email = _as_text(body.get("email"))
        return cls(
            has_email=read_flag(body, "hasEmail") or email is not None,
            email=email,
            verified=read_flag(body, "verified"),
        )
