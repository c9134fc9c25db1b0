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
    """A card of a lesson."""

    course_title: str
    lesson_number: int
    lesson_count: int
    lesson_title: str
    card_number: int
    card_count: int
    text: str


@dataclass(frozen=True)
class QuestionAsked:
    """A quiz question with its options; `again` when it comes back after a wrong answer."""

    lesson_title: str
    number: int
    total: int
    text: str
    options: tuple[str, ...]
    again: bool = False


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
    """A lesson's quiz is over."""

    lesson_title: str
    score: int
    total: int
    next_lesson_title: str | None


@dataclass(frozen=True)
class CourseDone:
    """The last lesson of a course is done."""

    course_title: str
    score: int
    total: int
    pass_mark: int
    passed: bool


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


@dataclass(frozen=True)
class HelpShown:
    """What the learner can do, given where they are."""

    enrolled: bool
    in_quiz: bool
    option_count: int
    stopped: bool


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
class Notice:
    """A short situational message, named by `kind`, with its details.

    Kinds: 'not_understood' (expecting: 'answer' | 'next' | 'start'),
    'unknown_course' (asked), 'no_question', 'answer_out_of_range' (count),
    'answer_first', 'not_enrolled', 'course_complete', 'no_courses'.
    """

    kind: str
    details: dict = field(default_factory=dict)


Reply = (
    CourseList | Welcome | CardShown | QuestionAsked | Feedback | LessonDone | CourseDone
    | Progress | HelpShown | LanguageChanged | LanguageChoices | Stopped | Notice
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
