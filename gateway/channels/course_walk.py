"""Simulated learners going through a course on a channel's real path, over a scratch
database: what each lesson sends a learner, as the channel queues it. SMS prices it in
segments (gateway/channels/sms/cost.py), WhatsApp in messages
(gateway/channels/whatsapp/cost.py); `learnline lessons check` prints both.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path

from gateway.channels.texts import LETTERS
from gateway.config import Carrier
from gateway.content.importer import save_courses
from gateway.content.model import Course, Lesson
from gateway.store import Store, programs

# A channel's way in: (store, carrier, the carrier's message id, phone, text), as
# receive_inbound and receive_whatsapp take a learner's message.
Receive = Callable[[Store, Carrier, str, str, str], object]
# Per lesson id, the replies a learner got: each the messages queued for one of their
# texts, as (body, segments).
Walked = dict[str, list[list[tuple[str, int]]]]


class CourseWalker:
    """Simulated learners going through a course on a scratch database: each walk is a
    new learner who sends START, then NEXT, or the letter of an answer when a question
    waits, until the course is complete. Use as a context manager."""

    def __init__(self, course: Course):
        self.course = course
        self._dir = tempfile.TemporaryDirectory(prefix="learnline-cost-")
        self.store = Store.open(Path(self._dir.name) / "cost.db", migrate=True)
        save_courses(self.store, [course])
        self._learners = 0
        self._walks: dict[tuple, Walked] = {}

    def __enter__(self) -> CourseWalker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the scratch database."""
        self.store.close()
        self._dir.cleanup()

    def walk_on(self, receive: Receive, carrier: Carrier, locale: str, *,
                wrong_once: bool) -> Walked:
        """One learner reading `locale` through the whole course, writing through
        `receive` to `carrier`: per lesson id, the replies they get. With `wrong_once`,
        each question is answered wrong the first time. The same walk is made once."""
        key = (receive, carrier.id, carrier.encoding_policy, carrier.max_segments,
               carrier.web_url, locale, wrong_once)
        if key not in self._walks:
            self._walks[key] = self._walk(receive, dataclasses.replace(carrier, locale=locale),
                                          locale, wrong_once)
        return self._walks[key]

    def _walk(self, receive: Receive, carrier: Carrier, locale: str,
              wrong_once: bool) -> Walked:
        course, store = self.course, self.store
        self._learners += 1
        phone = f"+23480{self._learners:08d}"
        if course.program:  # the learner belongs to the course's program: they see it
            programs.join(store, course.program, phone, "keyword")
        seen = 0
        replies: Walked = {}
        text = "START"
        for sent in range(1, 10_000):
            enrollment = store.enrollment(phone, course.id)
            position = enrollment.position if enrollment else 0
            receive(store, carrier, f"cost-{self._learners}-{sent}", phone, text)
            queued = store.priced_messages(phone, seen)
            if queued:
                seen = queued[-1][0]
            replies.setdefault(course.lesson_ids[position], []).append(
                [(body, segments) for _, body, segments in queued])
            enrollment = store.enrollment(phone, course.id)
            if enrollment is None or enrollment.completed:
                return replies
            text = "NEXT"
            if enrollment.quiz is not None and enrollment.quiz.queue:
                lesson = _lesson(course, locale, course.lesson_ids[enrollment.position])
                number = enrollment.quiz.queue[0]
                question = lesson.questions[number]
                choice = question.answer
                if wrong_once and number not in enrollment.quiz.requeued:
                    choice = (choice + 1) % len(question.options)
                text = LETTERS[choice]
        raise RuntimeError(f"course {course.id}: no end after 10,000 messages")


def _lesson(course: Course, locale: str, lesson_id: str) -> Lesson:
    """The lesson as a learner reading `locale` gets it (else in the default language)."""
    for reading in (course.locale_for(locale), course.default_locale):
        for lesson in course.lessons.get(reading, ()):
            if lesson.id == lesson_id:
                return lesson
    raise KeyError(lesson_id)
