"""The hub's store: the same tests on SQLite and on a real PostgreSQL (tests/hub/conftest.py)."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.hub.confine import Region
from gateway.hub.sqlite_store import SqliteHubStore
from gateway.hub.store import (
    MAX_DATA_BYTES,
    HubStore,
    PackConflict,
    PackNotFound,
    UnknownEdge,
    default_hub_db_path,
    open_hub_store,
)

_ids = itertools.count(1)
_rng = random.Random(9)


def event(edge: str, learner: str, kind: str = "answered", **data) -> dict:
    """An event in the edges' format with a fresh id (12 hex of milliseconds, 20 random)."""
    millis = int(time.time() * 1000) + next(_ids)
    return {"id": f"{millis:012x}{_rng.getrandbits(80):020x}", "edge": edge,
            "learner": learner, "kind": kind, "at": time.time(), "data": data}


def learner(n: int) -> str:
    return f"+234800000{n:04d}"


def add_edge(hub: HubStore, edge: str, name: str = "") -> str:
    """Register an edge trusted for the tests' learners (Nigerian numbers), with room for
    every learner roaming in (tests/hub/test_confinement.py tests the limits)."""
    return hub.add_edge(edge, name, region=Region.parse(prefixes=["+234"]),
                        roam_limit=100_000)


def pull_all(hub: HubStore, edge: str, after: int = 0, limit: int = 500
             ) -> tuple[list[dict], int]:
    """Every event waiting for `edge` after `after`, page by page, and the final cursor."""
    got: list[dict] = []
    while True:
        page = hub.pull(edge, after, limit)
        assert page.next_cursor >= after
        got += page.events
        after = page.next_cursor
        if not page.more:
            return got, after


def ids(events: list[dict]) -> list[str]:
    return [e["id"] for e in events]


# -- opening and schema ------------------------------------------------------------------


def test_migrate_is_idempotent(open_hub):
    hub = open_hub()
    assert hub.schema_version() == 0
    assert hub.migrate() == [1, 2, 3, 4, 5]
    assert hub.migrate() == []
    assert open_hub().migrate() == []
    assert hub.schema_version() == 5


def test_concurrent_migrations_apply_once(open_hub):
    stores = [open_hub() for _ in range(4)]
    start = threading.Barrier(len(stores))
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def migrate(store: HubStore) -> None:
        start.wait()
        try:
            results.append(store.migrate())
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [[], [], [], [1, 2, 3, 4, 5]]
    assert all(s.schema_version() == 5 for s in stores)


def test_open_hub_store_picks_the_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          postgres_url: str):
    monkeypatch.delenv("LEARNLINE_HUB_DATABASE_URL", raising=False)
    monkeypatch.delenv("LEARNLINE_HUB_DB", raising=False)
    monkeypatch.setenv("LEARNLINE_DB", str(tmp_path / "edge" / "learnline.db"))
    assert default_hub_db_path() == tmp_path / "edge" / "hub.db"
    monkeypatch.setenv("LEARNLINE_HUB_DB", str(tmp_path / "central.db"))
    with open_hub_store() as hub:
        assert hub.backend == "sqlite" and hub.path == str(tmp_path / "central.db")
    with open_hub_store(f"sqlite:///{tmp_path}/other.db") as hub:
        assert hub.backend == "sqlite" and hub.path == f"{tmp_path}/other.db"
    monkeypatch.setenv("LEARNLINE_HUB_DATABASE_URL", postgres_url)
    with open_hub_store() as hub:
        assert hub.backend == "postgresql"
    with open_hub_store(postgres_url.replace("postgresql://", "postgres://", 1)) as hub:
        assert hub.backend == "postgresql"
    with pytest.raises(ValueError, match="scheme 'mysql'") as raised:
        open_hub_store("mysql://user:secret@db/hub")
    assert "secret" not in str(raised.value)
    with open_hub_store(str(tmp_path / "x.db")) as hub:
        assert isinstance(hub, SqliteHubStore)


# -- edges and credentials ---------------------------------------------------------------


