"""B9: events per second ingested into the hub's store, SQLite and PostgreSQL.

Ten edges push at once, each from its own thread on its own connection, as the hub's
server threads do: 100,000 events in batches of 500 (20 batches an edge), on a fresh
database each run. Each edge has its own 2,000 learners; one event in ten is for one of
500 learners who roam between edges, so edges keep meeting learners already seen
elsewhere (`edge_learners` and the backfill grow as in life). The events are made before
the clock starts; validation, serializing and the transactions are timed
(`HubStore.ingest`, the call the hub's push endpoint makes). A warm-up batch, then 3
runs; the median is the figure.

PostgreSQL is a private cluster started as the tests start theirs
(tests/hub/postgres_server.py), but with PostgreSQL's durable defaults (fsync and
synchronous_commit on), or the server at `--postgres-url` / `$LEARNLINE_HUB_DATABASE_URL`
(the bench works in a schema of its own there, dropped afterwards). SQLite runs as the
hub runs it: WAL, synchronous=NORMAL.

    python bench/hub_ingest.py [--events 100000] [--edges 10] [--batch 500] [--runs 3]
                               [--backend sqlite|postgresql] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Result, median
from gateway.hub.confine import Region
from gateway.hub.store import HubStore, open_hub_store

KINDS = ["card_reached", "answered", "answered", "lesson_completed", "enrolled"]


def make_batches(events: int, edges: int, batch: int, seed: int = 9
                 ) -> dict[str, list[list[dict]]]:
    """Each edge's batches of events in the edges' format."""
    rng = random.Random(seed)
    names = [f"edge-{n:02d}" for n in range(edges)]
    per_edge = events // edges
    clock = time.time()
    out: dict[str, list[list[dict]]] = {}
    for e, edge in enumerate(names):
        made = []
        for n in range(per_edge):
            if rng.random() < 0.1:
                learner = f"+2547{rng.randrange(500):08d}"
            else:
                learner = f"+23480{e:02d}{rng.randrange(2000):05d}"
            millis = int(clock * 1000) + n
            made.append({"id": f"{millis:012x}{rng.getrandbits(80):020x}", "edge": edge,
                         "learner": learner, "kind": rng.choice(KINDS),
                         "at": clock + n / 1000,
                         "data": {"course": "start-freelancing", "lesson": rng.randrange(6),
                                  "card": rng.randrange(8), "answer": rng.choice("ABCD"),
                                  "correct": rng.random() < 0.7}})
        out[edge] = [made[i:i + batch] for i in range(0, len(made), batch)]
    return out


def ingest_rate(open_store: Callable[[], HubStore], batches: dict[str, list[list[dict]]]
                ) -> tuple[float, float]:
    """(events/s, p99 ms of one batch) for every edge pushing its batches at once."""
    admin = open_store()
    admin.migrate()
    for edge in batches:
        # Every edge trusted for every learner, with no limit: roams cost their backfill.
        admin.add_edge(edge, region=Region.parse(prefixes=["+"]), roam_limit=1_000_000)
    stores = {edge: open_store() for edge in batches}
    start = threading.Barrier(len(batches) + 1)
    latencies: list[float] = []
    errors: list[BaseException] = []

    def push(edge: str) -> None:
        store = stores[edge]
        start.wait()
        try:
            for one in batches[edge]:
                began = time.perf_counter()
                result = store.ingest(edge, one)
                latencies.append(time.perf_counter() - began)
                if result.stored != len(one):
                    raise RuntimeError(f"{edge}: stored {result.stored} of {len(one)}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(edge,)) for edge in batches]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    if errors:
        raise errors[0]
    total = sum(len(one) for edge in batches.values() for one in edge)
    stored = admin.stats().events
    if stored != total:
        raise RuntimeError(f"stored {stored} events of {total}")
    for store in [admin, *stores.values()]:
        store.close()
    latencies.sort()
    return total / wall, latencies[int(len(latencies) * 0.99) - 1] * 1000


@contextmanager
def sqlite_databases() -> Iterator[Callable[[], str]]:
    """A new SQLite file for each call, all removed at the end."""
    folder = Path(tempfile.mkdtemp(prefix="learnline-hub-bench-"))
    count = iter(range(1_000_000))
    try:
        yield lambda: str(folder / f"hub-{next(count)}.db")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_databases(url: str | None) -> Iterator[Callable[[], str]]:
    """A new schema for each call in the server at `url` (else a private, durable
    cluster started here), all dropped at the end."""
    import psycopg

    from tests.hub.postgres_server import PostgresServer, with_options

    server = None
    if not url:
        server = PostgresServer(durable=True).start()
        url = server.url
    schemas: list[str] = []

    def fresh() -> str:
        schema = f"hub_bench_{secrets.token_hex(4)}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        schemas.append(schema)
        return with_options(url, f"-c search_path={schema}")

    try:
        yield fresh
    finally:
        if server is not None:
            server.stop()
        else:
            with psycopg.connect(url, autocommit=True) as conn:
                for schema in schemas:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")


def measure(backend: str, databases: Callable[[], str], batches: dict, runs: int
            ) -> list[tuple[float, float]]:
    """Each run's (events/s, p99 ms) on a fresh database, after a warm-up."""
    warm = {edge: [lists[0][:50]] for edge, lists in list(batches.items())[:2]}
    warm_url = databases()
    ingest_rate(lambda: open_hub_store(warm_url), warm)
    figures = []
    for run in range(1, runs + 1):
        url = databases()
        rate, p99 = ingest_rate(lambda url=url: open_hub_store(url), batches)
        print(f"  {backend:<10} run {run}: {rate:>8,.0f} events/s  (p99 batch {p99:.0f} ms)",
              flush=True)
        figures.append((rate, p99))
    return figures


def run(events: int = 100_000, edges: int = 10, batch: int = 500, runs: int = 3,
        backends: tuple[str, ...] = ("sqlite", "postgresql"),
        postgres_url: str | None = None) -> list[Result]:
    """Measure each backend; one result row each (the median of `runs`)."""
    batches = make_batches(events, edges, batch)
    total = sum(len(one) for edge in batches.values() for one in edge)
    print(f"B9 hub ingest: {total:,} events, {edges} edges pushing at once, "
          f"batches of {batch}, {runs} run(s) after a warm-up")
    results = []
    for backend in backends:
        if backend == "sqlite":
            opener = sqlite_databases()
            what = "SQLite (WAL, synchronous=NORMAL)"
        else:
            opener = postgres_databases(postgres_url)
            what = ("PostgreSQL at the given URL" if postgres_url
                    else "PostgreSQL 15, private cluster, fsync on")
        with opener as databases:
            figures = measure(backend, databases, batches, runs)
        rate = median(r for r, _ in figures)
        p99 = median(p for _, p in figures)
        print(f"  {backend:<10} median: {rate:,.0f} events/s, p99 batch {p99:.0f} ms")
        results.append(Result("B9", f"hub ingest, {what}, {edges} edges x batches of {batch}",
                              f"{rate:,.0f} events/s (p99 batch {p99:.0f} ms)", "(report)",
                              None))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=10)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], action="append",
                        help="one backend (repeatable); default both")
    parser.add_argument("--postgres-url",
                        default=os.environ.get("LEARNLINE_HUB_DATABASE_URL") or None,
                        help="a PostgreSQL server to use instead of a private cluster")
    args = parser.parse_args()
    from bench.common import table

    results = run(args.events, args.edges, args.batch, args.runs,
                  tuple(args.backend or ("sqlite", "postgresql")), args.postgres_url)
    print()
    print(table(results))


if __name__ == "__main__":
    main()
