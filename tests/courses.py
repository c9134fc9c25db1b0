"""Taking the bundled course by SMS from start to finish, in any language."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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


# A lesson in full text only (no SMS edition), its cards each longer than one SMS: the
# bundled course's SMS edition is short, so what long cards do by SMS and USSD (split into
# several messages, paged on a screen) is checked on this course.
LONG_CARDS = (
    "A good freelance skill is one people already pay for near you. Look around your "
    "street: who gets paid every week? Tailors, phone repairers, hairdressers, riders, "
    "people who type CVs. Start from what you see being bought.",
    "List three things you can do well today, not one day. Then ask: who needs this, how "
    "often, and do they pay for it? Fixing phone screens is needed every day; painted "
    "portraits are needed far less often.",
    "Take a photo of every job you finish: a dress, a repaired phone, a logo, a braided "
    "style. Before and after pictures on your phone are your shop window when a new "
    "client asks what you can do.",
)
LONG_LESSON = "# Find a skill people pay for\n\n" + "\n\n".join(LONG_CARDS) + """

## Quiz

? Which skill is the best first bet for earning quickly?
- One you plan to learn later
+ One people near you pay weekly
- One nobody in your area offers
= Start where money already changes hands. Demand you can see is safer than demand you hope for.

? A new client asks to see your work. What helps most?
+ Photos of jobs you finished
- A list of your certificates
- A promise that you are the best
= Clients trust what they can see. Before and after photos on your phone prove your skill fast.
"""


def long_card_course(root: Path) -> Path:
    """Under `root`, a course 'long' (code LONG, English, one lesson) whose three cards
    are each longer than one SMS segment; returns `root`."""
    folder = root / "long"
    (folder / "en").mkdir(parents=True)
    (folder / "course.toml").write_text(
        'code = "LONG"\ndefault_locale = "en"\npass_mark = 70\nlessons = ["one"]\n\n'
        '[title]\nen = "Long cards"\n', encoding="utf-8")
    (folder / "en" / "one.txt").write_text(LONG_LESSON, encoding="utf-8")
    return root
