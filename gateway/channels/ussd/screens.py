"""Laying out USSD screens: GSM-7 only, at most the carrier's character limit.

A screen is a head line (a title, or a notice such as "Invalid choice"), a
body, numbered options and one line of navigation (98 more, 0 back, 00 menu).
Long bodies are paginated at word boundaries, never cut.
"""

from __future__ import annotations

from gateway.sms_text import gsm7_only, septets

MORE, BACK, HOME = "98", "0", "00"


def gsm(text: str) -> str:
    """Text as a USSD screen can carry it: GSM-7 (accents folded), one space per run."""
    lines = [" ".join(line.split()) for line in gsm7_only(text).split("\n")]
    return "\n".join(line for line in lines if line)


def body_width(limit: int, head_width: int, options: list[str], nav: str) -> int:
    """Septets left for the body once the head line, options and navigation are placed."""
    used = head_width + 1 if head_width else 0
    used += sum(septets(option) + 1 for option in options)
    used += septets(nav) + 1 if nav else 0
    return limit - used


def paginate(text: str, width: int) -> list[str]:
    """Split GSM-7 text into pages of at most `width` septets, at spaces and line breaks.

    A line that fits on a page of its own is not split across two; a word longer
    than a page is split inside (the only case that breaks a word).
    """
    width = max(width, 10)
    pages: list[str] = []
    current = ""
    for line_number, line in enumerate(text.split("\n")):
        if current and septets(current + "\n" + line) > width >= septets(line):
            pages.append(current)
            current = line
            continue
        for word_number, word in enumerate(line.split(" ")):
            joiner = "" if not current else ("\n" if word_number == 0 and line_number else " ")
            candidate = current + joiner + word
            if septets(candidate) <= width:
                current = candidate
                continue
            if current:
                pages.append(current)
            while septets(word) > width:
                cut = _cut(word, width)
                pages.append(word[:cut])
                word = word[cut:]
            current = word
    if current or not pages:
        pages.append(current)
    return pages


def _cut(word: str, width: int) -> int:
    """How many characters of `word` fit in `width` septets."""
    total = 0
    for index, char in enumerate(word):
        total += septets(char)
        if total > width:
            return max(index, 1)
    return len(word)


def compose(head: str, body: str, options: list[str], nav: str) -> str:
    """The screen's text, line by line, leaving out empty parts."""
    return "\n".join(part for part in (head, body, *options, nav) if part)
