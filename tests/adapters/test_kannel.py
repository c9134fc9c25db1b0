"""Kannel: the shared contract, plus its dlr types, codings, charsets and send errors.

Inbound messages and delivery reports are GET requests exactly as smsbox makes them
from the get-url and dlr-url Learnline documents (deploy/kannel/kannel.conf); sends go
to a loopback stand-in for smsbox's sendsms (tests/kannel/fake_sendsms.py), which
takes them as smsbox does (POST, X-Kannel headers, the text as the body). The same
adapter against a real Kannel: tests/kannel/.
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import pytest

import carrier_adapters.base
from carrier_adapters import CarrierSettings, SendError
from carrier_adapters.base import DELIVERED, FAILED, SENT, UNDELIVERED
from carrier_adapters.kannel import DLR_TYPES, KannelAdapter, dlr_url
from gateway.config import ConfigError, load_carriers
from gateway.outbox.worker import OutboxWorker
from tests.adapters.contract import (
    MISSING,
    AdapterContract,
    SendContract,
    assert_plain_error,
    outbox_status,
    secret_for,
    sent_message,
    stored_counts,
)
from tests.conftest import AUTH_TOKEN, PUBLIC_URL, carriers_toml
from tests.kannel.fake_sendsms import FakeSendsms

TOKEN = "kannel-webhook-token-0123456789"
PASSWORD = "sendsms-password-0123"
SHORTCODE = "22141"
LEARNER = "+254712345678"
KANNEL_ID = "2f5d7c1e-8a0b-4c1d-9e2f-3a4b5c6d7e8f"  # what smsbox's %I looks like
RECEIPT = ("id:0a1b2c3d sub:001 dlvrd:001 submit date:2405061501 done date:2405061502 "
           "stat:DELIVRD err:000 text:Lesson 1/6: Find a ski")


def kannel_table(api_base_url: str, **extra: object) -> str:
    lines = "".join(f"{key} = {value!r}\n".replace("'", '"') for key, value in extra.items())
    return f"""
