"""Inbound limits: a flood from one number, or one block of numbers, is stored but not
answered (one polite notice), and everyone else is answered as usual."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway import create_app
from gateway.config import ConfigError, load_carriers
from gateway.ratelimit import InboundLimits, SlidingWindows
from gateway.store import Store
from tests.conftest import TwilioWebhooks, carriers_toml

FLOODER = "+2348030000111"
NEIGHBOUR = "+2348030000222"  # same block as the flooder (all but the last 3 digits)
ELSEWHERE = "+2348039999111"
NOTICE = ("You are sending messages faster than we can answer. Please wait a minute, then "
          "send your reply again.")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_window_counts_its_limit_then_refuses_with_one_first_refusal():
    clock = Clock()
    windows = SlidingWindows(clock=clock)
    assert [windows.hit("k", 3, 60)[0] for _ in range(3)] == [True, True, True]
    assert windows.hit("k", 3, 60) == (False, True)   # the first refusal: worth a notice
    assert windows.hit("k", 3, 60) == (False, False)  # then silence
    clock.now += 59
    assert windows.hit("k", 3, 60) == (False, False)  # still inside the minute
    clock.now += 2
    assert windows.hit("k", 3, 60) == (True, False)   # the first three slid out
    assert windows.hit("other", 3, 60) == (True, False)


def test_windows_forget_the_least_recent_keys_past_their_bound():
    windows = SlidingWindows(max_keys=100, clock=Clock())
    for n in range(1000):
        windows.hit(f"number-{n}", 1, 60)
    assert len(windows._events) == 100
    assert windows.hit("number-999", 1, 60)[0] is False   # recent: still counted
    assert windows.hit("number-0", 1, 60)[0] is True      # forgotten


@pytest.fixture
def limited(db_path: Path, tmp_path: Path, twilio_api, carriers_file: Path):
    """The gateway app with a small block limit and a clock the test moves."""
    carriers = tmp_path / "limited.toml"
    carriers.write_text(carriers_toml(twilio_api.url).replace(
        "tps = 200", "tps = 200\ninbound_per_minute = 20\nblock_per_minute = 30"))
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers),
                      "TESTING": True})
    clock = Clock()
    app.extensions["learnline.inbound_limits"] = InboundLimits(SlidingWindows(clock=clock))
    return app, clock


def _replies(store: Store, phone: str) -> list[str]:
    return [m.body for m in store.outbox(phone)]


def test_a_flooding_learner_is_stored_throttled_told_once_and_others_are_answered(
        limited, store: Store):
    app, clock = limited
    twilio = TwilioWebhooks(app.test_client())
    assert twilio.sms(FLOODER, "START").status_code == 200
    answered = len(_replies(store, FLOODER))
    for _ in range(19):
        assert twilio.sms(FLOODER, "HELP").status_code == 200
    after_twenty = len(_replies(store, FLOODER))
    assert after_twenty > answered  # all twenty were answered

    for _ in range(30):  # 500 a minute, as far as the gateway can tell
        assert twilio.sms(FLOODER, "HELP").status_code == 200  # the carrier is never refused
    assert _replies(store, FLOODER)[after_twenty:] == [NOTICE]  # told once, then silence

    assert twilio.sms(ELSEWHERE, "START").status_code == 200
    assert _replies(store, ELSEWHERE)[0].startswith("Welcome to Start freelancing")

    rows = list(store.db.query(
        "SELECT status, error FROM inbound WHERE phone = ? ORDER BY id", [FLOODER]))
    assert len(rows) == 50  # nothing lost
    assert [r["error"] for r in rows[:20]] == [None] * 20
    assert {r["error"] for r in rows[20:]} == {"throttled: over the number per minute limit"}
    assert {r["status"] for r in rows} == {"processed"}

    clock.now += 61  # a minute later the learner is answered again
    before = len(_replies(store, FLOODER))
    assert twilio.sms(FLOODER, "HELP").status_code == 200
    assert len(_replies(store, FLOODER)) > before
    assert _replies(store, FLOODER)[-1] != NOTICE


def test_a_flooding_block_of_numbers_is_not_answered_past_its_limit(limited, store: Store):
    app, _ = limited
    twilio = TwilioWebhooks(app.test_client())
    block = [f"+2348030000{n:03d}" for n in range(40)]
    for phone in block:
        assert twilio.sms(phone, "START").status_code == 200
    answered = [phone for phone in block if _replies(store, phone)]
    assert answered == block[:30]  # the rest of the block: stored, no notice, no reply
    assert store.db.execute("SELECT count(*) FROM inbound").fetchone()[0] == 40
    assert twilio.sms(ELSEWHERE, "START").status_code == 200
    assert _replies(store, ELSEWHERE)


@pytest.mark.parametrize(("key", "value"), [("inbound_per_minute", "0"),
                                            ("block_per_minute", '"many"'),
                                            ("inbound_per_hour", "true")])
def test_a_bad_limit_stops_start_up_naming_the_key(tmp_path: Path, key: str, value: str):
    path = tmp_path / "carriers.toml"
    path.write_text(carriers_toml("http://127.0.0.1:9").replace(
        "tps = 200", f"tps = 200\n{key} = {value}"))
    expected = rf"{path}: carrier 'twilio': key '{key}': must be a whole"
    with pytest.raises(ConfigError, match=expected):
        load_carriers(path, env={"TEST_TWILIO_AUTH_TOKEN": "x" * 32})
