"""The shape of course content once parsed: plain, immutable data."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Question:
    """A single-choice question: 2 to 4 options, one right, and why."""

    text: str
    options: tuple[str, ...]
    answer: int
    explanation: str


@dataclass(frozen=True)
class Card:
    """One short paragraph of a lesson."""

    text: str


@dataclass(frozen=True)
class Lesson:
    """A lesson in one locale: a title, a few cards and a quiz."""

    id: str
    locale: str
    title: str
    cards: tuple[Card, ...]
    questions: tuple[Question, ...]
    path: str = ""

    def to_json(self) -> str:
        """The lesson as canonical JSON (what the store keeps)."""
        data = asdict(self)
        data.pop("path")
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Lesson:
        """Rebuild a lesson from `to_json` output."""
        data = json.loads(text)
        return cls(
            id=data["id"],
            locale=data["locale"],
            title=data["title"],
            cards=tuple(Card(**c) for c in data["cards"]),
            questions=tuple(
                Question(
                    text=q["text"],
                    options=tuple(q["options"]),
                    answer=q["answer"],
                    explanation=q["explanation"],
                )
                for q in data["questions"]
            ),
        )

    @property
    def content_hash(self) -> str:
        """A short digest that changes whenever the lesson's text changes."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Course:
    """A course: its keyword, titles per locale and lessons per locale, in order."""

    id: str
    code: str
    default_locale: str
    pass_mark: int
    lesson_ids: tuple[str, ...]
    titles: dict[str, str]
    summaries: dict[str, str]
    locales: tuple[str, ...] = ()
    lessons: dict[str, tuple[Lesson, ...]] = field(default_factory=dict)
    # SMS segments a lesson may cost a learner who answers right (course.toml; None: the
    # default, gateway.channels.sms.cost.budget). Read by `lessons check`, not stored.
    sms_budget: int | None = None
    sms_budget_per_locale: dict[str, int] = field(default_factory=dict)

    def locale_for(self, wanted: str) -> str:
        """The locale to teach in for a learner who reads `wanted`."""
        return wanted if wanted in self.locales else self.default_locale

    def title_in(self, locale: str) -> str:
        """The course title in `locale`, else in the course's default locale."""
        return self.titles.get(locale) or self.titles.get(self.default_locale) or self.id

    def summary_in(self, locale: str) -> str:
        """The one-line summary in `locale`, else the default locale's, else empty."""
        return self.summaries.get(locale) or self.summaries.get(self.default_locale) or ""

    def meta_json(self) -> str:
        """The course's own fields (no lessons) as canonical JSON."""
        return json.dumps(
            {
                "code": self.code,
                "default_locale": self.default_locale,
                "pass_mark": self.pass_mark,
                "lesson_ids": list(self.lesson_ids),
                "titles": self.titles,
                "summaries": self.summaries,
                "locales": list(self.locales),
            },
            ensure_ascii=False,
            sort_keys=True,
        )
