"""`learnline certificates`: the certificates issued on this gateway, and revoking one
(docs/integrations.md, Open Badges): a revoked certificate shows as revoked on its page,
by SMS and to every Open Badges verifier, and the revocation is in the staff audit."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from gateway.cli.db import existing_db_path
from gateway.learning import badges
from gateway.learning.certificates import format_code, normalize_code
from gateway.store import Store
from gateway.store import staff as accounts

REVOKED = "certificate revoked"  # what the staff audit says (subject: the code)
REASON_MAX = 200  # characters of a revocation's reason


def _day(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).date().isoformat()


def _settings() -> badges.BadgeSettings | None:
    try:
        return badges.environment_settings()
    except ValueError as problem:
        raise click.ClickException(str(problem)) from None


@click.group("certificates")
def certificates_group() -> None:
    """The certificates issued here and their Open Badges.

    \b
    Examples:
      learnline certificates list --course start-freelancing
      learnline certificates revoke 7KQM-2XHD-9P --reason "Issued in error"
    """


@certificates_group.command("list")
@click.option("--course", "course_id", default=None, metavar="COURSE_ID",
              help="Only this course's certificates.")
@click.option("--revoked", is_flag=True, help="Only the revoked certificates.")
def list_command(course_id: str | None, revoked: bool) -> None:
    """List the certificates, oldest first, under a header line: code, course, day
    issued, score, valid or revoked (when, why), and the badge's address when badges are
    on (LEARNLINE_PUBLIC_URL and LEARNLINE_BADGE_ISSUER), said withdrawn for an erased
    holder's. No numbers are shown.

    \b
    Example:
      learnline certificates list --course start-freelancing --revoked
    """
    settings = _settings()
    with Store.open(existing_db_path(), migrate=True) as store:
        found = store.certificates(course_id, revoked=True if revoked else None)
    if found:
        click.echo("code\tcourse\tissued\tscore\tstatus\tbadge")
    for certificate in found:
        status = (f"revoked {_day(certificate.revoked_at)}: {certificate.revocation_reason}"
                  if certificate.revoked_at is not None else "valid")
        badge = settings.assertion_id(certificate.badge_id) if settings else "-"
        if settings and certificate.phone is None and certificate.revoked_at is None:
            # The certificate still verifies by its code; its badge cannot stand without
            # its recipient (docs/integrations.md, Open Badges).
            badge = f"withdrawn (erased holder): {badge}"
        click.echo(f"{format_code(certificate.code)}\t{certificate.course_id}\t"
                   f"{_day(certificate.issued_at)}\t{certificate.score}/{certificate.total}\t"
                   f"{status}\t{badge}")
    if not found:
        click.echo("no certificates")


@certificates_group.command("revoke")
@click.argument("code", metavar="CODE")
@click.option("--reason", required=True, metavar="TEXT",
              help="Why, as verifiers will read it (at most 200 characters).")
def revoke_command(code: str, reason: str) -> None:
    """Revoke the certificate CODE: its page says so with the reason, `VERIFY` by SMS
    too, its Open Badge answers as revoked (HTTP 410), and the school's LRS is sent the
    voiding of its `earned` statement. It cannot be undone.

    \b
    Example:
      learnline certificates revoke 7KQM-2XHD-9P --reason "Issued in error"
    """
    canonical = normalize_code(code)
    reason = " ".join(reason.split())
    if not reason or len(reason) > REASON_MAX:
        raise click.ClickException(f"--reason: a reason of 1 to {REASON_MAX} characters")
    with Store.open(existing_db_path(), migrate=True) as store:
        before = store.certificate(canonical) if canonical else None
        if before is None:
            raise click.ClickException(f"no certificate has the code {code!r}")
        if before.revoked_at is not None:
            click.echo(f"{format_code(before.code)} was already revoked on "
                       f"{_day(before.revoked_at)}: {before.revocation_reason}")
            return
        with store.write():
            store.revoke_certificate(before.code, reason)
            accounts.audit(store, REVOKED, actor="terminal", subject=format_code(before.code))
    click.echo(f"{format_code(before.code)} revoked: {reason}")
