"""The operator's figures, computed once for the dashboard (/admin), its CSV files and
`learnline stats`: daily active learners per channel, each course's funnel, each quiz
question's share of right first answers, messages, segments, delivery and cost per
carrier per day, the cost of a completed lesson: overall, and in money by delivery
mode, carrier, course and language from what each lesson itself cost; and the tutors'
service to learners' questions: questions per day, time to first answer, the backlog and
its age, answers per tutor, questions per lesson.

`build_report` reads the database (gateway/store/stats.py); `table` lays any part of a
report out as rows of text, so every place shows the same numbers in the same words.
Days are UTC days; a period is the last N of them, today included.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from gateway.config import Carrier
from gateway.store import Store, stats
from gateway.terminal import shown

CHANNELS = ("sms", "ussd", "web", "whatsapp")
CHANNEL_NAMES = {"sms": "SMS", "ussd": "USSD", "web": "Web", "whatsapp": "WhatsApp"}
DEFAULT_DAYS = 14
MAX_DAYS = 366
TABLES = ("activity", "funnel", "questions", "carriers", "costs", "lesson_costs",
          "tutor_service", "tutor_days", "tutors", "tutor_lessons")
# The lessons learners ask tutors about most, shown with their counts.
TOP_LESSONS = 10
# Delivery modes, as the figures name them (gateway/learning/delivery.py decides them).
MODE_NAMES = {"sms": "full SMS", "link": "lesson by link", "ussd": "USSD", "web": "web",
              "whatsapp": "WhatsApp"}
GROUPINGS = ("mode", "carrier", "course", "language")
BYTES_PER_MB = 1_000_000


@dataclass(frozen=True)
class Period:
    """The last `days` UTC days up to and including `last_day`; `since` and `until` are
    its bounds in Unix seconds (until excluded)."""

    first_day: date
    last_day: date

    @property
    def days(self) -> list[str]:
        """Every day of the period, 'YYYY-MM-DD', oldest first."""
        count = (self.last_day - self.first_day).days + 1
        return [(self.first_day + timedelta(n)).isoformat() for n in range(count)]

    @property
    def since(self) -> float:
        """Midnight UTC starting the first day, in Unix seconds."""
        return datetime(self.first_day.year, self.first_day.month, self.first_day.day,
                        tzinfo=UTC).timestamp()

    @property
    def until(self) -> float:
        """Midnight UTC ending the last day, in Unix seconds."""
        return self.since + len(self.days) * stats.DAY


@dataclass(frozen=True)
class ActivityRow:
    """Learners active on one day: per channel, and on any channel (counted once)."""

    day: str
    sms: int
    ussd: int
    web: int
    whatsapp: int
    learners: int


@dataclass(frozen=True)
class CourseFunnel:
    """A course from enrollment to completion, over all time: how many learners enrolled,
    started its first lesson, finished each lesson (in course order), completed it."""

    course_id: str
    title: str
    enrolled: int
    started: int
    lessons: tuple[tuple[str, int], ...]  # (lesson title, learners who finished it)
    completed: int

    def steps(self) -> list[tuple[str, int]]:
        """The funnel as (step, learners), enrollment first, completion last."""
        return [("Enrolled", self.enrolled), ("Started lesson 1", self.started),
                *((f"Finished {n}. {title}", count)
                  for n, (title, count) in enumerate(self.lessons, 1)),
                ("Completed the course", self.completed)]


@dataclass(frozen=True)
class QuestionRow:
    """One quiz question's first answers in the period and the share that were right."""

    course_id: str
    lesson_id: str
    lesson_title: str
    number: int  # from 1, as the learner sees it
    text: str
    first_answers: int
    right: int

    @property
    def share(self) -> float:
        """Right first answers as a fraction of first answers."""
        return self.right / self.first_answers if self.first_answers else 0.0


