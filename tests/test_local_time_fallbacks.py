"""A learner's local time when the number tells little: a zone the learner chose that no
longer exists is passed over, a number with no known zone falls back to the carrier's
zone and then UTC, and a carrier with no quiet hours lets any hour stand. A number of no
known country keeps Saturday and Sunday as its weekend."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from gateway.learning.timing import (
    SATURDAY_AND_SUNDAY,
    hour_outside_quiet,
    learner_zone,
    weekend_of,
)

LAGOS = "+2348031110001"
NOWHERE = "+999123456789"  # no country has +999


def test_a_chosen_zone_that_does_not_exist_is_passed_over():
    assert learner_zone(LAGOS, "Africa/Atlantis", None) == ZoneInfo("Africa/Lagos")
    assert learner_zone(LAGOS, "../etc/passwd", None) == ZoneInfo("Africa/Lagos")


def test_a_number_with_no_known_zone_takes_the_carriers_then_utc():
    assert learner_zone(NOWHERE, None, "Africa/Nairobi") == ZoneInfo("Africa/Nairobi")
    assert learner_zone(NOWHERE, None, None) == ZoneInfo("UTC")
    assert learner_zone("not a number", None, None) == ZoneInfo("UTC")


def test_no_quiet_hours_let_every_hour_stand():
    assert [hour_outside_quiet(h, (0, 0)) for h in (0, 3, 23)] == [0, 3, 23]
    assert hour_outside_quiet(7, (22, 6)) == 7 and hour_outside_quiet(23, (22, 6)) == 6


def test_a_number_of_no_known_country_has_the_common_weekend():
    assert weekend_of(NOWHERE) == SATURDAY_AND_SUNDAY
    assert weekend_of("+201001234567") == frozenset({4, 5})  # Egypt: Friday and Saturday
