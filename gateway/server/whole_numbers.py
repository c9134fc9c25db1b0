"""Whole numbers from URLs, forms, query strings and cookies, bounded to what the gateway
can store: SQLite's INTEGER holds at most 2**63 - 1, and Python refuses to read a number
of over 4,300 digits. A request naming a bigger number gets the answer a wrong number
gets (404 for an id in a path, the form's own complaint otherwise), never a 500.
"""

from __future__ import annotations

from werkzeug.routing import IntegerConverter, Map

LARGEST = 2**63 - 1  # SQLite's largest INTEGER
_MOST_DIGITS = len(str(LARGEST))


def whole_number(text: str, *, largest: int = LARGEST) -> int | None:
    """`text` as a whole number from 0 to `largest` (ASCII digits only); None otherwise."""
    if not (text.isascii() and text.isdigit()) or len(text) > _MOST_DIGITS:
        return None
    value = int(text)
    return value if value <= largest else None


class StoredIntegerConverter(IntegerConverter):
    """Flask's `<int:...>` as the gateway registers it: a number SQLite cannot hold
    matches no route (404), as a number no row has."""

    regex = rf"\d{{1,{_MOST_DIGITS}}}"

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = None, signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, LARGEST if max is None else max, signed)
