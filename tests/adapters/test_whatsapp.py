"""Meta's WhatsApp Cloud API: the shared contract, the subscription challenge, signed
notifications of messages and statuses, and sends to a loopback server speaking the
Graph API (tests/fakes/graph_api.py).

The wire format relied on, as Meta documents it:
- the messages webhook (text, interactive `button_reply` and `list_reply`, template
  quick-reply `button`, media), its envelope `object` / `entry[].changes[].value` with
  `metadata.phone_number_id` and `contacts[].wa_id`, numbers without '+':
  https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages
- status webhooks (`statuses[]`: `id`, `status` sent/delivered/read/failed, `errors[]` with
  `code`; "read" sent without "delivered" when both happen at once):
  https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/status/
- reply buttons (1 to 3, `type: reply`, titles of 20 characters, body of 1,024) and lists
  (at most 10 rows, row titles of 24, descriptions of 72, a button of 20):
  https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/interactive-reply-buttons-messages
  https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/interactive-list-messages.md
- error codes (190 access token expired; 130429 rate limit; 131026 message undeliverable;
  131047 re-engagement, over 24 hours; 131056 pair rate limit), from
  https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes as the
  SDKs great-detail/WhatsApp-Nodejs-SDK (src/Error.ts) and
  MarcosNicolau/whatsapp-business-sdk (src/types/error.ts) list them;
- the subscription challenge (`hub.mode=subscribe`, `hub.verify_token`, `hub.challenge`)
  and `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body with the app secret>`, from
  Meta's Graph API webhooks guide (https://developers.facebook.com/docs/graph-api/webhooks/getting-started).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carrier_adapters import CarrierSettings, PayloadError, SendError, WebRequest
from carrier_adapters.base import DELIVERED, FAILED, READ, SENT
from carrier_adapters.whatsapp import WhatsAppAdapter, clip, utf16_length
from gateway.config import ConfigError, load_carriers
from tests.adapters.contract import (
    MISSING,
    RIGHT,
    AdapterContract,
    SendContract,
    assert_plain_error,
    secret_for,
    sent_message,
    stored_counts,
)
from tests.fakes.graph_api import FakeGraphApi, sign, wamid

PHONE_NUMBER_ID = "106540352242922"
ACCESS_TOKEN = "EAAG-whatsapp-access-token-0123456789"
APP_SECRET = "0123456789abcdef0123456789abcdef"
VERIFY_TOKEN = "learnline-verify-token-0123"
LEARNER = "+2348031234567"


@pytest.fixture
def graph_api():
    with FakeGraphApi(PHONE_NUMBER_ID, ACCESS_TOKEN) as api:
        yield api


def settings(base_url: str, **credentials) -> CarrierSettings:
    return CarrierSettings(id="wa-ci", adapter="whatsapp", api_base_url=base_url,
                           credentials={"phone_number_id": PHONE_NUMBER_ID,
                                        "access_token": ACCESS_TOKEN,
                                        "app_secret": APP_SECRET,
                                        "verify_token": VERIFY_TOKEN, **credentials})


def notification(*, messages=(), statuses=(), number_id: str = PHONE_NUMBER_ID,
                 field: str = "messages") -> dict:
    """A notification as Meta posts it: one entry, one change."""
    value: dict = {"messaging_product": "whatsapp",
                   "metadata": {"display_phone_number": "15550783881",
                                "phone_number_id": number_id}}
    if messages:
        value["contacts"] = [{"profile": {"name": "Chiamaka"}, "wa_id": m.get("from", "")}
                             for m in messages]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"value": value,
                                                             "field": field}]}]}


def text_message(text: str, message_id: str, sender: str = LEARNER[1:]) -> dict:
    return {"from": sender, "id": message_id, "timestamp": "1749416383", "type": "text",
            "text": {"body": text}}


def web_request(body: bytes, *, secret: str | None = APP_SECRET, method: str = "POST",
                query: dict | None = None) -> WebRequest:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(secret, body)
    return WebRequest(method=method, url="https://learn.example.org/carriers/wa-ci/whatsapp",
                      headers=headers, form={}, query=query or {}, body=body,
                      remote_addr="203.0.113.9")


class TestWhatsApp(AdapterContract, SendContract):
    carrier_id = "wa-ci"
    adapter_name = "whatsapp"
    required_inbound_fields = ("from", "id")
    required_status_fields = ("id", "status")
    sender_field = "from"
    rotated_key = "app_secret"
    learner_e164 = LEARNER
    national_sender = "08031234567"
    national_e164 = LEARNER

    @pytest.fixture
    def carriers_file(self, tmp_path: Path, graph_api, monkeypatch) -> Path:
        monkeypatch.setenv("TEST_WA_TOKEN", ACCESS_TOKEN)
        monkeypatch.setenv("TEST_WA_APP_SECRET", APP_SECRET)
        monkeypatch.setenv("TEST_WA_VERIFY", VERIFY_TOKEN)
        path = tmp_path / "carriers.toml"
        path.write_text(f"""
