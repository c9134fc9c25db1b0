"""The generic HTTP adapter: the shared contract twice, configured only in TOML.

- `TestHttpAdapter` configures it to reproduce Africa's Talking's SMS wire format:
  inbound form (from, to, text, id, date, linkId), delivery reports (id, status,
  phoneNumber, networkCode, failureReason), and the send API (POST
  /version1/messaging, `apiKey` header, form username/to/message/from, answered with
  `SMSMessageData.Recipients`), against the loopback tests/fakes/aggregator.py.
- `TestHttpJsonAdapter` configures a made-up aggregator with nested JSON both ways,
  to show dotted paths reading webhooks and answers and building request bodies.
- Then the start-up checks (file, carrier, key), end to end through the app and the
  real OutboxWorker, and that no secret reaches a log line or an error.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path

import pytest

from carrier_adapters import SendError
from carrier_adapters.http import HttpAdapter
from gateway import create_app
from gateway.config import ConfigError, load_carriers
from gateway.outbox.worker import OutboxWorker
from gateway.store import Store
from tests.adapters.contract import (
    MISSING,
    RIGHT,
    AdapterContract,
    SendContract,
    outbox_status,
    secret_for,
    sent_message,
)
from tests.fakes.aggregator import FakeAggregator

LEARNER = "+254711082000"
SHORTCODE = "22384"
AT_API_KEY = "atsk_c0ffee0123456789abcdef0123456789abcdef0123456789"
AT_TOKEN = "at-webhook-token-0123456789"
KILIMO_KEY = "kilimo-bearer-key-9876543210fedcba"
KILIMO_TOKEN = "kilimo-webhook-token-0123456789"
PUBLIC_URL = "https://learnline.example.org"

# Africa's Talking's SMS API, reproduced by the generic adapter: every line an operator
# writes to add the carrier (the api_base_url is the loopback fake's, where production
# says https://api.africastalking.com).
AT_CARRIER = """\
[carriers.at-ke]
adapter = "http"
sender = "{sender}"
country = "KE"
webhook_token = "${{AT_WEBHOOK_TOKEN}}"
api_base_url = "{api_base_url}"

[carriers.at-ke.inbound]
from = "from"
to = "to"
text = "text"
id = "id"

[carriers.at-ke.status]
id = "id"
status = "status"
error = "failureReason"
opted_out = ["UserInBlacklist"]

[carriers.at-ke.status.map]
Success = "delivered"
Sent = "sent"
Submitted = "sent"
Buffered = "sent"
Rejected = "failed"
Failed = "failed"
Expired = "undelivered"

[carriers.at-ke.outbound]
url = "/version1/messaging"
body = {{ username = "learnline", to = "{{to}}", message = "{{text}}", from = "{{sender}}" }}
headers = {{ apiKey = "${{AT_API_KEY}}", Accept = "application/json" }}
success_status = [201]
retry_status = [401, 429, 500, 502, 503, 504]
message_id = "SMSMessageData.Recipients.0.messageId"
accepted_when = {{ path = "SMSMessageData.Recipients.0.status", values = ["Success"] }}
retry_when = {{ path = "SMSMessageData.Recipients.0.status", values = ["InsufficientBalance"] }}
opted_out_when = {{ path = "SMSMessageData.Recipients.0.status", values = ["UserInBlacklist"] }}
"""

# A made-up aggregator with nested JSON webhooks and a JSON send API.
KILIMO_CARRIER = """\
[carriers.kilimo]
adapter = "http"
sender = "LEARN"
country = "KE"
webhook_token = "${{KILIMO_WEBHOOK_TOKEN}}"
public_url = "{public_url}"

[carriers.kilimo.inbound]
format = "json"
from = "message.sender"
to = "message.recipient"
text = "message.body"
id = "message.ref"

[carriers.kilimo.status]
format = "json"
id = "event.ref"
status = "event.state"
error = "event.error.code"
opted_out = ["SUBSCRIBER_OPTED_OUT"]
map = {{ DELIVERED = "delivered", SENT_TO_OPERATOR = "sent", EXPIRED = "undelivered", \
REJECTED = "failed" }}

