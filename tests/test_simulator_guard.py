"""The phone simulator is for authors and evaluators: off on a public address unless
asked for, throttled when on, and its pretend learners are never in the figures."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

from gateway import create_app
from gateway.ops import reports
from tests.conftest import csrf
from tests.ports import free_port


def _simulating(db_path):
    return create_app({"DATABASE": str(db_path), "SIMULATOR": True,
                       "SECRET_KEY": "simulator-secret-key-0123456789"})


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:  # not listening yet
        return 0


def test_serve_on_a_public_address_leaves_the_simulator_off(tmp_path, carriers_file):
    port = free_port()
    env = {**os.environ, "LEARNLINE_DB": str(tmp_path / "served.db"),
           "LEARNLINE_CARRIERS": str(carriers_file)}
    env.pop("LEARNLINE_SIMULATOR", None)
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--host", "0.0.0.0", "--port",
             str(port), "--no-worker"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while _status(f"http://127.0.0.1:{port}/healthz") != 200:
            assert process.poll() is None and time.time() < deadline, log.read_text()
            time.sleep(0.1)
        assert _status(f"http://127.0.0.1:{port}/simulator") == 404
    finally:
        process.terminate()
        process.wait(20)
    banner = log.read_text()
    assert "/simulator" not in banner.split("carrier ")[0]
    assert "phone simulator: off on a public address (LEARNLINE_SIMULATOR=1 turns it on)" \
        in banner


def test_the_simulator_is_throttled_per_address(db_path):
    client = _simulating(db_path).test_client()
    token = csrf(client, "/simulator")
    answers = [client.post("/simulator", data={"csrf": token, "mode": "sms", "text": "HELP"},
                           environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code
               for _ in range(31)]
    assert answers == [302] * 30 + [429]
    other = client.application.test_client()
    assert other.post("/simulator", data={"csrf": csrf(other, "/simulator"), "mode": "ussd",
                                          "action": "dial"},
                      environ_base={"REMOTE_ADDR": "203.0.113.8"}).status_code == 302


def test_pretend_learners_are_not_in_the_figures(db_path, store):
    """A simulator learner starts the course by SMS and USSD: the dashboard's and
    `stats`' figures (one report) show no learner, enrollment, answer or message."""
    client = _simulating(db_path).test_client()
    token = csrf(client, "/simulator")
    for text in ("START", "NEXT", "NEXT", "NEXT", "NEXT", "NEXT", "A"):
        client.post("/simulator", data={"csrf": token, "mode": "sms", "text": text})
    for text in ("NEXT", "B", "HELP"):
        client.post("/simulator", data={"csrf": token, "mode": "whatsapp", "text": text})
    client.post("/simulator", data={"csrf": token, "mode": "ussd", "action": "dial"})
    client.post("/simulator", data={"csrf": token, "mode": "ussd", "text": "1"})
    assert store.db.execute("SELECT count(*) FROM activity").fetchone()[0] > 0
    assert store.db.execute("SELECT count(*) FROM enrollments").fetchone()[0] == 1
    report = reports.build_report(store, [])
    assert all(row.learners == 0 and row.sms == 0 and row.ussd == 0
               for row in report.activity)
    assert store.db.execute("SELECT count(*) FROM outbox WHERE carrier_id = ?",
                            ["simulator-whatsapp"]).fetchone()[0] > 0
    assert all(funnel.enrolled == 0 and funnel.started == 0 for funnel in report.funnels)
    assert report.questions == ()
    assert report.carrier_days == () or all(
        not row.carrier_id.startswith("simulator") for row in report.carrier_days), \
        report.carrier_days


def test_the_addresses_of_one_ipv6_64_share_the_simulators_throttle(db_path):
    client = _simulating(db_path).test_client()
    token = csrf(client, "/simulator")
    answers = [client.post("/simulator", data={"csrf": token, "mode": "sms", "text": "HELP"},
                           environ_base={"REMOTE_ADDR": f"2001:db8:5:6::{n + 1:x}"}
                           ).status_code for n in range(31)]
    assert answers == [302] * 30 + [429]
    other = client.application.test_client()
    assert other.post("/simulator", data={"csrf": csrf(other, "/simulator"), "mode": "ussd",
                                          "action": "dial"},
                      environ_base={"REMOTE_ADDR": "2001:db8:5:7::1"}).status_code == 302


def test_the_whatsapp_mode_is_guarded_as_the_others(db_path, store, tmp_path):
    """Off unless enabled; when on, a post without this browser's CSRF token or with
    another's stores and sends nothing; and its taps count to the same throttle."""
    off = create_app({"DATABASE": str(db_path), "SECRET_KEY": "simulator-secret-key-0123456789"})
    assert off.test_client().get("/simulator?mode=whatsapp").status_code == 404
    assert off.test_client().post("/simulator", data={"mode": "whatsapp", "text": "START"}
                                  ).status_code == 404
    client = _simulating(db_path).test_client()
    other = client.application.test_client()
    assert client.get("/simulator?mode=whatsapp").status_code == 200
    assert client.post("/simulator", data={"mode": "whatsapp", "text": "START"}
                       ).status_code == 400
    assert client.post("/simulator", data={"csrf": csrf(other, "/simulator"),
                                           "mode": "whatsapp", "text": "START"}
                       ).status_code == 400
    assert store.db.execute("SELECT count(*) FROM inbound").fetchone()[0] == 0
    assert store.db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    token = csrf(client, "/simulator?mode=whatsapp")
    answers = [client.post("/simulator", data={"csrf": token, "mode": mode, "text": "HELP"},
                           environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code
               for mode in ["whatsapp", "sms"] * 15 + ["whatsapp"]]
    assert answers == [302] * 30 + [429]
    assert store.db.execute("SELECT count(*) FROM outbox WHERE carrier_id = ?",
                            ["simulator-whatsapp"]).fetchone()[0] == 15