@dataclass(frozen=True)
class CarrierDay:
    """One carrier's traffic: on one day of the period, or (day "") all of it.

    `segments_out` counts every message queued; `cost` prices the segments the carrier
    accepted, and the WhatsApp messages delivered by their category (None when the
    carrier has no such price). `delivery_rate` is delivered / (delivered + undelivered +
    failed), None before any final report; `read` counts messages the learner read (a
    read receipt), `read_rate` them among those delivered."""

    day: str
    carrier_id: str
    messages_in: int
    messages_out: int
    segments_out: int
    accepted_segments: int
    delivered: int
    undelivered: int
    failed: int
    cost: float | None
    currency: str
    read: int = 0

    @property
    def delivery_rate(self) -> float | None:
        """Delivered as a fraction of messages with a final report, or None."""
        final = self.delivered + self.undelivered + self.failed
        return self.delivered / final if final else None

    @property
    def read_rate(self) -> float | None:
        """Read as a fraction of messages delivered, or None before a read receipt (a
        carrier that sends none, such as SMS, has no rate, not 0%)."""
        return self.read / self.delivered if self.read and self.delivered else None


@dataclass(frozen=True)
class CostRow:
    """What the period's messages cost in one currency (SMS segments accepted, WhatsApp
    messages delivered), and per lesson completed in it."""

    currency: str
    cost: float | None
    lessons_completed: int

    @property
    def per_lesson(self) -> float | None:
        """Cost divided by lessons completed, or None when either is missing."""
        if self.cost is None or not self.lessons_completed:
            return None
        return self.cost / self.lessons_completed


@dataclass(frozen=True)
class LessonCostRow:
    """Lessons completed in the period that share one value of a grouping (a delivery
    mode, a carrier, a course or a language) and one currency: how many, the SMS
    segments, USSD sessions, megabytes of pages and WhatsApp messages behind them, and
    what those cost at today's prices (None when their carriers have no price)."""

    grouping: str  # one of GROUPINGS
    value: str
    currency: str
    lessons: int
    segments: int
    ussd_sessions: int
    web_bytes: int
    cost: float | None
    whatsapp_messages: int = 0

    @property
    def per_lesson(self) -> float | None:
        """Cost divided by lessons, or None without a cost."""
        return None if self.cost is None or not self.lessons else self.cost / self.lessons

    @property
    def web_mb(self) -> float:
        """The pages' bytes in megabytes (1,000,000 bytes)."""
        return self.web_bytes / BYTES_PER_MB


@dataclass(frozen=True)
class TutorDay:
    """Learners' questions asked on one day, and what had become of them at the report's
    moment; the median wait of those answered (None: none was)."""

    day: str
    asked: int
    answered: int
    closed: int
    still_open: int
    refused: int  # learners past the daily limit that day: not questions asked
    median_wait: float | None


@dataclass(frozen=True)
class TutorAnswers:
    """One staff account's first answers in the period and their median wait. `username`
    None: an account removed since; `staff_id` None: answers without an account."""

    staff_id: int | None
    username: str | None
    name: str | None
    answers: int
    median_wait: float | None


@dataclass(frozen=True)
class LessonQuestions:
    """Questions asked about one lesson in the period (course and lesson None: asked
    outside a lesson), and how many of them are still open."""

    course_id: str | None
    lesson_id: str | None
    course_title: str | None
    lesson_title: str | None
    questions: int
    still_open: int


