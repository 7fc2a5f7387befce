"""ZapiClient against the Z-API double: real HTTP on loopback, checked on the server side."""

from __future__ import annotations

import base64
import logging
import socket
import ssl
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.config import InstanceConfig
from bot.zapi import (
    ConnectedDevice,
    DeliveryMethod,
    EmailStatus,
    ZapiAuthError,
    ZapiBadResponse,
    ZapiClient,
    ZapiError,
    ZapiHTTPError,
    ZapiNetworkError,
    ZapiRateLimited,
    ZapiRejected,
    ZapiServerError,
    ZapiTimeout,
)
from bot.zapi.transport import AiohttpTransport
from tests.conftest import CLIENT_TOKEN, INSTANCE_TOKENS
from tests.doubles.zapi import NumberProfile, Reply, ZapiDouble

DDI, PHONE = "55", "4499999999"
PIN = "482913"
EMAIL = "ana@example.com"
EMAIL_CODE = "735190"
APPEAL_TOKEN = "Ae0B_" + "x" * 195
INST_A = InstanceConfig(
    name="inst-a", instance_id="inst-a", token=SecretStr(INSTANCE_TOKENS["inst-a"])
)
INST_B = InstanceConfig(
    name="inst-b", instance_id="inst-b", token=SecretStr(INSTANCE_TOKENS["inst-b"])
)
PNG = ZapiDouble.CAPTCHA_PNG
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(64))

Call = Callable[[ZapiClient], Awaitable[Any]]

# Every endpoint: the call, the HTTP method Z-API documents, the exact JSON body it must carry.
ENDPOINTS: dict[str, tuple[Call, str, Any]] = {
    "mobile/registration-available": (
        lambda c: c.registration_available(INST_A, DDI, PHONE),
        "POST",
        {"ddi": DDI, "phone": PHONE},
    ),
    "mobile/request-registration-code": (
        lambda c: c.request_code(INST_A, DDI, PHONE, DeliveryMethod.SMS),
        "POST",
        {"ddi": DDI, "phone": PHONE, "method": "sms"},
    ),
    "mobile/respond-captcha": (
        lambda c: c.respond_captcha(INST_A, "x7Kp2"),
        "POST",
        {"captcha": "x7Kp2"},
    ),
    "mobile/confirm-registration-code": (
        lambda c: c.confirm_code(INST_A, "123456"),
        "POST",
        {"code": "123456"},
    ),
    "mobile/confirm-pin-code": (
        lambda c: c.confirm_pin(INST_A, "654321"),
        "POST",
        {"code": "654321"},
    ),
    "mobile/recovery-pin-code": (lambda c: c.recover_pin(INST_A), "POST", None),
    "mobile/device-transfer-confirmed": (
        lambda c: c.device_transfer_confirmed(INST_A),
        "GET",
        None,
    ),
    "mobile/request-unbanning": (
        lambda c: c.request_unbanning(INST_A, APPEAL_TOKEN, "This is my own number"),
        "POST",
        {"appealToken": APPEAL_TOKEN, "description": "This is my own number"},
    ),
    "status": (lambda c: c.status(INST_A), "GET", None),
    # The connected number.
    "device": (lambda c: c.device(INST_A), "GET", None),
    "profile-name": (
        lambda c: c.set_value(INST_A, "profile-name", "Ana Sales"),
        "PUT",
        {"value": "Ana Sales"},
    ),
    "profile-description": (
        lambda c: c.set_value(INST_A, "profile-description", "Sales team, 9 to 6"),
        "PUT",
        {"value": "Sales team, 9 to 6"},
    ),
    "GET security/two-fa-code": (lambda c: c.two_factor_status(INST_A), "GET", None),
    "security/two-fa-code": (
        lambda c: c.set_two_factor_code(INST_A, PIN),
        "POST",
        {"code": PIN},
    ),
    "GET security/email": (lambda c: c.email_status(INST_A), "GET", None),
    "security/email": (lambda c: c.set_email(INST_A, EMAIL), "POST", {"email": EMAIL}),
    "security/verify-email": (
        lambda c: c.verify_email(INST_A, EMAIL_CODE),
        "POST",
        {"verificationCode": EMAIL_CODE},
    ),
}
# Keys are paths, "GET <path>" where a path also takes a POST.
PATHS = list(ENDPOINTS)
CONNECTED_NUMBER = PATHS[PATHS.index("device") :]
# Their payload is what the member typed: Z-API's words are never kept for them.
MEMBER_TYPED = [
    "mobile/respond-captcha",
    "mobile/confirm-registration-code",
    "mobile/confirm-pin-code",
    "mobile/request-unbanning",
    "profile-name",
    "profile-description",
    "security/two-fa-code",
    "security/email",
    "security/verify-email",
]
# request-registration-code and the confirm calls may already have acted when no answer came.
NEVER_RETRIED = [
    "mobile/request-registration-code",
    "mobile/respond-captcha",
    "mobile/confirm-registration-code",
    "mobile/confirm-pin-code",
    "mobile/device-transfer-confirmed",
    "security/two-fa-code",
    "security/email",
    "security/verify-email",
]


def call(key: str) -> Call:
    return ENDPOINTS[key][0]


def path_of(key: str) -> str:
    """The Z-API path of an ENDPOINTS key."""
    return key.removeprefix("GET ")


_TLS = ssl.create_default_context()


def loopback_transport() -> AiohttpTransport:
    """The transport the client uses when given none (for the tests that wrap it)."""
    return AiohttpTransport(ssl_context=_TLS)


@pytest.fixture
async def client(zapi: ZapiDouble) -> AsyncIterator[ZapiClient]:
    async with ZapiClient(zapi.base_url, SecretStr(CLIENT_TOKEN), timeout=2.0) as zapi_client:
        yield zapi_client


@pytest.fixture
async def quick_client(zapi: ZapiDouble) -> AsyncIterator[ZapiClient]:
    async with ZapiClient(zapi.base_url, SecretStr(CLIENT_TOKEN), timeout=0.5) as zapi_client:
        yield zapi_client


def assert_clean(error: BaseException, *extra_forbidden: str) -> None:
    """No URL, instance token or Client-Token in the text, the repr, the traceback or fields."""
    texts = {
        "str": str(error),
        "repr": repr(error),
        "traceback": "".join(traceback.format_exception(error)),
        "attributes": repr(vars(error)),
    }
    forbidden = [CLIENT_TOKEN, *INSTANCE_TOKENS.values(), "127.0.0.1", *extra_forbidden]
    for where, text in texts.items():
        for secret in forbidden:
            assert secret not in text, f"{secret!r} leaked in the exception's {where}: {text}"
    for where in ("str", "repr", "attributes"):
        for url_part in ("http://", "https://", "/instances/", "/token/"):
            assert url_part not in texts[where], f"a URL leaked in the exception's {where}"


