"""Liveness and readiness for load balancers, systemd and operators.

- `/healthz` (liveness): the process answers and can read its database; it names the
  version running (gateway/version.py), so a monitor tells releases apart, and says
  when the programs file became invalid (docs/programs.md).
- `/readyz` (readiness): the database can take a write, its migrations are applied and
  its schema is what they make (tables, columns, indexes, triggers), and
  the outbox worker beat recently (without it, replies queue but nobody sends
  them). 200 when all hold, else 503; the body says, one line each, what was
  checked, so an operator reading it with curl knows what to fix. A carrier whose
  API refuses the gateway's credentials adds a `DEGRADED` line (still 200).
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response

from gateway import environment, programs
from gateway.config import ConfigError
from gateway.store import Store, events
from gateway.store.files import DatabaseFileError
from gateway.store.per_thread import get_store
from gateway.version import VERSION

log = logging.getLogger(__name__)

# The worker beats every 5 s; a minute of silence means it is gone or stuck.
WORKER_STALE_SECONDS = 60.0

blueprint = Blueprint("health", __name__)


def _plain(lines: list[str], status: int) -> Response:
    return Response("\n".join(lines) + "\n", status=status,
                    content_type="text/plain; charset=utf-8",
                    headers={"Cache-Control": "no-store"})


@blueprint.get("/healthz")
def health() -> Response:
    """Alive: the process answers and reads its database. On an edge with a hub, also
    the sync lag (never a reason to fail: the link may be down for days by design)."""

    store = get_store()
    store.ping()
    return _plain(["ok", f"version: {VERSION}", *sync_lines(store), *programs_lines()], 200)


def programs_lines() -> list[str]:
    """A line when the programs file became invalid since it was last read valid (the
    gateway keeps that last valid reading; never a reason to fail); [] otherwise."""
    try:
        programs.current()
    except ConfigError as exc:  # never read valid in this process
        return [f"programs: INVALID: {line}" for line in exc.problems]
    found = programs.problem()
    if found is None:
        return []
    return [f"programs: INVALID, the last valid reading is in force: {line}"
            for line in found.splitlines()]


def sync_lines(store: Store, now: float | None = None) -> list[str]:
    """How far this edge's sync lags, one line each; [] without a hub configured."""

    if not environment.get("LEARNLINE_HUB_URL", "").strip():
        return []

    now = store.clock() if now is None else now
    last = events.sync_value(store, "last_success_at")
    error = events.sync_value(store, "last_error")
    waiting = events.unpushed_count(store)
    oldest = events.oldest_unpushed_at(store)
    lines = [f"sync: last success {now - float(last):.0f} s ago" if last
             else "sync: never succeeded yet"]
    lines.append(f"sync: {waiting} events waiting to be pushed"
                 + (f", the oldest {now - oldest:.0f} s old" if oldest is not None else ""))
    if error:
        lines.append(f"sync: last error: {error}")
    return lines


def readiness(store: Store, now: float | None = None) -> tuple[bool, list[str]]:
    """(ready, one line per check) for this database."""
    now = time.time() if now is None else now
    lines, ready = [], True
    problem = store.write_problem()  # never waits for the write lock
    if problem is None:
        lines.append("database: writable")
    else:
        ready = False
        lines.append(f"database: NOT writable ({problem})")
    pending = store.pending_migrations()
    if pending:
        ready = False
        lines.append(f"migrations: {len(pending)} pending ({', '.join(pending)}): "
                     "restart the gateway to apply them")
    else:
        lines.append("migrations: current")
    problems = store.schema_problems()
    if problems:
        ready = False
        lines.append(f"schema: {'; '.join(problems)}")
    else:
        lines.append("schema: as this version expects")
    beat = store.last_beat("worker")
    if beat is None:
        ready = False
        lines.append("worker: never seen: start `learnline worker`")
    elif now - beat > WORKER_STALE_SECONDS:
        ready = False
        lines.append(f"worker: last seen {now - beat:.0f} s ago: is `learnline worker` running?")
    else:
        lines.append(f"worker: last seen {max(now - beat, 0):.0f} s ago")
    lines.extend(refusal_lines(store, now))
    return ready, lines


def refusal_lines(store: Store, now: float) -> list[str]:
    """One line per carrier whose API refused the gateway's credentials at its last send:
    the gateway is degraded (nothing reaches that carrier's learners), not unready
    (their messages are still answered and queued)."""
    return [f"carrier {carrier}: DEGRADED: its API refuses the gateway's credentials "
            f"({seen['detail']}), last {max(now - seen['at'], 0):.0f} s ago: replies wait "
            "in the outbox; fix the credentials (docs/operations.md)"
            for carrier, seen in store.refusals().items()]


@blueprint.get("/readyz")
def ready() -> Response:
    """Ready to take traffic and answer it: 200, else 503, with what was checked."""

    try:
        store = get_store()
    except DatabaseFileError as exc:  # this thread opened it after it was gone
        ok, lines = False, [f"database: NOT writable ({exc})"]
    else:
        ok, lines = readiness(store)
    if not ok:
        log.warning("not ready: %s", "; ".join(lines))
    return _plain(lines, 200 if ok else 503)
