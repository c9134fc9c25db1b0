"""The dashboard's cohort pages (docs/programs.md, Cohorts): a program's cohorts with
their funnels, the form that creates one from an uploaded CSV file, one cohort's funnel
and its members as CSV; on a hub, the cohorts the edges made, across edges, and no
upload (cohorts are made and invited on an edge). The routes join the dashboard's
blueprint, whose gate signs in and checks CSRF, and admits administrators (of the whole
gateway or of a program; 403 for anyone else); each page then answers 404 to an
administrator of another program, as for a program that does not exist.

The upload takes a file of up to UPLOAD_BYTES from the program's administrators (the
gateway's other routes, and anyone else here, 64 KiB); a larger one is answered with a
page saying its size, the limit and the command that imports any size, unread."""

from __future__ import annotations

from flask import Response, abort, current_app, g, redirect, request, url_for

from gateway import programs
from gateway.config import ConfigError
from gateway.hub.routes import request_hub
from gateway.i18n import translations
from gateway.ops import cohort_reports, hub_program_reports, staff, staff_web
from gateway.ops.cohorts import CohortError, budget_warning, create_cohort
from gateway.ops.dashboard import ACCESS, LARGE_BODIES, PROGRAM_ADMIN, _page, blueprint
from gateway.ops.reports import Table, table_csv
from gateway.programs import Program
from gateway.store import cohorts as stored
from gateway.store.per_thread import get_store

ENDPOINTS = ("admin.cohorts", "admin.create_cohort", "admin.cohort", "admin.cohort_csv",
             "admin.cohort_table_csv")
ACCESS.update(dict.fromkeys(ENDPOINTS, PROGRAM_ADMIN))
# The upload's limit: about 87,000 numbers with names at NAME_CHARS (96 bytes a line in
# Latin letters), all 200,000 a file may hold with short names (200,000 lines of
# `+234...,First Last` are 5-6 MB). A server process holds an upload in memory while it
# arrives and is checked, a few times its size, so a few at once cost tens of MB, not
# hundreds. The command (`learnline cohorts import`) reads
# files up to gateway.ops.cohorts.MAX_BYTES.
UPLOAD_BYTES = 8 * 1024 * 1024


@blueprint.context_processor
def _cohort_programs() -> dict:
    """The programs whose cohorts the signed-in account administers, for its pages'
    links (every program for a whole-gateway administrator)."""
    account = g.get("staff")
    try:
        configured = list(programs.current())
    except ConfigError:  # the file broke since start-up: the pages say nothing of it
        return {"cohort_programs": []}
    if g.get("admin"):
        return {"cohort_programs": configured}
    return {"cohort_programs": [p for p in configured if account is not None
                                and account.has_role(staff.ADMIN, p.id)]}


def _program(program_id: str) -> Program:
    """The program, if the asker administers it (or the whole gateway); else 404."""
    program = programs.current().get(program_id)
    if program is None:
        abort(404)
    if g.admin or (g.staff is not None and g.staff.has_role(staff.ADMIN, program.id)):
        return program
    abort(404)


def _cohort(program: Program, cohort_id: int) -> stored.Cohort:
    cohort = stored.get(get_store(), cohort_id)
    if cohort is None or cohort.program != program.id:
        abort(404)
    return cohort


def _funnel(cohort: stored.Cohort) -> stored.Funnel:
    course = get_store().course(cohort.course_id)
    return stored.funnel(get_store(), cohort, len(course.lesson_ids) if course else 0)


def _list_page(program: Program, *, status: int = 200, problems: list[str] | None = None,
               form: dict | None = None, refused: bool = False):
    store = get_store()
    shown = [(cohort, _funnel(cohort)) for cohort in stored.of_program(store, program.id)]
    courses = [course for course in store.courses() if course.program == program.id]
    created = request.args.get("created", "")
    warning = budget_warning(store, current_app.extensions["learnline.carriers"],
                             program) if created else None
    return _page("admin_cohorts.html", status=status, program=program, shown=shown,
                 courses=courses, problems=problems or [], form=form or {},
                 created=created, warning=warning, limit=_megabytes(UPLOAD_BYTES),
                 across=_across_edges(program), refused=refused)


def _on_hub() -> bool:
    return current_app.config.get("ROLE") == "hub"


def _across_edges(program: Program) -> dict | None:
    """On a hub, the program's cohorts as the edges made them: each cohort's definition
    (its edge, course, start date) with its funnel across edges (the table `cohorts` of
    gateway/ops/hub_program_reports.py), and its members per edge where they joined;
    None elsewhere."""
    if not _on_hub():
        return None
    hub = request_hub()
    report = hub_program_reports.build(hub, program.id)
    return {"table": hub_program_reports.table(report, "cohorts",
                                               gettext=translations(g.locale).gettext),
            "members": hub.cohort_figures(program.id)}


