"""Reading what members type: country codes, phone numbers, codes and PINs."""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from enum import Enum

import phonenumbers
from phonenumbers import PhoneNumberFormat, region_code_for_country_code

__all__ = [
    "E164_MAX_DIGITS",
    "PROFILE_ABOUT_LENGTH",
    "PROFILE_NAME_LENGTH",
    "ParsedPhone",
    "PhoneProblem",
    "format_number",
    "masked_number",
    "normalise_pasted",
    "parse_code",
    "parse_ddi",
    "parse_email",
    "parse_international",
    "parse_phone",
    "parse_pin",
    "parse_profile_text",
    "same_number",
]

E164_MAX_DIGITS = 15
MIN_NATIONAL_DIGITS = 6
_MASK_CHARACTERS = re.compile(r"[\s\-()./]")
_ASCII_DIGITS = re.compile(r"[0-9]+")
# Dashes that Unicode does not file as dash punctuation (Pd) but that people type as one.
_DASH_LIKE = frozenset("\u2212")  # MINUS SIGN


def normalise_pasted(text: str) -> str:
    """What was pasted, as the ASCII it looks like: invisible marks dropped, spaces and dashes
    made plain, digits of any script (full-width `４４`, Arabic-Indic…) made ASCII digits.

    WhatsApp on Android copies a number as U+202A `+55 44 99999-1234` U+202C (bidirectional
    embedding marks); other apps add zero-width spaces, word joiners, a byte-order mark, soft
    hyphens, no-break or thin spaces, non-breaking hyphens, en dashes or a minus sign. Format
    characters (Unicode category Cf) are dropped; every Unicode space (Zs, and the line and
    paragraph separators) becomes " "; every dash (Pd) and the minus sign becomes "-".
    """
    if text.isascii():
        return text.strip()
    characters: list[str] = []
    for character in text:
        category = unicodedata.category(character)
        if category == "Cf":
            continue
        if category == "Nd":
            characters.append(str(unicodedata.decimal(character)))
        elif character.isspace():
            characters.append(" ")
        elif category == "Pd" or character in _DASH_LIKE:
            characters.append("-")
        else:
            characters.append(character)
    return "".join(characters).strip()


def _is_ascii_digits(text: str) -> bool:
    return _ASCII_DIGITS.fullmatch(text) is not None


def _strip_mask(text: str) -> str:
    return _MASK_CHARACTERS.sub("", normalise_pasted(text))


def parse_ddi(text: str) -> str | None:
    """`55`, `+55`, `055`, `00 55` → "55" when it is a real country calling code."""
    cleaned = _strip_mask(text).lstrip("+")
    if not _is_ascii_digits(cleaned):
        return None
    cleaned = cleaned.lstrip("0")
    if not 1 <= len(cleaned) <= 3:
        return None
    return cleaned if region_code_for_country_code(int(cleaned)) != "ZZ" else None


def parse_international(text: str) -> tuple[str, str] | None:
    """A whole number pasted with its `+` (`+55 44 99999-9999`) → ("55", "44999999999")."""
    stripped = normalise_pasted(text)
    if not (stripped.startswith("+") or stripped.startswith("00")):
        return None
    digits = _strip_mask(stripped).lstrip("+")
    if digits.startswith("00"):
        digits = digits[2:]
    if not _is_ascii_digits(digits) or len(digits) > E164_MAX_DIGITS:
        return None
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return None
    ddi, national = str(number.country_code), str(number.national_number)
    if len(national) < MIN_NATIONAL_DIGITS or parse_ddi(ddi) is None:
        return None
    return ddi, national


class PhoneProblem(Enum):
    NOT_DIGITS = "not_digits"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"


@dataclass(frozen=True, slots=True)
class ParsedPhone:
    digits: str
    # False: phonenumbers does not know this number; Z-API may still take it (its own docs use
    # 55 + 4499999999, which phonenumbers rejects), so the member confirms it instead.
    valid: bool


def _national(ddi: str, digits: str) -> str | None:
    """The national number when phonenumbers reads `digits` as a valid number of the country
    of `ddi`, typed as people there do: with the trunk prefix (0 44 …) or a carrier selection
    code (0 15 44 … in Brazil)."""
    region = region_code_for_country_code(int(ddi))
    if region == "ZZ":
        return None
    try:
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return None
    if str(number.country_code) != ddi or not phonenumbers.is_valid_number(number):
        return None
    return str(number.national_number)


