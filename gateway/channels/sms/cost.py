"""What a lesson costs in SMS: the messages a learner receives going through it.

`CostWalker` measures it on the real path: a simulated learner texts the SMS channel
(`receive_inbound`: the engine, the wording, the split by the carrier's `max_segments`
and encoding policy) over a scratch database, and the messages it queues are read back
from the outbox with the segments each is priced at. `lesson_messages` is the older,
rendered-only account of the answered-right path, which course packs carry.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from gateway.channels.course_walk import CourseWalker, Walked
from gateway.channels.sms.conversation import receive_inbound
from gateway.channels.sms.packing import messages
from gateway.config import Carrier
from gateway.content.model import SMS, Course, Lesson
from gateway.i18n import needs_ucs2
from gateway.learning import replies as r
from gateway.sms_text import count, normalize, septets, ucs2_units

DEFAULT_BUDGET = 8  # segments a lesson may cost, answered right, where a course sets none
KINDS = ("cards", "questions", "feedback", "navigation")
COSTLIEST = 2  # cards and questions `lessons check` names per lesson


def lesson_turns(course: Course, lesson: Lesson, number: int, locale: str, *,
                 familiar: bool | None = None) -> list[tuple[r.Reply, ...]]:
    """The engine's replies to a learner going through one lesson by SMS and answering
    every question right, one tuple per turn, in the lesson's SMS edition (short forms
    where authored, web-only cards left out): a card each (the last with the first
    question: the SMS channel opens the quiz with it), feedback with the next question,
    and the last feedback with the lesson's result and the next lesson's title.
    `familiar` (whether the learner finished a lesson before) defaults to any lesson but
    the first. `course` must carry its lessons (as parsed from files)."""
    familiar = number > 1 if familiar is None else familiar
    title = course.title_in(locale)
    total_lessons = len(course.lesson_ids)
    lesson = lesson.edition(SMS)
    texts = [card.text for card in lesson.cards if card.text]
    cards = [r.CardShown(title, number, total_lessons, lesson.title, index + 1,
                         len(texts), text, familiar=familiar)
             for index, text in enumerate(texts)]
    turns: list[tuple[r.Reply, ...]] = [(card,) for card in cards[:-1]]
    pending: tuple[r.Reply, ...] = (cards[-1],)
    for index, question in enumerate(lesson.questions):
        asked = r.QuestionAsked(lesson.title, index + 1, len(lesson.questions), question.text,
                                question.options, familiar=familiar)
        turns.append((*pending, asked))
        pending = (r.Feedback(True, question.answer, question.options[question.answer],
                              question.explanation),)
    following = course.lessons.get(locale, ())[number:number + 1]
    next_title = following[0].title if following else None
    done = r.LessonDone(lesson.title, len(lesson.questions), len(lesson.questions), next_title,
                        familiar=familiar)
    turns.append((*pending, done))
    return turns


def lesson_messages(course: Course, lesson: Lesson, number: int, locale: str, *,
                    policy: str = Carrier.encoding_policy,
                    max_segments: int = Carrier.max_segments,
                    familiar: bool | None = None) -> list[str]:
    """The SMS bodies of one lesson for a learner who answers every question right
    (`lesson_turns`), worded, packed and split as the SMS channel queues them for a
    carrier with this `policy` and `max_segments` (by default, a carrier's defaults)."""
    return [body for turn in lesson_turns(course, lesson, number, locale, familiar=familiar)
            for body in messages(turn, locale, max_segments, policy)]


def lesson_segments(course: Course, lesson: Lesson, number: int, locale: str,
                    policy: str) -> int:
    """Segments a carrier charges to deliver the lesson under an encoding policy."""
    return sum(count(text, policy).segments
               for text in lesson_messages(course, lesson, number, locale, policy=policy))


# -- the real path ------------------------------------------------------------------------


def budget(course: Course, locale: str) -> int:
    """Segments a lesson in `locale` may cost a learner who answers right: the course's
    [sms_budget_per_locale] entry, else its `sms_budget` (DEFAULT_BUDGET when unset),
    twice that for a language whose script GSM-7 lacks (Arabic: every message UCS-2,
    70 characters where GSM-7 carries 160)."""
    if locale in course.sms_budget_per_locale:
        return course.sms_budget_per_locale[locale]
    base = course.sms_budget or DEFAULT_BUDGET
    return 2 * base if needs_ucs2(locale) else base


@dataclass(frozen=True)
class Sent:
    """One SMS a learner receives: its text as queued, the segments it is priced at, and
    its characters per kind (KINDS: the author's card texts, question texts and options,
    explanations; everything else Learnline adds is navigation)."""

    body: str
    segments: int
    chars: dict[str, int]


@dataclass(frozen=True)
class Item:
    """A card or question of a lesson, with what the message carrying it costs and how
    many characters fewer in its text would save one segment of it (None: cutting its
    whole text would not), and the other cards and questions that message carries (the
    last card and the first question share one)."""

    kind: str  # "card" or "question"
    number: int  # 1-based, as learners see it
    segments: int
    save: int | None
    sent_with: tuple[str, ...] = ()  # names ('Q1') of the others in its message

    @property
    def name(self) -> str:
        """'card 3', 'Q2'."""
        return f"card {self.number}" if self.kind == "card" else f"Q{self.number}"


@dataclass(frozen=True)
class Paid:
    """What a learner pays for one lesson on one path: the messages they receive, from
    the message that opens the lesson to the one that gives its result."""

    messages: tuple[Sent, ...]
    policy: str

    @property
    def segments(self) -> int:
        """Segments charged for the lesson."""
        return sum(m.segments for m in self.messages)

    @property
    def encoding(self) -> str:
        """'GSM-7', 'UCS-2', or 'GSM-7+UCS-2' when the lesson's messages use both."""
        return "+".join(sorted({count(m.body, self.policy).encoding for m in self.messages}))

    def split(self) -> dict[str, int]:
        """The segments apportioned to KINDS: each message's segments shared in proportion
        to its characters of each kind, rounded so that the parts add up to the whole."""
        shares = dict.fromkeys(KINDS, 0.0)
        for message in self.messages:
            total = sum(message.chars.values()) or 1
            for kind in KINDS:
                shares[kind] += message.segments * message.chars.get(kind, 0) / total
        whole = {kind: int(share) for kind, share in shares.items()}
        left = self.segments - sum(whole.values())
        for kind in sorted(KINDS, key=lambda k: whole[k] - shares[k])[:max(left, 0)]:
            whole[kind] += 1
        return whole


@dataclass(frozen=True)
class LessonCost:
    """One lesson in one language: what a learner pays answering right and answering
    each question wrong once (then right), its budget, and its costliest items
    (cards and questions whose message costs more than one segment, costliest first)."""

    lesson_id: str
    locale: str
    budget: int
    right: Paid
    wrong_once: Paid
    costliest: tuple[Item, ...]

    @property
    def over(self) -> bool:
        """Whether a learner who answers right pays more than the budget."""
        return self.right.segments > self.budget


class CostWalker(CourseWalker):
    """Simulated learners going through a course by SMS on a scratch database: each walk
    is a new learner who texts START, then NEXT, or the letter of an answer when a
    question waits, until the course is complete. Use as a context manager."""

    def lesson_cost(self, carrier: Carrier, locale: str) -> list[LessonCost]:
        """Each lesson the course has in `locale`, priced for `carrier` (its encoding
        policy and `max_segments`)."""
        right = self.walk(carrier, locale, wrong_once=False)
        wrong = self.walk(carrier, locale, wrong_once=True)
        policy = carrier.encoding_policy
        costs = []
        for lesson in self.course.lessons.get(locale, ()):
            authored = _authored(lesson, policy)
            paid_right, spans = _attribute(right.get(lesson.id, []), authored, policy)
            paid_wrong, _ = _attribute(wrong.get(lesson.id, []), authored, policy)
            costs.append(LessonCost(lesson.id, locale, budget(self.course, locale),
                                    paid_right, paid_wrong, _costliest(paid_right, spans)))
        return costs

    def right_segments(self, carrier: Carrier, locale: str) -> dict[str, Paid]:
        """Per lesson id, what a learner who answers right pays (messages without kinds)."""
        walked = self.walk(carrier, locale, wrong_once=False)
        return {lesson_id: Paid(tuple(Sent(body, segments, {}) for reply in replies
                                      for body, segments in reply), carrier.encoding_policy)
                for lesson_id, replies in walked.items()}

    def walk(self, carrier: Carrier, locale: str, *, wrong_once: bool) -> Walked:
        """One learner texting `locale` through the whole course by SMS: per lesson id, the
        replies they get (each the messages queued for one of their texts, as (body,
        segments)). With `wrong_once`, each question is answered wrong the first time."""
        return self.walk_on(receive_inbound, carrier, locale, wrong_once=wrong_once)


def _authored(lesson: Lesson, policy: str) -> list[tuple[str, str, int]]:
    """(kind, text as the policy sends it, card or question number as SMS learners see it;
    0 for options, explanations and web-only cards) of what the author wrote, longest
    first: a text is claimed before any text inside it. Every text a card or question
    holds counts (another edition of it too): a question's explanations are feedback, its
    options unnumbered."""
    # Cards are numbered as an SMS learner sees them ([2/3]): a web-only card is not sent.
    found, shown = [], 0
    for card in lesson.cards:
        shown += not card.web_only
        found += [("cards", text, 0 if card.web_only else shown) for _, text in _texts(card)]
    for n, question in enumerate(lesson.questions, 1):
        for path, text in _texts(question):
            if "explanation" in path:
                found.append(("feedback", text, 0))
            else:
                found.append(("questions", text, 0 if "option" in path else n))
    texts = [(kind, normalize(text, policy), n) for kind, text, n in found if text.strip()]
    return sorted(texts, key=lambda t: -len(t[1]))


def _texts(value: object, path: str = "") -> Iterator[tuple[str, str]]:
    """(field path, text) of every string in a card or question, nested fields too."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _texts(item, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(item, f"{path}.{key}")
    elif dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            yield from _texts(getattr(value, field.name), f"{path}.{field.name}")


@functools.lru_cache(maxsize=4096)
def _pattern(text: str) -> re.Pattern[str]:
    """The text wherever a message carries it: its words in order, whatever whitespace
    (a reply cut into messages loses the whitespace at the cut), never inside a word."""
    return re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, text.split())) + r"(?!\w)")


def _attribute(replies: list[list[tuple[str, int]]], authored: list[tuple[str, str, int]],
               policy: str) -> tuple[Paid, dict[tuple[str, int], tuple[int, int, int]]]:
    """The messages with their characters per kind, and where each card's and question's
    text first appears: (kind, number) -> (message index, start, end in its body)."""
    messages: list[Sent] = []
    spans: dict[tuple[str, int], tuple[int, int, int]] = {}
    for reply in replies:
        joined = "\n".join(body for body, _ in reply)
        owner: list[str | None] = [None] * len(joined)
        found: dict[tuple[str, int], tuple[int, int]] = {}
        for kind, text, number in authored:
            for match in _pattern(text).finditer(joined):
                start, end = match.span()
                if any(owner[start:end]):
                    continue
                owner[start:end] = [kind] * (end - start)
                if number and (kind, number) not in spans:
                    found.setdefault((kind, number), (start, end))
        starts, offset = [], 0
        for body, segments in reply:
            chars = dict.fromkeys(KINDS, 0)
            for kind in owner[offset:offset + len(body)]:
                chars[kind or "navigation"] += 1
            starts.append(offset)
            messages.append(Sent(body, segments, chars))
            offset += len(body) + 1
        base = len(messages) - len(reply)
        for key, (start, end) in found.items():
            # A text cut into two messages belongs to the one where it starts.
            index = max(i for i, at in enumerate(starts) if at <= start)
            spans[key] = (base + index, start - starts[index],
                          min(end - starts[index], len(reply[index][0])))
    return Paid(tuple(messages), policy), spans


def _costliest(paid: Paid, spans: dict[tuple[str, int], tuple[int, int, int]],
               shown: int = COSTLIEST) -> tuple[Item, ...]:
    """The `shown` messages that cost most (more than one segment), those fewest
    characters from saving one first, each named by the card or question in it whose text
    saves a segment soonest, with the others it carries: one message is named once."""
    carried: dict[int, list[Item]] = {}
    for (kind, number), (index, start, end) in sorted(spans.items(),
                                                      key=lambda span: span[1]):
        message = paid.messages[index]
        if message.segments > 1:
            carried.setdefault(index, []).append(
                Item("card" if kind == "cards" else "question", number, message.segments,
                     _save(message.body, start, end, message.segments, paid.policy)))
    items = []
    for together in carried.values():
        lead = min(together, key=lambda item: item.save or 10**6)
        items.append(dataclasses.replace(
            lead, sent_with=tuple(item.name for item in together if item is not lead)))
    return tuple(sorted(items, key=lambda item: (-item.segments, item.save or 10**6))[:shown])


def _save(body: str, start: int, end: int, segments: int, policy: str) -> int | None:
    """The fewest characters cut from the end of body[start:end] that make the message
    cost one segment fewer (in the same encoding); None when cutting all of it would not."""
    if segments <= 1:
        return None
    encoding = count(body, policy).encoding
    gsm7 = encoding == "GSM-7"
    per_part, alone = (153, 160) if gsm7 else (67, 70)
    limit = alone if segments == 2 else per_part * (segments - 1)
    excess = (septets(body) if gsm7 else ucs2_units(body)) - limit
    cut = 0
    while excess > 0 and cut < end - start:
        cut += 1
        character = body[end - cut]
        excess -= septets(character) if gsm7 else ucs2_units(character)
    # Parts are filled with whole characters: a few more may be needed than units say.
    while cut <= end - start:
        if count(body[:end - cut] + body[end:], policy).segments < segments:
            return cut
        cut += 1
    return None
