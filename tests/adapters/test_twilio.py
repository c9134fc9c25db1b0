"""Twilio: the shared contract, plus its signatures, TwiML, status callbacks and send errors.

Payloads are Twilio's real webhook forms (field for field as Twilio posts them);
sends go to a loopback server speaking Twilio's Messages API (tests/fakes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import socket

import pytest

from carrier_adapters import CarrierSettings, SendError, WebRequest
from carrier_adapters.twilio import MESSAGE_SID, TwilioAdapter
from gateway import create_app
from gateway.config import load_carriers
from gateway.outbox.worker import OutboxWorker
from tests.adapters.contract import (
    MISSING,
    AdapterContract,
    SendContract,
    outbox_status,
    secret_for,
    sent_message,
)
from tests.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    PUBLIC_URL,
    TWILIO_SENDER,
    carriers_toml,
)
from tests.fakes.signing import twilio_signature

LEARNER = "+2348030000000"
SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
SHA256_SETTINGS = "key=webhooks_sharedkey_0123456789abcdef,algorithm=HMAC_SHA256"


def as_sid(name: str) -> str:
    """A Twilio message sid (SM and 32 hex digits) standing for a test's short name."""
    if MESSAGE_SID.fullmatch(name):
        return name
    return "SM" + hashlib.md5(name.encode()).hexdigest()


def twilio_inbound(sender: str, body: str, sid: str) -> dict[str, str]:
    """An inbound SMS exactly as Twilio posts it (a Nigerian learner to our number)."""
    sid = as_sid(sid)
    return {
        "ToCountry": "NG", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0",
        "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received",
        "FromCity": "LAGOS", "Body": body, "FromCountry": "NG", "To": TWILIO_SENDER,
        "MessagingServiceSid": "", "ToZip": "", "NumSegments": "1",
        "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": sender,
        "ApiVersion": "2010-04-01",
    }


def twilio_status(sid: str, status: str, error_code: str | None = None) -> dict[str, str]:
    """A status callback exactly as Twilio posts it; ErrorCode only on failures."""
    sid = as_sid(sid)
    params = {
        "SmsSid": sid, "SmsStatus": status, "MessageStatus": status, "To": LEARNER,
        "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": TWILIO_SENDER,
        "ApiVersion": "2010-04-01",
    }
    if status in ("delivered", "undelivered", "failed", "sent"):
        params["RawDlrDoneDate"] = "2405061502"
    if error_code:
        params["ErrorCode"] = error_code
        params["ErrorMessage"] = "Message delivery failed"
    return params


def signed_headers(url: str, params: dict[str, str], token: str = AUTH_TOKEN,
                   algorithm: str = "HMAC_SHA1") -> dict[str, str]:
    headers = {"X-Twilio-Signature": twilio_signature(token, url, params, algorithm)}
    if algorithm == "HMAC_SHA256":
        headers[SETTINGS_HEADER] = SHA256_SETTINGS
    return headers