@dataclass(frozen=True)
class TutorService:
    """The tutors' service in a period, as it stood at `at` (now, or the period's end
    when that is past): the questions asked in it and what became of them, the time to
    a first answer (median and 90th percentile, over the questions answered: one closed
    without an answer has no time and is counted apart), the backlog at `at` (open
    questions however old) and its age, answers per tutor, questions per lesson."""

    at: float
    days: tuple[TutorDay, ...]
    median_wait: float | None
    p90_wait: float | None
    backlog_ages: tuple[float, ...]  # seconds, oldest first
    tutors: tuple[TutorAnswers, ...]
    lessons: tuple[LessonQuestions, ...]  # most asked first, at most TOP_LESSONS

    @property
    def asked(self) -> int:
        """Questions asked in the period (the daily limit's refusals apart)."""
        return sum(d.asked for d in self.days)

    @property
    def backlog(self) -> int:
        """Questions open at `at`."""
        return len(self.backlog_ages)

    @property
    def median_age(self) -> float | None:
        """The median age of the open questions, None without any."""
        return statistics.median(self.backlog_ages) if self.backlog_ages else None


@dataclass(frozen=True)
class Report:
    """Every figure of the dashboard for one period."""

    period: Period
    activity: tuple[ActivityRow, ...]
    funnels: tuple[CourseFunnel, ...]
    questions: tuple[QuestionRow, ...]  # worst share first
    carrier_days: tuple[CarrierDay, ...]  # by day, then carrier
    carrier_totals: tuple[CarrierDay, ...]  # one per carrier, day ""
    costs: tuple[CostRow, ...]
    lesson_costs: tuple[LessonCostRow, ...] = ()  # by GROUPINGS, then value, currency
    tutors: TutorService | None = None


@dataclass(frozen=True)
class Table:
    """A report table as text: a title, column headers, rows of cells."""

    name: str
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def period_ending(now: float, days: int = DEFAULT_DAYS) -> Period:
    """The `days` UTC days ending with the day of `now` (1 to MAX_DAYS days)."""
    days = max(1, min(MAX_DAYS, int(days)))
    last = datetime.fromtimestamp(now, UTC).date()
    return Period(last - timedelta(days - 1), last)


def build_report(store: Store, carriers: Iterable[Carrier],
                 days: int = DEFAULT_DAYS, now: float | None = None) -> Report:
    """Compute every figure for the last `days` UTC days up to `now` (default: the store's
    clock). Reads only; `carriers` give each carrier's price per segment and currency.
    The tutors' backlog is the one at the store's clock, or at the period's end when
    that is earlier."""
    period = period_ending(store.clock() if now is None else now, days)
    prices = {c.id: c for c in carriers}
    carrier_days = _carrier_days(store, period, prices)
    return Report(
        period=period,
        activity=_activity(store, period),
        funnels=_funnels(store),
        questions=_questions(store, period),
        carrier_days=carrier_days,
        carrier_totals=_carrier_totals(carrier_days),
        costs=_costs(store, period, carrier_days, prices),
        lesson_costs=_lesson_costs(store, period, prices),
        tutors=tutor_service(store, period, min(store.clock(), period.until)),
    )


def percentile(ordered: list[float], share: float) -> float | None:
    """The nearest-rank percentile of values in ascending order: the smallest value that
    at least `share` (0 to 1) of them do not exceed; None for no values."""
    if not ordered:
        return None
    # Rounded first: a share times a count may land a hair above a whole rank.
    return ordered[max(0, math.ceil(round(share * len(ordered), 9)) - 1)]


def tutor_service(store: Store, period: Period, at: float) -> TutorService:
    """The tutors' service figures for `period`, as they stood at `at`."""
    since, until = period.since, period.until
    by_day = {row.day: row for row in stats.questions_by_day(store, since, until, at)}
    waits = stats.first_answer_waits(store, since, until, at)
    day_waits: dict[int, list[float]] = defaultdict(list)
    for day, wait in waits:
        day_waits[day].append(wait)
    days = []
    for n, day in enumerate(period.days):
        row = by_day.get(n)
        median = statistics.median(day_waits[n]) if day_waits[n] else None
        days.append(TutorDay(day, *(
            (row.asked, row.answered, row.closed, row.still_open, row.refused) if row
            else (0, 0, 0, 0, 0)), median))
    ordered = [wait for _, wait in waits]
    tutors = tuple(TutorAnswers(a.staff_id, a.username, a.name, len(a.waits),
                                statistics.median(a.waits))
                   for a in stats.answers_by_staff(store, since, until, at))
    lessons = []
    for course_id, lesson_id, count, still_open in stats.questions_by_lesson(
            store, since, until, at, TOP_LESSONS):
        course = store.course(course_id) if course_id else None
        lesson = store.lesson(course_id, lesson_id, course.default_locale) \
            if course and lesson_id else None
        lessons.append(LessonQuestions(
            course_id, lesson_id, course.title_in(course.default_locale) if course
            else course_id, lesson.title if lesson else lesson_id, count, still_open))
    return TutorService(at, tuple(days), statistics.median(ordered) if ordered else None,
                        percentile(ordered, 0.9), tuple(stats.open_ages(store, at)), tutors,
                        tuple(lessons))


