"""Africa's Talking SMS: the shared contract with its documented payloads, delivery
statuses, the messaging API's answers, linkId replies, and the live credential check."""

from __future__ import annotations

from pathlib import Path

import pytest

from carrier_adapters import CarrierSettings, SendError
from carrier_adapters.africastalking import STATUS_MAP, AfricasTalkingAdapter
from gateway.config import load_carriers
from gateway.outbox.worker import OutboxWorker
from gateway.store import LearnerRecord
from tests.adapters.contract import (
    MISSING,
    AdapterContract,
    SendContract,
    secret_for,
    sent_message,
)
from tests.fakes.aggregator import FakeAggregator

API_KEY = "atsk_0123456789abcdef0123456789abcdef"
USERNAME = "learnline"
TOKEN = "at-webhook-token-0123456789"
LEARNER = "+254712345678"


@pytest.fixture
def at_api():
    with FakeAggregator(API_KEY, USERNAME) as api:
        yield api


def settings(api: FakeAggregator, **credentials) -> CarrierSettings:
    return CarrierSettings(id="at-ke", adapter="africastalking", sender="LEARN",
                           api_base_url=api.url, webhook_token=TOKEN,
                           credentials={"username": USERNAME, "api_key": API_KEY,
                                        **credentials})


class TestAfricasTalkingSms(AdapterContract, SendContract):
    carrier_id = "at-ke"
    adapter_name = "africastalking"
    required_inbound_fields = ("from", "text", "id")
    required_status_fields = ("id", "status")
    sender_field = "from"
    learner_e164 = LEARNER
    national_sender = "0712 345678"
    national_e164 = LEARNER

    @pytest.fixture
    def carriers_file(self, tmp_path: Path, at_api, monkeypatch) -> Path:
        monkeypatch.setenv("TEST_AT_API_KEY", API_KEY)
        path = tmp_path / "carriers.toml"
        path.write_text(f"""
[carriers.at-ke]
adapter = "africastalking"
sender = "LEARN"
country = "KE"
locale = "en"  # English replies asserted; Kenya defaults to Swahili
username = "{USERNAME}"
api_key = "${{TEST_AT_API_KEY}}"
api_base_url = "{at_api.url}"
webhook_token = "{TOKEN}"
""")
        return path

    def inbound_payload(self, sender, text, message_id):
        # Africa's Talking's documented incoming-message callback.
        return {"from": sender, "to": "21525", "text": text, "id": message_id,
                "date": "2026-11-29T13:05:07.118Z", "networkCode": "63902", "linkId": ""}

    def status_payload(self, message_id):
        return {"id": message_id, "status": "Success", "phoneNumber": LEARNER,
                "networkCode": "63902", "retryCount": "0"}

    def authenticated(self, path, params, auth):
        if auth == MISSING:
            return path, {}
        return f"{path}?token={secret_for(auth, TOKEN)}", {}

    @pytest.fixture
    def send_settings(self, at_api):
        return settings(at_api)

    @pytest.fixture
    def outbound(self, at_api):
        adapter = AfricasTalkingAdapter(settings(at_api))
        return adapter, lambda: [(m["to"], m["text"]) for m in at_api.messages]

    # -- Africa's Talking specifics ----------------------------------------------------------

    @pytest.mark.parametrize("date", ["2026-11-29T13:05:07.118Z", "2026-11-29 13:05:07", ""])
    def test_both_date_formats_are_taken(self, client, store, date):
        payload = {**self.inbound_payload(LEARNER, "START", f"d-{date}"), "date": date}
        assert self.post(client, "sms", payload).status_code == 200
        assert store.db["inbound"].count == 1

    @pytest.mark.parametrize(("content_type", "text"), [
        # Declared Latin-1: raw bytes and %-escapes read in it.
        ("application/x-www-form-urlencoded; charset=ISO-8859-1", b"caf\xe9 et cr%E8me"),
        # Nothing declared and not UTF-8: read as Latin-1 rather than lose the message.
        ("application/x-www-form-urlencoded", b"caf\xe9 et cr\xe8me"),
        ("application/x-www-form-urlencoded", b"caf%C3%A9 et cr%C3%A8me"),  # plain UTF-8
        # Codecs Python knows by name that are no charset for a form: as if undeclared.
        *(("application/x-www-form-urlencoded; charset=" + name, b"caf\xe9 et cr\xe8me")
          for name in ("hex", "base64", "rot13", "zlib", "idna", "punycode", "utf-7",
                       "utf-16", "unicode-escape", "hz", "iso2022_jp", "no-such-charset")),
    ])
    def test_a_form_in_latin_1_is_read_as_sent(self, client, store, content_type, text):
        body = (b"from=%2B254712345678&to=21525&id=ATPid_l1&date=&text=" + text)
        response = client.post(f"/carriers/{self.carrier_id}/sms?token={TOKEN}", data=body,
                               headers={"Content-Type": content_type})
        assert response.status_code == 200
        [stored] = store.db.execute("SELECT phone, text FROM inbound").fetchall()
        assert stored == (LEARNER, "café et crème")
        # The form is read before the token is checked: a wrong one is a 403, never a 500.
        wrong = client.post(f"/carriers/{self.carrier_id}/sms?token=wrong-token-0123456789",
                            data=body, headers={"Content-Type": content_type})
        assert wrong.status_code == 403

    @pytest.mark.parametrize(("status", "state"), sorted(STATUS_MAP.items()))
    def test_delivery_statuses(self, client, store, status, state):
        outbox_id = sent_message(store, self.carrier_id, LEARNER, f"ATXid_{status}")
        payload = {**self.status_payload(f"ATXid_{status}"), "status": status}
        assert self.post(client, "status", payload).status_code == 200
        assert next(m for m in store.outbox() if m.id == outbox_id).status == state

    def test_a_blacklisted_learner_is_stopped(self, client, store):
        sent_message(store, self.carrier_id, LEARNER, "ATXid_bl")
        store.save_learner(LearnerRecord(LEARNER, "en", "at-ke"))
        payload = {**self.status_payload("ATXid_bl"), "status": "Failed",
                   "failureReason": "UserInBlacklist"}
        assert self.post(client, "status", payload).status_code == 200
        assert store.learner(LEARNER).stopped

    def test_send_uses_the_documented_request(self, at_api):
        result = AfricasTalkingAdapter(settings(at_api)).send(LEARNER, "Leçon 1")
        [message] = at_api.messages
        assert message["fields"] == {"username": USERNAME, "to": LEARNER, "message": "Leçon 1",
                                     "from": "LEARN"}
        assert at_api.headers[0]["apiKey"] == API_KEY
        assert at_api.headers[0]["Accept"] == "application/json"
        assert result.carrier_message_id == message["id"]

    @pytest.mark.parametrize(("status", "code", "retry", "opted_out"), [
        ("InvalidPhoneNumber", 403, False, False),
        ("InvalidSenderId", 402, False, False),
        ("UserInBlacklist", 406, False, True),
        ("InsufficientBalance", 405, True, False),
        ("CouldNotRoute", 407, True, False),
        ("GatewayError", 501, True, False),
        ("RejectedByGateway", 502, False, False),
    ])
    def test_recipient_statuses_are_classified(self, at_api, status, code, retry, opted_out):
        at_api.refuse_next(status, code)
        with pytest.raises(SendError) as caught:
            AfricasTalkingAdapter(settings(at_api)).send(LEARNER, "hello")
        assert (caught.value.retry, caught.value.opted_out) == (retry, opted_out)
        assert caught.value.code == str(code)

    @pytest.mark.parametrize(("status", "retry"), [(500, True), (503, True), (429, True),
                                                   (400, False), (404, False)])
    def test_http_errors_are_classified(self, at_api, status, retry):
        at_api.fail_next(status)
        with pytest.raises(SendError) as caught:
            AfricasTalkingAdapter(settings(at_api)).send(LEARNER, "hello")
        assert caught.value.retry is retry

    def test_a_wrong_key_keeps_the_message_for_later(self, at_api):
        adapter = AfricasTalkingAdapter(settings(at_api, api_key="wrong"))
        with pytest.raises(SendError) as caught:
            adapter.send(LEARNER, "hello")
        assert caught.value.retry and caught.value.code == "401"

    def test_the_sandbox_is_used_for_the_sandbox_username(self):
        plain = CarrierSettings(id="at", adapter="africastalking",
                                credentials={"username": "sandbox", "api_key": "k"})
        assert AfricasTalkingAdapter(plain)._api() == "https://api.sandbox.africastalking.com"
        live = CarrierSettings(id="at", adapter="africastalking",
                               credentials={"username": "learnline", "api_key": "k"})
        assert AfricasTalkingAdapter(live)._api() == "https://api.africastalking.com"

    def test_a_reply_to_a_premium_message_carries_its_link_id(
            self, app, client, store, at_api, carriers_file):
        payload = {**self.inbound_payload(LEARNER, "START", "prem-1"), "linkId": "SampleLinkId123"}
        assert self.post(client, "sms", payload).status_code == 200
        OutboxWorker(app.config["DATABASE"], load_carriers(carriers_file)).run(drain=True)
        assert at_api.messages and all(
            m["fields"].get("linkId") == "SampleLinkId123" for m in at_api.messages)
        assert at_api.messages[0]["text"].startswith("Welcome to Start freelancing")

    def test_live_check_reads_the_balance_and_sends_nothing(self, at_api):
        assert AfricasTalkingAdapter(settings(at_api)).check_credentials() == (
            "balance KES 1785.5000")
        with pytest.raises(SendError):
            AfricasTalkingAdapter(settings(at_api, api_key="wrong")).check_credentials()
        assert at_api.messages == []


