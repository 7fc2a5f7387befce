"""Self-test of the Z-API double (tests/doubles/zapi.py), through a real HTTP client."""

from __future__ import annotations

import base64
import json
import struct
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.config import InstanceConfig
from bot.zapi import DeliveryMethod, ZapiClient, ZapiNetworkError, ZapiServerError, ZapiTimeout
from tests.doubles.zapi import CaptchaFormat, NumberProfile, Reply, SentCode, ZapiDouble

CLIENT_TOKEN = "ct-secret"
DDI, PHONE = "55", "4499999999"
NUMBER = {"ddi": DDI, "phone": PHONE}


@pytest.fixture
async def double() -> AsyncIterator[ZapiDouble]:
    async with ZapiDouble(
        client_token=CLIENT_TOKEN, instances={"inst1": "tok1", "inst2": "tok2"}
    ) as server:
        yield server


def http_client(
    base_url: str = "", *, client_token: str | None = CLIENT_TOKEN
) -> httpx.AsyncClient:
    headers = {"Client-Token": client_token} if client_token else {}
    # The double speaks plain HTTP: not loading the CA bundle saves ~50 ms per client.
    return httpx.AsyncClient(base_url=base_url, headers=headers, timeout=2.0, verify=False)  # noqa: S501


@pytest.fixture
async def client(double: ZapiDouble) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(double.instance_url("inst1")) as http:
        yield http


