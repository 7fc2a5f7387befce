"""Numbers, codes and PINs pasted with invisible or typographic characters.

Unit tests of `bot/domain/parsing.py`'s one normalisation, applied by every parser there, and
one end-to-end test through the running bot (`start_bot`) with what WhatsApp on Android copies.
"""

from __future__ import annotations

import pytest

from bot.conversation.texts.en import ENGLISH as EN
from bot.domain.parsing import (
    ParsedPhone,
    PhoneProblem,
    normalise_pasted,
    parse_code,
    parse_ddi,
    parse_international,
    parse_phone,
    parse_pin,
)
from tests.conftest import MEMBER

# What WhatsApp on Android puts on the clipboard: the number between LRE (U+202A) and PDF (U+202C).
WHATSAPP_COPY = "\u202a+55 44 99999-1234\u202c"

INVISIBLE = {
    "ZERO WIDTH SPACE": "\u200b",
    "ZERO WIDTH NON-JOINER": "\u200c",
    "ZERO WIDTH JOINER": "\u200d",
    "LEFT-TO-RIGHT MARK": "\u200e",
    "RIGHT-TO-LEFT MARK": "\u200f",
    "WORD JOINER": "\u2060",
    "LEFT-TO-RIGHT ISOLATE": "\u2066",
    "RIGHT-TO-LEFT ISOLATE": "\u2067",
    "FIRST STRONG ISOLATE": "\u2068",
    "POP DIRECTIONAL ISOLATE": "\u2069",
    "LEFT-TO-RIGHT EMBEDDING": "\u202a",
    "RIGHT-TO-LEFT EMBEDDING": "\u202b",
    "POP DIRECTIONAL FORMATTING": "\u202c",
    "LEFT-TO-RIGHT OVERRIDE": "\u202d",
    "RIGHT-TO-LEFT OVERRIDE": "\u202e",
    "BYTE ORDER MARK": "\ufeff",
    "SOFT HYPHEN": "\u00ad",
}
DASHES = {
    "HYPHEN": "\u2010",
    "NON-BREAKING HYPHEN": "\u2011",
    "FIGURE DASH": "\u2012",
    "EN DASH": "\u2013",
    "EM DASH": "\u2014",
    "HORIZONTAL BAR": "\u2015",
    "MINUS SIGN": "\u2212",
    "FULLWIDTH HYPHEN-MINUS": "\uff0d",
}
SPACES = {
    "NO-BREAK SPACE": "\u00a0",
    "NARROW NO-BREAK SPACE": "\u202f",
    "FIGURE SPACE": "\u2007",
    "THIN SPACE": "\u2009",
    "EN SPACE": "\u2002",
    "HAIR SPACE": "\u200a",
    "IDEOGRAPHIC SPACE": "\u3000",
    "LINE SEPARATOR": "\u2028",
}
# Decimal digits of other scripts (a phone's keyboard in another language, a full-width IME):
# read as the ASCII digits they are, since Z-API takes ASCII digits only.
FOREIGN_DIGITS = {
    "ARABIC-INDIC": "٤٤٩٩٩٩٩١٢٣٤",
    "EXTENDED ARABIC-INDIC": "۴۴۹۹۹۹۹۱۲۳۴",
    "DEVANAGARI": "४४९९९९९१२३४",
    "FULLWIDTH": "４４９９９９９１２３４",
    "MATHEMATICAL BOLD": "𝟒𝟒𝟗𝟗𝟗𝟗𝟗𝟏𝟐𝟑𝟒",
}
# Digit-like signs that are no decimal digits: refused, never turned into digits.
NOT_DECIMAL = {"SUPERSCRIPT": "⁴⁴⁹⁹⁹⁹⁹¹²³⁴", "CIRCLED": "④④⑨⑨⑨⑨⑨①②③④"}


def ascii_digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


# -- the normalisation --------------------------------------------------------------------------


