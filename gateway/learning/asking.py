"""Asking a tutor: the tutors' working hours (`LEARNLINE_TUTOR_HOURS`), when a question
asked now can expect an answer, and the per-learner daily limit. Pure but for reading the
setting: times are local datetimes in the learner's zone."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway import environment

# Questions a learner may ask in any 24 hours; the next one is refused with one notice.
DAILY_LIMIT = 5
DEFAULT_HOURS = "Mon-Fri 08-17"
# Longest question kept, in characters (an SMS of several segments fits; more is cut).
MAX_CHARS = 1000
_DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_SPEC = re.compile(r"^\s*([A-Za-z]{3})\s*-\s*([A-Za-z]{3})\s+(\d{1,2})\s*-\s*(\d{1,2})\s*$")


@dataclass(frozen=True)
class TutorHours:
    """The days (0 Monday .. 6 Sunday) and hours (opening inclusive, closing exclusive)
    tutors answer in."""

    days: frozenset[int]
    opens: int
    closes: int


@dataclass(frozen=True)
class Expected:
    """When an answer can be expected: `day` 'today' (before `hour`), 'tomorrow' or
    'weekday' (from `hour` on `weekday`, 0 Monday)."""

    day: str
    hour: int
    weekday: int = 0


def parse_hours(spec: str) -> TutorHours:
    """'Mon-Fri 08-17' as TutorHours (days wrap: 'Sun-Thu'); ValueError saying what is
    expected for anything else."""
    match = _SPEC.match(spec)
    first = _DAYS.index(match.group(1).upper()) if match and match.group(1).upper() in _DAYS \
        else None
    last = _DAYS.index(match.group(2).upper()) if match and match.group(2).upper() in _DAYS \
        else None
    if match is None or first is None or last is None \
            or not 0 <= int(match.group(3)) < int(match.group(4)) <= 24:
        raise ValueError(f"LEARNLINE_TUTOR_HOURS={spec!r}: give days and hours such as "
                         f"{DEFAULT_HOURS!r} (days Mon..Sun, hours 0-24, opening first)")
    days = frozenset((first + n) % 7 for n in range((last - first) % 7 + 1))
    return TutorHours(days, int(match.group(3)), int(match.group(4)))


def tutor_hours(env: Mapping[str, str] | None = None) -> TutorHours:
    """The tutors' hours as set (`LEARNLINE_TUTOR_HOURS` in `env`, default the process's
    environment; unset: Mon-Fri 08-17); ValueError for a value that is not hours (checked
    at start-up by the server and the worker, and by doctor)."""
    raw = environment.get("LEARNLINE_TUTOR_HOURS") if env is None \
        else env.get("LEARNLINE_TUTOR_HOURS")
    return parse_hours((raw or "").strip() or DEFAULT_HOURS)


def expected(now: datetime, hours: TutorHours) -> Expected:
    """When a question asked at local time `now` can expect an answer: today before
    closing when tutors work later today, else from opening on their next working day."""
    if now.weekday() in hours.days and now.hour < hours.closes:
        return Expected("today", hours.closes)
    for ahead in range(1, 8):
        day = (now + timedelta(days=ahead)).weekday()
        if day in hours.days:
            return Expected("tomorrow" if ahead == 1 else "weekday", hours.opens, day)
    raise AssertionError("tutor hours without a day")  # parse_hours gives one at least
