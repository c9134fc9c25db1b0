"""The `learnline` command line."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import click

from gateway import environment
from gateway.cli.announce import announce_command
from gateway.cli.certificates import certificates_group
from gateway.cli.cohorts import cohorts_group
from gateway.cli.db import existing_db_path
from gateway.cli.export import export_command
from gateway.cli.i18n import i18n
from gateway.cli.learners import learners
from gateway.cli.lrs import lrs_group
from gateway.cli.packs import packs
from gateway.cli.programs import programs_group
from gateway.cli.restore import outbox_group, restore_command
from gateway.cli.staff import staff_group
from gateway.cli.sync import hub_group, sync_command
from gateway.config import DEFAULT_CONSOLE, Carriers, ConfigError, load_carriers
from gateway.sms_text import DEFAULT_POLICY, POLICIES, count
from gateway.store import SchemaError, Store, default_db_path
from gateway.store import staff as accounts
from gateway.store.files import DatabaseFileError
from gateway.version import VERSION


def _carriers() -> Carriers:
    try:
        return load_carriers()
    except ConfigError as exc:
        if len(exc.problems) == 1:
            raise click.ClickException(str(exc)) from None
        for problem in exc.problems:
            click.echo(problem, err=True)
        raise click.ClickException(f"{len(exc.problems)} problems in the carriers file "
                                   "(above)") from None


def _is_loopback(host: str) -> bool:
    """Whether a bind address is this machine's own (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _web_settings() -> None:
    """Refuse, with one line, web settings from the environment that create_app would
    refuse in every server process."""
    from gateway.ops.dashboard import check_token
    from gateway.server.forwarded import trusted_proxies

    try:
        check_token(environment.get("LEARNLINE_ADMIN_TOKEN"))
        trusted_proxies()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _retention_days() -> int:
    from gateway.outbox.worker import retention_days_from_env

    try:
        return retention_days_from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _lrs_settings():
    """The school's LRS from the environment (None: none), or one line naming the
    variable that is wrong (docs/integrations.md)."""
    from gateway.outbox.lrs import LrsSettings

    try:
        return LrsSettings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _badge_settings():
    """Open Badges' settings from the environment (None: badges off), the signing key file
    read when one is named, or one line naming the setting that cannot be used
    (docs/integrations.md, Open Badges), as the web processes would refuse it."""
    from gateway.learning import badge_signing, badges

    try:
        found = badges.environment_settings()
        if found is not None:
            badge_signing.configured_key()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    return found


def _check_tutor_hours() -> None:
    from gateway.learning.asking import tutor_hours

    try:
        tutor_hours()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _check_programs(carriers) -> None:
    """The programs file (LEARNLINE_PROGRAMS) checked before anything starts: every problem
    on a line of its own, naming file, program and key."""
    from gateway.config import ConfigError
    from gateway.programs import load_programs

    try:
        load_programs(carrier_ids=[carrier.id for carrier in carriers])
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _edge_link():
    """This edge's hub link from the environment (None: no hub), or a clear error."""
    from gateway.sync.client import EdgeLink, SyncError

    try:
        return EdgeLink.from_env()
    except SyncError as exc:
        raise click.ClickException(str(exc)) from None


def _sync_interval() -> float:
    raw = environment.get("LEARNLINE_SYNC_SECONDS", "60").strip() or "60"
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 5 <= seconds <= 86400:
        raise click.ClickException(f"LEARNLINE_SYNC_SECONDS={raw!r}: a number of seconds "
                                   "from 5 to 86400")
    return seconds


def _share_metrics(*, fresh: bool) -> Path:
    """Point prometheus-client's multiprocess mode at `$LEARNLINE_METRICS_DIR` (default
    `<database>.metrics`), so web processes and the worker report together. Must run
    before anything imports prometheus_client. `fresh` (the server starts) removes the
    files of processes that are gone; a running worker keeps its counts.

    A configured folder that cannot be made or written (`/run/learnline/metrics` from the
    env file, on a machine without systemd to make `/run/learnline`) is said in one line
    and replaced by the first usable of `$RUNTIME_DIRECTORY/metrics`, `<database>.metrics`
    and a folder of this user's in the temporary directory: the same choice in every
    process on the same settings, and passed on to the worker `serve` starts."""
    default = Path(f"{default_db_path().resolve()}.metrics")
    configured = environment.get("LEARNLINE_METRICS_DIR")
    candidates = [Path(configured)] if configured else []
    if environment.get("RUNTIME_DIRECTORY"):  # systemd's RuntimeDirectory=
        candidates.append(Path(environment.get("RUNTIME_DIRECTORY").split(":")[0]) / "metrics")
    digest = hashlib.sha256(str(default).encode()).hexdigest()[:12]
    candidates += [default, Path(tempfile.gettempdir()) / f"learnline-{os.getuid()}-{digest}"]
    problem = None
    for folder in candidates:
        reason = _unusable(folder)
        if reason is None:
            break
        problem = problem or reason
    else:
        raise click.ClickException(f"no folder to share metrics in: {configured or default}: "
                                   f"{problem}; set LEARNLINE_METRICS_DIR to a writable one")
    if configured and folder != Path(configured):
        click.echo(f"LEARNLINE_METRICS_DIR={configured}: cannot use it ({problem}); metrics "
                   f"are shared in {folder} instead (without systemd, set "
                   "LEARNLINE_METRICS_DIR to a folder this user can write)", err=True)
    if fresh:
        for stale in folder.glob("*.db"):  # named <kind>_<pid>.db
            pid = stale.stem.rsplit("_", 1)[-1]
            if not pid.isdigit() or not _alive(int(pid)):
                stale.unlink(missing_ok=True)
    environment.export("LEARNLINE_METRICS_DIR", str(folder))  # the worker `serve` starts agrees
    environment.export("PROMETHEUS_MULTIPROC_DIR", str(folder))
    return folder


