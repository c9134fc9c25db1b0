"""What a lesson costs in SMS: the messages a learner receives going through it."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.channels.sms.packing import messages
from gateway.config import Carrier
from gateway.content.model import Course, Lesson
from gateway.learning import replies as r
from gateway.sms_text import POLICIES, count


def lesson_turns(course: Course, lesson: Lesson, number: int, locale: str, *,
                 familiar: bool | None = None) -> list[tuple[r.Reply, ...]]:
    """The engine's replies to a learner going through one lesson by SMS and answering
    every question right, one tuple per turn: a card each (the last with the first
    question: the SMS channel opens the quiz with it), feedback with the next question,
    and the last feedback with the lesson's result and the next lesson's title.
    `familiar` (whether the learner finished a lesson before) defaults to any lesson but
    the first. `course` must carry its lessons (as parsed from files)."""
    familiar = number > 1 if familiar is None else familiar
    title = course.title_in(locale)
    total_lessons = len(course.lesson_ids)
    cards = [r.CardShown(title, number, total_lessons, lesson.title, index + 1,
                         len(lesson.cards), card.text, familiar=familiar)
             for index, card in enumerate(lesson.cards)]
    turns: list[tuple[r.Reply, ...]] = [(card,) for card in cards[:-1]]
    pending: tuple[r.Reply, ...] = (cards[-1],)
    for index, question in enumerate(lesson.questions):
        asked = r.QuestionAsked(lesson.title, index + 1, len(lesson.questions), question.text,
                                question.options, familiar=familiar)
        turns.append((*pending, asked))
        pending = (r.Feedback(True, question.answer, question.options[question.answer],
                              question.explanation),)
    following = course.lessons.get(locale, ())[number:number + 1]
    next_title = following[0].title if following else None
    done = r.LessonDone(lesson.title, len(lesson.questions), len(lesson.questions), next_title,
                        familiar=familiar)
    turns.append((*pending, done))
    return turns


def lesson_messages(course: Course, lesson: Lesson, number: int, locale: str, *,
                    policy: str = Carrier.encoding_policy,
                    max_segments: int = Carrier.max_segments,
                    familiar: bool | None = None) -> list[str]:
    """The SMS bodies of one lesson for a learner who answers every question right
    (`lesson_turns`), worded, packed and split as the SMS channel queues them for a
    carrier with this `policy` and `max_segments` (by default, a carrier's defaults)."""
    return [body for turn in lesson_turns(course, lesson, number, locale, familiar=familiar)
            for body in messages(turn, locale, max_segments, policy)]


def lesson_segments(course: Course, lesson: Lesson, number: int, locale: str,
                    policy: str) -> int:
    """Segments a carrier charges to deliver the lesson under an encoding policy."""
    return sum(count(text, policy).segments
               for text in lesson_messages(course, lesson, number, locale, policy=policy))


@dataclass(frozen=True)
class LessonCost:
    """A lesson's SMS cost under one policy: segments charged, and how its messages go:
    'GSM-7', 'UCS-2' (70 characters a message, 67 a part), or 'GSM-7+UCS-2'."""

    segments: int
    encoding: str


def lesson_costs(course: Course, lesson: Lesson, number: int,
                 locale: str) -> dict[str, LessonCost]:
    """The lesson's cost under each policy of POLICIES, as packed for each."""
    costs = {}
    for policy in POLICIES:
        counted = [count(text, policy)
                   for text in lesson_messages(course, lesson, number, locale, policy=policy)]
        costs[policy] = LessonCost(sum(c.segments for c in counted),
                                   "+".join(sorted({c.encoding for c in counted})))
    return costs
