"""The hub's side of sync (`learnline serve` with LEARNLINE_ROLE=hub): edges push their
events, pull the events of their learners recorded elsewhere, and fetch the latest
course pack (ETag, If-None-Match, Range). Each edge authenticates with its own token,
which the hub can revoke (`learnline hub revoke-edge`)."""

from __future__ import annotations

import logging
import queue

from flask import Blueprint, Flask, Response, abort, current_app, g, jsonify, request

from gateway.hub.confine import INVITED
from gateway.hub.questions import catch_up
from gateway.hub.store import (
    HubStore,
    KnownPrograms,
    UnknownEdge,
    check_spends,
    open_hub_store,
)
from gateway.server.whole_numbers import whole_number
from gateway.store.per_thread import get_store
from gateway.sync.protocol import (
    COHORT_BATCH,
    EVENTS_PATH,
    PACK_PATH,
    PULL_BATCH,
    PUSH_BATCH,
    SPEND_BATCH,
    BodyError,
    decode,
    encode,
    parse_bearer,
)

log = logging.getLogger(__name__)
blueprint = Blueprint("sync", __name__)


def init_app(app: Flask) -> None:
    """Serve the hub's endpoints on this app, on the hub database named by the app's
    HUB_DATABASE_URL (else $LEARNLINE_HUB_DATABASE_URL, else SQLite beside the gateway's
    database); the schema is brought up to date here, at start-up."""

    url = app.config.get("HUB_DATABASE_URL")
    hub = open_hub_store(url)
    try:
        hub.migrate()
        _warn_of_confined_edges(hub)
    finally:
        hub.close()
    app.extensions["learnline.hub"] = queue.LifoQueue()
    app.register_blueprint(blueprint)
    # On the app, not the blueprint: the dashboard reads the hub's figures too.
    app.teardown_request(give_back)


def _warn_of_confined_edges(hub) -> None:
    """Say at start-up which edges have no region: they are confined for every learner,
    links from a hub before regions included (after such an upgrade, every edge), until
    an operator sets one (docs/sync.md, Trust between edges)."""
    bare = sorted(edge.edge_id for edge in hub.edges() if not edge.revoked
                  and not edge.region.countries and not edge.region.prefixes)
    if bare:
        log.warning("hub: edge(s) %s have no region, so they are confined for every learner "
                    "(those they knew before the hub had regions included): they get no "
                    "other edge's events but erasures and opt-outs, what they record reaches "
                    "no other edge, and their erasures apply to their own records only; "
                    "`learnline hub set-edge ID --country CC` or `--prefix +NNN` sets a "
                    "region and trusts them again for the learners they knew in it",
                    ", ".join(bare))


# Hub stores (a connection each) kept between requests: servers that start a thread per
# request would otherwise open, and leak, one per request.
POOL_SIZE = 8


def request_hub() -> HubStore:
    """This request's hub store (one connection, from the pool kept between requests;
    given back when the request ends)."""
    hub = g.get("hub")
    if hub is None:
        try:
            hub = current_app.extensions["learnline.hub"].get_nowait()
        except queue.Empty:
            hub = open_hub_store(current_app.config.get("HUB_DATABASE_URL"))
        g.hub = hub
    return hub


def close_pool(app: Flask) -> None:
    """Close the hub stores kept between requests (the server is stopping)."""
    pool = app.extensions["learnline.hub"]
    while True:
        try:
            pool.get_nowait().close()
        except queue.Empty:
            return


def give_back(_exc: BaseException | None) -> None:
    """Return this request's hub store to the pool (or close it when the pool is full)."""
    hub = g.pop("hub", None)
    if hub is None:
        return
    pool = current_app.extensions["learnline.hub"]
    if pool.qsize() < POOL_SIZE:
        pool.put(hub)
    else:
        hub.close()


