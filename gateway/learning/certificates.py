"""Certificate codes and the name a certificate shows.

A code is 10 symbols of Crockford's base32 (the digits and the letters without I, L, O
and U): 50 random bits from `secrets`, so codes can be neither guessed nor counted
through (lookups are rate-limited as well). It is stored in its canonical form, 10
upper-case symbols, and shown grouped for reading aloud and typing on a keypad:
`7KQM-2XHD-9P`. Whoever types one back may use any case, spaces or dashes, and the
letters Crockford reads as digits (O for 0, I and L for 1).
"""

from __future__ import annotations

import re
import secrets
import unicodedata

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 10
NAME_MAX = 40  # characters of a display name

_CONFUSABLES = str.maketrans({"O": "0", "I": "1", "L": "1"})
# What people put between groups: spaces, hyphens and the dashes phones substitute.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212_.]+")
# Invisible characters a name could hide behind (bidirectional overrides, isolates and
# marks, zero-width spaces, the BOM, tag characters) are dropped, but the joiners some
# scripts need (ZWNJ, ZWJ) between two letters. Combining marks stack at most this deep
# on one character (Arabic's shadda with a vowel is two; a taller stack only overprints
# the text around it).
_JOINERS = frozenset("\u200c\u200d")
_MARKS_MAX = 3
# Characters Unicode calls letters or marks that show nothing: Hangul fillers, the
# combining grapheme joiner (a name of them alone would be blank).
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u034f")
# What a name may hold beside letters and their marks.
_NAME_PUNCTUATION = frozenset("'\u2019\u02bc-\u2010.")


def new_code() -> str:
    """A fresh random code in canonical form (10 symbols, 50 bits from `secrets`)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def format_code(code: str) -> str:
    """A canonical code grouped for people: `7KQM2XHD9P` -> `7KQM-2XHD-9P`."""
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


def normalize_code(text: str | None) -> str | None:
    """The canonical code someone meant by `text` (any case, spaces or dashes anywhere,
    O for 0, I or L for 1), or None when it cannot be a code."""
    if not text or len(text) > 4 * LENGTH:
        return None
    symbols = _SEPARATORS.sub("", text).upper().translate(_CONFUSABLES)
    if len(symbols) != LENGTH or any(symbol not in ALPHABET for symbol in symbols):
        return None
    return symbols


def clean_display_name(text: str | None) -> str | None:
    """A name as a learner may show it on certificates: NFC; letters of any script with
    their marks (at most three combining marks on a character), spaces, apostrophes,
    hyphens and full stops, and a joiner between two letters; nothing else (no digits,
    symbols or other punctuation: a name read out in the VERIFY reply could otherwise
    say "score 19/19 (100%)"; no invisible characters: bidirectional overrides and
    marks, zero-width spaces, tags); runs of spaces made one, trimmed, at most NAME_MAX
    characters. None when nothing is left."""
    if not text:
        return None
    kept: list[str] = []
    marks = 0
    for c in unicodedata.normalize("NFC", text):
        category = unicodedata.category(c)
        if c.isspace():
            while kept and kept[-1] in _JOINERS:  # a joiner joins nothing before a space
                kept.pop()
            kept.append(" ")
            marks = 0
        elif category in ("Mn", "Me") and c not in _BLANK_LETTERS:
            marks += 1
            if marks <= _MARKS_MAX and kept and kept[-1] != " ":
                kept.append(c)
        elif c in _BLANK_LETTERS:
            continue  # letters by their category, blank on screen
        elif category[0] == "L" or category == "Mc" or c in _NAME_PUNCTUATION:
            kept.append(c)
            marks = 0
        elif c in _JOINERS and kept and kept[-1] != " " and kept[-1] not in _JOINERS:
            kept.append(c)
    while kept and kept[-1] in _JOINERS:
        kept.pop()
    name = " ".join("".join(kept).split())[:NAME_MAX].rstrip("".join(_JOINERS)).strip()
    return name or None
