"""Z-API failures → what the member reads. The one place the exception family is mapped."""

from __future__ import annotations

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

__all__ = ["zapi_error_lead", "zapi_error_text"]


def zapi_error_lead(error: ZapiError, texts: Catalog, *, timeout_seconds: float) -> str:
    """What went wrong, in the member's words (never Z-API's own text, a URL or a token)."""
    if isinstance(error, ZapiTimeout):
        return texts.error_timeout.format(seconds=round(timeout_seconds))
    if isinstance(error, ZapiNetworkError):
        return texts.error_network
    if isinstance(error, ZapiAuthError):
        return texts.error_auth
    if isinstance(error, ZapiRateLimited):
        return texts.error_rate_limited
    if isinstance(error, ZapiRejected):
        return texts.error_rejected
    if isinstance(error, ZapiBadResponse):
        return texts.error_bad_response
    return texts.error_server


def zapi_error_text(error: ZapiError, texts: Catalog, *, timeout_seconds: float) -> str:
    """The lead, and how to go on (an operator must fix refused credentials first)."""
    lead = zapi_error_lead(error, texts, timeout_seconds=timeout_seconds)
    return f"{lead}\n{texts.error_retry_hint}" if error.retryable else lead