class TestTwilio(AdapterContract, SendContract):
    carrier_id = "twilio"
    adapter_name = "twilio"
    required_inbound_fields = ("MessageSid", "From", "To", "Body")
    required_status_fields = ("MessageSid", "MessageStatus")
    sender_field = "From"
    learner_e164 = LEARNER
    national_sender = "0803 000 0000"
    national_e164 = LEARNER
    rotated_key = "auth_token"

    def inbound_payload(self, sender, text, message_id):
        return twilio_inbound(sender, text, message_id)

    def status_payload(self, message_id):
        return twilio_status(message_id, "delivered")

    def wire_id(self, name):
        return as_sid(name)

    @pytest.mark.parametrize("sender", ["0803 000 0000", "2348030000000", "+234 803 000 0000",
                                        "+2348030000000x", "whatsapp:0803"])
    def test_national_number_is_stored_as_e164(self, client, store, sender):
        """Twilio writes every number in E.164 (whatsapp:E.164 or a short code): anything
        else is no request of Twilio's, refused with the field named and nothing stored."""
        response = self.post(client, "sms", self.inbound_payload(sender, "START", "nat-1"))
        assert response.status_code == 400
        assert "'From'" in response.get_data(as_text=True)
        assert store.db["inbound"].count == 0 and store.outbox() == []

    @pytest.mark.parametrize(("sender", "to"), [("whatsapp:+2348030000000", TWILIO_SENDER),
                                                (LEARNER, "38123")])  # a short code
    def test_whatsapp_addresses_and_short_codes_are_numbers(self, client, store, sender, to):
        params = {**self.inbound_payload(sender, "START", "wa-1"), "To": to}
        assert self.post(client, "sms", params).status_code == 200
        [row] = store.db["inbound"].rows
        assert row["phone"] == LEARNER and row["recipient"] == to

    def authenticated(self, path, params, auth):
        if auth == MISSING:
            return path, {}
        token = secret_for(auth, AUTH_TOKEN)
        return path, signed_headers(PUBLIC_URL + path, params, token)

    @pytest.fixture
    def send_settings(self, carriers_file):
        return load_carriers(carriers_file)["twilio"].wire

    @pytest.fixture
    def outbound(self, carriers_file, twilio_api):
        adapter = TwilioAdapter(load_carriers(carriers_file)["twilio"].wire)
        return adapter, lambda: [(m["To"], m["Body"]) for m in twilio_api.messages]

    # -- signatures --------------------------------------------------------------------------

    OFFICIAL_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
    OFFICIAL_PARAMS = {  # noqa: RUF012 - Twilio's published test vector
        "CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
        "From": "+14158675309", "To": "+18005551212",
    }
    OFFICIAL_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="

    def official_request(self, params: dict[str, str], signature: str) -> WebRequest:
        return WebRequest(
            method="POST", url=self.OFFICIAL_URL, headers={"X-Twilio-Signature": signature},
            form={key: [value] for key, value in params.items()},
            query={"foo": ["1"], "bar": ["2"]}, body=b"", remote_addr="54.172.60.1",
        )

    def test_official_vector_through_our_signer(self):
        assert twilio_signature("12345", self.OFFICIAL_URL, self.OFFICIAL_PARAMS) \
            == self.OFFICIAL_SIGNATURE

    @pytest.mark.parametrize(("change", "valid"), [
        ({}, True),
        ({"Digits": "1235"}, False),
        ({"Extra": "added-after-signing"}, False),
    ])
    def test_official_vector_through_the_adapter(self, change, valid):
        adapter = TwilioAdapter(CarrierSettings(
            id="twilio", adapter="twilio",
            credentials={"account_sid": ACCOUNT_SID, "auth_token": "12345"},
        ))
        request = self.official_request({**self.OFFICIAL_PARAMS, **change},
                                        self.OFFICIAL_SIGNATURE)
        assert adapter.verify_signature(request) is valid

    @pytest.mark.parametrize(("signed_url", "valid"), [
        ("https://mycompany.com/myapp.php?foo=1&bar=2", True),
        ("https://mycompany.com:443/myapp.php?foo=1&bar=2", True),  # Twilio may add the port
        ("https://mycompany.com:8443/myapp.php?foo=1&bar=2", False),
        ("https://mycompany.com/other.php?foo=1&bar=2", False),
    ])
    def test_the_url_is_signed_with_or_without_its_default_port(self, signed_url, valid):
        adapter = TwilioAdapter(CarrierSettings(
            id="twilio", adapter="twilio",
            credentials={"account_sid": ACCOUNT_SID, "auth_token": "12345"},
        ))
        signature = twilio_signature("12345", signed_url, self.OFFICIAL_PARAMS)
        assert adapter.verify_signature(
            self.official_request(self.OFFICIAL_PARAMS, signature)) is valid

    def test_signature_over_public_url_verifies_behind_the_proxy(self, client, store):
        # The test client's host is the proxy-internal http://localhost.
        path = self.path("sms")
        params = twilio_inbound(LEARNER, "START", "SMproxy1")
        response = client.post(path, data=params,
                               headers=signed_headers(PUBLIC_URL + path, params))
        assert response.status_code == 200
        assert store.db["inbound"].count == 1

    def test_signature_over_internal_url_fails(self, client, store):
        path = self.path("sms")
        params = twilio_inbound(LEARNER, "START", "SMproxy2")
        response = client.post(path, data=params,
                               headers=signed_headers("http://localhost" + path, params))
        assert response.status_code == 403
        assert store.db["inbound"].count == 0

    def test_without_public_url_the_request_url_is_signed(self, tmp_path, db_path, twilio_api,
                                                          monkeypatch):
        monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        text = carriers_toml(twilio_api.url).replace(f'public_url = "{PUBLIC_URL}"\n', "")
        carriers = tmp_path / "no-public-url.toml"
        carriers.write_text(text)
        client = create_app({"DATABASE": str(db_path),
                             "CARRIERS_FILE": str(carriers)}).test_client()
        path = self.path("sms")
        params = twilio_inbound(LEARNER, "START", "SMdirect1")
        assert client.post(path, data=params, headers=signed_headers(
            PUBLIC_URL + path, params)).status_code == 403
        assert client.post(path, data=params, headers=signed_headers(
            "http://localhost" + path, params)).status_code == 200

    @pytest.mark.parametrize(("signed_query", "expected"), [
        ("?campaign=lagos-1", 200),
        ("", 403),
        ("?campaign=lagos-2", 403),
    ])
    def test_query_string_is_part_of_the_signed_url(self, client, signed_query, expected):
        path = self.path("sms")
        params = twilio_inbound(LEARNER, "START", "SMquery1")
        headers = signed_headers(PUBLIC_URL + path + signed_query, params)
        response = client.post(path + "?campaign=lagos-1", data=params, headers=headers)
        assert response.status_code == expected

    def test_param_added_after_signing_fails(self, client, store):
        path = self.path("sms")
        params = twilio_inbound(LEARNER, "START", "SMtamper1")
        headers = signed_headers(PUBLIC_URL + path, params)
        response = client.post(path, data={**params, "Body": "STOP", "Injected": "1"},
                               headers=headers)
        assert response.status_code == 403
        assert store.db["inbound"].count == 0

    def test_new_twilio_params_are_accepted_when_signed(self, client, store):
        path = self.path("sms")
        params = {**twilio_inbound(LEARNER, "START", "SMnew1"),
                  "AddOns": '{"status":"successful"}', "ReferralNumMedia": "0"}
        response = client.post(path, data=params,
                               headers=signed_headers(PUBLIC_URL + path, params))
        assert response.status_code == 200
        assert store.db["inbound"].count == 1

    @pytest.fixture
    def signing_key_client(self, tmp_path, db_path, twilio_api, monkeypatch):
        """The gateway with a Twilio webhook_signing_key (SharedKey secret) configured."""
        monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        carriers = tmp_path / "signing-key.toml"
        carriers.write_text(carriers_toml(twilio_api.url,
                                          webhook_signing_key="shared-key-secret-0123456789"))
        return create_app({"DATABASE": str(db_path),
                           "CARRIERS_FILE": str(carriers)}).test_client()

    @pytest.mark.parametrize(("configured", "algorithm", "secret", "expected"), [
        # without a signing key, HMAC-SHA256 signatures use the auth token
        (False, "HMAC_SHA256", AUTH_TOKEN, 200),
        (False, "HMAC_SHA256", "shared-key-secret-0123456789", 403),
        # with one, HMAC-SHA256 uses the key; legacy HMAC-SHA1 still uses the token
        (True, "HMAC_SHA256", "shared-key-secret-0123456789", 200),
        (True, "HMAC_SHA256", AUTH_TOKEN, 403),
        (True, "HMAC_SHA1", AUTH_TOKEN, 200),
        (True, "HMAC_SHA1", "shared-key-secret-0123456789", 403),
    ])
    def test_hmac_sha256_signatures(self, request, client, configured, algorithm, secret,
                                    expected):
        if configured:
            client = request.getfixturevalue("signing_key_client")
        path = self.path("sms")
        params = twilio_inbound(LEARNER, "START", "SMsha256")
        response = client.post(path, data=params,
                               headers=signed_headers(PUBLIC_URL + path, params, secret,
                                                      algorithm))
        assert response.status_code == expected

    def test_sha1_signature_under_sha256_settings_fails(self, client):
        path = self.path("sms")
        params = twilio_inbound(LEARNER, "START", "SMmixed1")
        headers = signed_headers(PUBLIC_URL + path, params)
        headers[SETTINGS_HEADER] = SHA256_SETTINGS
        assert client.post(path, data=params, headers=headers).status_code == 403

    # -- answers -------------------------------------------------------------------------------

    def test_inbound_is_answered_with_empty_twiml(self, client):
        response = self.post(client, "sms", twilio_inbound(LEARNER, "START", "SMtwiml1"))
        assert response.status_code == 200
        assert response.mimetype == "text/xml"
        assert response.get_data(as_text=True) == \
            '<?xml version="1.0" encoding="UTF-8"?><Response/>'

    # -- status callbacks ------------------------------------------------------------------------

    @pytest.mark.parametrize(("message_status", "outbox_after"), [
        ("accepted", "sent"),
        ("scheduled", "sent"),
        ("queued", "sent"),
        ("sending", "sent"),
        ("sent", "sent"),
        ("partially_delivered", "sent"),
        ("delivered", "delivered"),
        ("read", "delivered"),
        ("undelivered", "undelivered"),
        ("failed", "failed"),
        ("canceled", "failed"),
        ("receiving", "sent"),
        ("received", "sent"),
    ])
    def test_every_message_status(self, client, store, message_status, outbox_after):
        outbox_id = sent_message(store, "twilio", LEARNER, as_sid("SMstatus1"))
        response = self.post(client, "status", twilio_status("SMstatus1", message_status))
        assert response.status_code == 200
        assert outbox_status(store, outbox_id) == outbox_after
        [event] = store.db["status_events"].rows
        assert (event["outbox_id"], event["status"]) == (outbox_id, message_status)

    @pytest.mark.parametrize(("first", "late", "final"), [
        ("delivered", "sent", "delivered"),
        ("delivered", "queued", "delivered"),
        ("sent", "sending", "sent"),
        ("undelivered", "sent", "undelivered"),
        ("failed", "delivered", "failed"),
    ])
    def test_out_of_order_callbacks_never_move_backwards(self, client, store, first, late,
                                                         final):
        outbox_id = sent_message(store, "twilio", LEARNER, as_sid("SMorder1"))
        for status in (first, late):
            assert self.post(client, "status",
                             twilio_status("SMorder1", status)).status_code == 200
        assert outbox_status(store, outbox_id) == final
        assert [e["status"] for e in store.db["status_events"].rows] == [first, late]

    def test_error_code_is_kept_with_the_failure(self, client, store):
        outbox_id = sent_message(store, "twilio", LEARNER, as_sid("SMerr1"))
        self.post(client, "status", twilio_status("SMerr1", "undelivered", "30003"))
        [message] = [m for m in store.outbox() if m.id == outbox_id]
        assert (message.status, message.error) == ("undelivered", "30003")
        assert store.learner(LEARNER) is None or not store.learner(LEARNER).stopped

    def test_error_21610_stops_the_learner_and_the_worker_cancels(self, twilio, store,
                                                                  carriers_file, db_path,
                                                                  twilio_api):
        assert twilio.sms(LEARNER, "START").status_code == 200
        carriers = load_carriers(carriers_file)
        report = OutboxWorker(db_path, carriers).run(drain=True)
        assert report.sent >= 1
        sid = twilio_api.messages[0]["sid"]
        sent_before = len(twilio_api.messages)

        response = twilio.status(sid, "failed", error_code="21610")
        assert response.status_code == 200
        assert store.learner(LEARNER).stopped

        reminder = store.enqueue("twilio", LEARNER, "Reply NEXT for lesson 2")
        report = OutboxWorker(db_path, carriers).run(drain=True)
        assert report.cancelled == 1
        assert outbox_status(store, reminder) == "cancelled"
        assert len(twilio_api.messages) == sent_before

    # -- sending -------------------------------------------------------------------------------

    @pytest.fixture
    def settings(self, carriers_file) -> CarrierSettings:
        return load_carriers(carriers_file)["twilio"].wire

    def test_send_through_the_messages_api(self, settings, twilio_api):
        status_url = PUBLIC_URL + "/carriers/twilio/status"
        result = TwilioAdapter(settings).send(LEARNER, "Reply NEXT", status_url=status_url)
        [message] = twilio_api.messages  # the fake accepts only Basic auth AC...:auth token
        assert result.carrier_message_id == message["sid"]
        assert result.carrier_message_id.startswith("SM")
        assert {k: message[k] for k in ("To", "From", "Body", "StatusCallback")} == {
            "To": LEARNER, "From": TWILIO_SENDER, "Body": "Reply NEXT",
            "StatusCallback": status_url,
        }

    def test_messaging_service_sender(self, settings, twilio_api):
        service = "MG" + "fedcba9876543210" * 2
        adapter = TwilioAdapter(dataclasses.replace(settings, sender=service))
        adapter.send(LEARNER, "Reply NEXT")
        [message] = twilio_api.messages
        assert message["MessagingServiceSid"] == service
        assert "From" not in message
        assert "StatusCallback" not in message

    def test_wrong_credentials_are_retried_until_the_operator_fixes_them(
            self, settings, twilio_api):
        creds = {**settings.credentials, "auth_token": "wrong-token-0123456789"}
        adapter = TwilioAdapter(dataclasses.replace(settings, credentials=creds))
        with pytest.raises(SendError) as caught:
            adapter.send(LEARNER, "Reply NEXT")
        assert (caught.value.code, caught.value.retry) == ("20003", True)
        assert twilio_api.messages == []

    @pytest.mark.parametrize(("status", "code", "retry", "opted_out"), [
        (500, 20500, True, False),
        (503, 20503, True, False),
        (429, 20429, True, False),
        (400, 21211, False, False),  # invalid 'To' number
        (400, 21614, False, False),  # 'To' is not a mobile number
        (400, 21408, False, False),  # region not enabled
        (400, 21610, False, True),   # the learner texted STOP to Twilio
    ])
    def test_send_errors_are_classified(self, settings, twilio_api, status, code, retry,
                                        opted_out):
        twilio_api.fail_next(status, code, "error from Twilio")
        with pytest.raises(SendError) as caught:
            TwilioAdapter(settings).send(LEARNER, "Reply NEXT")
        error = caught.value
        assert (error.retry, error.opted_out, error.code) == (retry, opted_out, str(code))
        assert str(code) in error.detail
        assert twilio_api.messages == []

    def test_connection_refused_is_retried(self, settings):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        adapter = TwilioAdapter(dataclasses.replace(settings,
                                                    api_base_url=f"http://127.0.0.1:{port}"))
        with pytest.raises(SendError) as caught:
            adapter.send(LEARNER, "Reply NEXT")
        assert caught.value.retry is True
        assert caught.value.opted_out is False