@pytest.mark.parametrize("name", INVISIBLE)
def test_format_characters_are_dropped(name):
    mark = INVISIBLE[name]
    assert normalise_pasted(f"{mark}12{mark}34{mark}") == "1234"


@pytest.mark.parametrize("name", DASHES)
def test_dashes_become_hyphens(name):
    assert normalise_pasted(f"99999{DASHES[name]}1234") == "99999-1234"


@pytest.mark.parametrize("name", SPACES)
def test_unicode_spaces_become_spaces(name):
    assert normalise_pasted(f"{SPACES[name]}44{SPACES[name]}99999{SPACES[name]}") == "44 99999"


def test_the_whatsapp_copy_normalises_to_plain_ascii():
    assert normalise_pasted(WHATSAPP_COPY) == "+55 44 99999-1234"


@pytest.mark.parametrize("name", FOREIGN_DIGITS)
def test_decimal_digits_of_other_scripts_become_ascii(name):
    assert normalise_pasted(FOREIGN_DIGITS[name]) == "44999991234"


@pytest.mark.parametrize("name", NOT_DECIMAL)
def test_signs_that_are_no_decimal_digits_are_left_as_they_are(name):
    assert normalise_pasted(NOT_DECIMAL[name]) == NOT_DECIMAL[name]


def test_plain_ascii_is_only_trimmed():
    assert normalise_pasted("  (44) 99999-1234 \n") == "(44) 99999-1234"


# -- every parser applies it --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "\u202a+55\u202c",
        "\u200b55",
        "55\ufeff",
        "\u2066+55\u2069",
        "\u00a0+55\u00a0",
        "00\u202f55",
        "\u200e+\u200e5\u200e5",
    ],
)
def test_country_codes(text):
    assert parse_ddi(text) == "55"


@pytest.mark.parametrize(
    "text",
    [
        WHATSAPP_COPY,
        "\u2066+55 44 99999-1234\u2069",
        "\u200f+55\u00a044\u00a099999\u20111234",
        "+55\u202f(44)\u202f99999\u20131234",
        "\ufeff+55 44 99999\u22121234",
        "+55\u200944\u20099999\u200b9\u20101234",
        "00\u00a055 44 99999\u20121234",
        "+\u200d5\u200d5 44 99999 1234\u2028",
    ],
)
def test_whole_international_numbers(text):
    assert parse_international(text) == ("55", "44999991234")


@pytest.mark.parametrize(
    "text",
    [
        "\u202a(44) 99999-1234\u202c",
        "44\u00a099999\u20111234",
        "44\u202f99999\u20131234",
        "\u200b4\u200b4\u200b9\u200b9\u200b9\u200b9\u200b9\u200b1\u200b2\u200b3\u200b4",
        "(44)\u300099999\u22121234",
        WHATSAPP_COPY,
        "\u2068+55 (44) 99999\u20141234\u2069",
    ],
)
def test_phone_numbers(text):
    parsed = parse_phone("55", text)
    assert parsed == ParsedPhone(digits="44999991234", valid=True)


@pytest.mark.parametrize(
    "text",
    [
        "\u202a123456\u202c",
        "123\u2011456",
        "123\u2013456",
        "123\u2212456",
        "123\u00a0456",
        "123\u202f456",
        "\u200b123 456\ufeff",
        "\u2066123-456\u2069",
    ],
)
def test_codes(text):
    assert parse_code(text) == "123456"


@pytest.mark.parametrize(
    "text",
    [
        "\u202a654321\u202c",
        "654\u00a0321",
        "6\u20095\u20094\u20093\u20092\u20091",
        "\u200b654321\u2060",
        "654\u3000321\u2028",
    ],
)
def test_pins(text):
    assert parse_pin(text) == "654321"


def test_dashes_are_separators_only_where_a_hyphen_is():
    # A PIN takes spaces between its digits, not hyphens: nor the dashes that look like one.
    assert parse_pin("654-321") is None
    assert parse_pin("654\u2013321") is None
    # A code takes one separator between its halves, not two.
    assert parse_code("123--456") is None
    assert parse_code("123\u2013\u2013456") is None
    assert parse_code("123\u2013-456") is None


