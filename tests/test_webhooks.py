"""The webhook routes end to end: routing, a learner's first message, duplicates, log hygiene."""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import ClassVar

import pytest
from werkzeug.serving import make_server

from carrier_adapters import CarrierAdapter, InboundMessage, PayloadError, SendError, registry
from gateway import create_app
from gateway.content.importer import import_courses
from gateway.store import Store
from tests.adapters.contract import assert_plain_error, stored_counts
from tests.conftest import (
    AUTH_TOKEN,
    CONSOLE_TOKEN,
    PUBLIC_URL,
    TwilioWebhooks,
)
from tests.fakes.signing import twilio_signature

LEARNER = "+2348030000000"


@pytest.mark.parametrize("path", [
    "/carriers/mtn-ng/sms", "/carriers/mtn-ng/status", "/carriers/TWILIO/sms",
    "/carriers/twilio/ussd",
])
def test_unknown_carrier_or_route_is_404(client, store, path):
    response = client.post(path, data={"From": LEARNER, "Body": "START"})
    assert response.status_code == 404
    assert_plain_error(response)
    assert stored_counts(store)["inbound"] == 0


def test_first_message_enrols_the_learner(twilio, store):
    # Twilio writes numbers in E.164; reading national numbers is each adapter's contract
    # (tests/adapters/contract.py) for carriers that write them so.
    response = twilio.sms(LEARNER, "START")
    assert response.status_code == 200

    learner = store.learner(LEARNER)
    assert learner is not None
    assert (learner.locale, learner.carrier_id, learner.stopped) == ("en", "twilio", False)
    assert learner.current_course is not None
    [inbound] = store.db["inbound"].rows
    assert (inbound["phone"], inbound["text"], inbound["status"]) == (LEARNER, "START",
                                                                      "processed")
    # the replies were queued by the same request, before the carrier got its answer
    outbox = store.outbox(LEARNER)
    assert outbox
    assert all(m.status == "queued" and m.carrier_id == "twilio" for m in outbox)
    assert outbox[0].body.startswith("Welcome to")
    # a carrier's call has no session: no cookie is set or read
    assert "Set-Cookie" not in response.headers


def _reference_replies(tmp_path: Path, carriers_file: Path) -> list[str]:
    """The replies one START from a new Nigerian learner produces, posted once."""
    db = tmp_path / "reference.db"
    with Store.open(db, migrate=True) as store:
        import_courses(store)
    app = create_app({"DATABASE": str(db), "CARRIERS_FILE": str(carriers_file)})
    assert TwilioWebhooks(app.test_client()).sms(LEARNER, "START").status_code == 200
    with Store.open(db) as store:
        return [m.body for m in store.outbox(LEARNER)]


COPIES = 10
LEARNERS = tuple(f"+23480300000{n:02d}" for n in range(8))


