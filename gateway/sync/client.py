"""The edge's side of sync: one round pushes this edge's unsent events, pulls the events
of its learners recorded elsewhere, and fetches a newer course pack (docs/sync.md).

Every step resumes where the last one stopped: pushes are idempotent by event id and
the push cursor moves only past what the hub acknowledged; the pull cursor moves in the
same transaction that applies the pulled events; a pack download cut mid-way resumes
with a Range request from what is already on disk.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from gateway import environment
from gateway.config import Carriers, ConfigError, load_carriers
from gateway.learning.merge import apply_remote_events
from gateway.store import cohorts, events
from gateway.sync import packs, spends
from gateway.sync.answers import deliver_relayed
from gateway.sync.protocol import (
    COHORT_BATCH,
    EVENTS_PATH,
    MAX_COMPRESSED_BODY,
    PACK_PATH,
    PULL_BATCH,
    PUSH_BATCH,
    BodyError,
    bearer,
    encode,
)

log = logging.getLogger(__name__)

TIMEOUT = (10.0, 60.0)  # connect, read: a slow link is fine, a dead one is not


class SyncError(Exception):
    """A round could not finish (link down, hub refusing); what moved before it is kept."""


@dataclass(frozen=True)
class EdgeLink:
    """Where this edge's hub is and how the edge proves who it is."""

    hub_url: str
    edge_id: str
    token: str = field(repr=False)

    @classmethod
    def from_env(cls) -> EdgeLink | None:
        """From $LEARNLINE_HUB_URL, $LEARNLINE_EDGE_ID and $LEARNLINE_EDGE_TOKEN; None
        when no hub is configured (a stand-alone gateway). SyncError when half set."""
        url = environment.get("LEARNLINE_HUB_URL", "").strip()
        if not url:
            return None
        edge_id = environment.get("LEARNLINE_EDGE_ID", "").strip()
        token = environment.get("LEARNLINE_EDGE_TOKEN", "").strip()
        missing = [name for name, value in (("LEARNLINE_EDGE_ID", edge_id),
                                            ("LEARNLINE_EDGE_TOKEN", token)) if not value]
        if missing:
            raise SyncError(f"LEARNLINE_HUB_URL is set but {' and '.join(missing)} "
                            f"{'is' if len(missing) == 1 else 'are'} not")
        return cls(url.rstrip("/"), edge_id, token)


