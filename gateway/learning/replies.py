"""What the engine answers: meaning, not wording. Channels choose the words and layout."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CourseEntry:
    """One course in a catalogue."""

    number: int
    code: str
    title: str
    summary: str
    lesson_count: int
    enrolled: bool = False
    completed: bool = False


@dataclass(frozen=True)
class CourseList:
    """The catalogue of courses."""

    courses: tuple[CourseEntry, ...]


@dataclass(frozen=True)
class Welcome:
    """The learner just enrolled in (or came back to) a course."""

    course_title: str
    lesson_count: int
    resumed: bool = False


@dataclass(frozen=True)
class CardShown:
    """A card of a lesson; `familiar` when the learner has finished a lesson before (a
    channel may then word its navigation tersely)."""

    course_title: str
    lesson_number: int
    lesson_count: int
    lesson_title: str
    card_number: int
    card_count: int
    text: str
    familiar: bool = False


@dataclass(frozen=True)
class QuestionAsked:
    """A quiz question with its options; `again` when it comes back after a wrong answer;
    `familiar` as in CardShown."""

    lesson_title: str
    number: int
    total: int
    text: str
    options: tuple[str, ...]
    again: bool = False
    familiar: bool = False


@dataclass(frozen=True)
class Feedback:
    """The verdict on an answer, the right option and why."""

    correct: bool
    right_option: int
    right_text: str
    explanation: str
    will_return: bool = False


@dataclass(frozen=True)
class LessonDone:
    """A lesson's quiz is over; `familiar` when the learner had finished a lesson before
    this one. The next lesson is the one after it, or, after a course's last lesson, the
    first the learner skipped (None: the course is done)."""

    lesson_title: str
    score: int
    total: int
    next_lesson_title: str | None
    familiar: bool = False
    next_lesson_id: str | None = None


@dataclass(frozen=True)
class CourseDone:
    """The last lesson of a course is done."""

    course_title: str
    score: int
    total: int
    pass_mark: int
    passed: bool
    certificate: str | None = None  # the certificate's code (canonical), when passed


@dataclass(frozen=True)
class Progress:
    """Where the learner stands in their current course."""

    course_title: str
    lessons_done: int
    lesson_count: int
    score: int
    total: int
    lesson_title: str | None
    card_number: int
    card_count: int
    in_quiz: bool
    completed: bool
    lesson_number: int = 1
    pass_mark: int = 70  # percent
    passed: bool | None = None  # once completed: whether the score reaches the pass mark


@dataclass(frozen=True)
class HelpShown:
    """What the learner can do, given where they are; `channel_choice` when their carrier
    lets them choose the channel of their daily lessons (intents.Channel)."""

    enrolled: bool
    in_quiz: bool
    option_count: int
    stopped: bool
    channel_choice: bool = False


@dataclass(frozen=True)
class LanguageChanged:
    """The learner's language is now `locale`."""

    locale: str


@dataclass(frozen=True)
class LanguageChoices:
    """The languages a learner can pick; `asked` is what they typed, if anything."""

    locales: tuple[str, ...]
    asked: str | None = None


@dataclass(frozen=True)
class Stopped:
    """Confirmation of an opt-out: the last message until Start."""


@dataclass(frozen=True)
class ScheduleShown:
    """How daily lessons are set: `frequency` 'off', 'daily' or 'weekdays', at local
    `hour`; `changed` when this message changed them; `moved_from` the hour the learner
    asked for when it fell in the carrier's quiet hours; `workdays` the days of the
    learner's working week; `resumed` when this message ended a pause."""

    frequency: str
    hour: int
    paused: bool = False
    changed: bool = True
    resumed: bool = False
    moved_from: int | None = None
    # The learner's working week, the days 'weekdays' lessons come: first and last day,
    # Monday 0 ((0, 4) Monday to Friday; (6, 3) Sunday to Thursday).
    workdays: tuple[int, int] = (0, 4)


@dataclass(frozen=True)
class ScheduleOffer:
    """An offer, made once, to get the next lesson automatically every day."""

    hour: int


@dataclass(frozen=True)
class LessonLinked:
    """A lesson given as a link to its page (the learner takes lessons by link): `token`
    opens it for this learner alone (gateway/store/web_sessions.py); its quiz waits for
    answers there or by message."""

    course_title: str
    lesson_number: int
    lesson_count: int
    lesson_title: str
    token: str
    question_count: int


@dataclass(frozen=True)
class DeliveryChanged:
    """The learner chose how lessons come: 'link' or 'sms' (in full). `links`: whether
    lessons by link can be had here (a channel with no web address for its learners says
    False, and the reply then offers no LINK)."""

    mode: str
    links: bool = True


@dataclass(frozen=True)
class ChannelShown:
    """The channel unsolicited messages come by (`channel`: 'sms' or 'whatsapp'), the
    ones the learner may choose (`offered`, theirs first), whether they just chose it
    (`changed`), and a channel they asked for that does not reach them (`refused`)."""

    channel: str
    offered: tuple[str, ...]
    changed: bool = False
    refused: str | None = None


@dataclass(frozen=True)
class LinkOffer:
    """An offer, made once, to get each lesson as a link to its page."""


@dataclass(frozen=True)
class DailyLesson:
    """Heads the day's lesson, sent because the learner asked for daily lessons."""

    lesson_number: int
    lesson_count: int


@dataclass(frozen=True)
class Reminder:
    """A nudge to a learner who stopped in the middle of a lesson."""

    course_title: str
    lesson_title: str
    in_quiz: bool