def test_concurrent_duplicate_deliveries_are_processed_once(app, store, tmp_path,
                                                            carriers_file):
    """Twilio retries a slow webhook; each copy may land while another is in flight.

    Each of eight learners' START arrives 10 times at once (80 requests released
    together) at the app served by a real threaded werkzeug server on loopback.
    """
    expected = _reference_replies(tmp_path, carriers_file)
    assert expected

    server = make_server("127.0.0.1", 0, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                               daemon=True)
    serving.start()
    path = "/carriers/twilio/sms"
    url = f"http://127.0.0.1:{server.server_port}{path}"
    requests = []
    for phone in LEARNERS:
        params = TwilioWebhooks(None).inbound_params(phone, "START", TwilioWebhooks.new_sid())
        headers = {
            "X-Twilio-Signature": twilio_signature(AUTH_TOKEN, PUBLIC_URL + path, params),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        requests += [(urllib.parse.urlencode(params).encode(), headers)] * COPIES
    start = threading.Barrier(len(requests))
    statuses: list[int] = []
    lock = threading.Lock()

    def deliver(body: bytes, headers: dict[str, str]) -> None:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        start.wait()
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
            error.close()
        with lock:
            statuses.append(status)

    try:
        threads = [threading.Thread(target=deliver, args=r) for r in requests]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        server.shutdown()
        server.server_close()

    # every copy is acknowledged, so Twilio stops retrying
    assert statuses == [200] * len(requests)
    assert store.db["inbound"].count == len(LEARNERS)
    for phone in LEARNERS:
        assert [m.body for m in store.outbox(phone)] == expected, phone


@pytest.mark.parametrize("copies", [2, 10])
def test_a_message_delivered_again_later_is_processed_once(twilio, store, copies):
    """A carrier's retries arrive one after another, and one comes back hours later."""
    sid = TwilioWebhooks.new_sid()
    for _ in range(copies):
        assert twilio.sms(LEARNER, "START", sid=sid).status_code == 200
    replies = [m.body for m in store.outbox(LEARNER)]
    assert replies and replies[0].startswith("Welcome to")
    store.db.execute("UPDATE inbound SET received_at = received_at - 6 * 3600, "
                     "processed_at = processed_at - 6 * 3600")
    store.db.execute("UPDATE outbox SET created_at = created_at - 6 * 3600")
    assert twilio.sms(LEARNER, "START", sid=sid).status_code == 200
    assert [m.body for m in store.outbox(LEARNER)] == replies
    assert store.db["inbound"].count == 1


def test_logs_never_hold_the_text_the_number_or_secrets(twilio, client, store, caplog):
    caplog.set_level(logging.DEBUG)
    secret_text = "my answer is zebra-kilimanjaro"
    twilio.sms("0803 000 0000", "START")  # 400: Twilio writes numbers in E.164
    twilio.sms(LEARNER, "START")
    twilio.sms(LEARNER, secret_text)
    twilio.sms(LEARNER, secret_text, sid=TwilioWebhooks.new_sid(), signed=False)  # 403
    twilio.post("/carriers/twilio/sms", {"From": LEARNER, "Body": secret_text})  # 400
    client.post(f"/carriers/console/sms?token={CONSOLE_TOKEN}x",
                data={"from": LEARNER, "text": secret_text})  # 403
    twilio.status(twilio.new_sid(), "failed", error_code="21610")  # unknown message
    assert store.db["inbound"].count == 2
    assert caplog.records, "the gateway logs what it rejects"

    logged = "\n".join(
        record.getMessage() + (record.exc_text or "") for record in caplog.records
    )
    for secret in (secret_text, "zebra", LEARNER, LEARNER[1:], "8030000000", "0803 000 0000",
                   AUTH_TOKEN, CONSOLE_TOKEN):
        assert secret not in logged, secret


class BodySignedAdapter(CarrierAdapter):
    """A carrier that signs the raw request body (hex HMAC-SHA256 in X-Signature).

    Test data: registered only inside the test that uses it.
    """

    name: ClassVar[str] = "body-signed"
    required_keys: ClassVar[tuple[str, ...]] = ("secret",)
    signs_requests: ClassVar[bool] = True

    def verify_signature(self, request):
        secret = self.settings.credentials["secret"].encode()
        expected = hmac.new(secret, request.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, request.header("X-Signature") or "")

    def parse_inbound(self, request):
        message_id, sender, text = self.require(request, "id", "from", "text")
        return InboundMessage(message_id, sender, "", text)

    def parse_status(self, request):
        raise PayloadError("id")

    def send(self, to, body, *, status_url=None):
        raise SendError("not in this test", retry=False)


@pytest.mark.parametrize(("tamper", "expected"), [(False, 200), (True, 403)])
def test_adapters_see_the_raw_body_of_a_form_post(tmp_path, db_path, monkeypatch, tamper,
                                                  expected):
    monkeypatch.setitem(registry.ADAPTERS, "body-signed", BodySignedAdapter)
    carriers = tmp_path / "body-signed.toml"
    carriers.write_text('[carriers.op]\nadapter = "body-signed"\ncountry = "NG"\n'
                        'secret = "body-secret-0123456789"\n')
    client = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers)}).test_client()
    body = urllib.parse.urlencode({"id": "op-1", "from": LEARNER, "text": "START"}).encode()
    signature = hmac.new(b"body-secret-0123456789", body, hashlib.sha256).hexdigest()
    if tamper:
        body = body.replace(b"START", b"STOP")
    response = client.post("/carriers/op/sms", data=body, headers={
        "X-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == expected
    with Store.open(db_path) as store:
        assert store.db["inbound"].count == (1 if expected == 200 else 0)


def test_behind_a_proxy_allow_ips_sees_the_carriers_address(db_path, tmp_path, monkeypatch):
    """Behind a trusted proxy (loopback by default) an allow list judges the address the
    proxy forwarded, not the proxy's own; a forwarded loopback address is never the
    machine's own, so the console's loopback-only default refuses it."""
    from gateway import create_app

    monkeypatch.delenv("LEARNLINE_TRUSTED_PROXIES", raising=False)
    carriers = tmp_path / "console.toml"
    carriers.write_text('[carriers.local]\nadapter = "console"\n'
                        '[carriers.op]\nadapter = "console"\nallow_ips = ["203.0.113.0/24"]\n')
    form = {"from": "+2348030000000", "text": "START", "id": "m1"}
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers)})
    for carrier, forwarded_for, expected in [
        ("local", None, 200),  # this machine, directly
        ("local", "203.0.113.9", 403),  # a public caller behind the proxy is refused
        ("local", "127.0.0.1", 403),  # forwarded: not this machine, whatever it says
        ("op", "203.0.113.9", 200),  # the carrier's address, as the proxy recorded it
        ("op", "198.51.100.1, 203.0.113.9", 200),  # left of the proxy's entry: unread
        ("op", "203.0.113.9, 198.51.100.1", 403),
        ("op", None, 403),  # the proxy's own address is not the carrier's
    ]:
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        response = app.test_client().post(
            f"/carriers/{carrier}/sms", data={**form, "id": f"m-{carrier}-{forwarded_for}"},
            headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert response.status_code == expected, (carrier, forwarded_for)


def test_a_bad_trusted_proxies_setting_stops_start_up(db_path, monkeypatch):
    from gateway import create_app
    from gateway.config import ConfigError

    monkeypatch.setenv("LEARNLINE_TRUSTED_PROXIES", "many")
    with pytest.raises(ConfigError, match="LEARNLINE_TRUSTED_PROXIES: 'many'"):
        create_app({"DATABASE": str(db_path)})


