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


def first_words(text: str, chars: int = 30) -> str:
    """The start of a text, cut at a word within `chars` characters, '...' when cut."""
    if len(text) <= chars:
        return text
    cut = text[:chars].rsplit(" ", 1)[0] if " " in text[:chars] else text[:chars]
    return cut.rstrip(" ,.;:") + "..."


def _clock(hour: int) -> str:
    return f"{hour:02d}:00"


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

    def question_received(self, received: r.QuestionReceived) -> str:
        """The receipt of a question: it reached the tutors, and when to expect an answer."""
        if received.day == "today":
            when = self._("Expect an answer today before %(time)s.",
                          time=_clock(received.hour))
        elif received.day == "tomorrow":
            when = self._("Expect an answer tomorrow from %(time)s.",
                          time=_clock(received.hour))
        else:
            when = self._("Expect an answer on %(day)s from %(time)s.",
                          day=self.weekday(received.weekday), time=_clock(received.hour))
        return self._("Your question reached the tutors.") + " " + when

    def questions_open(self, waiting: r.QuestionsOpen) -> str:
        """How many of the learner's questions wait for a tutor, and the oldest's start."""
        return self.n_("%(n)d question waits for a tutor: \"%(start)s\"",
                       "%(n)d questions wait for a tutor, the first: \"%(start)s\"",
                       waiting.count, start=first_words(waiting.oldest))

    def question_status(self, asked: r.AskedQuestion) -> str:
        """When a question was asked and where it stands: waiting, answered (the answer
        follows), or closed by the tutors without one."""
        date = self.date(asked.asked_at)
        if asked.status == "answered":
            return self._("Asked on %(date)s, answered on %(answered)s:", date=date,
                          answered=self.date(asked.answered_at or asked.asked_at))
        if asked.status == "closed":
            return self._("Asked on %(date)s, closed without an answer.", date=date)
        return self._("Asked on %(date)s, waiting for a tutor.", date=date)

    def tutor_answer(self, answer: str) -> str:
        """A tutor's answer as the learner receives it (gateway/ops/tutoring.py)."""
        return self._("Your tutor answers: %(answer)s", answer=answer)

    def ask_limited(self, limit: int) -> str:
        """The one notice past the daily limit of questions."""
        return self._("You have asked %(limit)d questions today, the most a day. "
                      "Please ask again tomorrow.", limit=limit)
