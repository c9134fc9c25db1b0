"""Orange's SMS API: the shared contract, OAuth2 tokens, OneAPI JSON in and out, against a
loopback server speaking Orange's documented wire format."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from carrier_adapters import CarrierSettings, PayloadError, SendError, WebRequest
from carrier_adapters.orange import STATUS_MAP, OrangeAdapter
from gateway.config import load_carriers
from gateway.outbox.worker import OutboxWorker
from tests.adapters.contract import (
    MISSING,
    AdapterContract,
    SendContract,
    secret_for,
    sent_message,
)
from tests.fakes.orange_api import FakeOrangeApi

CLIENT_ID, CLIENT_SECRET = "learnline-app-id", "orange-client-secret-0123456789"
TOKEN = "orange-webhook-token-0123456789"
SENDER = "+2250700000000"
LEARNER = "+2250701020304"


@pytest.fixture
def orange_api():
    with FakeOrangeApi(CLIENT_ID, CLIENT_SECRET) as api:
        yield api


def settings(api: FakeOrangeApi, **overrides) -> CarrierSettings:
    base = CarrierSettings(id="orange-ci", adapter="orange", sender=SENDER,
                           api_base_url=api.url, webhook_token=TOKEN,
                           credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    return CarrierSettings(**{**base.__dict__, **overrides})


class TestOrange(AdapterContract, SendContract):
    carrier_id = "orange-ci"
    adapter_name = "orange"
    required_inbound_fields = ("senderAddress", "message")
    # callbackData may be empty or missing (TestOrangeReceipts)
    required_status_fields = ("deliveryStatus",)
    sender_field = "senderAddress"
    learner_e164 = LEARNER
    # A 401 that survives a new token is retried; Orange's 403 (a policy) is final.
    retried_refusals = frozenset({401})
    national_sender = "07 01 02 03 04"
    national_e164 = LEARNER

    @pytest.fixture
    def carriers_file(self, tmp_path: Path, orange_api, monkeypatch) -> Path:
        monkeypatch.setenv("TEST_ORANGE_SECRET", CLIENT_SECRET)
        path = tmp_path / "carriers.toml"
        path.write_text(f"""
