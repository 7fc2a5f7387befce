"""Which changes of an instance are alerted, Z-API's status words, and masked numbers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain.instances import Connection, Flip, InstanceState, flip, reason_key
from bot.domain.parsing import masked_number

SEEN = datetime(2026, 12, 1, tzinfo=UTC)


def state(connected: bool) -> InstanceState:
    return InstanceState("sales", connected, None, SEEN)


@pytest.mark.parametrize(
    ("before", "seen", "expected"),
    [
        (None, Connection.CONNECTED, None),  # a first look only records
        (None, Connection.DISCONNECTED, None),
        (state(True), Connection.DISCONNECTED, Flip.DROPPED),
        (state(False), Connection.CONNECTED, Flip.RECONNECTED),
        (state(True), Connection.CONNECTED, None),
        (state(False), Connection.DISCONNECTED, None),
        (state(True), Connection.NO_ANSWER, None),  # nothing known: nothing said
        (state(True), Connection.REFUSED, None),
    ],
)
def test_only_a_change_between_known_states_is_a_flip(before, seen, expected):
    assert flip(before, seen) is expected


def test_z_apis_status_messages_have_plain_words():
    assert reason_key("You need to restore the session.") == "restore_session"
    assert reason_key("  you are NOT connected. ") == "not_connected"
    assert reason_key("You are already connected.") == "connected"
    assert reason_key("Something new") is None
    assert reason_key(None) is None


@pytest.mark.parametrize(
    ("digits", "ddi", "shown"),
    [
        ("5544999991234", None, "+55 •••• 1234"),
        ("44999991234", "55", "+55 •••• 1234"),
        ("14155550123", None, "+1 •••• 0123"),
        ("123", None, "•••• 123"),
        (None, None, "—"),
    ],
)
def test_masked_numbers_show_the_country_code_and_the_last_four_digits(digits, ddi, shown):
    assert masked_number(digits, ddi) == shown
