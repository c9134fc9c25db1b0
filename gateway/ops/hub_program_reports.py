"""One program's figures across edges, as tables (docs/sync.md, Programs): for the hub's
program page (section "Across edges"), its CSV files
(/admin/programs/<id>/edges/<table>.csv) and `learnline hub programs --program ID
--figures` (or `--csv TABLE`). The figures come from gateway/hub/progress.py, the
messages and their cost this month from gateway/hub/costs.py; `table` lays them out
as rows of text (labels through `gettext`), as program_reports.table does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.hub import costs, progress
from gateway.hub.store import HubStore
from gateway.ops.reports import (
    DEFAULT_DAYS,
    N_,
    Period,
    Table,
    money,
    percent,
    period_ending,
    table_csv,
)

TABLES = ("funnel", "completion", "quiz", "cohorts", "cohort_completion", "cohort_quiz",
          "costs")


@dataclass(frozen=True)
class HubProgramReport:
    """A program's figures across edges, the period its quiz table covers, and its
    messages and their cost this month."""

    period: Period
    figures: progress.ProgramProgress
    costs: costs.ProgramCosts


def build(hub: HubStore, program: str, days: int = DEFAULT_DAYS,
          now: float | None = None) -> HubProgramReport:
    """`program`'s figures across edges; its quiz questions for the last `days` UTC days
    up to `now` (default: the hub's clock), its messages and their cost in the UTC month
    holding `now`, the rest over all time."""
    now = hub.clock() if now is None else now
    period = period_ending(now, days)
    return HubProgramReport(period, progress.build(hub, program, period.since,
                                                   period.until),
                            costs.build(hub, program, now))


def _share(count: int, whole: int, blank: str) -> str:
    return percent(count / whole if whole else None, blank=blank)


def table(report: HubProgramReport, name: str, *, blank: str = "-",
          gettext: Callable[[str], str] | None = None) -> Table:
    """One of TABLES as text cells, its labels through `gettext` (default: English).
    Raises KeyError for another name."""
    tr = gettext or N_
    found = report.figures
    if name == "funnel":
        rows = [("", tr(N_("Invited by a cohort")), str(found.invited), ""),
                ("", tr(N_("Joined the program")), str(found.joined), "")]
        for course in found.courses:
            s = course.steps
            for step, count in ((N_("Enrolled"), s.enrolled),
                                (N_("Started lesson 1"), s.started),
                                (N_("Finished half the course"), s.half),
                                (N_("Completed the course"), s.completed)):
                rows.append((course.title, tr(step), str(count),
                             _share(count, s.enrolled, blank)))
        return Table(name, tr(N_("Invited, joined, then each course to completion, across "
                                 "edges (all time)")),
                     (tr(N_("course")), tr(N_("step")), tr(N_("learners")),
                      tr(N_("enrolled (%)"))), tuple(rows))
    if name == "completion":
        return Table(name, tr(N_("Each lesson completed, across edges (all time)")),
                     (tr(N_("course")), tr(N_("lesson")), tr(N_("title")),
                      tr(N_("learners")), tr(N_("enrolled (%)"))),
                     tuple((course.course_id, lesson_id, title, str(count),
                            _share(count, course.steps.enrolled, blank))
                           for course in found.courses
                           for lesson_id, title, count in course.lessons))
    if name == "quiz":
        return Table(name, tr(N_("Quiz questions, right first answers (worst first)")),
                     (tr(N_("course")), tr(N_("lesson")), tr(N_("question")),
                      tr(N_("first answers")), tr(N_("right")), tr(N_("right (%)")),
                      tr(N_("text"))),
                     tuple((c, lesson, str(n), str(answers), str(right),
                            _share(right, answers, blank), text)
                           for c, lesson, n, text, answers, right in found.quiz))
    if name == "cohorts":
        return Table(name, tr(N_("Each cohort across edges (all time)")),
                     (tr(N_("cohort")), tr(N_("course")), tr(N_("starts on")),
                      tr(N_("invited")), tr(N_("joined")), tr(N_("started lesson 1")),
                      tr(N_("half the course")), tr(N_("certificate")),
                      tr(N_("joined (%)")), tr(N_("edge")), "uid"),
                     tuple((c.name, c.course_id or blank, c.starts_on or blank,
                            str(c.invited), str(c.joined), str(c.started), str(c.half),
                            str(c.certificate), _share(c.joined, c.invited, blank),
                            c.edge_id or blank, c.uid)
                           for c in found.cohorts))
    if name == "cohort_completion":
        return Table(name, tr(N_("Each cohort's lessons completed by its members "
                                 "(all time)")),
                     (tr(N_("cohort")), tr(N_("lesson")), tr(N_("title")),
                      tr(N_("learners")), tr(N_("joined (%)"))),
                     tuple((c.name, lesson_id, title, str(count),
                            _share(count, c.joined, blank))
                           for c in found.cohorts for lesson_id, title, count in c.lessons))
    if name == "cohort_quiz":
        return Table(name, tr(N_("Each cohort's quiz questions, right first answers "
                                 "(all time, worst first)")),
                     (tr(N_("cohort")), tr(N_("lesson")), tr(N_("question")),
                      tr(N_("first answers")), tr(N_("right")), tr(N_("right (%)")),
                      tr(N_("text"))),
                     tuple((c.name, lesson, str(n), str(answers), str(right),
                            _share(right, answers, blank), text)
                           for c in found.cohorts
                           for lesson, n, text, answers, right in c.quiz))
    if name == "costs":
        spent = report.costs
        every = tr(N_("all edges"))
        totals = spent.totals or (costs.Spent("", "", 0, 0, None),)
        return Table(name, tr(N_("Messages and their cost across edges, %(month)s (UTC), "
                                 "as each edge prices them")) % {"month": spent.month},
                     (tr(N_("edge")), tr(N_("currency")), tr(N_("messages")),
                      tr(N_("segments")), tr(N_("cost")), tr(N_("lessons completed")),
                      tr(N_("cost per lesson"))),
                     tuple((s.edge_id, s.currency or blank, str(s.messages), str(s.segments),
                            money(s.cost, blank=blank), blank, blank)
                           for s in spent.edges)
                     + tuple((every, s.currency or blank, str(s.messages), str(s.segments),
                              money(s.cost, blank=blank), str(spent.lessons_completed),
                              money(spent.per_lesson(s), blank=blank))
                             for s in totals))
    raise KeyError(name)


def to_csv(report: HubProgramReport, name: str,
           gettext: Callable[[str], str] | None = None) -> str:
    """One of TABLES as CSV (a header line, then rows; empty cells where no figure)."""
    return table_csv(table(report, name, blank="", gettext=gettext))
