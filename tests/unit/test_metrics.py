"""What bot/metrics.py makes of what it is told: bounded labels, buckets, results."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from bot.config import InstanceConfig
from bot.domain.record import FlowRecord
from bot.metrics import Histogram, Metrics, bot_api_error, zapi_result
from bot.zapi import (
    ZapiAuthError,
    ZapiBadResponse,
    ZapiNetworkError,
    ZapiRateLimited,
    ZapiRejected,
    ZapiServerError,
    ZapiTimeout,
)

TOKEN = "123456:TEST-bot-token-ABCDEFGHIJKLMNOP"
INSTANCE = InstanceConfig(name="inst-a", instance_id="i-a", token=SecretStr("tok-a"))


def http(kind: type[ZapiRejected | ZapiAuthError | ZapiRateLimited | ZapiServerError]) -> object:
    return kind("refused", endpoint="status", status_code=400, zapi_message=None)


@pytest.mark.parametrize(
    ("error", "result"),
    [
        (None, "ok"),
        (ZapiTimeout("late", endpoint="status", request_sent=True), "timeout"),
        (ZapiNetworkError("reset", endpoint="status", request_sent=True), "network"),
        (http(ZapiAuthError), "auth"),
        (http(ZapiRateLimited), "rate_limited"),
        (http(ZapiServerError), "server_error"),
        (http(ZapiRejected), "rejected"),
        (ZapiBadResponse("not JSON", endpoint="status"), "bad_response"),
        (RuntimeError("a bug"), "error"),
    ],
)
def test_a_zapi_call_is_counted_by_its_exception_family(error: Exception, result: str) -> None:
    assert zapi_result(error) == result


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (400, "bad_request"),
        (403, "forbidden"),
        (429, "rate_limited"),
        (502, "server_error"),
        (418, "http_error"),
        ("timeout", "timeout"),
    ],
)
def test_a_bot_api_failure_is_named_by_its_status(answer: int | str, error: str) -> None:
    assert bot_api_error(answer) == error


def test_only_the_method_of_a_bot_api_url_is_kept() -> None:
    metrics = Metrics(("inst-a",))
    metrics.bot_api_answered(f"https://api.telegram.org/bot{TOKEN}/sendMessage", 200)
    metrics.bot_api_answered(f"https://api.telegram.org/bot{TOKEN}/sendMessage", 403)
    metrics.bot_api_answered(f"https://api.telegram.org/bot{TOKEN}", "network")
    metrics.bot_api_answered(f"https://api.telegram.org/bot{TOKEN}/file/a1234", 200)
    assert metrics.bot_api_calls == {"sendMessage": 2, "other": 2}
    assert metrics.bot_api_errors == {("sendMessage", "forbidden"): 1, ("other", "network"): 1}


def test_endpoints_and_instances_outside_the_known_shapes_are_other() -> None:
    metrics = Metrics(("inst-a",))
    metrics.zapi_call_ended("inst-a", "mobile/confirm-pin-code", "ok", 0.2)
    metrics.zapi_call_ended("elsewhere", "instances/abc/token/SECRET", "ok", 0.2)
    assert metrics.zapi_calls == {
        ("inst-a", "mobile/confirm-pin-code", "ok"): 1,
        ("other", "other", "ok"): 1,
    }


def test_a_histogram_counts_each_value_in_the_first_bucket_that_holds_it() -> None:
    histogram = Histogram((0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 1.0, 7.0):
        histogram.observe(value)
    assert histogram.counts == [2, 2, 1]
    assert histogram.sum == pytest.approx(8.65)


def test_a_flow_ending_is_counted_in_bounded_words() -> None:
    metrics = Metrics(("inst-a",))
    reg = FlowRecord(chat_id=7714250093, user_id=7714250093, flow_id="f", step="code")
    metrics.flow_ended(reg.copy(method="voice"), "register", "connected")
    metrics.flow_ended(reg, "appeal", "in_review")
    metrics.flow_ended(reg.copy(step="two_fa"), "setup", "done")
    metrics.flow_ended(reg.copy(method="carrier pigeon"), "lease", "lost")
    metrics.flow_ended(reg, "something", "new")
    assert metrics.finished == {
        ("registration", "connected", "voice"): 1,
        ("registration", "appealed", "none"): 1,
        ("setup", "done", "none"): 1,
        ("registration", "lease_lost", "none"): 1,
        ("registration", "other", "none"): 1,
    }


async def test_a_cancelled_zapi_call_is_not_counted() -> None:
    metrics = Metrics(("inst-a",))
    with pytest.raises(asyncio.CancelledError), metrics.tally(INSTANCE, "status"):
        raise asyncio.CancelledError
    with pytest.raises(ZapiTimeout), metrics.tally(INSTANCE, "status"):
        raise ZapiTimeout("late", endpoint="status", request_sent=True)
    assert metrics.zapi_calls == {("inst-a", "status", "timeout"): 1}