def _unusable(folder: Path) -> str | None:
    """Why metrics cannot be shared in `folder` (made if missing), or None when they can."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        return exc.strerror or str(exc)
    if not os.access(folder, os.W_OK | os.X_OK):
        return "not writable by this user"
    if folder.parent == Path(tempfile.gettempdir()) and folder.stat().st_uid != os.getuid():
        return "made by another user"  # in a folder everyone can write to
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _open_store() -> Store:
    """The database, migrated, with the bundled courses if it has none. Says on stderr
    when it is a backup put in place (what it had waiting is held: gateway/store/held.py)
    and when a bundled course it holds is another version than this release's."""
    from gateway.content.importer import bundled_courses_behind, ensure_bundled_courses
    from gateway.store.held import hold_if_backup

    store = Store.open(default_db_path(), migrate=True)
    restored = hold_if_backup(store)
    if restored is not None:
        taken = datetime.fromtimestamp(restored[0], UTC).strftime("%Y-%m-%d %H:%M UTC")
        click.echo(f"this database is a backup taken at {taken}: {restored[1]} message(s) "
                   "that were waiting to be sent then are held (some may have gone out "
                   "since): `learnline outbox held` lists them; release or drop them",
                   err=True)
    if not ensure_bundled_courses(store):
        for line in bundled_courses_behind(store):
            click.echo(line, err=True)
    return store