def test_edges_authenticate_until_revoked(hub: HubStore):
    token = hub.add_edge("dakar-1", "Dakar, Plateau")
    assert len(token) >= 40
    assert hub.authenticate("dakar-1", token)
    assert not hub.authenticate("dakar-1", token + "x")
    assert not hub.authenticate("dakar-1", "")
    assert not hub.authenticate("lagos-1", token)
    assert not hub.authenticate("Dakar-1", token)
    [info] = hub.edges()
    assert (info.edge_id, info.name, info.revoked, info.events) == \
        ("dakar-1", "Dakar, Plateau", False, 0)
    assert info.last_push_at is None and info.last_pull_at is None

    hub.revoke_edge("dakar-1")
    assert not hub.authenticate("dakar-1", token)
    assert hub.edges()[0].revoked
    with pytest.raises(UnknownEdge):
        hub.ingest("dakar-1", [event("dakar-1", learner(1))])
    with pytest.raises(UnknownEdge):
        hub.pull("dakar-1", 0)
    with pytest.raises(UnknownEdge):
        hub.revoke_edge("nowhere")

    # Adding it again readmits it with a new token; the old one stays dead.
    fresh = hub.add_edge("dakar-1")
    assert fresh != token
    assert hub.authenticate("dakar-1", fresh) and not hub.authenticate("dakar-1", token)
    assert hub.edges()[0].name == "Dakar, Plateau"
    with pytest.raises(ValueError):
        hub.add_edge("Not An Id")


def test_unknown_edge_cannot_ingest(hub: HubStore):
    with pytest.raises(UnknownEdge):
        hub.ingest("ghost", [event("ghost", learner(1))])
    assert hub.stats().events == 0


# -- ingest ------------------------------------------------------------------------------


def test_ingest_is_idempotent_by_event_id(hub: HubStore):
    add_edge(hub, "a")
    batch = [event("a", learner(n % 3)) for n in range(10)]
    first = hub.ingest("a", batch)
    assert (first.stored, first.duplicates, first.rejected) == (10, 0, [])
    assert first.acknowledged == ids(batch)
    again = hub.ingest("a", batch)
    assert (again.stored, again.duplicates, again.rejected) == (0, 10, [])
    assert again.acknowledged == ids(batch)

    # A batch cut in half (the link died after the hub stored the first half) and resent.
    batch = [event("a", learner(7)) for _ in range(8)]
    half = hub.ingest("a", batch[:4])
    assert (half.stored, half.duplicates) == (4, 0)
    whole = hub.ingest("a", batch)
    assert (whole.stored, whole.duplicates) == (4, 4)
    assert whole.acknowledged == ids(batch)

    # The same event twice in one batch is stored once.
    twice = event("a", learner(8))
    result = hub.ingest("a", [twice, dict(twice)])
    assert (result.stored, result.duplicates, result.acknowledged) == (1, 1, [twice["id"]])

    assert hub.stats().events == 19
    [info] = hub.edges()
    assert info.events == 19 and info.last_push_at is not None


def test_empty_batch_is_a_push(hub: HubStore):
    add_edge(hub, "a")
    result = hub.ingest("a", [])
    assert (result.stored, result.duplicates, result.acknowledged) == (0, 0, [])
    assert hub.edges()[0].last_push_at is not None


def _malformed() -> list[tuple[object, str]]:
    good = event("a", learner(1))

    def but(**changes) -> dict:
        changed = {**good, "id": event("a", learner(1))["id"], **changes}
        return {k: v for k, v in changed.items() if v is not _DROP}

    return [
        ("not an object", "not a JSON object"),
        (but(id="ABCDEF" * 6), "id:"),
        (but(id="0" * 31), "id:"),
        (but(id=12), "id:"),
        (but(edge="b"), "not the edge pushing it"),
        (but(edge="A B"), "edge:"),
        (but(learner=""), "learner:"),
        (but(learner="+" + "1" * 64), "learner:"),
        (but(learner="+234\n800"), "learner:"),
        (but(learner=None), "learner:"),
        (but(kind="Answered"), "kind:"),
        (but(kind="x" * 33), "kind:"),
        (but(at="yesterday"), "at:"),
        (but(at=True), "at:"),
        (but(at=float("nan")), "at:"),
        (but(at=1e300), "at:"),  # no date shows it: the inbox's page would fail on it
        (but(at=-1.0), "at:"),
        (but(data=[1, 2]), "data: not a JSON object"),
        (but(data={"x": float("inf")}), "data: not valid JSON"),
        (but(data={"x": "\ud800"}), "data: not valid JSON"),
        (but(data={"x": "y" * MAX_DATA_BYTES}), "data:"),
        (but(data=_DROP), "missing field(s): data"),
        (but(seq=3), "unknown field(s): seq"),
    ]


