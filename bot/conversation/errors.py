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
    ZapiServerError,
    ZapiTimeout,
)

__all__ = ["zapi_error_text"]


def zapi_error_text(error: ZapiError, texts: Catalog, *, timeout_seconds: float) -> str:
    if isinstance(error, ZapiTimeout):
        message = texts.error_timeout.format(seconds=round(timeout_seconds))
    elif isinstance(error, ZapiNetworkError):
        message = texts.error_network
    elif isinstance(error, ZapiAuthError):
        return texts.error_auth
    elif isinstance(error, ZapiRateLimited):
        message = texts.error_rate_limited
    elif isinstance(error, ZapiServerError):
        message = texts.error_server
    elif isinstance(error, ZapiRejected):
        # Z-API's own words help the member (e.g. "phone not valid"); they carry no secret.
        detail = f" ({error.zapi_message})" if error.zapi_message else ""
        message = texts.error_rejected.format(detail=detail)
    elif isinstance(error, ZapiBadResponse):
        message = texts.error_bad_response
    else:
        message = texts.error_server
    return f"{message}\n{texts.error_retry_hint}"