def test_invisible_characters_do_not_make_a_number_out_of_nothing():
    assert parse_ddi("\u202a\u202c") is None
    assert parse_ddi("\u200b+\u200b") is None
    assert parse_code("\u200b" * 6) is None
    assert parse_pin("\ufeff" * 6) is None
    assert parse_phone("55", "\u2066\u2069") is PhoneProblem.NOT_DIGITS
    assert parse_international("\u202a+\u202c") is None


def test_letters_are_still_refused():
    assert parse_phone("55", "44\u00a09999x\u20139999") is PhoneProblem.NOT_DIGITS
    assert parse_code("12a\u2013456") is None
    assert parse_ddi("\u202a+5S\u202c") is None


# -- nothing but ASCII digits comes out ---------------------------------------------------------


@pytest.mark.parametrize("name", FOREIGN_DIGITS)
def test_digits_of_other_scripts_are_read_by_every_parser(name):
    digits = FOREIGN_DIGITS[name]
    assert parse_ddi(digits[:2]) == "44"
    assert parse_international("+55 " + digits) == ("55", "44999991234")
    assert parse_phone("55", digits) == ParsedPhone(digits="44999991234", valid=True)
    assert parse_phone("55", "\u202a" + digits + "\u202c") == ParsedPhone("44999991234", True)
    assert parse_code(digits[:6]) == "449999"
    assert parse_code(digits[:3] + "\u2013" + digits[3:6]) == "449999"
    assert parse_pin(digits[:6]) == "449999"


@pytest.mark.parametrize("name", NOT_DECIMAL)
def test_signs_that_are_no_decimal_digits_are_refused_by_every_parser(name):
    digits = NOT_DECIMAL[name]
    assert parse_ddi(digits[:2]) is None
    assert parse_ddi("+" + digits[:2]) is None
    assert parse_international("+55 " + digits) is None
    assert parse_international("\u202a+" + digits[:2] + " 44 99999-1234\u202c") is None
    assert parse_phone("55", digits) is PhoneProblem.NOT_DIGITS
    assert parse_phone("55", "\u202a" + digits + "\u202c") is PhoneProblem.NOT_DIGITS
    assert parse_code(digits[:6]) is None
    assert parse_code(digits[:3] + "\u2013" + digits[3:6]) is None
    assert parse_pin(digits[:6]) is None


@pytest.mark.parametrize("name", NOT_DECIMAL)
def test_one_non_decimal_sign_among_ascii_digits_is_refused(name):
    foreign = NOT_DECIMAL[name][0]  # a four
    assert parse_ddi("5" + foreign) is None
    assert parse_international(f"+55 {foreign}4 99999-1234") is None
    assert parse_phone("55", f"{foreign}4 99999-1234") is PhoneProblem.NOT_DIGITS
    assert parse_code(f"12{foreign}456") is None
    assert parse_pin(f"65{foreign}321") is None


def test_what_comes_out_is_ascii_digits_only():
    outcomes: list[str] = []
    for text in (WHATSAPP_COPY, "\u2066+55 44 99999\u20131234\u2069", "00\u00a055 44 99999 1234"):
        whole = parse_international(text)
        assert whole is not None
        outcomes.extend(whole)
        parsed = parse_phone("55", text)
        assert isinstance(parsed, ParsedPhone)
        outcomes.append(parsed.digits)
    for text in ("\u202a+55\u202c", "\u200b55\u00a0"):
        ddi = parse_ddi(text)
        assert ddi is not None
        outcomes.append(ddi)
    for text in ("\u202a123\u2013456\u202c", "\ufeff123\u00a0456"):
        code = parse_code(text)
        assert code is not None
        outcomes.append(code)
    pin = parse_pin("\u20666\u20095\u20094\u20093\u20092\u20091\u2069")
    assert pin is not None
    outcomes.append(pin)
    assert outcomes and all(ascii_digits(value) for value in outcomes), outcomes


