"""/metrics: what flows and what waits, for the operator's Prometheus, and for nobody else."""

from __future__ import annotations

import re
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.store import LearnerRecord, Store
from tests.conftest import TwilioWebhooks
from tests.served import gateway_fixture, serve_gateway  # noqa: F401 - the `gateway` fixture


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def _value(text: str, name: str, **labels: str) -> float:
    return _samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def test_inbound_messages_are_counted_by_carrier_and_outcome(client, twilio: TwilioWebhooks):
    before = client.get("/metrics").text
    assert twilio.sms("+2348030000000", "START", sid="SM" + "3e" * 16).status_code == 200
    assert twilio.sms("+2348030000000", "START", sid="SM" + "3e" * 16).status_code == 200
    assert twilio.sms("not a number", "START").status_code == 400
    after = client.get("/metrics")
    assert after.status_code == 200
    assert after.headers["Content-Type"].startswith("text/plain; version=")
    for outcome, more in (("accepted", 1), ("repeat", 1), ("invalid", 1)):
        name = "learnline_inbound_messages_total"
        assert _value(after.text, name, carrier="twilio", outcome=outcome) - _value(
            before, name, carrier="twilio", outcome=outcome) == more, outcome
    count = "learnline_webhook_seconds_count"
    assert _value(after.text, count, carrier="twilio", route="inbound_sms") - _value(
        before, count, carrier="twilio", route="inbound_sms") == 3


def test_what_waits_is_read_from_the_database(client, store: Store):
    with store.write():
        store.save_learner(LearnerRecord("+2348030000000", "en", "twilio"))
        for _ in range(3):
            store.enqueue("twilio", "+2348030000000", "hello", due_at=0.0)
        store.enqueue("console", "+2348030000000", "later", due_at=4e9)
        store.db.execute("UPDATE outbox SET created_at = created_at - 120")
    text = client.get("/metrics").text
    assert _value(text, "learnline_outbox_depth", carrier="twilio") == 3
    assert _value(text, "learnline_outbox_depth", carrier="console") == 1
    assert 120 <= _value(text, "learnline_worker_lag_seconds") < 130  # queued 2 min ago
    assert _value(text, "learnline_worker_heartbeat_age_seconds") == -1
    store.beat("worker")
    assert 0 <= _value(client.get("/metrics").text,
                       "learnline_worker_heartbeat_age_seconds") < 5


def test_every_carrier_has_its_watched_series_from_the_start_at_zero(client):
    """Alerts on a rise (`increase(...failures_total[1h]) > 0`) see the first failure only
    in a series that was there at 0 before it; gauges of what waits read 0, not nothing."""
    samples = _samples(client.get("/metrics").text)
    for carrier in ("twilio", "console"):
        label = (("carrier", carrier),)
        # Counters live in this test process, which other tests' apps count in too: the
        # series is there (at 0 for the served gateway: the test below).
        assert ("learnline_processing_failures_total", label) in samples
        assert ("learnline_inbound_messages_total",
                (("carrier", carrier), ("outcome", "unauthenticated"))) in samples
        assert ("learnline_outbound_messages_total",
                (("carrier", carrier), ("outcome", "failed"))) in samples
        assert samples[("learnline_outbox_depth", label)] == 0
        assert samples[("learnline_carrier_credentials_refused", label)] == 0


def test_metrics_are_for_this_machine_or_the_token_holder(client, monkeypatch):
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=outside).status_code == 403
    monkeypatch.setenv("LEARNLINE_METRICS_TOKEN", "scrape-token-0123456789")
    assert client.get("/metrics", environ_base=outside).status_code == 403
    assert client.get("/metrics", environ_base=outside,
                      headers={"Authorization": "Bearer wrong"}).status_code == 403
    allowed = client.get("/metrics", environ_base=outside,
                         headers={"Authorization": "Bearer scrape-token-0123456789"})
    assert allowed.status_code == 200 and "learnline_outbox_depth" in allowed.text


@pytest.mark.slow
def test_served_metrics_add_up_every_web_process_and_the_worker(gateway, twilio_api):
    """`learnline serve` (two gunicorn workers) and `learnline worker` share one view."""
    for n in range(12):
        assert gateway.sms("START" if n == 0 else "HELP", f"SM{0xabc000 + n:032x}")[0] == 200
    gateway.drain()
    with urllib.request.urlopen(gateway.base + "/metrics", timeout=10) as response:
        text = response.read().decode()
    assert _value(text, "learnline_inbound_messages_total", carrier="twilio",
                  outcome="accepted") == 12
    sent = len(twilio_api.messages)
    assert sent > 0 and _value(text, "learnline_outbound_messages_total", carrier="twilio",
                               outcome="accepted") == sent
    assert _samples(text)[("learnline_outbox_depth", (("carrier", "twilio"),))] == 0
    assert _samples(text)[("learnline_processing_failures_total", (("carrier", "twilio"),))] \
        == 0
    pids = set(re.findall(r'pid="(\d+)"', text))
    assert not pids  # summed across processes, not one series per process


def test_serve_without_its_runtime_folder_picks_a_writable_one(tmp_path, carriers_file,
                                                               twilio_api, monkeypatch):
    """LEARNLINE_METRICS_DIR=/run/learnline/metrics from the env file, on a machine
    without systemd to make /run/learnline: serve and the worker agree on another folder
    and say so, instead of ending in a traceback."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("LEARNLINE_METRICS_DIR", str(blocker / "metrics"))
    served = serve_gateway(tmp_path, carriers_file)
    gateway = next(served)
    try:
        for n in range(3):
            assert gateway.sms("START" if n == 0 else "HELP", f"SM{n:032x}")[0] == 200
        drained = gateway.drain()
        with urllib.request.urlopen(gateway.base + "/metrics", timeout=10) as response:
            text = response.read().decode()
    finally:
        served.close()
    assert _value(text, "learnline_inbound_messages_total", carrier="twilio",
                  outcome="accepted") == 3
    assert _value(text, "learnline_outbound_messages_total", carrier="twilio",
                  outcome="accepted") == len(twilio_api.messages) > 0
    fallback = f"{(tmp_path / 'served.db').resolve()}.metrics"
    said = (f"LEARNLINE_METRICS_DIR={blocker / 'metrics'}: cannot use it (Not a directory); "
            f"metrics are shared in {fallback} instead")
    log = (tmp_path / "serve.log").read_text()
    assert said in log and said in drained
    assert "Traceback" not in log + drained