def _json(document: dict, status: int = 200) -> Response:
    """A JSON answer, gzip-compressed when the edge accepts it (every edge does)."""
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        return Response(encode(document), status=status, content_type="application/json",
                        headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
    response = jsonify(document)
    response.status_code = status
    return response


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


@blueprint.before_request
def authenticate() -> Response | None:
    """Every sync call names its edge and proves it with that edge's token."""
    credential = parse_bearer(request.headers.get("Authorization"))
    if credential is None:
        return _error(401, "missing credential: Authorization: Bearer <edge id>:<token>")
    edge_id, token = credential
    if not request_hub().authenticate(edge_id, token):
        log.warning("sync: refused edge %s from %s", edge_id, request.remote_addr)
        return _error(403, "unknown or revoked edge, or wrong token")
    g.edge_id = edge_id
    return None


@blueprint.after_request
def no_store(response: Response) -> Response:
    """Sync answers are for one edge, now: never cached on the way."""
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@blueprint.post(EVENTS_PATH)
def push() -> Response:
    """Store a batch of the edge's events (idempotent by id); acknowledge what is kept."""
    try:
        document = decode(request.get_data(), request.headers.get("Content-Encoding"))
    except BodyError as exc:
        return _error(400, str(exc))
    events = document.get("events") if isinstance(document, dict) else None
    if not isinstance(events, list):
        return _error(400, "field 'events' is missing or not a list")
    if len(events) > PUSH_BATCH * 5:
        return _error(413, f"at most {PUSH_BATCH * 5} events a batch")
    # Cohorts the edge created (docs/sync.md, Programs): optional, as older edges push none.
    cohorts = document.get("cohorts", [])
    if not isinstance(cohorts, list):
        return _error(400, "field 'cohorts' is not a list")
    if len(cohorts) > COHORT_BATCH * 2:
        return _error(413, f"at most {COHORT_BATCH * 2} cohorts a batch")
    # What the edge sent for each program each day (docs/sync.md, Programs): optional;
    # checked whole before anything of the push is stored.
    spends = document.get("spends", [])
    if not isinstance(spends, list):
        return _error(400, "field 'spends' is not a list")
    if len(spends) > SPEND_BATCH * 2:
        return _error(413, f"at most {SPEND_BATCH * 2} spends a batch")
    # Figures of programs the hub knows only (docs/sync.md, Trust between edges).
    known = _known_programs() if cohorts or spends or any(
        isinstance(event, dict) and event.get("kind") == INVITED for event in events) \
        else KnownPrograms()
    days = check_spends(spends, known)
    if isinstance(days, str):
        return _error(400, days)

    try:
        kept, refused = request_hub().put_cohorts(g.edge_id, cohorts, known) if cohorts \
            else ([], [])
        spent = request_hub().put_spends(g.edge_id, days) if days else 0
        result = request_hub().ingest(g.edge_id, events, known)
    except UnknownEdge:  # revoked since this request was authenticated
        return _error(403, "unknown or revoked edge")
    if result.stored:
        _copy_questions()
    # Counts, not ids: every valid event of the batch is acknowledged, and a list of
    # random ids (33 bytes each, incompressible) would double what a push costs.
    return _json({"acknowledged": len(result.acknowledged), "stored": result.stored,
                  "duplicates": result.duplicates,
                  "rejected": [[str(key), reason] for key, reason in result.rejected],
                  "cohorts": len(kept),
                  "cohorts_rejected": [[str(key), reason] for key, reason in refused],
                  "spends": spent})


def _known_programs() -> KnownPrograms:
    """The programs of the hub's programs file (LEARNLINE_PROGRAMS; a file never read
    valid names none) and of its latest pack's courses, with each course's program."""
    from gateway import programs
    from gateway.config import ConfigError
    from gateway.hub import progress

    try:
        names = set(programs.current().by_id)
    except ConfigError:  # logged, and said by /healthz and doctor
        names = set()
    courses = {course_id: course.program
               for course_id, course in progress.catalogue(request_hub())[1].items()}
    return KnownPrograms(frozenset(names | {p for p in courses.values() if p}), courses)


def _copy_questions() -> None:
    """Bring the tutors' inbox here up to what edges pushed (gateway/hub/questions.py).
    The events are stored whatever happens here: a failure waits for the next push, or
    the next answer relayed, to catch up."""
    try:
        catch_up(request_hub(), get_store())
    except Exception:  # the push succeeded; the copies follow at the next catch-up
        log.exception("hub: copying edges' questions to the inbox failed; next push retries")


@blueprint.get(EVENTS_PATH)
def pull() -> Response:
    """Events of this edge's learners recorded on other edges, after a cursor."""
    after = whole_number(request.args.get("after", "0"))
    limit = whole_number(request.args.get("limit", str(PULL_BATCH)))
    if after is None or limit is None:
        return _error(400, "'after' and 'limit' are whole numbers")
    limit = min(max(limit, 1), PULL_BATCH)

    try:
        result = request_hub().pull(g.edge_id, after, limit)
    except UnknownEdge:
        return _error(403, "unknown or revoked edge")
    return _json({"events": result.events, "next": result.next_cursor, "more": result.more})


@blueprint.route(PACK_PATH, methods=["GET", "HEAD"])
def pack() -> Response:
    """The latest course pack: its digest is its ETag; a Range resumes a cut download."""
    hub = request_hub()
    info = hub.latest_pack()
    if info is None:
        abort(404)
    response = Response(hub.read_pack(info.digest), mimetype="application/octet-stream")
    response.set_etag(info.digest)
    response.headers["X-Learnline-Pack-Version"] = str(info.version)
    response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(_whole_for_a_longer_suffix(info.size),
                                     accept_ranges=True, complete_length=info.size)


def _whole_for_a_longer_suffix(size: int) -> dict:
    """The request's environ, with a suffix range longer than `size` read as the whole
    pack (RFC 9110, 14.1.2), which werkzeug would refuse as unsatisfiable."""
    asked = request.range
    if (asked is not None and asked.units == "bytes" and len(asked.ranges) == 1
            and asked.ranges[0][1] is None and -asked.ranges[0][0] > size > 0):
        return {**request.environ, "HTTP_RANGE": "bytes=0-"}
    return request.environ
