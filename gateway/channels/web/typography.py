"""Spaces a line must not break at on a page: inside a number written with spaced groups
(`6 000`) and before a percent sign (`20 %`), as French and Portuguese write them.

SMS keeps plain spaces (a no-break space would force UCS-2); pages, which wrap text to a
narrow screen, use no-break spaces so `6` and `000 FCFA` never end up on two lines."""

from __future__ import annotations

import re

NO_BREAK_SPACE = "\u00a0"
_GROUP_OR_PERCENT = re.compile(r"(?<=\d) (?=\d{3}(?!\d)|%)")


def keep_numbers_whole(text: str) -> str:
    """`text` with the spaces inside spaced digit groups and before '%' made no-break."""
    return _GROUP_OR_PERCENT.sub(NO_BREAK_SPACE, text)