class _Commands(click.Group):
    """The command group. A database SQLite says is damaged, or one it found busy past
    the busy timeout, one missing where one was made, or one this version cannot use
    (SchemaError), gets one line instead of a traceback; any other database error
    (a full disk, permissions, I/O, or a bug) keeps its traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (DatabaseFileError, SchemaError) as exc:  # it says what to do
            raise click.ClickException(str(exc)) from None
        except sqlite3.DatabaseError as exc:
            code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF  # the primary code
            if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
                raise click.ClickException(
                    f"the database is damaged: {exc}. `learnline doctor` checks it; "
                    "docs/operations.md (Backup and restore) says how to put a backup in "
                    "its place.") from None
            if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or str(exc).startswith(
                    "write lock busy"):
                raise click.ClickException(
                    f"the database is busy: {exc}. Another process held it longer than "
                    "the busy timeout; try again.") from None
            raise


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(VERSION, "--version", prog_name="learnline",
                      message="%(prog)s %(version)s")
def main() -> None:
    """Learnline: short lessons and quizzes by SMS, USSD and lite web pages.

    Settings come from the environment: LEARNLINE_DB (the SQLite file,
    default ./learnline.db) and LEARNLINE_CARRIERS (the carriers TOML file;
    without it, one console carrier).

    \b
    Examples:
      learnline chat +221770000000     (try a course in the terminal)
      learnline serve --port 8000      (run the gateway with the bundled course)
    """
    wanted = environment.get("LEARNLINE_LOG_LEVEL", "").strip().upper() or "INFO"
    level = logging.getLevelName(wanted)  # a number for a level's name, else a string
    logging.basicConfig(
        level=level if isinstance(level, int) else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not isinstance(level, int):
        logging.getLogger(__name__).warning(
            "LEARNLINE_LOG_LEVEL=%s is no log level (debug, info, warning, error): info",
            wanted.lower())


# -- serve -------------------------------------------------------------------------------


def _port_free(host: str, port: int) -> None:
    """Stop with one line when another program already listens on host:port, before the
    banner promises URLs and the worker starts (gunicorn would retry for seconds, then
    print its own errors)."""
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise click.ClickException(f"{host}:{port} is in use by another program: stop "
                                           "it, or choose another port with --port") from None
            raise click.ClickException(f"cannot listen on {host}:{port}: "
                                       f"{exc.strerror}") from None


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              help="Port to listen on.")
@click.option("--no-worker", is_flag=True, help="Do not run the outbox worker beside the server.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Web worker processes (default: config).")
@click.option("--no-simulator", is_flag=True,
              help="Turn off the phone simulator page (/simulator), on by default on a "
                   "loopback --host (elsewhere only with LEARNLINE_SIMULATOR=1).")
def serve(host: str, port: int, no_worker: bool, workers: int | None,
          no_simulator: bool) -> None:
    """Run the gateway under gunicorn, with the outbox worker beside it.

    Imports the bundled lessons on first start and prints the URLs it serves,
    including each carrier's webhook URLs.

    \b
    Example:
      LEARNLINE_CARRIERS=carriers.toml learnline serve --host 0.0.0.0 --port 8000
    """
    metrics_dir = _share_metrics(fresh=True)
    from gateway.server.gunicorn_app import GatewayServer
    from gateway.urls import webhook_url

    carriers = _carriers()
    _web_settings()
    _retention_days()  # the worker's setting: refuse a bad one before starting anything
    _check_tutor_hours()
    _check_programs(carriers)
    lrs = _lrs_settings()
    open_badges = _badge_settings()
    _port_free(host, port)
    with _open_store() as store:
        staff_accounts = accounts.count(store)
    # On this machine's own address the simulator is on unless turned off; on any other
    # it is off unless LEARNLINE_SIMULATOR asks for it: anyone there could drive it.
    public = not _is_loopback(host)
    simulator = "0" if no_simulator else environment.get(
        "LEARNLINE_SIMULATOR", "0" if public else "1")
    environment.export("LEARNLINE_SIMULATOR", simulator)
    # Every address: this machine's own is one a browser here can open.
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}"
    click.echo(f"Learnline gateway on {base} (database {default_db_path().resolve()})")
    if base != f"http://{host}:{port}":
        click.echo(f"  listening on every address of this machine ({host}), port {port}")
    click.echo(f"  lite web: {base}/")
    if environment.get("LEARNLINE_SIMULATOR") == "1":
        click.echo(f"  phone simulator: {base}/simulator")
    elif public and not no_simulator:
        click.echo("  phone simulator: off on a public address (LEARNLINE_SIMULATOR=1 "
                   "turns it on)")
    if staff_accounts:
        click.echo(f"  dashboard: {base}/admin (staff accounts sign in: {staff_accounts}; "
                   "`learnline staff list` shows them)")
    elif environment.get("LEARNLINE_ADMIN_TOKEN", "").strip():
        click.echo(f"  dashboard: {base}/admin (sign in with LEARNLINE_ADMIN_TOKEN until a "
                   "staff account exists: add one with `learnline staff add`)")
    else:
        # The dashboard looks for accounts on each request: the first administrator
        # added turns it on while this banner stays printed.
        click.echo("  dashboard: off until an administrator exists: `learnline staff add "
                   f"USERNAME --name NAME --role admin` turns it on at {base}/admin, no "
                   "restart needed (or set LEARNLINE_ADMIN_TOKEN and restart)")
    if staff_accounts or environment.get("LEARNLINE_ADMIN_TOKEN", "").strip():
        click.echo(f"  tutors' inbox: {base}/admin/inbox (staff accounts with the tutor or "
                   "admin role)")
    if environment.get("LEARNLINE_ROLE", "").strip().lower() == "hub":
        click.echo(f"  hub: edges sync at {base}/sync/v1/ (`learnline hub edges` lists them; "
                   "their learners' questions reach the inbox)")
    click.echo(f"  health: {base}/healthz, readiness: {base}/readyz")
    click.echo(f"  metrics: {base}/metrics (from this machine; shared in {metrics_dir})")
    if open_badges is not None:
        click.echo(f"  open badges: issued by {open_badges.issuer_name} at "
                   f"{open_badges.issuer_id}")
    if lrs is not None:
        click.echo(f"  LRS: learning statements go to {lrs.endpoint}")
    for carrier in carriers:
        click.echo(f"  carrier {carrier.id} ({carrier.adapter}):")
        if carrier.carries("sms"):
            click.echo(f"    inbound SMS: {_redact(webhook_url(carrier, 'sms', base), carrier)}")
            click.echo("    delivery status: "
                       f"{_redact(webhook_url(carrier, 'status', base), carrier)}")
        if carrier.carries("ussd"):
            click.echo(f"    USSD: {_redact(webhook_url(carrier, 'ussd', base), carrier)}")
        if carrier.carries("whatsapp"):
            click.echo("    WhatsApp (callback URL): "
                       f"{_redact(webhook_url(carrier, 'whatsapp', base), carrier)}")
            if carrier.carries("status"):
                click.echo("    delivery status: "
                           f"{_redact(webhook_url(carrier, 'status', base), carrier)}")
    supervisor = None
    if not no_worker:
        from gateway.outbox.supervisor import Supervisor
        from gateway.outbox.worker import ACCEPTED_PATIENCE_SECONDS

        supervisor = Supervisor([sys.executable, "-m", "gateway.cli", "worker"],
                                "outbox worker")
        click.echo(f"  outbox worker: pid {supervisor.start()} (started again if it stops)")
    try:
        GatewayServer(f"{host}:{port}", workers).run()
    finally:
        if supervisor is not None:
            # The worker may be retrying to record a message the carrier accepted (for
            # up to ACCEPTED_PATIENCE_SECONDS): killed sooner, it would send it again.
            supervisor.stop(timeout=ACCEPTED_PATIENCE_SECONDS + 30)  # as systemd's unit


def _redact(url: str | None, carrier) -> str:
    if url and carrier.webhook_token:
        return url.replace(carrier.webhook_token, "<webhook_token>")
    return url or ""


# -- worker ------------------------------------------------------------------------------


@main.command()
@click.option("--drain", is_flag=True, help="Send everything that is due, then exit 0.")
@click.option("--lease-seconds", type=float, default=60.0, show_default=True,
              help="How long a message being sent is reserved; after a crash it is retried then.")
def worker(drain: bool, lease_seconds: float) -> None:
    """Send queued messages through each carrier, at its rate, with retries.

    \b
    Example (send what is due and stop):
      learnline worker --drain
    """
    _share_metrics(fresh=False)
    from gateway.outbox.worker import OutboxWorker

    carriers = _carriers()
    with _open_store():
        pass
    _check_tutor_hours()
    _check_programs(carriers)
    lrs = _lrs_settings()
    _badge_settings()
    outbox = OutboxWorker(default_db_path(), carriers, lease_seconds=lease_seconds,
                          retention_days=_retention_days(), lrs=lrs)
    outbox.install_signal_handlers()
    link = _edge_link()
    if link is not None and not drain:
        from gateway.sync.loop import SyncLoop

        SyncLoop(default_db_path(), link, interval=_sync_interval(),
                 carriers=carriers).start()
    report = outbox.run(drain=drain)
    if drain:
        click.echo(
            f"sent {report.sent}, retry later {report.retried}, failed {report.failed}, "
            f"cancelled {report.cancelled}, inbound recovered {report.recovered_inbound}"
            + (f", statements to the LRS {report.statements}" if outbox.lrs else "")
        )
        if report.lrs_error:
            # Still exit 0: the messages went, and the statements wait safely for the next
            # drain or the running worker (docs/integrations.md, How they travel).
            events, voids = report.lrs_waiting
            click.echo(f"LRS: {report.lrs_error}; {events} learning event(s) and {voids} "
                       "voiding statement(s) wait for the next try")


# -- chat --------------------------------------------------------------------------------


@main.command()
@click.argument("phone")
@click.option("--ussd", is_flag=True, help="A USSD menu session instead of SMS.")
def chat(phone: str, ussd: bool) -> None:
    """Talk to Learnline in the terminal, by SMS (console carrier) or by USSD.

    By SMS, type commands such as START, NEXT, STATUS, HELP, LANG fr, STOP,
    or answer quiz questions with A-D. By USSD, type the number of a menu
    option (98 more, 0 back, 00 menu). Ctrl-D quits.

    \b
    Examples:
      learnline chat +221770000000
      learnline chat --ussd +254712345678
    """
    from gateway.phones import InvalidPhoneNumber, to_e164

    carriers = _carriers()
    console = carriers.get("console") or DEFAULT_CONSOLE
    console = type(console)(**{**console.__dict__, "tps": 1000.0})
    try:
        number = to_e164(phone, console.country)
    except InvalidPhoneNumber as exc:
        hint = "" if phone.strip().startswith(("+", "00")) or console.country else \
            ": write it with its country code, e.g. +2348030000000 (the console carrier " \
            "names no `country` to read national numbers in)"
        raise click.BadParameter(f"{exc}{hint}", param_hint="PHONE") from None
    logging.getLogger().setLevel(logging.WARNING)
    with _open_store() as store:
        if ussd:
            _chat_ussd(store, console, number)
        else:
            _chat_sms(store, console, number)


def _chat_sms(store: Store, console, number: str) -> None:
    import threading

    from gateway.channels.sms.conversation import receive_inbound
    from gateway.outbox.chats import AlreadyChatting, chatting
    from gateway.outbox.worker import OutboxWorker

    # This number's console messages are printed here, not by the worker of a
    # `learnline serve` on the same database (gateway/outbox/chats.py); other numbers' are left
    # to that worker. The outbox is watched while waiting for a line, so a message that
    # comes unasked (a reminder, an announcement) shows too.
    outbox = OutboxWorker(default_db_path(), Carriers({"console": console}, None),
                          phone=number)
    with contextlib.ExitStack() as chat:
        try:
            chat.enter_context(chatting(default_db_path(), number))
        except AlreadyChatting as exc:
            raise click.ClickException(str(exc)) from None
        sender = threading.Thread(target=outbox.run, kwargs={"poll_seconds": 0.2},
                                  daemon=True)
        sender.start()
        click.echo(f"Learnline chat as {number}. Try START, HELP or LANG fr. Ctrl-D to quit.")
        try:
            while (line := _read("> ")) is not None:
                if not line.strip():
                    continue
                receive_inbound(store, console, f"chat-{uuid.uuid4().hex}", number, line,
                                console.sender)
                _await_replies(store, number)
        finally:
            outbox.stop()
            sender.join(timeout=10)


def _await_replies(store: Store, number: str, timeout: float = 10.0) -> None:
    """Return once nothing due to `number` is waiting or being sent (so printed), so the
    prompt comes after the replies."""
    deadline = time.monotonic() + timeout
    while store.sending_to(number) and time.monotonic() < deadline:
        time.sleep(0.02)


def _chat_ussd(store: Store, console, number: str) -> None:
    from carrier_adapters import UssdRequest
    from gateway.channels.ussd import handle_ussd

    code = "*384*12#"
    click.echo(f"Learnline USSD as {number}, dialling {code}. Ctrl-D to quit.")
    while True:
        session = uuid.uuid4().hex
        text: str | None = ""
        while text is not None:
            request = UssdRequest(session, number, code, text, is_new=text == "",
                                  cumulative=False)
            screen = handle_ussd(store, console, request, number)
            click.echo(f"\n{screen.text}\n")
            if screen.end:
                break
            text = _read("> ")
        if text is None or _read(f"(session ended; press Enter to dial {code} again) ") is None:
            click.echo()
            return


def _read(prompt: str) -> str | None:
    try:
        return input(prompt)
    except (EOFError, KeyboardInterrupt):
        return None


# -- lessons -----------------------------------------------------------------------------


@main.group()
def lessons() -> None:
    """Check and import course content (lessons/).

    \b
    Example:
      learnline lessons check lessons/ && learnline lessons import lessons/
    """


def _lessons_root(directory: str | None) -> Path:
    from gateway.paths import lessons_dir

    return Path(directory) if directory else lessons_dir()


def _unknown_programs(root: Path, courses: list) -> list:
    """A course naming a program the programs file lacks, when programs are configured
    (`LEARNLINE_PROGRAMS`); without a programs file, a course's program is not checked."""
    from gateway.content.parser import Problem, _line_of_key
    from gateway.programs import load_programs

    try:
        configured = load_programs()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if not configured:
        return []
    problems = []
    for course in courses:
        if course.program and configured.get(course.program) is None:
            course_file = root / course.id / "course.toml"
            problems.append(Problem(
                str(course_file), _line_of_key(course_file, "program"),
                f"program {course.program!r} is not in the programs file "
                f"(have: {', '.join(sorted(configured.by_id))})"))
    return problems