def _activity(store: Store, period: Period) -> tuple[ActivityRow, ...]:
    first, last = period.days[0], period.days[-1]
    per_channel: dict[tuple[str, str], int] = {
        (day, channel): n for day, channel, n in stats.active_learners(store, first, last)}
    anywhere = stats.active_any_channel(store, first, last)
    return tuple(ActivityRow(day, *(per_channel.get((day, c), 0) for c in CHANNELS),
                             anywhere.get(day, 0)) for day in period.days)


def _funnels(store: Store) -> tuple[CourseFunnel, ...]:
    counts = stats.enrollment_counts(store)
    finishers = stats.lesson_finishers(store)
    funnels = []
    for course in store.courses():
        enrolled, started, completed = counts.get(course.id, (0, 0, 0))
        lessons = []
        for lesson_id in course.lesson_ids:
            lesson = store.lesson(course.id, lesson_id, course.default_locale)
            lessons.append((lesson.title if lesson else lesson_id,
                            finishers.get((course.id, lesson_id), 0)))
        funnels.append(CourseFunnel(course.id, course.title_in(course.default_locale),
                                    enrolled, started, tuple(lessons), completed))
    return tuple(funnels)


def _questions(store: Store, period: Period) -> tuple[QuestionRow, ...]:
    rows = []
    for course_id, lesson_id, number, answers, right in stats.first_answers(
            store, period.since, period.until):
        course = store.course(course_id)
        lesson = store.lesson(course_id, lesson_id, course.default_locale) if course else None
        if lesson is not None and number < len(lesson.questions):
            title, text = lesson.title, lesson.questions[number].text
        else:
            title = lesson.title if lesson else lesson_id
            text = "(no longer in the lesson)"
        rows.append(QuestionRow(course_id, lesson_id, title, number + 1, text, answers, right))
    rows.sort(key=lambda q: (q.share, -q.first_answers, q.course_id, q.lesson_id, q.number))
    return tuple(rows)


def _carrier_days(store: Store, period: Period,
                  prices: dict[str, Carrier]) -> tuple[CarrierDay, ...]:
    days = period.days
    out = {(row.day, row.carrier_id): row
           for row in stats.outbound_by_day(store, period.since, period.until)}
    received = {(day, carrier): n
                for day, carrier, n in stats.inbound_by_day(store, period.since, period.until)}
    rows = []
    for day, carrier_id in sorted(set(out) | set(received)):
        sent = out.get((day, carrier_id))
        carrier = prices.get(carrier_id)
        accepted = sent.accepted_segments if sent else 0
        cost = _carrier_cost(carrier, sent)
        rows.append(CarrierDay(
            day=days[day], carrier_id=carrier_id, messages_in=received.get((day, carrier_id), 0),
            messages_out=sent.messages if sent else 0,
            segments_out=sent.segments if sent else 0, accepted_segments=accepted,
            delivered=sent.delivered if sent else 0,
            undelivered=sent.undelivered if sent else 0, failed=sent.failed if sent else 0,
            cost=cost, currency=carrier.currency if carrier and cost is not None else "",
            read=sent.read if sent else 0))
    return tuple(rows)


