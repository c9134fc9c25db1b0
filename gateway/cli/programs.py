"""`learnline programs`: the programs the gateway hosts (docs/programs.md), their members
and their spend this month against their budget."""

from __future__ import annotations

import click

from gateway import programs
from gateway.cli.db import existing_db_path
from gateway.config import ConfigError, load_carriers
from gateway.store import Store
from gateway.store import programs as members


@click.group("programs")
def programs_group() -> None:
    """Programs: the partners the gateway hosts (LEARNLINE_PROGRAMS).

    \b
    Example:
      learnline programs list
    """


@programs_group.command("list")
def list_programs() -> None:
    """Each program: its members, its spend this month (UTC) against its monthly budget,
    and whether its unsolicited messages are stopped for the month.

    \b
    Example:
      learnline programs list
    """
    # Imported here: the CLI must not load gateway.metrics before `serve` and `worker`
    # point prometheus-client at the shared metrics folder (gateway/cli/announce.py).
    from gateway import budgets

    try:
        carriers = load_carriers()
        configured = programs.load_programs(carrier_ids=[c.id for c in carriers])
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if not configured:
        click.echo("no programs (LEARNLINE_PROGRAMS is not set)")
        return
    with Store.open(existing_db_path(), migrate=True) as store:
        spends = budgets.spends(store, carriers, configured)
        for program in configured:
            spend = spends[program.id]
            count = len(members.members(store, program.id))
            if spend.budget is None:
                money, state = f"{spend.spent:.2f} spent, no budget", ""
            else:
                money = f"{spend.spent:.2f} / {spend.budget:.2f} {program.currency}"
                state = "  STOPPED: budget reached" if spend.reached else ""
            click.echo(f"{program.id}\t{program.name}\t{count} member(s)\t"
                       f"{spend.month}: {money}{state}")