[carriers.orange-ci]
adapter = "orange"
sender = "{SENDER}"
country = "CI"
client_id = "{CLIENT_ID}"
client_secret = "${{TEST_ORANGE_SECRET}}"
api_base_url = "{orange_api.url}"
public_url = "https://learn.example.org"
webhook_token = "{TOKEN}"
""")
        return path

    def inbound_payload(self, sender, text, message_id):
        return {"destinationAddress": f"tel:{SENDER}", "senderAddress": f"tel:{sender}",
                "message": text, "messageId": message_id, "dateTime": "2026-11-29T13:00:00Z"}

    def status_payload(self, message_id):
        return {"callbackData": message_id, "address": f"tel:{LEARNER}",
                "deliveryStatus": "DeliveredToTerminal"}

    def deliver(self, client, url, params, headers):
        if url.split("?")[0].endswith("/sms"):
            body = {"inboundSMSMessageNotification": {"inboundSMSMessage": params}}
        else:
            info = {k: v for k, v in params.items() if k != "callbackData"}
            body = {"deliveryInfoNotification": {"deliveryInfo": info}}
            if "callbackData" in params:
                body["deliveryInfoNotification"]["callbackData"] = params["callbackData"]
        return client.post(url, data=json.dumps(body), headers={
            **headers, "Content-Type": "application/json"})

    def authenticated(self, path, params, auth):
        if auth == MISSING:
            return path, {}
        return f"{path}?token={secret_for(auth, TOKEN)}", {}

    @pytest.fixture
    def send_settings(self, orange_api):
        return settings(orange_api)

    @pytest.fixture
    def outbound(self, orange_api):
        adapter = OrangeAdapter(settings(orange_api))

        def delivered():
            return [(m["address"].removeprefix("tel:"), m["outboundSMSTextMessage"]["message"])
                    for m in orange_api.messages]

        return adapter, delivered

    # -- Orange specifics ---------------------------------------------------------------------

    def test_sending_uses_the_documented_request(self, orange_api):
        adapter = OrangeAdapter(settings(orange_api, credentials={
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "sender_name": "Learnline"}))
        result = adapter.send(LEARNER, "Leçon 1", status_url="https://learn.example.org/s")
        [request] = orange_api.messages
        assert orange_api.sender_paths == [quote(f"tel:{SENDER}", safe="")]
        assert request == {
            "address": f"tel:{LEARNER}", "senderAddress": f"tel:{SENDER}",
            "senderName": "Learnline", "outboundSMSTextMessage": {"message": "Leçon 1"},
            "receiptRequest": {"notifyURL": "https://learn.example.org/s",
                               "callbackData": result.carrier_message_id},
        }

    def test_the_token_is_kept_then_renewed_once_on_a_401(self, orange_api):
        adapter = OrangeAdapter(settings(orange_api))
        adapter.send(LEARNER, "one")
        adapter.send(LEARNER, "two")
        assert len(orange_api.tokens) == 1  # cached
        orange_api.revoke_tokens()
        adapter.send(LEARNER, "three")
        assert len(orange_api.tokens) == 2  # one refresh, and the message went out
        assert [m["outboundSMSTextMessage"]["message"] for m in orange_api.messages] == [
            "one", "two", "three"]

    def test_a_short_lived_token_is_renewed_before_it_expires(self, orange_api):
        orange_api.expires_in = "30"  # shorter than the safety margin
        adapter = OrangeAdapter(settings(orange_api))
        adapter.send(LEARNER, "one")
        adapter.send(LEARNER, "two")
        assert len(orange_api.tokens) == 2

    def test_wrong_credentials_keep_the_message_for_later(self, orange_api):
        adapter = OrangeAdapter(settings(orange_api, credentials={
            "client_id": CLIENT_ID, "client_secret": "wrong-secret"}))
        with pytest.raises(SendError) as caught:
            adapter.send(LEARNER, "hello")
        assert caught.value.retry and caught.value.code == "token-401"

    @pytest.mark.parametrize(("status", "message_id", "kind", "retry"), [
        (400, "SVC0004", "serviceException", False),  # no valid addresses
        (400, "SVC0002", "serviceException", False),  # invalid input
        (403, "POL0001", "policyException", False),  # policy error
        (429, "POL0001", "policyException", True),  # too many requests
        (500, "SVC0001", "serviceException", True),
        (503, "", "serviceException", True),
    ])
    def test_errors_are_retried_or_failed(self, orange_api, status, message_id, kind, retry):
        orange_api.fail_next(status, message_id, "error text", kind)
        with pytest.raises(SendError) as caught:
            OrangeAdapter(settings(orange_api)).send(LEARNER, "hello")
        assert caught.value.retry is retry
        if message_id:
            assert caught.value.code == message_id

    def test_a_closed_port_is_retried(self, orange_api):
        closed = settings(orange_api, api_base_url="http://127.0.0.1:9")
        with pytest.raises(SendError) as caught:
            OrangeAdapter(closed).send(LEARNER, "hello")
        assert caught.value.retry

    @pytest.mark.parametrize(("orange_status", "state"), sorted(STATUS_MAP.items()))
    def test_delivery_statuses(self, client, store, orange_status, state):
        outbox_id = sent_message(store, self.carrier_id, LEARNER, f"cb-{orange_status}")
        response = self.post(client, "status", {"callbackData": f"cb-{orange_status}",
                                                "address": f"tel:{LEARNER}",
                                                "deliveryStatus": orange_status})
        assert response.status_code == 200
        [message] = [m for m in store.outbox() if m.id == outbox_id]
        assert message.status == (state or "sent")

    def test_an_inbound_without_message_id_is_still_stored_once(self, client, store):
        payload = self.inbound_payload(LEARNER, "START", "x")
        del payload["messageId"]
        assert self.post(client, "sms", payload).status_code == 200
        assert self.post(client, "sms", payload).status_code == 200  # Orange retries
        assert store.db["inbound"].count == 1
        # The same text a minute later is the learner's own repeat ("1" to two questions):
        # its time tells it apart, so it is stored and answered too.
        later = {**payload, "dateTime": "2026-11-29T13:01:00Z"}
        assert self.post(client, "sms", later).status_code == 200
        assert store.db["inbound"].count == 2
        # With neither an id nor a time, a repeat could not be told from a resend: refused,
        # naming the field, and nothing stored.
        del later["dateTime"]
        refused = self.post(client, "sms", later)
        assert refused.status_code == 400 and "'dateTime'" in refused.get_data(as_text=True)
        assert store.db["inbound"].count == 2

    def test_a_reply_goes_out_and_its_receipt_comes_back(self, app, client, store, orange_api,
                                                          carriers_file):
        assert self.post(client, "sms", self.inbound_payload(LEARNER, "START", "m1")) \
            .status_code == 200
        OutboxWorker(app.config["DATABASE"], load_carriers(carriers_file)).run(drain=True)
        [request] = orange_api.messages
        assert request["outboundSMSTextMessage"]["message"].startswith("Bienvenue")  # CI: fr
        receipt = request["receiptRequest"]
        assert receipt["notifyURL"] == (
            f"https://learn.example.org/carriers/orange-ci/status?token={TOKEN}")
        self.post(client, "status", {"callbackData": receipt["callbackData"],
                                     "address": f"tel:{LEARNER}",
                                     "deliveryStatus": "DeliveredToTerminal"})
        assert store.outbox(LEARNER)[0].status == "delivered"


def test_bodies_that_are_not_orange_json_are_refused():
    adapter = OrangeAdapter(CarrierSettings(id="o", adapter="orange", credentials={
        "client_id": "a", "client_secret": "b"}))
    for body in (b"not json", b"[1, 2]", b'{"inboundSMSMessageNotification": 3}'):
        request = WebRequest("POST", "http://x/", {}, {}, {}, body, "127.0.0.1")
        with pytest.raises(PayloadError):
            adapter.parse_inbound(request)


def live_carriers(orange_api, secret: str) -> str:
    """A carriers file with one Orange carrier on the fake API, with this client secret."""
    return f"""
