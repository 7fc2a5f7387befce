"""Z-API failures → what the member reads. The one place the exception family is mapped.

A refusal (HTTP 4xx) is told by its class, never in Z-API's own words, and without "try
again": the same request would be refused again.
"""

from __future__ import annotations

from enum import Enum

from bot.conversation.texts import Catalog
from bot.zapi import (
    ZapiAuthError,
    ZapiBadResponse,
    ZapiError,
    ZapiNetworkError,
    ZapiRateLimited,
    ZapiRejected,
    ZapiTimeout,
)

__all__ = ["Refusal", "refusal_of", "zapi_error_lead"]


class Refusal(Enum):
    """Why Z-API refused a request, as far as its answer tells."""

    NUMBER = "number"  # the number (or its country code) as given
    INSTANCE = "instance"  # the instance's state: already connected, not a mobile instance
    CONNECTED_NUMBER = "connected_number"  # a set-up call: the number may be gone from it
    OTHER = "other"


# Words of Z-API's refusals, by class (its texts are read, never shown).
_REFUSAL_HINTS: tuple[tuple[Refusal, tuple[str, ...]], ...] = (
    (Refusal.NUMBER, ("phone", "number", "ddi", "numero", "número")),
    (Refusal.INSTANCE, ("connected", "conectad", "instance", "mobile", "session")),
)


# The set-up's calls, on the number connected to the instance.
_CONNECTED_NUMBER_ENDPOINTS = ("profile-", "security/", "device")


def refusal_of(error: ZapiRejected) -> Refusal:
    if error.endpoint.startswith(_CONNECTED_NUMBER_ENDPOINTS):
        return Refusal.CONNECTED_NUMBER
    words = (error.zapi_message or "").casefold()
    for refusal, hints in _REFUSAL_HINTS:
        if any(hint in words for hint in hints):
            return refusal
    # Z-API keeps no words for what members typed: a refusal of the number check is the
    # number's.
    if error.endpoint in ("mobile/registration-available", "mobile/request-registration-code"):
        return Refusal.NUMBER
    return Refusal.OTHER


def zapi_error_lead(
    error: ZapiError,
    texts: Catalog,
    *,
    timeout_seconds: float,
    instance: str = "",
    admins_alerted: bool = False,
) -> str:
    """What went wrong, in the member's words (never Z-API's own text, a URL or a token);
    `admins_alerted`: refused credentials were reported to the admins."""
    if isinstance(error, ZapiTimeout):
        return texts.error_timeout.format(seconds=round(timeout_seconds))
    if isinstance(error, ZapiNetworkError):
        return texts.error_network
    if isinstance(error, ZapiAuthError):
        then = texts.error_auth_alerted if admins_alerted else texts.error_auth_tell
        return f"{texts.error_auth.format(instance=instance)}\n{then}"
    if isinstance(error, ZapiRateLimited):
        return texts.error_rate_limited
    if isinstance(error, ZapiRejected):
        return texts.error_refused[refusal_of(error).value].format(instance=instance)
    if isinstance(error, ZapiBadResponse):
        return texts.error_bad_response
    return texts.error_server