@lessons.command("check")
@click.argument("directory", required=False)
@click.option("--strict", is_flag=True,
              help="Exit 1 when a lesson costs more SMS segments than its budget, or a "
                   "text is over WhatsApp's limits.")
@click.option("--verbose", "-v", is_flag=True,
              help="Also list, per lesson, the options WhatsApp's buttons show cut.")
def lessons_check(directory: str | None, strict: bool, verbose: bool) -> None:
    """Validate courses; print problems as path:line: message, SMS and WhatsApp costs.

    Prints what a learner pays per lesson and language in SMS segments, answering
    right and answering wrong once, under the carriers' encoding policy
    (LEARNLINE_CARRIERS, else the default), against the course's budget
    (course.toml sms_budget); and the WhatsApp messages each lesson sends, right and
    wrong once, priced at each WhatsApp carrier's price_per_whatsapp_service.
    Warns, in every language, of each text WhatsApp cannot
    show whole where it belongs, and counts per language the options WhatsApp's buttons
    show cut (--verbose lists them per lesson).
    Exits 1 on any error (warnings alone pass), and with --strict when a lesson is
    over budget or a text over WhatsApp's limits.

    \b
    Example:
      learnline lessons check lessons/
      learnline lessons check --strict lessons/
      learnline lessons check --verbose lessons/
    """
    from gateway.channels.whatsapp.limits import overflows
    from gateway.cli.costs import (
        course_cost_lines,
        pricing_carriers,
        whatsapp_carriers,
        whatsapp_cost_lines,
        whatsapp_title_lines,
    )
    from gateway.content import load_courses

    root = _lessons_root(directory)
    courses, problems = load_courses(root, strict=False)
    problems += _unknown_programs(root, courses)
    whatsapp = [problem for course in courses for problem in overflows(course)]
    problems += whatsapp
    for problem in problems:
        click.echo(str(problem), err=True)
    carriers = _carriers() if courses else None
    pricing, whose = pricing_carriers(carriers) if carriers else ([], "")
    messaging, no_whatsapp = whatsapp_carriers(carriers) if carriers else ([], "")
    over: list[str] = []
    for course in courses:
        count = len(course.lesson_ids)
        click.echo(f"{course.id} ({course.code}): {count} lesson{'' if count == 1 else 's'}, "
                   f"locales {', '.join(course.locales)}")
        lines, over_budget = course_cost_lines(course, pricing, whose)
        for line in lines:
            click.echo(line)
        over += [f"{course.id} {lesson}" for lesson in over_budget]
        for line in whatsapp_cost_lines(course, messaging, no_whatsapp):
            click.echo(line)
        for line in _lesson_coverage(course):
            click.echo(line)
        for line in whatsapp_title_lines(course, verbose):
            click.echo(line)
    errors = [p for p in problems if not p.warning]
    if errors:
        raise click.ClickException(f"{len(errors)} problem(s) in {root}")
    failing = []
    if over:
        failing.append(f"{len(over)} lesson(s) over their SMS budget")
    if whatsapp:
        failing.append(f"{len(whatsapp)} text(s) over WhatsApp's limits (warnings above)")
    if strict and failing:
        raise click.ClickException("; ".join(failing))
    click.echo(_check_verdict(len(problems), len(over)))


