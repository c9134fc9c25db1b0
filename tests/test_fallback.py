"""Fallback to SMS: a WhatsApp message the Cloud API cannot deliver (not a WhatsApp user,
the 24-hour window closed) goes once through the carrier's `fallback_carrier` as SMS text
the learner answers by typing, linked to the original; no retry, second failure, late
status or crash sends it twice. Against a loopback Graph API and a loopback Twilio, by
the outbox worker as `learnline worker --drain` runs it."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway import create_app
from gateway.config import load_carriers
from gateway.outbox.queue import queue_message
from gateway.outbox.worker import OutboxWorker
from gateway.sms_text import count
from gateway.store import Store
from tests.conftest import AUTH_TOKEN, TwilioWebhooks, carriers_toml
from tests.fakes.graph_api import FakeGraphApi, sign
from tests.served import Gateway, serve_gateway
from tests.test_whatsapp_channel import (
    ACCESS_TOKEN,
    APP_SECRET,
    PHONE,
    PHONE_NUMBER_ID,
    notification,
    post_json,
    text_message,
    whatsapp_carrier,
)


@pytest.fixture
def graph_api() -> Iterator[FakeGraphApi]:
    with FakeGraphApi(PHONE_NUMBER_ID, ACCESS_TOKEN) as api:
        yield api


def fallback_carriers(tmp_path: Path, graph_url: str, twilio_url: str, **twilio) -> Path:
    path = tmp_path / "carriers.toml"
    path.write_text(carriers_toml(twilio_url, **twilio) + whatsapp_carrier(graph_url)
                    + 'fallback_carrier = "twilio"\n')
    return path


@pytest.fixture
def fb_carriers(tmp_path, graph_api, twilio_api, monkeypatch) -> Path:
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    return fallback_carriers(tmp_path, graph_api.url, twilio_api.url)


@pytest.fixture
def fb_client(db_path, fb_carriers):
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(fb_carriers),
                       "TESTING": True}).test_client()


def post_whatsapp(client, raw: bytes) -> None:
    response = client.post("/carriers/wa/whatsapp", data=raw, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": sign(APP_SECRET, raw)})
    assert response.status_code == 200, response.get_data(as_text=True)


def failed_status(message_id: str, code: int = 131026) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881",
                         "phone_number_id": PHONE_NUMBER_ID},
            "statuses": [{"id": message_id, "status": "failed", "timestamp": "1749416400",
                          "recipient_id": PHONE[1:], "errors": [{
                              "code": code, "title": "Message undeliverable"}]}]}}]}]}
                      ).encode()


def drain(db_path: Path, carriers_file: Path, **options) -> None:
    OutboxWorker(db_path, load_carriers(carriers_file), **options).run(
        drain=True, poll_seconds=0.01)


def rows(store: Store) -> list[dict]:
    return list(store.db.query(
        "SELECT id, carrier_id, status, error, fallback_of, fallback_to FROM outbox "
        "ORDER BY id"))


def test_not_a_whatsapp_user_gets_the_message_once_by_sms(
        fb_client, store, db_path, fb_carriers, graph_api, twilio_api):
    post_whatsapp(fb_client, notification(text_message("START")))
    graph_api.fail_next(400, 131026, "Message undeliverable")
    drain(db_path, fb_carriers)
    assert graph_api.messages == []
    [sms] = twilio_api.bodies_to(PHONE)
    assert sms.startswith("Welcome to Start freelancing: 6 lessons.\nLesson 1/6: ")
    assert "*" not in sms and "Reply NEXT" in sms  # answered by typing, as on SMS
    original, copy = rows(store)
    assert (original["carrier_id"], original["status"]) == ("wa", "failed")
    assert "131026" in original["error"] and "sent as SMS through twilio" in original["error"]
    assert original["fallback_to"] == "twilio"
    assert (copy["carrier_id"], copy["status"], copy["fallback_of"]) == \
        ("twilio", "sent", original["id"])
    # The worker again, and both carriers reporting late: nothing is sent twice.
    drain(db_path, fb_carriers)
    [sid] = [m.carrier_message_id for m in store.outbox(PHONE) if m.carrier_id == "twilio"]
    assert TwilioWebhooks(fb_client).status(sid, "undelivered", "30003").status_code == 200
    drain(db_path, fb_carriers)
    assert len(twilio_api.bodies_to(PHONE)) == 1 and graph_api.messages == []
    # Not on WhatsApp: the learner's next messages go by SMS until they write on WhatsApp.
    assert store.learner(PHONE).carrier_id == "twilio"
    post_whatsapp(fb_client, notification(text_message("STATUS")))
    assert store.learner(PHONE).carrier_id == "wa"


def test_a_failed_status_after_the_api_accepted_falls_back_once(
        fb_client, store, db_path, fb_carriers, graph_api, twilio_api):
    post_whatsapp(fb_client, notification(text_message("START")))
    drain(db_path, fb_carriers)
    [wamid] = graph_api.ids
    post_whatsapp(fb_client, failed_status(wamid))
    post_whatsapp(fb_client, failed_status(wamid))  # Meta's retry of the notification
    drain(db_path, fb_carriers)
    [sms] = twilio_api.bodies_to(PHONE)
    assert "Reply NEXT" in sms
    original, copy = rows(store)
    assert original["status"] == "failed" and original["fallback_to"] == "twilio"
    assert original["error"] == "131026; sent as SMS through twilio"
    assert copy["fallback_of"] == original["id"]
    # The SMS failing too does not bounce it back, nor send it again.
    TwilioWebhooks(fb_client).status(copy_sid := store.outbox(PHONE)[1].carrier_message_id,
                                     "failed", "30008")
    assert copy_sid
    drain(db_path, fb_carriers)
    assert len(twilio_api.bodies_to(PHONE)) == 1 and len(graph_api.messages) == 1


def test_a_closed_window_falls_back_but_the_learner_stays_on_whatsapp(
        fb_client, store, db_path, fb_carriers, graph_api, twilio_api):
    post_whatsapp(fb_client, notification(text_message("START")))
    graph_api.fail_next(400, 131047, "Re-engagement message")
    drain(db_path, fb_carriers)
    assert len(twilio_api.bodies_to(PHONE)) == 1
    assert store.learner(PHONE).carrier_id == "wa"


def test_the_copy_and_the_original_failing_are_one_transaction(
        fb_client, store, db_path, fb_carriers, graph_api, twilio_api):
    """A worker that dies between finishing the original and queuing the copy leaves
    neither: the original is tried again, and falls back once."""
    post_whatsapp(fb_client, notification(text_message("START")))
    with store.write():
        store.db.execute("CREATE TRIGGER no_copies BEFORE INSERT ON outbox "
                         "WHEN NEW.fallback_of IS NOT NULL "
                         "BEGIN SELECT RAISE(ABORT, 'the disk went away'); END")
    graph_api.fail_next(400, 131026)
    with pytest.raises(sqlite3.DatabaseError, match="the disk went away"):
        drain(db_path, fb_carriers, lease_seconds=0.05)
    [original] = rows(store)
    assert original["status"] == "sending" and original["fallback_to"] is None
    with store.write():
        store.db.execute("DROP TRIGGER no_copies")
    time.sleep(0.1)  # the dead worker's lease runs out
    graph_api.fail_next(400, 131026)
    drain(db_path, fb_carriers, lease_seconds=0.05)
    assert len(twilio_api.bodies_to(PHONE)) == 1
    assert [row["status"] for row in rows(store)] == ["failed", "sent"]


def test_buttons_and_lists_become_typed_options_within_the_sms_carriers_segments(
        tmp_path, store, db_path, graph_api, twilio_api, monkeypatch):
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    path = fallback_carriers(tmp_path, graph_api.url, twilio_api.url, max_segments="1")
    carriers = load_carriers(path)
    options = ["Sell what you already do for neighbours and friends",
               "Buy a laptop first", "Learn to code for two years", "Wait for a job offer"]
    rows_ = [{"id": letter, "title": f"{letter}) {option}"[:24], "description": option[:72]}
             for letter, option in zip("ABCD", options, strict=True)]
    with store.write():
        queue_message(store, carriers["wa"], PHONE, "*Q1/3* Which skill sells first?",
                      payload={"list": {"button": "Reply A-D", "rows": rows_}})
    graph_api.fail_next(400, 131026)
    drain(db_path, path)
    sent = twilio_api.bodies_to(PHONE)
    assert all(count(body, "exact").segments == 1 for body in sent), sent
    text = "\n".join(sent)
    assert "Q1/3 Which skill sells first?" in text
    for letter, option in zip("ABCD", options, strict=True):
        assert f"{letter}) {option}" in text
    assert "Reply A-D" in text


# -- end to end -----------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path, twilio_api, graph_api, monkeypatch) -> Iterator[Gateway]:
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    yield from serve_gateway(tmp_path, fallback_carriers(tmp_path, graph_api.url,
                                                         twilio_api.url))


@pytest.mark.slow
def test_not_on_whatsapp_through_serve_and_the_worker_falls_back_once(
        served: Gateway, graph_api, twilio_api):
    """Signed Cloud API webhooks to `learnline serve`, `learnline worker --drain`, a Graph
    API saying 131026: the welcome comes once by SMS, however often the worker runs."""
    raw = notification(text_message("START"))
    assert post_json(served, raw, sign(APP_SECRET, raw)) == 200
    graph_api.fail_next(400, 131026, "Message undeliverable")
    served.drain()
    served.drain()
    [sms] = twilio_api.bodies_to(PHONE)
    assert "Reply NEXT" in sms and graph_api.messages == []
    with Store.open(served.env["LEARNLINE_DB"]) as store:
        original, copy = rows(store)
        assert (original["status"], original["fallback_to"]) == ("failed", "twilio")
        assert (copy["status"], copy["fallback_of"]) == ("sent", original["id"])
        assert store.learner(PHONE).carrier_id == "twilio"


def test_the_sms_copy_is_about_the_program_its_message_was(
        fb_client, store, db_path, fb_carriers, graph_api, twilio_api):
    post_whatsapp(fb_client, notification(text_message("START")))
    drain(db_path, fb_carriers)
    with store.write():
        queue_message(store, load_carriers(fb_carriers)["wa"], PHONE, "Your answer is right.",
                      program="orange")
    graph_api.fail_next(400, 131026, "Message undeliverable")
    drain(db_path, fb_carriers)
    copy = store.db.execute("SELECT carrier_id, status, program FROM outbox WHERE "
                            "fallback_of IS NOT NULL").fetchone()
    assert tuple(copy) == ("twilio", "sent", "orange")  # it counts toward the program's spend