_DROP = object()


def test_malformed_events_are_rejected_with_reasons(hub: HubStore):
    add_edge(hub, "a")
    add_edge(hub, "b")
    cases = _malformed()
    good = [event("a", learner(1)), event("a", learner(1))]
    batch = [good[0], *(bad for bad, _ in cases), good[1]]
    result = hub.ingest("a", batch)
    assert result.stored == 2 and result.duplicates == 0
    assert result.acknowledged == ids(good)
    assert len(result.rejected) == len(cases)
    for (key, reason), (bad, expected), index in zip(result.rejected, cases,
                                                      range(1, len(cases) + 1), strict=True):
        assert expected in reason, (bad, reason)
        has_id = isinstance(bad, dict) and isinstance(bad.get("id"), str) \
            and len(bad["id"]) == 32 and bad["id"] == bad["id"].lower() \
            and all(c in "0123456789abcdef" for c in bad["id"])
        assert key == (bad["id"] if has_id else index)
    # Nothing of them is stored: an edge that knows the learner sees the good two only.
    hub.ingest("b", [event("b", learner(1))])
    got, _ = pull_all(hub, "b")
    assert ids(got) == ids(good)
    assert hub.stats().events == 3


def test_data_up_to_4_kb_is_kept_exactly(hub: HubStore):
    add_edge(hub, "a")
    add_edge(hub, "b")
    padding = MAX_DATA_BYTES - len('{"x":""}')
    largest = event("a", learner(1), x="é" * (padding // 2))
    odd = event("a", learner(1), nested={"list": [1, 2.5, None, True, "ü"]}, n=10**15)
    assert hub.ingest("a", [largest, odd]).stored == 2
    hub.ingest("b", [event("b", learner(1))])
    got, _ = pull_all(hub, "b")
    assert got == [largest, odd]


# -- pull ----------------------------------------------------------------------------------


def test_pull_gives_other_edges_events_of_known_learners_in_order(hub: HubStore):
    for edge in "abc":
        add_edge(hub, edge)
    a_events = [event("a", learner(n % 2 + 1), card=n) for n in range(9)]  # learners 1, 2
    hub.ingest("a", a_events[:5])
    hub.ingest("c", [event("c", learner(3)) for _ in range(3)])  # nobody else knows 3
    b_own = event("b", learner(1), kind="enrolled")
    hub.ingest("b", [b_own])  # b now knows learner 1
    hub.ingest("a", a_events[5:])
    expected = [e for e in a_events if e["learner"] == learner(1)]

    got, cursor = pull_all(hub, "b")
    assert got == expected

    # Paging: limit 2 gives the same events, two at a time, with `more` until the end.
    pages, after = [], 0
    while True:
        page = hub.pull("b", after, limit=2)
        assert len(page.events) <= 2
        pages.append(page.events)
        assert page.next_cursor > after or not page.events
        after = page.next_cursor
        if not page.more:
            break
    assert [e for p in pages for e in p] == expected
    assert all(len(p) == 2 for p in pages[:-1])
    assert after == cursor

    # Nothing new: an empty page, the cursor stays; new events come after it.
    assert hub.pull("b", cursor).events == [] and hub.pull("b", cursor).next_cursor == cursor
    later = event("a", learner(1), kind="lesson_completed")
    hub.ingest("a", [later, event("a", learner(2))])
    page = hub.pull("b", cursor)
    assert page.events == [later] and not page.more and page.next_cursor > cursor
    assert hub.edges()[1].last_pull_at is not None

    # a knows both learners, but b recorded only one event, for learner 1.
    got_a, _ = pull_all(hub, "a")
    assert got_a == [b_own]
    assert pull_all(hub, "c")[0] == []


def test_cursor_skips_what_is_not_for_the_edge(hub: HubStore):
    add_edge(hub, "a")
    add_edge(hub, "b")
    hub.ingest("a", [event("a", learner(1)) for _ in range(50)])
    page = hub.pull("b", 0)
    assert page.events == [] and not page.more and page.next_cursor >= 50
    assert hub.pull("b", page.next_cursor + 1000).next_cursor == page.next_cursor + 1000
    with pytest.raises(ValueError):
        hub.pull("b", 0, limit=0)


def test_a_newly_met_learner_brings_their_earlier_events(hub: HubStore):
    """Backfill: b's cursor is past learner 1's events when b first meets learner 1;
    b's next pull still gives them, once, in their order, then the stream goes on."""
    for edge in "abc":
        add_edge(hub, edge)
    old_a = [event("a", learner(1), card=n) for n in range(5)]
    hub.ingest("a", old_a)
    old_c = [event("c", learner(1), card=n) for n in range(3)]
    hub.ingest("c", old_c)
    hub.ingest("a", [event("a", learner(2)) for _ in range(4)])
    _, cursor = pull_all(hub, "b")  # b knows nobody yet: nothing, cursor at the end

    hub.ingest("b", [event("b", learner(1), kind="enrolled")])  # the learner walks in
    newer = event("a", learner(1), card=99)
    hub.ingest("a", [newer])
    got, cursor2 = pull_all(hub, "b", cursor, limit=3)
    assert got == [*old_a, *old_c, newer]
    assert pull_all(hub, "b", cursor2)[0] == []

    # An edge whose cursor was still at 0 gets each event once too, not twice.
    got_from_zero, _ = pull_all(hub, "b", 0, limit=4)
    assert got_from_zero == [*old_a, *old_c, newer]

    # Meeting a learner the edge already knows queues nothing again.
    hub.ingest("b", [event("b", learner(1))])
    assert pull_all(hub, "b", cursor2)[0] == []
    assert pull_all(hub, "b", 0)[0] == [*old_a, *old_c, newer]


# -- packs ---------------------------------------------------------------------------------


def test_packs_put_latest_and_ranges(hub: HubStore):
    assert hub.latest_pack() is None
    data = bytes(range(256)) * 200
    hub.put_pack(data, 3, "sha256-aaaa")
    info = hub.latest_pack()
    assert (info.version, info.digest, info.size) == (3, "sha256-aaaa", len(data))
    assert info.created_at > 0
    assert hub.read_pack("sha256-aaaa") == data
    assert hub.read_pack("sha256-aaaa", 100, 300) == data[100:300]
    assert hub.read_pack("sha256-aaaa", 51000) == data[51000:]
    assert hub.read_pack("sha256-aaaa", 0, 1) == data[:1]
    assert hub.read_pack("sha256-aaaa", len(data) - 10, len(data) + 50) == data[-10:]
    assert hub.read_pack("sha256-aaaa", len(data) + 5) == b""
    assert hub.read_pack("sha256-aaaa", 10, 10) == b""
    with pytest.raises(PackNotFound):
        hub.read_pack("sha256-none")

    hub.put_pack(data, 3, "sha256-aaaa")  # the same again: nothing changes
    with pytest.raises(PackConflict):
        hub.put_pack(b"other", 3, "sha256-bbbb")
    with pytest.raises(PackConflict):
        hub.put_pack(b"older", 2, "sha256-cccc")
    hub.put_pack(b"\x00newer\xff", 4, "sha256-dddd")
    assert hub.latest_pack().version == 4
    assert hub.read_pack("sha256-dddd") == b"\x00newer\xff"
    assert hub.read_pack("sha256-aaaa", 0, 5) == data[:5]  # older packs stay readable
    with pytest.raises(ValueError):
        hub.put_pack(b"x", 5, 'bad"digest')


# -- statistics ----------------------------------------------------------------------------


def test_stats_across_edges(open_hub):
    now = [1_700_000_000.0]
    hub = open_hub(clock=lambda: now[0])
    hub.migrate()
    for edge in ("a", "b", "quiet"):
        add_edge(hub, edge, edge.upper())
    hub.ingest("a", [event("a", learner(n)) for n in range(1, 6)])  # learners 1-5
    now[0] += 100
    hub.ingest("b", [event("b", learner(n)) for n in (4, 5, 6)] + [event("b", learner(6))])
    now[0] += 20
    stats = hub.stats()
    assert stats.at == now[0]
    assert (stats.events, stats.learners, stats.learners_on_several_edges) == (9, 6, 2)
    by_edge = {e.edge_id: e for e in stats.edges}
    assert [e.edge_id for e in stats.edges] == ["a", "b", "quiet"]
    assert (by_edge["a"].events, by_edge["a"].learners, by_edge["a"].lag_seconds) == \
        (5, 5, 120.0)
    assert (by_edge["b"].events, by_edge["b"].learners, by_edge["b"].lag_seconds) == \
        (4, 3, 20.0)
    assert by_edge["quiet"].lag_seconds is None and by_edge["quiet"].name == "QUIET"
    hub.revoke_edge("quiet")
    assert hub.stats().edges[2].revoked


def test_numbers_an_edge_only_invited_are_not_its_learners(open_hub):
    """A cohort's invitation links the edge to the number (confined), yet the number is
    no learner there until the edge pushes something else of theirs: the edge's and the
    hub's learners leave such numbers out, counted apart as invited."""
    hub = open_hub()
    hub.migrate()
    for edge in ("a", "b"):
        add_edge(hub, edge)

    def invitation(edge: str, n: int) -> dict:
        return event(edge, learner(n), "program_invited", program="orange",
                     cohort="0" * 32, cohort_name="Lagos", course="orange-course")

    hub.ingest("a", [event("a", learner(n)) for n in (1, 2)]
               + [invitation("a", n) for n in (3, 4, 5, 6)])
    hub.ingest("b", [invitation("b", 1), invitation("b", 7), event("b", learner(8))])
    # Number 3 answered its invitation on edge A: a learner there from now on.
    hub.ingest("a", [event("a", learner(3), "program_joined", program="orange",
                           via="invitation")])
    stats = hub.stats()
    assert {e.edge_id: (e.events, e.learners) for e in stats.edges} == {
        "a": (7, 3), "b": (3, 1)}
    assert {e.edge_id: e.invited for e in stats.edges} == {"a": 3, "b": 2}
    # Learners 1, 2, 3 on A and 8 on B; number 1 is a learner on A alone.
    assert (stats.learners, stats.learners_on_several_edges) == (4, 0)


def test_a_programs_events_are_its_own_whatever_its_id_holds(open_hub):
    """A program's joins and invitations are read by the database for its id alone: an id
    holding a LIKE wildcard (`_`), a program whose id another's contains, an id in another
    case and a cohort named like the program are not its own."""
    from gateway.hub import progress

    hub = open_hub()
    hub.migrate()
    add_edge(hub, "a")
    hub.ingest("a", [
        event("a", learner(1), "program_joined", program="or_ange", via="keyword"),
        event("a", learner(2), "program_joined", program="orXange", via="keyword"),
        event("a", learner(3), "program_joined", program="or_ange-2", via="keyword"),
        event("a", learner(4), "program_joined", program="OR_ANGE", via="keyword"),
        event("a", learner(5), "program_joined", program="sun", via="invitation",
              cohort="0" * 32, cohort_name="or_ange", course="sun-course"),
        event("a", learner(6), "program_invited", program="or_ange", cohort="1" * 32,
              cohort_name="Lagos", course="orange-course"),
    ])
    joined = hub.program_events("program_joined", "or_ange")
    assert [(learner_, data["program"]) for _, learner_, data, _ in joined] == [
        (learner(1), "or_ange")]
    assert [data["program"] for _, _, data, _ in hub.program_events("program_joined")] == [
        "or_ange", "orXange", "or_ange-2", "OR_ANGE", "sun"]
    assert [f.program for f in hub.program_figures("or_ange")] == ["or_ange"]
    assert hub.program_figures("or_ange")[0].members == 1
    assert progress.knows(hub, "or_ange") and progress.knows(hub, "orXange")
    assert not progress.knows(hub, "or%") and not progress.knows(hub, "orange")
    assert not progress.knows(hub, "or_ange-")
    assert [learner_ for _, learner_, _, _ in hub.program_events(
        "program_invited", "or_ange")] == [learner(6)]


# -- PostgreSQL only ---------------------------------------------------------------------


@pytest.mark.parametrize("hub_url", ["postgresql"], indirect=True)
def test_postgres_store_reconnects_when_the_server_drops_it(hub: HubStore, postgres_url: str):
    """A restart or failover drops the hub's connection: the next call opens a new one
    and goes through (the calls are safe to repeat)."""
    import psycopg

    token = add_edge(hub, "a")
    add_edge(hub, "b")
    hub.ingest("b", [event("b", learner(1))])

    def drop() -> None:
        pid = hub._conn().info.backend_pid
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))

    drop()
    batch = [event("a", learner(1)) for _ in range(3)]
    assert hub.ingest("a", batch).stored == 3
    drop()
    assert hub.authenticate("a", token)
    drop()
    assert ids(hub.pull("b", 0).events) == ids(batch)


