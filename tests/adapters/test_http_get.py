"""The generic HTTP adapter's `method = "GET"` and `auth` (HTTP Basic) settings
(docs/carriers.md), against a loopback API that takes its fields in the query string and
its credentials as Basic auth: a learner's message in, the reply out through the real
OutboxWorker; a wrong password fails the message without retrying and without the
password in any log line or error."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest

from carrier_adapters import SendError
from carrier_adapters.http import HttpAdapter
from gateway import create_app
from gateway.config import ConfigError, load_carriers
from gateway.outbox.worker import OutboxWorker
from gateway.store import Store
from tests.fakes.query_sms_api import SEND_PATH, QuerySmsApi

LEARNER = "+254711082111"
USERNAME = "learnline"
PASSWORD = "basic-auth-password-0123456789"
TOKEN = "query-webhook-token-0123456789"

CARRIER = """\
[carriers.query]
adapter = "http"
sender = "LEARN"
country = "KE"
webhook_token = "{token}"
api_base_url = "{api}"

[carriers.query.inbound]
from = "msisdn"
text = "message"
id = "ref"

[carriers.query.outbound]
url = "{path}"
method = "get"
body = {{ to = "{{to}}", text = "{{text}}", from = "{{sender}}", ref = "{{message_id}}" }}
auth = {{ username = "{username}", password = "${{QUERY_SMS_PASSWORD}}" }}
message_id = "message.id"
accepted_when = {{ path = "status", values = ["OK"] }}
"""


@pytest.fixture
def api():
    with QuerySmsApi(USERNAME, PASSWORD) as fake:
        yield fake


def carriers_file(tmp_path: Path, api: QuerySmsApi, monkeypatch, *,
                  password: str = PASSWORD, path: str = SEND_PATH) -> Path:
    monkeypatch.setenv("QUERY_SMS_PASSWORD", password)
    file = tmp_path / "carriers.toml"
    file.write_text(CARRIER.format(token=TOKEN, api=api.url, path=path, username=USERNAME))
    return file


def test_a_reply_goes_out_as_a_get_with_basic_auth(tmp_path: Path, db_path: Path, api,
                                                   monkeypatch):
    carriers = carriers_file(tmp_path, api, monkeypatch)
    client = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers),
                         "TESTING": True}).test_client()
    answer = client.post(f"/carriers/query/sms?token={TOKEN}",
                         data={"msisdn": LEARNER, "message": "START", "ref": "in-1"})
    assert answer.status_code == 200
    report = OutboxWorker(db_path, load_carriers(carriers)).run(drain=True)
    assert report.sent >= 1 and report.failed == 0
    first = api.requests[0]
    assert (first["method"], first["path"], first["body"]) == ("GET", SEND_PATH, b"")
    assert first["fields"]["to"] == LEARNER and first["fields"]["from"] == "LEARN"
    assert first["fields"]["text"] and first["fields"]["ref"]
    credentials = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    assert first["authorization"] == f"Basic {credentials}"
    with Store.open(db_path) as store:
        sent = store.outbox(LEARNER)
    assert [m.carrier_message_id for m in sent] == [a["id"] for a in api.accepted]
    assert all(m.status == "sent" for m in sent)


def test_a_wrong_password_fails_the_message_without_showing_the_password(
        tmp_path: Path, db_path: Path, api, monkeypatch, caplog):
    wrong = "not-the-password-9876543210"
    carriers = carriers_file(tmp_path, api, monkeypatch, password=wrong)
    adapter = HttpAdapter(load_carriers(carriers)["query"])
    assert wrong in adapter.secret_values()
    with pytest.raises(SendError) as caught:
        adapter.send(LEARNER, "Hello")
    error = caught.value
    assert (error.retry, error.code) == (False, "401")
    assert str(error) == "HTTP 401 from http://127.0.0.1"  # the host, never the URL's query
    assert wrong not in repr(adapter)
    with Store.open(db_path) as store, store.write():
        store.enqueue("query", LEARNER, "Hello", to_stopped_ok=True)
    with caplog.at_level(logging.DEBUG):
        report = OutboxWorker(db_path, load_carriers(carriers)).run(drain=True)
    assert report.failed == 1 and api.accepted == []
    assert all(wrong not in record.getMessage() for record in caplog.records)
    with Store.open(db_path) as store:
        [message] = store.outbox(LEARNER)
    assert message.status == "failed" and wrong not in (message.error or "")


def test_a_get_to_a_path_the_api_does_not_serve_fails_without_retrying(tmp_path: Path, api,
                                                                        monkeypatch):
    carriers = carriers_file(tmp_path, api, monkeypatch, path="/api/other")
    adapter = HttpAdapter(load_carriers(carriers)["query"])
    with pytest.raises(SendError) as caught:
        adapter.send(LEARNER, "Hello")
    assert (caught.value.retry, caught.value.code) == (False, "404")
    assert api.requests[0]["method"] == "GET"


@pytest.mark.parametrize(("auth", "key"), [
    ('auth = { username = "learnline" }', "outbound.auth.password"),
    ('auth = { username = 7, password = "x" }', "outbound.auth.username"),
    ('auth = { username = "learnline", password = "x", realm = "sms" }', "outbound.auth.realm"),
    ('auth = "learnline:secret"', "outbound.auth"),
])
def test_a_wrong_auth_table_is_refused_naming_file_carrier_and_key(tmp_path: Path, auth: str,
                                                                   key: str):
    text = CARRIER.format(token=TOKEN, api="https://sms.example.org", path=SEND_PATH,
                          username=USERNAME)
    text = text.replace(
        'auth = { username = "learnline", password = "${QUERY_SMS_PASSWORD}" }', auth)
    file = tmp_path / "carriers.toml"
    file.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_carriers(file, env={})
    message = str(caught.value)
    assert str(file) in message and "carrier 'query'" in message
    assert f"key '{key}'" in message
