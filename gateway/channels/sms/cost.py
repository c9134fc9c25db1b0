"""What a lesson costs in SMS: the messages a learner receives going through it."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.channels.sms.render import render
from gateway.content.model import SMS, Course, Lesson
from gateway.learning import replies as r
from gateway.sms_text import POLICIES, count


def lesson_messages(course: Course, lesson: Lesson, number: int, locale: str) -> list[str]:
    """The SMS texts of one lesson for a learner who answers every question right.

    In the lesson's SMS edition: one message per card it has, the first
    question, then feedback with the next question, and the last feedback with
    the lesson's result and the next lesson's title. `course` must carry its
    lessons (as parsed from files).
    """
    title = course.title_in(locale)
    total_lessons = len(course.lesson_ids)
    lesson = lesson.edition(SMS)  # short forms where authored, web-only cards left out
    cards = [card for card in lesson.cards if card.text]
    messages = []
    for index, card in enumerate(cards):
        shown = r.CardShown(title, number, total_lessons, lesson.title, index + 1,
                            len(cards), card.text)
        messages.append(render((shown,), locale))
    pending: list[r.Reply] = []
    for index, question in enumerate(lesson.questions):
        asked = r.QuestionAsked(lesson.title, index + 1, len(lesson.questions), question.text,
                                question.options)
        messages.append(render((*pending, asked), locale))
        pending = [r.Feedback(True, question.answer, question.options[question.answer],
                              question.explanation)]
    following = course.lessons.get(locale, ())[number:number + 1]
    next_title = following[0].title if following else None
    done = r.LessonDone(lesson.title, len(lesson.questions), len(lesson.questions), next_title)
    messages.append(render((*pending, done), locale))
    return messages


def lesson_segments(course: Course, lesson: Lesson, number: int, locale: str,
                    policy: str) -> int:
    """Segments a carrier charges to deliver the lesson under an encoding policy."""
    return sum(count(text, policy).segments
               for text in lesson_messages(course, lesson, number, locale))


@dataclass(frozen=True)
class LessonCost:
    """A lesson's SMS cost under one policy: segments charged, and how its messages go:
    'GSM-7', 'UCS-2' (70 characters a message, 67 a part), or 'GSM-7+UCS-2'."""

    segments: int
    encoding: str


def lesson_costs(course: Course, lesson: Lesson, number: int,
                 locale: str) -> dict[str, LessonCost]:
    """The lesson's cost under each policy of POLICIES, from one rendering of it."""
    messages = lesson_messages(course, lesson, number, locale)
    costs = {}
    for policy in POLICIES:
        counted = [count(text, policy) for text in messages]
        costs[policy] = LessonCost(sum(c.segments for c in counted),
                                   "+".join(sorted({c.encoding for c in counted})))
    return costs
