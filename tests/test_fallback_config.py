"""`fallback_carrier`: a carrier names another configured carrier that sends SMS, through
which messages it cannot deliver go instead; a bad value stops start-up naming the file,
the carrier and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, load_carriers

WHATSAPP = """
[carriers.wa]
adapter = "whatsapp"
phone_number_id = "106540352242922"
access_token = "EAAG-token-0123456789"
app_secret = "0123456789abcdef0123456789abcdef"
verify_token = "verify-token-0123"
"""
SMS = """
[carriers.sms]
adapter = "console"
"""
USSD_ONLY = """
[carriers.hubtel]
adapter = "hubtel"
webhook_token = "0123456789abcdef0"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "carriers.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_whatsapp_carrier_may_fall_back_to_an_sms_carrier(tmp_path):
    path = write(tmp_path, WHATSAPP + 'fallback_carrier = "sms"\n' + SMS)
    carriers = load_carriers(path, env={})
    assert carriers["wa"].fallback_carrier == "sms"
    assert carriers["sms"].fallback_carrier is None


BAD = [
    ("unknown carrier", WHATSAPP + 'fallback_carrier = "orange"\n' + SMS,
     "'orange' is not a configured carrier"),
    ("itself", WHATSAPP + 'fallback_carrier = "wa"\n' + SMS, "names the carrier itself"),
    ("a carrier without SMS", WHATSAPP + 'fallback_carrier = "hubtel"\n' + USSD_ONLY,
     "'hubtel' does not send SMS"),
    ("another WhatsApp carrier", WHATSAPP + 'fallback_carrier = "wa2"\n'
     + WHATSAPP.replace("carriers.wa]", "carriers.wa2]"), "'wa2' does not send SMS"),
    ("not a string", WHATSAPP + "fallback_carrier = 3\n" + SMS, "must be a string"),
]


@pytest.mark.parametrize(("text", "problem"), [case[1:] for case in BAD],
                         ids=[case[0] for case in BAD])
def test_a_bad_fallback_carrier_fails_naming_file_carrier_and_key(tmp_path, text, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_carriers(path, env={})
    message = str(caught.value)
    assert f"{path}: carrier 'wa': key 'fallback_carrier'" in message, message
    assert problem in message, message
