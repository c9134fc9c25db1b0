"""`learnline doctor`: check the database, the configuration and the carriers, and say
what to fix. Each finding is ok, warn (works, but look at it) or fail (broken)."""

from __future__ import annotations

import re
import shutil
import sqlite3
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from carrier_adapters import ADAPTERS, SendError, Unsupported
from gateway import budgets, environment, pseudonyms
from gateway.channels.web import signin
from gateway.config import Carrier, Carriers, ConfigError, literal_secrets, load_carriers
from gateway.content.importer import bundled_courses_behind
from gateway.learning import badge_signing, badges
from gateway.learning.asking import tutor_hours
from gateway.ops.dashboard import check_token
from gateway.outbox.lrs import LrsSettings, reachable
from gateway.outbox.worker import retention_days_from_env
from gateway.programs import load_programs
from gateway.server import forwarded
from gateway.server.health import WORKER_STALE_SECONDS
from gateway.store import Store
from gateway.store import lrs as lrs_queue
from gateway.store import staff as staff_accounts
from gateway.store.files import DatabaseFileError, refuse_to_remake
from gateway.store.held import held_count

WAL_WARN_BYTES = 256 * 1024 * 1024
LATE_WARN_SECONDS = 300.0
LRS_LATE_SECONDS = 3600.0  # a learning event waiting longer for the LRS is said


@dataclass(frozen=True)
class Finding:
    """One thing checked: `level` is "ok", "warn" or "fail"."""

    level: str
    subject: str
    message: str

    def __str__(self) -> str:
        return f"{self.level.upper():<4} {self.subject}: {self.message}"


def diagnose(db_path: Path, env: Mapping[str, str] | None = None, *, live: bool = False,
             full: bool = False) -> list[Finding]:
    """Everything `learnline doctor` checks, in order. `live` also asks each carrier's API
    whether its credentials work (nothing is sent); `full` runs SQLite's full integrity
    check instead of the quick one."""
    env = environment.snapshot() if env is None else dict(env)
    findings: list[Finding] = []
    carriers = _configuration(env, findings)
    _secrets(env, findings)
    _proxies(env, findings)
    _database(db_path, findings, full=full, env=env, live=live)
    if carriers is not None:
        _carriers(carriers, findings, live=live)
    return findings


def _configuration(env: dict[str, str], findings: list[Finding]) -> Carriers | None:

    try:
        carriers = load_carriers(env=env)
    except ConfigError as exc:
        findings.extend(Finding("fail", "configuration", problem) for problem in exc.problems)
        carriers = None
    try:
        retention_days_from_env(env)
    except ConfigError as exc:
        findings.append(Finding("fail", "configuration", str(exc)))
    try:
        tutor_hours(env)
    except ValueError as exc:
        findings.append(Finding("fail", "configuration", str(exc)))
    _badges(env, findings)
    try:
        configured = load_programs(env=env, carrier_ids=None if carriers is None
                                   else [carrier.id for carrier in carriers])
    except ConfigError as exc:
        findings.extend(Finding("fail", "programs", problem) for problem in exc.problems)
    else:
        if configured:
            findings.append(Finding("ok", "programs", f"{configured.path}: "
                                    f"{len(configured.by_id)} program(s), valid"))
        if carriers is not None:
            findings.extend(Finding("warn", "programs", line)
                            for line in budgets.currency_mismatches(configured, carriers))
    _lrs_settings(env, findings)
    if carriers is None:
        return None
    where = str(carriers.path) if carriers.path else "no LEARNLINE_CARRIERS"
    if carriers.path is None:
        findings.append(Finding("warn", "configuration", f"{where}: only the console carrier "
                                "(no carrier delivers anything): set LEARNLINE_CARRIERS"))
    else:
        findings.append(Finding("ok", "configuration",
                                f"{where}: {len(carriers.by_id)} carrier(s), valid"))

    if not signin.available(carriers):
        findings.append(Finding("warn", "web sign-in",
                                signin.NO_COUNTRY_WARNING.format(
                                    where=carriers.path or "the carriers file, which is not "
                                    "set (LEARNLINE_CARRIERS)")))
    return carriers