[carriers.kilimo.outbound]
url = "{api_base_url}/v2/sms"
format = "json"
headers = {{ Authorization = "Bearer ${{KILIMO_API_KEY}}" }}
message_id = "result.messages.0.ref"
accepted_when = {{ path = "result.messages.0.state", values = ["ACCEPTED"] }}

[carriers.kilimo.outbound.body]
sender = "{{sender}}"
destination = {{ msisdn = "{{to}}" }}
content = {{ body = "{{text}}", encoding = "auto" }}
callback = {{ url = "{{status_url}}", reference = "{{message_id}}" }}
"""


def toml_lines(text: str) -> int:
    """Lines an operator writes: neither blank nor comments."""
    return sum(1 for line in text.splitlines()
               if line.strip() and not line.strip().startswith("#"))


def at_toml(api_base_url: str, sender: str = SHORTCODE, **outbound: str) -> str:
    """The Africa's Talking carrier, with extra `[outbound]` keys (TOML values)."""
    text = AT_CARRIER.format(api_base_url=api_base_url, sender=sender)
    return text + "".join(f"{key} = {value}\n" for key, value in outbound.items())


@pytest.fixture
def aggregator():
    """Africa's Talking's and Kilimo's send APIs on loopback."""
    with FakeAggregator(AT_API_KEY) as fake:
        yield fake


@pytest.fixture
def secrets_env(monkeypatch):
    for name, value in {"AT_WEBHOOK_TOKEN": AT_TOKEN, "AT_API_KEY": AT_API_KEY,
                        "KILIMO_WEBHOOK_TOKEN": KILIMO_TOKEN,
                        "KILIMO_API_KEY": AT_API_KEY}.items():
        monkeypatch.setenv(name, value)


