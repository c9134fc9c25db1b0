"""The hub's figures at scale, on SQLite: what its dashboard's edge table (`HubStore.stats`,
read on every page of the hub's dashboard) and `learnline hub programs --program`'s check
that the hub knows a program (`gateway.hub.progress.knows`) take.

- stats: ten edges, 20,000 learners each (one in twenty a roaming number that several
  edges serve), two events a learner;
- knows: four edges, 50,000 joins each, half to program `orange`, half to `sun`, no
  pack, cohort or spend naming either; asked for `moon` (unknown: every source read)
  and for `sun` (known by its joins alone).

Medians of `--runs`. Not part of `bench/run`.

    python bench/hub_figures.py [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.hub import progress
from gateway.hub.confine import Region
from gateway.hub.store import HubStore, open_hub_store


def _hub(folder: Path, edges: list[str]) -> HubStore:
    hub = open_hub_store(str(folder / "hub.db"))
    hub.migrate()
    for edge in edges:
        hub.add_edge(edge, region=Region.parse(prefixes=["+"]), roam_limit=1_000_000)
    return hub


def _push(hub: HubStore, edge: str, events: list[tuple[str, str, dict]]) -> None:
    """Push (learner, kind, data) events as `edge`, 2,000 a batch."""
    clock = time.time()
    rng = random.Random(edge)
    batch = []
    for learner, kind, data in events:
        millis = int(clock * 1000) + len(batch)
        batch.append({"id": f"{millis:012x}{rng.getrandbits(80):020x}", "edge": edge,
                      "learner": learner, "kind": kind, "at": clock, "data": data})
        if len(batch) == 2000:
            hub.ingest(edge, batch)
            batch = []
    if batch:
        hub.ingest(edge, batch)


def _median_ms(call, runs: int) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def stats_figure(runs: int) -> None:
    edges = [f"edge-{n:02d}" for n in range(10)]
    rng = random.Random(3)
    with tempfile.TemporaryDirectory() as folder:
        hub = _hub(Path(folder), edges)
        for e, edge in enumerate(edges):
            learners = [f"+23480{e:02d}{n:05d}" if rng.random() > 0.05
                        else f"+2547{rng.randrange(3000):08d}" for n in range(20_000)]
            _push(hub, edge, [(learner, kind, {"course": "start-freelancing",
                                               "position": 0, "card": 1})
                              for learner in learners for kind in ("enrolled", "card_reached")])
        found = hub.stats()
        print(f"stats: {_median_ms(hub.stats, runs):.0f} ms for {found.learners:,} learners "
              f"({found.learners_on_several_edges:,} on several edges), {found.events:,} "
              f"events, {len(found.edges)} edges (median of {runs})")
        hub.close()


def knows_figure(runs: int) -> None:
    edges = [f"edge-{n:02d}" for n in range(4)]
    with tempfile.TemporaryDirectory() as folder:
        hub = _hub(Path(folder), edges)
        for e, edge in enumerate(edges):
            _push(hub, edge, [(f"+23480{e:02d}{n:05d}", "program_joined",
                               {"program": "orange" if n % 2 else "sun", "via": "keyword"})
                              for n in range(50_000)])
        for program in ("moon", "sun"):
            known = progress.knows(hub, program)
            print(f"knows({program!r}) = {known}: "
                  f"{_median_ms(lambda p=program: progress.knows(hub, p), runs):.0f} ms "
                  f"among 200,000 joins (median of {runs})")
        hub.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    stats_figure(args.runs)
    knows_figure(args.runs)


if __name__ == "__main__":
    main()