def test_carriers_check_live_fetches_the_account(twilio_api, carriers_file, monkeypatch):
    """`learnline carriers check --live`: the account answers; a wrong token fails, and no
    message is sent either way."""
    from click.testing import CliRunner

    from gateway.cli.main import main

    monkeypatch.setenv("LEARNLINE_CARRIERS", str(carriers_file))
    result = CliRunner().invoke(main, ["carriers", "check", "--live"])
    assert result.exit_code == 0, result.output
    assert "live: ok: account 'Learnline' is active" in result.output
    assert "console: console, sms, webhooks by webhook_token" in result.output
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", "wrong-token-0123456789")
    result = CliRunner().invoke(main, ["carriers", "check", "--live"])
    assert result.exit_code == 1 and "live: FAILED: HTTP 401 code 20003" in result.output
    assert twilio_api.messages == []


# -- re-partitioned replays ---------------------------------------------------------------------


def signed_string(params: dict[str, list[str]]) -> str:
    """What Twilio's signature covers after the URL: every name and value, without separators,
    names sorted (and a repeated name's values sorted too)."""
    return "".join(name + value for name in sorted(params)
                   for value in sorted(set(params[name])))


def absorbed(params: dict[str, str], into: str, count: int) -> dict[str, list[str]]:
    """The same signed string split differently: `into` swallows the next `count` fields, as
    a replay that turns one captured request into new MessageSids would."""
    names = sorted(params)
    start = names.index(into)
    swallowed = names[start + 1:start + 1 + count]
    split = {name: [value] for name, value in params.items() if name not in swallowed}
    split[into] = [params[into] + "".join(name + params[name] for name in swallowed)]
    return split