def captcha_data_uri(data: bytes = PNG, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


async def check_and_request(client: ZapiClient, method: DeliveryMethod = DeliveryMethod.SMS) -> Any:
    await client.registration_available(INST_A, DDI, PHONE)
    return await client.request_code(INST_A, DDI, PHONE, method)


# -- requests as Z-API sees them -----------------------------------------------------------


@pytest.mark.parametrize("key", PATHS)
async def test_headers_url_and_exact_body(zapi: ZapiDouble, client: ZapiClient, key: str) -> None:
    zapi.script(path_of(key), Reply(json={}))
    await call(key)(client)

    (request,) = zapi.requests
    _, http_method, body = ENDPOINTS[key]
    assert request.path == path_of(key)
    assert (request.instance_id, request.instance_token) == ("inst-a", INSTANCE_TOKENS["inst-a"])
    assert request.http_method == http_method
    assert request.headers.get("Client-Token") == CLIENT_TOKEN
    if http_method == "GET":
        assert request.body == b""
    elif body is None:
        # recovery-pin-code has no documented body: nothing, or an empty JSON object.
        assert request.json in (None, {})
        if request.body:
            assert request.headers["Content-Type"].split(";")[0].strip() == "application/json"
    else:
        assert request.headers["Content-Type"].split(";")[0].strip() == "application/json"
        assert request.json == body
        assert all(isinstance(value, str) for value in request.json.values())


async def test_each_instance_uses_its_own_id_and_token(
    zapi: ZapiDouble, client: ZapiClient
) -> None:
    await client.status(INST_B)
    await client.status(INST_A)
    assert [(r.instance_id, r.instance_token) for r in zapi.requests] == [
        ("inst-b", INSTANCE_TOKENS["inst-b"]),
        ("inst-a", INSTANCE_TOKENS["inst-a"]),
    ]


@pytest.mark.parametrize(
    ("name", "make_call"),
    [
        ("ddi with plus", lambda c: c.registration_available(INST_A, "+55", PHONE)),
        ("empty ddi", lambda c: c.registration_available(INST_A, "", PHONE)),
        ("formatted phone", lambda c: c.registration_available(INST_A, DDI, "(44) 9999-9999")),
        ("letters in phone", lambda c: c.registration_available(INST_A, DDI, "44abc")),
        ("16-digit phone", lambda c: c.registration_available(INST_A, DDI, "1" * 16)),
        ("request ddi", lambda c: c.request_code(INST_A, "55 ", PHONE, DeliveryMethod.SMS)),
        ("request phone", lambda c: c.request_code(INST_A, DDI, "44-99", DeliveryMethod.VOICE)),
        ("unknown method", lambda c: c.request_code(INST_A, DDI, PHONE, "email")),
        ("dashed code", lambda c: c.confirm_code(INST_A, "123-456")),
        ("spaced code", lambda c: c.confirm_code(INST_A, "123 456")),
        ("empty code", lambda c: c.confirm_code(INST_A, "")),
        ("letters in pin", lambda c: c.confirm_pin(INST_A, "12a456")),
    ],
)
async def test_non_digit_input_is_refused_before_sending(
    zapi: ZapiDouble, client: ZapiClient, name: str, make_call: Call
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is ours, the class is the contract
        await make_call(client)
    assert zapi.requests == [], name


# -- registration-available ----------------------------------------------------------------


async def test_available_number(client: ZapiClient) -> None:
    result = await client.registration_available(INST_A, DDI, PHONE)
    assert result.available is True
    assert result.blocked is False
    assert result.appeal_token is None
    assert result.reason is None
    assert result.wa_old_eligible is True
    for method in DeliveryMethod:
        assert result.waits.get(method) == 0
        assert not result.waits.is_blocked(method)


async def test_banned_number_keeps_the_whole_appeal_token(
    zapi: ZapiDouble, client: ZapiClient
) -> None:
    zapi.add_number(DDI, PHONE, NumberProfile(banned=True))
    result = await client.registration_available(INST_A, DDI, PHONE)
    assert (result.available, result.blocked) == (False, True)
    assert result.appeal_token == zapi.appeal_token(DDI, PHONE)
    assert len(result.appeal_token) == 200
    assert not result.waits
    assert result.wa_old_eligible is None


async def test_unavailable_number_with_reason(zapi: ZapiDouble, client: ZapiClient) -> None:
    zapi.add_number(DDI, PHONE, NumberProfile(unavailable=True, reason="too_many_attempts"))
    result = await client.registration_available(INST_A, DDI, PHONE)
    assert (result.available, result.blocked, result.reason) == (False, False, "too_many_attempts")


async def test_waits_blocked_methods_and_wa_old_eligibility(
    zapi: ZapiDouble, client: ZapiClient
) -> None:
    zapi.add_number(
        DDI, PHONE, NumberProfile(waits={"sms": 120, "voice": -1}, wa_old_eligible=False)
    )
    result = await client.registration_available(INST_A, DDI, PHONE)
    assert result.available is True
    assert 118 <= (result.waits.get(DeliveryMethod.SMS) or 0) <= 120
    assert result.waits.get(DeliveryMethod.VOICE) == -1
    assert result.waits.is_blocked(DeliveryMethod.VOICE)
    assert not result.waits.is_blocked(DeliveryMethod.SMS)
    assert result.waits.get(DeliveryMethod.WA_OLD) == 0
    assert result.wa_old_eligible is False


async def test_documented_availability_examples(zapi: ZapiDouble, client: ZapiClient) -> None:
    path = "mobile/registration-available"
    zapi.script(
        path,
        Reply(
            json={
                "available": True,
                "smsWaitSeconds": 0,
                "voiceWaitSeconds": 0,
                "waOldWaitSeconds": 0,
                "waOldEligible": True,
            }
        ),
        Reply(json={"available": False, "blocked": True, "appealToken": "Ae0B_6Ff" + "q" * 192}),
        Reply(json={"available": True, "smsWaitSeconds": -1, "voiceWaitSeconds": "45"}),
    )
    first = await client.registration_available(INST_A, DDI, PHONE)
    assert first.available is True
    assert [first.waits.get(m) for m in DeliveryMethod] == [0, 0, 0]
    banned = await client.registration_available(INST_A, DDI, PHONE)
    assert banned.blocked is True
    assert banned.appeal_token == "Ae0B_6Ff" + "q" * 192
    loose = await client.registration_available(INST_A, DDI, PHONE)
    assert loose.waits.is_blocked(DeliveryMethod.SMS)
    assert loose.waits.get(DeliveryMethod.VOICE) == 45
    assert loose.waits.get(DeliveryMethod.WA_OLD) is None
    assert loose.wa_old_eligible is None


async def test_availability_with_every_field_absent(zapi: ZapiDouble, client: ZapiClient) -> None:
    zapi.script("mobile/registration-available", Reply(json={}))
    result = await client.registration_available(INST_A, DDI, PHONE)
    assert result.available is False
    assert result.blocked is False
    assert result.appeal_token is None
    assert result.reason is None
    assert result.wa_old_eligible is None
    assert not result.waits
    assert all(result.waits.get(method) is None for method in DeliveryMethod)


# -- request-registration-code -------------------------------------------------------------


async def test_code_sent(zapi: ZapiDouble, client: ZapiClient) -> None:
    zapi.add_number(DDI, PHONE, NumberProfile(after_request_wait=90))
    result = await check_and_request(client, DeliveryMethod.VOICE)
    assert result.success is True
    assert result.captcha is None
    assert result.blocked is False
    assert result.method is DeliveryMethod.VOICE
    assert result.retry_after is not None
    assert 88 <= result.retry_after <= 90
    assert 88 <= (result.waits.get(DeliveryMethod.VOICE) or 0) <= 90
    assert zapi.requests_to("mobile/request-registration-code")[0].json["method"] == "voice"


async def test_documented_code_sent_example(zapi: ZapiDouble, client: ZapiClient) -> None:
    zapi.script(
        "mobile/request-registration-code",
        Reply(
            json={
                "success": True,
                "retryAfter": 165,
                "smsWaitSeconds": 125,
                "voiceWaitSeconds": 125,
                "waOldWaitSeconds": 125,
                "method": "sms",
            }
        ),
    )
    result = await client.request_code(INST_A, DDI, PHONE, DeliveryMethod.SMS)
    assert result.success is True
    assert result.retry_after == 165
    assert [result.waits.get(m) for m in DeliveryMethod] == [125, 125, 125]
    assert result.method is DeliveryMethod.SMS
    assert result.captcha is None
    assert result.blocked is False


@pytest.mark.parametrize(("retry_after", "seconds"), [(165, 165), ("165", 165), (" 42 ", 42)])
async def test_retry_after_as_number_or_string(
    zapi: ZapiDouble, client: ZapiClient, retry_after: Any, seconds: int
) -> None:
    zapi.script(
        "mobile/request-registration-code",
        Reply(json={"success": False, "retryAfter": retry_after, "method": "sms"}),
    )
    result = await client.request_code(INST_A, DDI, PHONE, DeliveryMethod.SMS)
    assert result.success is False
    assert result.retry_after == seconds


async def test_retry_after_string_from_the_simulator(zapi: ZapiDouble, client: ZapiClient) -> None:
    zapi.add_number(DDI, PHONE, NumberProfile(after_request_wait=60, retry_after_as_string=True))
    sent = await check_and_request(client)
    assert sent.success is True
    assert sent.retry_after is not None
    assert 58 <= sent.retry_after <= 60
    again = await client.request_code(INST_A, DDI, PHONE, DeliveryMethod.SMS)
    assert again.success is False
    assert again.retry_after is not None
    assert 58 <= again.retry_after <= 60
    assert isinstance(zapi.requests_to("mobile/request-registration-code")[1].json, dict)


async def test_banned_on_request(zapi: ZapiDouble, client: ZapiClient) -> None:
    zapi.script("mobile/request-registration-code", Reply(json={"success": False, "blocked": True}))
    result = await client.request_code(INST_A, DDI, PHONE, DeliveryMethod.SMS)
    assert (result.success, result.blocked, result.captcha) == (False, True, None)


async def test_hidden_ban_shows_only_on_request(zapi: ZapiDouble, client: ZapiClient) -> None:
    zapi.add_number(DDI, PHONE, NumberProfile(hidden_ban=True))
    available = await client.registration_available(INST_A, DDI, PHONE)
    assert (available.available, available.appeal_token) == (True, None)
    result = await client.request_code(INST_A, DDI, PHONE, DeliveryMethod.SMS)
    assert (result.success, result.blocked) == (False, True)


async def test_blocked_method_on_request(zapi: ZapiDouble, client: ZapiClient) -> None:
    zapi.add_number(DDI, PHONE, NumberProfile(waits={"voice": -1}))
    result = await check_and_request(client, DeliveryMethod.VOICE)
    assert result.success is False
    assert result.reason == "no_routes"
    assert result.waits.is_blocked(DeliveryMethod.VOICE)
    assert result.waits.get(DeliveryMethod.SMS) == 0


async def test_wa_old_not_eligible(zapi: ZapiDouble, client: ZapiClient) -> None:
    zapi.add_number(DDI, PHONE, NumberProfile(wa_old_eligible=False))
    result = await check_and_request(client, DeliveryMethod.WA_OLD)
    assert result.success is False
    assert result.reason == "wa_old_not_eligible"


async def test_request_with_fields_absent(zapi: ZapiDouble, client: ZapiClient) -> None:
    zapi.script(
        "mobile/request-registration-code",
        Reply(json={}),
        Reply(json={"success": True}),
        Reply(json={"success": True, "method": "carrier pigeon"}),
    )
    empty = await client.request_code(INST_A, DDI, PHONE, DeliveryMethod.SMS)
    assert (empty.success, empty.blocked, empty.captcha) == (False, False, None)
    assert (empty.retry_after, empty.method, empty.reason) == (None, None, None)
    assert not empty.waits
    bare = await client.request_code(INST_A, DDI, PHONE, DeliveryMethod.SMS)
    assert (bare.success, bare.retry_after, bare.method) == (True, None, None)
    odd = await client.request_code(INST_A, DDI, PHONE, DeliveryMethod.SMS)
    assert (odd.success, odd.method) == (True, None)


# -- captcha -------------------------------------------------------------------------------


@pytest.mark.parametrize("captcha_format", ["data_uri", "base64"])
async def test_captcha_decoded_then_answered(
    zapi: ZapiDouble, client: ZapiClient, captcha_format: Any
) -> None:
    zapi.add_number(DDI, PHONE, NumberProfile(captcha="x7Kp2", captcha_format=captcha_format))
    result = await check_and_request(client)
    assert result.success is False
    assert result.captcha is not None
    assert result.captcha.data == PNG
    assert result.captcha.mime_type == "image/png"

    assert (await client.respond_captcha(INST_A, "wrong")).success is False
    assert (await client.respond_captcha(INST_A, "x7Kp2")).success is True
    assert zapi.requests_to("mobile/respond-captcha")[1].json == {"captcha": "x7Kp2"}
    assert (await client.confirm_code(INST_A, "123456")).success is True
    assert zapi.connected("inst-a")


async def test_captcha_from_the_simulator_that_is_not_an_image(
    zapi: ZapiDouble, client: ZapiClient
) -> None:
    zapi.add_number(DDI, PHONE, NumberProfile(captcha="x7Kp2", captcha_format="garbage"))
    await client.registration_available(INST_A, DDI, PHONE)
    with pytest.raises(ZapiBadResponse) as caught:
        await client.request_code(INST_A, DDI, PHONE, DeliveryMethod.SMS)
    assert caught.value.endpoint == "mobile/request-registration-code"
    assert_clean(caught.value)


@pytest.mark.parametrize(
    ("captcha", "data", "mime"),
    [
        (captcha_data_uri(), PNG, "image/png"),
        (base64.b64encode(PNG).decode(), PNG, "image/png"),
        (captcha_data_uri(JPEG, "image/jpeg"), JPEG, "image/jpeg"),
        # bare base64 wrapped in lines, as some encoders write it
        (base64.encodebytes(JPEG).decode(), JPEG, "image/jpeg"),
    ],
    ids=["png-data-uri", "png-base64", "jpeg-data-uri", "jpeg-wrapped-base64"],
)
async def test_scripted_captcha_shapes(
    zapi: ZapiDouble, client: ZapiClient, captcha: str, data: bytes, mime: str
) -> None:
    zapi.script(
        "mobile/request-registration-code", Reply(json={"success": False, "captcha": captcha})
    )
    result = await client.request_code(INST_A, DDI, PHONE, DeliveryMethod.SMS)
    assert result.captcha is not None
    assert (result.captcha.data, result.captcha.mime_type) == (data, mime)
    assert result.success is False


async def test_a_present_captcha_wins_over_success(zapi: ZapiDouble, client: ZapiClient) -> None:
    zapi.script(
        "mobile/request-registration-code",
        Reply(json={"success": True, "captcha": captcha_data_uri()}),
    )
    result = await client.request_code(INST_A, DDI, PHONE, DeliveryMethod.SMS)
    assert result.captcha is not None
    assert result.success is False


@pytest.mark.parametrize(
    "captcha",
    [
        base64.b64encode(b"\x00\x01this is not an image\xfe\xff" * 4).decode(),
        captcha_data_uri(b"\x00\x01this is not an image\xfe\xff" * 4),
        "data:text/plain;base64," + base64.b64encode(b"hello").decode(),
        "data:image/png,not-base64-at-all",
        "%%% not base64 %%%",
    ],
    ids=["bytes-base64", "bytes-data-uri", "text-data-uri", "plain-data-uri", "not-base64"],
)
async def test_captcha_that_is_not_an_image_is_a_bad_response(
    zapi: ZapiDouble, client: ZapiClient, captcha: str
) -> None:
    zapi.script(
        "mobile/request-registration-code", Reply(json={"success": False, "captcha": captcha})
    )
    with pytest.raises(ZapiBadResponse) as caught:
        await client.request_code(INST_A, DDI, PHONE, DeliveryMethod.SMS)
    assert_clean(caught.value)


# -- confirm code, PIN, recovery, device transfer ------------------------------------------


async def test_confirm_code_connected(zapi: ZapiDouble, client: ZapiClient) -> None:
    await check_and_request(client)
    wrong = await client.confirm_code(INST_A, "000000")
    assert (wrong.success, wrong.confirm_security_code, wrong.device_confirm) == (
        False,
        False,
        False,
    )
    right = await client.confirm_code(INST_A, "123456")
    assert (right.success, right.confirm_security_code, right.device_confirm) == (
        True,
        False,
        False,
    )
    assert [r.json for r in zapi.requests_to("mobile/confirm-registration-code")] == [
        {"code": "000000"},
        {"code": "123456"},
    ]
    assert zapi.connected("inst-a")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"success": True}, (True, False, False)),
        ({"success": False, "confirmSecurityCode": True}, (False, True, False)),
        ({"success": False, "deviceConfirm": True}, (False, False, True)),
        ({}, (False, False, False)),
    ],
)
async def test_documented_confirmation_examples(
    zapi: ZapiDouble, client: ZapiClient, body: dict[str, Any], expected: tuple[bool, ...]
) -> None:
    zapi.script("mobile/confirm-registration-code", Reply(json=body))
    result = await client.confirm_code(INST_A, "123456")
    assert (result.success, result.confirm_security_code, result.device_confirm) == expected


