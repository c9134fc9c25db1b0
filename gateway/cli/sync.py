"""`learnline sync` (an edge's round with its hub) and `learnline hub ...` (the hub's
edges and packs). docs/sync.md."""

from __future__ import annotations

from pathlib import Path

import click

from gateway import environment
from gateway.server.whole_numbers import LARGEST
from gateway.store import Store, default_db_path
from gateway.terminal import shown


@click.command("sync")
def sync_command() -> None:
    """Run one sync round with the hub now and print what moved.

    Needs LEARNLINE_HUB_URL, LEARNLINE_EDGE_ID and LEARNLINE_EDGE_TOKEN. `learnline
    worker` does the same every LEARNLINE_SYNC_SECONDS (default 60) by itself.

    \b
    Example:
      learnline sync
    """
    from gateway.sync.client import EdgeLink, SyncError, sync_once

    try:
        link = EdgeLink.from_env()
    except SyncError as exc:
        raise click.ClickException(str(exc)) from None
    if link is None:
        raise click.ClickException("no hub configured: set LEARNLINE_HUB_URL, "
                                   "LEARNLINE_EDGE_ID and LEARNLINE_EDGE_TOKEN")
    with Store.open(default_db_path(), migrate=True) as store:
        try:
            report = sync_once(store, link)
        except SyncError as exc:
            raise click.ClickException(f"sync with {link.hub_url} failed: {exc}") from None
    click.echo(report.summary())


@click.group("hub")
def hub_group() -> None:
    """The hub's edges and course packs (on $LEARNLINE_HUB_DATABASE_URL, else SQLite).

    \b
    Example:
      learnline hub add-edge lagos-1 --name "Lagos, carrier A"
    """


def _hub():
    """The hub's store, its schema current. On a gateway that is no hub (no LEARNLINE_ROLE
    =hub, no hub store configured or made), a hub command stops with one line rather than
    make an empty hub.db beside an edge's database."""
    from gateway.hub.store import default_hub_db_path, open_hub_store

    configured = any(environment.get(name, "").strip()
                     for name in ("LEARNLINE_HUB_DATABASE_URL", "LEARNLINE_HUB_DB"))
    if environment.get("LEARNLINE_ROLE", "").strip().lower() != "hub" and not configured \
            and not default_hub_db_path().exists():
        raise click.ClickException(
            "this gateway is not a hub: hub commands run on the hub, whose environment "
            "has LEARNLINE_ROLE=hub (docs/sync.md)")
    hub = open_hub_store()
    hub.migrate()
    return hub


def _region_options(command):
    """--country, --prefix and --roam-limit: the numbers an edge is trusted for."""
    command = click.option("--roam-limit", type=click.IntRange(0, LARGEST), default=None,
                           help="Learners with history on other edges who may roam into "
                           "this edge an hour (default 60 for a new edge).")(command)
    command = click.option("--prefix", "prefixes", multiple=True, metavar="+DIGITS",
                           help="Numbers starting with this are in the edge's region "
                           "(repeatable; '+' alone: every number).")(command)
    return click.option("--country", "countries", multiple=True, metavar="XX",
                        help="Numbers of this country (ISO 3166) are in the edge's region "
                        "(repeatable).")(command)


def _region(countries: tuple[str, ...], prefixes: tuple[str, ...]):
    from gateway.hub.confine import Region

    if not countries and not prefixes:
        return None
    try:
        return Region.parse(countries, prefixes)
    except ValueError as exc:
        hint = "--country" if str(exc).startswith("country") else "--prefix"
        raise click.BadParameter(str(exc), param_hint=hint) from None


