"""One program's figures (docs/programs.md, Scoped figures), for its page on the dashboard
(/admin/programs/<id>), its CSV files and `learnline stats --program`: its funnel
(joined, then per course: enrolled, first lesson, half the course, completed), its quiz
questions' right first answers, its messages and their cost per completed lesson, and
the questions its learners asked its tutors.

Every figure comes from gateway/store/program_stats.py, read for this program alone;
`table` lays them out as rows of text (labels through `gettext`), as reports.table does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gateway.config import Carrier
from gateway.ops.reports import (
    DEFAULT_DAYS,
    N_,
    Period,
    Table,
    _whatsapp_prices,
    money,
    percent,
    period_ending,
    table_csv,
)
from gateway.store import Store, program_stats

TABLES = ("funnel", "quiz", "costs", "asked")


@dataclass(frozen=True)
class Funnel:
    """One course of the program: its title and its steps (enrolled to completed)."""

    course_id: str
    title: str
    steps: program_stats.CourseSteps


@dataclass(frozen=True)
class ProgramReport:
    """Every figure of one program for a period."""

    program: str
    period: Period
    joined: int
    funnels: tuple[Funnel, ...]
    # (course, lesson, question from 1, its text, first answers, right ones)
    quiz: tuple[tuple[str, str, int, str, int, int], ...]
    # (currency, messages sent, their segments, cost or None, lessons completed,
    # messages queued, messages not sent)
    costs: tuple[tuple[str, int, int, float | None, int, int, int], ...]
    asked: tuple[int, int, int, int]  # asked, answered, closed, open


def build(store: Store, carriers: Iterable[Carrier], program: str,
          days: int = DEFAULT_DAYS, now: float | None = None) -> ProgramReport:
    """Compute `program`'s figures for the last `days` UTC days up to `now` (default: the
    store's clock), from its rows alone; `carriers` give the prices."""
    period = period_ending(store.clock() if now is None else now, days)
    courses = [c for c in store.courses() if c.program == program]
    lessons = {c.id: len(c.lesson_ids) for c in courses}
    steps = {s.course_id: s for s in program_stats.course_steps(store, program, lessons)}
    funnels = tuple(Funnel(c.id, c.title_in(c.default_locale), steps[c.id])
                    for c in courses if c.id in steps)
    ids = tuple(steps)
    quiz = []
    for course_id, lesson_id, number, answers, right in program_stats.first_answers(
            store, ids, period.since, period.until):
        course = store.course(course_id)
        lesson = store.lesson(course_id, lesson_id, course.default_locale) if course else None
        text = (lesson.questions[number].text if lesson and number < len(lesson.questions)
                else "-")
        quiz.append((course_id, lesson_id, number + 1, text, answers, right))
    quiz.sort(key=lambda q: (q[5] / q[4] if q[4] else 0.0, q[0], q[1], q[2]))
    completed = program_stats.lessons_completed(store, ids, period.since, period.until)
    costs = priced(carriers, program_stats.messages_by_carrier(
        store, program, period.since, period.until), completed)
    return ProgramReport(program, period, program_stats.members_joined(store, program),
                         funnels, tuple(quiz), costs,
                         program_stats.questions_asked(store, program, period.since,
                                                       period.until))