[carriers.wa-ci]
adapter = "whatsapp"
country = "NG"
phone_number_id = "{PHONE_NUMBER_ID}"
access_token = "${{TEST_WA_TOKEN}}"
app_secret = "${{TEST_WA_APP_SECRET}}"
verify_token = "${{TEST_WA_VERIFY}}"
api_base_url = "{graph_api.url}"
public_url = "https://learn.example.org"
""")
        return path

    # -- the contract's hooks: one webhook for messages and statuses ----------

    def path(self, kind: str) -> str:
        return f"/carriers/{self.carrier_id}/whatsapp"

    def post(self, client, kind, params, auth=RIGHT):
        self._kind = kind
        return super().post(client, kind, params, auth)

    def inbound_payload(self, sender, text, message_id):
        return {"from": sender.removeprefix("+"), "id": message_id, "type": "text",
                "text": text, "timestamp": "1749416383"}

    def status_payload(self, message_id):
        return {"id": message_id, "status": "delivered", "timestamp": "1749416390",
                "recipient_id": LEARNER[1:]}

    def authenticated(self, path, params, auth):
        return path, {"X-Test-Auth": auth}

    def deliver(self, client, url, params, headers):
        auth = headers.pop("X-Test-Auth", RIGHT)
        if getattr(self, "_kind", "sms") == "status":
            body = notification(statuses=[params])
        else:
            message = dict(params)
            if "text" in message:
                message["text"] = {"body": message["text"]}
            body = notification(messages=[message])
        raw = json.dumps(body).encode()
        if auth != MISSING:
            headers["X-Hub-Signature-256"] = sign(secret_for(auth, APP_SECRET), raw)
        return client.post(url, data=raw, headers={**headers,
                                                   "Content-Type": "application/json"})

    @pytest.fixture
    def send_settings(self, graph_api):
        return settings(graph_api.url)

    @pytest.fixture
    def outbound(self, graph_api):
        return WhatsAppAdapter(settings(graph_api.url)), graph_api.delivered

    # The webhook's GET is Meta's subscription challenge (below), not a 405.
    @pytest.mark.parametrize("kind", ["sms", "status"])
    def test_get_is_not_allowed(self, client, kind):
        response = client.get(self.path(kind))
        assert response.status_code == 403
        assert_plain_error(response)

    # -- the subscription challenge ----------

    @pytest.mark.parametrize(("query", "expected"), [
        ({"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
          "hub.challenge": "1158201444"}, (200, "1158201444")),
        ({"hub.mode": "subscribe", "hub.verify_token": "not-the-verify-token",
          "hub.challenge": "1158201444"}, (403, None)),
        ({"hub.mode": "subscribe", "hub.challenge": "1158201444"}, (403, None)),
        ({"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN,
          "hub.challenge": "1158201444"}, (403, None)),
        ({"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN}, (400, None)),
        ({"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
          "hub.challenge": "<script>alert(1)</script>"}, (400, None)),
    ])
    def test_the_challenge_is_answered_only_with_the_right_verify_token(
            self, client, store, query, expected):
        before = stored_counts(store)
        response = client.get(self.path("whatsapp"), query_string=query)
        status, body = expected
        assert response.status_code == status
        if body is not None:
            assert response.get_data(as_text=True) == body
            assert response.content_type.startswith("text/plain")
        else:
            assert_plain_error(response)
            assert "1158201444" not in response.get_data(as_text=True)
        assert stored_counts(store) == before

    # -- signatures over the raw body ----------

    def test_a_body_changed_after_signing_is_refused_and_a_replay_stores_nothing_new(
            self, client, store):
        raw = json.dumps(notification(messages=[text_message("START", wamid())])).encode()
        tampered = raw.replace(b"START", b"STOP!")
        url = self.path("whatsapp")
        headers = {"Content-Type": "application/json"}
        refused = client.post(url, data=tampered,
                              headers={**headers, "X-Hub-Signature-256": sign(APP_SECRET, raw)})
        assert refused.status_code == 403
        assert stored_counts(store)["inbound"] == 0
        for _ in range(2):  # Meta delivers it again until it sees a 200: the same wamid
            response = client.post(url, data=raw, headers={
                **headers, "X-Hub-Signature-256": sign(APP_SECRET, raw)})
            assert response.status_code == 200
        assert stored_counts(store)["inbound"] == 1
        assert store.db["outbox"].count > 0
        queued = store.db["outbox"].count
        client.post(url, data=raw, headers={**headers,
                                            "X-Hub-Signature-256": sign(APP_SECRET, raw)})
        assert store.db["outbox"].count == queued

    def test_a_signature_of_another_scheme_is_refused(self, client, store):
        raw = json.dumps(notification(messages=[text_message("START", wamid())])).encode()
        digest = sign(APP_SECRET, raw).removeprefix("sha256=")
        for header in (digest, f"sha1={digest}", "sha256=", f"sha256={digest[:-2]}"):
            response = client.post(self.path("whatsapp"), data=raw, headers={
                "Content-Type": "application/json", "X-Hub-Signature-256": header})
            assert response.status_code == 403, header
        assert stored_counts(store)["inbound"] == 0

    # -- notifications the gateway does not act on ----------

    def test_a_signed_body_that_is_not_json_is_a_400_and_stores_nothing(self, client, store):
        raw = b"{not json"
        response = client.post(self.path("whatsapp"), data=raw, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": sign(APP_SECRET, raw)})
        assert response.status_code == 400
        assert "body" in response.get_data(as_text=True)
        assert stored_counts(store)["inbound"] == 0

    @pytest.mark.parametrize("body", [
        notification(messages=[text_message("START", "wamid.other")], number_id="999"),
        notification(messages=[text_message("START", "wamid.field")],
                     field="message_template_status_update"),
    ], ids=["another-number-of-the-app", "another-kind-of-change"])
    def test_changes_for_another_number_or_of_another_kind_are_acknowledged_and_left(
            self, client, store, body):
        raw = json.dumps(body).encode()
        response = client.post(self.path("whatsapp"), data=raw, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": sign(APP_SECRET, raw)})
        assert response.status_code == 200
        assert stored_counts(store)["inbound"] == 0
        assert store.learner(LEARNER) is None

    # -- statuses ----------

    def test_a_failed_status_keeps_its_error_code(self, client, store):
        message_id = wamid()
        outbox_id = sent_message(store, self.carrier_id, LEARNER, message_id)
        status = {"id": message_id, "status": "failed", "timestamp": "1749416390",
                  "recipient_id": LEARNER[1:],
                  "errors": [{"code": 131026, "title": "Message undeliverable",
                              "message": "Message undeliverable",
                              "error_data": {"details": "Message Undeliverable."}}]}
        self._kind = "status"
        response = self.deliver(client, self.path("status"), status, {"X-Test-Auth": RIGHT})
        assert response.status_code == 200
        [message] = [m for m in store.outbox() if m.id == outbox_id]
        assert message.status == "failed"
        [event] = store.db["status_events"].rows
        assert event["error_code"] == "131026"


# -- parsing real payloads ----------

MESSAGES = [
    ("text", text_message("A", "wamid.t1"), "A", {}),
    ("button_reply", {"from": LEARNER[1:], "id": "wamid.b1", "timestamp": "1749416383",
                      "type": "interactive",
                      "context": {"from": "15550783881", "id": "wamid.sent1"},
                      "interactive": {"type": "button_reply",
                                      "button_reply": {"id": "B", "title": "B) Mangoes"}}},
     "B", {"choice_title": "B) Mangoes"}),
    ("list_reply", {"from": LEARNER[1:], "id": "wamid.l1", "timestamp": "1749416383",
                    "type": "interactive",
                    "interactive": {"type": "list_reply",
                                    "list_reply": {"id": "D", "title": "D) Sell at market",
                                                   "description": "Sell at market"}}},
     "D", {"choice_title": "D) Sell at market"}),
    ("template_button", {"from": LEARNER[1:], "id": "wamid.q1", "timestamp": "1749416383",
                         "type": "button",
                         "button": {"payload": "NEXT", "text": "Continue"}},
     "NEXT", {"choice_title": "Continue"}),
    ("image_without_caption", {"from": LEARNER[1:], "id": "wamid.i1",
                               "timestamp": "1749416383", "type": "image",
                               "image": {"mime_type": "image/jpeg", "sha256": "abc",
                                         "id": "1479537139650973"}}, "", {}),
    ("image_with_caption", {"from": LEARNER[1:], "id": "wamid.i2", "timestamp": "1749416383",
                            "type": "image", "image": {"caption": "C", "mime_type":
                                                      "image/jpeg", "id": "1479"}}, "C", {}),
    ("audio", {"from": LEARNER[1:], "id": "wamid.a1", "timestamp": "1749416383",
               "type": "audio", "audio": {"mime_type": "audio/ogg", "id": "2479"}}, "", {}),
    ("unsupported", {"from": LEARNER[1:], "id": "wamid.u1", "timestamp": "1749416383",
                     "type": "unsupported", "errors": [{"code": 131051}]}, "", {}),
]


@pytest.mark.parametrize(("kind", "message", "text", "extra"), MESSAGES,
                         ids=[row[0] for row in MESSAGES])
def test_messages_are_read_as_the_text_a_learner_could_type(kind, message, text, extra):
    adapter = WhatsAppAdapter(settings("http://127.0.0.1:9"))
    raw = json.dumps(notification(messages=[message])).encode()
    parsed = adapter.parse_notification(web_request(raw))
    [inbound] = parsed.messages
    assert (inbound.carrier_message_id, inbound.sender, inbound.text) == (
        message["id"], LEARNER, text)
    for key, value in extra.items():
        assert inbound.extra[key] == value
    assert inbound.extra["profile_name"] == "Chiamaka"
    assert parsed.statuses == ()


STATUSES = [
    ({"status": "sent", "conversation": {"id": "c1", "origin": {"type": "service"}},
      "pricing": {"billable": True, "pricing_model": "PMP", "category": "service"}},
     SENT, "sent", None),
    ({"status": "delivered"}, DELIVERED, "delivered", None),
    ({"status": "read"}, READ, "read", None),  # delivered, and read
    ({"status": "failed", "errors": [{"code": 131026, "title": "Message undeliverable"}]},
     FAILED, "failed", "131026"),
    ({"status": "failed", "errors": [{"code": 131047, "title": "Re-engagement message",
                                      "error_data": {"details": "Message failed to send "
                                                     "because more than 24 hours have "
                                                     "passed"}}]},
     FAILED, "failed", "131047"),
]


@pytest.mark.parametrize(("fields", "state", "carrier_status", "code"), STATUSES,
                         ids=["sent", "delivered", "read", "failed-131026", "failed-131047"])
def test_statuses_map_onto_the_outbox(fields, state, carrier_status, code):
    adapter = WhatsAppAdapter(settings("http://127.0.0.1:9"))
    status = {"id": "wamid.s1", "timestamp": "1749416390", "recipient_id": LEARNER[1:],
              **fields}
    parsed = adapter.parse_notification(web_request(json.dumps(
        notification(statuses=[status])).encode()))
    [update] = parsed.statuses
    assert (update.carrier_message_id, update.status, update.carrier_status,
            update.error_code) == ("wamid.s1", state, carrier_status, code)


def test_one_notification_may_carry_several_messages_and_statuses():
    adapter = WhatsAppAdapter(settings("http://127.0.0.1:9"))
    body = notification(messages=[text_message("A", "wamid.m1"),
                                  text_message("B", "wamid.m2")],
                        statuses=[{"id": "wamid.s1", "status": "read"}])
    parsed = adapter.parse_notification(web_request(json.dumps(body).encode()))
    assert [m.text for m in parsed.messages] == ["A", "B"]
    assert [s.carrier_status for s in parsed.statuses] == ["read"]


@pytest.mark.parametrize(("message", "field"), [
    ({"from": LEARNER[1:], "id": "wamid.x", "type": "text", "text": {}}, "text.body"),
    ({"from": LEARNER[1:], "id": "wamid.x", "type": "interactive",
      "interactive": {"type": "button_reply", "button_reply": {"title": "A"}}},
     "interactive.button_reply.id"),
    ({"id": "wamid.x", "type": "text", "text": {"body": "A"}}, "from"),
])
def test_a_message_missing_a_field_is_refused_naming_it(message, field):
    adapter = WhatsAppAdapter(settings("http://127.0.0.1:9"))
    with pytest.raises(PayloadError) as caught:
        adapter.parse_notification(web_request(json.dumps(
            notification(messages=[message])).encode()))
    assert f"'{field}'" in str(caught.value)


# -- sending ----------


def test_text_goes_as_meta_documents_it(graph_api):
    adapter = WhatsAppAdapter(settings(graph_api.url))
    result = adapter.send(LEARNER, "*Lesson 1/6: Find a skill*\nText")
    assert graph_api.messages == [{
        "messaging_product": "whatsapp", "recipient_type": "individual",
        "to": LEARNER[1:], "type": "text",
        "text": {"body": "*Lesson 1/6: Find a skill*\nText", "preview_url": False}}]
    assert graph_api.versions == ["v21.0"]
    assert result.carrier_message_id == graph_api.ids[0]
    assert result.carrier_message_id.startswith("wamid.")


def test_buttons_and_lists_go_as_meta_documents_them(graph_api):
    adapter = WhatsAppAdapter(settings(graph_api.url, api_version="v19.0"))
    adapter.send(LEARNER, "Q1/3: Which?", payload={"buttons": [
        {"id": "A", "title": "A) Yes"}, {"id": "B", "title": "B) No"}]})
    adapter.send(LEARNER, "Q2/3: Which?", payload={"list": {"button": "Reply A-D", "rows": [
        {"id": letter, "title": f"{letter}) option"} for letter in "ABCD"]}})
    buttons, listed = graph_api.messages
    assert buttons["type"] == "interactive"
    assert buttons["interactive"] == {
        "type": "button", "body": {"text": "Q1/3: Which?"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "A", "title": "A) Yes"}},
                               {"type": "reply", "reply": {"id": "B", "title": "B) No"}}]}}
    assert listed["interactive"]["type"] == "list"
    assert listed["interactive"]["action"]["button"] == "Reply A-D"
    assert [row["id"] for row in listed["interactive"]["action"]["sections"][0]["rows"]] == \
        list("ABCD")
    assert graph_api.versions == ["v19.0", "v19.0"]


def test_titles_over_the_limits_are_cut_at_whole_characters(graph_api):
    adapter = WhatsAppAdapter(settings(graph_api.url))
    arabic = "أ) " + "بِسْمِ اللَّهِ الرَّحْمَنِ الرَّحِيمِ"
    adapter.send(LEARNER, "سؤال", payload={"buttons": [{"id": "A", "title": arabic}]})
    [message] = graph_api.messages  # the loopback Graph API refused nothing over 20
    title = message["interactive"]["action"]["buttons"][0]["reply"]["title"]
    assert utf16_length(title) <= 20 and title.endswith("…")
    assert arabic.startswith(title.removesuffix("…"))


@pytest.mark.parametrize(("text", "limit"), [
    ("بِسْمِ اللَّهِ الرَّحْمَنِ", 6), ("👩🏽‍🌾 farmer 👩🏽‍🌾 farmer", 12), ("Ça coûte cher", 8),
])
def test_clip_never_cuts_a_character_in_two(text, limit):
    import regex

    clipped = clip(text, limit).removesuffix("…")
    assert utf16_length(clip(text, limit)) <= limit
    assert regex.findall(r"\X", text)[:len(regex.findall(r"\X", clipped))] == \
        regex.findall(r"\X", clipped)


@pytest.mark.parametrize(("status", "code", "retry", "credentials"), [
    (400, 131026, False, False),
    (400, 131047, False, False),
    (400, 130429, True, False),
    (429, 130429, True, False),
    (400, 131056, True, False),
    (400, 100, False, False),
    (401, 190, True, True),
])
def test_graph_errors_are_classified_by_their_code(graph_api, status, code, retry,
                                                   credentials):
    adapter = WhatsAppAdapter(settings(graph_api.url))
    graph_api.fail_next(status, code, f"({code}) refused")
    with pytest.raises(SendError) as caught:
        adapter.send(LEARNER, "Reply NEXT")
    error = caught.value
    assert (error.retry, error.refuses_credentials, error.code) == (retry, credentials,
                                                                    str(code))
    assert ACCESS_TOKEN not in error.detail


def test_an_expired_token_is_named_for_the_operator(graph_api):
    adapter = WhatsAppAdapter(settings(graph_api.url, access_token="EAAG-expired-token-0000"))
    with pytest.raises(SendError) as caught:
        adapter.send(LEARNER, "Reply NEXT")
    assert caught.value.refuses_credentials
    assert "access token was refused" in caught.value.detail
    assert "EAAG-expired-token-0000" not in caught.value.detail
    with pytest.raises(SendError):
        adapter.check_credentials()
    assert "555-078-3881" in WhatsAppAdapter(settings(graph_api.url)).check_credentials()


# -- configuration ----------


@pytest.mark.parametrize(("line", "key"), [
    ('phone_number_id = "+1 555 078 3881"', "phone_number_id"),
    ('app_secret = "short"', "app_secret"),
    ('api_version = "21"', "api_version"),
])
def test_a_bad_whatsapp_configuration_names_file_carrier_and_key(tmp_path, line, key):
    lines = {"phone_number_id": f'phone_number_id = "{PHONE_NUMBER_ID}"',
             "access_token": f'access_token = "{ACCESS_TOKEN}"',
             "app_secret": f'app_secret = "{APP_SECRET}"',
             "verify_token": f'verify_token = "{VERIFY_TOKEN}"'}
    lines[key] = line
    path = tmp_path / "carriers.toml"
    path.write_text('[carriers.wa]\nadapter = "whatsapp"\n' + "\n".join(lines.values()) + "\n")
    with pytest.raises(ConfigError) as caught:
        load_carriers(path)
    assert f"{path}: carrier 'wa': key '{key}'" in str(caught.value)


def test_a_missing_app_secret_is_named(tmp_path):
    path = tmp_path / "carriers.toml"
    path.write_text(f'[carriers.wa]\nadapter = "whatsapp"\nphone_number_id = '
                    f'"{PHONE_NUMBER_ID}"\naccess_token = "{ACCESS_TOKEN}"\n'
                    f'verify_token = "{VERIFY_TOKEN}"\n')
    with pytest.raises(ConfigError) as caught:
        load_carriers(path)
    assert f"{path}: carrier 'wa': key 'app_secret': missing" in str(caught.value)


def test_the_whatsapp_carrier_has_no_sms_route(wa_client):
    raw = b"From=%2B2348031234567&Body=START"
    response = wa_client.post("/carriers/wa-ci/sms", data=raw,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 404


@pytest.fixture
def wa_client(tmp_path, db_path, graph_api):
    """The gateway with the WhatsApp carrier alone (for the module's own route tests)."""
    from gateway import create_app

    path = tmp_path / "wa.toml"
    path.write_text(f"""
[carriers.wa-ci]
adapter = "whatsapp"
country = "NG"
phone_number_id = "{PHONE_NUMBER_ID}"
access_token = "{ACCESS_TOKEN}"
app_secret = "{APP_SECRET}"
verify_token = "{VERIFY_TOKEN}"
api_base_url = "{graph_api.url}"
""")
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(path),
                       "TESTING": True}).test_client()


