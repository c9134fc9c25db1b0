"""Where a line must not break on a page: inside a number written with spaced groups
(`6 000`) and before a percent sign (`20 %`), as French and Portuguese write them; and
anywhere in a certificate's code (`3362-NM43-ZC`), which a reader copies whole.

SMS keeps plain spaces (a no-break space would force UCS-2); pages, which wrap text to a
narrow screen, use no-break spaces so `6` and `000 FCFA` never end up on two lines."""

from __future__ import annotations

import re

from markupsafe import Markup

NO_BREAK_SPACE = "\u00a0"
_GROUP_OR_PERCENT = re.compile(r"(?<=\d) (?=\d{3}(?!\d)|%)")


def keep_numbers_whole(text: str) -> str:
    """`text` with the spaces inside spaced digit groups and before '%' made no-break."""
    return _GROUP_OR_PERCENT.sub(NO_BREAK_SPACE, text)


def whole(value: object) -> Markup:
    """`value` (escaped, unless markup already) on one line: a certificate's code breaks
    at none of its hyphens on a narrow screen."""
    return Markup('<span class="whole">%s</span>') % value