[carriers.kannel]
adapter = "kannel"
sender = "{SHORTCODE}"
country = "KE"
api_base_url = "{api_base_url}"
username = "learnline"
password = "${{TEST_KANNEL_PASSWORD}}"
webhook_token = "{TOKEN}"
public_url = "{PUBLIC_URL}"
tps = 200
{lines}"""


def kannel_inbound(sender: str, text: str, message_id: str) -> dict[str, str]:
    """The query smsbox's get-url sends (from=%p&to=%P&text=%b&coding=%c&charset=%C&id=%I
    &time=%T) for a GSM-7 message; the token is in the URL already."""
    return {"from": sender, "to": SHORTCODE, "text": text, "coding": "0", "charset": "UTF-8",
            "id": message_id, "time": "1795959798"}


def kannel_report(message_id: str, kind: int, answer: str = RECEIPT) -> dict[str, str]:
    """The query of our dlr-url (…&id=<our id>&type=%d&answer=%A) as Kannel fills it."""
    return {"id": message_id, "type": str(kind), "answer": answer}


@pytest.fixture
def sendsms():
    with FakeSendsms() as fake:
        yield fake


def settings(api_base_url: str = "http://127.0.0.1:13013", **credentials) -> CarrierSettings:
    return CarrierSettings(
        id="kannel", adapter="kannel", sender=SHORTCODE,
        api_base_url=api_base_url, webhook_token=TOKEN,
        credentials={"username": "learnline", "password": PASSWORD, **credentials},
    )


STATUS_URL = f"{PUBLIC_URL}/carriers/kannel/status?token={TOKEN}"


class TestKannel(AdapterContract, SendContract):
    carrier_id = "kannel"
    adapter_name = "kannel"
    required_inbound_fields = ("from", "text", "id")
    required_status_fields = ("id", "type")
    sender_field = "from"
    learner_e164 = LEARNER
    # Only smsbox's own "Authorization failed" is retried (see test_send_answers...).
    retried_refusals = frozenset()
    national_sender = "0712 345 678"
    national_e164 = LEARNER

    @pytest.fixture
    def carriers_file(self, tmp_path: Path, twilio_api, sendsms, monkeypatch) -> Path:
        """The test carriers (Twilio, console) and a Kannel carrier sending to `sendsms`."""
        monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        monkeypatch.setenv("TEST_KANNEL_PASSWORD", PASSWORD)
        path = tmp_path / "carriers.toml"
        path.write_text(carriers_toml(twilio_api.url) + kannel_table(sendsms.url))
        return path

    def inbound_payload(self, sender, text, message_id):
        return kannel_inbound(sender, text, message_id)

    def status_payload(self, message_id):
        return kannel_report(message_id, 1)

    def authenticated(self, path, params, auth):
        if auth == MISSING:
            return path, {}
        token = secret_for(auth, TOKEN)
        return f"{path}?token={token}", {}

    def deliver(self, client, url, params, headers):
        """smsbox calls the get-url and the dlr-url with GET, the fields in the query."""
        return client.get(f"{url}{'&' if '?' in url else '?'}{urlencode(params)}",
                          headers=headers)

    @pytest.fixture
    def send_settings(self, carriers_file):
        return load_carriers(carriers_file)["kannel"].wire

    @pytest.fixture
    def outbound(self, carriers_file, sendsms):
        adapter = KannelAdapter(load_carriers(carriers_file)["kannel"].wire)
        return adapter, sendsms.texts

    # -- where Kannel differs from the form-POST carriers -------------------------------------

    def test_oversized_body_is_refused(self, client, store):
        # Kannel's get-url puts the text in the query; a body can only come with POST,
        # which the routes also take for this carrier.
        params = self.inbound_payload(self.learner_e164, "x" * (64 * 1024 + 1), "big-1")
        before = stored_counts(store)
        response = client.post(f"{self.path('sms')}?token={TOKEN}", data=params)
        assert response.status_code == 413
        assert_plain_error(response)
        assert stored_counts(store) == before

    @pytest.mark.parametrize("kind", ["sms", "status"])
    def test_get_is_not_allowed(self, client, kind):
        # GET is how Kannel calls; any method the adapter does not declare is refused.
        response = client.put(f"{self.path(kind)}?token={TOKEN}")
        assert response.status_code == 405
        assert_plain_error(response)

    def test_a_form_post_is_read_too(self, client, store):
        response = client.post(f"{self.path('sms')}?token={TOKEN}",
                                data=kannel_inbound(LEARNER, "START", "post-1"))
        assert response.status_code == 200
        [row] = store.db["inbound"].rows
        assert (row["carrier_message_id"], row["text"]) == ("post-1", "START")

    def test_inbound_answer_is_empty_so_smsbox_sends_nothing(self, client):
        response = self.post(client, "sms", kannel_inbound(LEARNER, "START", "empty-1"))
        assert response.status_code == 200
        assert response.get_data() == b""

    # -- inbound text in every charset smsbox uses ----------------------------------------------

    @pytest.mark.parametrize(("text", "coding", "charset", "encode"), [
        ("Habari ☺ ça va? €5 «oui»  ok", "2", "UTF-16BE", "utf-16-be"),  # UCS-2 as sent
        ("€ first, then 🎉", "2", "UTF-16BE", "utf-16-be"),  # 0x20 bytes, a surrogate pair
        ("Leçon ☺", "2", "", "utf-16-be"),  # no charset=%C: coding 2 says UTF-16BE
        ("Répondez SUITE", "0", "UTF-8", "utf-8"),
        ("Répondez SUITE", "0", "GSM", "utf-8"),  # %C for 7-bit text: smsbox gives UTF-8
        ("Répondez SUITE", "0", "WINDOWS-1252", "cp1252"),  # mo-recode's choice
        ("A&B=C#1%+ x%41", "0", "UTF-8", "utf-8"),  # URL specials survive
    ])
    def test_inbound_text_is_decoded_in_the_charset_kannel_names(self, client, store, text,
                                                                  coding, charset, encode):
        query = "&".join([
            urlencode({"token": TOKEN, "from": LEARNER, "to": SHORTCODE}),
            "text=" + quote(text.encode(encode), safe=""),
            urlencode({"coding": coding, "charset": charset, "id": "cs-1", "time": "1"}),
        ])
        response = client.get(f"{self.path('sms')}?{query}")
        assert response.status_code == 200
        [row] = store.db["inbound"].rows
        assert row["text"] == text

    @pytest.mark.parametrize(("raw", "charset", "text"), [
        (b"\\ud800 ok", "unicode_escape", "\ufffd ok"),  # half a UTF-16 pair
        (b"+2AA- ok", "utf-7", "\ufffd ok"),
    ])
    def test_a_charset_giving_half_a_character_keeps_the_message(self, client, store, raw,
                                                                 charset, text):
        """No database could store it: U+FFFD in its place, the message stored and
        answered (before: a 500 at every retry, the message never stored)."""
        query = "&".join([
            urlencode({"token": TOKEN, "from": LEARNER, "to": SHORTCODE}),
            "text=" + quote(raw, safe=""),
            urlencode({"coding": "0", "charset": charset, "id": "half-1", "time": "1"}),
        ])
        assert client.get(f"{self.path('sms')}?{query}").status_code == 200
        [row] = store.db["inbound"].rows
        assert row["text"] == text

    # -- delivery reports ------------------------------------------------------------------------

    def test_dlr_table(self):
        assert DLR_TYPES == {1: DELIVERED, 2: UNDELIVERED, 4: SENT, 8: SENT, 16: FAILED}

    @pytest.mark.parametrize(("kind", "answer", "state", "error_code"), [
        (1, RECEIPT, "delivered", None),
        (2, RECEIPT.replace("DELIVRD err:000", "UNDELIV err:00b"), "undelivered", "00b"),
        (4, "", "sent", None),  # buffered at the SMSC
        (8, "ACK/", "sent", None),  # accepted by the SMSC
        (16, "NACK/0x0000000b/Invalid Destination Address", "failed", "0x0000000b"),
        (32, "", "sent", None),  # intermediate: recorded, not tracked
    ])
    def test_dlr_types_move_the_message(self, client, store, kind, answer, state, error_code):
        outbox_id = sent_message(store, "kannel", LEARNER, "our-id-1")
        response = self.post(client, "status", kannel_report("our-id-1", kind, answer))
        assert response.status_code == 200
        assert response.get_data() == b""
        assert outbox_status(store, outbox_id) == state
        [event] = store.db["status_events"].rows
        assert (event["status"], event["state"], event["error_code"]) == (
            str(kind), DLR_TYPES.get(kind), error_code)

    def test_dlr_type_that_is_not_a_number_is_400(self, client, store):
        sent_message(store, "kannel", LEARNER, "our-id-2")
        response = self.post(client, "status", kannel_report("our-id-2", 1) | {"type": "%d"})
        assert response.status_code == 400
        assert "'type'" in response.get_data(as_text=True)
        assert store.db["status_events"].count == 0

    def test_a_send_and_its_dlr_url_find_each_other(self, app, client, store, carriers_file,
                                                     sendsms, db_path):
        """The worker sends; Kannel calls the dlr-url it was given (%d filled in)."""
        outbox_id = store.enqueue("kannel", LEARNER, "Lesson 1/6: Find a skill people pay for")
        carriers = load_carriers(carriers_file)
        OutboxWorker(db_path, carriers).run(drain=True, poll_seconds=0.01)
        [query] = sendsms.requests
        [message] = store.outbox(LEARNER)
        url = query["dlr-url"].decode()
        assert url == f"{STATUS_URL}&id={message.carrier_message_id}&type=%d&answer=%A"
        assert query["dlr-mask"] == b"31"
        called = urlsplit(url.replace("%d", "8").replace("%A", "ACK%2F"))
        assert client.get(f"{called.path}?{called.query}").status_code == 200
        assert outbox_status(store, outbox_id) == "sent"
        called = urlsplit(url.replace("%d", "1").replace("%A", ""))
        assert client.get(f"{called.path}?{called.query}").status_code == 200
        assert outbox_status(store, outbox_id) == "delivered"

    # -- sending: what smsbox is asked ---------------------------------------------------------

    def test_the_password_is_never_in_a_url(self, sendsms):
        KannelAdapter(settings(sendsms.url)).send(LEARNER, "Hi", status_url=STATUS_URL)
        assert sendsms.methods == ["POST"]  # X-Kannel headers, not a query string

    @pytest.mark.parametrize(("body", "coding", "charset", "data"), [
        ("Reply NEXT", b"0", b"UTF-8", b"Reply NEXT"),
        ("Répondez SUITE à 5 €, {ok}", b"0", b"UTF-8",  # all in GSM-7 (€ { } extended)
         "Répondez SUITE à 5 €, {ok}".encode()),
        ("Leçon 1/6 : Répondez", b"2", b"UTF-16BE", "Leçon 1/6 : Répondez".encode("utf-16-be")),
        ("Bravo 🎉", b"2", b"UTF-16BE", b"\x00B\x00r\x00a\x00v\x00o\x00 \xd8\x3c\xdf\x89"),
        ("Cafe\u0301", b"0", b"UTF-8", "Café".encode()),  # NFC: é, which GSM-7 has
    ])
    def test_coding_and_charset_follow_the_sms_text_rules(self, sendsms, body, coding,
                                                          charset, data):
        adapter = KannelAdapter(settings(sendsms.url))
        result = adapter.send(LEARNER, body, status_url=STATUS_URL)
        [query] = sendsms.requests
        assert (sendsms.methods, sendsms.paths) == (["POST"], ["/cgi-bin/sendsms"])
        assert (query["coding"], query["charset"], query["text"]) == (coding, charset, data)
        assert query["username"] == b"learnline" and query["password"] == PASSWORD.encode()
        assert query["from"] == SHORTCODE.encode() and query["to"] == LEARNER.encode()
        assert query["dlr-mask"] == b"31"
        assert query["dlr-url"].decode() == dlr_url(STATUS_URL, result.carrier_message_id)
        assert "smsc" not in query

    def test_smsc_and_dlr_mask_from_the_configuration(self, sendsms):
        adapter = KannelAdapter(settings(sendsms.url, smsc="safaricom", dlr_mask=3))
        adapter.send(LEARNER, "Hi", status_url=STATUS_URL)
        [query] = sendsms.requests
        assert (query["smsc"], query["dlr-mask"]) == (b"safaricom", b"3")

    @pytest.mark.parametrize(("dlr_mask", "status_url"), [(0, STATUS_URL), (31, None)])
    def test_no_delivery_reports_without_a_mask_or_a_status_url(self, sendsms, dlr_mask,
                                                                 status_url):
        adapter = KannelAdapter(settings(sendsms.url, dlr_mask=dlr_mask))
        assert adapter.send(LEARNER, "Hi", status_url=status_url).carrier_message_id
        [query] = sendsms.requests
        assert "dlr-mask" not in query and "dlr-url" not in query

    def test_every_send_has_its_own_id(self, sendsms):
        adapter = KannelAdapter(settings(sendsms.url))
        ids = {adapter.send(LEARNER, "Hi", status_url=STATUS_URL).carrier_message_id
               for _ in range(3)}
        assert len(ids) == 3

    @pytest.mark.parametrize(("status_url", "expected"), [
        ("https://l.example.org/carriers/k/status?token=abc",
         "https://l.example.org/carriers/k/status?token=abc&id=ID&type=%d&answer=%A"),
        ("https://l.example.org/carriers/k/status",
         "https://l.example.org/carriers/k/status?id=ID&type=%d&answer=%A"),
        # Kannel expands %-escapes in the whole URL: %C3 would become the charset
        ("https://l.example.org/carriers/k/status?token=a%2Fb%C3%A9",
         "https://l.example.org/carriers/k/status?token=a%%2Fb%%C3%%A9&id=ID&type=%d&answer=%A"),
    ])
    def test_dlr_url(self, status_url, expected):
        assert dlr_url(status_url, "ID") == expected

    # -- sending: smsbox's answers ---------------------------------------------------------------

    @pytest.mark.parametrize(("status", "body", "retry"), [
        (202, "0: Accepted for delivery", None),
        (202, "3: Queued for later delivery", None),  # no SMSC now; bearerbox keeps it
        (503, "Temporal failure, try again later.", True),
        (500, "Internal error", True),
        (202, "Something else", True),  # not smsbox's answer: keep the message
        (403, "Authorization failed for sendsms", True),  # fixed in the configuration
        (400, "Missing receiver number, rejected", False),
        (400, "Number(s) has/have been denied by white- and/or black-lists.", False),
        (400, "Sender missing and no global set, rejected", False),
        (403, "Number(s) has/have been denied by white- and/or black-lists.", False),
        (404, "Unknown request.", False),
    ])
    def test_answers_are_classified(self, sendsms, status, body, retry):
        sendsms.answer = (status, body)
        adapter = KannelAdapter(settings(sendsms.url))
        if retry is None:
            assert adapter.send(LEARNER, "Hi").carrier_message_id
            return
        with pytest.raises(SendError) as caught:
            adapter.send(LEARNER, "Hi")
        assert caught.value.retry is retry
        assert caught.value.code == str(status)
        assert not caught.value.opted_out

    def test_connection_refused_is_retried(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]  # nothing listens once closed
        adapter = KannelAdapter(settings(f"http://127.0.0.1:{port}"))
        with pytest.raises(SendError) as caught:
            adapter.send(LEARNER, "Hi")
        assert caught.value.retry is True
        # The host it tried, for the operator; never the URL (its query holds the password).
        assert caught.value.detail == (
            f"network: ConnectionError reaching http://127.0.0.1:{port}")

    def test_an_address_with_an_impossible_port_is_a_network_error_naming_it(self):
        adapter = KannelAdapter(settings("http://127.0.0.1:99999"))
        with pytest.raises(SendError) as caught:
            adapter.send(LEARNER, "Hi")
        assert caught.value.retry is True
        assert caught.value.detail == "network: InvalidURL reaching http://127.0.0.1:99999"

    def test_timeout_is_retried(self, sendsms, monkeypatch):
        monkeypatch.setattr(carrier_adapters.base, "API_TIMEOUT_SECONDS", 0.2)
        sendsms.delay = 1.0
        adapter = KannelAdapter(settings(sendsms.url))
        with pytest.raises(SendError) as caught:
            adapter.send(LEARNER, "Hi")
        assert caught.value.retry is True and "Timeout" in caught.value.detail

    # -- configuration and credentials ---------------------------------------------------------

    def test_api_base_url_is_required(self, tmp_path, monkeypatch):
        monkeypatch.setenv("TEST_KANNEL_PASSWORD", PASSWORD)
        path = tmp_path / "carriers.toml"
        path.write_text(kannel_table("http://x").replace('api_base_url = "http://x"\n', ""))
        with pytest.raises(ConfigError, match="key 'api_base_url': missing; adapter 'kannel'"):
            load_carriers(path)
        with pytest.raises(ValueError, match="api_base_url"):
            KannelAdapter(settings(None))

    @pytest.mark.parametrize("dlr_mask", [-1, 64, "x", 1.5, True])
    def test_dlr_mask_must_be_a_mask(self, dlr_mask):
        with pytest.raises(ValueError, match="dlr_mask"):
            KannelAdapter.check_config(settings(dlr_mask=dlr_mask))

    @pytest.mark.parametrize(("answer", "ok"), [
        ((400, "Missing receiver number, rejected"), True),
        ((403, "Authorization failed for sendsms"), False),
    ])
    def test_check_credentials_sends_nothing(self, sendsms, answer, ok):
        sendsms.answer = answer
        adapter = KannelAdapter(settings(sendsms.url))
        if ok:
            assert "learnline" in adapter.check_credentials()
        else:
            with pytest.raises(SendError):
                adapter.check_credentials()
        [query] = sendsms.requests
        assert "to" not in query and query["text"] == b""
        assert (query["username"], query["password"]) == (b"learnline", PASSWORD.encode())
