"""Each program's page on the dashboard (docs/programs.md, Scoped figures):
/admin/programs lists the programs (whole-gateway administrators), /admin/programs/<id>
shows one program's figures (gateway/ops/program_reports.py) and
/admin/programs/<id>/<table>.csv each table as CSV; on a hub, the program's page also
shows its members across edges, per edge and per cohort, and its figures across edges
(gateway/ops/hub_program_reports.py), each table as CSV at
/admin/programs/<id>/edges/<table>.csv. A program's page is for
whole-gateway administrators and that program's administrators (ACCESS: PROGRAM_ADMIN);
anyone else is refused by the dashboard's gate, and a program not configured is 404.
"""

from __future__ import annotations

from flask import Response, abort, current_app, g

from gateway import programs
from gateway.hub.routes import request_hub
from gateway.i18n import translations
from gateway.ops import hub_program_reports, program_reports, reports
from gateway.ops.dashboard import ACCESS, PROGRAM_ADMIN, _days, _page, blueprint
from gateway.store.per_thread import get_store

ACCESS.update({"admin.program": PROGRAM_ADMIN, "admin.program_csv": PROGRAM_ADMIN,
               "admin.program_edges_csv": PROGRAM_ADMIN})


def _program(program: str) -> programs.Program:
    found = programs.current().get(program)
    if found is None:
        abort(404)
    return found


def _report(program: str) -> program_reports.ProgramReport:
    return program_reports.build(get_store(), current_app.extensions["learnline.carriers"],
                                 program, _days())


def _across_edges(program: str, own: program_reports.ProgramReport) -> dict | None:
    """On a hub, `program`'s members per edge where they joined and per cohort across
    edges, and its figures across edges as tables (docs/sync.md, Programs), and whether
    the hub's own figures (`own`, its own learners') have anything to show; None
    elsewhere."""
    if current_app.config.get("ROLE") != "hub":
        return None
    hub = request_hub()
    report = hub_program_reports.build(hub, program, _days())
    gettext = translations(g.locale).gettext
    return {"edges": hub.program_figures(program), "cohorts": hub.cohort_figures(program),
            "report": report, "own": _has_figures(own),
            "tables": {name: hub_program_reports.table(report, name, gettext=gettext)
                       for name in hub_program_reports.TABLES}}


def _has_figures(report: program_reports.ProgramReport) -> bool:
    """Whether a program's report shows anything but zeros: a member, an enrolment, a
    quiz answer, a message or a question."""
    return bool(report.joined or report.quiz or any(report.asked)
                or any(row[1] for row in report.costs)
                or any(funnel.steps.enrolled for funnel in report.funnels))


@blueprint.get("/programs")
def program_list():
    """Every configured program, each with a link to its page (whole-gateway
    administrators)."""
    return _page("admin_programs.html", programs=list(programs.current()))


@blueprint.get("/programs/<program>")
def program(program: str):
    """One program's figures for the last `days` days: its funnel, quiz questions,
    messages and cost per completed lesson, questions to tutors; its rows alone. On a
    hub, its figures across edges first (members per edge and per cohort, funnel,
    lessons, quiz, cohorts, costs), then the hub's own figures only when it has any."""
    found = _program(program)
    report = _report(program)
    gettext = translations(g.locale).gettext
    return _page("admin_program.html", program=found, report=report,
                 tables={name: program_reports.table(report, name, gettext=gettext)
                         for name in program_reports.TABLES},
                 generated=reports.generated_at(get_store().clock()),
                 days=len(report.period.days), max_days=reports.MAX_DAYS, _=gettext,
                 across=_across_edges(program, report))


@blueprint.get("/programs/<program>/<table>.csv")
def program_csv(program: str, table: str):
    """One table of a program's page as CSV, for the same `days`."""
    _program(program)
    if table not in program_reports.TABLES:
        abort(404)
    report = _report(program)
    period = report.period
    name = f"learnline-{program}-{table}-{period.days[0]}-to-{period.days[-1]}.csv"
    return Response(program_reports.to_csv(report, table,
                                           gettext=translations(g.locale).gettext),
                    content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@blueprint.get("/programs/<program>/edges/<table>.csv")
def program_edges_csv(program: str, table: str):
    """One table of a program's figures across edges as CSV, for the same `days`; on a
    hub alone (404 elsewhere)."""
    _program(program)
    if current_app.config.get("ROLE") != "hub" or table not in hub_program_reports.TABLES:
        abort(404)
    report = hub_program_reports.build(request_hub(), program, _days())
    period = report.period
    name = (f"learnline-{program}-edges-costs-{report.costs.month}.csv" if table == "costs"
            else f"learnline-{program}-edges-{table}-{period.days[0]}-to-{period.days[-1]}"
            ".csv")
    return Response(hub_program_reports.to_csv(report, table,
                                               gettext=translations(g.locale).gettext),
                    content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
