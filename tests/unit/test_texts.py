"""The catalogs as a member reads them: durations, and Portuguese as Brazilians write it."""

from __future__ import annotations

from dataclasses import fields

import pytest

from bot.conversation.keyboards import format_wait
from bot.conversation.texts import CATALOGS
from bot.conversation.texts.en import ENGLISH as EN
from bot.conversation.texts.pt import PORTUGUESE as PT


@pytest.mark.parametrize(
    ("seconds", "english", "portuguese"),
    [
        (45, "45 s", "45 s"),
        (65, "1 min 5 s", "1 min 5 s"),
        (900, "15 min", "15 min"),
        (3600, "1 h", "1 h"),
        (7500, "2 h 5 min", "2 h 5 min"),
    ],
)
def test_durations_have_no_zero_parts(seconds: int, english: str, portuguese: str) -> None:
    assert format_wait(seconds, EN) == english
    assert format_wait(seconds, PT) == portuguese


def _all_text(catalog: object) -> str:
    """Every text a member can be shown (method_words maps typed words to methods: not shown)."""
    parts: list[str] = []
    for field in fields(catalog):  # type: ignore[arg-type]
        if field.name == "method_words":
            continue
        value = getattr(catalog, field.name)
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, dict):
            parts.extend(str(v) for v in value.values())
    return "\n".join(parts)


@pytest.mark.parametrize(
    "calque",
    ["poderá ser usado", "lugar está guardado", "roda o WhatsApp", "Esperas", "wa_old"],
)
def test_portuguese_without_the_calques_a_brazilian_would_trip_on(calque: str) -> None:
    assert calque not in _all_text(PT)


def test_whatsapps_own_term_for_the_two_step_pin_and_not_the_sms_code() -> None:
    assert "confirmação em duas etapas" in PT.ask_pin
    assert "não é o código que chegou por SMS" in PT.ask_pin
    assert "not the code that came by SMS" in EN.ask_pin


def test_no_text_names_wa_old_though_it_is_still_understood() -> None:
    for catalog in CATALOGS.values():
        assert "wa_old" not in _all_text(catalog)
        assert catalog.method_words["wa_old"] == "wa_old"
