"""Laying out USSD screens: GSM-7 or UCS-2, at most the carrier's limit for each.

A screen is a head line (a title, or a notice such as "Invalid choice"), a
body, numbered options and one line of navigation (98 more, 0 back, 00 menu).
Long bodies are paginated at word boundaries, never cut.

Latin-script languages go as GSM-7 (accents folded), counted in septets against
`ussd_max_chars`. Scripts GSM-7 lacks (Arabic...) go as UCS-2, counted in UTF-16
units against the carrier's shorter `ussd_ucs2_max_chars` (docs/carriers.md).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from gateway.sms_text import GSM7, UCS2, gsm7_only, septets, ucs2_units

MORE, BACK, HOME = "98", "0", "00"

# Arabic-Indic and Extended Arabic-Indic digits, as some keypads send them.
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


def gsm(text: str) -> str:
    """Text as a USSD screen can carry it: GSM-7 (accents folded), one space per run."""
    lines = [" ".join(line.split()) for line in gsm7_only(text).split("\n")]
    return "\n".join(line for line in lines if line)


def unicode_text(text: str) -> str:
    """Text for a UCS-2 screen: NFC, no control or invisible format characters, one space
    per run."""
    text = unicodedata.normalize("NFC", text)
    kept = "".join(c for c in text if c == "\n" or unicodedata.category(c) not in ("Cc", "Cf"))
    lines = [" ".join(line.split()) for line in kept.split("\n")]
    return "\n".join(line for line in lines if line)


def ascii_digits(choice: str) -> str:
    """A keypad input with Arabic-Indic digits read as 0-9."""
    return choice.translate(_DIGITS)


@dataclass(frozen=True)
class Alphabet:
    """How a screen is written and measured: its encoding, its limit in that encoding's
    units, how text is made fit to it and how it is counted."""

    encoding: str
    limit: int
    fit: Callable[[str], str]
    width: Callable[[str], int]


def gsm7_alphabet(limit: int) -> Alphabet:
    """GSM-7 screens of at most `limit` septets."""
    return Alphabet(GSM7, limit, gsm, septets)


def ucs2_alphabet(limit: int) -> Alphabet:
    """UCS-2 screens of at most `limit` UTF-16 units."""
    return Alphabet(UCS2, limit, unicode_text, ucs2_units)


def body_width(limit: int, head_width: int, options: list[str], nav: str,
               width: Callable[[str], int] = septets) -> int:
    """Units left for the body once the head line, options and navigation are placed."""
    used = head_width + 1 if head_width else 0
    used += sum(width(option) + 1 for option in options)
    used += width(nav) + 1 if nav else 0
    return limit - used


def paginate(text: str, width: int, measure: Callable[[str], int] = septets,
             first_width: int | None = None) -> list[str]:
    """Split text into pages of at most `width` units (`measure`: septets for GSM-7, UTF-16
    units for UCS-2), at spaces and line breaks; the first page may have its own width
    (`first_width`: a page under a head line that later pages leave out).

    A line that fits on a page of its own is not split across two; a word longer
    than a page is split inside (the only case that breaks a word). No word is left alone:
    a line's first word does not stay at the foot of a page without the rest of its line,
    and a last page does not hold one word.
    """
    width = max(width, 10)
    first = width if first_width is None else max(first_width, 10)
    pages: list[str] = []

    def room() -> int:
        return width if pages else first

    current = ""
    for line_number, line in enumerate(text.split("\n")):
        if current and measure(current + "\n" + line) > room() and measure(line) <= width:
            pages.append(current)
            current = line
            continue
        for word_number, word in enumerate(line.split(" ")):
            joiner = "" if not current else ("\n" if word_number == 0 and line_number else " ")
            candidate = current + joiner + word
            if measure(candidate) <= room():
                current = candidate
                continue
            if current:
                before, newline, line_so_far = current.rpartition("\n")
                if newline and joiner == " " and " " not in line_so_far \
                        and measure(line_so_far + " " + word) <= width:
                    # A line's first word alone at the foot of a page: it goes over with
                    # the rest of its line.
                    pages.append(before)
                    current = line_so_far + " " + word
                    continue
                pages.append(current)
            while measure(word) > room():
                cut = _cut(word, room(), measure)
                pages.append(word[:cut])
                word = word[cut:]
            current = word
    if current or not pages:
        pages.append(current)
    return _without_lone_words(pages, width, measure)


def _without_lone_words(pages: list[str], width: int,
                        measure: Callable[[str], int]) -> list[str]:
    """The pages with no last page of one word alone: it takes the word before it from the
    page before, when that word shares its line and both fit."""
    pages = list(pages)
    if len(pages) > 1 and len(pages[-1].split()) == 1 and "\n" not in pages[-1]:
        before, _, word = pages[-2].rpartition(" ")
        if before and "\n" not in word and len(before.rsplit("\n", 1)[-1].split()) > 1 \
                and measure(word + " " + pages[-1]) <= width:
            pages[-2], pages[-1] = before, word + " " + pages[-1]
    return pages


def _cut(word: str, width: int, measure: Callable[[str], int]) -> int:
    """How many characters of `word` fit in `width` units."""
    total = 0
    for index, char in enumerate(word):
        total += measure(char)
        if total > width:
            return max(index, 1)
    return len(word)


def compose(head: str, body: str, options: list[str], nav: str) -> str:
    """The screen's text, line by line, leaving out empty parts."""
    return "\n".join(part for part in (head, body, *options, nav) if part)
