"""Inbound limits: a flood from one number, or one block of numbers, is stored but not
answered (one polite notice), and everyone else is answered as usual."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway import create_app
from gateway.config import ConfigError, load_carriers
from gateway.ratelimit import InboundLimits, SlidingWindows, Verdict
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


# --- what each limit promises, at its edges (InboundLimits with a clock the test moves) ---


def limits_at(clock: Clock, max_keys: int = 100_000) -> InboundLimits:
    return InboundLimits(SlidingWindows(max_keys=max_keys, clock=clock))


def test_an_event_exactly_a_window_old_no_longer_counts():
    clock = Clock()
    windows = SlidingWindows(clock=clock)
    assert windows.hit("k", 1, 60) == (True, False)
    clock.now += 59.999
    assert windows.hit("k", 1, 60) == (False, True)
    clock.now = 1060.0
    assert windows.hit("k", 1, 60) == (True, False)


def test_a_window_slides_event_by_event_rather_than_resetting():
    clock = Clock()
    windows = SlidingWindows(clock=clock)
    for at in (1000.0, 1030.0, 1050.0):
        clock.now = at
        assert windows.hit("k", 3, 60) == (True, False)
    clock.now = 1061.0  # only the event at 1000 slid out; 1030 and 1050 still count
    assert windows.hit("k", 3, 60) == (True, False)
    assert windows.hit("k", 3, 60) == (False, True)
    clock.now = 1090.0  # 1030 out, 1050 and 1061 in
    assert windows.hit("k", 3, 60) == (True, False)
    assert windows.hit("k", 3, 60) == (False, False)  # told at 1061, inside this window


def test_a_sender_still_over_a_window_after_the_notice_is_told_again():
    clock = Clock()
    windows = SlidingWindows(clock=clock)
    assert windows.hit("k", 1, 60) == (True, False)  # at 1000
    clock.now = 1030.0
    assert windows.hit("k", 1, 60) == (False, True)  # the notice, at 1030
    clock.now = 1060.0
    assert windows.hit("k", 1, 60) == (True, False)  # 1000 slid out
    clock.now = 1089.0
    assert windows.hit("k", 1, 60) == (False, False)  # the notice at 1030 is still recent
    clock.now = 1090.0
    assert windows.hit("k", 1, 60) == (False, True)  # a window after the notice: told again


def test_notice_state_is_forgotten_with_its_number():
    clock = Clock()
    windows = SlidingWindows(max_keys=10, clock=clock)
    for n in range(1000):
        assert windows.hit(f"number-{n}", 1, 60) == (True, False)
        assert windows.hit(f"number-{n}", 1, 60) == (False, True)
    assert len(windows._events) <= 10 and len(windows._noticed) <= 10  # memory stays bounded
    # number-0 was forgotten: counted afresh, and told afresh when it floods again
    assert windows.hit("number-0", 1, 60) == (True, False)
    assert windows.hit("number-0", 1, 60) == (False, True)


def test_windows_remember_100000_numbers_by_default():
    windows = SlidingWindows(clock=Clock())
    for n in range(100_000):
        windows.hit(f"number-{n}", 1, 60)
    assert windows.hit("number-0", 1, 60)[0] is False  # remembered, now the most recent
    windows.hit("number-100000", 1, 60)  # one more number: the least recent is forgotten
    assert windows.hit("number-1", 1, 60)[0] is True
    assert windows.hit("number-2", 1, 60)[0] is True  # forgotten by the hit just before


def test_a_number_is_answered_again_exactly_a_minute_after_its_flood():
    clock = Clock()
    limits = limits_at(clock)
    assert all(limits.check("tw", FLOODER, 20, 200, 120).allowed for _ in range(20))
    assert limits.check("tw", FLOODER, 20, 200, 120) == Verdict(False, "number per minute", True)
    assert limits.check("tw", FLOODER, 20, 200, 120) == Verdict(False, "number per minute", False)
    clock.now = 1059.999
    assert limits.check("tw", FLOODER, 20, 200, 120) == Verdict(False, "number per minute", False)
    clock.now = 1060.0
    assert limits.check("tw", FLOODER, 20, 200, 120) == Verdict(True)


def test_the_hourly_limit_refuses_a_steady_sender_with_one_notice_for_an_hour():
    clock = Clock()
    limits = limits_at(clock)
    for minute in range(10):  # 20 a minute never passes the minute limit
        clock.now = 1000.0 + 60 * minute
        assert all(limits.check("tw", FLOODER, 20, 200, 120) == Verdict(True)
                   for _ in range(20))
    clock.now = 1600.0
    assert limits.check("tw", FLOODER, 20, 200, 120) == Verdict(False, "number per hour", True)
    assert limits.check("tw", FLOODER, 20, 200, 120) == Verdict(False, "number per hour", False)
    clock.now = 4539.0  # the first twenty are not yet an hour old
    assert limits.check("tw", FLOODER, 20, 200, 120) == Verdict(False, "number per hour", False)
    clock.now = 4599.999
    assert limits.check("tw", FLOODER, 20, 200, 120).limit == "number per hour"
    clock.now = 4600.0  # exactly an hour: the first minute's twenty slid out
    # (the messages refused since were not answered: they count in neither window)
    assert all(limits.check("tw", FLOODER, 20, 200, 120) == Verdict(True) for _ in range(20))
    assert limits.check("tw", FLOODER, 20, 200, 120) == Verdict(False, "number per minute", True)


def test_a_block_is_the_number_but_its_last_three_digits_and_gets_no_notice():
    clock = Clock()
    limits = limits_at(clock)
    block = ["+2348030000111", "+2348030000222", "+2348030000999"]
    assert [limits.check("tw", p, 20, 200, 3) for p in block] == [Verdict(True)] * 3
    over = Verdict(False, "block per minute", False)  # the block's numbers did nothing wrong
    assert limits.check("tw", "+2348030000000", 20, 200, 3) == over
    assert limits.check("tw", "+2348030000111", 20, 200, 3) == over
    # One more digit differs: another block, with its own count.
    assert limits.check("tw", "+2348030001111", 20, 200, 3) == Verdict(True)
    assert limits.check("tw", "+2348030010111", 20, 200, 3) == Verdict(True)
    clock.now = 1059.999
    assert limits.check("tw", "+2348030000555", 20, 200, 3) == over
    clock.now = 1060.0  # a block's minute is a minute
    assert limits.check("tw", "+2348030000555", 20, 200, 3) == Verdict(True)


def test_each_carrier_counts_its_own_senders():
    clock = Clock()
    limits = limits_at(clock)
    for _ in range(2):
        assert limits.check("twilio", FLOODER, 2, 200, 120) == Verdict(True)
    assert limits.check("twilio", FLOODER, 2, 200, 120).limit == "number per minute"
    # The same number through another carrier is another sender; so is its block.
    assert limits.check("kannel", FLOODER, 2, 200, 120) == Verdict(True)
    assert limits.check("kannel", NEIGHBOUR, 20, 200, 2) == Verdict(True)
    assert limits.check("twilio", NEIGHBOUR, 20, 200, 3) == Verdict(True)
    assert limits.check("twilio", NEIGHBOUR, 20, 200, 3).limit == "block per minute"
    assert limits.check("kannel", NEIGHBOUR, 20, 200, 2).limit == "block per minute"
