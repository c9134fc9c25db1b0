"""The shape of course content once parsed: plain, immutable data."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass, field

# The editions a lesson is read in: the full text (the lite web) and the SMS edition
# (SMS and USSD), where each short form authored with '[sms]' replaces its full text and
# a card marked '[web only]' is left out (docs/authoring.md, The SMS edition).
FULL, SMS = "full", "sms"
EDITIONS = (FULL, SMS)


@dataclass(frozen=True)
class Question:
    """A single-choice question: 2 to 4 options, one right, and why; with short forms for
    the SMS edition where authored (`sms_options`: () or one entry per option, None where
    that option has none)."""

    text: str
    options: tuple[str, ...]
    answer: int
    explanation: str
    sms_text: str | None = None
    sms_options: tuple[str | None, ...] = ()
    sms_explanation: str | None = None

    def in_sms(self) -> Question:
        """The question as the SMS edition reads it: short forms in place of full text."""
        if self.sms_text is None and not self.sms_options and self.sms_explanation is None:
            return self
        options = tuple(short if short is not None else full for full, short in
                        zip(self.options, self.sms_options or (None,) * len(self.options),
                            strict=True))
        return Question(self.sms_text or self.text, options, self.answer,
                        self.sms_explanation or self.explanation)


@dataclass(frozen=True)
class Card:
    """One short paragraph of a lesson; `sms` its short form for the SMS edition (None:
    the SMS edition reads `text`; "": the card is left out of it, web only)."""

    text: str
    sms: str | None = None

    @property
    def web_only(self) -> bool:
        """Whether the SMS edition leaves this card out."""
        return self.sms == ""


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
        """The lesson as canonical JSON (what the store keeps). Short forms appear only
        where authored, so a lesson without them keeps the JSON and hash it always had."""
        data = asdict(self)
        data.pop("path")
        for item in (*data["cards"], *data["questions"]):
            for key in ("sms", "sms_text", "sms_options", "sms_explanation"):
                if key in item and item[key] in (None, ()):
                    del item[key]
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Lesson:
        """Rebuild a lesson from `to_json` output."""
        data = json.loads(text)
        return cls(
            id=data["id"],
            locale=data["locale"],
            title=data["title"],
            cards=tuple(Card(c["text"], c.get("sms")) for c in data["cards"]),
            questions=tuple(
                Question(
                    text=q["text"],
                    options=tuple(q["options"]),
                    answer=q["answer"],
                    explanation=q["explanation"],
                    sms_text=q.get("sms_text"),
                    sms_options=tuple(q.get("sms_options", ())),
                    sms_explanation=q.get("sms_explanation"),
                )
                for q in data["questions"]
            ),
        )

    @functools.cached_property  # kept on the lesson, which the content cache keeps
    def has_sms_edition(self) -> bool:
        """Whether any card or quiz line of the lesson has a short form or is web only."""
        return any(card.sms is not None for card in self.cards) or any(
            q.sms_text is not None or q.sms_options or q.sms_explanation is not None
            for q in self.questions)

    def edition(self, name: str) -> Lesson:
        """The lesson as `name` (FULL or SMS) reads it. In the SMS edition each card's
        text is its short form where it has one, and "" where the card is web only (the
        card keeps its place, so progress counts cards the same in every edition); each
        question reads its short forms."""
        if name == FULL or not self.has_sms_edition:
            return self
        if name != SMS:
            raise ValueError(f"unknown edition {name!r} (one of {', '.join(EDITIONS)})")
        return self._sms_edition

    @functools.cached_property
    def _sms_edition(self) -> Lesson:
        # Kept on the lesson: a cache keyed by the lesson would hash every card and
        # question of it at each look-up, several times a message.
        return Lesson(
            id=self.id, locale=self.locale, title=self.title,
            cards=tuple(Card(card.text if card.sms is None else card.sms)
                        for card in self.cards),
            questions=tuple(question.in_sms() for question in self.questions),
            path=self.path,
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
    # The program the course belongs to (course.toml `program`; '' none, docs/programs.md).
    program: str = ""

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
                # only when set: a course without a program keeps the JSON it had before
                **({"program": self.program} if self.program else {}),
            },
            ensure_ascii=False,
            sort_keys=True,
        )