def _whatsapp_prices(carrier: Carrier) -> tuple[float, float, float]:
    """A carrier's price of one WhatsApp message delivered, per category (service,
    utility, marketing: stats.CATEGORIES' order)."""
    return (carrier.price_per_whatsapp_service, carrier.price_per_whatsapp_utility,
            carrier.price_per_whatsapp_marketing)


def _carrier_cost(carrier: Carrier | None, sent: stats.OutboundDay | None) -> float | None:
    """What a carrier's day cost: the segments it accepted times its price per segment,
    plus each WhatsApp message delivered times its category's price (what Meta bills);
    None when the carrier has neither price."""
    if carrier is None:
        return None
    whatsapp = _whatsapp_prices(carrier)
    if not carrier.price_per_segment and not any(whatsapp):
        return None
    if sent is None:
        return 0.0
    delivered = (sent.delivered_service, sent.delivered_utility, sent.delivered_marketing)
    return sent.accepted_segments * carrier.price_per_segment + sum(
        count * price for count, price in zip(delivered, whatsapp, strict=True))


def _carrier_totals(carrier_days: tuple[CarrierDay, ...]) -> tuple[CarrierDay, ...]:
    by_carrier: dict[str, list[CarrierDay]] = defaultdict(list)
    for row in carrier_days:
        by_carrier[row.carrier_id].append(row)
    totals = []
    for carrier_id, rows in sorted(by_carrier.items()):
        costs = [r.cost for r in rows if r.cost is not None]
        totals.append(CarrierDay(
            day="", carrier_id=carrier_id, messages_in=sum(r.messages_in for r in rows),
            messages_out=sum(r.messages_out for r in rows),
            segments_out=sum(r.segments_out for r in rows),
            accepted_segments=sum(r.accepted_segments for r in rows),
            delivered=sum(r.delivered for r in rows),
            undelivered=sum(r.undelivered for r in rows), failed=sum(r.failed for r in rows),
            cost=sum(costs) if costs else None,
            currency=next((r.currency for r in rows if r.currency), ""),
            read=sum(r.read for r in rows)))
    return tuple(totals)


def _costs(store: Store, period: Period, carrier_days: tuple[CarrierDay, ...],
           prices: dict[str, Carrier]) -> tuple[CostRow, ...]:
    lessons = stats.lessons_completed(store, period.since, period.until)
    by_currency: dict[str, float] = defaultdict(float)
    for row in carrier_days:
        if row.cost is not None:
            by_currency[row.currency] += row.cost
    if not by_currency:
        return (CostRow("", None, lessons),)
    return tuple(CostRow(currency, cost, lessons)
                 for currency, cost in sorted(by_currency.items()))


def priced(carrier: Carrier | None) -> bool:
    """Whether a carrier has any price: without one, its costs are unknown, not zero."""
    return carrier is not None and bool(
        carrier.price_per_segment or carrier.price_per_ussd_session or carrier.price_per_web_mb
        or any(_whatsapp_prices(carrier)))