async def test_two_step_pin_and_recovery(zapi: ZapiDouble, client: ZapiClient) -> None:
    zapi.add_number(DDI, PHONE, NumberProfile(pin="654321"))
    assert (await client.recover_pin(INST_A)).success is False  # no PIN asked yet
    await check_and_request(client)
    confirmation = await client.confirm_code(INST_A, "123456")
    assert (confirmation.success, confirmation.confirm_security_code) == (False, True)
    assert (await client.recover_pin(INST_A)).success is True
    assert (await client.confirm_pin(INST_A, "111111")).success is False
    assert (await client.confirm_pin(INST_A, "654321")).success is True
    assert zapi.requests_to("mobile/confirm-pin-code")[-1].json == {"code": "654321"}
    assert zapi.connected("inst-a")


async def test_device_transfer(zapi: ZapiDouble, client: ZapiClient) -> None:
    zapi.add_number(DDI, PHONE, NumberProfile(device_confirm=True))
    await check_and_request(client)
    confirmation = await client.confirm_code(INST_A, "123456")
    assert (confirmation.success, confirmation.device_confirm) == (False, True)
    # Z-API answers 400 while the transfer was not accepted on the old phone: not an error.
    assert (await client.device_transfer_confirmed(INST_A)).success is False
    zapi.accept_device_transfer("inst-a")
    assert (await client.device_transfer_confirmed(INST_A)).success is True
    assert [r.http_method for r in zapi.requests_to("mobile/device-transfer-confirmed")] == [
        "GET",
        "GET",
    ]
    assert zapi.connected("inst-a")