# -- concurrency ---------------------------------------------------------------------------


def _run_threads(targets: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


def test_concurrent_ingest_loses_nothing_and_pulls_never_skip(hub: HubStore, open_hub):
    """Four edges push at once, each on its own connection, while a fifth pulls in small
    pages and meets new learners along the way: at the end it has every event of its
    learners from the others exactly once, each learner's in the order they were pushed."""
    writers = ["w0", "w1", "w2", "w3"]
    for edge in [*writers, "p"]:
        add_edge(hub, edge)
    hub.ingest("p", [event("p", learner(n), kind="enrolled") for n in range(20)])
    known = {learner(n) for n in range(20)}
    later_learners = [learner(n) for n in range(20, 40)]
    pushed: dict[str, list[dict]] = {edge: [] for edge in writers}
    seen: dict[str, set[str]] = {edge: set() for edge in writers}
    stores = {edge: open_hub() for edge in [*writers, "p"]}
    writing = threading.Event()
    writing.set()
    done_writers = []
    lock = threading.Lock()
    received: list[dict] = []

    def write(edge: str) -> None:
        rng = random.Random(edge)
        for _ in range(25):
            batch = [event(edge, learner(rng.randrange(40))) for _ in range(rng.randint(1, 30))]
            # Now and then part of the last batch again, as after a lost answer.
            if pushed[edge] and rng.random() < 0.3:
                batch = pushed[edge][-3:] + batch
            result = stores[edge].ingest(edge, batch)
            assert set(result.acknowledged) == set(ids(batch))
            pushed[edge] += [e for e in batch if e["id"] not in seen[edge]]
            seen[edge].update(ids(batch))
            time.sleep(rng.random() / 500)
        with lock:
            done_writers.append(edge)
            if len(done_writers) == len(writers):
                writing.clear()

    def read() -> None:
        store, cursor, pulls = stores["p"], 0, 0
        while True:
            if pulls % 5 == 4 and later_learners:  # before a pull, so one pull follows
                met = later_learners.pop()
                store.ingest("p", [event("p", met, kind="enrolled")])
                known.add(met)
            still_writing = writing.is_set()
            # Small pages to cross page ends, large ones to catch up with the writers:
            # a reader at the head is the one a badly numbered commit would skip.
            page = store.pull("p", cursor, limit=7 if pulls % 3 else 500)
            assert page.next_cursor >= cursor
            received.extend(page.events)
            cursor = page.next_cursor
            pulls += 1
            if not still_writing and not page.more:
                return

    _run_threads([*(lambda e=e: write(e) for e in writers), read])

    stats = hub.stats()
    assert stats.events == 20 + sum(len(v) for v in pushed.values()) + (20 - len(later_learners))
    expected = [e for edge in writers for e in pushed[edge] if e["learner"] in known]
    assert sorted(ids(received)) == sorted(ids(expected)), "missing or repeated events"
    for edge in writers:
        for who in known:
            mine = [e["id"] for e in pushed[edge] if e["learner"] == who]
            assert [e["id"] for e in received if e["edge"] == edge and e["learner"] == who] \
                == mine


def test_concurrent_pushes_of_the_same_batch_store_it_once(hub: HubStore, open_hub):
    add_edge(hub, "a")
    batch = [event("a", learner(n)) for n in range(200)]
    stores = [open_hub() for _ in range(4)]
    results = []
    _run_threads([lambda s=s: results.append(s.ingest("a", batch)) for s in stores])
    assert sum(r.stored for r in results) == 200
    assert sum(r.duplicates for r in results) == 600
    assert all(r.acknowledged == ids(batch) for r in results)
    assert hub.stats().events == 200


def test_an_erasure_pseudonymises_the_learners_other_events_on_the_hub(hub: HubStore):
    """The hub keeps no history of an erased learner: only the erased event itself
    still names the number, so that the other edges that know them erase too."""
    add_edge(hub, "edge-a")
    add_edge(hub, "edge-b")
    number = learner(77)
    hub.ingest("edge-a", [event("edge-a", number, "enrolled", course="c"),
                          event("edge-a", number, "answered", choice=1)])
    hub.ingest("edge-a", [event("edge-a", number, "erased")])
    hub.ingest("edge-b", [event("edge-b", number, "opted_out")])  # B meets the learner
    pulled, _ = pull_all(hub, "edge-b")
    assert [e["kind"] for e in pulled if e["learner"] == number] == ["erased"]
    assert [e["kind"] for e in pulled if e["learner"] != number] == []  # not routed
    assert hub.stats().events == 4


def _raw(hub: HubStore, statement: str, params: tuple) -> None:
    if hub.backend == "sqlite":
        hub.conn.execute(statement, params)
    else:
        hub._conn().execute(statement.replace("?", "%s"), params)


def test_a_hub_from_before_regions_confines_its_old_links_until_a_region_is_set(
        open_hub, monkeypatch):
    """Links made before edges had regions are confined through the upgrade, as every
    learner of an edge without a region is: no history read, no erasure beyond the
    edge's own records. Setting the edge's region trusts it again for the learners of
    the region it knew, and it then gets what it missed meanwhile."""
    import importlib

    hub = open_hub()
    module = importlib.import_module(type(hub).__module__)
    later = sorted(version for version in module.MIGRATIONS if version > 1)
    with monkeypatch.context() as patch:
        for version in later:
            patch.delitem(module.MIGRATIONS, version)
        assert hub.migrate() == [1]
        for edge in "abc":
            hub.add_edge(edge)
        old = event("a", learner(1))
        theirs = event("c", learner(1))
        for seq, made in enumerate((old, theirs), start=1):
            _raw(hub, "INSERT INTO events (seq, id, edge, learner, kind, at, data, "
                 "received_at) VALUES (?, ?, ?, ?, 'answered', 1.0, '{}', 1.0)",
                 (seq, made["id"], made["edge"], learner(1)))
        for edge in "abc":
            _raw(hub, "INSERT INTO edge_learners (edge, learner, since_seq) VALUES (?, ?, 0)",
                 (edge, learner(1)))
        _raw(hub, "UPDATE hub_sequence SET last_seq = 2 WHERE id = 1", ())
    assert hub.migrate() == later
    assert [e.region.describe() for e in hub.edges()] == ["none (confined)"] * 3
    new = event("a", learner(1))
    hub.ingest("a", [new])
    pulled, cursor_b = pull_all(hub, "b")
    assert pulled == []  # confined: nothing of a's or c's
    mine = event("b", learner(1))
    hub.ingest("b", [mine])
    _, cursor_a = pull_all(hub, "a")  # a's cursor passes b's event, held back

    hub.ingest("c", [event("c", learner(1), "erased")])  # c's link from before: its own
    assert [e for e in pull_all(hub, "a")[0] if e["kind"] == "erased"] == []
    assert [row.action for row in hub.audit("c")] == ["erasure_scoped"]

    for edge in "ab":  # what each recorded while confined is passed on now
        hub.set_edge(edge, region=Region.parse(prefixes=["+234"]))
    got, _ = pull_all(hub, "b", cursor_b)
    assert sorted(ids(got)) == sorted([old["id"], new["id"]])
    assert [(row.learner, row.action, row.events) for row in hub.audit("b")] == \
        [(learner(1), "trusted_again", 2)]
    assert [e["id"] for e in pull_all(hub, "a", cursor_a)[0]] == [mine["id"]]
    hub.set_edge("c", region=Region.parse(prefixes=["+44"]))  # the learner is outside
    hub.ingest("a", [event("a", learner(1))])
    assert [e for e in pull_all(hub, "c")[0] if e["kind"] != "erased"] == []
