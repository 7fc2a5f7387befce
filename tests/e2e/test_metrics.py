"""The metrics of the real Application on the tests' clock: a wait pending and announced, a
flow that times out, one an admin ends."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bot.metrics_export import Exporter
from tests.conftest import ADMIN, MEMBER
from tests.doubles.zapi import NumberProfile
from tests.harness import settle

DDI, PHONE, TYPED_NUMBER = "55", "44999999999", "(44) 99999-9999"


async def scraped(bot: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    body, _ = await Exporter(bot.services.metrics).scrape()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_a_wait_is_pending_until_announced_and_a_timeout_is_an_outcome(
    start_bot: Any, telegram: Any, zapi: Any, clock: Any
) -> None:
    zapi.add_number(DDI, PHONE, NumberProfile(waits={"sms": 120}))
    bot = await start_bot(conversation_timeout_seconds=900)
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    await bot.say(MEMBER, DDI)
    assert "How should WhatsApp send the code" in (await bot.say(MEMBER, TYPED_NUMBER)).text
    waiting = await scraped(bot)
    assert value(waiting, "zapi_bot_pending_waits") == 1
    assert value(waiting, "zapi_bot_leases_held", instance="inst-a") == 1

    await clock.advance(120)
    assert "You can request the code by SMS now" in (await telegram.next_reply(MEMBER.id)).text
    await settle()
    assert value(await scraped(bot), "zapi_bot_pending_waits") == 0

    await clock.advance(960)
    assert "No answer for" in (await telegram.next_reply(MEMBER.id)).text
    await settle()
    ended = await scraped(bot)
    timed_out = {"kind": "registration", "outcome": "timed_out", "method": "none"}
    assert value(ended, "zapi_bot_registrations_finished_total", **timed_out) == 1
    assert value(ended, "zapi_bot_leases_held", instance="inst-a") == 0
    assert value(ended, "zapi_bot_outbox_owed_messages") == 0


async def test_a_flow_an_admin_ends_is_counted_too(start_bot: Any, telegram: Any) -> None:
    bot = await start_bot()
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    await bot.say(ADMIN, "/release inst-a")
    await telegram.next_reply(MEMBER.id)
    await settle()
    released = {"kind": "registration", "outcome": "released", "method": "none"}
    assert value(await scraped(bot), "zapi_bot_registrations_finished_total", **released) == 1