async def test_pin_then_device_transfer(zapi: ZapiDouble, client: ZapiClient) -> None:
    """A number with a two-step PIN that must also be accepted on the old phone."""
    zapi.add_number(DDI, PHONE, NumberProfile(pin="654321", device_confirm=True))
    await check_and_request(client)
    assert (await client.confirm_code(INST_A, "123456")).confirm_security_code is True
    after_pin = await client.confirm_pin(INST_A, "654321")
    # Z-API answers {"success": false, "deviceConfirm": true}: the flag must reach the caller,
    # or a right PIN reads as a wrong one.
    assert after_pin.success is False
    assert after_pin.device_confirm is True


@pytest.mark.parametrize(
    "path", ["mobile/respond-captcha", "mobile/confirm-pin-code", "mobile/recovery-pin-code"]
)
@pytest.mark.parametrize(("body", "success"), [({"success": True}, True), ({}, False)])
async def test_success_only_endpoints(
    zapi: ZapiDouble, client: ZapiClient, path: str, body: dict[str, Any], success: bool
) -> None:
    zapi.script(path, Reply(json=body))
    assert (await call(path)(client)).success is success


async def test_device_transfer_400_shapes(zapi: ZapiDouble, client: ZapiClient) -> None:
    path = "mobile/device-transfer-confirmed"
    zapi.script(
        path,
        Reply(status=400, json={"error": "The device transfer has not been confirmed"}),
        Reply(status=400, body=b"", content_type=None),
        Reply(json={"success": True}),
    )
    assert (await client.device_transfer_confirmed(INST_A)).success is False
    assert (await client.device_transfer_confirmed(INST_A)).success is False
    assert (await client.device_transfer_confirmed(INST_A)).success is True


async def test_device_transfer_other_failures_still_raise(
    zapi: ZapiDouble, client: ZapiClient
) -> None:
    path = "mobile/device-transfer-confirmed"
    zapi.script(
        path,
        Reply(status=400, json={"error": "your client-token is not configured"}),
        Reply(status=500, json={"error": "boom"}),
        Reply(status=405, json={"error": "Method Not Allowed"}),
    )
    with pytest.raises(ZapiAuthError):
        await client.device_transfer_confirmed(INST_A)
    with pytest.raises(ZapiServerError):
        await client.device_transfer_confirmed(INST_A)
    with pytest.raises(ZapiRejected):
        await client.device_transfer_confirmed(INST_A)


# -- unbanning and status -------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["IN_REVIEW", "UNBANNED"])
async def test_request_unbanning(zapi: ZapiDouble, client: ZapiClient, outcome: Any) -> None:
    zapi.add_number(DDI, PHONE, NumberProfile(banned=True, unban_status=outcome))
    token = (await client.registration_available(INST_A, DDI, PHONE)).appeal_token
    assert token is not None
    result = await client.request_unbanning(INST_A, token, "I use this number for my shop")
    assert (result.success, result.status) == (True, outcome)
    (request,) = zapi.requests_to("mobile/request-unbanning")
    assert request.json == {"appealToken": token, "description": "I use this number for my shop"}


async def test_request_unbanning_with_an_unknown_token(
    zapi: ZapiDouble, client: ZapiClient
) -> None:
    with pytest.raises(ZapiRejected) as caught:
        await client.request_unbanning(INST_A, "Ae0B_unknown", "please")
    assert caught.value.status_code == 400
    assert caught.value.zapi_message is None  # Z-API may quote the appeal
    assert_clean(caught.value)


async def test_unbanning_with_fields_absent(zapi: ZapiDouble, client: ZapiClient) -> None:
    zapi.script("mobile/request-unbanning", Reply(json={"success": True}))
    result = await client.request_unbanning(INST_A, APPEAL_TOKEN, "please")
    assert (result.success, result.status) == (True, None)


async def test_status_from_the_simulator(zapi: ZapiDouble, client: ZapiClient) -> None:
    offline = await client.status(INST_A)
    assert (offline.connected, offline.smartphone_connected) == (False, False)
    assert offline.message == "You are not connected."
    zapi.set_connected("inst-a")
    online = await client.status(INST_A)
    assert (online.connected, online.smartphone_connected) == (True, True)
    assert online.message == "You are already connected."