def repartitions(params: dict[str, str]) -> list[tuple[str, dict[str, list[str]]]]:
    """Re-splits of one signed inbound request, each with the very same signed string."""
    variants = [(f"MessageSid swallows {n} field(s)", absorbed(params, "MessageSid", n))
                for n in (1, 2, 3)]
    # "FromCityLAGOS" read as a second value of From: a repeated field.
    repeated = {name: [value] for name, value in params.items() if name != "FromCity"}
    repeated["From"] = [params["From"], "City" + params["FromCity"]]
    variants.append(("From repeated", repeated))
    # "NumMedia" swallowing the next field: media that is not a count.
    variants.append(("NumMedia swallows NumSegments", absorbed(params, "NumMedia", 1)))
    return variants


def test_a_signed_request_re_split_into_new_messages_is_refused(client, store):
    """Twilio signs names and values without separators, so one captured request can be
    re-split into others with the same signature; none of them is a request Twilio sends."""
    path = "/carriers/twilio/sms"
    params = twilio_inbound(LEARNER, "START", "SM" + "5e" * 16)
    headers = signed_headers(PUBLIC_URL + path, params)
    assert client.post(path, data=params, headers=headers).status_code == 200
    stored = [(m.id, m.body) for m in store.outbox(LEARNER)]
    assert store.db["inbound"].count == 1 and stored
    for name, variant in repartitions(params):
        assert signed_string(variant) == signed_string({k: [v] for k, v in params.items()})
        response = client.post(path, data=variant, headers=headers)
        assert response.status_code == 400, (name, response.get_data(as_text=True))
        assert "field" in response.get_data(as_text=True), name
        assert store.db["inbound"].count == 1, name
    assert [(m.id, m.body) for m in store.outbox(LEARNER)] == stored


