"""`learnline learners`: a learner's rights over their data (docs/privacy.md)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import click
import phonenumbers

from gateway import environment
from gateway.cli.db import existing_db_path
from gateway.phones import InvalidPhoneNumber, masked, to_e164
from gateway.store import Store, privacy

log = logging.getLogger(__name__)

_COUNTRY = click.option(
    "--country", metavar="CC",
    help="Country (ISO 3166, e.g. NG) of a number written in national format; "
         "without it, write the number with its country code (+234...).")


def _number(phone: str, country: str | None) -> str:
    if country is not None and country.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise click.BadParameter(f"{country!r} is not an ISO 3166 country code such as NG",
                                 param_hint="--country")
    try:
        return to_e164(phone, country)
    except InvalidPhoneNumber as exc:
        raise click.BadParameter(str(exc), param_hint="PHONE") from None


def _open() -> Store:
    return Store.open(existing_db_path(), migrate=True)


@click.group()
def learners() -> None:
    """A learner's data: export everything stored about a number, or erase it.

    \b
    Examples:
      learnline learners export +2348030000000 -o learner.json
      learnline learners erase --yes +2348030000000
    """


@learners.command("export")
@click.argument("phone")
@_COUNTRY
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the JSON to FILE (created readable by its owner only) instead "
                   "of standard output.")
def export(phone: str, country: str | None, output: Path | None) -> None:
    """Print everything stored about PHONE as JSON (UTF-8, indented).

    One key per table: the learner, enrollments, results, answers, reviews,
    certificates, activity, every message both ways (with send attempts and
    delivery reports), USSD sessions, sign-in codes (never the codes) and rate
    events. Times are ISO 8601 UTC. A number nothing is stored about gives an
    export with empty lists (and a note on standard error).

    \b
    Examples:
      learnline learners export +2348030000000 > learner.json
      learnline learners export --country NG "0803 000 0000" -o learner.json
    """
    number = _number(phone, country)
    with _open() as store:
        try:
            data = privacy.learner_export(store, number)
        except privacy.UnhandledTable as exc:
            raise click.ClickException(str(exc)) from None
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            raise click.ClickException(f"{output}: cannot write: {exc.strerror}") from None
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        click.echo(f"wrote {output}", err=True)
    if privacy.export_is_empty(data):
        click.echo(f"nothing is stored about {number}", err=True)


@learners.command("erase")
@click.argument("phone")
@_COUNTRY
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase(phone: str, country: str | None, yes: bool) -> None:
    """Erase PHONE's personal data and message bodies; keep anonymous counts.

    The number is replaced by a pseudonym everywhere (progress, answers and
    message counts stay, unlinked), message texts, name and time zone are
    cleared, USSD sessions and sign-in codes deleted, queued messages
    cancelled, certificates keep verifying without a holder. A later stray
    message from the number is not answered; START (or dialling the USSD
    menu, or signing in on the web) makes them a new learner. Exits 1 when
    nothing is stored about PHONE.

    \b
    Examples:
      learnline learners erase +2348030000000
      learnline learners erase --yes --country NG "0803 000 0000"
    """
    number = _number(phone, country)
    if not yes:
        click.confirm(f"Erase everything personal stored about {number}? This cannot be "
                      "undone", abort=True)
    with _open() as store:
        try:
            erasure = privacy.erase(store, number)
            if not environment.get("LEARNLINE_HUB_URL", "").strip():
                # No hub to tell: the erasure notice need not keep the number at all.
                from gateway.store import events

                events.release_erasure_notices(store)
        except privacy.UnhandledTable as exc:
            raise click.ClickException(str(exc)) from None
    if not erasure.found:
        if erasure.already_erased:
            click.echo(f"{number} was already erased; nothing more is stored about it")
            return
        raise click.ClickException(f"nothing is stored about {number}: nothing erased")
    log.info("erased learner %s", masked(number))
    counts = erasure.counts
    click.echo(f"erased {number}{' (again)' if erasure.already_erased else ''}:")
    # Cohorts keep counting a learner; a number never a learner leaves them (privacy.erase).
    cohorts = ("cohort_members",)
    kept = ("learners", "enrollments", "lesson_results", "answers", "activity", "inbound",
            "outbox") + (cohorts if counts["learners"] else ())
    click.echo("  kept without the number: " + ", ".join(
        f"{counts[table]} {table}" for table in kept)
        + f" (message bodies blanked, {erasure.cancelled} queued message(s) cancelled)")
    click.echo(f"  certificates kept without a holder: {counts['certificates']}")
    click.echo("  deleted: " + ", ".join(
        f"{counts[table]} {table}" for table in ("reviews", "ussd_sessions", "signin_codes",
                                                 "rate_events")
        + (() if counts["learners"] else cohorts)))