@pytest.mark.parametrize(
    "message",
    ["You are already connected.", "You need to restore the session.", "You are not connected."],
)
async def test_status_error_field_is_informational(
    zapi: ZapiDouble, client: ZapiClient, message: str
) -> None:
    zapi.script(
        "status",
        Reply(json={"connected": False, "error": message, "smartphoneConnected": False}),
    )
    result = await client.status(INST_A)
    assert (result.connected, result.message) == (False, message)


async def test_status_with_fields_absent(zapi: ZapiDouble, client: ZapiClient) -> None:
    zapi.script("status", Reply(json={}))
    result = await client.status(INST_A)
    assert (result.connected, result.smartphone_connected, result.message) == (False, None, None)


async def test_status_not_found_body_with_200_is_a_failure(
    zapi: ZapiDouble, client: ZapiClient
) -> None:
    """A wrong ZAPI_BASE_URL answers NOT_FOUND with HTTP 200: not "instance not connected"."""
    zapi.script(
        "status",
        Reply(
            json={"error": "NOT_FOUND", "message": "Unable to find matching target resource method"}
        ),
    )
    with pytest.raises(ZapiRejected):
        await client.status(INST_A)


# -- failures: HTTP statuses, error bodies, unreadable bodies -------------------------------


STATUS_CLASSES: list[tuple[int, type[ZapiHTTPError]]] = [
    (400, ZapiRejected),
    (401, ZapiAuthError),
    (403, ZapiAuthError),
    (405, ZapiRejected),
    (415, ZapiRejected),
    (429, ZapiRateLimited),
    (500, ZapiServerError),
    (502, ZapiServerError),
    (503, ZapiServerError),
]


@pytest.mark.parametrize(
    ("path", "status", "expected"),
    [
        (path, status, expected)
        for path in PATHS
        for status, expected in STATUS_CLASSES
        # There a 400 means "not accepted on the old phone yet": test_device_transfer_400_shapes
        if (path, status) != ("mobile/device-transfer-confirmed", 400)
    ],
)
async def test_http_status_maps_to_exception(
    zapi: ZapiDouble,
    client: ZapiClient,
    path: str,
    status: int,
    expected: type[ZapiHTTPError],
) -> None:
    zapi.script(path_of(path), Reply(status=status, json={"error": f"failure {status}"}))
    with pytest.raises(expected) as caught:
        await call(path)(client)
    error = caught.value
    assert type(error) is expected
    assert error.status_code == status
    assert error.zapi_message == (None if path in MEMBER_TYPED else f"failure {status}")
    assert error.endpoint == path_of(path)
    assert str(status) in str(error)
    assert_clean(error)
    assert len(zapi.requests) == 1  # an HTTP answer is never retried


@pytest.mark.parametrize(("status", "expected"), STATUS_CLASSES)
async def test_http_status_without_a_body(
    zapi: ZapiDouble, client: ZapiClient, status: int, expected: type[ZapiHTTPError]
) -> None:
    zapi.script("status", Reply(status=status, body=b"", content_type=None))
    with pytest.raises(expected) as caught:
        await client.status(INST_A)
    assert caught.value.status_code == status
    assert caught.value.zapi_message is None


async def test_error_and_message_both_kept(zapi: ZapiDouble, client: ZapiClient) -> None:
    zapi.script(
        "mobile/registration-available",
        Reply(status=400, json={"error": "BAD_REQUEST", "message": "code must be a string"}),
    )
    with pytest.raises(ZapiRejected) as caught:
        await client.registration_available(INST_A, DDI, PHONE)
    assert "BAD_REQUEST" in (caught.value.zapi_message or "")
    assert "code must be a string" in (caught.value.zapi_message or "")


@pytest.mark.parametrize("path", [p for p in PATHS if p != "status"])
@pytest.mark.parametrize(
    "body",
    [
        {"error": "NOT_FOUND", "message": "Unable to find matching target resource method"},
        {"error": "something went wrong", "success": True},
    ],
)
async def test_error_body_with_200_is_a_failure(
    zapi: ZapiDouble, client: ZapiClient, path: str, body: dict[str, Any]
) -> None:
    zapi.script(path_of(path), Reply(status=200, json=body))
    with pytest.raises(ZapiRejected) as caught:
        await call(path)(client)
    assert caught.value.status_code == 200
    if path in MEMBER_TYPED:
        assert caught.value.zapi_message is None
    else:
        assert body["error"] in (caught.value.zapi_message or "")
    assert_clean(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        {"error": "your client-token is not configured"},
        {"error": "null not allowed"},
        {"error": "Instance not found"},
        {"error": "Invalid token"},
    ],
)
@pytest.mark.parametrize("status", [400, 404])
async def test_credential_errors_are_auth_errors_whatever_the_status(
    zapi: ZapiDouble, client: ZapiClient, body: dict[str, str], status: int
) -> None:
    zapi.script("mobile/registration-available", Reply(status=status, json=body))
    with pytest.raises(ZapiAuthError) as caught:
        await client.registration_available(INST_A, DDI, PHONE)
    assert caught.value.retryable is False
    assert_clean(caught.value)


async def test_real_credential_refusals(zapi: ZapiDouble) -> None:
    """The double itself refusing a wrong Client-Token, instance token or instance id."""
    wrong_token = InstanceConfig("inst-a", "inst-a", SecretStr(INSTANCE_TOKENS["inst-b"]))
    unknown = InstanceConfig("ghost", "ghost-instance", SecretStr(INSTANCE_TOKENS["inst-a"]))
    async with ZapiClient(zapi.base_url, SecretStr("wrong-client-token-xyz"), timeout=2) as bad:
        with pytest.raises(ZapiAuthError) as caught:
            await bad.status(INST_A)
        assert caught.value.status_code == 403
        assert_clean(caught.value, "wrong-client-token-xyz")
    async with ZapiClient(zapi.base_url, SecretStr(CLIENT_TOKEN), timeout=2) as good:
        with pytest.raises(ZapiAuthError) as caught:
            await good.registration_available(wrong_token, DDI, PHONE)
        assert caught.value.status_code == 401
        assert_clean(caught.value)
        with pytest.raises(ZapiAuthError) as caught:
            await good.status(unknown)
        assert_clean(caught.value)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "text/html"),
        (b"OK", "text/plain"),
        (b"", None),
        (b"null", "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b'"success"', "application/json"),
        (b'{"success": tru', "application/json"),
        (b"\xff\xfe\x00garbage", "application/octet-stream"),
    ],
    ids=["html", "text", "empty", "null", "array", "string", "truncated", "binary"],
)
@pytest.mark.parametrize("path", ["mobile/registration-available", "status"])
async def test_unreadable_200_body_is_a_bad_response(
    zapi: ZapiDouble, client: ZapiClient, path: str, body: bytes, content_type: str | None
) -> None:
    zapi.script(path, Reply(status=200, body=body, content_type=content_type))
    with pytest.raises(ZapiBadResponse) as caught:
        await call(path)(client)
    assert caught.value.endpoint == path
    assert_clean(caught.value)


@pytest.mark.parametrize(("status", "expected"), [(500, ZapiServerError), (404, ZapiRejected)])
async def test_non_json_error_page(
    zapi: ZapiDouble, client: ZapiClient, status: int, expected: type[ZapiHTTPError]
) -> None:
    zapi.script(
        "mobile/confirm-pin-code",
        Reply(status=status, body=b"<html>Internal Server Error</html>", content_type="text/html"),
    )
    with pytest.raises(expected) as caught:
        await client.confirm_pin(INST_A, "654321")
    assert caught.value.status_code == status
    assert caught.value.zapi_message is None


