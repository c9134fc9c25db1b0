"""Right-to-left pages: values inside translated sentences, isolated so the bidi algorithm
cannot reorder them.

In a right-to-left page a value put into a translated sentence is isolated, so the bidi
algorithm cannot reorder it with the words around it (a Latin title or command word inside
Arabic text); phone numbers and certificate codes are isolated left to right: bare in an
Arabic sentence, "+212 61*****78" would show its digit groups right to left. A
left-to-right page is sent as it was (not a byte more), except around a right-to-left value.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from flask import g
from markupsafe import Markup, escape

from gateway.i18n import text_direction


def _right_to_left() -> bool:
    return text_direction(g.locale) == "rtl"


def _has_rtl(text: str) -> bool:
    return any(unicodedata.bidirectional(char) in ("R", "AL") for char in text)


def isolate(value: Any) -> Markup:
    """`value` (escaped) in a `<bdi>`, laid out in its own direction, in a right-to-left
    page or when it is right to left itself."""
    if value is None or value == "" or not (_right_to_left() or _has_rtl(str(value))):
        return escape(value)
    return Markup("<bdi>%s</bdi>") % value


def left_to_right(value: Any) -> Markup:
    """`value` (escaped), isolated left to right in a right-to-left page: a phone number, a
    code (in a left-to-right page it is that already)."""
    if not _right_to_left():
        return escape(value)
    return Markup('<bdi dir="ltr">%s</bdi>') % value


# "+254 712 345 678" in a translated sentence (digits of any script).
_PHONE_IN_TEXT = re.compile(r"\+\d[\d ]{4,}\d")


def isolate_phones(text: Any) -> Markup:
    """A translated sentence (escaped) with each phone number in it left to right."""
    text = escape(text)
    if not _right_to_left():
        return text
    return Markup(_PHONE_IN_TEXT.sub(lambda found: str(left_to_right(found.group())),
                                     str(text)))


def lang_attributes(locale: str) -> Markup:
    """` lang=".." dir=".."` for content in `locale` (a lesson in the course's default
    language, say) when that is not the page's language; else nothing."""
    if locale == g.locale:
        return Markup("")
    direction = text_direction(locale)
    if direction == text_direction(g.locale):
        return Markup(' lang="%s"') % locale
    return Markup(' lang="%s" dir="%s"') % (locale, direction)