def _lesson_costs(store: Store, period: Period,
                  prices: dict[str, Carrier]) -> tuple[LessonCostRow, ...]:
    """Lessons completed in the period, grouped by mode, carrier, course and language,
    each group per currency: counts behind them times the carriers' prices now. A lesson
    carried by two carriers counts in each of their groups."""
    groups: dict[tuple[int, str, str], dict] = {}
    for row in stats.completed_lesson_costs(store, period.since, period.until):
        carrier = prices.get(row.carrier_id)
        known = priced(carrier)
        currency = carrier.currency if known and carrier else ""
        whatsapp = (row.whatsapp_service, row.whatsapp_utility, row.whatsapp_marketing)
        cost = (row.segments * carrier.price_per_segment
                + row.ussd_sessions * carrier.price_per_ussd_session
                + row.web_bytes / BYTES_PER_MB * carrier.price_per_web_mb
                + sum(count * price for count, price in zip(
                    whatsapp, _whatsapp_prices(carrier), strict=True))) \
            if known and carrier else None
        for n, value in enumerate((row.mode, row.carrier_id, row.course_id, row.locale)):
            group = groups.setdefault((n, value, currency), {
                "lessons": set(), "segments": 0, "ussd_sessions": 0, "web_bytes": 0,
                "whatsapp": 0, "cost": None})
            group["lessons"].add((row.phone, row.course_id, row.lesson_id))
            group["segments"] += row.segments
            group["ussd_sessions"] += row.ussd_sessions
            group["web_bytes"] += row.web_bytes
            group["whatsapp"] += sum(whatsapp)
            if cost is not None:
                group["cost"] = (group["cost"] or 0.0) + cost
    modes = list(MODE_NAMES)

    def order(key: tuple[int, str, str]) -> tuple:
        n, value, currency = key
        return (n, modes.index(value) if n == 0 and value in modes else 0, value, currency)

    return tuple(LessonCostRow(
        GROUPINGS[n], value, currency, len(group["lessons"]), group["segments"],
        group["ussd_sessions"], group["web_bytes"], group["cost"], group["whatsapp"])
        for (n, value, currency), group in sorted(groups.items(), key=lambda g: order(g[0])))


def megabytes(amount: float) -> str:
    """Megabytes with 3 decimals (a lesson page is a few kilobytes): 0.012."""
    return f"{amount:.3f}"


# -- the same figures as text ------------------------------------------------------------


def percent(fraction: float | None, *, blank: str = "-") -> str:
    """A fraction as a percentage with one decimal ('42.9'); None as `blank`."""
    return blank if fraction is None else f"{100 * fraction:.1f}"


def money(amount: float | None, *, blank: str = "-") -> str:
    """An amount with 2 decimals; below 1, up to 4 (a segment costs a fraction of a
    unit): 15.00, 0.20, 0.0075. None as `blank`."""
    if amount is None:
        return blank
    if amount == 0 or abs(amount) >= 1:
        return f"{amount:.2f}"
    text = f"{amount:.4f}".rstrip("0")
    return text + "0" * (2 - len(text.partition(".")[2]))


def N_(message: str) -> str:
    """Mark a label for the catalogs (`learnline i18n extract`); translated where shown."""
    return message


def duration(seconds: float | None, *, blank: str = "-") -> str:
    """A wait read at a glance, rounded half up: under a minute in seconds ('45 s'),
    under an hour in minutes ('35 min'), under a day in hours and minutes ('2 h 05
    min'), then in days and hours ('7 d 05 h'); None as `blank`."""
    if seconds is None:
        return blank
    if math.floor(seconds + 0.5) < 60:
        return f"{math.floor(seconds + 0.5)} s"
    minutes = math.floor(seconds / 60 + 0.5)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    hours = math.floor(seconds / 3600 + 0.5)
    return f"{hours // 24} d {hours % 24:02d} h"


def _tutor_label(row: TutorAnswers, gettext: Callable[[str], str]) -> str:
    if row.staff_id is None:
        return gettext(N_("(no account)"))
    if row.username is None:
        return gettext(N_("removed account #%(id)d")) % {"id": row.staff_id}
    return f"{row.name} ({row.username})"