# -- through the running bot --------------------------------------------------------------------


async def test_a_number_copied_from_whatsapp_fills_both_steps(start_bot, telegram, zapi):
    bot = await start_bot()
    reply = await bot.say(MEMBER, "/register")
    assert "Which instance" in (reply.text or "")
    reply = await bot.tap(MEMBER, "inst-a")
    assert "Send the country code (DDI)" in (reply.text or ""), reply.text

    reply = await bot.say(MEMBER, WHATSAPP_COPY)
    assert "How should WhatsApp send the code" in (reply.text or ""), reply.text
    assert EN.bad_ddi not in (reply.text or "")
    assert "+55 44 99999-1234" in (reply.text or ""), reply.text

    [check] = zapi.requests_to("mobile/registration-available")
    assert check.json == {"ddi": "55", "phone": "44999991234"}
    assert all(ascii_digits(value) for value in check.json.values()), check.json
    reg = await bot.services.flow.load(MEMBER.id)
    assert reg is not None and reg.step == "method"
    assert (reg.ddi, reg.phone) == ("55", "44999991234")


# -- forgiving input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "44 99999-9999",
        "55 44 99999-9999",  # the country code typed again, without +
        "+55 44 99999-9999",
        "0 44 99999-9999",  # the trunk prefix
        "044 99999-9999",
        "0 15 44 99999-9999",  # a carrier selection code (Brazil)
        "0xx15 44 99999-9999".replace("xx", ""),
        "４４ ９９９９９-９９９９",  # full-width
        "5544999999999",
    ],
)
def test_phone_numbers_as_brazilians_type_them(text):
    assert parse_phone("55", text) == ParsedPhone(digits="44999999999", valid=True)


def test_a_number_the_country_does_not_know_is_kept_for_the_member_to_confirm():
    # Z-API's own documentation uses 55 + 4499999999, which is no valid Brazilian mobile.
    assert parse_phone("55", "44 9999-9999") == ParsedPhone(digits="4499999999", valid=False)


@pytest.mark.parametrize(
    "text",
    [
        "Your WhatsApp code: 123-456. Don't share it",
        "Seu código do WhatsApp: 123-456\nVocê também pode tocar neste link para confirmar "
        "seu telefone: v.whatsapp.com/123456\nNão compartilhe este código",
        "<#> WhatsApp code 123 456",
        "code: １２３-４５６",
    ],
)
def test_the_code_inside_a_pasted_sms(text):
    assert parse_code(text) == "123456"


@pytest.mark.parametrize(
    "text", ["codes 123-456 and 654-321", "call 44 99999-9999", "1234567", "12345"]
)
def test_text_with_no_single_code_is_no_code(text):
    assert parse_code(text) is None


@pytest.mark.parametrize(("typed", "instance"), [("1", "inst-a"), ("2", "inst-b")])
async def test_a_typed_position_picks_that_instance_counted_from_one(
    start_bot, telegram, zapi, typed, instance
):
    bot = await start_bot()
    await bot.say(MEMBER, "/register")
    reply = await bot.say(MEMBER, typed)
    assert "Send the country code (DDI)" in (reply.text or ""), reply.text
    reg = await bot.services.flow.load(MEMBER.id)
    assert reg is not None and reg.instance == instance


async def test_a_position_past_the_last_instance_is_refused(start_bot, telegram, zapi):
    bot = await start_bot()
    await bot.say(MEMBER, "/register")
    reply = await bot.say(MEMBER, "3")
    assert EN.unknown_instance in (reply.text or "")
    reg = await bot.services.flow.load(MEMBER.id)
    assert reg is not None and reg.step == "instance"


