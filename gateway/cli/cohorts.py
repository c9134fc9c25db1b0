"""`learnline cohorts`: a program's cohorts from the terminal (docs/programs.md, Cohorts):
import one from a CSV file of phone numbers, list them with their funnels, show one's
completion, quiz and cost figures."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from gateway import environment, programs
from gateway.cli.db import existing_db_path
from gateway.config import ConfigError, load_carriers
from gateway.ops import cohort_reports
from gateway.ops.cohorts import CohortError, budget_warning, create_cohort
from gateway.ops.reports import format_table
from gateway.server.whole_numbers import LARGEST
from gateway.store import Store
from gateway.store import cohorts as stored


def _program(program_id: str) -> programs.Program:
    try:
        configured = programs.current()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    program = configured.get(program_id)
    if program is None:
        raise click.ClickException(
            f"no program {program_id!r} is configured (programs: "
            f"{', '.join(sorted(configured.by_id)) or 'none: set LEARNLINE_PROGRAMS'})")
    return program


@click.group("cohorts")
def cohorts_group() -> None:
    """A program's cohorts: numbers imported from a CSV file, each invited once.

    \b
    Examples:
      learnline cohorts import orange "Dakar intake" numbers.csv --course orange-course
      learnline cohorts list orange
      learnline cohorts show orange 3
    """


@cohorts_group.command("import")
@click.argument("program_id", metavar="PROGRAM")
@click.argument("name", metavar="COHORT")
@click.argument("csv_file", metavar="FILE.csv",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--course", "course_id", required=True, metavar="COURSE_ID",
              help="The program's course the cohort follows (its folder name).")
@click.option("--starts-on", default="", metavar="YYYY-MM-DD",
              help="The day invitations start going (default: today, UTC).")
@click.option("--contact", "contacts", multiple=True, metavar="NUMBER",
              help="A number the weekly report goes to (repeat for several).")
def import_command(program_id: str, name: str, csv_file: Path, course_id: str,
                   starts_on: str, contacts: tuple[str, ...]) -> None:
    """Create the cohort COHORT of PROGRAM from FILE.csv: a first line `phone,name` (name
    optional), then one number a line, in any national format of the program's country.

    Every line is checked first; on any problem each is told as `line N: ...` and nothing
    is imported. The numbers are then invited, paced, from the start date: nobody joins
    before answering. On an edge only: a hub refuses it.

    \b
    Example:
      learnline cohorts import orange "Dakar intake" numbers.csv --course orange-course \\
        --starts-on 2026-01-05 --contact "77 000 00 01"
    """
    if environment.get("LEARNLINE_ROLE", "").strip().lower() == "hub":
        raise click.ClickException(
            "this is the hub (LEARNLINE_ROLE=hub): import the cohort on an edge, which "
            "invites its numbers through its carriers and pushes the cohort to the hub")
    program = _program(program_id)
    try:
        carriers = load_carriers()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    starts_on = starts_on or datetime.now(UTC).date().isoformat()
    with Store.open(existing_db_path(), migrate=True) as store:
        try:
            cohort = create_cohort(store, carriers, program, name=name, course_id=course_id,
                                   starts_on=starts_on, data=csv_file.read_bytes(),
                                   actor="terminal", contacts=contacts)
        except CohortError as exc:
            for problem in exc.problems:
                click.echo(f"{csv_file}: {problem}", err=True)
            raise click.ClickException("nothing imported") from None
        count = stored.funnel(store, cohort, 0).members
        warning = budget_warning(store, carriers, program)
    click.echo(f"cohort {cohort.id} ({cohort.name}) of {program.id}: {count} numbers "
               f"imported; invitations go from {cohort.starts_on}")
    if warning:
        click.echo(f"warning: {warning}", err=True)


@cohorts_group.command("list")
@click.argument("program_id", metavar="PROGRAM")
def list_command(program_id: str) -> None:
    """List PROGRAM's cohorts with their funnels, under a header line: each cohort's
    number, name, course, start date, and its numbers, invited, joined, started, half
    the course, certificates.

    \b
    Example:
      learnline cohorts list orange
    """
    program = _program(program_id)
    with Store.open(existing_db_path(), migrate=True) as store:
        click.echo("cohort\tname\tcourse\tstarts on\tfunnel")
        for cohort in stored.of_program(store, program.id):
            course = store.course(cohort.course_id)
            f = stored.funnel(store, cohort, len(course.lesson_ids) if course else 0)
            click.echo(f"{cohort.id}\t{cohort.name}\t{cohort.course_id}\t{cohort.starts_on}\t"
                       f"numbers {f.members}, invited {f.invited}, joined {f.joined}, "
                       f"started {f.started}, half {f.half}, certificates {f.certificate}")


@cohorts_group.command("show")
@click.argument("program_id", metavar="PROGRAM")
@click.argument("cohort_id", metavar="COHORT", type=click.IntRange(1, LARGEST))
def show_command(program_id: str, cohort_id: int) -> None:
    """Show one of PROGRAM's cohorts (its number, from `cohorts list`): lessons its
    members completed, its quiz questions worst first, its cost per completed lesson.

    \b
    Example:
      learnline cohorts show orange 3
    """
    program = _program(program_id)
    try:
        carriers = load_carriers()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    with Store.open(existing_db_path(), migrate=True) as store:
        cohort = stored.get(store, cohort_id)
        if cohort is None or cohort.program != program.id:
            raise click.ClickException(f"{program.id} has no cohort {cohort_id}")
        report = cohort_reports.build(store, carriers, cohort)
    click.echo(f"{cohort.id}\t{cohort.name}\t{cohort.course_id}\t{cohort.starts_on}")
    for name in cohort_reports.TABLES:
        click.echo("\n" + format_table(cohort_reports.table(report, name)))
