"""What a lesson costs on WhatsApp: the messages a learner receives going through it, on
the real path (`receive_whatsapp`: the engine, WhatsApp's cards, buttons and lists) over
a scratch database (gateway/channels/course_walk.py), priced at the carrier's price of a
service message: every one is a reply inside the 24-hour window the learner's own
message opened (docs/whatsapp.md). What the learner sends costs the school nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.channels.course_walk import CourseWalker
from gateway.channels.whatsapp.conversation import receive_whatsapp
from gateway.config import Carrier


@dataclass(frozen=True)
class LessonMessages:
    """The WhatsApp messages one lesson sends a learner: every answer right, and each
    question answered wrong once (then right when asked again); from the message that
    opens the lesson to the one that gives its result."""

    lesson_id: str
    locale: str
    right: int
    wrong_once: int


def lesson_messages(walker: CourseWalker, carrier: Carrier,
                    locale: str) -> list[LessonMessages]:
    """Each lesson the walker's course has in `locale`, as a learner writing to `carrier`
    (a WhatsApp carrier) receives it."""
    right = walker.walk_on(receive_whatsapp, carrier, locale, wrong_once=False)
    wrong = walker.walk_on(receive_whatsapp, carrier, locale, wrong_once=True)
    return [LessonMessages(lesson.id, locale, _count(right.get(lesson.id, [])),
                           _count(wrong.get(lesson.id, [])))
            for lesson in walker.course.lessons.get(locale, ())]


def _count(replies: list[list[tuple[str, int]]]) -> int:
    return sum(len(reply) for reply in replies)