async def test_the_country_code_typed_again_and_a_pasted_sms_take_a_member_through(
    start_bot, telegram, zapi
):
    bot = await start_bot()
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    await bot.say(MEMBER, "55")
    reply = await bot.say(MEMBER, "55 44 99999-1234")
    assert "How should WhatsApp send the code to +55 44 99999-1234" in (reply.text or "")
    method_hint = await bot.say(MEMBER, "carrier pigeon")
    assert "wa_old" not in (method_hint.text or "")
    await bot.tap(MEMBER, "SMS")
    reply = await bot.say(MEMBER, "Your WhatsApp code: 123-456\nDon't share this code")
    assert "Connected" in (reply.text or ""), reply.text
    [confirm] = zapi.requests_to("mobile/confirm-registration-code")
    assert confirm.json == {"code": "123456"}


# -- a contact card, an edited message ----------------------------------------------------------


@pytest.mark.parametrize("shared", ["+55 44 99999-1234", "5544999991234"])
async def test_a_shared_contact_fills_the_country_code_and_the_number(
    start_bot, telegram, zapi, shared
):
    bot = await start_bot()
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    telegram.send_message(MEMBER, contact=shared)
    reply = await telegram.next_reply(MEMBER.id)
    assert "How should WhatsApp send the code to +55 44 99999-1234" in (reply.text or "")
    [check] = zapi.requests_to("mobile/registration-available")
    assert check.json == {"ddi": "55", "phone": "44999991234"}


async def test_a_contact_whose_number_cannot_be_read_keeps_the_step(start_bot, telegram, zapi):
    bot = await start_bot()
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    telegram.send_message(MEMBER, contact="12")
    reply = await telegram.next_reply(MEMBER.id)
    assert EN.contact_unreadable in (reply.text or "")
    reg = await bot.services.flow.load(MEMBER.id)
    assert reg is not None and reg.step == "ddi"
    assert zapi.requests == []


async def test_a_contact_at_a_step_that_takes_none_gets_the_step_hint(start_bot, telegram, zapi):
    bot = await start_bot()
    await bot.say(MEMBER, "/register")
    telegram.send_message(MEMBER, contact="+55 44 99999-1234")
    reply = await telegram.next_reply(MEMBER.id)
    assert "I can only read text here" in (reply.text or "")
    reg = await bot.services.flow.load(MEMBER.id)
    assert reg is not None and reg.step == "instance"


async def test_an_edited_number_is_taken_as_the_new_answer(start_bot, telegram, zapi):
    bot = await start_bot()
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    await bot.say(MEMBER, "55")
    typo = telegram.send_text(MEMBER, "44 9999x-1234")
    assert "digits" in ((await telegram.next_reply(MEMBER.id)).text or "").lower()
    telegram.edit_text(MEMBER, typo, "44 99999-1234")
    reply = await telegram.next_reply(MEMBER.id)
    assert "How should WhatsApp send the code to +55 44 99999-1234" in (reply.text or "")


async def test_an_edit_elsewhere_is_answered_send_it_anew(start_bot, telegram, zapi):
    bot = await start_bot()
    await bot.say(MEMBER, "/register")
    await bot.tap(MEMBER, "inst-a")
    await bot.say(MEMBER, "55")
    await bot.say(MEMBER, "44 99999-1234")
    await bot.tap(MEMBER, "SMS")
    code = telegram.send_text(MEMBER, "111-111")
    await telegram.next_reply(MEMBER.id)  # a wrong code
    telegram.edit_text(MEMBER, code, "123-456")
    reply = await telegram.next_reply(MEMBER.id)
    assert EN.edited_not_taken in (reply.text or "")
    assert len(zapi.requests_to("mobile/confirm-registration-code")) == 1
    assert "Connected" in ((await bot.say(MEMBER, "123-456")).text or "")


async def test_an_edit_with_no_registration_open_gets_no_answer(start_bot, telegram, zapi):
    bot = await start_bot()
    sent = telegram.send_text(MEMBER, "hello")
    await telegram.next_reply(MEMBER.id)
    telegram.edit_text(MEMBER, sent, "hello again")
    reply = await bot.say(MEMBER, "/status")
    assert reply.text == EN.status_none