def parse_phone(ddi: str, text: str) -> ParsedPhone | PhoneProblem:
    """Area code + number as the member typed or pasted it: masks removed; the country code
    dropped if typed again (with or without `+`); trunk and carrier prefixes read as the
    country of `ddi` reads them."""
    cleaned = _strip_mask(text)
    if cleaned.startswith("+"):
        international = parse_international(cleaned)
        if international is None or international[0] != ddi:
            return PhoneProblem.NOT_DIGITS
        cleaned = international[1]
    if not _is_ascii_digits(cleaned):
        return PhoneProblem.NOT_DIGITS
    national = _national(ddi, cleaned)
    if national is None and cleaned.startswith(ddi):
        national = _national(ddi, cleaned[len(ddi) :])  # "55 44 99999-9999" with DDI 55
    if national is not None:
        return ParsedPhone(digits=national, valid=True)
    cleaned = cleaned.lstrip("0")
    if len(cleaned) < MIN_NATIONAL_DIGITS:
        return PhoneProblem.TOO_SHORT
    if len(ddi) + len(cleaned) > E164_MAX_DIGITS:
        return PhoneProblem.TOO_LONG
    try:
        number = phonenumbers.parse(f"+{ddi}{cleaned}", None)
        valid = phonenumbers.is_valid_number(number)
    except phonenumbers.NumberParseException:
        valid = False
    return ParsedPhone(digits=cleaned, valid=valid)


@functools.lru_cache(maxsize=4096)
def format_number(ddi: str, phone: str) -> str:
    """How a number is shown to members: +55 44 99999-9999 when known, else +55 4499999999."""
    try:
        number = phonenumbers.parse(f"+{ddi}{phone}", None)
    except phonenumbers.NumberParseException:
        return f"+{ddi} {phone}"
    if phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    return f"+{ddi} {phone}"


_CODE = re.compile(r"([0-9]{3})[\s\-.]?([0-9]{3})")
_CODE_INSIDE = re.compile(r"(?<![0-9])([0-9]{3})[ \-.]?([0-9]{3})(?![0-9])")
_PIN = re.compile(r"[0-9]{6}")


def masked_number(digits: str | None, ddi: str | None = None) -> str:
    """A number as admins' messages show it, all but its last four digits hidden:
    "+55 •••• 9999". `digits`: the whole number, country code first, unless `ddi` is given
    (then `digits` is the national part)."""
    if not digits:
        return "—"
    if ddi is None and len(digits) > MIN_NATIONAL_DIGITS:
        try:
            ddi = str(phonenumbers.parse("+" + digits, None).country_code)
            digits = digits[len(ddi) :]
        except phonenumbers.NumberParseException:
            ddi = None
    return f"+{ddi} •••• {digits[-4:]}" if ddi else f"•••• {digits[-4:]}"


def parse_code(text: str) -> str | None:
    """`123456`, `123-456`, `123 456` → "123456"; also the code inside a pasted SMS ("Your
    WhatsApp code: 123-456 …"), when the text holds one code only (it may repeat it)."""
    pasted = normalise_pasted(text)
    match = _CODE.fullmatch(pasted)
    if match:
        return match.group(1) + match.group(2)
    found = {first + second for first, second in _CODE_INSIDE.findall(pasted)}
    return found.pop() if len(found) == 1 else None


def parse_pin(text: str) -> str | None:
    """WhatsApp's two-step PIN: six digits (spaces allowed between them)."""
    cleaned = re.sub(r"\s", "", normalise_pasted(text))
    return cleaned if _PIN.fullmatch(cleaned) else None


# WhatsApp's own limits: the name people see, and the "About" line.
PROFILE_NAME_LENGTH = 25
PROFILE_ABOUT_LENGTH = 139
_CONTROL = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def parse_profile_text(text: str, limit: int) -> str | None:
    """A profile name or description: one line of 1 to `limit` characters, its runs of spaces
    made one; None for anything else (a line break, an invisible character)."""
    cleaned = " ".join(text.split(" ")).strip()
    cleaned = re.sub(r" {2,}", " ", cleaned)
    if not cleaned or len(cleaned) > limit:
        return None
    if any(unicodedata.category(character) in _CONTROL for character in cleaned):
        return None
    return cleaned


def parse_email(text: str) -> str | None:
    """An e-mail address as its owner would write it (its domain in lower case); None when it
    is not one. Whether it receives mail is for the verification code to tell."""
    # Imported here: only the set-up's e-mail step needs it (and idna's tables, which it loads).
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    return str(checked.normalized)


def same_number(reported: str, registered: str) -> bool:
    """Whether Z-API's form of a number (digits, perhaps with `+`) is the number registered:
    for Brazil, with or without the ninth digit of mobiles (WhatsApp keeps older numbers
    without it)."""
    a = "".join(character for character in reported if character.isdigit())
    b = registered
    if a == b:
        return True
    if not (a.startswith("55") and b.startswith("55")) or abs(len(a) - len(b)) != 1:
        return False
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    # 55 + area code (2) + 9 + eight digits, against 55 + area code + eight digits.
    return longer[4] == "9" and longer[:4] + longer[5:] == shorter