VICTIM = "+2348031111111"


def crafted_repartition(original: dict[str, str], new_sid: str) -> dict[str, list[str]]:
    """The original request re-split at its Body (which its sender chose to read like other
    fields): Body, From, MessageSid and To of another message, and a late-sorting field
    holding every field that came after the Body. Each part has the shape Twilio sends."""
    names = sorted(original)
    tail = "".join(name + original[name] for name in names[names.index("Body") + 1:])
    forged = {name: [original[name]] for name in names[:names.index("Body")]}
    forged.update({"Body": ["x"], "From": [VICTIM], "MessageSid": [new_sid],
                   "To": [TWILIO_SENDER], "Zz": [tail]})
    return forged


@pytest.mark.parametrize("forged_first", [False, True])
def test_a_body_crafted_to_re_split_into_another_sender_is_refused(client, store,
                                                                   forged_first):
    """The sender writes a Body that reads as From, MessageSid and To of another message;
    re-split there, the captured request keeps its signature and passes every other shape
    check. Neither the re-split nor the crafted message it was cut from is taken, in
    whichever order they come; an ordinary message is."""
    path = "/carriers/twilio/sms"
    new_sid = "SM" + "ab" * 16
    body = f"xFrom{VICTIM}MessageSid{new_sid}To{TWILIO_SENDER}Zz"
    original = twilio_inbound(LEARNER, body, "SM" + "c1" * 16)
    headers = signed_headers(PUBLIC_URL + path, original)
    forged = crafted_repartition(original, new_sid)
    assert signed_string(forged) == signed_string({k: [v] for k, v in original.items()})
    for params in ([forged, original] if forged_first else [original, forged]):
        response = client.post(path, data=params, headers=headers)
        assert response.status_code == 400, response.get_data(as_text=True)
        assert "re-split" in response.get_data(as_text=True)
    assert store.db["inbound"].count == 0
    assert store.learner(VICTIM) is None and store.outbox(VICTIM) == []
    plain = twilio_inbound(LEARNER, "START", "SM" + "c2" * 16)
    assert client.post(path, data=plain,
                       headers=signed_headers(PUBLIC_URL + path, plain)).status_code == 200
    assert store.db["inbound"].count == 1