@hub_group.command("add-edge")
@click.argument("edge_id")
@click.option("--name", default="", help="Where the edge is, for people.")
@_region_options
def add_edge(edge_id: str, name: str, countries: tuple[str, ...], prefixes: tuple[str, ...],
             roam_limit: int | None) -> None:
    """Register an edge and print its token (shown this once: put it in the edge's
    LEARNLINE_EDGE_TOKEN). Adding an existing edge gives it a new token.

    The edge reads the history other edges recorded of a learner only when the number
    is in its region (--country, --prefix), for at most --roam-limit new learners an
    hour, each recorded in `learnline hub audit`. Without a region it is confined: it
    teaches, and its events are kept, but it reads nobody's history from elsewhere and
    its records pass on to no other edge (docs/sync.md, "Trust between edges").

    \b
    Example:
      learnline hub add-edge lagos-1 --name "Lagos, carrier A" --country NG
    """
    from gateway.sync.protocol import EDGE_ID_RE

    if not EDGE_ID_RE.match(edge_id) or edge_id == "hub":
        raise click.BadParameter("lowercase letters, digits and '-', at most 40 "
                                 "(and not 'hub', the hub's own)", param_hint="EDGE_ID")
    region = _region(countries, prefixes)
    hub = _hub()
    try:
        token = hub.add_edge(edge_id, name, region=region, roam_limit=roam_limit)
        [edge] = [e for e in hub.edges() if e.edge_id == edge_id]
    finally:
        hub.close()
    if not edge.region.countries and not edge.region.prefixes:
        click.echo(f"{edge_id} has no region: it is confined for every learner (give "
                   "--country or --prefix, here or with `learnline hub set-edge`)", err=True)
    click.echo(token)


@hub_group.command("set-edge")
@click.argument("edge_id")
@_region_options
@click.option("--confine", is_flag=True, help="No region: the edge reads nobody's history.")
def set_edge(edge_id: str, countries: tuple[str, ...], prefixes: tuple[str, ...],
             roam_limit: int | None, confine: bool) -> None:
    """Change an edge's region (--country and --prefix replace it) or roam limit; its
    token stays. Learners it knew outside the new region are confined from now on; those
    it knew in the region before the hub had regions are trusted again.

    \b
    Examples:
      learnline hub set-edge lagos-1 --country NG --prefix +22177
      learnline hub set-edge lagos-1 --roam-limit 200
    """
    from gateway.hub.confine import Region
    from gateway.hub.store import UnknownEdge

    region = Region() if confine else _region(countries, prefixes)
    if confine and (countries or prefixes):
        raise click.UsageError("--confine with --country or --prefix: choose one")
    if region is None and roam_limit is None:
        raise click.UsageError("nothing to change: give --country, --prefix, --confine "
                               "or --roam-limit")
    hub = _hub()
    try:
        confined = hub.set_edge(edge_id, region=region, roam_limit=roam_limit)
        [edge] = [e for e in hub.edges() if e.edge_id == edge_id]
    except UnknownEdge:
        raise click.ClickException(f"no edge {edge_id!r} (see `learnline hub edges`)") from None
    finally:
        hub.close()
    click.echo(f"{edge_id}: region {edge.region.describe()}, at most {edge.roam_limit} "
               f"learners roaming in an hour; {confined} learners outside the region "
               "confined now")