def _tutor_table(service: TutorService | None, name: str, blank: str,
                 gettext: Callable[[str], str]) -> Table:
    """One of the tutors' tables (its labels through `gettext`)."""
    tr = gettext
    if service is None:  # a report made without them: empty tables
        service = TutorService(0.0, (), None, None, (), (), ())
    if name == "tutor_service":
        days = service.days
        rows = (
            (tr(N_("Questions asked")), str(service.asked)),
            (tr(N_("Past the daily limit (not counted as asked)")),
             str(sum(d.refused for d in days))),
            (tr(N_("Answered")), str(sum(d.answered for d in days))),
            (tr(N_("Closed without an answer")), str(sum(d.closed for d in days))),
            (tr(N_("Still open")), str(sum(d.still_open for d in days))),
            (tr(N_("Time to first answer, median")), duration(service.median_wait,
                                                             blank=blank)),
            (tr(N_("Time to first answer, 90th percentile")), duration(service.p90_wait,
                                                                      blank=blank)),
            (tr(N_("Backlog (open questions)")), str(service.backlog)),
            (tr(N_("Oldest open question")), duration(
                service.backlog_ages[0] if service.backlog_ages else None, blank=blank)),
            (tr(N_("Median age of open questions")), duration(service.median_age,
                                                             blank=blank)),
        )
        return Table(name, tr(N_("Questions to tutors, as at %(time)s")) % {
            "time": generated_at(service.at)}, (tr(N_("figure")), tr(N_("value"))), rows)
    if name == "tutor_days":
        return Table(name, tr(N_("Questions to tutors per day (UTC days, by the day asked)")),
                     (tr(N_("day")), tr(N_("asked")), tr(N_("answered")),
                      tr(N_("closed unanswered")), tr(N_("open")), tr(N_("past daily limit")),
                      tr(N_("median time to answer"))),
                     tuple((d.day, str(d.asked), str(d.answered), str(d.closed),
                            str(d.still_open), str(d.refused),
                            duration(d.median_wait, blank=blank)) for d in service.days))
    if name == "tutors":
        return Table(name, tr(N_("Answers per tutor")),
                     (tr(N_("tutor")), tr(N_("answers")), tr(N_("median time to answer"))),
                     tuple((_tutor_label(t, gettext), str(t.answers),
                            duration(t.median_wait, blank=blank)) for t in service.tutors))
    if name == "tutor_lessons":
        none = tr(N_("(none)"))
        return Table(name, tr(N_("Questions to tutors per lesson (most asked first)")),
                     (tr(N_("lesson")), tr(N_("course")), tr(N_("questions")), tr(N_("open"))),
                     tuple((q.lesson_title or none, q.course_title or none, str(q.questions),
                            str(q.still_open)) for q in service.lessons))
    raise KeyError(name)


def table(report: Report, name: str, *, blank: str = "-",
          gettext: Callable[[str], str] | None = None) -> Table:
    """One of TABLES as text cells, with `blank` for a figure that does not exist (no
    delivery report yet, no price). The tutors' tables' labels go through `gettext`
    (default: as written, English). Raises KeyError for another name."""
    if name.startswith("tutor"):
        return _tutor_table(report.tutors, name, blank, gettext or N_)
    if name == "activity":
        return Table(name, "Daily active learners (UTC days)",
                     ("day", *(CHANNEL_NAMES[c] for c in CHANNELS), "any channel"),
                     tuple((r.day, *(str(getattr(r, c)) for c in CHANNELS), str(r.learners))
                           for r in report.activity))
    if name == "funnel":
        rows = []
        for funnel in report.funnels:
            for step, count in funnel.steps():
                share = count / funnel.enrolled if funnel.enrolled else None
                rows.append((funnel.course_id, step, str(count), percent(share, blank=blank)))
        return Table(name, "Courses, enrollment to completion (all time)",
                     ("course", "step", "learners", "% of enrolled"), tuple(rows))
    if name == "questions":
        return Table(name, "Quiz questions, right first answers (worst first)",
                     ("course", "lesson", "question", "first answers", "right", "% right",
                      "text"),
                     tuple((q.course_id, q.lesson_id, str(q.number), str(q.first_answers),
                            str(q.right), percent(q.share), q.text)
                           for q in report.questions))
    if name == "carriers":
        rows = tuple(_carrier_cells(r, blank) for r in report.carrier_days) + tuple(
            _carrier_cells(r, blank, day="all days") for r in report.carrier_totals)
        return Table(name, "Messages per carrier per day",
                     ("day", "carrier", "in", "out", "segments out", "segments accepted",
                      "delivered", "undelivered", "failed", "% delivered", "cost",
                      "currency", "read", "% read"), rows)
    if name == "costs":
        return Table(name, "Messaging cost per completed lesson",
                     ("currency", "cost", "lessons completed", "cost per lesson"),
                     tuple((c.currency or blank, money(c.cost, blank=blank),
                            str(c.lessons_completed), money(c.per_lesson, blank=blank))
                           for c in report.costs))
    if name == "lesson_costs":
        return Table(name, "Cost per completed lesson, by delivery mode, carrier, course "
                     "and language", ("by", "group", "currency", "lessons completed",
                                      "segments", "USSD sessions", "web MB",
                                      "WhatsApp messages", "cost", "cost per lesson"),
                     tuple((row.grouping, MODE_NAMES.get(row.value, row.value)
                            if row.grouping == "mode" else row.value,
                            row.currency or blank, str(row.lessons), str(row.segments),
                            str(row.ussd_sessions), megabytes(row.web_mb),
                            str(row.whatsapp_messages), money(row.cost, blank=blank),
                            money(row.per_lesson, blank=blank))
                           for row in report.lesson_costs))
    raise KeyError(name)