async def test_echoed_url_and_tokens_never_reach_the_exception(
    zapi: ZapiDouble, client: ZapiClient
) -> None:
    """Z-API's message goes into the exception; a message quoting the request must not leak."""
    token = INSTANCE_TOKENS["inst-a"]
    zapi.script(
        "mobile/registration-available",
        Reply(
            status=404,
            json={
                "error": "NOT_FOUND",
                "message": f"No route for POST {zapi.base_url}/instances/inst-a/token/{token}/x",
            },
        ),
    )
    zapi.script(
        "status",
        Reply(status=400, json={"error": f"Client-Token {CLIENT_TOKEN} is not valid here"}),
    )
    with pytest.raises(ZapiError) as caught:
        await client.registration_available(INST_A, DDI, PHONE)
    assert_clean(caught.value)
    with pytest.raises(ZapiError) as caught:
        await client.status(INST_A)
    assert_clean(caught.value)


# What the member typed, echoed by Z-API ("invalid code 123456"), must not reach the exception.
ECHOES: dict[str, tuple[Call, str, dict[str, str]]] = {
    "mobile/confirm-registration-code": (
        lambda c: c.confirm_code(INST_A, "123456"),
        "123456",
        {"error": "invalid code 123456"},
    ),
    "mobile/confirm-pin-code": (
        lambda c: c.confirm_pin(INST_A, "654321"),
        "654321",
        {"error": "PIN 654321 is wrong", "message": "try again"},
    ),
    "mobile/respond-captcha": (
        lambda c: c.respond_captcha(INST_A, "x7Kp2"),
        "x7Kp2",
        {"message": "captcha answer 'X7KP2' does not match"},
    ),
    "mobile/request-unbanning": (
        lambda c: c.request_unbanning(INST_A, APPEAL_TOKEN, "This is my own number"),
        "This is my own number",
        {"error": "description This is my own number rejected"},
    ),
    "profile-name": (
        lambda c: c.set_value(INST_A, "profile-name", "Ana Sales"),
        "Ana Sales",
        {"error": "name 'Ana Sales' is not allowed"},
    ),
    "profile-description": (
        lambda c: c.set_value(INST_A, "profile-description", "Sales team, 9 to 6"),
        "Sales team, 9 to 6",
        {"error": "BAD_REQUEST", "message": "about 'Sales team, 9 to 6' too long"},
    ),
    "security/two-fa-code": (
        lambda c: c.set_two_factor_code(INST_A, PIN),
        PIN,
        {"error": f"two-fa code {PIN} refused"},
    ),
    "security/email": (
        lambda c: c.set_email(INST_A, EMAIL),
        EMAIL,
        {"error": f"e-mail {EMAIL} refused"},
    ),
    "security/verify-email": (
        lambda c: c.verify_email(INST_A, EMAIL_CODE),
        EMAIL_CODE,
        {"error": f"verificationCode {EMAIL_CODE} is wrong"},
    ),
}


@pytest.mark.parametrize("status", [400, 500])
@pytest.mark.parametrize("path", MEMBER_TYPED)
async def test_echoed_member_input_never_reaches_the_exception_or_the_log(
    zapi: ZapiDouble,
    client: ZapiClient,
    caplog: pytest.LogCaptureFixture,
    path: str,
    status: int,
) -> None:
    act, typed, body = ECHOES[path]
    zapi.script(path, Reply(status=status, json=body))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ZapiHTTPError) as caught:
        await act(client)
    error = caught.value
    assert error.zapi_message is None
    assert error.status_code == status
    logging.getLogger("bot.test").warning("Z-API failed: %s", error, exc_info=error)
    assert_clean(error, typed, typed.upper())
    assert "Z-API failed" in caplog.text
    for echoed in (typed, typed.upper(), APPEAL_TOKEN):
        assert echoed not in caplog.text, f"{echoed!r} was logged"


@pytest.mark.parametrize("path", MEMBER_TYPED)
async def test_refused_credentials_are_still_seen_where_words_are_dropped(
    zapi: ZapiDouble, client: ZapiClient, path: str
) -> None:
    act, typed, _ = ECHOES[path]
    zapi.script(
        path, Reply(status=400, json={"error": f"client-token is not configured ({typed})"})
    )
    with pytest.raises(ZapiAuthError) as caught:
        await act(client)
    assert caught.value.zapi_message is None
    assert_clean(caught.value, typed)


async def test_values_sent_are_masked_in_z_apis_words(zapi: ZapiDouble, client: ZapiClient) -> None:
    """Elsewhere Z-API's words are kept, but not a value of the request they quote."""
    zapi.script(
        "mobile/registration-available",
        Reply(status=400, json={"error": f"number +{DDI} {PHONE} is not valid"}),
    )
    zapi.script(
        "mobile/request-registration-code",
        Reply(status=400, json={"error": f"method voice refused for {PHONE}"}),
    )
    with pytest.raises(ZapiRejected) as caught:
        await client.registration_available(INST_A, DDI, PHONE)
    assert caught.value.zapi_message == f"number +{DDI} [redacted] is not valid"
    assert_clean(caught.value, PHONE)
    with pytest.raises(ZapiRejected) as caught:
        await client.request_code(INST_A, DDI, PHONE, DeliveryMethod.VOICE)
    assert caught.value.zapi_message == "method [redacted] refused for [redacted]"


# -- timeouts, network errors, retries ------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
async def test_hanging_server_times_out_without_retry(
    zapi: ZapiDouble, quick_client: ZapiClient, path: str
) -> None:
    zapi.hang(path_of(path))
    started = time.monotonic()
    with pytest.raises(ZapiTimeout) as caught:
        await call(path)(quick_client)
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"timeout=0.5 took {elapsed:.1f} s"
    assert caught.value.endpoint == path_of(path)
    assert_clean(caught.value)
    # The request reached Z-API and may have been acted on: it is never sent again.
    assert len(zapi.requests_to(path_of(path))) == 1
    assert len(zapi.requests) == 1


async def test_slow_but_in_time_answer_is_fine(zapi: ZapiDouble, quick_client: ZapiClient) -> None:
    zapi.script("status", Reply(json={"connected": True}, delay=0.1))
    assert (await quick_client.status(INST_A)).connected is True


async def test_refused_connection(zapi: ZapiDouble) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    async with ZapiClient(base_url, SecretStr(CLIENT_TOKEN), timeout=2) as dead:
        for path in PATHS:
            started = time.monotonic()
            with pytest.raises(ZapiNetworkError) as caught:
                await call(path)(dead)
            assert time.monotonic() - started < 5
            assert caught.value.endpoint == path_of(path)
            assert caught.value.retryable is True
            assert_clean(caught.value, str(port), base_url)


