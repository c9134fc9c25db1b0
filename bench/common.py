"""Shared pieces of the benchmarks run by `bench/run`: result rows, process memory, medians."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    """One line of the final table."""

    id: str
    what: str
    figure: str
    target: str
    met: bool | None  # None: no target (informational)

    @property
    def verdict(self) -> str:
        return "-" if self.met is None else ("yes" if self.met else "NO")


def median(values) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def children(pid: int) -> list[int]:
    """Direct child processes of `pid` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def vm_rss_kib(pid: int) -> int:
    """Resident memory of a process in KiB (VmRSS from /proc/<pid>/status)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def table(results: list[Result]) -> str:
    headers = ("id", "what", "figure", "target", "met?")
    rows = [(r.id, r.what, r.figure, r.target, r.verdict) for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    line = " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "-+-".join("-" * w for w in widths)]
    out += [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


def markdown(results: list[Result]) -> str:
    out = ["| id | what | figure | target | met? |", "|---|---|---|---|---|"]
    out += [f"| {r.id} | {r.what} | {r.figure} | {r.target} | {r.verdict} |" for r in results]
    return "\n".join(out)
