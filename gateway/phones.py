"""Phone numbers: every learner is an E.164 number, parsed with phonenumbers."""

from __future__ import annotations

import functools

import phonenumbers

# Every message parses its sender's number; phonenumbers is pure Python and slow
# enough to show in the webhook's cost, and a gateway hears the same numbers all day.
_CACHED_NUMBERS = 16384


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number we can reach."""


@functools.lru_cache(maxsize=_CACHED_NUMBERS)
def to_e164(raw: str, default_region: str | None = None) -> str:
    """Parse a number written in any national or international format into E.164.

    `default_region` (ISO 3166, e.g. "SN") reads national numbers such as
    "77 000 00 00". Raises InvalidPhoneNumber when it is not a possible number.
    """
    text = (raw or "").strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, (default_region or "").upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"{raw!r} is not a phone number") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhoneNumber(f"{raw!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=_CACHED_NUMBERS)
def region_of(e164: str) -> str | None:
    """The country (ISO 3166) a number belongs to, or None when unknown."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.region_code_for_number(number) or None


def masked(e164: str) -> str:
    """The number with its middle hidden, for logs: +22177*****00."""
    if len(e164) <= 6:
        return "*" * len(e164)
    return e164[:6] + "*" * (len(e164) - 8) + e164[-2:]
