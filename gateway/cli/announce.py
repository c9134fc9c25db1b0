"""`learnline announce`: one message to every learner of a course (gateway/ops/announcements.py)."""

from __future__ import annotations

import sys

import click

from gateway.cli.db import existing_db_path
from gateway.config import ConfigError, load_carriers
from gateway.i18n import available_locales, normalize_locale
from gateway.store import Store


def _describe(plan, course: str) -> None:
    click.echo(f"{course}: {_count(plan.learners, 'learner')}"
               + (f" ({plan.opted_out:,} opted out, left out)" if plan.opted_out else ""))
    if plan.no_carrier:
        click.echo(f"  {_count(plan.no_carrier, 'learner')} on carriers no longer configured, "
                   "left out")
    for carrier_id, share in sorted(plan.by_carrier.items()):
        cost = (f", {share.currency + ' ' if share.currency else ''}{share.cost:,.2f}"
                if share.cost else "")
        click.echo(f"  {carrier_id}: {_count(share.messages, 'message')}, "
                   f"{_count(share.segments, 'segment')}{cost}")


def _count(number: int, noun: str) -> str:
    """'1 message', '2,000 messages'."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


@click.command("announce")
@click.argument("course")
@click.option("--text", required=True, help="The message, in the course's language.")
@click.option("--text-for", "texts", multiple=True, nargs=2, metavar="LOCALE TEXT",
              help="The message for learners reading LOCALE (e.g. --text-for fr 'Bonjour').")
@click.option("--dry-run", is_flag=True, help="Only count the learners and the segments.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def announce_command(course: str, text: str, texts: tuple[tuple[str, str], ...],
                     dry_run: bool, yes: bool) -> None:
    """Send one message to every learner of COURSE (its code or id) who has not opted out.

    It goes through the outbox: each carrier's tps, the learners' quiet hours and the
    daily cap of unsolicited messages apply. Run with --dry-run first to see the count
    and the segment cost.

    \b
    Example:
      learnline announce FREELANCE --text "New: lesson 7 is out. Reply NEXT." --dry-run
    """
    # Imported here, not at the top: the CLI must not load gateway.metrics before `serve`
    # and `worker` point prometheus-client at the shared metrics folder.
    from gateway.ops.announcements import announce

    try:
        carriers = load_carriers()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    with Store.open(existing_db_path(), migrate=True) as store:
        found = next((c for c in store.courses()
                      if course.upper() in (c.code.upper(), c.id.upper())), None)
        if found is None:
            known = ", ".join(c.code for c in store.courses()) or "none"
            raise click.ClickException(f"no course {course!r} (courses: {known})")
        by_locale = _texts_by_locale(texts)
        try:
            plan = announce(store, carriers, found.id, text, by_locale, dry_run=True)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        _describe(plan, f"{found.code} ({found.id})")
        if dry_run or plan.learners == 0:
            click.echo("dry run: nothing queued" if dry_run else "nothing to send")
            return
        if not yes:
            click.confirm(f"Queue it for {plan.learners:,} learners?", abort=True)
        with click.progressbar(length=plan.learners, label="Queueing",
                               file=sys.stderr) as bar:
            plan = announce(store, carriers, found.id, text, by_locale,
                            on_learner=lambda: bar.update(1))
    click.echo(f"queued for {_count(plan.learners, 'learner')} "
               f"({_count(plan.segments, 'segment')}); the worker sends them")


def _texts_by_locale(texts: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """--text-for's texts by the language each names ('fr', 'fr-SN', 'french'); a code
    no catalog has stops the command: a typo must not send one language's learners the
    default text."""
    by_locale: dict[str, str] = {}
    for code, body in texts:
        locale = normalize_locale(code)
        if locale is None:
            raise click.ClickException(f"--text-for {code!r}: no such language here "
                                       f"(have: {', '.join(available_locales())})")
        by_locale[locale] = body
    return by_locale