def priced(carriers: Iterable[Carrier], rows: Iterable[program_stats.ProgramMessages],
           completed: int) -> tuple[tuple[str, int, int, float | None, int, int, int], ...]:
    """(currency, messages, segments, cost or None, `completed`, queued, not sent) per
    currency of `rows` (messages per carrier), priced as the dashboard prices them: the
    messages and segments a carrier accepted (sent), its segments at its
    `price_per_segment`, WhatsApp messages delivered at their category's price; a carrier
    without prices gives messages but no cost. Messages still queued and those never sent
    (cancelled, failed unaccepted) are counted apart and cost nothing. One row of zeros
    when there were no messages."""
    prices = {c.id: c for c in carriers}
    by_currency: dict[str, list] = defaultdict(lambda: [0, 0, None, 0, 0])
    for sent in rows:
        carrier = prices.get(sent.carrier_id)
        has_prices = carrier is not None and (carrier.price_per_segment
                                              or any(_whatsapp_prices(carrier)))
        currency = carrier.currency if has_prices and carrier else ""
        row = by_currency[currency]
        row[0] += sent.messages
        row[1] += sent.segments
        row[3] += sent.queued
        row[4] += sent.unsent
        if has_prices and carrier:
            delivered = (sent.delivered_service, sent.delivered_utility,
                         sent.delivered_marketing)
            cost = sent.segments * carrier.price_per_segment + sum(
                n * p for n, p in zip(delivered, _whatsapp_prices(carrier), strict=True))
            row[2] = (row[2] or 0.0) + cost
    return tuple((currency, msgs, segs, cost, completed, queued, unsent)
                 for currency, (msgs, segs, cost, queued, unsent)
                 in sorted(by_currency.items())) or (("", 0, 0, None, completed, 0, 0),)


def table(report: ProgramReport, name: str, *, blank: str = "-",
          gettext: Callable[[str], str] | None = None) -> Table:
    """One of TABLES as text cells, its labels through `gettext` (default: English).
    Raises KeyError for another name."""
    tr = gettext or N_
    if name == "funnel":
        rows = [("", tr(N_("Joined the program")), str(report.joined), "")]
        for funnel in report.funnels:
            s = funnel.steps
            for step, count in ((N_("Enrolled"), s.enrolled),
                                (N_("Started lesson 1"), s.started),
                                (N_("Finished half the course"), s.half),
                                (N_("Completed the course"), s.completed)):
                share = count / s.enrolled if s.enrolled else None
                rows.append((funnel.title, tr(step), str(count),
                             percent(share, blank=blank)))
        return Table(name, tr(N_("Joined, then each course to completion (all time)")),
                     (tr(N_("course")), tr(N_("step")), tr(N_("learners")),
                      tr(N_("enrolled (%)"))), tuple(rows))
    if name == "quiz":
        return Table(name, tr(N_("Quiz questions, right first answers (worst first)")),
                     (tr(N_("course")), tr(N_("lesson")), tr(N_("question")),
                      tr(N_("first answers")), tr(N_("right")), tr(N_("right (%)")),
                      tr(N_("text"))),
                     tuple((c, lesson, str(n), str(answers), str(right),
                            percent(right / answers if answers else None, blank=blank), text)
                           for c, lesson, n, text, answers, right in report.quiz))
    if name == "costs":
        return Table(name, tr(N_("Messages and cost per completed lesson")),
                     (tr(N_("currency")), tr(N_("messages")), tr(N_("segments")),
                      tr(N_("cost")), tr(N_("lessons completed")), tr(N_("cost per lesson")),
                      tr(N_("queued")), tr(N_("not sent"))),
                     tuple((currency or blank, str(msgs), str(segs), money(cost, blank=blank),
                            str(lessons), money(cost / lessons if cost is not None and lessons
                                                else None, blank=blank),
                            str(queued), str(unsent))
                           for currency, msgs, segs, cost, lessons, queued, unsent
                           in report.costs))
    if name == "asked":
        asked, answered, closed, still_open = report.asked
        return Table(name, tr(N_("Questions to tutors")), (tr(N_("figure")), tr(N_("value"))),
                     ((tr(N_("Questions asked")), str(asked)), (tr(N_("Answered")), str(answered)),
                      (tr(N_("Closed without an answer")), str(closed)),
                      (tr(N_("Still open")), str(still_open))))
    raise KeyError(name)


def to_csv(report: ProgramReport, name: str,
           gettext: Callable[[str], str] | None = None) -> str:
    """One of TABLES as CSV (a header line, then rows; empty cells where no figure)."""
    return table_csv(table(report, name, blank="", gettext=gettext))