# -- premium (on-demand) services ------------------------------------------------------------


def premium_carriers(at_api, extra: str = 'keyword = "LEARN"\n') -> str:
    """A premium short code on the fake API, as the operator configures it."""
    return f"""
[carriers.at-ke]
adapter = "africastalking"
sender = "21525"
country = "KE"
locale = "en"
username = "{USERNAME}"
api_key = "{API_KEY}"
api_base_url = "{at_api.url}"
webhook_token = "{TOKEN}"
premium = true
{extra}"""


def test_a_premium_reply_is_sent_as_the_sdk_sends_premium_messages(tmp_path, db_path,
                                                                   at_api):
    """Africa's Talking's SDK (SMSService.send_premium) posts to its content endpoint with
    bulkSMSMode=0, the short code as `from`, the inbound message's linkId and the keyword."""
    from gateway import create_app

    carriers = tmp_path / "premium.toml"
    carriers.write_text(premium_carriers(at_api))
    client = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers)}).test_client()
    inbound = {"from": LEARNER, "to": "21525", "text": "START", "id": "ATXid_prem1",
               "date": "2026-11-29 13:05:07", "linkId": "SampleLinkId123",
               "networkCode": "63902"}
    assert client.post(f"/carriers/at-ke/sms?token={TOKEN}", data=inbound).status_code == 200
    OutboxWorker(db_path, load_carriers(carriers)).run(drain=True)
    assert at_api.messages
    for message in at_api.messages:
        assert message["fields"] == {
            "username": USERNAME, "to": LEARNER, "message": message["text"], "from": "21525",
            "bulkSMSMode": "0", "linkId": "SampleLinkId123", "keyword": "LEARN"}


