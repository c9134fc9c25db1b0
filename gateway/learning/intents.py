"""What a learner asks for, whatever channel they asked on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Start:
    """Enroll in a course (by code or catalogue number), or resume; also opts back in."""

    course: str | None = None


@dataclass(frozen=True)
class Courses:
    """List the courses."""


@dataclass(frozen=True)
class Next:
    """Go on: the next card, the quiz, or the next lesson."""


@dataclass(frozen=True)
class Back:
    """Go back one card in the current lesson (not out of a quiz)."""


@dataclass(frozen=True)
class Status:
    """Show progress in the current course."""


@dataclass(frozen=True)
class Help:
    """Explain what the learner can do now."""


@dataclass(frozen=True)
class Language:
    """Change the learner's language; None asks which languages there are."""

    code: str | None = None


@dataclass(frozen=True)
class Stop:
    """Opt out of all messages until Start."""


@dataclass(frozen=True)
class Answer:
    """Answer the current quiz question with option number `choice` (0-based)."""

    choice: int


@dataclass(frozen=True)
class Schedule:
    """Daily lessons: turn them on ('daily' or 'weekdays'), off ('off'), and/or set the
    local hour (0-23) they come at. Both None asks how they are set. `unclear_hour`: what
    the learner gave as an hour when it is not a whole hour of the day ('7:30', '25'):
    nothing changes, and they are told how to give one."""

    frequency: str | None = None
    hour: int | None = None
    unclear_hour: str | None = None


@dataclass(frozen=True)
class Pause:
    """Hold daily lessons and reminders until Resume."""


@dataclass(frozen=True)
class Resume:
    """Daily lessons and reminders again, as they were set."""


@dataclass(frozen=True)
class SetName:
    """Set the name certificates show, as the learner typed it; None shows the name."""

    name: str | None = None


@dataclass(frozen=True)
class Verify:
    """Check a certificate by its code, as typed; None asks how."""

    code: str | None = None


@dataclass(frozen=True)
class Delivery:
    """How lessons come from now on: 'link' (one short message carrying a link to the
    lesson's page) or 'sms' (in full, card by card)."""

    mode: str


@dataclass(frozen=True)
class Channel:
    """The channel unsolicited messages (daily lessons, reviews, reminders) come by from
    now on: 'sms' or 'whatsapp'; None: which it is, and which the learner may choose."""

    name: str | None = None


@dataclass(frozen=True)
class Ask:
    """A question for the tutors, as the learner typed it; None asks how to ask."""

    text: str | None = None


@dataclass(frozen=True)
class Join:
    """Join the configured program `program` (docs/programs.md), having come `via` its
    'keyword', 'short_code', 'ussd' code or 'web' link; then start its first course."""

    program: str
    via: str = "keyword"


@dataclass(frozen=True)
class Unknown:
    """Input the channel could not understand."""

    text: str = ""


Intent = (
    Start | Courses | Next | Back | Status | Help | Language | Stop | Answer | Schedule
    | Pause | Resume | SetName | Verify | Delivery | Channel | Ask | Join | Unknown
)