@pytest.mark.parametrize("body", [
    {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages",
     "value": {"metadata": ["not", "an", "object"], "messages": []}}]}]},
    {"object": "whatsapp_business_account", "entry": ["not an entry"]},
    {"object": "whatsapp_business_account", "entry": [{"changes": ["not a change"]}]},
    {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {
        "messages": {"not": "a list"}}}]}]},
    {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {
        "statuses": ["not a status"]}}]}]},
    {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {
        "messages": [{"from": ["+234"], "id": "wamid.x", "type": "text"}]}}]}]},
    ["not", "an", "object"],
], ids=["metadata-list", "entry-string", "change-string", "messages-object", "status-string",
        "from-list", "body-list"])
def test_hostile_shapes_are_read_or_refused_naming_a_field(body):
    """A signed notification of an unexpected shape is read (what can be) or refused with a
    PayloadError; never another exception, which would be a 500."""
    adapter = WhatsAppAdapter(settings("http://127.0.0.1:9"))
    try:
        parsed = adapter.parse_notification(web_request(json.dumps(body).encode()))
    except PayloadError as exc:
        assert "'" in str(exc) or "body" in str(exc)
    else:
        assert parsed.messages == () and parsed.statuses == ()


# -- templates (outside the 24-hour window) ----------

TEMPLATE = {"template": {"name": "learnline_daily_lesson", "language": "fr",
                         "category": "utility", "parameters": ["Awa", "Trouver un client"],
                         "quick_replies": ["START"]}}