@dataclass
class SyncReport:
    """What one round moved."""

    pushed: int = 0  # bytes below: request and answer bodies as sent (compressed)
    push_batches: int = 0
    cohorts: int = 0  # cohorts created here that the hub now has
    spends: int = 0  # days of messages per program and currency the hub now has
    rejected: int = 0
    pulled: int = 0
    applied: int = 0
    answers: int = 0  # tutors' answers relayed by the hub, queued to learners here
    pack: str = "none on the hub"
    bytes_sent: int = 0
    bytes_received: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for an operator."""
        return (f"pushed {self.pushed} events ({self.push_batches} batches"
                + (f", {self.rejected} rejected" if self.rejected else "")
                + (f", {self.cohorts} cohorts" if self.cohorts else "")
                + (f", {self.spends} days of program messages" if self.spends else "")
                + f"), pulled {self.pulled} ({self.applied} new here"
                + (f", {self.answers} answers from tutors queued" if self.answers else "")
                + f"), pack: {self.pack}; "
                f"{self.bytes_sent:,} bytes sent, {self.bytes_received:,} received "
                f"in {self.seconds:.1f} s")


def sync_once(store, link: EdgeLink, *, session: requests.Session | None = None,
              trusted_keys: list[bytes] | None = None,
              carriers: Carriers | None = None) -> SyncReport:
    """One full round against the hub; SyncError when the link or the hub fails (what
    was acknowledged or applied before that stays done, and the next round goes on).
    Tutors' answers pulled are queued through `carriers` (None: read from
    $LEARNLINE_CARRIERS when an answer comes)."""
    session = session or requests.Session()
    session.headers["Authorization"] = bearer(link.edge_id, link.token)
    report = SyncReport()
    started = time.monotonic()
    try:
        _push(store, link, session, report)
        _push_cohorts(store, link, session, report)
        _push_spends(store, link, session, report, carriers)
        _pull(store, link, session, report, carriers)
        _fetch_pack(store, link, session, report, trusted_keys)
    except requests.RequestException as exc:
        _note(store, "last_error", f"{type(exc).__name__}: {exc}")
        raise SyncError(f"hub unreachable: {type(exc).__name__}") from exc
    except (SyncError, BodyError) as exc:
        _note(store, "last_error", str(exc))
        raise SyncError(str(exc)) from exc
    finally:
        report.seconds = time.monotonic() - started
    _note(store, "last_success_at", repr(store.clock()))
    _note(store, "last_error", "")
    return report


def _note(store, name: str, value: str) -> None:

    with store.write():
        events.set_sync_value(store, name, value)


def _check(response: requests.Response, what: str) -> dict:
    if response.status_code != 200:
        try:
            reason = str(response.json().get("error", ""))
        except (ValueError, AttributeError):
            reason = response.text[:200]
        raise SyncError(f"{what}: hub answered {response.status_code} {reason}".strip())
    try:
        answer = response.json()
    except ValueError:
        raise SyncError(f"{what}: the hub's answer is not JSON") from None
    if not isinstance(answer, dict):
        raise SyncError(f"{what}: the hub's answer is not a JSON object")
    return answer


def _push(store, link: EdgeLink, session: requests.Session, report: SyncReport) -> None:

    size = PUSH_BATCH
    while True:
        batch, last_seq = events.unpushed_events(store, size)
        if not batch:
            return
        body = encode({"events": batch})
        if len(body) > MAX_COMPRESSED_BODY and size > 1:
            size = max(1, size // 2)  # large events: smaller batches under the limit
            continue
        response = session.post(link.hub_url + EVENTS_PATH, data=body, timeout=TIMEOUT,
                                headers={"Content-Type": "application/json",
                                         "Content-Encoding": "gzip"})
        report.bytes_sent += len(body)
        report.bytes_received += _wire_size(response)
        answer = _check(response, "push")
        rejected = answer.get("rejected", [])
        acknowledged = answer.get("acknowledged")
        if not isinstance(acknowledged, int) or not isinstance(rejected, list):
            raise SyncError("push: the hub's answer is not the protocol's (an older hub?)")
        for item in rejected:
            log.error("sync: the hub rejected event %s", item)
        if acknowledged + len(rejected) != len(batch):
            raise SyncError(f"push: the hub acknowledged {acknowledged} of {len(batch)} "
                            "events")
        with store.write():
            events.mark_pushed(store, last_seq)
        report.pushed += len(batch) - len(rejected)
        report.rejected += len(rejected)
        report.push_batches += 1


def _push_cohorts(store, link: EdgeLink, session: requests.Session,
                  report: SyncReport) -> None:
    """The cohorts created here, to the hub, so that it lists them before anyone joined
    (docs/sync.md, Programs). An older hub acknowledges none: they wait for a newer one."""
    while True:
        batch, last_id = cohorts.unpushed(store, COHORT_BATCH)
        if not batch:
            return
        body = encode({"events": [], "cohorts": batch})
        response = session.post(link.hub_url + EVENTS_PATH, data=body, timeout=TIMEOUT,
                                headers={"Content-Type": "application/json",
                                         "Content-Encoding": "gzip"})
        report.bytes_sent += len(body)
        report.bytes_received += _wire_size(response)
        answer = _check(response, "push")
        kept, refused = answer.get("cohorts"), answer.get("cohorts_rejected", [])
        if not isinstance(kept, int) or not isinstance(refused, list):
            log.info("sync: the hub keeps no cohorts (an older hub); they wait")
            return
        for item in refused:
            log.error("sync: the hub refused cohort %s", item)
        cohorts.mark_pushed(store, last_id)
        report.cohorts += kept


def _push_spends(store, link: EdgeLink, session: requests.Session, report: SyncReport,
                 carriers: Carriers | None) -> None:
    """What this edge sent for each program each day, priced here, to the hub, so that
    it shows each program's cost across edges (docs/sync.md, Programs). An older hub
    keeps none, and a hub refusing them (400) is logged: either way the round goes on,
    and they are offered again next round."""
    if carriers is None:
        try:
            carriers = load_carriers()
        except ConfigError as exc:
            log.error("sync: programs' messages not pushed: %s", exc)
            return
    for batch in spends.unpushed(store, carriers):
        body = encode({"events": [], "spends": batch})
        response = session.post(link.hub_url + EVENTS_PATH, data=body, timeout=TIMEOUT,
                                 headers={"Content-Type": "application/json",
                                          "Content-Encoding": "gzip"})
        report.bytes_sent += len(body)
        report.bytes_received += _wire_size(response)
        if response.status_code == 400:
            try:
                reason = str(response.json().get("error", ""))
            except (ValueError, AttributeError):
                reason = response.text[:200]
            log.error("sync: the hub refused this edge's programs' messages: %s", reason)
            return
        answer = _check(response, "push")
        if not isinstance(answer.get("spends"), int):
            log.info("sync: the hub keeps no programs' messages (an older hub); they wait")
            return
        spends.mark_pushed(store, batch)
        report.spends += len(batch)


def _pull(store, link: EdgeLink, session: requests.Session, report: SyncReport,
          carriers: Carriers | None) -> None:

    while True:
        after = int(events.sync_value(store, "pull_cursor") or 0)
        response = session.get(link.hub_url + EVENTS_PATH, timeout=TIMEOUT,
                               params={"after": after, "limit": PULL_BATCH})
        report.bytes_received += _wire_size(response)
        answer = _check(response, "pull")
        pulled = answer.get("events", [])
        if not isinstance(pulled, list) or not isinstance(answer.get("next", after), int):
            raise SyncError("pull: the hub's answer is not the protocol's (an older hub?)")
        with store.write():  # applied and the cursor moved together, or neither
            merged = apply_remote_events(store, pulled)
            if merged.answers:
                if carriers is None:
                    carriers = _carriers()
                report.answers += deliver_relayed(store, carriers, merged.answers)
            events.set_sync_value(store, "pull_cursor", str(int(answer.get("next", after))))
        report.pulled += len(pulled)
        report.applied += getattr(merged, "applied", 0)
        if not answer.get("more"):
            return


def _carriers() -> Carriers:
    """The carriers as configured, to send answers by; SyncError when the file is wrong
    (the page is then applied at the next round, once it is fixed)."""
    try:
        return load_carriers()
    except ConfigError as exc:
        raise SyncError(f"answers from tutors wait: {exc}") from None


def _wire_size(response: requests.Response) -> int:
    """The body's size as it crossed the link (compressed), not as decoded."""
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return len(response.content)


