"""Z-API mobile registration and the connected number: client, typed results and the exception
family."""

from bot.zapi._exceptions import (
    ZapiAuthError,
    ZapiBadResponse,
    ZapiError,
    ZapiHTTPError,
    ZapiNetworkError,
    ZapiRateLimited,
    ZapiRejected,
    ZapiServerError,
    ZapiTimeout,
    ZapiTransportError,
)
from bot.zapi.client import ZapiClient
from bot.zapi.models import (
    AvailabilityResult,
    CaptchaImage,
    CodeConfirmation,
    CodeRequestResult,
    ConnectedDevice,
    DeliveryMethod,
    EmailStatus,
    InstanceStatus,
    MethodWaits,
    OperationResult,
    UnbanResult,
    ValueEndpoint,
    decode_captcha,
)

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
    "ZapiAuthError",
    "ZapiBadResponse",
    "ZapiClient",
    "ZapiError",
    "ZapiHTTPError",
    "ZapiNetworkError",
    "ZapiRateLimited",
    "ZapiRejected",
    "ZapiServerError",
    "ZapiTimeout",
    "ZapiTransportError",
    "decode_captcha",
]