def write_carriers(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "carriers.toml"
    path.write_text(text, encoding="utf-8")
    return path


def at_report(message_id: str, status: str, failure_reason: str = "") -> dict[str, str]:
    """A delivery report exactly as Africa's Talking posts it (failureReason on failures)."""
    report = {"id": message_id, "status": status, "phoneNumber": LEARNER,
              "networkCode": "63902", "retryCount": "0"}
    if failure_reason or status in ("Rejected", "Failed"):
        report["failureReason"] = failure_reason or "DeliveryFailure"
    return report


def with_token(path: str, token: str, auth: str) -> str:
    if auth == MISSING:
        return path
    return f"{path}?token={secret_for(auth, token)}"


class TestHttpAdapter(AdapterContract, SendContract):
    """The generic adapter speaking Africa's Talking's SMS wire format."""

    carrier_id = "at-ke"
    adapter_name = "http"
    required_inbound_fields = ("from", "to", "text", "id")
    required_status_fields = ("id", "status")
    sender_field = "from"
    learner_e164 = LEARNER
    retried_refusals = frozenset({401})  # as its retry_status says
    national_sender = "0711 082 000"
    national_e164 = LEARNER

    @pytest.fixture
    def carriers_file(self, tmp_path, aggregator, secrets_env):
        return write_carriers(tmp_path, at_toml(aggregator.url))

    def inbound_payload(self, sender, text, message_id):
        # Africa's Talking's documented incoming-message callback.
        return {"from": sender, "to": SHORTCODE, "text": text, "id": message_id,
                "date": "2024-05-06 15:02:11", "linkId": "SampleLinkId123"}

    def status_payload(self, message_id):
        return at_report(message_id, "Success")

    def authenticated(self, path, params, auth):
        return with_token(path, AT_TOKEN, auth), {}

    @pytest.fixture
    def adapter(self, carriers_file) -> HttpAdapter:
        return HttpAdapter(load_carriers(carriers_file)["at-ke"].wire)

    @pytest.fixture
    def send_settings(self, carriers_file):
        return load_carriers(carriers_file)["at-ke"].wire

    @pytest.fixture
    def outbound(self, adapter, aggregator):
        return adapter, lambda: [(m["to"], m["text"]) for m in aggregator.messages]

    # -- delivery reports --------------------------------------------------------------------

    @pytest.mark.parametrize(("status", "outbox_after"), [
        ("Success", "delivered"),
        ("Sent", "sent"),
        ("Submitted", "sent"),
        ("Buffered", "sent"),
        ("Rejected", "failed"),
        ("Failed", "failed"),
        ("Expired", "undelivered"),
        ("success", "delivered"),     # compared ignoring case
        ("AbsentSubscriber", "sent"),  # not in the map: recorded, moves nothing
    ])
    def test_every_status(self, client, store, status, outbox_after):
        outbox_id = sent_message(store, self.carrier_id, LEARNER, "ATXid_status1")
        response = self.post(client, "status", at_report("ATXid_status1", status))
        assert response.status_code == 200
        assert outbox_status(store, outbox_id) == outbox_after
        [event] = store.db["status_events"].rows
        assert (event["outbox_id"], event["status"]) == (outbox_id, status)

    def test_failure_reason_is_kept_with_the_failure(self, client, store):
        outbox_id = sent_message(store, self.carrier_id, LEARNER, "ATXid_fail1")
        self.post(client, "status", at_report("ATXid_fail1", "Failed", "AbsentSubscriber"))
        [message] = [m for m in store.outbox() if m.id == outbox_id]
        assert (message.status, message.error) == ("failed", "AbsentSubscriber")

    def test_blacklisted_learner_is_stopped(self, client, store, db_path, carriers_file):
        assert self.post(client, "sms", self.inbound_payload(LEARNER, "START",
                                                             "bl-1")).status_code == 200
        OutboxWorker(db_path, load_carriers(carriers_file)).run(drain=True)
        first = store.outbox(LEARNER)[0]
        self.post(client, "status", at_report(first.carrier_message_id, "Rejected",
                                              "UserInBlacklist"))
        assert outbox_status(store, first.id) == "failed"
        assert store.learner(LEARNER).stopped

    def test_repeated_field_uses_its_first_value(self, client, store):
        params = self.inbound_payload(LEARNER, "START", "rep-1")
        url, _ = self.authenticated(self.path("sms"), params, RIGHT)
        response = client.post(url, data={**params, "text": ["START", "STOP"]})
        assert response.status_code == 200
        [row] = store.db["inbound"].rows
        assert row["text"] == "START"

    # -- sending -----------------------------------------------------------------------------

    def test_send_speaks_africas_talking(self, adapter, aggregator):
        result = adapter.send(LEARNER, "Lesson 1/6", status_url=PUBLIC_URL + "/x")
        [message] = aggregator.messages
        assert result.carrier_message_id == message["id"]
        assert message["fields"] == {"username": "learnline", "to": LEARNER,
                                     "message": "Lesson 1/6", "from": SHORTCODE}
        [headers] = aggregator.headers
        assert headers["apiKey"] == AT_API_KEY
        assert headers["Accept"] == "application/json"
        assert headers["Content-Type"] == "application/x-www-form-urlencoded"

    def test_without_a_sender_the_from_field_is_left_out(self, tmp_path, aggregator,
                                                        secrets_env):
        carriers = load_carriers(write_carriers(tmp_path, at_toml(aggregator.url, sender="")))
        HttpAdapter(carriers["at-ke"].wire).send(LEARNER, "Reply NEXT")
        assert aggregator.messages[0]["fields"] == {"username": "learnline", "to": LEARNER,
                                                    "message": "Reply NEXT"}

    @pytest.mark.parametrize(("fail", "retry", "opted_out", "code"), [
        (("fail_next", 500), True, False, "500"),
        (("fail_next", 503), True, False, "503"),
        (("fail_next", 429), True, False, "429"),
        (("fail_next", 400), False, False, "400"),
        (("fail_next", 404), False, False, "404"),
        (("refuse_next", "InvalidPhoneNumber", 403), False, False, "InvalidPhoneNumber"),
        (("refuse_next", "UserInBlacklist", 406), False, True, "UserInBlacklist"),
        (("refuse_next", "InsufficientBalance", 405), True, False, "InsufficientBalance"),
        (("refuse_next", "UnsupportedNumberType", 404), False, False, "UnsupportedNumberType"),
    ])
    def test_send_errors_are_classified(self, adapter, aggregator, fail, retry, opted_out,
                                        code):
        method, *args = fail
        getattr(aggregator, method)(*args)
        with pytest.raises(SendError) as caught:
            adapter.send(LEARNER, "Reply NEXT")
        error = caught.value
        assert (error.retry, error.opted_out, error.code) == (retry, opted_out, code)
        assert code in error.detail
        assert aggregator.messages == []

    def test_wrong_api_key_is_retried_until_the_operator_fixes_it(self, tmp_path, aggregator,
                                                                  secrets_env, monkeypatch):
        monkeypatch.setenv("AT_API_KEY", "atsk_wrong_key_0123456789")
        carriers = load_carriers(write_carriers(tmp_path, at_toml(aggregator.url)))
        with pytest.raises(SendError) as caught:
            HttpAdapter(carriers["at-ke"].wire).send(LEARNER, "Reply NEXT")
        assert (caught.value.code, caught.value.retry) == ("401", True)
        assert aggregator.messages == []

    def test_401_fails_where_retry_status_does_not_list_it(self, tmp_path, aggregator,
                                                          secrets_env, monkeypatch):
        monkeypatch.setenv("AT_API_KEY", "atsk_wrong_key_0123456789")
        text = at_toml(aggregator.url).replace("retry_status = [401, ", "retry_status = [")
        carriers = load_carriers(write_carriers(tmp_path, text))
        with pytest.raises(SendError) as caught:
            HttpAdapter(carriers["at-ke"].wire).send(LEARNER, "Reply NEXT")
        assert (caught.value.code, caught.value.retry) == ("401", False)

    @pytest.mark.parametrize(("status", "body", "content_type", "detail"), [
        (201, "<html>Maintenance</html>", "text/html",
         "not JSON (expected 'SMSMessageData.Recipients.0.messageId')"),
        (201, '{"SMSMessageData": {"Message": "InvalidSenderId", "Recipients": []}}',
         "application/json", "not accepted: SMSMessageData.Recipients.0.status = nothing"),
        (201, '{"SMSMessageData": {"Recipients": [{"status": "Success", "statusCode": 101}]}}',
         "application/json", "no message id at 'SMSMessageData.Recipients.0.messageId'"),
        (201, '{"SMSMessageData": {"Recipients": [{"status": "Success", "messageId": ""}]}}',
         "application/json", "no message id at 'SMSMessageData.Recipients.0.messageId'"),
        (200, '{"SMSMessageData": {}}', "application/json", "HTTP 200"),
    ])
    def test_an_answer_without_a_message_id_fails_clearly(self, adapter, aggregator, status,
                                                          body, content_type, detail):
        aggregator.answer_next(status, body, content_type)
        with pytest.raises(SendError) as caught:
            adapter.send(LEARNER, "Reply NEXT")
        assert caught.value.retry is False  # it may have been sent: never twice
        assert detail in caught.value.detail

    def test_connection_refused_is_retried(self, tmp_path, secrets_env):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        carriers = load_carriers(write_carriers(tmp_path, at_toml(f"http://127.0.0.1:{port}")))
        with pytest.raises(SendError) as caught:
            HttpAdapter(carriers["at-ke"].wire).send(LEARNER, "Reply NEXT")
        assert caught.value.retry is True
        assert "ConnectionError" in caught.value.detail

    def test_an_aggregator_that_never_answers_is_retried(self, tmp_path, aggregator,
                                                         secrets_env):
        carriers = load_carriers(write_carriers(tmp_path, at_toml(aggregator.url,
                                                                  timeout="0.2")))
        aggregator.hang_next(1.0)
        started = time.monotonic()
        with pytest.raises(SendError) as caught:
            HttpAdapter(carriers["at-ke"].wire).send(LEARNER, "Reply NEXT")
        assert time.monotonic() - started < 0.9
        assert aggregator.received.is_set()
        assert (caught.value.retry, caught.value.code) == (True, "timeout")

    # -- end to end --------------------------------------------------------------------------

    def test_start_reaches_the_aggregator_and_a_report_marks_it_delivered(
            self, client, store, db_path, carriers_file, aggregator):
        response = self.post(client, "sms", self.inbound_payload(LEARNER, "START",
                                                                 "ATPid_e2e1"))
        assert response.status_code == 200
        queued = [m.body for m in store.outbox(LEARNER)]
        assert queued and "1/" in queued[0]  # the course's first lesson card

        report = OutboxWorker(db_path, load_carriers(carriers_file)).run(drain=True)
        assert (report.sent, report.retried, report.failed) == (len(queued), 0, 0)
        assert aggregator.texts_to(LEARNER) == queued
        first = store.outbox(LEARNER)[0]
        assert (first.status, first.carrier_message_id) == ("sent",
                                                            aggregator.messages[0]["id"])

        report_response = self.post(client, "status",
                                    at_report(first.carrier_message_id, "Success"))
        assert report_response.status_code == 200
        assert outbox_status(store, first.id) == "delivered"

    def test_worker_retries_then_delivers_and_logs_no_secret(
            self, client, store, db_path, carriers_file, aggregator, caplog):
        caplog.set_level(logging.DEBUG)
        self.post(client, "sms", self.inbound_payload(LEARNER, "START", "ATPid_log1"))
        aggregator.fail_next(503)
        worker = OutboxWorker(db_path, load_carriers(carriers_file))
        worker.retry = type(worker.retry)(base_delay=0.01, max_delay=0.01)
        worker.run(drain=True)
        time.sleep(0.05)  # the retry falls due
        report = worker.run(drain=True)
        assert (report.retried, report.failed, report.sent) == (1, 0, 1)
        assert len(aggregator.messages) == len(store.outbox(LEARNER))
        assert "HTTP 503" in caplog.text
        for secret in (AT_API_KEY, AT_TOKEN):
            assert secret not in caplog.text
        assert AT_API_KEY not in repr(HttpAdapter(load_carriers(carriers_file)["at-ke"].wire))


def nested(flat: dict[str, str]) -> dict:
    """{"message.sender": "x"} -> {"message": {"sender": "x"}}."""
    document: dict = {}
    for dotted, value in flat.items():
        node = document
        *parents, last = dotted.split(".")
        for name in parents:
            node = node.setdefault(name, {})
        node[last] = value
    return document


class TestHttpJsonAdapter(AdapterContract, SendContract):
    """The generic adapter speaking a made-up aggregator's nested JSON, both ways.

    Payloads are written flat with dotted names (so the contract can delete one
    field) and posted as the nested JSON document they name."""

    carrier_id = "kilimo"
    adapter_name = "http"
    required_inbound_fields = ("message.sender", "message.recipient", "message.body",
                               "message.ref")
    required_status_fields = ("event.ref", "event.state")
    sender_field = "message.sender"
    learner_e164 = LEARNER
    retried_refusals = frozenset()  # only the table's retry_status is retried
    national_sender = "0711082000"
    national_e164 = LEARNER

    @pytest.fixture
    def carriers_file(self, tmp_path, aggregator, secrets_env):
        return write_carriers(tmp_path, KILIMO_CARRIER.format(api_base_url=aggregator.url,
                                                              public_url=PUBLIC_URL))

    def inbound_payload(self, sender, text, message_id):
        return {"message.sender": sender, "message.recipient": "LEARN",
                "message.body": text, "message.ref": message_id,
                "message.received_at": "2024-05-06T15:02:11Z", "account": "learnline"}

    def status_payload(self, message_id):
        return {"event.ref": message_id, "event.state": "DELIVERED",
                "event.at": "2024-05-06T15:02:15Z"}

    def authenticated(self, path, params, auth):
        return with_token(path, KILIMO_TOKEN, auth), {}

    def deliver(self, client, url, params, headers):
        return client.post(url, json=nested(params), headers=headers)

    @pytest.fixture
    def adapter(self, carriers_file) -> HttpAdapter:
        return HttpAdapter(load_carriers(carriers_file)["kilimo"].wire)

    @pytest.fixture
    def send_settings(self, carriers_file):
        return load_carriers(carriers_file)["kilimo"].wire

    @staticmethod
    def adapter_for(settings, base_url):
        """Kilimo's table names its whole URL (the other way to write it): rewrite it."""
        import tempfile

        path = write_carriers(Path(tempfile.mkdtemp()), KILIMO_CARRIER.format(
            api_base_url=base_url, public_url=PUBLIC_URL))
        return HttpAdapter(load_carriers(path)["kilimo"].wire)

    @pytest.fixture
    def outbound(self, adapter, aggregator):
        return adapter, lambda: [(m["to"], m["text"]) for m in aggregator.messages]

    def test_send_builds_nested_json(self, adapter, aggregator):
        status_url = f"{PUBLIC_URL}/carriers/kilimo/status?token={KILIMO_TOKEN}"
        result = adapter.send(LEARNER, "Leçon 1/6", status_url=status_url)
        [message] = aggregator.messages
        assert result.carrier_message_id == message["id"]
        assert message["id"].startswith("KLM-")
        body = message["fields"]
        reference = body["callback"].pop("reference")
        assert len(reference) == 32  # our own id, {message_id}
        assert body == {"sender": "LEARN", "destination": {"msisdn": LEARNER},
                        "content": {"body": "Leçon 1/6", "encoding": "auto"},
                        "callback": {"url": status_url}}
        assert aggregator.headers[0]["Authorization"] == f"Bearer {AT_API_KEY}"

    def test_without_a_status_url_the_callback_url_is_left_out(self, adapter, aggregator):
        adapter.send(LEARNER, "Reply NEXT")
        assert set(aggregator.messages[0]["fields"]["callback"]) == {"reference"}

    @pytest.mark.parametrize("sender", [254711082000, 254711082000.0])
    def test_numbers_in_json_are_read_as_text(self, client, store, sender):
        """A number as a JSON integer, or a float with nothing after the point (as some
        JavaScript serialises it): the same number, never one with an extra 0."""
        url, _ = self.authenticated(self.path("sms"), {}, RIGHT)
        response = client.post(url, json={"message": {"sender": sender, "body": "START",
                                                      "ref": 9001.0, "recipient": 22384}})
        assert response.status_code == 200
        [row] = store.db["inbound"].rows
        assert (row["carrier_message_id"], row["phone"]) == ("9001", LEARNER)

    @pytest.mark.parametrize(("body", "expected"), [
        (b"from=%2B254711082000&text=START", "not JSON"),
        (b'["not", "an", "object"]', "not a JSON object"),
        # Python's NaN and Infinity are not JSON: refused, not stored as "nan" or "inf".
        (b'{"message": {"sender": "+254711082000", "body": NaN, "ref": "n1"}}', "not JSON"),
        (b'{"message": {"sender": "+254711082000", "body": "START", "ref": Infinity}}',
         "not JSON"),
        (json.dumps({"message": {"sender": {"msisdn": LEARNER}, "body": "START",
                                 "ref": "x1", "recipient": "LEARN"}}).encode(),
         "'message.sender'"),
    ])
    def test_unusable_json_is_a_400(self, client, store, body, expected):
        url, _ = self.authenticated(self.path("sms"), {}, RIGHT)
        response = client.post(url, data=body, content_type="application/json")
        assert response.status_code == 400
        assert expected in response.get_data(as_text=True)
        assert store.db["inbound"].count == 0

    def test_error_code_in_a_nested_report_opts_out(self, client, store, db_path,
                                                    carriers_file):
        self.post(client, "sms", self.inbound_payload(LEARNER, "START", "k-opt-1"))
        OutboxWorker(db_path, load_carriers(carriers_file)).run(drain=True)
        first = store.outbox(LEARNER)[0]
        self.post(client, "status", {"event.ref": first.carrier_message_id,
                                     "event.state": "REJECTED",
                                     "event.error.code": "SUBSCRIBER_OPTED_OUT"})
        assert outbox_status(store, first.id) == "failed"
        assert store.learner(LEARNER).stopped

    def test_start_reaches_the_aggregator_with_the_status_callback(
            self, client, store, db_path, carriers_file, aggregator):
        assert self.post(client, "sms", self.inbound_payload(
            LEARNER, "START", "k-e2e-1")).status_code == 200
        report = OutboxWorker(db_path, load_carriers(carriers_file)).run(drain=True)
        assert report.sent == len(store.outbox(LEARNER)) >= 1
        assert aggregator.texts_to(LEARNER) == [m.body for m in store.outbox(LEARNER)]
        callback = aggregator.messages[0]["fields"]["callback"]["url"]
        assert callback == f"{PUBLIC_URL}/carriers/kilimo/status?token={KILIMO_TOKEN}"
        first = store.outbox(LEARNER)[0]
        self.post(client, "status", {"event.ref": first.carrier_message_id,
                                     "event.state": "DELIVERED"})
        assert outbox_status(store, first.id) == "delivered"


# -- the configuration -------------------------------------------------------------------------

def test_the_africas_talking_configuration_is_short():
    # The figure reported for "how many lines adding a generic-configured carrier took".
    assert toml_lines(at_toml("https://api.africastalking.com")) == 34


def test_good_configuration_expands_env_inside_nested_tables(tmp_path, secrets_env):
    carriers = load_carriers(write_carriers(tmp_path, at_toml("https://api.example.org")))
    outbound = carriers["at-ke"].credentials["outbound"]
    assert outbound["headers"] == {"apiKey": AT_API_KEY, "Accept": "application/json"}
    spec = HttpAdapter(carriers["at-ke"].wire).spec
    assert spec.outbound.url == "https://api.example.org/version1/messaging"
    assert spec.status.map["success"] == "delivered"


MINIMAL = """\
[carriers.local]
adapter = "http"
webhook_token = "local-token-0123456789"
[carriers.local.inbound]
from = "from"
text = "text"
[carriers.local.outbound]
url = "https://sms.example.org/send"
body = { to = "{to}", text = "{text}", ref = "{message_id}" }
"""

BAD_HTTP_CARRIERS = [
    # (case, replace this, with this, key the message must name)
    ("no inbound table", '[carriers.local.inbound]\nfrom = "from"\ntext = "text"\n', "",
     "inbound"),
    ("unknown inbound format", 'from = "from"\n', 'format = "xml"\nfrom = "from"\n',
     "inbound.format"),
    ("missing inbound from", 'from = "from"\n', "", "inbound.from"),
    ("missing inbound text", 'text = "text"\n', "", "inbound.text"),
    ("empty field name", 'from = "from"\n', 'from = ""\n', "inbound.from"),
    ("unknown inbound key", 'from = "from"\n', 'from = "from"\nsender = "x"\n',
     "inbound.sender"),
    ("bad dotted path", 'from = "from"\n', 'format = "json"\nfrom = "message..sender"\n',
     "inbound.from"),
    ("path with brackets", 'from = "from"\n', 'format = "json"\nfrom = "messages[0].from"\n',
     "inbound.from"),
    ("missing outbound url", 'url = "https://sms.example.org/send"\n', "", "outbound.url"),
    ("outbound url not http", 'url = "https://sms.example.org/send"\n',
     'url = "ftp://sms.example.org"\n', "outbound.url"),
    ("outbound path without api_base_url", 'url = "https://sms.example.org/send"\n',
     'url = "/send"\n', "outbound.url"),
    ("unknown outbound format", 'url = "https://sms.example.org/send"\n',
     'url = "https://sms.example.org/send"\nformat = "xml"\n', "outbound.format"),
    ("unknown method", 'url = "https://sms.example.org/send"\n',
     'url = "https://sms.example.org/send"\nmethod = "DELETE"\n', "outbound.method"),
    ("GET with json", 'url = "https://sms.example.org/send"\n',
     'url = "https://sms.example.org/send"\nmethod = "GET"\nformat = "json"\n',
     "outbound.format"),
    ("unknown placeholder", '"{text}"', '"{body}"', "outbound.body"),
    ("body never sends the text", 'text = "{text}", ', "", "outbound.body"),
    ("nested table in a form body", 'to = "{to}"', 'to = { msisdn = "{to}" }',
     "outbound.body.to"),
    ("no message id anywhere", ', ref = "{message_id}"', "", "outbound.message_id"),
    ("bad message id path", ', ref = "{message_id}" }\n', ' }\nmessage_id = "data..id"\n',
     "outbound.message_id"),
    ("status code out of range", 'url = "https://sms.example.org/send"\n',
     'url = "https://sms.example.org/send"\nsuccess_status = [2000]\n',
     "outbound.success_status"),
    ("retry status also success", 'url = "https://sms.example.org/send"\n',
     'url = "https://sms.example.org/send"\nretry_status = [200, 500]\n',
     "outbound.retry_status"),
    ("timeout zero", 'url = "https://sms.example.org/send"\n',
     'url = "https://sms.example.org/send"\ntimeout = 0\n', "outbound.timeout"),
    ("accepted_when without path", 'url = "https://sms.example.org/send"\n',
     'url = "https://sms.example.org/send"\naccepted_when = { values = ["OK"] }\n',
     "outbound.accepted_when.path"),
    ("unknown outbound key", 'url = "https://sms.example.org/send"\n',
     'url = "https://sms.example.org/send"\nurl_template = "x"\n', "outbound.url_template"),
    ("status map to no outbox state", "[carriers.local.outbound]",
     '[carriers.local.status]\nid = "id"\nstatus = "stat"\n'
     '[carriers.local.status.map]\nDELIVRD = "done"\n[carriers.local.outbound]',
     "status.map.DELIVRD"),
    ("status without id", "[carriers.local.outbound]",
     '[carriers.local.status]\nstatus = "stat"\n[carriers.local.outbound]', "status.id"),
    ("opted_out without error", "[carriers.local.outbound]",
     '[carriers.local.status]\nid = "id"\nstatus = "stat"\nopted_out = ["BLIST"]\n'
     "[carriers.local.outbound]", "status.opted_out"),
    ("unset env in nested headers", 'url = "https://sms.example.org/send"\n',
     'url = "https://sms.example.org/send"\nheaders = { "X-Key" = "${LOCAL_SMS_KEY}" }\n',
     "outbound.headers.X-Key"),
]


@pytest.mark.parametrize(("old", "new", "key"), [case[1:] for case in BAD_HTTP_CARRIERS],
                         ids=[case[0] for case in BAD_HTTP_CARRIERS])
def test_bad_http_carrier_is_refused_naming_file_carrier_and_key(tmp_path, old, new, key):
    assert old in MINIMAL
    text = MINIMAL.replace(old, new, 1)
    path = write_carriers(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_carriers(path, env={})
    message = str(caught.value)
    assert str(path) in message
    assert "carrier 'local'" in message
    assert f"key '{key}'" in message


def test_inbound_given_as_a_value_is_refused(tmp_path):
    text = MINIMAL.replace('[carriers.local.inbound]\nfrom = "from"\ntext = "text"\n', "")
    text = text.replace('adapter = "http"\n', 'adapter = "http"\ninbound = "form"\n')
    path = write_carriers(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_carriers(path, env={})
    assert "key 'inbound': must be a table [carriers.local.inbound]" in str(caught.value)


def test_unset_env_names_the_variable_not_a_value(tmp_path):
    text = MINIMAL.replace('url = "https://sms.example.org/send"\n',
                           'url = "https://sms.example.org/send"\n'
                           'headers = { "X-Key" = "${LOCAL_SMS_KEY}" }\n')
    with pytest.raises(ConfigError) as caught:
        load_carriers(write_carriers(tmp_path, text), env={"OTHER": "x"})
    assert "LOCAL_SMS_KEY" in str(caught.value)


def test_a_carrier_without_status_table_answers_reports_400(tmp_path, db_path):
    client = create_app({"DATABASE": str(db_path),
                         "CARRIERS_FILE": str(write_carriers(tmp_path, MINIMAL))}).test_client()
    response = client.post("/carriers/local/status?token=local-token-0123456789",
                           data={"id": "x", "status": "DELIVRD"})
    assert response.status_code == 400
    assert "no [status] table" in response.get_data(as_text=True)


def test_without_id_every_message_is_new_and_our_reference_is_the_message_id(tmp_path,
                                                                             db_path):
    carriers = load_carriers(write_carriers(tmp_path, MINIMAL))
    adapter = HttpAdapter(carriers["local"].wire)
    assert adapter.spec.inbound.id is None and adapter.spec.outbound.message_id is None
    client = create_app({"DATABASE": str(db_path),
                         "CARRIERS_FILE": str(write_carriers(tmp_path, MINIMAL))}).test_client()
    for _ in range(2):
        response = client.post("/carriers/local/sms?token=local-token-0123456789",
                               data={"from": LEARNER, "text": "HELP"})
        assert response.status_code == 200
    with Store.open(db_path) as store:
        assert store.db["inbound"].count == 2


def test_our_reference_is_the_message_id_when_the_answer_has_none(tmp_path, aggregator,
                                                                  secrets_env):
    text = KILIMO_CARRIER.format(api_base_url=aggregator.url, public_url=PUBLIC_URL)
    text = text.replace('message_id = "result.messages.0.ref"\n', "")
    carriers = load_carriers(write_carriers(tmp_path, text))
    result = HttpAdapter(carriers["kilimo"].wire).send(LEARNER, "Reply NEXT")
    assert result.carrier_message_id == aggregator.messages[0]["fields"]["callback"][
        "reference"]
