"""Every way a Z-API call can fail, as one exception family.

ZapiError
 ├── ZapiTransportError ........ the request got no HTTP answer
 │    ├── ZapiTimeout .......... no answer within ZAPI_TIMEOUT_SECONDS
 │    └── ZapiNetworkError ..... DNS, refused connection, reset, TLS
 ├── ZapiHTTPError ............. an answer with an error status or an `error` body
 │    ├── ZapiAuthError ........ the Client-Token or the instance credentials were refused
 │    ├── ZapiRateLimited ...... HTTP 429
 │    ├── ZapiServerError ...... HTTP 5xx
 │    └── ZapiRejected ......... any other 4xx, or an `error` body (even with HTTP 200)
 └── ZapiBadResponse ........... the body could not be read (not JSON, wrong shape, not an image)

No exception text ever carries a URL, an instance token or the Client-Token: they are built
from the endpoint's name, the status and Z-API's own message only.

`may_have_acted` says whether Z-API may have done what was asked although the call failed (a
code request that timed out may still send the SMS): only a refused connection, or an answer
that is Z-API's own refusal, proves it did nothing.
"""

from __future__ import annotations

__all__ = [
    "ZapiAuthError",
    "ZapiBadResponse",
    "ZapiError",
    "ZapiHTTPError",
    "ZapiNetworkError",
    "ZapiRateLimited",
    "ZapiRejected",
    "ZapiServerError",
    "ZapiTimeout",
    "ZapiTransportError",
]


class ZapiError(Exception):
    """Base class: `endpoint` is the Z-API path that failed (e.g. `mobile/confirm-pin-code`)."""

    def __init__(self, message: str, *, endpoint: str) -> None:
        super().__init__(f"{endpoint}: {message}")
        self.endpoint = endpoint

    @property
    def retryable(self) -> bool:
        """Whether the same call may succeed if the member simply tries again."""
        return True

    @property
    def may_have_acted(self) -> bool:
        """Whether Z-API may have carried the request out although the call failed."""
        return False


class ZapiTransportError(ZapiError):
    """The request got no HTTP answer.

    `request_sent`: whether the request may have reached Z-API (and may have been acted on):
    False only when the connection was never made.
    """

    def __init__(self, message: str, *, endpoint: str, request_sent: bool) -> None:
        super().__init__(message, endpoint=endpoint)
        self.request_sent = request_sent

    @property
    def may_have_acted(self) -> bool:
        return self.request_sent


class ZapiTimeout(ZapiTransportError):
    """No answer within the configured timeout."""


class ZapiNetworkError(ZapiTransportError):
    """The connection failed (refused, reset, DNS, TLS), before or after the request went out."""


class ZapiHTTPError(ZapiError):
    """Z-API answered, and the answer is a failure."""

    def __init__(
        self, message: str, *, endpoint: str, status_code: int, zapi_message: str | None
    ) -> None:
        detail = f"HTTP {status_code}" + (f" ({zapi_message})" if zapi_message else "")
        super().__init__(f"{message}: {detail}", endpoint=endpoint)
        self.status_code = status_code
        self.zapi_message = zapi_message


class ZapiAuthError(ZapiHTTPError):
    """The Client-Token or the instance id/token were refused: an operator must fix settings."""

    @property
    def retryable(self) -> bool:
        return False


class ZapiRateLimited(ZapiHTTPError):
    """HTTP 429: too many calls."""


class ZapiServerError(ZapiHTTPError):
    """HTTP 5xx: Z-API is failing (perhaps after acting: a gateway answers for it)."""

    @property
    def may_have_acted(self) -> bool:
        return True


class ZapiRejected(ZapiHTTPError):
    """A 4xx, or a body carrying `error`: Z-API refused this request as it was."""

    @property
    def retryable(self) -> bool:
        return False


class ZapiBadResponse(ZapiError):
    """The answer could not be understood (not JSON, not an object, a captcha not an image).

    `acted`: False when what could be read proves Z-API did nothing (it asked for a captcha)."""

    def __init__(self, message: str, *, endpoint: str, acted: bool = True) -> None:
        super().__init__(message, endpoint=endpoint)
        self.acted = acted

    @property
    def may_have_acted(self) -> bool:
        return self.acted
