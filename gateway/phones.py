"""Phone numbers: every learner is an E.164 number, parsed with phonenumbers."""

from __future__ import annotations

import functools
import re
import unicodedata

import phonenumbers

# Every message parses its sender's number; phonenumbers is pure Python and slow
# enough to show in a webhook's cost, and a gateway hears the same numbers all day.
_CACHED_NUMBERS = 16384


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number we can reach."""


@functools.lru_cache(maxsize=_CACHED_NUMBERS)
def _parsed(text: str, region: str | None) -> tuple[str, str | None]:
    """(E.164, country) of a number; raises InvalidPhoneNumber saying what is wrong."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber("is not a phone number") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhoneNumber("is not a possible phone number")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # E.164 has at most 15 digits, and a number we store must read back as itself, or a
    # reply would go to someone else. A number written as its own E.164 form (what most
    # carriers send) has just been read back, by the parse above.
    read_back = e164 if (text, region) == (e164, None) else phonenumbers.format_number(
        phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.E164)
    if len(e164) > 16 or read_back != e164:
        raise InvalidPhoneNumber("is not a possible phone number")
    # The cache keeps one string, not two alike, for a number already in E.164.
    return (text if text == e164 else e164), phonenumbers.region_code_for_number(number) or None


def _key(raw: str, default_region: str | None) -> tuple[str, str | None]:
    # Digits of any script (Arabic-Indic, fullwidth...) as ASCII, so "٠٠" is "00" too. An
    # ASCII number (nearly every one) needs no rebuilding character by character.
    text = (raw or "").strip()
    if not text.isascii():
        text = "".join(str(unicodedata.decimal(c)) if c.isdecimal() and not c.isascii()
                       else c for c in text)
    if text.startswith("00"):
        text = "+" + text[2:]
    # An international number reads the same from any region: one cache entry.
    region = None if text.startswith("+") else ((default_region or "").upper() or None)
    return text, region


def to_e164(raw: str, default_region: str | None = None) -> str:
    """Parse a number written in any national or international format into E.164.

    `default_region` (ISO 3166, e.g. "SN") reads national numbers such as
    "77 000 00 00". Raises InvalidPhoneNumber when it is not a possible number.
    """
    try:
        return _parsed(*_key(raw, default_region))[0]
    except InvalidPhoneNumber as exc:
        raise InvalidPhoneNumber(f"{raw!r} {exc}") from None


def region_of(e164: str) -> str | None:
    """The country (ISO 3166) a number belongs to, or None when unknown."""
    try:
        return _parsed(*_key(e164, None))[1]
    except InvalidPhoneNumber:
        return None


# Lines a person answers: a sign-in code may go to these only. Premium rate, shared cost,
# toll free, UAN, VoIP, pagers and personal numbers are where SMS pumping pays.
_PERSONAL_LINES = frozenset({
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
})


def is_personal_line(e164: str) -> bool:
    """Whether the number is a valid mobile or fixed line of a country (never a premium,
    shared-cost, toll-free or non-geographic number such as +881 satellite or +979)."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    region = phonenumbers.region_code_for_number(number)
    return (bool(region) and region != "001" and phonenumbers.is_valid_number(number)
            and phonenumbers.number_type(number) in _PERSONAL_LINES)


def masked(e164: str) -> str:
    """The number with its middle hidden, for logs: +22177*****00."""
    if len(e164) <= 6:
        return "*" * len(e164)
    return e164[:6] + "*" * (len(e164) - 8) + e164[-2:]


# A phone number as another party may write one into its own text (a carrier's error,
# "The 'To' number +2348031234567 is not valid", "tel:+221...", "2348031234567", a URL's
# "%2B234..."): 8 to 15 digits after a "+" (or its %-escape), or standing alone (not in a
# word such as a message id, nor part of a decimal number such as a time).
_WRITTEN_NUMBER = re.compile(
    r"(?:(?<![\d+])\+|%2[Bb]|(?<![\w.+]))(\d{8,15})(?!\w|\.\d)")


def _hidden(found: re.Match) -> str:
    """A written number with at most its first third and its last two digits shown."""
    digits = found.group(1)
    shown = min(5, len(digits) // 3)
    return found.group()[:-len(digits)] + digits[:shown] + "*" * (len(digits) - shown - 2) \
        + digits[-2:]


def masked_in(text: str) -> str:
    """`text` with every number that may be a phone number mostly hidden (at most its
    first third and last two digits shown), for logging a text the gateway did not
    write (a carrier's error message)."""
    return _WRITTEN_NUMBER.sub(_hidden, text)
