"""Time `GET /healthz` while N slow connections are held open, for each shipped way of
running Learnline (README.md's `learnline serve --host 0.0.0.0`, the systemd web unit's
command, the Containerfile's default command), each on a fresh database.

    python bench/slow_clients.py [--connections 300] [--hold 3] [--probes 5] [--timeout 60]
                                 [readme|systemd|container ...]

A third of the connections send nothing, a third send headers one byte a second, a
third send whole headers and then the body one byte a second (tests/slow_clients.py).
After `--hold` seconds, /healthz is timed `--probes` times a second apart and the slowest
is printed; "no answer" means one got none within `--timeout`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.ports import free_port
from tests.slow_clients import run_way, shipped_ways, slow_clients, worst_healthz


def measure(argv: list[str], connections: int, hold: float, probes: int,
            timeout: float) -> float | None:
    """The slowest /healthz, in seconds, of `probes` a second apart on the command
    `argv` while `connections` slow clients are held (None: one got no answer)."""
    with tempfile.TemporaryDirectory(prefix="learnline-slow-") as folder, \
            run_way(argv, Path(folder), free_port()) as running, \
            slow_clients("127.0.0.1", running.port, connections):
        time.sleep(hold)
        return worst_healthz("127.0.0.1", running.port, probes, timeout)


def main() -> None:
    ways = shipped_ways()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--hold", type=float, default=3.0,
                        help="seconds between opening the slow connections and timing")
    parser.add_argument("--probes", type=int, default=5,
                        help="how many times /healthz is timed, a second apart; the "
                        "slowest counts")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("ways", nargs="*", metavar="WAY",
                        help=f"which to measure: {', '.join(ways)} (default: all)")
    args = parser.parse_args()
    unknown = [way for way in args.ways if way not in ways]
    if unknown:
        parser.error(f"unknown way {unknown[0]!r}: choose from {', '.join(ways)}")
    for way in args.ways or list(ways):
        seconds = measure(ways[way], args.connections, args.hold, args.probes, args.timeout)
        figure = (f"{seconds * 1000:.0f} ms" if seconds is not None
                  else f"no answer in {args.timeout:.0f} s")
        print(f"{way:10} {' '.join(ways[way])}\n{'':10} /healthz with {args.connections} "
              f"slow connections held: {figure}", flush=True)


if __name__ == "__main__":
    main()