def _check_verdict(warnings: int, over: int) -> str:
    """The last line of `lessons check` when it passes: what holds, lessons over their SMS
    budget (which --strict fails) said as such, never beside 'no problems'."""
    if not over:
        return "ok: no problems" if not warnings else f"ok: {warnings} warning(s)"
    held = f"; {warnings} warning(s)" if warnings else ""
    lessons = "1 lesson over its" if over == 1 else f"{over} lessons over their"
    return (f"ok: no errors{held}; {lessons} SMS budget "
            f"(warnings; --strict fails {'it' if over == 1 else 'them'})")


def _lesson_coverage(course) -> list[str]:
    """Which lessons lack which locale, among the course's and the interface's locales.

    Warnings only: a course may be in fewer languages than the interface; learners of a
    missing locale get the course's default language."""
    from gateway.i18n import available_locales

    wanted = [course.default_locale, *sorted((set(course.locales) | set(available_locales()))
                                             - {course.default_locale})]
    complete, lines = [], []
    for locale in wanted:
        have = {lesson.id for lesson in course.lessons.get(locale, ())}
        missing = [i for i in course.lesson_ids if i not in have]
        if not missing:
            complete.append(locale)
        elif len(missing) == len(course.lesson_ids):
            lines.append(f"  {locale}: no lessons (learners get {course.default_locale})")
        else:
            lines.append(f"  {locale}: missing {', '.join(missing)}")
    head = [f"  all lessons in {', '.join(complete)}"] if complete else []
    return [f"  lessons per locale (course: {', '.join(course.locales)}; "
            f"interface: {', '.join(available_locales())})", *head, *lines]


