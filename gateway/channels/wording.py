"""What every channel's wording needs: gettext in the learner's language, plurals, and
numbers formatted for the locale but safe for GSM-7."""

from __future__ import annotations

from datetime import UTC, datetime

from babel.dates import format_date, get_day_names
from babel.numbers import format_percent

from gateway.i18n import translations
from gateway.learning import replies as r

_PLAIN = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u200e": None, "\u200f": None,
                        "\u061c": None})


def plain_number(text: str) -> str:
    """Babel's locale spaces (U+00A0, U+202F) would force UCS-2 in SMS: use plain spaces.
    Its direction marks (U+200E, U+200F, U+061C) are dropped too: each costs a UCS-2 unit,
    and phones order digits inside Arabic text without them."""
    return text.translate(_PLAIN)


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

    def weekday(self, day: int) -> str:
        """A day of the week (Monday is 0) as this locale names it in a sentence ('Monday',
        'lundi', 'الأحد')."""
        return get_day_names("wide", context="format", locale=self.locale)[day]

    def date(self, at: float) -> str:
        """The day of `at` (Unix seconds, UTC) as this locale writes it in full, with plain
        spaces ('March 4, 2025', '4 mars 2025')."""
        day = datetime.fromtimestamp(at, UTC).date()
        return plain_number(format_date(day, format="long", locale=self.locale))

    def channel_shown(self, shown: r.ChannelShown) -> str:
        """Which channel daily lessons and reminders come by, or why the one asked for
        cannot be chosen."""
        if shown.refused == "whatsapp":
            return self._("WhatsApp does not reach your number from here: your daily "
                          "lessons and reminders come by SMS.")
        if shown.refused is not None:
            return self._("SMS does not reach your number from here: your daily lessons "
                          "and reminders come on WhatsApp.")
        if shown.channel == "whatsapp":
            return self._("Your daily lessons and reminders come on WhatsApp.")
        return self._("Your daily lessons and reminders come by SMS.")

    def progress(self, p: r.Progress) -> str:
        """Where a learner stands in a course: lessons done, right answers, the card or
        quiz they are on."""
        if p.total:
            done = self._(
                "%(course)s: %(done)d/%(count)d lessons done, %(score)d/%(total)d right.",
                course=p.course_title, done=p.lessons_done, count=p.lesson_count,
                score=p.score, total=p.total,
            )
        else:
            done = self._("%(course)s: %(done)d/%(count)d lessons done.",
                          course=p.course_title, done=p.lessons_done, count=p.lesson_count)
        if p.completed:
            return done + " " + self._("Course complete.")
        if p.in_quiz:
            return done + " " + self._("Now: the quiz of %(lesson)s.", lesson=p.lesson_title)
        return done + " " + self._("Now: %(lesson)s, card %(number)d/%(count)d.",
                                   lesson=p.lesson_title, number=p.card_number,
                                   count=p.card_count)
