"""What every channel's wording needs: gettext in the learner's language, plurals, and
numbers formatted for the locale but safe for GSM-7."""

from __future__ import annotations

from babel.numbers import format_percent

from gateway.i18n import translations


def plain_number(text: str) -> str:
    """Babel's locale spaces (U+00A0, U+202F) would force UCS-2 in SMS: use plain spaces."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


class Wording:
    """Translated, formatted strings for one locale."""

    def __init__(self, locale: str):
        self.locale = locale
        self.t = translations(locale)

    def _(self, message: str, **values: object) -> str:
        """`message` in this locale, with its %(name)s placeholders filled."""
        text = self.t.gettext(message)
        return text % values if values else text

    def n_(self, singular: str, plural: str, n: int, **values: object) -> str:
        """The plural form for `n` in this locale (`%(n)d` is `n`)."""
        return self.t.ngettext(singular, plural, n) % {"n": n, **values}

    def percent(self, part: int, whole: int) -> str:
        """part/whole as this locale writes a percentage, with plain spaces."""
        ratio = part / whole if whole else 1.0
        return plain_number(format_percent(ratio, locale=self.locale))