def _badges(env: dict[str, str], findings: list[Finding]) -> None:
    """Open Badges' settings (docs/integrations.md): a value that cannot be used fails;
    one of the two settings alone says badges are off and names the missing one (a warning
    for an issuer without an address; an address alone serves the LRS too, so it is
    only said); badges on are told."""
    public_url = env.get("LEARNLINE_PUBLIC_URL", "").strip()
    issuer = env.get("LEARNLINE_BADGE_ISSUER", "").strip()
    try:
        found = badges.read_settings(public_url, issuer)
    except ValueError as exc:
        findings.append(Finding("fail", "open badges", str(exc)))
        return
    if found is not None:
        findings.append(Finding("ok", "open badges", f"on: issued by {found.issuer_name} "
                                f"<{found.issuer_email}> at {found.issuer_id}"))
        key_path = env.get(badge_signing.KEY_ENV, "")
        try:
            findings.append(Finding("ok", "open badges", badge_signing.describe(key_path)))
        except ValueError as exc:
            findings.append(Finding("fail", "open badges", str(exc)))
        if badge_signing.readable_by_others(key_path):
            findings.append(Finding("warn", "open badges", f"{badge_signing.KEY_ENV}="
                                    f"{key_path.strip()} can be read by other users: "
                                    "chmod 600 it (whoever has it can sign badges)"))
    elif issuer:
        findings.append(Finding("warn", "open badges", "badges are off: "
                                "LEARNLINE_PUBLIC_URL is not set (LEARNLINE_BADGE_ISSUER "
                                "is): set it to the gateway's public address to turn them on"))
    elif public_url:
        findings.append(Finding("ok", "open badges", "badges are off: "
                                "LEARNLINE_BADGE_ISSUER is not set (LEARNLINE_PUBLIC_URL "
                                "is): set it, as 'Name <email>', to issue certificates as "
                                "Open Badges"))


# A session key shorter than this (in characters) can be guessed; docs/operations.md makes
# one of 64 hex digits (32 random bytes).
MIN_SECRET_KEY_LENGTH = 32


def _secrets(env: dict[str, str], findings: list[Finding]) -> None:
    _carriers_file_secrets(env, findings)
    # Settings that stop `serve` (the dashboard's token) or the commands that use them
    # (the pseudonym key: exports, the LRS) when too short: said here, before they do.
    try:
        check_token(env.get("LEARNLINE_ADMIN_TOKEN", ""))
    except ConfigError as exc:
        findings.append(Finding("fail", "secrets", str(exc)))
    problem = pseudonyms.key_problem(env.get(pseudonyms.KEY_ENV, ""))
    if problem:
        findings.append(Finding("fail", "secrets", problem))
    key = env.get("LEARNLINE_SECRET_KEY", "")
    if len(key) >= MIN_SECRET_KEY_LENGTH:
        findings.append(Finding("ok", "secrets", "LEARNLINE_SECRET_KEY is set"))
    elif key:
        findings.append(Finding(
            "warn", "secrets", f"LEARNLINE_SECRET_KEY has {len(key)} characters: a short key "
            "can be guessed, and with it a sign-in forged; make one with `python3 -c 'import "
            "secrets; print(secrets.token_hex(32))'` (docs/operations.md)"))
    else:
        findings.append(Finding(
            "warn", "secrets", "LEARNLINE_SECRET_KEY is not set: web sessions are signed with "
            "a key kept in the database, so anyone with a copy of it can forge a sign-in; set "
            "it in the environment (docs/operations.md)"))


def _carriers_file_secrets(env: dict[str, str], findings: list[Finding]) -> None:
    """A secret written in a carriers file that every user of the machine can read."""
    path = Path(env["LEARNLINE_CARRIERS"]) if env.get("LEARNLINE_CARRIERS") else None
    try:
        readable_by_all = path is not None and bool(path.stat().st_mode & stat.S_IROTH)
    except OSError:
        return  # said by the configuration check
    if not readable_by_all:
        return
    for carrier_id, key in literal_secrets(path):
        findings.append(Finding(
            "warn", "secrets", f"{path} is readable by every user of this machine and has a "
            f"secret written in it (carrier '{carrier_id}', key '{key}'): put ${{VARIABLE}} in "
            "the file and the value in the environment (docs/operations.md), or make the file "
            f"readable by the gateway only (chmod 640 {path})"))