def _fetch_pack(store, link: EdgeLink, session: requests.Session, report: SyncReport,
                trusted_keys: list[bytes] | None) -> None:
    installed = packs.installed_pack(store)
    headers = {}
    if installed is not None:
        headers["If-None-Match"] = f'"{installed[1]}"'
    partial = _partial_path(store)
    have = partial.read_bytes() if partial.exists() else b""
    expected = _partial_etag(store)
    if have and expected:
        headers["Range"] = f"bytes={len(have)}-"
        headers["If-Range"] = expected
    response = session.get(link.hub_url + PACK_PATH, headers=headers, timeout=TIMEOUT,
                           stream=True)
    if response.status_code == 404:
        report.pack = "none on the hub"
        return
    if response.status_code == 304:
        report.pack = f"current (version {installed[0]})" if installed else "current"
        return
    if response.status_code == 416 and have:
        # Nothing left to fetch: the whole file is on disk from a round that downloaded
        # it and then could not install it (stopped, or the database refused). Install
        # it; a refused one is deleted below and fetched anew next round.
        data = have
    else:
        if response.status_code not in (200, 206):
            _check(response, "pack")
        etag = response.headers.get("ETag", "")
        data = have if response.status_code == 206 else b""
        _remember_partial(store, etag)
        with partial.open("wb" if response.status_code == 200 else "ab") as out:
            # Small reads: when the link dies mid-read, what that read had is lost, and
            # all before it is on disk for the next round's Range request.
            for chunk in response.iter_content(1024):
                out.write(chunk)
                data += chunk
                report.bytes_received += len(chunk)
    try:
        result = packs.install_pack(store, data, trusted_keys if trusted_keys is not None
                                    else packs.trusted_keys_from_env())
    except packs.PackError as exc:
        # A refused pack (tampered, untrusted, older) or a resume that joined two
        # different files: start the download over next round, and say why.
        partial.unlink(missing_ok=True)
        raise SyncError(f"pack refused ({len(data):,} bytes, sha256 "
                        f"{hashlib.sha256(data).hexdigest()[:12]}): {exc}") from exc
    partial.unlink(missing_ok=True)
    report.pack = f"installed version {result.version} ({len(data):,} bytes)"


def _partial_path(store) -> Path:
    return Path(store.path + ".pack.part")


def _partial_etag(store) -> str:

    return events.sync_value(store, "pack_partial_etag") or ""


def _remember_partial(store, etag: str) -> None:
    _note(store, "pack_partial_etag", etag)