@lessons.command("import")
@click.argument("directory", required=False)
def lessons_import(directory: str | None) -> None:
    """Load courses into the database (safe to repeat; progress is kept).

    \b
    Example:
      LEARNLINE_DB=/var/lib/learnline/learnline.db learnline lessons import lessons/
    """
    from gateway.content import ContentError, load_courses
    from gateway.content.importer import CodeTaken, save_courses

    root = _lessons_root(directory)
    texts = sum(1 for _ in root.glob("*/*/*.txt"))
    # Each lesson text is read, then saved: two steps each. The bar shows on a
    # terminal only (click hides it when the output is a file or a pipe).
    with click.progressbar(length=2 * texts, label=f"Importing {texts} lesson texts",
                           file=sys.stderr) as bar:
        try:
            courses, _ = load_courses(root, strict=True, on_lesson=lambda: bar.update(1))
        except ContentError as exc:
            problems = exc.problems
        else:
            problems = []
            with Store.open(default_db_path(), migrate=True) as store:
                try:
                    report = save_courses(store, courses, on_lesson=lambda: bar.update(1))
                except CodeTaken as exc:
                    raise click.ClickException(f"nothing imported: {exc}") from None
    if problems:
        for problem in problems:
            click.echo(str(problem), err=True)
        raise click.ClickException("nothing imported: fix the problems above")
    for course_id, counts in report.items():
        click.echo(f"{course_id}: {counts['added']} added, {counts['updated']} updated, "
                   f"{counts['unchanged']} unchanged")


# -- carriers ----------------------------------------------------------------------------


@main.group()
def carriers() -> None:
    """Check the carriers configuration (LEARNLINE_CARRIERS).

    \b
    Example:
      learnline carriers check --live
    """


@carriers.command("check")
@click.option("--live", is_flag=True,
              help="Also prove each carrier's credentials with its API (no message is sent).")
def carriers_check(live: bool) -> None:
    """Validate the carriers file; with --live, check each carrier's credentials.

    Exits 1 when the file is invalid or a live check fails.

    \b
    Example:
      LEARNLINE_CARRIERS=carriers.toml learnline carriers check --live
    """
    from carrier_adapters import ADAPTERS, SendError, Unsupported

    configured = _carriers()
    where = configured.path or "no LEARNLINE_CARRIERS: the default console carrier"
    click.echo(f"{where}: {len(configured.by_id)} carrier(s), valid")
    failures = 0
    for carrier in configured:
        adapter_class = ADAPTERS[carrier.adapter]
        channels = [c for c in ("sms", "ussd", "whatsapp") if carrier.carries(c)]
        auth = [name for name, on in (("signature", adapter_class.signs_requests),
                                      ("webhook_token", carrier.webhook_token is not None),
                                      ("allow_ips", bool(carrier.allow_ips))) if on]
        # Encoding policies are SMS's: a WhatsApp or USSD-only carrier has none to show.
        encoding = f"encoding {carrier.encoding_policy}, " if "sms" in channels else ""
        click.echo(f"  {carrier.id}: {carrier.adapter}, {'+'.join(channels) or 'no channel'}, "
                   f"webhooks by {', '.join(auth) or 'loopback only'}, "
                   f"{encoding}{carrier.tps:g} msg/s")
        if not live:
            continue
        adapter = adapter_class(carrier.wire)
        try:
            seen = adapter.check_credentials()
        except Unsupported:
            click.echo("    live: nothing to check for this adapter")
        except SendError as exc:
            failures += 1
            click.echo(f"    live: FAILED: {exc.detail}")
            continue
        else:
            click.echo(f"    live: ok: {seen}")
        failures += _check_receipts(adapter, carrier)
    if failures:
        raise click.ClickException(f"{failures} carrier(s) failed the live check")


