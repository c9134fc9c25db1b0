"""Taking the bundled course by SMS from start to finish, in any language."""

from __future__ import annotations

from collections.abc import Callable

from gateway.content.model import SMS
from gateway.store import Store


def take_course_by_sms(text: Callable[[str], str], store: Store, course_id: str, locale: str,
                       first_reply: str, next_word: str,
                       answer: Callable[[int, int], str],
                       sent: Callable[[str], str] = str) -> str:
    """From the reply to START, read every card and answer every question right.

    `text` sends one SMS and returns the replies it queued; `answer(n, right)` is what the
    learner types for the n-th question of the course whose right option is `right`
    (0-based). Checks that each lesson's title, and the cards, questions and explanations
    of its SMS edition (short forms, web-only cards left out), reach the learner in
    `locale`, as `sent` makes them (the carrier's encoding policy); returns the last reply.
    """
    reply = first_reply
    course = store.course(course_id)
    asked = 0
    for number, lesson_id in enumerate(course.lesson_ids, start=1):
        lesson = store.lesson(course_id, lesson_id, locale).edition(SMS)
        assert sent(lesson.title) in reply, reply
        cards = [card for card in lesson.cards if card.text]
        for card in cards:
            assert sent(card.text) in " ".join(reply.split()), reply
            if card is not cards[-1]:
                reply = text(next_word)
        reply = text(next_word)  # to the quiz
        for question in lesson.questions:
            assert sent(question.text) in reply, reply
            reply = text(answer(asked, question.answer))
            asked += 1
            assert sent(question.explanation) in " ".join(reply.split()), reply
        if number < len(course.lesson_ids):
            reply = text(next_word)
    return reply