def test_a_status_callback_re_split_into_another_report_is_refused(client, store):
    """A status swallowing the next field ("deliveredRawDlrDoneDate...") is no status
    Twilio writes: refused, nothing recorded; the report itself is taken."""
    path = "/carriers/twilio/status"
    report = twilio_status("SM" + "d3" * 16, "delivered")
    headers = signed_headers(PUBLIC_URL + path, report)
    assert client.post(path, data=report, headers=headers).status_code == 200
    events = store.db["status_events"].count
    forged = absorbed(report, "MessageStatus", 1)
    assert signed_string(forged) == signed_string({k: [v] for k, v in report.items()})
    response = client.post(path, data=forged, headers=headers)
    assert response.status_code == 400 and "'MessageStatus'" in response.get_data(as_text=True)
    assert store.db["status_events"].count == events


@pytest.mark.parametrize(("change", "named"), [
    ({"AccountSid": "AC" + "f" * 32}, "AccountSid"),  # another account's request
    ({"AccountSid": ""}, "AccountSid"),
    ({"MessageSid": "SMshort1"}, "MessageSid"),
    ({"MessageSid": "CA" + "1" * 32, "SmsSid": "CA" + "1" * 32,
      "SmsMessageSid": "CA" + "1" * 32}, "MessageSid"),  # a call, not a message
    ({"SmsSid": "SM" + "2" * 32}, "SmsSid"),  # not the message's own sid
    ({"ApiVersion": "2010-04-01Body"}, "ApiVersion"),
    ({"NumMedia": "one"}, "NumMedia"),
    ({"numMedia": "0"}, "numMedia"),  # Twilio's names are CamelCase
])
def test_fields_a_real_twilio_request_cannot_have_are_refused(client, store, change, named):
    path = "/carriers/twilio/sms"
    params = {**twilio_inbound(LEARNER, "START", "SM" + "7" * 32), **change}
    response = client.post(path, data=params, headers=signed_headers(PUBLIC_URL + path, params))
    assert response.status_code == 400
    assert f"'{named}'" in response.get_data(as_text=True)
    assert store.db["inbound"].count == 0 and store.outbox() == []


