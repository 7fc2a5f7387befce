"""The history admins work with: /history filters and the team's time zone, /export as CSV,
/stats against a seeded history (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.conversation.texts.en import ENGLISH as EN
from bot.conversation.texts.pt import PORTUGUESE as PT
from bot.storage.models import AuditEvent
from tests.clock import TestClock
from tests.conftest import ADMIN, MEMBER, OTHER_MEMBER
from tests.doubles.telegram_api import TelegramDouble, TgUser
from tests.harness import BotHarness

NOW = datetime.now(UTC).replace(microsecond=0)


def event(
    minutes_ago: float,
    user: int,
    action: str,
    outcome: str,
    *,
    instance: str = "inst-a",
    number: str | None = "5544999991234",
    flow: str | None = None,
    started_minutes_ago: float | None = None,
    chat: int | None = None,
) -> AuditEvent:
    return AuditEvent(
        created_at=NOW - timedelta(minutes=minutes_ago),
        user_id=user,
        chat_id=chat or user,
        instance=instance,
        number=number,
        action=action,
        outcome=outcome,
        flow_id=flow,
        flow_started_at=(
            None if started_minutes_ago is None else NOW - timedelta(minutes=started_minutes_ago)
        ),
    )


# Four registrations: Ana connects on inst-a by SMS in 4 min and on inst-b by voice in 10 min;
# Bruno is banned on inst-b, appeals (in review); Ana's third times out. One older than 30 days.
def seed() -> list[AuditEvent]:
    return [
        event(60, MEMBER.id, "check", "available", flow="f1", started_minutes_ago=64),
        event(62, MEMBER.id, "request_code", "sent_sms", flow="f1", started_minutes_ago=64),
        event(60, MEMBER.id, "register", "connected", flow="f1", started_minutes_ago=64),
        event(
            30,
            MEMBER.id,
            "request_code",
            "sent_voice",
            instance="inst-b",
            flow="f2",
            started_minutes_ago=40,
            number="5544988881111",
        ),
        event(
            30,
            MEMBER.id,
            "register",
            "connected",
            instance="inst-b",
            flow="f2",
            started_minutes_ago=40,
            number="5544988881111",
        ),
        event(
            20,
            OTHER_MEMBER.id,
            "check",
            "banned",
            instance="inst-b",
            flow="f3",
            started_minutes_ago=21,
            number="5544977772222",
        ),
        event(
            19,
            OTHER_MEMBER.id,
            "appeal",
            "in_review",
            instance="inst-b",
            flow="f3",
            started_minutes_ago=21,
            number="5544977772222",
        ),
        event(5, MEMBER.id, "timeout", "timed_out", flow="f4", started_minutes_ago=20, number=None),
        event(
            60 * 24 * 40,
            MEMBER.id,
            "register",
            "connected",
            flow="old",
            started_minutes_ago=60 * 24 * 40 + 5,
        ),
    ]


async def seeded(start_bot: Any, url: str | None = None, **settings: Any) -> BotHarness:
    bot: BotHarness = await start_bot(url, **settings)
    async with bot.services.database.session() as session:
        session.add_all(seed())
    await bot.say(MEMBER, "/help")  # seen: named
    await bot.say(OTHER_MEMBER, "/help")
    return bot


async def test_history_filters_by_member_instance_outcome_digits_and_days(
    start_bot: Any, telegram: TelegramDouble
) -> None:
    bot = await seeded(start_bot)

    def lines(text: str | None) -> list[str]:
        return (text or "").splitlines()[1:]

    everything = lines((await bot.say(ADMIN, "/history 100")).text)
    assert len(everything) == 7  # request_code events are steps, not outcomes
    by_bruno = lines((await bot.say(ADMIN, "/history member:bruno")).text)
    assert len(by_bruno) == 2 and all("Bruno (1002)" in line for line in by_bruno)
    by_id = lines((await bot.say(ADMIN, f"/history member:{OTHER_MEMBER.id}")).text)
    assert by_id == by_bruno
    on_b = lines((await bot.say(ADMIN, "/history instance:inst-b")).text)
    assert len(on_b) == 3 and all(" · inst-b · " in line for line in on_b)
    connected = lines((await bot.say(ADMIN, "/history outcome:connected")).text)
    assert len(connected) == 3 and all(line.endswith(" · connected") for line in connected)
    digits = lines((await bot.say(ADMIN, "/history number:1111")).text)
    assert len(digits) == 1 and "+55 •••• 1111" in digits[0]
    recent = lines((await bot.say(ADMIN, "/history days:1 outcome:connected")).text)
    assert len(recent) == 2
    portuguese = lines((await bot.say(ADMIN, "/history resultado:banido membro:bruno")).text)
    assert len(portuguese) == 1 and "banned" in portuguese[0]
    assert (await bot.say(ADMIN, "/history member:nobody")).text == EN.history.none
    for bad in ("colour:red", "days:0", "outcome:happy", "number:12ab", "101", "days:1 days:2"):
        assert (await bot.say(ADMIN, f"/history {bad}")).text == EN.history.usage, bad


async def test_history_in_the_teams_time_zone_and_the_admins_language(
    start_bot: Any, telegram: TelegramDouble
) -> None:
    bot = await seeded(start_bot, timezone="America/Sao_Paulo")
    admin = TgUser(id=ADMIN.id, first_name="Dora", language_code="pt-BR")
    reply = await bot.say(admin, "/history 1")
    [header, line] = (reply.text or "").splitlines()
    assert header == PT.history.header.format(zone="America/Sao_Paulo")
    local = (NOW - timedelta(minutes=5)).astimezone(ZoneInfo("America/Sao_Paulo"))
    assert line.startswith(f"• {local:%Y-%m-%d %H:%M} · Ana (1001) · inst-a · — · ")
    assert line.endswith("expirou por inatividade")


async def test_export_is_a_csv_with_masked_numbers_unless_asked(
    start_bot: Any, telegram: TelegramDouble
) -> None:
    bot = await seeded(start_bot, timezone="America/Sao_Paulo")
    reply = await bot.say(ADMIN, "/export instance:inst-b")
    assert reply.method == "sendDocument"
    assert reply.text == EN.history.export_caption.format(count=3, numbers="numbers masked")
    [(_, document)] = telegram.documents
    rows = list(csv.DictReader(io.StringIO(document.decode("utf-8"))))
    assert [row["outcome"] for row in rows] == ["in_review", "banned", "connected"]
    banned = rows[1]
    assert banned["member_id"] == str(OTHER_MEMBER.id) and banned["member_name"] == "Bruno"
    assert banned["number"] == "+55 •••• 2222" and banned["instance"] == "inst-b"
    assert banned["outcome_text"] == "banned" and banned["by"] == ""
    assert banned["time"].endswith("-03:00")
    assert "5544977772222" not in document.decode("utf-8")
    assert (await bot.say(ADMIN, "/export 5")).text == EN.history.usage  # no N for a file


async def test_export_full_numbers_when_set(start_bot: Any, telegram: TelegramDouble) -> None:
    bot = await seeded(start_bot, export_full_numbers="1")
    reply = await bot.say(ADMIN, "/export number:2222")
    assert reply.text == EN.history.export_caption.format(count=2, numbers="full numbers")
    [(_, document)] = telegram.documents
    assert {row["number"] for row in csv.DictReader(io.StringIO(document.decode()))} == {
        "5544977772222"
    }


async def test_stats_per_instance_and_in_total(
    start_bot: Any, telegram: TelegramDouble, migrated_url: str, clock: TestClock
) -> None:
    bot = await seeded(start_bot, migrated_url)
    reply = await bot.say(ADMIN, "/stats")
    text = reply.text or ""
    assert text.startswith(EN.history.stats_header.format(days=30))
    table = [line.split() for line in text.splitlines()[1:5]]
    assert table[0][:3] == ["instance", "started", "connected"]
    # instance, started, connected, banned, appealed, unbanned, refused, timed out, cancelled,
    # median ("timed out" is two words in the header, one cell in the rows).
    assert table[1] == ["inst-a", "2", "1", "0", "0", "0", "0", "1", "0", "4:00"]
    assert table[2] == ["inst-b", "2", "1", "1", "1", "0", "0", "0", "0", "10:00"]
    assert table[3] == ["total", "4", "2", "1", "1", "0", "0", "1", "0", "7:00"]
    assert text.splitlines()[-1] == (
        EN.history.stats_median_by_method.format(methods="SMS 4:00, Voice call 10:00")
    )
    assert "<pre>" in reply.params["text"]  # monospace
    year = (await bot.say(ADMIN, "/stats 365")).text or ""
    assert year.splitlines()[4].split()[:3] == ["total", "5", "3"]  # the 40-day-old one too
    assert (await bot.say(ADMIN, "/stats 0")).text == EN.history.stats_usage
    assert (await bot.say(ADMIN, "/stats a b")).text == EN.history.stats_usage
    assert (await bot.say(MEMBER, "/stats")).text == EN.admin_only