@hub_group.command("erase")
@click.argument("phone")
@click.option("--country", default=None, metavar="XX",
              help="Read a national number as of this country (ISO 3166).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase(phone: str, country: str | None, yes: bool) -> None:
    """Erase a learner on every edge: the hub's history of PHONE takes a pseudonym, and
    every edge that knows the number erases it on its next sync (as `learnline learners
    erase` does there). An erasure from an edge applies everywhere only when the number
    is in that edge's region; this one always does.

    \b
    Example:
      learnline hub erase +2348030000000
    """
    from gateway.phones import InvalidPhoneNumber, to_e164

    try:
        number = to_e164(phone, country)
    except InvalidPhoneNumber as exc:
        raise click.BadParameter(str(exc), param_hint="PHONE") from None
    if not yes:
        click.confirm(f"Erase {number} on the hub and on every edge that knows it? This "
                      "cannot be undone", abort=True)
    from gateway.hub.questions import catch_up

    hub = _hub()
    try:
        changed = hub.erase(number)
        # The tutors' inbox here drops the copies of the number's questions now.
        with Store.open(default_db_path(), migrate=True) as store:
            catch_up(hub, store)
    finally:
        hub.close()
    if changed == 0:
        click.echo(f"erased {number}: the hub held no events of it; an edge that knows the "
                   "number erases it on its next sync")
        return
    click.echo(f"erased {number}: {changed} events on the hub now hold a pseudonym; every "
               "edge that knows the number erases it on its next sync")


@hub_group.command("audit")
@click.option("--edge", "edge_id", default=None, help="Only this edge's rows.")
@click.option("--limit", type=click.IntRange(1, LARGEST), default=100, show_default=True)
def audit(edge_id: str | None, limit: int) -> None:
    """Learners' histories given to edges they roamed into (`roamed`) or to edges that
    knew them before the hub had regions, once a region was set (`trusted_again`),
    refused (`roam_refused`: over the edge's limit; `confined`: outside its region), and
    erasures (`erased`; `erasure_scoped`: from an edge that had not served the
    learner), newest last.

    \b
    Example:
      learnline hub audit --edge lagos-1
    """
    import datetime

    hub = _hub()
    try:
        rows = hub.audit(edge_id, limit)
    finally:
        hub.close()
    if not rows:
        click.echo("nothing audited yet")
    for row in rows:
        at = datetime.datetime.fromtimestamp(row.at, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        click.echo(f"{at}\t{row.edge}\t{row.learner}\t{row.action}\t"
                   f"events {row.events}\t{row.detail}")


@hub_group.command("revoke-edge")
@click.argument("edge_id")
def revoke_edge(edge_id: str) -> None:
    """Refuse an edge from now on (its token stops working at once).

    \b
    Example:
      learnline hub revoke-edge lagos-1
    """
    from gateway.hub.store import UnknownEdge

    hub = _hub()
    try:
        hub.revoke_edge(edge_id)
    except UnknownEdge:
        raise click.ClickException(f"no edge {edge_id!r} (see `learnline hub edges`)") from None
    finally:
        hub.close()
    click.echo(f"revoked {edge_id}")


@hub_group.command("edges")
def list_edges() -> None:
    """Every edge with its events and how long since it last pushed and pulled.

    \b
    Example:
      learnline hub edges
    """
    hub = _hub()
    try:
        edges = hub.edges()
    finally:
        hub.close()
    if not edges:
        click.echo("no edges: add one with `learnline hub add-edge ID`")
    for edge in edges:
        click.echo(f"{edge.edge_id}\t{'revoked' if edge.revoked else 'active'}\t"
                   f"events {edge.events}\tlast push {_ago(edge.last_push_at)}\t"
                   f"last pull {_ago(edge.last_pull_at)}\tregion {edge.region.describe()}, "
                   f"roam limit {edge.roam_limit}/h\t{edge.name}")


@hub_group.command("backup")
@click.argument("target", type=click.Path(dir_okay=False))
def backup_hub(target: str) -> None:
    """Copy the hub's SQLite store to TARGET while the hub keeps running.

    It holds what the gateway's `learnline backup` does not: the edges, their tokens,
    their events and the published packs. One consistent snapshot, integrity-checked
    before it replaces TARGET. Restore it by stopping the hub and putting it in place of
    the hub's file; a hub on PostgreSQL is backed up with pg_dump (docs/sync.md).

    \b
    Example:
      learnline hub backup /var/lib/learnline/hub-backup.db
    """
    from gateway.hub.store import hub_sqlite_path
    from gateway.ops.backup import BackupError
    from gateway.ops.backup import backup_hub as take_backup

    try:
        path = hub_sqlite_path()
    except ValueError as exc:
        raise click.ClickException(f"LEARNLINE_HUB_DATABASE_URL: {exc}") from None
    if path is None:
        raise click.ClickException(
            "the hub's store is on PostgreSQL (LEARNLINE_HUB_DATABASE_URL): back it up with "
            "pg_dump (docs/sync.md, The hub's storage)")
    try:
        report = take_backup(path, target)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    counts = ", ".join(f"{n:,} {table}" for table, n in report.counts.items())
    click.echo(f"hub backup: {report.path} ({report.size_bytes / 1e6:,.1f} MB: {counts}) "
               f"in {report.seconds:.1f} s; integrity ok")


@hub_group.command("programs")
@click.option("--program", default=None, metavar="ID", help="This program alone.")
@click.option("--days", type=click.IntRange(1, 36_500), default=7, show_default=True,
              help="Count who joined in this many last days.")
@click.option("--cohorts", "per_cohort", is_flag=True,
              help="Each cohort's members per edge and in all instead.")
@click.option("--figures", is_flag=True,
              help="The program's figures across edges instead (needs --program): "
                   "funnel, lessons completed, quiz (the last --days), each cohort's, "
                   "messages and their cost this month.")
@click.option("--csv", "table", default=None, metavar="TABLE",
              help="One table of --figures, as CSV (as the hub's program page gives it).")
def list_programs(program: str | None, days: int, per_cohort: bool, figures: bool,
                  table: str | None) -> None:
    """Each program's members per edge where they joined, and those who joined in the
    last days, from the events the edges pushed; with --cohorts, each cohort's members
    per edge where they joined, and in all; with --program ID --figures, the program's
    funnel, lessons completed and quiz questions across edges, each cohort's, and its
    messages and their cost this month per edge and in total, as the hub's program page
    shows them (--csv TABLE: one of them as CSV).

    \b
    Example:
      learnline hub programs --program orange
      learnline hub programs --cohorts
      learnline hub programs --program orange --figures
      learnline hub programs --program orange --csv cohorts > orange-cohorts.csv
      learnline hub programs --program orange --csv costs > orange-costs.csv
    """
    if figures or table is not None:
        _program_figures(program, days, table)
        return
    hub = _hub()
    try:
        if program is not None:
            _check_program(hub, program)
        if per_cohort:
            cohorts = hub.cohort_figures(program)
        else:
            figures = hub.program_figures(program, days=days)
    finally:
        hub.close()
    if per_cohort:
        if not cohorts:
            click.echo("no cohort members yet")
        for cohort in cohorts:
            edges = ", ".join(f"{edge} {members}" for edge, members in cohort.edges)
            click.echo(f"{shown(cohort.program)}\t{shown(cohort.name)} "
                       f"({shown(cohort.cohort)})\t{edges}\ttotal {cohort.members}")
        return
    if not figures:
        click.echo("no program members yet")
    for row in figures:
        click.echo(f"{shown(row.program)}\t{row.edge_id}\tmembers {row.members}\t"
                   f"joined in {days} days {row.joined_recently}")


def _program_figures(program: str | None, days: int, table: str | None) -> None:
    """`learnline hub programs --figures`: one program's tables across edges."""
    from gateway.ops import hub_program_reports, reports
    if program is None:
        raise click.ClickException("the figures are a program's: add --program ID")
    if table is not None and table not in hub_program_reports.TABLES:
        raise click.ClickException(f"no table '{table}' across edges: one of "
                                   + ", ".join(hub_program_reports.TABLES))
    hub = _hub()
    try:
        _check_program(hub, program)
        report = hub_program_reports.build(hub, program, days)
    finally:
        hub.close()
    if table is not None:
        click.echo(hub_program_reports.to_csv(report, table), nl=False)
        return
    period = report.period
    version = report.figures.pack_version
    click.echo(f"{program} across edges, quiz {period.days[0]} to {period.days[-1]} (UTC); "
               + (f"courses of pack version {version}" if version is not None
                  else "no course pack published: no course's program is known"))
    for name in hub_program_reports.TABLES:
        click.echo("\n" + reports.format_table(hub_program_reports.table(report, name)))
    click.echo("\nEach edge prices its messages at its own carriers' prices and pushes what "
               "it sent for the program each day; amounts in different currencies are "
               "never added.")


def _check_program(hub, program: str) -> None:
    """Refuse a program the hub knows nothing of: neither in its programs file
    (LEARNLINE_PROGRAMS, when set) nor in anything the edges pushed or the hub published
    (gateway.hub.progress.knows)."""
    from gateway import programs
    from gateway.config import ConfigError
    from gateway.hub import progress
    try:
        configured = programs.current().get(program) is not None
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if not configured and not progress.knows(hub, program):
        raise click.ClickException(
            f"no program '{program}' on this hub: not in its programs file "
            "(LEARNLINE_PROGRAMS) nor in any course pack, cohort, message count or event "
            "the edges pushed")


def _ago(at: float | None) -> str:
    import time

    return "never" if at is None else f"{time.time() - at:.0f} s ago"


@hub_group.command("publish")
@click.argument("pack", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def publish(pack: Path) -> None:
    """Offer a course pack (from `learnline packs build`) to every edge on its next sync.
    It must verify against LEARNLINE_TRUSTED_PACK_KEYS, as the edges will check.

    \b
    Example:
      learnline hub publish 3f2a9c01d4e5b6a7.llpack
    """
    from gateway.sync import packs
    data = pack.read_bytes()
    try:
        checked = packs.verify_pack(data, packs.trusted_keys_from_env())
    except packs.PackError as exc:
        raise click.ClickException(f"{pack}: {exc}") from None
    hub = _hub()
    try:
        latest = hub.latest_pack()
        if latest is not None and latest.version >= checked.version:
            raise click.ClickException(
                f"{pack}: version {checked.version} is not newer than the published "
                f"version {latest.version}")
        hub.put_pack(data, checked.version, checked.digest)
    finally:
        hub.close()
    click.echo(f"published version {checked.version} ({len(data):,} bytes, "
               f"{checked.digest[:16]})")