@dataclass(frozen=True)
class ReviewAsked:
    """A question answered wrong before, back for review."""

    lesson_title: str
    text: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class ReviewFeedback:
    """The verdict on a review answer; `done` once it was right twice."""

    correct: bool
    right_option: int
    right_text: str
    explanation: str
    done: bool


@dataclass(frozen=True)
class NameShown:
    """The name the learner's certificates show: `name` as they set it (None: not set, so
    their masked `number` stands in); `changed` when this message set it, and then
    `certificates`: how many certificates they already held now show it."""

    name: str | None
    number: str
    changed: bool = False
    certificates: int = 0


@dataclass(frozen=True)
class CertificateShown:
    """A certificate someone checked by its code: what it certifies. `code` is canonical;
    `issued_at` Unix seconds; `revoked` with the issuer's `revocation_reason` and
    `revoked_at` (Unix seconds) once it was revoked (`learnline certificates revoke`);
    `erased` once its holder's record was erased (the certificate still verifies, without
    a holder; its badge no longer stands); `badge_id` its Open Badge's id;
    `holder_is_number` when `holder` is the learner's masked number (no name set)."""

    code: str
    course_title: str
    holder: str
    score: int
    total: int
    issued_at: float
    revoked: bool = False
    revocation_reason: str | None = None
    badge_id: str = ""
    revoked_at: float | None = None
    erased: bool = False
    holder_is_number: bool = False

    def public_holder(self, badges_on: bool) -> str | None:
        """The holder as anyone with the code is shown them: None (a learner, unnamed)
        for a masked number while badges are on. A badge's recipient is a salted SHA-256
        of the number, its salt published: beside a masked number it gives the hidden
        digits away in a second (docs/integrations.md, Open Badges)."""
        return None if badges_on and self.holder_is_number else self.holder


@dataclass(frozen=True)
class QuestionReceived:
    """The learner's question reached the tutors; an answer can be expected `day`
    'today' (before `hour`), 'tomorrow' or 'weekday' (on `weekday`, 0 Monday, from
    `hour`), local time."""

    day: str
    hour: int
    weekday: int = 0


@dataclass(frozen=True)
class QuestionsOpen:
    """The learner's questions still waiting for a tutor: how many, and the oldest's
    text."""

    count: int
    oldest: str


@dataclass(frozen=True)
class AskedQuestion:
    """One of the learner's questions as they see it (the web lists them): its text,
    when it was asked, its status ('open', 'answered', 'closed') and, once a tutor
    answered, the answer and when."""

    text: str
    asked_at: float
    status: str
    answer: str | None = None
    answered_at: float | None = None


@dataclass(frozen=True)
class Joined:
    """The learner joined the program named `program` (its name as configured), or was
    in it already (`already`)."""

    program: str
    already: bool = False


@dataclass(frozen=True)
class Notice:
    """A short situational message, named by `kind`, with its details.

    Kinds: 'not_understood' (expecting: 'answer' | 'next' | 'start'),
    'unknown_course' (asked), 'no_question', 'answer_out_of_range' (count),
    'answer_first', 'not_enrolled', 'course_complete', 'no_courses',
    'verify_how' (how to check a certificate), 'no_certificate' (code: what was asked,
    malformed: True when it cannot be a code), 'verify_limited' (too many checks),
    'ask_how' (how to ask a tutor), 'ask_limited' (limit: questions a day).
    Channels add their own: 'link_unavailable' (SMS), 'earlier_button' (WhatsApp: a
    button tapped on an earlier message than the latest, not taken as an answer).
    """

    kind: str
    details: dict = field(default_factory=dict)


Reply = (
    CourseList | Welcome | CardShown | QuestionAsked | Feedback | LessonDone | CourseDone
    | Progress | HelpShown | LanguageChanged | LanguageChoices | Stopped | ScheduleShown
    | ScheduleOffer | DailyLesson | Reminder | ReviewAsked | ReviewFeedback | NameShown
    | CertificateShown | LessonLinked | DeliveryChanged | ChannelShown | LinkOffer
    | QuestionReceived | QuestionsOpen | Joined | Notice
)


@dataclass(frozen=True)
class LessonStatus:
    """One lesson in a course outline, with a learner's standing in it."""

    number: int
    id: str
    title: str
    done: bool
    score: int
    total: int
    current: bool


@dataclass(frozen=True)
class CourseOutline:
    """A course with its lessons and a learner's progress in each."""

    id: str
    code: str
    title: str
    summary: str
    lessons: tuple[LessonStatus, ...]
    completed: bool
    pass_mark: int

    @property
    def score(self) -> int:
        """Right first-try answers over the finished lessons."""
        return sum(lesson.score for lesson in self.lessons if lesson.done)

    @property
    def total(self) -> int:
        """Questions in the finished lessons."""
        return sum(lesson.total for lesson in self.lessons if lesson.done)


@dataclass(frozen=True)
class QuestionResult:
    """One graded question of a submitted quiz."""

    number: int
    text: str
    options: tuple[str, ...]
    chosen: int | None
    right: int
    explanation: str

    @property
    def correct(self) -> bool:
        """Whether the chosen option is the right one."""
        return self.chosen == self.right


@dataclass(frozen=True)
class QuizGraded:
    """A whole quiz answered at once (on a page), graded."""

    lesson_title: str
    results: tuple[QuestionResult, ...]

    @property
    def score(self) -> int:
        """How many questions were answered right."""
        return sum(1 for result in self.results if result.correct)
