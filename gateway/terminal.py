"""Text that came from outside (a carrier's error, an edge's cohort name) made safe to
print on an operator's terminal: a control character (an escape sequence's start, a
carriage return, a bell, a right-to-left override) could retitle the window, clear the
screen, or forge a line of output. Each is shown as its escape (`\\x1b`) instead."""

from __future__ import annotations


def shown(text: str) -> str:
    """`text` with every character that is not printable (but the plain space) written as
    its Python escape: `\\x1b`, `\\r`, `\\u202e`. Printable text, any script, as is."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode()
                   for c in text)
