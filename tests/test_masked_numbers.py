"""Numbers inside texts the gateway did not write (a carrier's error message), masked
before they are logged (docs/privacy.md): at most the first third and the last two
digits shown, however the number is written; ids and times left alone."""

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
