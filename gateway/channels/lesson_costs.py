"""Which lesson a channel's traffic counts toward, for the cost per completed lesson
(docs/operations.md): every channel counts what it sends toward the lesson the learner
is in, through the store (`Store.add_lesson_cost`)."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.learning import Engine
from gateway.learning import replies as r
from gateway.store import LearnerRecord

# Replies that show a lesson's content: a card, a question, or the link to the lesson's
# page, of the lesson the learner is in once the engine is done.
CONTENT = (r.CardShown, r.QuestionAsked, r.LessonLinked)


def lesson_of(engine: Engine, learner: LearnerRecord, before: tuple[str, str] | None,
              replies: Iterable[r.Reply]) -> tuple[str, str] | None:
    """(course id, lesson id) that a reply made of `replies` counts toward: the lesson
    whose card or question it shows, else the lesson the learner was in before the engine
    ran (`before`: feedback, the lesson's end, help asked mid-lesson), else none."""
    if any(isinstance(reply, CONTENT) for reply in replies):
        return engine.current_lesson(learner)
    return before