def test_a_template_goes_as_meta_documents_it(graph_api):
    """https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates:
    `type: template`, the name, `language.code`, a body component with one text parameter
    per {{n}}, and each quick-reply button's payload as a button component by index."""
    graph_api.register_template("learnline_daily_lesson", "fr", parameters=2, quick_replies=1)
    adapter = WhatsAppAdapter(settings(graph_api.url))
    result = adapter.send(LEARNER, "Votre leçon du jour :\n*Leçon 2/6*", payload=TEMPLATE)
    assert graph_api.messages == [{
        "messaging_product": "whatsapp", "recipient_type": "individual",
        "to": LEARNER[1:], "type": "template",
        "template": {"name": "learnline_daily_lesson", "language": {"code": "fr"},
                     "components": [
                         {"type": "body", "parameters": [
                             {"type": "text", "text": "Awa"},
                             {"type": "text", "text": "Trouver un client"}]},
                         {"type": "button", "sub_type": "quick_reply", "index": "0",
                          "parameters": [{"type": "payload", "payload": "START"}]}]}}]
    assert result.carrier_message_id == graph_api.ids[0]


def test_a_template_without_parameters_has_no_components(graph_api):
    graph_api.register_template("learnline_news", "sw")
    adapter = WhatsAppAdapter(settings(graph_api.url))
    adapter.send(LEARNER, "Habari", payload={"template": {
        "name": "learnline_news", "language": "sw", "category": "marketing",
        "parameters": []}})
    [sent] = graph_api.messages
    assert sent["template"] == {"name": "learnline_news", "language": {"code": "sw"}}