def _check_receipts(adapter, carrier) -> int:
    """Report the carrier's delivery-receipt subscription, where it has one to make; 1
    when it is missing at the carrier or sends receipts elsewhere."""
    from carrier_adapters import SendError, Unsupported
    from gateway.urls import webhook_url

    try:
        seen = adapter.check_receipts(webhook_url(carrier, "status"))
    except Unsupported:
        return 0
    except SendError as exc:
        click.echo(f"    receipts: FAILED: {exc.detail}")
        return 1
    click.echo(f"    receipts: {'ok: ' if seen.startswith('subscription') else ''}{seen}")
    return 0


@carriers.command("subscribe")
@click.argument("carrier_id")
def carriers_subscribe(carrier_id: str) -> None:
    """Ask a carrier to send its delivery receipts to this gateway (Orange: a
    delivery-receipt subscription for the carrier's sender), then print the key to add.

    The receipts go to the carrier's status webhook under its public_url. Put the
    printed `receipt_subscription` in the carrier's table, so that `carriers check
    --live` checks the subscription is still there and still points here.

    \b
    Example:
      learnline carriers subscribe orange-ci
    """
    from carrier_adapters import ADAPTERS, SendError, Unsupported
    from gateway.urls import webhook_url

    carrier = _carriers().get(carrier_id)
    if carrier is None:
        raise click.ClickException(f"no carrier {carrier_id!r} in the carriers file")
    notify_url = webhook_url(carrier, "status")
    if notify_url is None:
        raise click.ClickException(f"carrier {carrier_id!r} has no public_url: set it to the "
                                   "address the carrier reaches this gateway at")
    try:
        subscription = ADAPTERS[carrier.adapter](carrier.wire).subscribe_receipts(notify_url)
    except Unsupported:
        raise click.ClickException(f"carrier {carrier_id!r} ({carrier.adapter}) sends "
                                   "receipts without a subscription") from None
    except SendError as exc:
        raise click.ClickException(f"carrier {carrier_id!r}: subscription refused: "
                                   f"{exc.detail}") from None
    click.echo(f"{carrier_id}: delivery receipts subscribed (subscription {subscription})")
    click.echo(f"add to [carriers.{carrier_id}]: receipt_subscription = \"{subscription}\"")


# -- operations --------------------------------------------------------------------------


@main.command()
@click.argument("target", type=click.Path(dir_okay=False))
def backup(target: str) -> None:
    """Copy the database to TARGET while the gateway keeps running.

    The copy is one consistent snapshot, integrity-checked before it replaces
    TARGET. Restore it with `learnline restore TARGET`, the gateway stopped:
    it holds the messages that were waiting to be sent (docs/operations.md).

    \b
    Example:
      LEARNLINE_DB=/var/lib/learnline/learnline.db learnline backup /var/backups/learnline.db
    """
    from gateway.ops.backup import BackupError
    from gateway.ops.backup import backup as take_backup

    try:
        report = take_backup(existing_db_path(), target)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    counts = ", ".join(f"{n:,} {table}" for table, n in report.counts.items())
    click.echo(f"backup: {report.path} ({report.size_bytes / 1e6:,.1f} MB: {counts}) "
               f"in {report.seconds:.1f} s; integrity ok")


@main.command()
@click.option("--live", is_flag=True, help="Also prove each carrier's credentials (no message "
              "is sent).")
@click.option("--full", is_flag=True, help="Full integrity check (slower on a big database).")
def doctor(live: bool, full: bool) -> None:
    """Check the database, the configuration and the carriers; say what to fix.

    Prints one line per check (OK, WARN, FAIL) and exits 1 when anything fails.

    \b
    Example:
      LEARNLINE_CARRIERS=/etc/learnline/carriers.toml learnline doctor --live
    """
    from gateway.ops.doctor import diagnose

    findings = diagnose(default_db_path(), live=live, full=full)
    for finding in findings:
        click.echo(str(finding))
    failed = sum(f.level == "fail" for f in findings)
    if failed:
        raise click.ClickException(f"{failed} check(s) failed")


@main.command()
@click.option("--days", type=click.IntRange(1, 366), default=14, show_default=True,
              help="How many UTC days, the last one included.")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The last day (UTC, YYYY-MM-DD); default: today.")
@click.option("--csv", "table", type=click.Choice(
    ("activity", "funnel", "questions", "carriers", "costs", "lesson_costs",
     "tutor_service", "tutor_days", "tutors", "tutor_lessons", "quiz", "asked")),
              help="Print only this table, as CSV (as the dashboard's CSV link gives it).")
