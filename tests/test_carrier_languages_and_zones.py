"""Two documented carrier settings (docs/carriers.md): `languages`, a new learner's
language by country, and `timezone`, the learners' local time where their number has
several zones; each as the learner meets it, and each refused at start-up when wrong,
naming file, carrier and key."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway import create_app
from gateway.config import ConfigError, load_carriers
from gateway.outbox.worker import OutboxWorker
from gateway.store import Store
from tests.conftest import AUTH_TOKEN, TwilioWebhooks, carriers_toml
from tests.fakes.clock import SimulatedClock

NIGERIAN = "+2348031110077"
CONGOLESE = "+243810000077"  # DR Congo: one country, two zones
KINSHASA, LUBUMBASHI = ZoneInfo("Africa/Kinshasa"), ZoneInfo("Africa/Lubumbashi")  # +1, +2


def gateway(tmp_path: Path, api_url: str, extra: str, clock: SimulatedClock | None = None):
    """The app, its store and a worker on a carriers file whose Twilio carrier has `extra`."""
    carriers = tmp_path / "carriers.toml"
    carriers.write_text(carriers_toml(api_url).replace("tps = 200\n", "tps = 200\n" + extra))
    db_path = tmp_path / "gateway.db"
    config = {"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers), "TESTING": True}
    if clock is not None:
        config["CLOCK"] = clock
    app = create_app(config)
    worker = OutboxWorker(db_path, load_carriers(carriers),
                          **({"wall_clock": clock} if clock else {}))
    return TwilioWebhooks(app.test_client()), Store.open(db_path, clock=clock), worker


@pytest.fixture(autouse=True)
def twilio_secret(monkeypatch):
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)


# -- languages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("extra", "language"), [
    ("", "en"),  # Nigeria: English, from CLDR
    ('languages = { NG = "fr" }\n', "fr"),
    ('languages = { ng = "fr-SN", SN = "en" }\n', "fr"),  # any case; a locale's language
    ('languages = { SN = "fr" }\n', "en"),  # another country's entry changes nothing here
    ('languages = { NG = "fr" }\nlocale = "pt"\n', "pt"),  # the carrier's locale still wins
])
def test_a_new_learners_language_follows_the_carriers_languages_table(
        tmp_path: Path, twilio_api, extra: str, language: str):
    hooks, store, worker = gateway(tmp_path, twilio_api.url, extra)
    with store:
        assert hooks.sms(NIGERIAN, "START").status_code == 200
        assert store.learner(NIGERIAN).locale == language
        worker.run(drain=True)
    welcome = twilio_api.messages[0]["Body"]
    assert ("Welcome" in welcome) == (language == "en"), welcome


# -- timezone ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("extra", "zone"), [
    ("", KINSHASA),  # the number's first zone
    ('timezone = "Africa/Lubumbashi"\n', LUBUMBASHI),
])
def test_quiet_hours_follow_the_carriers_timezone_where_the_number_has_several(
        tmp_path: Path, twilio_api, extra: str, zone: ZoneInfo):
    # 20:30 in Kinshasa is 21:30 in Lubumbashi: inside the quiet hours (21 to 8) only there.
    evening = datetime(2026, 12, 7, 20, 30, tzinfo=KINSHASA).timestamp()
    clock = SimulatedClock(evening)
    hooks, store, worker = gateway(tmp_path, twilio_api.url, extra, clock)
    with store:
        assert hooks.sms(CONGOLESE, "START").status_code == 200
        worker.run(drain=True)
        with store.write():
            store.enqueue("twilio", CONGOLESE, "An announcement", kind="announcement")
        worker.run(drain=True)
        [row] = store.db.execute("SELECT status, due_at, sent_at FROM outbox "
                                 "WHERE kind = 'announcement'").fetchall()
    if zone is KINSHASA:
        assert row[0] == "sent" and row[2] == evening
    else:
        assert row[0] == "queued" and row[2] is None
        held_until = datetime.fromtimestamp(row[1], LUBUMBASHI)
        assert (held_until.day, held_until.hour, held_until.minute) == (8, 8, 0)


# -- refused at start-up -------------------------------------------------------------------------


@pytest.mark.parametrize(("extra", "said"), [
    ('languages = "fr"\n', "key 'languages': must be a table of countries to languages"),
    ('languages = { XX = "fr" }\n', "key 'languages': 'XX' is not an ISO 3166 country code"),
    ('languages = { NG = 5 }\n', "key 'languages': NG: must be a language code"),
    ('languages = { NG = "zz" }\n', "key 'languages'"),
    ('timezone = "Africa/Atlantis"\n',
     "key 'timezone': 'Africa/Atlantis' is not an IANA time zone such as \"Africa/Lagos\""),
    ('timezone = "../../etc/passwd"\n', "key 'timezone'"),
])
def test_a_wrong_languages_table_or_timezone_is_refused_naming_file_carrier_and_key(
        tmp_path: Path, extra: str, said: str):
    path = tmp_path / "carriers.toml"
    path.write_text(carriers_toml("https://api.twilio.com").replace(
        "tps = 200\n", "tps = 200\n" + extra))
    with pytest.raises(ConfigError) as caught:
        load_carriers(path)
    message = str(caught.value)
    assert str(path) in message and "'twilio'" in message
    assert said in message