async def post(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> Any:
    response = await http.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def check_and_request(http: httpx.AsyncClient, method: str = "sms") -> Any:
    await post(http, "mobile/registration-available", NUMBER)
    return await post(http, "mobile/request-registration-code", {**NUMBER, "method": method})


async def test_happy_flow(double: ZapiDouble, client: httpx.AsyncClient) -> None:
    assert (await client.get("status")).json() == {
        "connected": False,
        "error": "You are not connected.",
        "smartphoneConnected": False,
    }
    assert await post(client, "mobile/registration-available", NUMBER) == {
        "available": True,
        "smsWaitSeconds": 0,
        "voiceWaitSeconds": 0,
        "waOldWaitSeconds": 0,
        "waOldEligible": True,
    }
    assert double.checked_number("inst1") == (DDI, PHONE)
    sent = await post(client, "mobile/request-registration-code", {**NUMBER, "method": "sms"})
    assert sent == {
        "success": True,
        "retryAfter": 0,
        "smsWaitSeconds": 0,
        "voiceWaitSeconds": 0,
        "waOldWaitSeconds": 0,
        "method": "sms",
    }
    assert await post(client, "mobile/confirm-registration-code", {"code": "123456"}) == {
        "success": True
    }
    assert double.connected("inst1")
    assert not double.connected("inst2")
    assert (await client.get("status")).json() == {
        "connected": True,
        "error": "You are already connected.",
        "smartphoneConnected": True,
    }

    (recorded,) = double.requests_to("mobile/request-registration-code")
    assert recorded.instance_id == "inst1"
    assert recorded.instance_token == "tok1"
    assert recorded.http_method == "POST"
    assert recorded.headers["client-token"] == CLIENT_TOKEN
    assert recorded.json == {**NUMBER, "method": "sms"}
    assert recorded.body.startswith(b"{")
    assert double.requests[0].path == "status"
    assert double.requests_to("/status", instance_id="inst2") == []


async def test_waits_grow_after_a_request_and_count_down(
    double: ZapiDouble, client: httpx.AsyncClient
) -> None:
    double.add_number(DDI, PHONE, NumberProfile(waits={"voice": 30}, after_request_wait=165))
    available = await post(client, "mobile/registration-available", NUMBER)
    assert available["voiceWaitSeconds"] == 30
    sent = await post(client, "mobile/request-registration-code", {**NUMBER, "method": "sms"})
    assert sent["success"] is True
    assert (sent["retryAfter"], sent["smsWaitSeconds"], sent["voiceWaitSeconds"]) == (165, 165, 30)

    again = await post(client, "mobile/request-registration-code", {**NUMBER, "method": "sms"})
    assert again["success"] is False
    assert again["retryAfter"] == 165

    double.advance(100)
    waits = await post(client, "mobile/registration-available", NUMBER)
    assert (waits["smsWaitSeconds"], waits["voiceWaitSeconds"]) == (65, 0)


async def test_blocked_method_and_wa_old_eligibility(
    double: ZapiDouble, client: httpx.AsyncClient
) -> None:
    double.add_number(DDI, PHONE, NumberProfile(waits={"voice": -1}, wa_old_eligible=False))
    available = await post(client, "mobile/registration-available", NUMBER)
    assert (available["voiceWaitSeconds"], available["waOldEligible"]) == (-1, False)
    voice = await post(client, "mobile/request-registration-code", {**NUMBER, "method": "voice"})
    assert voice["success"] is False
    assert voice["reason"] == "no_routes"
    wa_old = await post(client, "mobile/request-registration-code", {**NUMBER, "method": "wa_old"})
    assert wa_old["success"] is False
    assert "reason" in wa_old


async def test_retry_after_as_string(double: ZapiDouble, client: httpx.AsyncClient) -> None:
    double.add_number(DDI, PHONE, NumberProfile(after_request_wait=60, retry_after_as_string=True))
    assert (await check_and_request(client))["retryAfter"] == "60"


async def test_client_token_checks(double: ZapiDouble, client: httpx.AsyncClient) -> None:
    url = "mobile/registration-available"
    missing = await client.post(url, json=NUMBER, headers={"Client-Token": ""})
    assert (missing.status_code, missing.json()) == (400, {"error": "null not allowed"})
    async with http_client(double.instance_url("inst1"), client_token=None) as bare:
        missing = await bare.post(url, json=NUMBER)
    assert (missing.status_code, missing.json()) == (400, {"error": "null not allowed"})
    wrong = await client.post(url, json=NUMBER, headers={"Client-Token": "nope"})
    assert wrong.status_code == 403
    assert "error" in wrong.json()
    assert len(double.requests_to(url)) == 3
    assert double.checked_number("inst1") is None


async def test_instance_and_token_checks(double: ZapiDouble, client: httpx.AsyncClient) -> None:
    unknown = await client.get(f"{double.base_url}/instances/nope/token/tok1/status")
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Instance not found"})
    wrong = await client.get(f"{double.base_url}/instances/inst1/token/tok2/status")
    assert (wrong.status_code, wrong.json()) == (401, {"error": "Invalid token"})


async def test_no_client_token_configured(double: ZapiDouble) -> None:
    double.client_token = None
    async with http_client(double.instance_url("inst2"), client_token=None) as bare:
        assert (await bare.get("status")).status_code == 200


async def test_content_type_and_method_checks(
    double: ZapiDouble, client: httpx.AsyncClient
) -> None:
    url = "mobile/registration-available"
    no_type = await client.post(url, content=b'{"ddi": "55", "phone": "4499999999"}')
    assert no_type.status_code == 415
    wrong_type = await client.post(url, data={"ddi": "55", "phone": "4499999999"})
    assert wrong_type.status_code == 415
    with_charset = await client.post(
        url,
        content=b'{"ddi": "55", "phone": "4499999999"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert with_charset.status_code == 200
    assert (await client.get(url)).status_code == 405
    assert (await client.post("status", json={})).status_code == 405
    assert (await client.post("mobile/device-transfer-confirmed", json={})).status_code == 405
    recovery = await client.post("mobile/recovery-pin-code")
    assert (recovery.status_code, recovery.json()) == (200, {"success": False})
    assert double.requests_to(url)[2].json == NUMBER


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"ddi": "55"}',
        b'{"ddi": 55, "phone": "4499999999"}',
        b'{"ddi": "+55", "phone": "4499999999"}',
    ],
)
async def test_malformed_bodies(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post(
        "mobile/registration-available",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "error" in response.json()


async def test_unknown_method_value(client: httpx.AsyncClient) -> None:
    await post(client, "mobile/registration-available", NUMBER)
    response = await client.post(
        "mobile/request-registration-code", json={**NUMBER, "method": "carrier-pigeon"}
    )
    assert response.status_code == 400


async def test_unknown_path_answers_200_with_error(
    double: ZapiDouble, client: httpx.AsyncClient
) -> None:
    expected = {"error": "NOT_FOUND", "message": "Unable to find matching target resource method"}
    for response in (
        await client.post("mobile/registration-availabel", json=NUMBER),
        await client.get("mobile/status"),
        await client.get("status/"),
        await client.get(f"{double.base_url}/somewhere/else"),
    ):
        assert (response.status_code, response.json()) == (200, expected)
    assert double.requests_to("somewhere/else")[0].instance_id is None


async def test_request_code_needs_the_checked_number(
    double: ZapiDouble, client: httpx.AsyncClient
) -> None:
    unchecked = await client.post(
        "mobile/request-registration-code", json={**NUMBER, "method": "sms"}
    )
    assert unchecked.status_code == 400
    assert "error" in unchecked.json()
    await post(client, "mobile/registration-available", NUMBER)
    other = await client.post(
        "mobile/request-registration-code",
        json={"ddi": DDI, "phone": "4488888888", "method": "sms"},
    )
    assert other.status_code == 400
    assert "error" in other.json()
    async with http_client(double.instance_url("inst2")) as inst2:
        elsewhere = await inst2.post(
            "mobile/request-registration-code", json={**NUMBER, "method": "sms"}
        )
    assert elsewhere.status_code == 400


async def test_confirm_before_request_and_wrong_code(client: httpx.AsyncClient) -> None:
    assert await post(client, "mobile/confirm-registration-code", {"code": "123456"}) == {
        "success": False
    }
    await check_and_request(client)
    assert await post(client, "mobile/confirm-registration-code", {"code": "123-456"}) == {
        "success": False
    }
    assert await post(client, "mobile/confirm-registration-code", {"code": "123456"}) == {
        "success": True
    }


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        payload = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + payload)
        chunks.append((kind, payload))
        offset += 12 + length
    return chunks


def test_captcha_png_is_a_valid_png() -> None:
    chunks = png_chunks(ZapiDouble.CAPTCHA_PNG)
    assert [kind for kind, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    width, height, depth, colour, *_ = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour) == (8, 0)
    assert len(zlib.decompress(chunks[1][1])) == height * (width + 1)


@pytest.mark.parametrize("captcha_format", ["data_uri", "base64", "garbage"])
async def test_captcha_flow(
    double: ZapiDouble, client: httpx.AsyncClient, captcha_format: CaptchaFormat
) -> None:
    double.add_number(DDI, PHONE, NumberProfile(captcha="x7k2", captcha_format=captcha_format))
    first = await check_and_request(client)
    assert first["success"] is False
    image: str = first["captcha"]
    if captcha_format == "data_uri":
        assert image.startswith("data:image/png;base64,")
        assert base64.b64decode(image.split(",", 1)[1]) == ZapiDouble.CAPTCHA_PNG
    elif captcha_format == "base64":
        assert base64.b64decode(image, validate=True) == ZapiDouble.CAPTCHA_PNG
    else:
        assert not base64.b64decode(image, validate=True).startswith(b"\x89PNG")

    assert await post(client, "mobile/confirm-registration-code", {"code": "123456"}) == {
        "success": False
    }
    assert await post(client, "mobile/respond-captcha", {"captcha": "wrong"}) == {"success": False}
    assert await post(client, "mobile/respond-captcha", {"captcha": "x7k2"}) == {"success": True}
    assert await post(client, "mobile/confirm-registration-code", {"code": "123456"}) == {
        "success": True
    }
    assert double.connected("inst1")


async def test_pin_then_device_transfer(double: ZapiDouble, client: httpx.AsyncClient) -> None:
    double.add_number(DDI, PHONE, NumberProfile(code="654321", pin="1111", device_confirm=True))
    await check_and_request(client, "voice")
    assert await post(client, "mobile/confirm-registration-code", {"code": "654321"}) == {
        "success": False,
        "confirmSecurityCode": True,
    }
    assert await post(client, "mobile/recovery-pin-code", {}) == {"success": True}
    assert await post(client, "mobile/confirm-pin-code", {"code": "0000"}) == {"success": False}
    assert await post(client, "mobile/confirm-pin-code", {"code": "1111"}) == {
        "success": False,
        "deviceConfirm": True,
    }
    assert (await client.get("mobile/device-transfer-confirmed")).status_code == 400
    assert not double.connected("inst1")
    double.accept_device_transfer("inst1")
    confirmed = await client.get("mobile/device-transfer-confirmed")
    assert (confirmed.status_code, confirmed.json()) == (200, {"success": True})
    assert double.connected("inst1")


async def test_banned_and_appeal(double: ZapiDouble, client: httpx.AsyncClient) -> None:
    double.add_number(DDI, PHONE, NumberProfile(banned=True, unban_status="UNBANNED"))
    banned = await post(client, "mobile/registration-available", NUMBER)
    assert banned["available"] is False
    assert banned["blocked"] is True
    token = banned["appealToken"]
    assert token == double.appeal_token(DDI, PHONE)
    assert len(token) == 200
    blocked = await post(client, "mobile/request-registration-code", {**NUMBER, "method": "sms"})
    assert blocked == {"success": False, "blocked": True}

    bad = await client.post(
        "mobile/request-unbanning", json={"appealToken": "nope", "description": "mine"}
    )
    assert bad.status_code == 400
    appeal = {"appealToken": token, "description": "It is my number."}
    assert await post(client, "mobile/request-unbanning", appeal) == {
        "success": True,
        "status": "UNBANNED",
    }
    assert (await check_and_request(client))["success"] is True


async def test_hidden_ban_and_unavailable(double: ZapiDouble, client: httpx.AsyncClient) -> None:
    double.add_number(DDI, PHONE, NumberProfile(hidden_ban=True))
    available = await post(client, "mobile/registration-available", NUMBER)
    assert available["available"] is True
    assert await post(client, "mobile/request-registration-code", {**NUMBER, "method": "sms"}) == {
        "success": False,
        "blocked": True,
    }
    double.add_number(DDI, PHONE, NumberProfile(unavailable=True, reason="temporarily_unavailable"))
    assert await post(client, "mobile/registration-available", NUMBER) == {
        "available": False,
        "blocked": False,
        "reason": "temporarily_unavailable",
    }


async def test_scripted_500_then_simulator(double: ZapiDouble, client: httpx.AsyncClient) -> None:
    double.script(
        "mobile/registration-available",
        Reply(status=500, body=b"<html>Internal error</html>", content_type="text/html"),
        Reply(json={"error": "your client-token is not configured"}, status=400),
        instance_id="inst1",
    )
    first = await client.post("mobile/registration-available", json=NUMBER)
    assert (first.status_code, first.text) == (500, "<html>Internal error</html>")
    assert first.headers["content-type"].startswith("text/html")
    second = await client.post("mobile/registration-available", json=NUMBER)
    assert second.status_code == 400
    third = await client.post("mobile/registration-available", json=NUMBER)
    assert third.json()["available"] is True
    assert len(double.requests_to("mobile/registration-available", "inst1")) == 3


async def test_script_for_other_instance_or_unknown_path(
    double: ZapiDouble, client: httpx.AsyncClient
) -> None:
    double.script("status", Reply(status=503), instance_id="inst2")
    double.script("contacts", Reply(json={"success": True, "hasCode": True}))
    assert (await client.get("status")).status_code == 200
    assert (await client.get("contacts")).json() == {"success": True, "hasCode": True}
    # Requests the double rejects do not consume scripts.
    double.script("status", Reply(status=502))
    assert (await client.get("status", headers={"Client-Token": "bad"})).status_code == 403
    assert (await client.get("status")).status_code == 502


async def test_delayed_reply(double: ZapiDouble, client: httpx.AsyncClient) -> None:
    double.script("status", Reply(json={"connected": False}, delay=0.3))
    started = time.monotonic()
    response = await client.get("status")
    assert time.monotonic() - started >= 0.3
    assert response.json() == {"connected": False}


async def test_client_giving_up_on_a_hang(double: ZapiDouble, client: httpx.AsyncClient) -> None:
    await post(client, "mobile/registration-available", NUMBER)
    double.hang("mobile/request-registration-code", simulate=True)
    with pytest.raises(httpx.ReadTimeout):
        await client.post(
            "mobile/request-registration-code", json={**NUMBER, "method": "sms"}, timeout=0.2
        )
    # The code went out although the client never saw the answer.
    assert await post(client, "mobile/confirm-registration-code", {"code": "123456"}) == {
        "success": True
    }
    double.hang("status")
    with pytest.raises(httpx.ReadTimeout):
        await client.get("status", timeout=0.1)
    started = time.monotonic()
    await double.stop()
    assert time.monotonic() - started < 1.5


async def test_set_delay(double: ZapiDouble, client: httpx.AsyncClient) -> None:
    double.set_delay(0.2)
    started = time.monotonic()
    assert (await client.get("status")).status_code == 200
    assert time.monotonic() - started >= 0.2
    double.set_delay(0)


async def test_start_stop_and_free_ports() -> None:
    first = ZapiDouble()
    second = ZapiDouble()
    await first.start()
    await second.start()
    try:
        assert first.base_url != second.base_url
        assert first.base_url.startswith("http://127.0.0.1:")
        async with http_client(client_token="client-token") as http:
            response = await http.get(first.instance_url("instance") + "status")
        assert response.json()["connected"] is False
    finally:
        await first.stop()
        await second.stop()
    await first.stop()
    with pytest.raises(httpx.ConnectError):
        async with http_client() as http:
            await http.get(first.base_url)


# -- faults: dropped connections, 5xx, counting ---------------------------------------------


async def test_drop_after_acting_sends_the_code_without_answering(
    double: ZapiDouble, client: httpx.AsyncClient
) -> None:
    await post(client, "mobile/registration-available", NUMBER)
    double.drop_after_acting("mobile/request-registration-code")
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("mobile/request-registration-code", json={**NUMBER, "method": "sms"})
    # Z-API did the work: the code went out, the registration waits for it.
    assert double.registration_stage("inst1") == "code_sent"
    assert double.sent_codes == [SentCode("inst1", DDI, PHONE, "sms")]
    assert double.codes_sent_to(DDI, PHONE) == double.sent_codes
    assert len(double.requests_to("mobile/request-registration-code")) == 1
    # The connection is gone, not the server: the next call is answered on a new one.
    assert await post(client, "mobile/confirm-registration-code", {"code": "123456"}) == {
        "success": True
    }
    assert double.registration_stage("inst1") == "idle"
    assert double.connected("inst1")


async def test_drop_with_reset_and_delay(double: ZapiDouble, client: httpx.AsyncClient) -> None:
    await post(client, "mobile/registration-available", NUMBER)
    double.drop_after_acting(
        "mobile/request-registration-code", instance_id="inst1", reset=True, delay=0.2
    )
    started = time.monotonic()
    with pytest.raises(httpx.ReadError):
        await client.post("mobile/request-registration-code", json={**NUMBER, "method": "voice"})
    assert time.monotonic() - started >= 0.2
    assert double.sent_codes == [SentCode("inst1", DDI, PHONE, "voice")]


async def test_drop_without_simulate_does_nothing(
    double: ZapiDouble, client: httpx.AsyncClient
) -> None:
    await post(client, "mobile/registration-available", NUMBER)
    double.script("mobile/request-registration-code", Reply(drop_connection=True))
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("mobile/request-registration-code", json={**NUMBER, "method": "sms"})
    assert double.registration_stage("inst1") == "idle"
    assert double.sent_codes == []
    # Requests the double rejects do not consume the drop.
    double.script("status", Reply(drop_connection=True))
    assert (await client.get("status", headers={"Client-Token": "bad"})).status_code == 403
    with pytest.raises(httpx.RemoteProtocolError):
        await client.get("status")
    assert len(double.requests_to("status")) == 2


def test_reset_needs_drop_connection() -> None:
    with pytest.raises(ValueError, match="drop_connection"):
        Reply(reset=True)


async def test_zapi_client_sees_a_dropped_connection_as_sent(double: ZapiDouble) -> None:
    instance = InstanceConfig(name="inst1", instance_id="inst1", token=SecretStr("tok1"))
    async with ZapiClient(double.base_url, SecretStr(CLIENT_TOKEN), timeout=2.0) as zapi:
        await zapi.registration_available(instance, DDI, PHONE)
        double.drop_after_acting("mobile/request-registration-code")
        started = time.monotonic()
        with pytest.raises(ZapiNetworkError) as caught:
            await zapi.request_code(instance, DDI, PHONE, DeliveryMethod.SMS)
        assert time.monotonic() - started < 1.0  # a transport error, not a timeout
        assert caught.value.request_sent is True
        assert caught.value.may_have_acted is True
        # Never retried: one request, one code.
        assert len(double.requests_to("mobile/request-registration-code")) == 1
        assert double.codes_sent_to(DDI, PHONE) == [SentCode("inst1", DDI, PHONE, "sms")]
        assert double.registration_stage("inst1") == "code_sent"
        assert (await zapi.confirm_code(instance, "123456")).success is True


async def test_zapi_client_sees_a_hang_as_its_timeout_and_5xx_as_server_error(
    double: ZapiDouble,
) -> None:
    instance = InstanceConfig(name="inst1", instance_id="inst1", token=SecretStr("tok1"))
    async with ZapiClient(double.base_url, SecretStr(CLIENT_TOKEN), timeout=0.3) as zapi:
        await zapi.registration_available(instance, DDI, PHONE)
        double.hang("mobile/request-registration-code", simulate=True)
        with pytest.raises(ZapiTimeout) as timed_out:
            await zapi.request_code(instance, DDI, PHONE, DeliveryMethod.SMS)
        assert timed_out.value.request_sent is True
        assert double.registration_stage("inst1") == "code_sent"

        double.script(
            "mobile/confirm-registration-code",
            Reply(status=502, body=b"<html>Bad Gateway</html>", content_type="text/html"),
            Reply(status=503, json={"error": "Service Unavailable"}),
        )
        for status in (502, 503):
            with pytest.raises(ZapiServerError) as failed:
                await zapi.confirm_code(instance, "123456")
            assert failed.value.status_code == status
        assert len(double.requests_to("mobile/confirm-registration-code", "inst1")) == 2
        assert double.registration_stage("inst1") == "code_sent"  # a scripted 5xx did nothing
        assert (await zapi.confirm_code(instance, "123456")).success is True


# -- the connected number: device, profile, two-step PIN, recovery e-mail --------------------

NOT_CONNECTED = {"error": "You are not connected."}
NO_PROFILE = {
    "name": None,
    "about": None,
    "two_fa_code": None,
    "email": None,
    "email_verified": False,
}
# Every connected-number call: HTTP method, path, a valid body.
CONNECTED_NUMBER: list[tuple[str, str, dict[str, str] | None]] = [
    ("GET", "device", None),
    ("PUT", "profile-name", {"value": "Ana Sales"}),
    ("PUT", "profile-description", {"value": "Sales team"}),
    ("GET", "security/two-fa-code", None),
    ("POST", "security/two-fa-code", {"code": "482913"}),
    ("POST", "security/two-fa-code/remove", None),
    ("GET", "security/email", None),
    ("POST", "security/email", {"email": "ana@example.com"}),
    ("POST", "security/verify-email", {"verificationCode": "123456"}),
    ("POST", "security/email/remove", None),
]


async def register(http: httpx.AsyncClient) -> None:
    await check_and_request(http)
    assert await post(http, "mobile/confirm-registration-code", {"code": "123456"}) == {
        "success": True
    }


async def put(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> Any:
    response = await http.put(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def get(http: httpx.AsyncClient, path: str) -> Any:
    response = await http.get(path)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(("method", "path", "body"), CONNECTED_NUMBER)
async def test_connected_number_calls_refused_while_not_connected(
    double: ZapiDouble,
    client: httpx.AsyncClient,
    method: str,
    path: str,
    body: dict[str, str] | None,
) -> None:
    response = await client.request(method, path, json=body)
    assert (response.status_code, response.json()) == (400, NOT_CONNECTED)
    assert double.profile("inst1") == NO_PROFILE
    assert double.email_code("inst1") is None
    (recorded,) = double.requests_to(path)
    assert (recorded.http_method, recorded.json) == (method, body)


@pytest.mark.parametrize(("method", "path", "body"), CONNECTED_NUMBER)
async def test_connected_number_calls_check_method_and_client_token(
    double: ZapiDouble,
    client: httpx.AsyncClient,
    method: str,
    path: str,
    body: dict[str, str] | None,
) -> None:
    double.set_connected("inst1")
    wrong_method = "DELETE"
    assert (await client.request(wrong_method, path, json=body)).status_code == 405
    refused = await client.request(method, path, json=body, headers={"Client-Token": "bad"})
    assert refused.status_code == 403
    if body is not None:
        no_type = await client.request(method, path, content=json.dumps(body).encode())
        assert no_type.status_code == 415
    assert double.profile("inst1") == NO_PROFILE


async def test_device_after_a_registration(double: ZapiDouble, client: httpx.AsyncClient) -> None:
    await register(client)
    assert await get(client, "device") == {
        "phone": DDI + PHONE,
        "name": None,
        "about": None,
        "imgUrl": None,
        "isBusiness": False,
        "originalDevice": "android",
        "sessionId": 1,
        "device": {"sessionName": "Z-API", "device_model": "Z-API"},
    }
    assert (await client.post("device", json={})).status_code == 405
    async with http_client(double.instance_url("inst2")) as inst2:
        other = await inst2.get("device")
    assert (other.status_code, other.json()) == (400, NOT_CONNECTED)


async def test_device_of_an_instance_connected_by_the_test(
    double: ZapiDouble, client: httpx.AsyncClient
) -> None:
    double.set_connected("inst1")
    assert (await get(client, "device"))["phone"] is None
    await post(client, "mobile/registration-available", NUMBER)
    assert (await get(client, "device"))["phone"] == DDI + PHONE
    double.set_connected("inst1", False)
    response = await client.get("device")
    assert (response.status_code, response.json()) == (400, NOT_CONNECTED)


async def test_profile_name_and_description(double: ZapiDouble, client: httpx.AsyncClient) -> None:
    await register(client)
    assert await put(client, "profile-name", {"value": "Ana Sales"}) == {"value": True}
    assert await put(client, "profile-description", {"value": "Sales, 9 to 6"}) == {"value": True}
    device = await get(client, "device")
    assert (device["name"], device["about"]) == ("Ana Sales", "Sales, 9 to 6")
    profile = double.profile("inst1")
    assert (profile["name"], profile["about"]) == ("Ana Sales", "Sales, 9 to 6")
    assert double.requests_to("profile-name")[0].http_method == "PUT"
    assert (await client.post("profile-name", json={"value": "x"})).status_code == 405


@pytest.mark.parametrize("path", ["profile-name", "profile-description"])
@pytest.mark.parametrize(
    "body",
    [b"{}", b'{"value": ""}', b'{"value": "   "}', b'{"value": 7}', b"not json", b'["x"]'],
)
async def test_profile_text_refused_when_missing_or_empty(
    double: ZapiDouble, client: httpx.AsyncClient, path: str, body: bytes
) -> None:
    double.set_connected("inst1")
    response = await client.put(path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "error" in response.json()
    assert double.profile("inst1") == NO_PROFILE


async def test_two_step_pin(double: ZapiDouble, client: httpx.AsyncClient) -> None:
    await register(client)
    assert await get(client, "security/two-fa-code") == {"success": True, "hasCode": False}
    assert await post(client, "security/two-fa-code", {"code": "482913"}) == {"success": True}
    assert await get(client, "security/two-fa-code") == {"success": True, "hasCode": True}
    assert double.profile("inst1")["two_fa_code"] == "482913"
    assert await post(client, "security/two-fa-code", {"code": "111111"}) == {"success": True}
    assert double.profile("inst1")["two_fa_code"] == "111111"
    removed = await client.post("security/two-fa-code/remove")
    assert (removed.status_code, removed.json()) == (200, {"success": True})
    assert await get(client, "security/two-fa-code") == {"success": True, "hasCode": False}
    assert double.profile("inst1")["two_fa_code"] is None
    assert await post(client, "security/two-fa-code/remove", {}) == {"success": True}


@pytest.mark.parametrize(
    "body",
    [
        {"code": "12345"},
        {"code": "1234567"},
        {"code": "12a456"},
        {"code": "123 456"},
        {"code": "٤٨٢٩١٣"},
        {"code": 482913},
        {},
        {"pin": "482913"},
    ],
)
async def test_two_step_pin_not_of_6_digits(
    double: ZapiDouble, client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    double.set_connected("inst1")
    response = await client.post("security/two-fa-code", json=body)
    assert response.status_code == 400
    assert "error" in response.json()
    assert double.profile("inst1")["two_fa_code"] is None


async def test_recovery_e_mail(double: ZapiDouble, client: httpx.AsyncClient) -> None:
    await register(client)
    empty = {"success": True, "hasEmail": False, "email": None, "verified": False}
    assert await get(client, "security/email") == empty
    no_pending = await client.post("security/verify-email", json={"verificationCode": "123456"})
    assert no_pending.status_code == 400
    assert "error" in no_pending.json()

    sent = await post(client, "security/email", {"email": "ana@example.com"})
    assert sent == {"success": True, "message": "VERIFY_EMAIL"}
    code = double.email_code("inst1")
    assert code is not None
    assert len(code) == 6 and code.isascii() and code.isdigit()
    assert await get(client, "security/email") == {
        "success": True,
        "hasEmail": True,
        "email": "ana@example.com",
        "verified": False,
    }
    wrong = "000000" if code != "000000" else "111111"
    assert await post(client, "security/verify-email", {"verificationCode": wrong}) == {
        "success": False
    }
    assert double.email_code("inst1") == code  # a wrong code keeps the pending one
    assert await post(client, "security/verify-email", {"verificationCode": code}) == {
        "success": True
    }
    assert double.email_code("inst1") is None
    assert (await get(client, "security/email"))["verified"] is True
    assert double.profile("inst1")["email"] == "ana@example.com"
    assert double.profile("inst1")["email_verified"] is True
    again = await client.post("security/verify-email", json={"verificationCode": code})
    assert again.status_code == 400

    removed = await post(client, "security/email/remove", {})
    assert removed == {"success": True, "message": "REMOVED"}
    assert await get(client, "security/email") == empty
    assert double.profile("inst1")["email_verified"] is False


async def test_each_mailed_code_is_new_and_deterministic(
    double: ZapiDouble, client: httpx.AsyncClient
) -> None:
    codes = []
    for _ in range(3):
        async with ZapiDouble(client_token=CLIENT_TOKEN, instances={"inst1": "tok1"}) as fresh:
            fresh.set_connected("inst1")
            async with http_client(fresh.instance_url("inst1")) as http:
                await post(http, "security/email", {"email": "ana@example.com"})
                first = fresh.email_code("inst1")
                await post(http, "security/email", {"email": "ana@example.com"})
                codes.append((first, fresh.email_code("inst1")))
    assert codes[0] == codes[1] == codes[2]
    first, second = codes[0]
    assert first != second  # asking again mails a new code; the old one no longer works
    double.set_connected("inst1")
    await post(client, "security/email", {"email": "ana@example.com"})
    await post(client, "security/email", {"email": "ana@example.com"})
    assert await post(client, "security/verify-email", {"verificationCode": first}) == {
        "success": False
    }
    assert await post(client, "security/verify-email", {"verificationCode": second}) == {
        "success": True
    }


@pytest.mark.parametrize(
    "email", ["ana", "ana@", "@example.com", "ana@example", "ana @example.com", "a@b@c.com", ""]
)
async def test_invalid_e_mail_refused(
    double: ZapiDouble, client: httpx.AsyncClient, email: str
) -> None:
    double.set_connected("inst1")
    response = await client.post("security/email", json={"email": email})
    assert response.status_code == 400
    assert "error" in response.json()
    assert double.profile("inst1")["email"] is None
    assert double.email_code("inst1") is None


async def test_seeding_the_pin_and_the_e_mail(
    double: ZapiDouble, client: httpx.AsyncClient
) -> None:
    double.set_two_factor("inst1", "111111")
    double.set_email("inst1", "ana@example.com")
    double.set_connected("inst1")
    assert await get(client, "security/two-fa-code") == {"success": True, "hasCode": True}
    assert await get(client, "security/email") == {
        "success": True,
        "hasEmail": True,
        "email": "ana@example.com",
        "verified": True,
    }
    double.set_email("inst1", "bruno@example.com", verified=False)
    assert (await get(client, "security/email"))["verified"] is False
    assert double.email_code("inst1") is None
    double.set_two_factor("inst1", None)
    double.set_email("inst1", None)
    assert double.profile("inst1") == NO_PROFILE
    assert (await get(client, "security/two-fa-code"))["hasCode"] is False


async def test_a_new_connection_starts_afresh(
    double: ZapiDouble, client: httpx.AsyncClient
) -> None:
    await register(client)
    await put(client, "profile-name", {"value": "Ana Sales"})
    await put(client, "profile-description", {"value": "Sales"})
    await post(client, "security/two-fa-code", {"code": "482913"})
    await post(client, "security/email", {"email": "ana@example.com"})
    assert double.profile("inst1")["name"] == "Ana Sales"

    other = {"ddi": DDI, "phone": "4488888888"}
    await post(client, "mobile/registration-available", other)
    await post(client, "mobile/request-registration-code", {**other, "method": "sms"})
    assert double.profile("inst1")["two_fa_code"] == "482913"  # not connected yet: kept
    await post(client, "mobile/confirm-registration-code", {"code": "123456"})
    assert double.profile("inst1") == NO_PROFILE
    assert double.email_code("inst1") is None
    device = await get(client, "device")
    assert (device["phone"], device["name"], device["about"]) == (DDI + "4488888888", None, None)


async def test_faults_on_the_connected_number_paths(
    double: ZapiDouble, client: httpx.AsyncClient
) -> None:
    # A scripted reply wins over the not-connected refusal, as elsewhere.
    double.script("device", Reply(json={"phone": "5511911112222"}))
    assert await get(client, "device") == {"phone": "5511911112222"}

    double.set_connected("inst1")
    double.drop_after_acting("security/email")
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("security/email", json={"email": "ana@example.com"})
    assert double.email_code("inst1") is not None  # mailed, the answer lost
    assert double.profile("inst1")["email"] == "ana@example.com"

    double.hang("profile-name", simulate=True)
    with pytest.raises(httpx.ReadTimeout):
        await client.put("profile-name", json={"value": "Ana Sales"}, timeout=0.2)
    assert double.profile("inst1")["name"] == "Ana Sales"

    double.hang("security/two-fa-code")
    with pytest.raises(httpx.ReadTimeout):
        await client.post("security/two-fa-code", json={"code": "482913"}, timeout=0.2)
    assert double.profile("inst1")["two_fa_code"] is None  # without simulate nothing happened

    double.script("security/verify-email", Reply(status=500, json={"error": "boom"}))
    failed = await client.post("security/verify-email", json={"verificationCode": "000000"})
    assert failed.status_code == 500
    assert [r.http_method for r in double.requests_to("security/two-fa-code", "inst1")] == ["POST"]
    assert len(double.requests_to("security/email")) == 1
    assert double.requests_to("profile-name", instance_id="inst2") == []