@pytest.mark.parametrize("case", ["unknown name", "unknown language", "parameters",
                                  "paused"])
def test_a_template_meta_refuses_may_go_through_the_fallback(graph_api, case):
    """132001 (no such template in that language), 132000 (its parameters do not match)
    and the other 1320xx refusals of a template are not retried: the message may go
    through the carrier's fallback instead."""
    graph_api.register_template("learnline_daily_lesson", "en_US", parameters=2,
                                quick_replies=1)
    payload = json.loads(json.dumps(TEMPLATE))
    if case == "unknown name":
        payload["template"]["name"] = "learnline_daily"
    elif case == "parameters":
        payload["template"]["parameters"] = ["Awa"]
    elif case == "paused":
        graph_api.fail_next(400, 132015, "(#132015) Template is paused")
    if case != "unknown language":
        payload["template"]["language"] = "en_US"
    adapter = WhatsAppAdapter(settings(graph_api.url))
    with pytest.raises(SendError) as caught:
        adapter.send(LEARNER, "Your daily lesson", payload=payload)
    error = caught.value
    assert (error.retry, error.fallback) == (False, True)
    assert error.code in ("132000", "132001", "132015")
    assert "template" in error.detail and ACCESS_TOKEN not in error.detail
    assert graph_api.messages == []
