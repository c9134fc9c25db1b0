"""`learnline staff`: the accounts people sign in to the dashboard with (docs/operations.md,
Staff accounts). Every change is recorded in the record of who did what, as done from the
terminal."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from gateway import programs
from gateway.cli.db import existing_db_path
from gateway.config import ConfigError
from gateway.ops import staff
from gateway.store import Store
from gateway.store import staff as accounts

_USERNAME = click.argument("username")
_PASSWORD_STDIN = click.option(
    "--password-stdin", is_flag=True,
    help="Read the password from the first line of standard input instead of asking "
         "for it twice (for scripts; it is never an argument, which `ps` would show). "
         "A password has 12 to 256 characters, is not one character repeated and does "
         "not contain the username.")


def _open() -> Store:
    return Store.open(existing_db_path(), migrate=True)


def _new_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line.strip():
            raise click.ClickException("--password-stdin: standard input has no password")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise click.ClickException("no terminal to ask for the password on: give it on "
                                   "standard input with --password-stdin")
    return click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password",
                        err=True)


def _run(action, *args, **kwargs):
    try:
        return action(*args, **kwargs)
    except staff.StaffError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("staff")
def staff_group() -> None:
    """Staff accounts: who signs in to the dashboard, and with which role.

    An administrator sees the dashboard, its CSV files and the record of who did what;
    a tutor signs in to the tutors' inbox (/admin/inbox: learners' questions, answers,
    saved replies) and none of the dashboard's other pages. Passwords have at least 12
    characters.

    \b
    Examples:
      learnline staff add amina --name "Amina Diallo" --role admin
      learnline staff list
      learnline staff passwd amina
      learnline staff remove amina
    """


@staff_group.command("add")
@_USERNAME
@click.option("--name", required=True, help="The person's name, as the pages show it.")
@click.option("--role", required=True, type=click.Choice(staff.ROLES),
              help="admin: the dashboard and everything on it; tutor: the tutors' pages.")
@click.option("--program", default="", metavar="ID",
              help="Hold the role for this program alone (a program of LEARNLINE_PROGRAMS); "
                   "default: the whole gateway.")
@_PASSWORD_STDIN
def add(username: str, name: str, role: str, program: str, password_stdin: bool) -> None:
    """Add an account USERNAME (2 to 64 of a-z 0-9 . _ @ + -; an e-mail address is fine).

    Asks for the password twice without showing it, or reads it with --password-stdin.

    \b
    Examples:
      learnline staff add amina@example.org --name "Amina Diallo" --role admin
      learnline staff add tunde --name "Tunde Bello" --role tutor --password-stdin < pw.txt
      learnline staff add wanjiru --name "Wanjiru K" --role tutor --program orange
    """
    with _open() as store:
        username = _run(staff.check_username, username)
        name = _run(staff.check_name, name)
        if accounts.find(store, username) is not None:
            raise click.ClickException(f"there is already a staff account {username!r}")
        if program:  # before asking for the password
            try:
                configured = programs.current()
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
            if configured.get(program) is None:
                raise click.ClickException(
                    f"no program {program!r} is configured (programs: "
                    f"{', '.join(sorted(configured.by_id)) or 'none: set LEARNLINE_PROGRAMS'})")
        account = _run(staff.add_account, store, username, name,
                       role, _new_password(password_stdin), program=program)
    click.echo(f"added {account.username} ({account.name}, {account.role_names})")


@staff_group.command("remove")
@_USERNAME
def remove(username: str) -> None:
    """Remove the account USERNAME; its sessions end at once.

    \b
    Example:
      learnline staff remove tunde
    """
    with _open() as store:
        _run(staff.remove_account, store, username)
    click.echo(f"removed {username.lower()}; its sessions are ended")


@staff_group.command("passwd")
@_USERNAME
@_PASSWORD_STDIN
def passwd(username: str, password_stdin: bool) -> None:
    """Give USERNAME a new password; its sessions end and any lock-out is lifted.

    \b
    Example:
      learnline staff passwd tunde
    """
    with _open() as store:
        if accounts.find(store, username) is None:
            raise click.ClickException(f"no staff account {username!r} (`learnline staff "
                                       "list` shows them)")
        _run(staff.change_password, store, username, _new_password(password_stdin))
    click.echo(f"new password for {username.lower()}; its sessions are ended")


def _when(at: float | None) -> str:
    if at is None:
        return "never"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


@staff_group.command("list")
def list_accounts() -> None:
    """Every account: username, name, role, last sign-in, and whether it is locked out
    (never a password or its hash).

    \b
    Example:
      learnline staff list
    """
    with _open() as store:
        now = store.clock()
        rows = [("username", "name", "role", "last sign-in", "locked")]
        for account in accounts.every(store):
            locked = (f"until {_when(account.locked_until)}"
                      if account.locked_until and account.locked_until > now else "no")
            rows.append((account.username, account.name, account.role_names,
                         _when(account.last_signin_at), locked))
    if len(rows) == 1:
        click.echo("no staff accounts: add one with `learnline staff add USERNAME --name "
                   "NAME --role admin`")
        return
    widths = [max(len(row[n]) for row in rows) for n in range(len(rows[0]))]
    for n, row in enumerate(rows):
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            click.echo("  ".join("-" * w for w in widths))