@click.option("--program", default=None, metavar="ID",
              help="Only this program's figures, as its page /admin/programs/ID shows "
                   "them (tables funnel, quiz, costs, asked).")
def stats(days: int, until: datetime | None, table: str | None,
          program: str | None) -> None:
    """Print the operator dashboard's figures (/admin) as tables.

    Daily active learners per channel, each course's funnel, quiz questions by
    share of right first answers (worst first), messages, segments, delivery
    and cost per carrier per day, the SMS cost per completed lesson, and
    the cost per completed lesson by delivery mode (full SMS, lesson by
    link, USSD, web), carrier, course and language, with the segments,
    USSD sessions and megabytes behind it; and learners' questions to
    tutors: per day, time to first answer, the backlog and its age (now,
    or at the end of a past --until), answers per tutor, and the lessons
    asked about most. Costs use each carrier's
    price_per_segment, price_per_ussd_session and price_per_web_mb from
    LEARNLINE_CARRIERS, as they are now.

    \b
    Examples:
      learnline stats --days 7
      learnline stats --days 31 --until 2025-01-31 --csv questions > questions.csv
      learnline stats --program orange --csv funnel > orange-funnel.csv
    """
    import calendar

    from gateway.ops import reports
    carriers = _carriers()
    # Noon of the last day: any time of that day names the same period.
    now = calendar.timegm(until.timetuple()) + 43200 if until else None
    if program is not None:
        _program_stats(carriers, program, days, now, table)
        return
    if table is not None and table not in reports.TABLES:
        raise click.ClickException(f"'{table}' is a program's table: add --program ID")
    with Store.open(existing_db_path(), migrate=True) as store:
        report = reports.build_report(store, carriers, days, now=now)
    if table is not None:
        click.echo(reports.to_csv(report, table), nl=False)
        return
    period = report.period
    click.echo(f"Learnline, {period.days[0]} to {period.days[-1]} (UTC), made "
               f"{reports.generated_at(store.clock())}")
    for name in reports.TABLES:
        click.echo("\n" + reports.format_table(reports.table(report, name)))


def _program_stats(carriers, program: str, days: int, now: float | None,
                   table: str | None) -> None:
    """`learnline stats --program`: one program's tables, as its page shows them."""
    from gateway import programs as configured
    from gateway.ops import program_reports, reports
    found = configured.current().get(program)
    if found is None:
        if not environment.get("LEARNLINE_PROGRAMS", "").strip():
            raise click.ClickException(
                f"no program '{program}': LEARNLINE_PROGRAMS names no programs file, so this "
                "gateway has no programs (docs/programs.md)")
        raise click.ClickException(f"no program '{program}' in LEARNLINE_PROGRAMS")
    if table is not None and table not in program_reports.TABLES:
        raise click.ClickException(f"a program has no table '{table}': one of "
                                   + ", ".join(program_reports.TABLES))
    with Store.open(existing_db_path(), migrate=True) as store:
        report = program_reports.build(store, carriers, program, days, now=now)
    if table is not None:
        click.echo(program_reports.to_csv(report, table), nl=False)
        return
    period = report.period
    click.echo(f"{found.name} ({program}), {period.days[0]} to {period.days[-1]} (UTC), "
               f"made {reports.generated_at(store.clock())}")
    for name in program_reports.TABLES:
        click.echo("\n" + reports.format_table(program_reports.table(report, name)))


# -- sms ---------------------------------------------------------------------------------


@main.group()
def sms() -> None:
    """SMS text tools.

    \b
    Example:
      learnline sms count "Leçon 1 : « Trouver un métier »"
    """


@sms.command("count")
@click.option("--policy", type=click.Choice(POLICIES), default=DEFAULT_POLICY, show_default=True,
              help="exact: as written; smart: look-alike punctuation replaced; "
                   "gsm7: smart plus accents GSM-7 lacks folded; auto (carriers' default): "
                   "gsm7's folding of accents when every character then fits GSM-7, "
                   "else as written.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.argument("texts", nargs=-1, required=True)
def sms_count(policy: str, as_json: bool, texts: tuple[str, ...]) -> None:
    """Count the encoding and segments of each TEXT, one line each, under the policy a
    carrier without `encoding_policy` uses unless --policy says otherwise.

    \b
    Example:
      learnline sms count --policy gsm7 "Leçon 1 : « Trouver un métier »"
      learnline sms count --json "Hello {world}"
    """
    for text in texts:
        result = count(text, policy)
        if as_json:
            click.echo(json.dumps({"text": text, "encoding": result.encoding,
                                   "segments": result.segments, "parts": list(result.parts)},
                                  ensure_ascii=False))
        else:
            click.echo(f"{result.encoding}\t{result.segments}\t{result.text}")


main.add_command(learners)
main.add_command(certificates_group)
main.add_command(lrs_group)
main.add_command(packs)
main.add_command(cohorts_group)
main.add_command(announce_command)
main.add_command(export_command)
main.add_command(sync_command)
main.add_command(hub_group)
main.add_command(i18n)
main.add_command(restore_command)
main.add_command(outbox_group)
main.add_command(staff_group)
main.add_command(programs_group)