[carriers.orange-ci]
adapter = "orange"
sender = "{SENDER}"
client_id = "{CLIENT_ID}"
client_secret = "{secret}"
api_base_url = "{orange_api.url}"
webhook_token = "{TOKEN}"
"""


def test_carriers_check_live_proves_the_credentials(orange_api, tmp_path, monkeypatch):
    """`learnline carriers check --live` fetches an Orange token; a wrong secret fails."""
    from click.testing import CliRunner

    from gateway.cli.main import main

    for secret, code, line in ((CLIENT_SECRET, 0, "live: ok"),
                               ("wrong-secret", 1, "live: FAILED: token: HTTP 401")):
        path = tmp_path / "carriers.toml"
        path.write_text(live_carriers(orange_api, secret))
        monkeypatch.setenv("LEARNLINE_CARRIERS", str(path))
        result = CliRunner().invoke(main, ["carriers", "check", "--live"])
        assert result.exit_code == code, result.output
        assert "orange-ci: orange, sms, webhooks by webhook_token" in result.output
        assert line in result.output
        assert secret not in result.output
    assert len(orange_api.messages) == 0  # nothing was sent


def test_doctor_live_tells_a_refusal_from_an_api_failure(orange_api, tmp_path, monkeypatch,
                                                          db_path):
    """A wrong secret is a credentials problem; a token endpoint answering 500 is not, and
    doctor must not send the operator to change secrets that are right."""
    from click.testing import CliRunner

    from gateway.cli.main import main

    path = tmp_path / "carriers.toml"
    monkeypatch.setenv("LEARNLINE_CARRIERS", str(path))
    monkeypatch.setenv("LEARNLINE_DB", str(db_path))
    for secret, failure, expected in (
            ("wrong-secret", None, "credentials refused: token: HTTP 401"),
            (CLIENT_SECRET, 500, "the carrier's API could not check the credentials: token: "
                                 "HTTP 500: not a credentials problem")):
        path.write_text(live_carriers(orange_api, secret))
        if failure:
            orange_api.token_failures.append(failure)
        result = CliRunner().invoke(main, ["doctor", "--live"])
        lines = [line for line in result.output.splitlines() if expected in line]
        assert len(lines) == 1 and lines[0].startswith("FAIL"), result.output


# -- delivery receipts however Orange reports them -------------------------------------------


class TestOrangeReceipts:
    """Orange's documented way to get receipts is a subscription per sender; its receipts
    then name the request by Orange's own id (the end of the resourceURL the send was
    answered with), and receipts seen in the wild carry an empty callbackData."""

    carriers_file = TestOrange.carriers_file
    post = TestOrange.post
    deliver = TestOrange.deliver
    authenticated = TestOrange.authenticated
    path = TestOrange.path
    carrier_id = TestOrange.carrier_id

    def test_a_receipt_naming_orange_s_resource_id_reaches_its_message(
            self, app, client, store, orange_api, carriers_file):
        assert self.post(client, "sms", {
            "destinationAddress": f"tel:{SENDER}", "senderAddress": f"tel:{LEARNER}",
            "message": "START", "messageId": "m-res-1",
            "dateTime": "2026-11-29T13:00:00Z"}).status_code == 200
        OutboxWorker(app.config["DATABASE"], load_carriers(carriers_file)).run(drain=True)
        resource_ids = [url.rsplit("/", 1)[1] for url in orange_api.resources]
        replies = store.outbox(LEARNER)
        assert len(resource_ids) == len(replies) >= 1
        for resource_id in resource_ids:
            response = self.post(client, "status", {"callbackData": resource_id,
                                                    "address": f"tel:{LEARNER}",
                                                    "deliveryStatus": "DeliveredToTerminal"})
            assert response.status_code == 200
        assert [m.status for m in store.outbox(LEARNER)] == ["delivered"] * len(replies)
        events = list(store.db["status_events"].rows)
        assert sorted(e["outbox_id"] for e in events) == sorted(m.id for m in replies)

    def test_a_receipt_before_the_send_was_recorded_still_reaches_it(self, client, store):
        """A receipt may overtake the worker recording Orange's answer."""
        outbox_id = store.enqueue(self.carrier_id, LEARNER, "Leçon 1")
        assert store.claim_due(self.carrier_id, lease_seconds=60).id == outbox_id
        self.post(client, "status", {"callbackData": "res-early-1", "address": f"tel:{LEARNER}",
                                     "deliveryStatus": "DeliveredToTerminal"})
        store.finish_send(outbox_id, "accepted", carrier_message_id="ours-early-1",
                          carrier_ref="res-early-1")
        assert next(m for m in store.outbox() if m.id == outbox_id).status == "delivered"

    @pytest.mark.parametrize("callback", ["", None])
    def test_a_receipt_without_callback_data_is_accepted_and_recorded(self, client, store,
                                                                      callback):
        outbox_id = sent_message(store, self.carrier_id, LEARNER, "ours-1")
        payload = {"address": f"tel:{LEARNER}", "deliveryStatus": "DeliveredToTerminal"}
        if callback is not None:
            payload["callbackData"] = callback
        response = self.post(client, "status", payload)
        assert response.status_code == 200
        [event] = store.db["status_events"].rows
        assert (event["carrier_id"], event["carrier_message_id"], event["outbox_id"],
                event["status"]) == (self.carrier_id, "", None, "DeliveredToTerminal")
        assert next(m for m in store.outbox() if m.id == outbox_id).status == "sent"