# -- media without text ----------------------------------------------------------------------


def media_only(sender: str, sid: str, *, body: str | None = "") -> dict[str, str]:
    """An MMS with a photo and no words, as Twilio posts it (Body empty, or left out)."""
    params = {**twilio_inbound(sender, "", sid), "NumMedia": "1",
              "MediaContentType0": "image/jpeg",
              "MediaUrl0": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/"
                           f"{as_sid(sid)}/Media/ME{'0' * 32}"}
    if body is None:
        del params["Body"]
    else:
        params["Body"] = body
    return params


@pytest.mark.parametrize(("sender", "body", "reply"), [
    (LEARNER, "", "Sorry, we can only read text."),
    (LEARNER, None, "Sorry, we can only read text."),
    ("+221770000001", None, "Désolé, nous ne savons lire que du texte."),  # a Senegalese number
])
def test_a_photo_without_words_is_stored_and_answered_politely(client, store, sender, body,
                                                               reply):
    path = "/carriers/twilio/sms"
    params = media_only(sender, "photo-1", body=body)
    response = client.post(path, data=params, headers=signed_headers(PUBLIC_URL + path, params))
    assert response.status_code == 200, response.get_data(as_text=True)
    [row] = store.db["inbound"].rows
    assert (row["carrier_message_id"], row["phone"], row["text"], row["status"]) == (
        as_sid("photo-1"), sender, "", "processed")
    [answer] = store.outbox(sender)
    assert answer.body.startswith(reply), answer.body
    # Twilio's retry of the same message changes nothing.
    assert client.post(path, data=params,
                       headers=signed_headers(PUBLIC_URL + path, params)).status_code == 200
    assert store.db["inbound"].count == 1 and len(store.outbox(sender)) == 1


