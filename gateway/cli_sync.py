"""`learnline sync` (an edge's round with its hub) and `learnline hub ...` (the hub's
edges and packs). docs/sync.md."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.store import Store, default_db_path


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
    from gateway.hub.store import open_hub_store

    hub = open_hub_store()
    hub.migrate()
    return hub


@hub_group.command("add-edge")
@click.argument("edge_id")
@click.option("--name", default="", help="Where the edge is, for people.")
def add_edge(edge_id: str, name: str) -> None:
    """Register an edge and print its token (shown this once: put it in the edge's
    LEARNLINE_EDGE_TOKEN). Adding an existing edge gives it a new token.

    \b
    Example:
      learnline hub add-edge lagos-1 --name "Lagos, carrier A"
    """
    from gateway.sync.protocol import EDGE_ID_RE

    if not EDGE_ID_RE.match(edge_id):
        raise click.BadParameter("lowercase letters, digits and '-', at most 40",
                                 param_hint="EDGE_ID")
    hub = _hub()
    try:
        token = hub.add_edge(edge_id, name)
    finally:
        hub.close()
    click.echo(token)


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
                   f"last pull {_ago(edge.last_pull_at)}\t{edge.name}")


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
    from gateway import packs

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


