"""Learners' local time: their time zone, daily lesson times, quiet hours and local days.

Everything here is pure: times in and out are epoch seconds (what the store keeps),
local reasoning happens in the learner's IANA zone, so a daily lesson at 9 stays at 9
across a daylight-saving change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from babel import Locale, UnknownLocaleError
from phonenumbers import timezone as number_zones

from gateway.phones import region_of

UTC = ZoneInfo("UTC")
DAY = 86400.0


@dataclass(frozen=True)
class Pacing:
    """How a carrier paces what its learners did not ask for (docs/scheduling.md)."""

    quiet_hours: tuple[int, int] = (21, 8)  # local (start, end); equal hours: none
    max_unsolicited_per_day: int = 3
    nudge_after_days: int = 2
    max_nudges: int = 3
    review_after_days: int = 3
    timezone: str | None = None  # the carrier's, for numbers that do not tell one
    # The channels unsolicited messages may reach the carrier's learners by, their own
    # first ('sms' or 'whatsapp'): what a learner may choose (intents.Channel).
    channels: tuple[str, ...] = ("sms",)


@cache
def zone_named(name: str | None) -> ZoneInfo | None:
    """The zone with this IANA name, or None if there is no such zone."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@cache
def zones_of_number(phone: str) -> tuple[str, ...]:
    """The IANA zones phonenumbers gives for an E.164 number (empty if unknown)."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return ()
    return tuple(z for z in number_zones.time_zones_for_number(number) if z != "Etc/Unknown")


def learner_zone(phone: str, chosen: str | None, carrier_zone: str | None) -> ZoneInfo:
    """A learner's zone: the one they chose, else their number's when it has only one,
    else the carrier's, else the number's first, else UTC."""
    zones = zones_of_number(phone)
    for name in (chosen, zones[0] if len(zones) == 1 else None, carrier_zone,
                 zones[0] if zones else None):
        zone = zone_named(name)
        if zone is not None:
            return zone
    return UTC


def local(at: float, zone: ZoneInfo) -> datetime:
    """The local date and time of an instant."""
    return datetime.fromtimestamp(at, zone)


def in_quiet_hours(at: float, zone: ZoneInfo, quiet: tuple[int, int]) -> bool:
    """Whether an instant falls in the quiet hours (start inclusive, end exclusive)."""
    start, end = quiet
    if start == end:
        return False
    hour = local(at, zone).hour
    return start <= hour < end if start < end else hour >= start or hour < end


def quiet_end(at: float, zone: ZoneInfo, quiet: tuple[int, int]) -> float:
    """`at` itself outside the quiet hours, else the instant they end."""
    if not in_quiet_hours(at, zone, quiet):
        return at
    moment = local(at, zone)
    end = moment.replace(hour=quiet[1], minute=0, second=0, microsecond=0)
    if end <= moment:
        end = _add_days(end, 1)
    return end.timestamp()


def hour_outside_quiet(hour: int, quiet: tuple[int, int]) -> int:
    """The hour itself if it is outside the quiet hours, else the hour they end."""
    start, end = quiet
    if start == end:
        return hour
    inside = start <= hour < end if start < end else hour >= start or hour < end
    return end if inside else hour


def next_lesson_time(after: float, zone: ZoneInfo, hour: int,
                     days_off: frozenset[int] = frozenset()) -> float:
    """The first local `hour`:00 strictly after `after` on a day not in `days_off`
    (Monday is 0)."""
    moment = local(after, zone)
    candidate = moment.replace(hour=hour, minute=0, second=0, microsecond=0)
    if candidate <= moment:
        candidate = _add_days(candidate, 1)
    while candidate.weekday() in days_off:
        candidate = _add_days(candidate, 1)
    return candidate.timestamp()


SATURDAY_AND_SUNDAY = frozenset({5, 6})


@cache
def weekend_of(phone: str) -> frozenset[int]:
    """The weekend where the number is (CLDR, via Babel; Monday is 0): Saturday and Sunday
    in most countries, Friday and Saturday in Egypt or Saudi Arabia."""
    region = region_of(phone)
    if not region:
        return SATURDAY_AND_SUNDAY
    try:
        found = Locale.parse(f"und_{region}")
    except (ValueError, UnknownLocaleError):
        return SATURDAY_AND_SUNDAY
    start, end = found.weekend_start, found.weekend_end
    return frozenset((start + n) % 7 for n in range((end - start) % 7 + 1))


def working_days(phone: str) -> tuple[int, int]:
    """The first and last working day of the week where the number is (Monday is 0):
    (0, 4) Monday to Friday, (6, 3) Sunday to Thursday."""
    weekend = weekend_of(phone)
    first = next(d for d in range(7) if d not in weekend and (d - 1) % 7 in weekend)
    last = next(d for d in range(7) if d not in weekend and (d + 1) % 7 in weekend)
    return first, last


def day_start(at: float, zone: ZoneInfo) -> float:
    """Local midnight at the start of the day holding `at`."""
    return local(at, zone).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def next_day_start(at: float, zone: ZoneInfo) -> float:
    """Local midnight at the end of the day holding `at`."""
    midnight = local(at, zone).replace(hour=0, minute=0, second=0, microsecond=0)
    return _add_days(midnight, 1).timestamp()


def _add_days(moment: datetime, days: int) -> datetime:
    """The same wall-clock time `days` later, across any daylight-saving change."""
    naive = moment.replace(tzinfo=None) + timedelta(days=days)
    return naive.replace(tzinfo=moment.tzinfo)