def _carrier_cells(row: CarrierDay, blank: str, day: str | None = None) -> tuple[str, ...]:
    return (day or row.day, row.carrier_id, str(row.messages_in), str(row.messages_out),
            str(row.segments_out), str(row.accepted_segments), str(row.delivered),
            str(row.undelivered), str(row.failed), percent(row.delivery_rate, blank=blank),
            money(row.cost, blank=blank), row.currency or blank, str(row.read),
            percent(row.read_rate, blank=blank))


def to_csv(report: Report, name: str) -> str:
    """One of TABLES as CSV (a header line, then rows; empty cells where no figure)."""
    return table_csv(table(report, name, blank=""))


def table_csv(found: Table) -> str:
    """A table as CSV: its header line, then its rows, CRLF line ends, no cell a
    spreadsheet would run as a formula. The one CSV writer of every staff table."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(found.headers)
    writer.writerows(tuple(_inert(cell) for cell in row) for row in found.rows)
    return out.getvalue()


# What a cell a spreadsheet would take for a formula starts with.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(cell: str) -> str:
    """A text a spreadsheet would take for a formula ('=', '+', '-', '@' first), quoted
    with an apostrophe; numbers are never changed."""
    if cell[:1] in FORMULA_STARTS and not _numeric(cell):
        return "'" + cell
    return cell


def format_table(found: Table, max_cell: int = 60) -> str:
    """A table for a terminal: a title line, then aligned columns (numbers to the right);
    a text longer than `max_cell` is cut short with an ellipsis, never a number. A cell's
    control characters (text from carriers and edges) are shown as escapes."""
    rows = [tuple(c if len(c) <= max_cell else c[:max_cell - 1] + "…"
                  for c in map(shown, row)) for row in found.rows]
    widths = [len(h) for h in found.headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    numeric = [all(_numeric(row[i]) or row[i] in ("-", "") for row in rows)
               and any(_numeric(row[i]) for row in rows) for i in range(len(found.headers))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(cell.rjust(w) if right else cell.ljust(w)
                         for cell, w, right in zip(cells, widths, numeric, strict=True)).rstrip()

    lines = [found.title, line(found.headers), "  ".join("-" * w for w in widths)]
    lines += [line(row) for row in rows] or ["(none)"]
    return "\n".join(lines)


def _numeric(cell: str) -> bool:
    return cell.replace(".", "", 1).isdigit()


def generated_at(now: float) -> str:
    """`now` as the UTC time a report was made, to the minute."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(now))