def _database(db_path: Path, findings: list[Finding], *, full: bool,
              env: Mapping[str, str], live: bool = False) -> None:
    if not db_path.exists():
        try:
            refuse_to_remake(db_path)
        except DatabaseFileError as exc:  # one was there: restore it
            findings.append(Finding("fail", "database", str(exc)))
            return
        findings.append(Finding("fail", "database", f"{db_path}: no such file: start "
                                "`learnline serve` once, or run `learnline lessons import`"))
        return
    try:
        store = Store.open(db_path)
    except sqlite3.Error as exc:  # not a database at all, or its header is damaged
        findings.append(Finding("fail", "database", f"{db_path}: cannot open: {exc}"))
        return
    with store:
        if not _integrity(store, db_path, findings, full=full):
            return  # what follows would only read damaged pages
        problem = store.write_problem()
        if problem is not None:
            findings.append(Finding("fail", "database", f"{problem}: writes fail (carriers "
                                    "get 503 and retry) until it is fixed (docs/operations.md, "
                                    "Files and their sizes)"))
        pending = store.pending_migrations()
        if pending:
            findings.append(Finding("fail", "migrations", f"{len(pending)} pending "
                                    f"({', '.join(pending)}): restart `learnline serve`, which "
                                    "applies them"))
        else:
            findings.append(Finding("ok", "migrations", "current"))
        _schema(store, findings)
        if not store.course_count():
            findings.append(Finding("fail", "courses", "none loaded: run "
                                    "`learnline lessons import`"))
        else:
            findings.append(Finding("ok", "courses", f"{store.course_count()} loaded"))
            for line in bundled_courses_behind(store):
                findings.append(Finding("warn", "courses", line))
            _program_courses(store, env, findings)
        _worker(store, findings)
        _lrs_backlog(store, env, findings, live=live)
        _refusals(store, findings)
        _held(store, findings)
        if not pending:
            _staff(store, env, findings)
    _files(db_path, findings)


def _program_courses(store: Store, env: Mapping[str, str], findings: list[Finding]) -> None:
    """A course naming a program this gateway's programs file lacks (a pack brought it)."""
    try:
        configured = load_programs(env=env)
    except ConfigError:
        return  # told by the configuration check
    for course in store.courses():
        if not course.program or configured.get(course.program) is not None:
            continue
        named = f"course '{course.id}' names program '{course.program}'"
        if not configured:
            findings.append(Finding("warn", "programs", f"{named} and LEARNLINE_PROGRAMS is "
                                    "not set: every learner here sees it; install the "
                                    "programs file the other edges have (docs/programs.md)"))
        else:
            findings.append(Finding("warn", "programs", f"{named} that {configured.path} "
                                    "lacks: nobody can join it here, only its members from "
                                    "other edges see it (docs/programs.md)"))


def _schema(store: Store, findings: list[Finding]) -> None:
    problems = store.schema_problems()
    if problems:
        findings.append(Finding("fail", "schema", "; ".join(problems) + ": the gateway "
                                "refuses to start on it; restore the backup taken before "
                                "the upgrade (docs/operations.md, Upgrade)"))
    else:
        tables = len(store.db.table_names())
        findings.append(Finding("ok", "schema", f"as this version expects ({tables} tables "
                                "with their columns, indexes and triggers)"))


def _integrity(store: Store, db_path: Path, findings: list[Finding], *, full: bool) -> bool:
    check = "integrity_check" if full else "quick_check"
    problems = store.integrity_problems(full=full)
    if problems:
        findings.append(Finding("fail", "database", f"{db_path}: {check} found "
                                f"{len(problems)} problem(s), e.g. {problems[0]}: restore the "
                                "latest backup (docs/operations.md)"))
        return False
    findings.append(Finding("ok", "database", f"{db_path}: {check} ok"))
    return True


def _worker(store: Store, findings: list[Finding]) -> None:
    now = time.time()
    beat = store.last_beat("worker")
    if beat is None:
        findings.append(Finding("warn", "worker", "never seen: replies wait in the outbox "
                                "until `learnline worker` runs"))
    elif now - beat > WORKER_STALE_SECONDS:
        findings.append(Finding("fail", "worker", f"last seen {now - beat:.0f} s ago: start "
                                "or restart `learnline worker` (systemctl restart "
                                "learnline-worker)"))
    else:
        findings.append(Finding("ok", "worker", f"last seen {now - beat:.0f} s ago"))
    oldest = store.oldest_waiting_since(now)
    depth = sum(store.outbox_depth().values())
    if oldest is not None and now - oldest > LATE_WARN_SECONDS:
        findings.append(Finding("warn", "outbox", f"{depth} message(s) waiting, the oldest "
                                f"for {(now - oldest) / 60:.0f} min: is the worker "
                                "running, and is a carrier refusing sends? (its log says)"))
    else:
        findings.append(Finding("ok", "outbox", f"{depth} message(s) waiting, none late"))