class ConnectFailures(httpx.AsyncBaseTransport):
    """Real HTTP to the double, after `failures` connection attempts that fail with `error`."""

    def __init__(self, failures: int, error: type[httpx.TransportError] = httpx.ConnectError):
        self.inner = loopback_transport()
        self.failures = failures
        self.error = error
        self.attempts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise self.error(f"[Errno 111] Connection refused: {request.url}", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class DropsAfterSending(httpx.AsyncBaseTransport):
    """Sends the request for real, then loses the answer (connection reset)."""

    def __init__(self) -> None:
        self.inner = loopback_transport()
        self.attempts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        response = await self.inner.handle_async_request(request)
        await response.aread()
        await response.aclose()
        raise httpx.ReadError(f"connection reset by peer: {request.url}", request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.parametrize("path", PATHS)
async def test_one_connect_error_is_retried_once(zapi: ZapiDouble, path: str) -> None:
    transport = ConnectFailures(failures=1)
    zapi.script(path_of(path), Reply(json={}))
    async with ZapiClient(
        zapi.base_url, SecretStr(CLIENT_TOKEN), timeout=2, transport=transport
    ) as flaky:
        await call(path)(flaky)
    assert transport.attempts == 2
    assert len(zapi.requests) == 1


@pytest.mark.parametrize(
    ("error", "expected"),
    [(httpx.ConnectError, ZapiNetworkError), (httpx.ConnectTimeout, ZapiTimeout)],
)
async def test_connect_error_twice_gives_up(
    zapi: ZapiDouble, error: type[httpx.TransportError], expected: type[ZapiError]
) -> None:
    transport = ConnectFailures(failures=2, error=error)
    async with ZapiClient(
        zapi.base_url, SecretStr(CLIENT_TOKEN), timeout=2, transport=transport
    ) as flaky:
        with pytest.raises(expected) as caught:
            await flaky.request_code(INST_A, DDI, PHONE, DeliveryMethod.SMS)
    assert transport.attempts == 2
    assert zapi.requests == []
    assert_clean(caught.value, zapi.base_url)


@pytest.mark.parametrize("path", NEVER_RETRIED)
async def test_lost_answer_after_sending_is_not_retried(zapi: ZapiDouble, path: str) -> None:
    transport = DropsAfterSending()
    async with ZapiClient(
        zapi.base_url, SecretStr(CLIENT_TOKEN), timeout=2, transport=transport
    ) as lossy:
        with pytest.raises(ZapiNetworkError) as caught:
            await call(path)(lossy)
    assert transport.attempts == 1
    assert len(zapi.requests_to(path)) == 1
    assert_clean(caught.value, zapi.base_url)


async def test_exceptions_form_one_family(zapi: ZapiDouble, client: ZapiClient) -> None:
    zapi.script("status", Reply(status=429, json={"error": "slow down"}))
    with pytest.raises(ZapiError) as caught:
        await client.status(INST_A)
    assert isinstance(caught.value, ZapiRateLimited)
    assert isinstance(caught.value, ZapiHTTPError)
    assert caught.value.endpoint == "status"
    assert caught.value.zapi_message == "slow down"


# -- the connected number: device, profile, two-step PIN, recovery e-mail --------------------


async def register(client: ZapiClient) -> None:
    """Connect DDI+PHONE on inst-a through the double's registration."""
    await check_and_request(client)
    assert (await client.confirm_code(INST_A, "123456")).success is True


async def test_device_of_the_connected_number(zapi: ZapiDouble, client: ZapiClient) -> None:
    await register(client)
    device = await client.device(INST_A)
    assert device == ConnectedDevice(phone=DDI + PHONE, name=None, about=None)
    assert await client.set_value(INST_A, "profile-name", "Ana Sales") is True
    assert await client.set_value(INST_A, "profile-description", "Sales team, 9 to 6") is True
    device = await client.device(INST_A)
    assert device == ConnectedDevice(DDI + PHONE, "Ana Sales", "Sales team, 9 to 6")
    assert [r.http_method for r in zapi.requests_to("device")] == ["GET", "GET"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "phone": "5544999999999",
                "name": "Ana",
                "about": "Hi",
                "imgUrl": "https://example.com/a.jpg",
                "isBusiness": False,
                "sessionId": 1,
                "originalDevice": "iphone",
                "device": {"sessionName": "Z-API", "device_model": "Z-API"},
            },
            ConnectedDevice("5544999999999", "Ana", "Hi"),
        ),
        ({"phone": 5544999999999}, ConnectedDevice("5544999999999", None, None)),
        ({"phone": " +5544999999999 "}, ConnectedDevice("5544999999999", None, None)),
        ({"phone": "55 44 99999-9999", "name": "  "}, ConnectedDevice(None, None, None)),
        ({"phone": True, "name": 7, "about": None}, ConnectedDevice(None, None, None)),
        ({}, ConnectedDevice(None, None, None)),
    ],
)
async def test_device_shapes(
    zapi: ZapiDouble, client: ZapiClient, body: dict[str, Any], expected: ConnectedDevice
) -> None:
    zapi.script("device", Reply(json=body))
    assert await client.device(INST_A) == expected


async def test_profile_name_and_description_are_put(zapi: ZapiDouble, client: ZapiClient) -> None:
    await register(client)
    assert await client.set_value(INST_A, "profile-name", "Ana Sales") is True
    assert await client.set_value(INST_A, "profile-description", "Sales team, 9 to 6") is True
    profile = zapi.profile("inst-a")
    assert (profile["name"], profile["about"]) == ("Ana Sales", "Sales team, 9 to 6")
    (name,) = zapi.requests_to("profile-name")
    assert (name.http_method, name.json) == ("PUT", {"value": "Ana Sales"})
    (about,) = zapi.requests_to("profile-description")
    assert (about.http_method, about.json) == ("PUT", {"value": "Sales team, 9 to 6"})


@pytest.mark.parametrize("path", ["profile-name", "profile-description"])
@pytest.mark.parametrize(
    ("body", "result"),
    [({"value": True}, True), ({"value": "true"}, True), ({"value": False}, False), ({}, False)],
)
async def test_profile_answers(
    zapi: ZapiDouble, client: ZapiClient, path: str, body: dict[str, Any], result: bool
) -> None:
    zapi.script(path, Reply(json=body))
    assert await call(path)(client) is result


async def test_an_empty_profile_name_is_refused_by_z_api(
    zapi: ZapiDouble, client: ZapiClient
) -> None:
    await register(client)
    with pytest.raises(ZapiRejected) as caught:
        await client.set_value(INST_A, "profile-name", "")
    assert caught.value.status_code == 400
    assert zapi.profile("inst-a")["name"] is None


async def test_two_step_pin_status_and_setting(zapi: ZapiDouble, client: ZapiClient) -> None:
    await register(client)
    assert await client.two_factor_status(INST_A) is False
    assert (await client.set_two_factor_code(INST_A, PIN)).success is True
    assert await client.two_factor_status(INST_A) is True
    assert zapi.profile("inst-a")["two_fa_code"] == PIN
    assert [(r.http_method, r.json) for r in zapi.requests_to("security/two-fa-code")] == [
        ("GET", None),
        ("POST", {"code": PIN}),
        ("GET", None),
    ]


@pytest.mark.parametrize(
    ("body", "has_code"),
    [({"success": True, "hasCode": True}, True), ({"success": True}, False), ({}, False)],
)
async def test_two_step_pin_status_shapes(
    zapi: ZapiDouble, client: ZapiClient, body: dict[str, Any], has_code: bool
) -> None:
    zapi.script("security/two-fa-code", Reply(json=body))
    assert await client.two_factor_status(INST_A) is has_code


