"""The catalogs as a member reads them: durations, and Portuguese as Brazilians write it."""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass

import pytest

from bot.conversation.keyboards import format_wait
from bot.conversation.replies import Reply
from bot.conversation.texts import CATALOGS
from bot.conversation.texts.en import ENGLISH as EN
from bot.conversation.texts.pt import PORTUGUESE as PT
from bot.render import formatted


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
        elif is_dataclass(value):  # a part of the catalog (the set-up's texts)
            parts.append(_all_text(value))
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


def test_replies_are_escaped_before_they_are_formatted() -> None:
    reply = Reply(
        "Step 1/4 · <Name>\nTom & <b>Jerry</b> on +55 44 99999-9999, id 123456", headed=True
    )
    assert formatted(reply) == (
        "<b>Step 1/4 · &lt;Name&gt;</b>\nTom &amp; &lt;b&gt;Jerry&lt;/b&gt; on "
        "<code>+55 44 99999-9999</code>, id <code>123456</code>"
    )
    assert formatted(Reply("/allow 12345 and 1/2")) == "/allow <code>12345</code> and 1/2"


def test_both_languages_fill_in_the_same_blanks() -> None:
    """A placeholder missing in one language would print "{number}" or raise KeyError."""
    placeholder = re.compile(r"{(\w*)}")
    for english, portuguese in ((EN, PT), (EN.setup, PT.setup)):
        for field in fields(english):
            en_value, pt_value = getattr(english, field.name), getattr(portuguese, field.name)
            if isinstance(en_value, str):
                assert set(placeholder.findall(en_value)) == set(placeholder.findall(pt_value)), (
                    field.name
                )


def test_numbers_inside_addresses_are_not_split() -> None:
    for address in ("ana.12345@gmail.com", "joao+5511999999999@x.com"):
        assert formatted(Reply(f"A code went to {address}.")) == f"A code went to {address}."