def _lrs_settings(env: dict[str, str], findings: list[Finding]) -> None:
    try:
        settings = LrsSettings.from_env(env)
    except ConfigError as exc:
        findings.append(Finding("fail", "LRS", str(exc)))
        return
    if settings is not None:
        findings.append(Finding("ok", "LRS", f"statements go to {settings.endpoint}, "
                                f"activity ids under {settings.base_iri}"))
        warning = settings.in_clear()
        if warning:
            findings.append(Finding("warn", "LRS", warning))


def _lrs_backlog(store: Store, env: Mapping[str, str], findings: list[Finding], *,
                 live: bool) -> None:
    """What waits for the school's LRS (docs/integrations.md), and with `live` whether it
    answers the gateway's credentials."""
    try:
        settings = LrsSettings.from_env(env)
    except ConfigError:
        return  # said with the configuration
    if settings is None:
        return
    backlog = lrs_queue.backlog(store)
    waiting = f"{backlog['events']} learning event(s) and {backlog['voids']} voiding " \
              "statement(s) waiting"
    oldest = backlog["oldest_at"]
    late = oldest is not None and time.time() - oldest > LRS_LATE_SECONDS
    if backlog["last_error"]:
        # The last try failed (a success clears the error): whatever waits is stuck until
        # the LRS answers again, late or not yet.
        at = backlog["last_error_at"]
        when = f" {_age(time.time() - at)} ago" if at is not None else ""
        since = f", the oldest for {(time.time() - oldest) / 3600:.0f} h" if late else ""
        findings.append(Finding("warn", "LRS", f"{waiting}{since}; the last try failed"
                                f"{when}: {backlog['last_error']} (`learnline lrs status "
                                "--check` asks the LRS now)"))
    elif late:
        findings.append(Finding("warn", "LRS", f"{waiting}, the oldest for "
                                f"{(time.time() - oldest) / 3600:.0f} h: is the worker "
                                f"running, and does the LRS answer? (last error: "
                                f"{backlog['last_error'] or 'none'})"))
    else:
        findings.append(Finding("ok", "LRS", waiting))
    if live:
        problem = reachable(settings)
        findings.append(Finding("fail", "LRS", problem) if problem else
                        Finding("ok", "LRS", "answers the gateway's credentials"))


def _age(seconds: float) -> str:
    """A duration as an operator reads it: 45 s, 12 min, 5 h, 3 d."""
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def _refusals(store: Store, findings: list[Finding]) -> None:
    """Carriers whose API refused the gateway's credentials when the worker last sent."""
    now = time.time()
    for carrier, seen in store.refusals().items():
        findings.append(Finding("fail", f"carrier {carrier}", "its API refused the gateway's "
                                f"credentials when sending ({seen['detail']}), "
                                f"{max(now - seen['at'], 0) / 60:.0f} min ago: fix them in "
                                "the environment (docs/operations.md, rotating a carrier "
                                "secret) and restart the worker"))


def _held(store: Store, findings: list[Finding]) -> None:

    held = held_count(store)
    if held:
        findings.append(Finding("warn", "outbox", f"{held} message(s) held since a restore: "
                                "`learnline outbox held` lists them; release or drop them "
                                "(docs/operations.md, Backup and restore)"))


def _staff(store: Store, env: Mapping[str, str], findings: list[Finding]) -> None:
    every = staff_accounts.every(store)
    admins = sum(account.has_role("admin") for account in every)
    token = (env.get("LEARNLINE_ADMIN_TOKEN") or "").strip()
    if every and admins:
        findings.append(Finding("ok", "staff", f"{len(every)} account(s), {admins} "
                                "administrator(s)" + ("; the dashboard's token no longer "
                                                      "signs in by form" if token else "")))
    elif every:
        findings.append(Finding("warn", "staff", "no administrator account: nobody can sign "
                                "in to the dashboard: add one with `learnline staff add "
                                "USERNAME --name NAME --role admin`"))
    elif token:
        findings.append(Finding("warn", "staff", "no staff account: the dashboard's shared "
                                "token signs in: add an administrator with `learnline staff "
                                "add USERNAME --name NAME --role admin` (docs/operations.md, "
                                "Staff accounts)"))


