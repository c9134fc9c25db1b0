"""Text the gateway did not write (a carrier's error message, an edge's cohort name),
before it is logged or printed: phone numbers in it masked in the log (docs/privacy.md:
at most the first third and the last two digits shown, however the number is written;
ids and times left alone), and its control characters shown as escapes on an
operator's terminal."""

from __future__ import annotations

import pytest

from gateway.phones import masked_in


@pytest.mark.parametrize("text, logged", [
    ("The 'To' number +2348031234567 is not a valid phone number.",
     "The 'To' number +2348*******67 is not a valid phone number."),
    ("tel:+221770000000 refused", "tel:+2217******00 refused"),
    ("2348031234567 unknown", "2348*******67 unknown"),  # E.164 without its +
    ("08031234567 unknown", "080******67 unknown"),  # a national number
    ("12345678", "12****78"),  # eight digits: half hidden
    ("to=%2B2348031234567&x=1", "to=%2B2348*******67&x=1"),  # a URL's escaped +
    ("Number+2348031234567", "Number+2348*******67"),
    ('{"to":"+2348031234567"}', '{"to":"+2348*******67"}'),
    ("code 21211: invalid", "code 21211: invalid"),  # an error code
    ("at 1733612345.123", "at 1733612345.123"),  # a time
    ("message SM0123456789abcdef0123456789abcdef", "message SM0123456789abcdef0123456789abcdef"),
])
def test_every_written_number_is_mostly_hidden(text, logged):
    assert masked_in(text) == logged


def test_a_report_table_shows_control_characters_as_escapes():
    """`learnline stats` and the hub's figures print names that came from outside."""
    from gateway.ops.reports import Table, format_table

    printed = format_table(Table("t", "Cohorts", ("name", "members"),
                                 (("Lagos\x1b[2J\rforged", "3"), ("Kano — été", "1"))))
    assert "\x1b" not in printed and "\r" not in printed
    assert printed.splitlines()[3:] == ["Lagos\\x1b[2J\\rforged        3",
                                        "Kano — été                  1"]  # any script, as is