async def test_recovery_e_mail_set_and_verified(zapi: ZapiDouble, client: ZapiClient) -> None:
    await register(client)
    assert await client.email_status(INST_A) == EmailStatus(False, None, False)
    assert (await client.set_email(INST_A, EMAIL)).success is True
    assert await client.email_status(INST_A) == EmailStatus(True, EMAIL, False)
    code = zapi.email_code("inst-a")
    assert code is not None
    wrong = "000000" if code != "000000" else "111111"
    assert (await client.verify_email(INST_A, wrong)).success is False
    assert (await client.verify_email(INST_A, code)).success is True
    assert await client.email_status(INST_A) == EmailStatus(True, EMAIL, True)
    assert zapi.requests_to("security/email")[1].json == {"email": EMAIL}
    assert zapi.requests_to("security/verify-email")[-1].json == {"verificationCode": code}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"success": True, "hasEmail": True, "email": EMAIL, "verified": True},
            EmailStatus(True, EMAIL, True),
        ),
        ({"hasEmail": "true", "verified": 0}, EmailStatus(True, None, False)),
        ({"email": EMAIL}, EmailStatus(True, EMAIL, False)),
        ({"hasEmail": False, "email": None}, EmailStatus(False, None, False)),
        ({}, EmailStatus(False, None, False)),
    ],
)
async def test_e_mail_status_shapes(
    zapi: ZapiDouble, client: ZapiClient, body: dict[str, Any], expected: EmailStatus
) -> None:
    zapi.script("security/email", Reply(json=body))
    assert await client.email_status(INST_A) == expected


async def test_seeded_pin_and_e_mail_are_read(zapi: ZapiDouble, client: ZapiClient) -> None:
    zapi.set_connected("inst-a")
    zapi.set_two_factor("inst-a", "111111")
    zapi.set_email("inst-a", EMAIL)
    assert await client.two_factor_status(INST_A) is True
    assert await client.email_status(INST_A) == EmailStatus(True, EMAIL, True)


async def test_verifying_with_no_e_mail_pending_is_refused(
    zapi: ZapiDouble, client: ZapiClient
) -> None:
    zapi.set_connected("inst-a")
    with pytest.raises(ZapiRejected) as caught:
        await client.verify_email(INST_A, EMAIL_CODE)
    assert caught.value.status_code == 400
    assert caught.value.zapi_message is None
    assert_clean(caught.value, EMAIL_CODE)


async def test_an_invalid_e_mail_is_refused_by_z_api(zapi: ZapiDouble, client: ZapiClient) -> None:
    zapi.set_connected("inst-a")
    with pytest.raises(ZapiRejected) as caught:
        await client.set_email(INST_A, "ana@")
    assert caught.value.status_code == 400
    assert caught.value.zapi_message is None
    assert zapi.profile("inst-a")["email"] is None


@pytest.mark.parametrize("key", CONNECTED_NUMBER)
async def test_not_connected_is_refused(zapi: ZapiDouble, client: ZapiClient, key: str) -> None:
    """Every connected-number call, on an instance holding no number: a 4xx, ZapiRejected."""
    with pytest.raises(ZapiRejected) as caught:
        await call(key)(client)
    error = caught.value
    assert (error.status_code, error.endpoint) == (400, path_of(key))
    assert error.retryable is False
    assert error.may_have_acted is False
    # Z-API's words are kept where nothing the member typed was sent.
    expected = None if key in MEMBER_TYPED else "You are not connected."
    assert error.zapi_message == expected
    assert_clean(error, PIN, EMAIL_CODE)
    assert zapi.profile("inst-a") == {
        "name": None,
        "about": None,
        "two_fa_code": None,
        "email": None,
        "email_verified": False,
    }


@pytest.mark.parametrize(
    "code",
    ["", "12345", "1234567", "12a456", "123-456", "123 456", " 482913", "482913\n", "٤٨٢٩١٣"],
    ids=["empty", "5", "7", "letter", "dash", "space", "lead", "newline", "arabic-indic"],
)
async def test_a_pin_not_of_6_ascii_digits_is_refused_before_sending(
    zapi: ZapiDouble, client: ZapiClient, code: str
) -> None:
    with pytest.raises(ValueError) as caught:  # noqa: PT011 - the class is the contract
        await client.set_two_factor_code(INST_A, code)
    assert zapi.requests == []
    if code.strip():
        assert code.strip() not in str(caught.value)
        assert code.strip() not in repr(caught.value)


@pytest.mark.parametrize(
    "code",
    ["", "12-34", "735 190", "abc123", "7" * 16, "٧٣٥١٩٠"],
    ids=["empty", "dash", "space", "letters", "16", "arabic-indic"],
)
async def test_an_e_mail_code_not_of_digits_is_refused_before_sending(
    zapi: ZapiDouble, client: ZapiClient, code: str
) -> None:
    with pytest.raises(ValueError) as caught:  # noqa: PT011 - the class is the contract
        await client.verify_email(INST_A, code)
    assert zapi.requests == []
    if code:
        assert code not in str(caught.value)


@pytest.mark.parametrize("status", [200, 400, 500])
@pytest.mark.parametrize(
    ("path", "act", "secret"),
    [
        ("security/two-fa-code", lambda c: c.set_two_factor_code(INST_A, PIN), PIN),
        ("security/verify-email", lambda c: c.verify_email(INST_A, EMAIL_CODE), EMAIL_CODE),
    ],
    ids=["pin", "e-mail-code"],
)
async def test_secrets_never_in_the_exception_or_the_log(
    zapi: ZapiDouble,
    client: ZapiClient,
    caplog: pytest.LogCaptureFixture,
    path: str,
    act: Call,
    secret: str,
    status: int,
) -> None:
    caplog.set_level(logging.DEBUG)
    zapi.script(
        path,
        Reply(status=status, json={"error": f"code {secret} refused", "message": secret}),
    )
    with pytest.raises(ZapiRejected if status < 500 else ZapiServerError) as caught:
        await act(client)
    error = caught.value
    assert error.zapi_message is None
    logging.getLogger("bot.test").warning("Z-API failed: %s %r", error, error, exc_info=error)
    assert_clean(error, secret)
    assert secret not in caplog.text


async def test_secrets_never_logged_on_success(
    zapi: ZapiDouble, client: ZapiClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    zapi.set_connected("inst-a")
    await client.set_two_factor_code(INST_A, PIN)
    await client.set_email(INST_A, EMAIL)
    code = zapi.email_code("inst-a")
    assert code is not None
    assert (await client.verify_email(INST_A, code)).success is True
    assert "security/verify-email" in caplog.text  # the calls are logged, their bodies not
    assert PIN not in caplog.text
    assert code not in caplog.text


async def test_values_put_are_masked_in_z_apis_words(zapi: ZapiDouble, client: ZapiClient) -> None:
    """PUT bodies are masked in Z-API's words as POST ones are. The public PUTs (profile) drop
    those words anyway, so a PUT the client does not wrap (yet) shows it."""
    hook = "https://hooks.example.com/zapi/connected"
    zapi.script(
        "update-webhook-connected",
        Reply(status=400, json={"error": f"value {hook} is not reachable"}),
    )
    with pytest.raises(ZapiRejected) as caught:
        await client._call(INST_A, "PUT", "update-webhook-connected", {"value": hook})
    assert caught.value.zapi_message == "value [redacted] is not reachable"
    (request,) = zapi.requests_to("update-webhook-connected")
    assert (request.http_method, request.json) == ("PUT", {"value": hook})

    name = "Ana Sales"
    zapi.script("profile-name", Reply(status=400, json={"error": f"name {name} taken"}))
    with pytest.raises(ZapiRejected) as caught:
        await client.set_value(INST_A, "profile-name", name)
    assert caught.value.zapi_message is None
    assert_clean(caught.value, name)


async def test_connected_number_calls_on_a_scripted_credential_refusal(
    zapi: ZapiDouble, client: ZapiClient
) -> None:
    zapi.script("device", Reply(status=400, json={"error": "your client-token is not configured"}))
    with pytest.raises(ZapiAuthError):
        await client.device(INST_A)