def test_premium_sends_go_to_the_content_endpoint():
    def adapter(username: str) -> AfricasTalkingAdapter:
        return AfricasTalkingAdapter(CarrierSettings(
            id="at", adapter="africastalking", sender="21525",
            credentials={"username": username, "api_key": "k", "premium": True}))

    assert adapter("learnline")._content_api() == "https://content.africastalking.com"
    assert adapter("sandbox")._content_api() == "https://api.sandbox.africastalking.com"


def test_a_bulk_carrier_still_sends_bulk(at_api):
    AfricasTalkingAdapter(settings(at_api)).send(LEARNER, "hello", reply={"linkId": "L1"})
    [message] = at_api.messages
    assert "bulkSMSMode" not in message["fields"] or message["fields"]["bulkSMSMode"] == "1"


@pytest.mark.parametrize(("extra", "key"), [
    ('premium = "yes"\n', "premium"),
    ('keyword = ""\n', "keyword"),
])
def test_premium_settings_are_checked(tmp_path, at_api, extra, key):
    from gateway.config import ConfigError

    path = tmp_path / "premium.toml"
    path.write_text(premium_carriers(at_api, extra).replace("premium = true\n", "")
                    if key == "premium" else premium_carriers(at_api, extra))
    with pytest.raises(ConfigError) as caught:
        load_carriers(path)
    assert f"key '{key}'" in str(caught.value)


@pytest.mark.parametrize(("recipient", "accepted", "retry"), [
    ({"status": "Success", "messageId": "ATXid_nocode1", "number": LEARNER}, True, None),
    ({"status": "Sent", "messageId": "ATXid_nocode2", "number": LEARNER}, True, None),
    ({"status": "InsufficientBalance", "messageId": "None", "number": LEARNER}, False, True),
    ({"status": "InvalidPhoneNumber", "messageId": "None", "number": LEARNER}, False, False),
])
def test_an_answer_without_status_code_is_judged_by_its_status(at_api, recipient, accepted,
                                                                retry):
    import json

    at_api.answer_next(201, json.dumps({"SMSMessageData": {
        "Message": "Sent to 1/1", "Recipients": [recipient]}}))
    adapter = AfricasTalkingAdapter(settings(at_api))
    if accepted:
        assert adapter.send(LEARNER, "hello").carrier_message_id == recipient["messageId"]
    else:
        with pytest.raises(SendError) as caught:
            adapter.send(LEARNER, "hello")
        assert caught.value.retry is retry
        assert recipient["status"] in caught.value.detail
