"""`learnline export`: learning events for evaluators, as CSV or Parquet (docs/integrations.md,
Research exports)."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO

import click

from gateway.cli.db import existing_db_path
from gateway.store import Store

DAY = timedelta(days=1)


def _day(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise click.ClickException(
            f"{option}: {value!r} is not a date (YYYY-MM-DD, UTC)") from None


def _epoch(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def _programs_of(store: Store) -> dict[str, str]:
    return {course.id: course.program for course in store.courses()}


def _known_programs(programs_of: dict[str, str]) -> set[str]:
    from gateway import programs
    from gateway.config import ConfigError

    try:
        configured = set(programs.current().by_id)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    return configured | {program for program in programs_of.values() if program}


@contextlib.contextmanager
def _output(output: str, binary: bool) -> Iterator[IO]:
    """The file to write to: standard output for '-', else a new file beside OUTPUT,
    readable by its owner only, put in OUTPUT's place once complete (an export that
    fails leaves no half-written file, and an earlier one stays as it was)."""
    if output == "-":
        sys.stdout.flush()
        if binary:
            yield sys.stdout.buffer
            return
        stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            yield stream
        finally:
            stream.flush()
            stream.detach()
        return
    target = Path(output)
    try:
        fd, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial",
                                       dir=target.parent)
    except OSError as exc:
        raise click.ClickException(f"--output {output}: cannot write: {exc.strerror}") \
            from None
    try:
        with (os.fdopen(fd, "wb") if binary
              else os.fdopen(fd, "w", encoding="utf-8", newline="")) as file:
            yield file
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise


@click.command("export")
@click.option("-o", "--output", required=True, metavar="PATH",
              help="The file to write (created readable by its owner only), or - for "
                   "standard output.")
@click.option("--format", "kind", type=click.Choice(["csv", "parquet"]), default="csv",
              show_default=True,
              help="CSV, or Parquet (needs the extra: pip install 'learnline[parquet]').")
@click.option("--course", "courses", multiple=True, metavar="ID",
              help="Only this course's events (repeatable).")
@click.option("--program", metavar="ID",
              help="Only the events of this program's courses, and joins to it.")
@click.option("--since", metavar="YYYY-MM-DD", help="From this day on (UTC).")
@click.option("--until", metavar="YYYY-MM-DD", help="Up to this day, included (UTC).")
@click.option("--hub", is_flag=True,
              help="Every edge's events, from the hub's store "
                   "($LEARNLINE_HUB_DATABASE_URL, else hub.db), not this gateway's.")
def export_command(output: str, kind: str, courses: tuple[str, ...], program: str | None,
                   since: str | None, until: str | None, hub: bool) -> None:
    """Write the learning events for evaluators, one row per event.

    Learners are pseudonyms (a keyed hash of the number, the same as in xAPI
    statements; never the number); erased learners are left out. Rows are
    written as they are read, so memory stays flat however many there are.
    docs/integrations.md says what each column holds.

    \b
    Examples:
      learnline export -o events.csv
      learnline export --program orange --since 2026-01-01 --until 2026-03-31 -o q1.csv
      learnline export --course start-freelancing --format parquet -o events.parquet
      learnline export --hub -o every-edge.csv
    """
    from gateway.ops import research_export
    from gateway.pseudonyms import gateway_key

    first, last = _day("--since", since), _day("--until", until)
    if first is not None and last is not None and first > last:
        raise click.ClickException(f"--since {first} is after --until {last}")
    if kind == "parquet":
        if output == "-":
            raise click.ClickException("--format parquet: write it to a file (--output PATH)")
        try:
            research_export.parquet_available()
        except research_export.ParquetMissing as exc:
            raise click.ClickException(f"--format parquet: {exc}") from None
    low = None if first is None else _epoch(first)
    high = None if last is None else _epoch(last + DAY)
    with Store.open(existing_db_path(), migrate=True) as store:
        try:
            key = gateway_key(store)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        programs_of = _programs_of(store)
        unknown = sorted(set(courses) - set(programs_of))
        if unknown:
            raise click.ClickException(f"--course: no course {unknown[0]!r} here")
        if program is not None and program not in _known_programs(programs_of):
            raise click.ClickException(f"--program: no program {program!r} (neither in "
                                       "LEARNLINE_PROGRAMS nor named by a course here)")
        filters = research_export.Filters(frozenset(courses) if courses else None, program)
        with contextlib.ExitStack() as stack:
            if hub:
                from gateway import environment
                from gateway.hub.store import HubError, default_hub_db_path, open_hub_store

                if not environment.get("LEARNLINE_HUB_DATABASE_URL", "").strip() \
                        and not default_hub_db_path().exists():
                    raise click.ClickException(
                        f"--hub: no hub database at {default_hub_db_path()} (set "
                        "LEARNLINE_HUB_DATABASE_URL or LEARNLINE_HUB_DB)")
                try:
                    hub_store = stack.enter_context(open_hub_store())
                except (HubError, ValueError) as exc:
                    raise click.ClickException(str(exc)) from None
                if hub_store.schema_version() == 0:
                    raise click.ClickException("--hub: the hub's store is empty "
                                               "(no hub runs on this database)")
                source = hub_store.export_rows(low, high)
            else:
                from gateway.store.event_export import export_rows

                source = export_rows(store, low, high)
            # Closed before the store it reads (a page's query, the hub's snapshot).
            stack.enter_context(contextlib.closing(source))
            rows = research_export.export_rows(source, key, programs_of, filters)
            with _output(output, binary=kind == "parquet") as out:
                count = research_export.WRITERS[kind](rows, out)
    where = "standard output" if output == "-" else output
    click.echo(f"{count} event{'' if count == 1 else 's'} written to {where}", err=True)
