"""`learnline lrs status`: what waits for the school's LRS (docs/integrations.md)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import click

from gateway.cli.db import existing_db_path
from gateway.config import ConfigError
from gateway.store import Store
from gateway.store import lrs as queue


@click.group("lrs")
def lrs_group() -> None:
    """The school's Learning Record Store: learning steps sent as xAPI statements.

    \b
    Example:
      learnline lrs status --check
    """


@lrs_group.command("status")
@click.option("--check", is_flag=True,
              help="Also ask the LRS whether it answers the gateway's credentials.")
def status(check: bool) -> None:
    """Where statements go, how many wait, the last success and error.

    Exits 1 when the settings are wrong or (with --check) the LRS does not answer.

    \b
    Example:
      learnline lrs status --check
    """
    from gateway.outbox.lrs import LrsSettings, reachable

    try:
        settings = LrsSettings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    with Store.open(existing_db_path(), migrate=True) as store:
        backlog = queue.backlog(store)
    if settings is None:
        click.echo("LRS: none (LEARNLINE_LRS_ENDPOINT is not set): no statements are sent")
    else:
        user = f" as {settings.username}" if settings.username else ""
        click.echo(f"LRS: {settings.endpoint}{user}; activity ids under {settings.base_iri}")
    waiting = f"waiting: {backlog['events']} learning event(s)"
    if backlog["oldest_at"] is not None:
        waiting += f", the oldest recorded {_ago(backlog['oldest_at'])}"
    click.echo(f"{waiting}; {backlog['voids']} voiding statement(s)")
    if backlog["last_success"]:
        click.echo(f"last accepted: {_ago(float(backlog['last_success']))}")
    if backlog["last_error"]:
        when = f", {_ago(backlog['last_error_at'])}" if backlog["last_error_at"] else ""
        click.echo(f"last error{when}: {backlog['last_error']}")
    if backlog["refused"]:
        click.echo(f"refused for good: {backlog['refused']} statement(s) (the worker's log "
                   "names each)")
    if check and settings is not None:
        problem = reachable(settings)
        if problem is not None:
            raise click.ClickException(problem)
        click.echo("the LRS answers the gateway's credentials")


def _ago(at: float) -> str:
    moment = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    minutes = max(0.0, time.time() - at) / 60
    return f"{moment} ({minutes:.0f} min ago)"