@pytest.mark.parametrize("media", ["0", "000"])
def test_a_message_without_body_or_media_is_still_refused(client, store, media):
    path = "/carriers/twilio/sms"
    params = media_only(LEARNER, "nothing-1", body=None)
    params["NumMedia"] = media
    response = client.post(path, data=params, headers=signed_headers(PUBLIC_URL + path, params))
    assert response.status_code == 400 and "'Body'" in response.get_data(as_text=True)
    assert store.db["inbound"].count == 0


def test_a_media_count_of_more_digits_than_python_reads_is_still_media(client, store):
    """Signed, so only Twilio (or its key's holder) sends it: answered as media, not 500."""
    path = "/carriers/twilio/sms"
    params = {**media_only(LEARNER, "many-1", body=None), "NumMedia": "9" * 4301}
    response = client.post(path, data=params, headers=signed_headers(PUBLIC_URL + path, params))
    assert response.status_code == 200
    assert store.outbox(LEARNER)[0].body.startswith("Sorry, we can only read text.")


def test_a_rotated_signing_key_accepts_the_previous_one_until_removed(tmp_path, db_path,
                                                                       twilio_api, monkeypatch):
    """HMAC-SHA256 webhooks signed with the SharedKey secret a rotation replaced still pass
    while previous_webhook_signing_key holds it."""
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    old, new = "shared-key-secret-0123456789", "shared-key-secret-rotated-987"
    path = "/carriers/twilio/sms"
    for extra, expected in (({"previous_webhook_signing_key": old}, {old: 200, new: 200}),
                            ({}, {old: 403, new: 200})):
        carriers = tmp_path / "signing-rotated.toml"
        carriers.write_text(carriers_toml(twilio_api.url, webhook_signing_key=new, **extra))
        client = create_app({"DATABASE": str(db_path),
                             "CARRIERS_FILE": str(carriers)}).test_client()
        for n, (secret, status) in enumerate(expected.items()):
            params = twilio_inbound(LEARNER, "START", f"signing-{bool(extra)}-{n}")
            headers = signed_headers(PUBLIC_URL + path, params, secret, "HMAC_SHA256")
            assert client.post(path, data=params, headers=headers).status_code == status