@blueprint.get("/programs/<program_id>/cohorts")
def cohorts(program_id: str):
    """A program's cohorts with their funnels, and the form that creates one. On a hub,
    the cohorts the edges made, across edges, and no form: cohorts are made and invited
    on an edge."""
    return _list_page(_program(program_id))


@blueprint.post("/programs/<program_id>/cohorts", endpoint="create_cohort")
def create_cohort_page(program_id: str):
    """Create a cohort from the uploaded CSV file; on any problem, the form again with
    every problem (`line N: ...`) and nothing imported. On a hub, nothing: 409 and the
    page saying cohorts are made on an edge."""
    program = _program(program_id)
    if _on_hub():
        # A cohort made here would invite through the hub's own carriers, and the edges
        # would never hear of it: cohorts are made on an edge, which pushes them here.
        return _list_page(program, status=409, refused=True)
    upload = request.files.get("numbers")
    form = {key: request.form.get(key, "") for key in ("name", "course", "starts_on",
                                                        "contacts")}
    actor = g.staff.username if g.staff is not None else "dashboard token"
    try:
        cohort = create_cohort(
            get_store(), current_app.extensions["learnline.carriers"], program,
            name=form["name"], course_id=form["course"], starts_on=form["starts_on"],
            data=upload.read() if upload is not None else b"", actor=actor,
            contacts=[c for c in form["contacts"].replace(";", ",").split(",") if c.strip()],
            address=staff_web.address())
    except CohortError as refused:
        return _list_page(program, status=400, problems=refused.problems, form=form)
    return redirect(url_for("admin.cohorts", program_id=program.id, created=cohort.id), 303)


def _too_large(size: int) -> tuple[str, int]:
    """413: the upload of `size` bytes is over UPLOAD_BYTES; the page says to use the
    command, which reads any file the checks allow."""
    program = _program((request.view_args or {}).get("program_id", ""))
    return _page("admin_upload_too_large.html", status=413, program=program,
                 size=_megabytes(size), limit=_megabytes(UPLOAD_BYTES))


def _megabytes(size: int) -> str:
    value = size / (1024 * 1024)
    return f"{value:.0f} MB" if value == int(value) else f"{value:.1f} MB"


LARGE_BODIES["admin.create_cohort"] = (UPLOAD_BYTES, _too_large)


@blueprint.get("/programs/<program_id>/cohorts/<int:cohort_id>")
def cohort(program_id: str, cohort_id: int):
    """One cohort: its funnel, from numbers imported to certificates, then lessons
    completed, its quiz questions worst first and its cost per completed lesson."""
    program = _program(program_id)
    found = _cohort(program, cohort_id)
    report = cohort_reports.build(get_store(), current_app.extensions["learnline.carriers"],
                                  found)
    return _page("admin_cohort.html", program=program, cohort=found, funnel=_funnel(found),
                 tables=[cohort_reports.table(report, name) for name in cohort_reports.TABLES])


@blueprint.get("/programs/<program_id>/cohorts/<int:cohort_id>.csv")
def cohort_csv(program_id: str, cohort_id: int):
    """One cohort's funnel as CSV: one line per stage with its count."""
    program = _program(program_id)
    found = _cohort(program, cohort_id)
    funnel = _funnel(found)
    stages = ("members", "invited", "joined", "started", "half", "certificate")
    found_table = Table("funnel", "funnel", ("program", "cohort", "stage", "count"),
                        tuple((program.id, found.name, stage, str(getattr(funnel, stage)))
                              for stage in stages))
    return Response(table_csv(found_table), content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="cohort-{found.id}.csv"'})


@blueprint.get("/programs/<program_id>/cohorts/<int:cohort_id>/<table>.csv")
def cohort_table_csv(program_id: str, cohort_id: int, table: str):
    """One of a cohort's tables (cohort_reports.TABLES) as CSV; 404 for another name."""
    program = _program(program_id)
    found = _cohort(program, cohort_id)
    if table not in cohort_reports.TABLES:
        abort(404)
    report = cohort_reports.build(get_store(), current_app.extensions["learnline.carriers"],
                                  found)
    return Response(cohort_reports.to_csv(report, table),
                    content_type="text/csv; charset=utf-8", headers={
                        "Content-Disposition":
                            f'attachment; filename="cohort-{found.id}-{table}.csv"'})
