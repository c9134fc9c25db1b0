"""A wall clock the test turns: for Store.open(clock=...), create_app({"CLOCK": ...}) and
the worker's wall_clock."""

from __future__ import annotations


class SimulatedClock:
    """Wall-clock time (epoch seconds) that moves only when the test says."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now
