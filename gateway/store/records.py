"""Typed rows the store hands out, so callers never touch raw SQL rows."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass
class LearnerRecord:
    """A learner, identified by their E.164 phone number."""

    phone: str
    locale: str
    carrier_id: str
    stopped: bool = False
    current_course: str | None = None
    display_name: str | None = None
    timezone: str | None = None  # chosen by the learner; None: from number or carrier
    schedule: str = "off"  # daily lessons: 'off', 'daily' or 'weekdays'
    schedule_hour: int = 8  # local hour of the daily lesson
    schedule_paused: bool = False
    schedule_offered: bool = False
    next_check_at: float | None = None  # when the scheduler next looks at this learner
    last_seen_at: float | None = None
    nudges: int = 0  # reminders sent since the learner was last seen
    pending_review: dict | None = None  # {"course", "lesson", "question"} awaiting an answer
    # How lessons come by SMS: 'sms' (in full, card by card) or 'link' (one SMS carrying a
    # link to the lesson's page, docs/web.md, Lessons by link); whether links were offered.
    delivery: str = "sms"
    link_offered: bool = False
    # The channel unsolicited messages come by: 'sms' or 'whatsapp' as the learner chose
    # (gateway/channels/choice.py); None: the channel they last wrote on (`carrier_id`).
    channel: str | None = None
    # When this number's learner row was made (read from the store; saving leaves it as is):
    # a learner erased and begun again is a new row, with a later time.
    created_at: float | None = None


@dataclass
class QuizState:
    """Where a learner is in a lesson's quiz.

    `queue` holds the question numbers still to ask, the next first; a question
    answered wrong goes to the back of the queue once (`requeued`).
    """

    queue: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    right_first_try: list[int] = field(default_factory=list)

    def to_json(self) -> str:
        """The state as JSON for the `enrollments.quiz` column."""
        return json.dumps(
            {"queue": self.queue, "requeued": self.requeued, "right": self.right_first_try}
        )

    @classmethod
    def from_json(cls, text: str | None) -> QuizState | None:
        """Parse the column; None when the learner is not in a quiz."""
        if not text:
            return None
        data = json.loads(text)
        return cls(list(data["queue"]), list(data["requeued"]), list(data["right"]))


@dataclass
class EnrollmentRecord:
    """A learner's place in one course.

    `position` is the lesson number (0-based); `card` the card last shown
    (-1: the lesson has not been opened yet); `quiz` is set while in the quiz.
    """

    phone: str
    course_id: str
    position: int = 0
    card: int = -1
    quiz: QuizState | None = None
    completed: bool = False


@dataclass(frozen=True)
class InboundRecord:
    """A stored inbound message and whether it was new."""

    id: int
    carrier_id: str
    carrier_message_id: str
    phone: str
    text: str
    status: str
    is_new: bool
    throttled: bool = False  # over the carrier's inbound limits: stored, not answered
    recipient: str = ""  # the number or short code it was sent to, as the carrier said


@dataclass
class UssdSessionRecord:
    """A USSD session: the learner, the inputs so far and the screen they are on."""

    carrier_id: str
    session_id: str
    phone: str
    service_code: str = ""
    history: str = ""
    view: dict = field(default_factory=dict)
    screen: str = ""
    state: str = "open"
    started_at: float = 0.0
    updated_at: float = 0.0
    expires_at: float = 0.0
    # The lesson ("course/lesson") this session last counted toward (its cost).
    lesson: str | None = None


@dataclass(frozen=True)
class OutboxRecord:
    """A message waiting in, or sent from, the outbox."""

    id: int
    carrier_id: str
    phone: str
    body: str
    status: str
    attempts: int
    to_stopped_ok: bool
    carrier_message_id: str | None = None
    error: str | None = None
    inbound_id: int | None = None
    kind: str = "reply"  # or what an unsolicited message is (Store.enqueue)
    payload: str | None = None  # its structure as JSON (WhatsApp's buttons, a list)
    program: str = ""  # the program the message is about ('' none: docs/programs.md)


@dataclass(frozen=True)
class CertificateRecord:
    """A certificate: what a learner completed, as it was when they passed. `code` is
    canonical (gateway/learning/certificates.py); `holder` the learner's display name,
    else their masked number; `phone` None once the learner was erased. Its Open Badge
    (gateway/learning/badges.py): `badge_id`, the assertion's address (random, not
    derived from the code), and `badge_salt`, the salt of the hashed recipient;
    `revoked_at` (Unix seconds) and `revocation_reason` once revoked."""

    code: str
    phone: str | None
    course_id: str
    course_title: str
    holder: str
    score: int
    total: int
    issued_at: float
    badge_id: str = ""
    badge_salt: str = ""
    revoked_at: float | None = None
    revocation_reason: str | None = None
