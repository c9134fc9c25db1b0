"""One cohort's figures beyond its funnel (docs/programs.md, Cohorts): lessons of its
course completed by its members, its quiz questions' right first answers (worst first),
and its messages' cost per completed lesson, for the cohort's page, its CSV files
(/admin/programs/<id>/cohorts/<n>/<table>.csv) and `learnline cohorts show`.

Every figure comes from gateway/store/cohort_stats.py, over all time, for the cohort's
joined members in the cohort's course alone; messages are priced as the program's
`costs` table prices them (program_reports.priced).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.config import Carrier
from gateway.ops.program_reports import priced
from gateway.ops.reports import Table, money, percent, table_csv
from gateway.store import Store, cohort_stats
from gateway.store import cohorts as stored

TABLES = ("completion", "quiz", "costs")
QUIZ_ROWS = 20  # the worst questions shown; a course has rarely more worth reading


@dataclass(frozen=True)
class CohortReport:
    """Every figure of one cohort beyond its funnel."""

    cohort: stored.Cohort
    joined: int
    # (lesson number from 1, lesson id, title, members who completed it)
    completion: tuple[tuple[int, str, str, int], ...]
    # (lesson id, question from 1, its text, first answers, right ones), worst first
    quiz: tuple[tuple[str, int, str, int, int], ...]
    # (currency, messages sent, their segments, cost or None, lessons completed,
    # messages queued, messages not sent)
    costs: tuple[tuple[str, int, int, float | None, int, int, int], ...]


def build(store: Store, carriers: Iterable[Carrier], cohort: stored.Cohort) -> CohortReport:
    """Compute `cohort`'s completion, quiz and cost figures from its members' rows in its
    course and its program; `carriers` give the prices."""
    course = store.course(cohort.course_id)
    locale = course.default_locale if course else "en"
    done = cohort_stats.lessons_completed(store, cohort)
    completion = []
    lessons = {}  # read once, for completion and quiz alike
    for number, lesson_id in enumerate(course.lesson_ids if course else (), start=1):
        lesson = lessons[lesson_id] = store.lesson(cohort.course_id, lesson_id, locale)
        completion.append((number, lesson_id, lesson.title if lesson else "-",
                           done.get(lesson_id, 0)))
    quiz = []
    for lesson_id, question, answers, right in cohort_stats.first_answers(store, cohort):
        lesson = lessons[lesson_id] if lesson_id in lessons else (
            store.lesson(cohort.course_id, lesson_id, locale) if course else None)
        text = (lesson.questions[question].text
                if lesson and question < len(lesson.questions) else "-")
        quiz.append((lesson_id, question + 1, text, answers, right))
    quiz.sort(key=lambda q: (q[4] / q[3] if q[3] else 0.0, q[0], q[1]))
    joined = cohort_stats.joined_count(store, cohort)
    costs = priced(carriers, cohort_stats.messages_by_carrier(store, cohort),
                   sum(done.values()))
    return CohortReport(cohort, joined, tuple(completion), tuple(quiz[:QUIZ_ROWS]), costs)


def table(report: CohortReport, name: str, *, blank: str = "-") -> Table:
    """One of TABLES as text cells. Raises KeyError for another name."""
    if name == "completion":
        return Table(name, "Lessons completed by the cohort's members (all time)",
                     ("lesson", "id", "title", "completed", "of joined (%)"),
                     tuple((str(n), lesson_id, title, str(count),
                            percent(count / report.joined if report.joined else None,
                                    blank=blank))
                           for n, lesson_id, title, count in report.completion))
    if name == "quiz":
        return Table(name, f"Quiz questions, right first answers (worst {QUIZ_ROWS})",
                     ("lesson", "question", "first answers", "right", "right (%)", "text"),
                     tuple((lesson_id, str(n), str(answers), str(right),
                            percent(right / answers if answers else None, blank=blank), text)
                           for lesson_id, n, text, answers, right in report.quiz))
    if name == "costs":
        return Table(name, "Messages to the cohort's numbers and cost per completed lesson",
                     ("currency", "messages", "segments", "cost", "lessons completed",
                      "cost per lesson", "queued", "not sent"),
                     tuple((currency or blank, str(msgs), str(segs), money(cost, blank=blank),
                            str(lessons), money(cost / lessons if cost is not None and lessons
                                                else None, blank=blank),
                            str(queued), str(unsent))
                           for currency, msgs, segs, cost, lessons, queued, unsent
                           in report.costs))
    raise KeyError(name)


def to_csv(report: CohortReport, name: str) -> str:
    """One of TABLES as CSV (a header line, then rows; empty cells where no figure), as
    a program's tables are (program_reports.to_csv)."""
    return table_csv(table(report, name, blank=""))