def subscribed_carriers(orange_api, subscription: str | None = None) -> str:
    """live_carriers behind a public URL, with the receipt subscription when one is given."""
    text = live_carriers(orange_api, CLIENT_SECRET) + 'public_url = "https://learn.example.org"\n'
    if subscription:
        text += f'receipt_subscription = "{subscription}"\n'
    return text


def test_operators_create_and_check_the_receipt_subscription(orange_api, tmp_path,
                                                             monkeypatch):
    """`learnline carriers subscribe` makes Orange's delivery-receipt subscription for the
    sender, pointing at this gateway; `carriers check --live` reports it, and fails when it
    sends receipts elsewhere or is gone."""
    from click.testing import CliRunner

    from gateway.cli.main import main

    path = tmp_path / "carriers.toml"
    monkeypatch.setenv("LEARNLINE_CARRIERS", str(path))
    path.write_text(subscribed_carriers(orange_api))

    result = CliRunner().invoke(main, ["carriers", "check", "--live"])
    assert result.exit_code == 0, result.output
    assert ("receipts: no delivery-receipt subscription configured: "
            "learnline carriers subscribe orange-ci") in result.output

    result = CliRunner().invoke(main, ["carriers", "subscribe", "orange-ci"])
    assert result.exit_code == 0, result.output
    [(subscription, made)] = orange_api.subscriptions.items()
    assert made == {"sender": f"tel:{SENDER}", "notifyURL":
                    f"https://learn.example.org/carriers/orange-ci/status?token={TOKEN}"}
    assert f'receipt_subscription = "{subscription}"' in result.output
    assert TOKEN not in result.output and CLIENT_SECRET not in result.output

    path.write_text(subscribed_carriers(orange_api, subscription))
    result = CliRunner().invoke(main, ["carriers", "check", "--live"])
    assert result.exit_code == 0, result.output
    assert (f"receipts: ok: subscription {subscription} sends receipts to this gateway"
            in result.output)

    orange_api.subscriptions[subscription]["notifyURL"] = "https://old.example.org/dr"
    result = CliRunner().invoke(main, ["carriers", "check", "--live"])
    assert result.exit_code == 1
    assert (f"receipts: FAILED: subscription {subscription} sends receipts to another "
            "address: learnline carriers subscribe orange-ci") in result.output

    del orange_api.subscriptions[subscription]
    result = CliRunner().invoke(main, ["carriers", "check", "--live"])
    assert result.exit_code == 1
    assert f"receipts: FAILED: subscription {subscription}: HTTP 404" in result.output
    assert TOKEN not in result.output


def test_subscribing_needs_a_public_url_and_an_orange_carrier(orange_api, tmp_path,
                                                              monkeypatch):
    from click.testing import CliRunner

    from gateway.cli.main import main

    path = tmp_path / "carriers.toml"
    monkeypatch.setenv("LEARNLINE_CARRIERS", str(path))
    path.write_text(live_carriers(orange_api, CLIENT_SECRET))
    result = CliRunner().invoke(main, ["carriers", "subscribe", "orange-ci"])
    assert result.exit_code == 1 and "public_url" in result.output
    result = CliRunner().invoke(main, ["carriers", "subscribe", "no-such-carrier"])
    assert result.exit_code != 0 and "no-such-carrier" in result.output
    assert orange_api.subscriptions == {}
