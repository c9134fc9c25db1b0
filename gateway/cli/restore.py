"""`learnline restore BACKUP` and `learnline outbox held|release|drop`: putting a backup
back, and deciding on the messages it held (docs/operations.md, Backup and restore)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from gateway.cli.db import existing_db_path
from gateway.server.whole_numbers import LARGEST
from gateway.store import Store, default_db_path


@click.command("restore")
@click.argument("backup", type=click.Path(dir_okay=False))
def restore_command(backup: str) -> None:
    """Put BACKUP in place of the database; hold what it had waiting to be sent.

    Stop the gateway and the worker first. The database it replaces is kept beside it
    (NAME.replaced-TIME). Messages that were queued when the backup was taken may have
    been sent since: they are held until `learnline outbox release` or `drop`.

    \b
    Example:
      LEARNLINE_DB=/var/lib/learnline/learnline.db learnline restore backup-Mon.db
    """
    from gateway.ops.restore import RestoreError, restore

    try:
        report = restore(backup, default_db_path())
    except RestoreError as exc:
        raise click.ClickException(str(exc)) from None
    counts = ", ".join(f"{n:,} {table}" for table, n in report.counts.items())
    click.echo(f"restored {backup} to {report.database} ({counts})")
    if report.kept is not None:
        click.echo(f"the database it replaced is kept as {report.kept}")
    if report.held:
        click.echo(f"{report.held} message(s) that were waiting to be sent when the backup was "
                   "taken are held (some may have gone out since): `learnline outbox held` "
                   "lists them; `learnline outbox release` sends, `learnline outbox drop` "
                   "drops them")
    else:
        click.echo("no message was waiting to be sent when the backup was taken")


@click.group("outbox")
def outbox_group() -> None:
    """Messages held after a restore: list them, send them, or drop them; and messages
    that could not be sent, with why.

    \b
    Example:
      learnline outbox held
      learnline outbox failed --days 2
    """


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


@outbox_group.command("held")
def outbox_held() -> None:
    """List held messages: id, carrier, number (masked), when queued, the text's start.

    \b
    Example:
      LEARNLINE_DB=/var/lib/learnline/learnline.db learnline outbox held
    """
    from gateway.phones import masked
    from gateway.store.held import held_messages
    from gateway.terminal import shown

    with Store.open(existing_db_path(), migrate=True) as store:
        held = held_messages(store)
    widths = [max((len(str(value)) for value in column), default=0) for column in (
        [m.id for m in held], [m.carrier_id for m in held], [masked(m.phone) for m in held])]
    for message in held:
        text = " ".join(message.body.split())
        click.echo(f"{message.id:<{widths[0]}}  {message.carrier_id:<{widths[1]}}  "
                   f"{masked(message.phone):<{widths[2]}}  queued {_when(message.created_at)}  "
                   f"{shown(text[:50] + '...' if len(text) > 50 else text)}")
    click.echo(f"{len(held)} held" + (": `learnline outbox release ID... | --all` sends, "
                                      "`learnline outbox drop ID... | --all` drops"
                                      if held else ""))


@outbox_group.command("failed")
@click.option("--days", type=click.IntRange(1, 366), default=7, show_default=True,
              help="Messages that failed in the last this many days.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True,
              help="At most this many, newest first.")
def outbox_failed(days: int, limit: int) -> None:
    """List messages that were not sent, newest first: id, carrier, number (masked), kind
    (reply, lesson, review, reminder, announcement), when, and why (the carrier's refusal,
    or the gateway's reason, such as a WhatsApp message outside the 24-hour window with no
    template).

    \b
    Example:
      learnline outbox failed --days 1
    """
    from gateway.phones import masked
    from gateway.terminal import shown

    with Store.open(existing_db_path(), migrate=True) as store:
        failed = store.failed_messages(store.clock() - days * 86400.0, limit)
    for message in failed:
        click.echo(f"{message['id']}  {message['carrier_id']}  {masked(message['phone'])}  "
                   f"{message['kind']}  failed {_when(message['at'])}  "
                   f"{shown(message['error'] or '(no reason recorded)')}")
    click.echo(f"{len(failed)} failed in the last {days} day(s)"
               + (f" (the newest {limit})" if len(failed) == limit else ""))


def _ids(ids: tuple[int, ...], every: bool) -> list[int] | None:
    if every == bool(ids):
        raise click.UsageError("name the messages by id (see `learnline outbox held`), or --all")
    return None if every else list(ids)


def _decided(verb: str, done: int, unknown: list[int]) -> None:
    click.echo(f"{verb} {done}")
    if unknown:
        raise click.ClickException(f"not held: {', '.join(map(str, unknown))}")


@outbox_group.command("release")
@click.argument("ids", nargs=-1, type=click.IntRange(1, LARGEST))
@click.option("--all", "every", is_flag=True, help="Every held message.")
def outbox_release(ids: tuple[int, ...], every: bool) -> None:
    """Send held messages (by id, or --all): queued again, due now.

    \b
    Example:
      learnline outbox release 41 42
    """
    from gateway.store.held import release

    chosen = _ids(ids, every)
    with Store.open(existing_db_path(), migrate=True) as store:
        done, unknown = release(store, chosen)
    _decided("released", done, unknown)


@outbox_group.command("drop")
@click.argument("ids", nargs=-1, type=click.IntRange(1, LARGEST))
@click.option("--all", "every", is_flag=True, help="Every held message.")
def outbox_drop(ids: tuple[int, ...], every: bool) -> None:
    """Drop held messages (by id, or --all): never sent, kept as cancelled.

    \b
    Example:
      learnline outbox drop --all
    """
    from gateway.store.held import drop

    chosen = _ids(ids, every)
    with Store.open(existing_db_path(), migrate=True) as store:
        done, unknown = drop(store, chosen)
    _decided("dropped", done, unknown)