def _files(db_path: Path, findings: list[Finding]) -> None:
    wal = Path(f"{db_path}-wal")
    wal_bytes = wal.stat().st_size if wal.exists() else 0
    if wal_bytes > WAL_WARN_BYTES:
        findings.append(Finding("warn", "database", f"write-ahead log is {wal_bytes / 1e6:.0f} "
                                "MB: checkpoints are not keeping up; is a long-running reader "
                                "holding it (a backup, an open sqlite3 shell)?"))
    else:
        findings.append(Finding("ok", "database", f"write-ahead log {wal_bytes / 1e6:.1f} MB"))
    free = shutil.disk_usage(db_path.parent).free
    needed = max(1024**3, 2 * db_path.stat().st_size)
    level = "ok" if free >= needed else "warn"
    findings.append(Finding(level, "disk", f"{free / 1e9:.1f} GB free beside the database"
                            + ("" if level == "ok" else f" (keep at least {needed / 1e9:.1f} GB "
                                                        "for backups and growth)")))


def _carriers(carriers: Carriers, findings: list[Finding], *, live: bool) -> None:
    for carrier in carriers:
        adapter_class = ADAPTERS[carrier.adapter]
        guarded = (adapter_class.signs_requests or carrier.webhook_token is not None
                   or bool(carrier.allow_ips))
        subject = f"carrier {carrier.id}"
        if not guarded:
            findings.append(Finding("warn", subject, "webhooks accepted from loopback only "
                                    "(no signature, webhook_token or allow_ips)"))
        else:
            findings.append(Finding("ok", subject, f"{carrier.adapter}, webhooks authenticated"))
        for key in _previous_secrets(carrier):
            findings.append(Finding(
                "warn", subject, f"{key} is still set: requests signed with the retired "
                "secret are accepted. Remove it (and its variable) and restart once the carrier "
                "uses the new one (docs/operations.md, Rotate a carrier secret)"))
        if not live:
            continue
        try:
            seen = adapter_class(carrier.wire).check_credentials()
        except Unsupported:
            continue
        except SendError as exc:
            if _says_nothing_of_credentials(exc.detail):
                findings.append(Finding("fail", subject, f"the carrier's API could not check "
                                        f"the credentials: {exc.detail}: not a credentials "
                                        "problem; check the API's address and try again "
                                        "later"))
            else:
                findings.append(Finding("fail", subject, f"credentials refused: {exc.detail}: "
                                        "fix them in the environment (docs/operations.md, "
                                        "rotating a carrier secret)"))
        else:
            findings.append(Finding("ok", subject, f"credentials work ({seen})"))


def _says_nothing_of_credentials(detail: str) -> bool:
    """Whether a failed credentials check was the API's failure, not a refusal: it could
    not be reached, or it answered with a server error (5xx)."""
    status = re.search(r"\bHTTP (\d{3})\b", detail)
    return "network:" in detail or (status is not None and status.group(1).startswith("5"))


def _previous_secrets(carrier: Carrier) -> list[str]:
    """The `previous_<key>` settings a rotation left in the carrier's table."""
    keys = [f"previous_{key}" for key in ADAPTERS[carrier.adapter].webhook_secrets
            if carrier.wire.credentials.get(f"previous_{key}")]
    if carrier.wire.previous_webhook_token:
        keys.append("previous_webhook_token")
    return keys


def _proxies(env: Mapping[str, str], findings: list[Finding]) -> None:
    """The reverse proxies trusted for clients' addresses, as the web server reads them."""
    try:
        networks = forwarded.trusted_proxies(
            env.get("LEARNLINE_TRUSTED_PROXIES", forwarded.DEFAULT_TRUSTED))
    except ConfigError as exc:
        findings.append(Finding("fail", "proxies", str(exc)))
        return
    for doubt in forwarded.doubts(networks, env.get("LEARNLINE_PROXY_HOPS", "")):
        findings.append(Finding("warn", "proxies", doubt))
