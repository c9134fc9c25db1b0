"""Where a course's text meets WhatsApp's limits, for `learnline lessons check`.

Each lesson is read as the WhatsApp channel teaches it (the full edition, web-only cards
included), in every language of the course, and its cards and questions are worded by
render.py and measured as WhatsApp counts (UTF-16 units), against the Cloud API's limits
(carrier_adapters/whatsapp.py): 1024 for a message with buttons or a list, 72 for a list
row's description, 20 for a reply button's text, 24 for a list row's title.

Two kinds of finding:

- `overflows`: text WhatsApp cannot show where it belongs, as warnings located at the
  card or option (`path:line`). A card whose message is over 1024 goes as plain text with
  its Next button in a message of its own; an option of a list question over 72 shows cut
  in the list (its whole text stays in the message above the list).
- `cut_titles`: options longer than their button or row title (with their letter, `A) `),
  which render cuts with `…` (after a whole word where it can), the whole option being
  written in the message above the buttons. They are many and harmless, so `lessons check`
  counts them per language (and lists them per lesson under `--verbose`), not as warnings.

The lesson format's own limits (480 characters a card, 160 a question with its options,
40 an option) keep every message within WhatsApp's 4096 for a text message and a question
within 1024, so neither is checked here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from carrier_adapters.whatsapp import (
    BUTTON_TITLE_MAX,
    BUTTONS_MAX,
    INTERACTIVE_BODY_MAX,
    ROW_DESCRIPTION_MAX,
    ROW_TITLE_MAX,
    utf16_length,
)
from gateway.channels.texts import LETTERS
from gateway.channels.whatsapp.render import compose
from gateway.content.model import FULL, Course, Lesson
from gateway.content.parser import Problem, card_lines, option_lines
from gateway.learning import replies as r


@dataclass(frozen=True)
class CutTitle:
    """An option longer than its button's or list row's title: by how much."""

    locale: str
    lesson_id: str
    question: int  # from 1
    letter: str
    over: int


def overflows(course: Course) -> list[Problem]:
    """Each place, in every language of the course, where WhatsApp cannot show a lesson's
    text whole where it belongs: warnings naming the limit, the language and by how much."""
    return [problem for locale in course.locales for problem in overflows_in(course, locale)]


def overflows_in(course: Course, locale: str) -> list[Problem]:
    """`overflows` of one language of the course."""
    return [problem for number, lesson in enumerate(course.lessons.get(locale, ()), 1)
            for problem in _lesson_overflows(course, lesson.edition(FULL), number, locale)]


def option_count(course: Course, locale: str) -> int:
    """How many options the course's questions have in `locale` (WhatsApp's edition)."""
    return sum(len(question.options) for lesson in course.lessons.get(locale, ())
               for question in lesson.edition(FULL).questions)


def cut_titles(course: Course) -> list[CutTitle]:
    """Every option, in every language of the course, that its reply button or list row
    shows cut (the message above the buttons carries it whole)."""
    found = []
    for locale in course.locales:
        for lesson in course.lessons.get(locale, ()):
            for number, question in enumerate(lesson.edition(FULL).questions, 1):
                limit = BUTTON_TITLE_MAX if len(question.options) <= BUTTONS_MAX \
                    else ROW_TITLE_MAX
                for letter, option in zip(LETTERS, question.options, strict=False):
                    over = utf16_length(f"{letter}) {option}") - limit
                    if over > 0:
                        found.append(CutTitle(locale, lesson.id, number, letter, over))
    return found


def _lesson_overflows(course: Course, lesson: Lesson, number: int, locale: str
                      ) -> Iterator[Problem]:
    where = Path(lesson.path)
    cards = card_lines(where)
    for index, card in enumerate(lesson.cards):
        shown = r.CardShown(course.title_in(locale), number, len(course.lesson_ids),
                            lesson.title, index + 1, len(lesson.cards), card.text)
        length = utf16_length(compose(shown, locale)[0])
        if length > INTERACTIVE_BODY_MAX:
            yield Problem(lesson.path, cards[index] if index < len(cards) else 1,
                          f"card {index + 1}: its WhatsApp message is {length} characters, "
                          f"{length - INTERACTIVE_BODY_MAX} over WhatsApp's "
                          f"{INTERACTIVE_BODY_MAX} for a message with buttons ({locale}): it "
                          "goes as text, its Next button in a message of its own",
                          warning=True)
    options = option_lines(where)
    for index, question in enumerate(lesson.questions):
        if len(question.options) <= BUTTONS_MAX:
            continue  # reply buttons: each option whole in the message above them
        lines = options[index] if index < len(options) else []
        for place, (letter, option) in enumerate(zip(LETTERS, question.options,
                                                     strict=False)):
            length = utf16_length(option)
            if length > ROW_DESCRIPTION_MAX:
                yield Problem(lesson.path, lines[place] if place < len(lines) else 1,
                              f"question {index + 1}, option {letter}: {length} characters, "
                              f"{length - ROW_DESCRIPTION_MAX} over WhatsApp's "
                              f"{ROW_DESCRIPTION_MAX} for a list row's description "
                              f"({locale}): the list shows it cut", warning=True)
