"""Twilio's WhatsApp: the shared contract for a `twilio` carrier whose sender is a WhatsApp
address, its webhook forms (text, quick reply, list choice, media, statuses with errors),
sends to `whatsapp:` numbers through the Messages API, reply buttons and lists through the
Content API, and its error codes, against the loopback Twilio API (tests/fakes/twilio_api.py).

The wire format relied on, as Twilio documents it:
- the incoming message webhook (form POST, X-Twilio-Signature as for SMS), with the
  WhatsApp parameters `ProfileName`, `WaId`, `MessageType`, `ButtonText`/`ButtonPayload`
  (a quick reply tapped), `ListId`/`ListTitle` (a list item chosen), `NumMedia`,
  `MediaUrl0`, `MediaContentType0`, and `whatsapp:` in `From` and `To`:
  https://www.twilio.com/docs/messaging/guides/webhook-request
- the Content API (`POST https://content.twilio.com/v1/Content` with `friendly_name`,
  `language`, `variables`, `types`; `twilio/quick-reply`: body of 1,024 characters and
  `actions` of `title` and `id`, 3 in session; `twilio/list-picker`: body, `button`, 1 to 10
  `items` of `item` (24 characters), `id` and `description` (72)), and sending content
  with `ContentSid` and `ContentVariables` (error 35127 for a Body beside variables):
  https://www.twilio.com/docs/content/twilio-quick-reply,
  https://www.twilio.com/docs/content/twiliolist-picker,
  https://www.twilio.com/docs/content/using-variables-with-content-api,
  https://www.twilio.com/docs/content/content-api-resources
- error codes: 63003 (channel could not find To address), 63016 (outside the 24-hour
  window), 63018 (rate limit), 63024 (invalid message recipient), 20003 (authenticate),
  21655 (invalid ContentSid): https://www.twilio.com/docs/api/errors and the WhatsApp
  error code mapping https://www.twilio.com/docs/whatsapp/api/error-code-mapping
- status callbacks (`MessageStatus` queued, sent, delivered, read, failed, undelivered, with
  `ErrorCode`): https://www.twilio.com/docs/messaging/guides/outbound-message-logging
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from carrier_adapters import CarrierSettings, SendError
from carrier_adapters.twilio import TwilioAdapter
from gateway import create_app
from gateway.config import ConfigError, load_carriers
from gateway.outbox.worker import OutboxWorker
from gateway.store import LearnerRecord, Store
from tests.adapters.contract import (
    MISSING,
    AdapterContract,
    SendContract,
    outbox_status,
    secret_for,
    sent_message,
)
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, carriers_toml
from tests.fakes.signing import twilio_signature
from tests.fakes.twilio_api import FakeTwilioApi

LEARNER = "+2348030000000"
WA_SENDER = "whatsapp:+14155238886"


def as_sid(name: str, kind: str = "SM") -> str:
    """A Twilio message sid (SM or MM and 32 hex digits) standing for a test's short name."""
    if len(name) == 34 and name[:2] in ("SM", "MM"):
        return name
    return kind + hashlib.md5(name.encode()).hexdigest()


def wa_inbound(sender: str, body: str | None, sid: str, **extra: str) -> dict[str, str]:
    """An incoming WhatsApp message exactly as Twilio posts it; `extra` adds or replaces
    fields (a quick reply's ButtonPayload, a list's ListId, media)."""
    sid = as_sid(sid, "MM" if extra.get("NumMedia", "0") != "0" else "SM")
    params = {
        "SmsMessageSid": sid, "NumMedia": "0", "ProfileName": "Chiamaka",
        "MessageType": "text", "SmsSid": sid, "WaId": sender.removeprefix("+"),
        "SmsStatus": "received", "Body": body, "To": WA_SENDER, "NumSegments": "1",
        "ReferralNumMedia": "0", "MessageSid": sid, "AccountSid": ACCOUNT_SID,
        "From": "whatsapp:" + sender, "ApiVersion": "2010-04-01",
    }
    params.update(extra)
    return {key: value for key, value in params.items() if value is not None}


def wa_status(sid: str, status: str, error_code: str | None = None) -> dict[str, str]:
    """A WhatsApp status callback exactly as Twilio posts it; ErrorCode on failures."""
    sid = as_sid(sid)
    params = {
        "ChannelPrefix": "whatsapp", "ApiVersion": "2010-04-01", "MessageStatus": status,
        "SmsSid": sid, "SmsStatus": status, "ChannelInstallSid": "XE" + "0" * 32,
        "To": "whatsapp:" + LEARNER, "From": WA_SENDER, "MessageSid": sid,
        "AccountSid": ACCOUNT_SID, "ChannelToAddress": LEARNER[:-4] + "XXXX",
    }
    if error_code:
        params["ErrorCode"] = error_code
        params["ErrorMessage"] = "Message delivery failed"
    return params


def wa_carrier(api_url: str, sender: str = WA_SENDER, extra: str = "") -> str:
    return f"""
[carriers.twa]
adapter = "twilio"
sender = "{sender}"
account_sid = "{ACCOUNT_SID}"
auth_token = "${{TEST_TWILIO_AUTH_TOKEN}}"
api_base_url = "{api_url}"
public_url = "{PUBLIC_URL}"
country = "NG"
inbound_per_minute = 10000
inbound_per_hour = 10000
{extra}"""


def signed(path: str, params: dict[str, str], token: str = AUTH_TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": twilio_signature(token, PUBLIC_URL + path, params)}


@pytest.fixture
def carriers_file(tmp_path: Path, twilio_api: FakeTwilioApi, monkeypatch) -> Path:
    """Twilio for SMS (`twilio`) and a Twilio WhatsApp sender (`twa`), one loopback API."""
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    path = tmp_path / "carriers.toml"
    path.write_text(carriers_toml(twilio_api.url) + wa_carrier(twilio_api.url))
    return path


def wa_post(client, params: dict[str, str], route: str = "whatsapp"):
    path = f"/carriers/twa/{route}"
    return client.post(path, data=params, headers=signed(path, params))


def queued(store: Store) -> list[dict]:
    return list(store.db.query("SELECT body, payload FROM outbox WHERE carrier_id = 'twa' "
                               "ORDER BY id"))


class TestTwilioWhatsApp(AdapterContract, SendContract):
    carrier_id = "twa"
    adapter_name = "twilio"
    required_inbound_fields = ("MessageSid", "From", "To", "Body")
    required_status_fields = ("MessageSid", "MessageStatus")
    sender_field = "From"
    learner_e164 = LEARNER
    national_sender = "08030000000"
    national_e164 = LEARNER
    rotated_key = "auth_token"

    def path(self, kind: str) -> str:
        return f"/carriers/{self.carrier_id}/{'status' if kind == 'status' else 'whatsapp'}"

    def inbound_payload(self, sender, text, message_id):
        return wa_inbound(sender, text, message_id)

    def status_payload(self, message_id):
        return wa_status(message_id, "delivered")

    def wire_id(self, name):
        return as_sid(name)

    def authenticated(self, path, params, auth):
        if auth == MISSING:
            return path, {}
        return path, signed(path, params, secret_for(auth, AUTH_TOKEN))

    @pytest.fixture
    def send_settings(self, carriers_file):
        return load_carriers(carriers_file)["twa"].wire

    @pytest.fixture
    def outbound(self, carriers_file, twilio_api):
        adapter = TwilioAdapter(load_carriers(carriers_file)["twa"].wire)
        return adapter, lambda: [(m["To"].removeprefix("whatsapp:"), m["shown"]["body"])
                                 for m in twilio_api.messages]

    def test_national_number_is_stored_as_e164(self, client, store):
        """Twilio writes a WhatsApp sender as whatsapp:E.164 and nothing else."""
        response = self.post(client, "sms", self.inbound_payload("0803", "START", "nat-1"))
        assert response.status_code == 400
        assert "'From'" in response.get_data(as_text=True)
        assert store.db["inbound"].count == 0 and store.outbox() == []

    def test_send_goes_from_the_whatsapp_sender_to_a_whatsapp_number(self, outbound,
                                                                     twilio_api):
        adapter, _ = outbound
        adapter.send(LEARNER, "Bonjour")
        [sent] = twilio_api.messages
        assert (sent["From"], sent["To"], sent["Body"]) == (WA_SENDER, "whatsapp:" + LEARNER,
                                                            "Bonjour")


# -- the webhook: documented forms, table-driven ---------------------------------------------

# (what the learner did, the form's WhatsApp fields, the text the gateway reads)
INBOUND_FORMS = [
    ("typed a letter", {"Body": "b"}, "b"),
    ("tapped a quick reply", {"Body": "B) Phone repair", "MessageType": "button",
                              "ButtonText": "B) Phone repair", "ButtonPayload": "B"}, "B"),
    ("chose a list item", {"Body": "B) Phone repair", "MessageType": "interactive",
                           "ListId": "B", "ListTitle": "B) Phone repair"}, "B"),
]


@pytest.mark.parametrize(("did", "fields", "read"), INBOUND_FORMS,
                         ids=[row[0] for row in INBOUND_FORMS])
def test_an_answer_is_read_the_same_however_it_was_given(client, store, did, fields, read):
    """A learner at a question answers by letter, by quick reply or by list: the same answer
    reaches the engine, and the same words come back."""
    assert wa_post(client, wa_inbound(LEARNER, "START", "start")).status_code == 200
    lesson = store.lesson("start-freelancing", "find-your-skill", "en")
    for n in range(len(lesson.cards)):
        assert wa_post(client, wa_inbound(LEARNER, None, f"next-{n}", Body="NEXT",
                                          ButtonPayload="NEXT", ButtonText="NEXT",
                                          MessageType="button")).status_code == 200
    right = "ABCD"[lesson.questions[0].answer]
    fields = {key: value.replace("B", right) if key in ("ButtonPayload", "ListId") else value
              for key, value in fields.items()}
    read = read.replace("B", right).replace("b", right.lower())
    response = wa_post(client, wa_inbound(LEARNER, None, "answer", **fields))
    assert response.status_code == 200
    assert response.content_type.startswith("text/xml")  # empty TwiML: replies go by API
    [row] = store.db.query("SELECT text, status FROM inbound WHERE carrier_message_id = ?",
                           [as_sid("answer")])
    assert (row["text"], row["status"]) == (read, "processed")
    reply = queued(store)[-1]["body"]
    assert reply.startswith("Right! ") and f"\nQ2/{len(lesson.questions)}: " in reply
    learner = store.learner(LEARNER)
    assert learner.carrier_id == "twa"


def test_a_quick_reply_on_an_earlier_message_does_not_answer_the_current_question(
        client, store, carriers_file, db_path, twilio_api):
    """Twilio names the message a quick reply was tapped on (OriginalRepliedMessageSid): a
    tap on an earlier card's Next does not move the learner; they are told, and shown
    their card again, whose Next goes on."""
    def drain() -> str:
        OutboxWorker(db_path, load_carriers(carriers_file)).run(drain=True, poll_seconds=0.01)
        return [m for m in twilio_api.messages if m["To"] == "whatsapp:" + LEARNER][-1]["sid"]

    def next_on(sid: str, name: str) -> None:
        response = wa_post(client, wa_inbound(
            LEARNER, "NEXT", name, ButtonPayload="NEXT", ButtonText="NEXT",
            MessageType="button", OriginalRepliedMessageSender=WA_SENDER,
            OriginalRepliedMessageSid=sid))
        assert response.status_code == 200, response.get_data(as_text=True)

    wa_post(client, wa_inbound(LEARNER, "START", "start"))
    card_one = drain()
    next_on(card_one, "next-1")
    drain()
    place = store.enrollment(LEARNER, "start-freelancing")
    next_on(card_one, "next-again")
    again = queued(store)[-1]["body"]
    assert again.startswith("That button belongs to an earlier message.\n*Lesson 1/6: "), again
    assert "[2/" in again
    assert store.enrollment(LEARNER, "start-freelancing") == place
    card_two_again = drain()
    next_on(card_two_again, "next-2")
    assert "[3/" in queued(store)[-1]["body"]
    # Typed as a reply quoting the first card (a swipe, not a tap): read as typed.
    quoted = wa_post(client, wa_inbound(LEARNER, "NEXT", "typed",
                                        OriginalRepliedMessageSid=card_one,
                                        OriginalRepliedMessageSender=WA_SENDER))
    assert quoted.status_code == 200 and "[4/" in queued(store)[-1]["body"]


def test_media_without_words_is_kept_and_answered_politely(client, store):
    wa_post(client, wa_inbound(LEARNER, "START", "start"))
    before = store.enrollment(LEARNER, "start-freelancing")
    photo = wa_inbound(LEARNER, None, "photo", NumMedia="1", MessageType="image",
                       MediaContentType0="image/jpeg",
                       MediaUrl0=f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/"
                                 f"Messages/{as_sid('photo', 'MM')}/Media/ME{'1' * 32}")
    assert wa_post(client, photo).status_code == 200
    [row] = store.db.query("SELECT text, status FROM inbound WHERE carrier_message_id = ?",
                           [photo["MessageSid"]])
    assert (row["text"], row["status"]) == ("", "processed")
    notice = queued(store)[-1]
    assert notice["body"].startswith("Sorry, we can only read text.")
    assert notice["payload"] is None
    assert store.enrollment(LEARNER, "start-freelancing") == before


# (MessageStatus, ErrorCode, the outbox's state after it)
STATUS_FORMS = [
    ("sent", None, "sent"),
    ("delivered", None, "delivered"),
    ("read", None, "delivered"),  # read implies delivered; kept as 'read' in status_events
    ("failed", "63016", "failed"),
    ("undelivered", "63024", "undelivered"),
]


@pytest.mark.parametrize(("status", "code", "after"), STATUS_FORMS)
def test_whatsapp_statuses_move_the_outbox(client, store, status, code, after):
    outbox_id = sent_message(store, "twa", LEARNER, as_sid(f"out-{status}"))
    response = wa_post(client, wa_status(f"out-{status}", status, code), route="status")
    assert response.status_code == 200
    assert outbox_status(store, outbox_id) == after
    [event] = store.db.query("SELECT status, error_code FROM status_events")
    assert (event["status"], event["error_code"]) == (status, code)


def test_a_status_posted_to_the_whatsapp_webhook_is_read_as_a_status(client, store):
    """A sender whose status callback URL names the WhatsApp webhook loses nothing."""
    outbox_id = sent_message(store, "twa", LEARNER, as_sid("out-read"))
    assert wa_post(client, wa_status("out-read", "read")).status_code == 200
    assert outbox_status(store, outbox_id) == "delivered"
    assert store.db["inbound"].count == 0


@pytest.mark.parametrize(("carrier", "route"), [("twa", "sms"), ("twilio", "whatsapp")])
def test_a_carrier_has_the_webhook_of_its_own_channel_only(client, store, carrier, route):
    """A WhatsApp sender has no SMS webhook, an SMS sender no WhatsApp one."""
    path = f"/carriers/{carrier}/{route}"
    params = wa_inbound(LEARNER, "START", "wrong-route")
    assert client.post(path, data=params, headers=signed(path, params)).status_code == 404
    assert store.db["inbound"].count == 0


@pytest.mark.parametrize("auth", ["unsigned", "wrong", "replayed"])
def test_unsigned_wrongly_signed_and_replayed_webhooks_send_nothing(client, store, auth,
                                                                     carriers_file,
                                                                     db_path, twilio_api):
    params = wa_inbound(LEARNER, "START", "auth-1")
    path = "/carriers/twa/whatsapp"
    if auth == "replayed":
        assert client.post(path, data=params, headers=signed(path, params)).status_code == 200
        OutboxWorker(db_path, load_carriers(carriers_file)).run(drain=True, poll_seconds=0.01)
        before = (store.db["inbound"].count, store.db["outbox"].count, len(twilio_api.messages))
        assert client.post(path, data=params, headers=signed(path, params)).status_code == 200
    else:
        before = (0, 0, 0)
        headers = {} if auth == "unsigned" else signed(path, params, "not-the-token-0123456")
        assert client.post(path, data=params, headers=headers).status_code == 403
    OutboxWorker(db_path, load_carriers(carriers_file)).run(drain=True, poll_seconds=0.01)
    assert (store.db["inbound"].count, store.db["outbox"].count,
            len(twilio_api.messages)) == before


# -- sending: buttons and lists through the Content API ------------------------------------

BUTTONS = {"buttons": [{"id": "A", "title": "A) Couture"}, {"id": "B", "title": "B) Coiffure"},
                       {"id": "C", "title": "C) Cuisine"}]}
LIST = {"list": {"button": "Répondez A-D", "rows": [
    {"id": "A", "title": "A) Couture"},
    {"id": "B", "title": "B) Réparation de…", "description": "Réparation de téléphones"},
    {"id": "C", "title": "C) Coiffure"}, {"id": "D", "title": "D) Cuisine"}]}}


@pytest.fixture
def settings(twilio_api) -> CarrierSettings:
    return CarrierSettings(id="twa", adapter="twilio", sender=WA_SENDER,
                           api_base_url=twilio_api.url,
                           credentials={"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN})


def test_buttons_and_lists_arrive_as_quick_replies_and_list_pickers(settings, twilio_api):
    adapter = TwilioAdapter(settings)
    adapter.send(LEARNER, "Q1/3 : Quel savoir-faire ?", payload=BUTTONS)
    adapter.send(LEARNER, "Q2/3 : Et ensuite ?", payload=LIST)
    adapter.send(LEARNER, "Bravo !", payload=None)
    quick, listed, text = twilio_api.shown_to(LEARNER)
    assert quick == {"kind": "quick-reply", "body": "Q1/3 : Quel savoir-faire ?",
                     "buttons": [{"id": b["id"], "title": b["title"]}
                                 for b in BUTTONS["buttons"]]}
    assert listed["kind"] == "list-picker" and listed["button"] == "Répondez A-D"
    assert [(i["id"], i["item"]) for i in listed["items"]] == \
        [(row["id"], row["title"]) for row in LIST["list"]["rows"]]
    assert listed["items"][1]["description"] == "Réparation de téléphones"
    assert text == {"kind": "text", "body": "Bravo !"}
    assert all("Body" not in m for m in twilio_api.messages[:2])


def test_content_is_created_once_per_layout_and_found_again_after_a_restart(settings,
                                                                            twilio_api):
    first = TwilioAdapter(settings)
    first.send(LEARNER, "Q1", payload=BUTTONS)
    first.send(LEARNER, "Q2", payload=BUTTONS)  # same layout, other words: same content
    assert twilio_api.content_requests == ["GET", "POST"]
    restarted = TwilioAdapter(settings)
    restarted.send(LEARNER, "Q3", payload=BUTTONS)
    assert twilio_api.content_requests == ["GET", "POST", "GET"]  # found, not created
    assert len(twilio_api.contents) == 1
    assert len({m["ContentSid"] for m in twilio_api.messages}) == 1


def test_content_deleted_on_twilios_side_is_made_again_on_the_next_try(settings, twilio_api):
    adapter = TwilioAdapter(settings)
    adapter.send(LEARNER, "Q1", payload=BUTTONS)
    twilio_api.contents.clear()
    with pytest.raises(SendError) as caught:
        adapter.send(LEARNER, "Q2", payload=BUTTONS)
    assert caught.value.retry and caught.value.code == "21655"
    adapter.send(LEARNER, "Q2", payload=BUTTONS)
    assert [m["shown"]["body"] for m in twilio_api.messages] == ["Q1", "Q2"]


@pytest.mark.parametrize(("status", "code", "retry", "fallback"), [
    (400, 63003, False, True),   # not on WhatsApp / To address not found
    (400, 63024, False, True),   # invalid message recipient
    (400, 63032, False, True),   # a WhatsApp limitation for this user
    (400, 63016, False, True),   # outside the 24-hour window: a template is needed
    (429, 63018, True, False),   # rate limit
    (400, 63018, True, False),
    (400, 21211, False, False),  # an invalid To number: final, no fallback
])
def test_whatsapp_errors_are_retried_failed_or_left_to_a_fallback(settings, twilio_api,
                                                                  status, code, retry,
                                                                  fallback):
    twilio_api.fail_next(status, code)
    with pytest.raises(SendError) as caught:
        TwilioAdapter(settings).send(LEARNER, "Bonjour")
    error = caught.value
    assert (error.retry, error.fallback, error.code) == (retry, fallback, str(code))
    assert not error.refuses_credentials


def test_refused_credentials_are_reported_as_for_sms(settings, twilio_api):
    twilio_api.fail_next(401, 20003, "Authenticate")
    with pytest.raises(SendError) as caught:
        TwilioAdapter(settings).send(LEARNER, "Bonjour", payload=BUTTONS)
    assert caught.value.refuses_credentials and caught.value.retry


# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(("sender", "extra", "named"), [
    ("whatsapp:14155238886", "", "key 'sender'"),
    (WA_SENDER, 'channel = "sms"', "key 'channel'"),
    ("+14155238886", 'channel = "whatsapp"', "key 'sender'"),
    (WA_SENDER, 'channel = "telegram"', "key 'channel'"),
])
def test_a_whatsapp_sender_that_cannot_work_fails_at_start_up(tmp_path, sender, extra, named,
                                                              monkeypatch):
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    path = tmp_path / "carriers.toml"
    path.write_text(wa_carrier("http://127.0.0.1:9", sender, extra))
    with pytest.raises(ConfigError) as caught:
        load_carriers(path)
    assert f"{path}: carrier 'twa': {named}" in str(caught.value)


def test_a_messaging_service_says_whatsapp_with_the_channel_key(tmp_path, monkeypatch,
                                                                twilio_api):
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    path = tmp_path / "carriers.toml"
    path.write_text(wa_carrier(twilio_api.url, "MG" + "a" * 32, 'channel = "whatsapp"'))
    carrier = load_carriers(path)["twa"]
    assert carrier.carries("whatsapp") and not carrier.carries("sms")
    TwilioAdapter(carrier.wire).send(LEARNER, "Bonjour")
    [sent] = twilio_api.messages
    assert sent["MessagingServiceSid"] == "MG" + "a" * 32
    assert sent["To"] == "whatsapp:" + LEARNER


# -- the worker ------------------------------------------------------------------------------


def test_a_stored_message_left_unprocessed_is_answered_by_its_carriers_channel(
        carriers_file, db_path, store, twilio_api):
    """The worker's recovery: a message to the WhatsApp sender gets WhatsApp's answer (a card
    with a Next button), one to the SMS number an SMS answer, from the same adapter class."""
    with store.write():
        store.record_inbound("twa", as_sid("left-wa"), LEARNER, "START")
        store.record_inbound("twilio", as_sid("left-sms"), "+2348030000001", "START")
    OutboxWorker(db_path, load_carriers(carriers_file)).run(drain=True, poll_seconds=0.01)
    [card] = twilio_api.shown_to(LEARNER)
    assert card["kind"] == "quick-reply" and card["buttons"][0]["id"] == "NEXT"
    assert "*Lesson 1/6: " in card["body"]
    by_sms = twilio_api.bodies_to("+2348030000001")
    assert by_sms and all("*Lesson" not in body for body in by_sms)
    assert {m["From"] for m in twilio_api.messages if m["To"] == "+2348030000001"} \
        == {"+15005550006"}


def test_a_long_announcement_goes_whole_in_messages_twilio_takes(client, store,
                                                                 carriers_file):
    """Text to a Twilio WhatsApp learner is not split into SMS segments nor folded: it goes
    as written, in messages of at most the 1,600 characters of Twilio's Body."""
    from gateway.ops.announcements import announce

    wa_post(client, wa_inbound(LEARNER, "START", "start"))
    with store.write():
        store.db.execute("DELETE FROM outbox")
    text = ("Bonjour ! La leçon de demain porte sur les prix : préparez vos questions. "
            * 30).strip()
    assert announce(store, load_carriers(carriers_file), "start-freelancing",
                    text).learners == 1
    parts = [m.body for m in store.outbox(LEARNER)]
    assert len(parts) == 2 and all(len(part) <= 1600 for part in parts)
    assert " ".join(parts) == text


def test_a_card_longer_than_twilio_takes_is_cut_within_its_limit():
    """Rendered for a carrier whose messages hold 1,600 characters (Twilio), a long card
    goes in texts within that limit, its Next button after them."""
    from gateway.channels.whatsapp.render import render
    from gateway.learning import replies as r

    card = r.CardShown(course_title="Start freelancing", lesson_number=1, lesson_count=6,
                       lesson_title="Find a skill people pay for", card_number=1,
                       card_count=3, text="word " * 400)
    *texts, button = render([card], "en", text_max=1600)
    assert len(texts) > 1 and all(len(t.body) <= 1600 for t in texts)
    assert sum(t.body.count("word") for t in texts) == 400
    assert button.payload["buttons"][0]["id"] == "NEXT"


def test_a_content_api_that_refuses_for_good_leaves_the_options_as_text(settings, twilio_api):
    """No Content API at the configured address (a proxy serving the Messages API alone):
    the question still reaches the learner, its options written out in the text."""
    twilio_api.fail_content_next(404, 20404, "The requested resource was not found")
    body = "Q1/3 : Quel savoir-faire ?\nA) Couture\nB) Coiffure\nC) Cuisine\nRépondez A-C"
    TwilioAdapter(settings).send(LEARNER, body, payload=BUTTONS)
    [sent] = twilio_api.messages
    assert sent["Body"] == body and "ContentSid" not in sent


def test_a_content_api_that_refuses_for_now_is_tried_again(settings, twilio_api):
    twilio_api.fail_content_next(503, 20500, "Service unavailable")
    with pytest.raises(SendError) as caught:
        TwilioAdapter(settings).send(LEARNER, "Q1", payload=BUTTONS)
    assert caught.value.retry and twilio_api.messages == []


def test_an_sms_carrier_sends_the_text_of_a_message_with_buttons(twilio_api):
    """A Twilio SMS number given a WhatsApp message (its text for operators and any other
    carrier) sends that text, as SMS."""
    sms = CarrierSettings(id="twilio", adapter="twilio", sender="+15005550006",
                          api_base_url=twilio_api.url,
                          credentials={"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN})
    TwilioAdapter(sms).send(LEARNER, "Q1/3 : Quel savoir-faire ?", payload=BUTTONS)
    [sent] = twilio_api.messages
    assert (sent["To"], sent["Body"]) == (LEARNER, "Q1/3 : Quel savoir-faire ?")
    assert "ContentSid" not in sent and twilio_api.content_requests == []


def test_carriers_check_live_reads_the_content_api_of_a_whatsapp_sender(
        twilio_api, carriers_file, monkeypatch, settings):
    """`learnline carriers check --live`: the account and the Content API answer, and the
    WhatsApp sender is listed as such; nothing is sent."""
    from click.testing import CliRunner

    from gateway.cli.main import main

    TwilioAdapter(settings).send(LEARNER, "Q1", payload=BUTTONS)
    sent = len(twilio_api.messages)
    monkeypatch.setenv("LEARNLINE_CARRIERS", str(carriers_file))
    result = CliRunner().invoke(main, ["carriers", "check", "--live"])
    assert result.exit_code == 0, result.output
    assert "twa: twilio, whatsapp, webhooks by signature" in result.output
    assert "twilio: twilio, sms, webhooks by signature" in result.output
    assert "the Content API answers (1 layout of buttons or lists made)" in result.output
    twilio_api.fail_content_next(401, 20003, "Authenticate")
    result = CliRunner().invoke(main, ["carriers", "check", "--live"])
    assert result.exit_code == 1 and "content: HTTP 401 code 20003" in result.output
    assert len(twilio_api.messages) == sent


def test_a_number_not_on_whatsapp_gets_the_message_once_by_sms_through_the_fallback(
        tmp_path, db_path, store, twilio_api, monkeypatch):
    """Twilio reports 63003 (the number is not on WhatsApp) after accepting a message: it
    goes once as SMS through the carrier's fallback_carrier, however often the failure is
    reported, and the learner is reached by SMS from then on."""
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    path = tmp_path / "carriers.toml"
    path.write_text(carriers_toml(twilio_api.url)
                    + wa_carrier(twilio_api.url, extra='fallback_carrier = "twilio"\n'))
    client = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(path),
                         "TESTING": True}).test_client()
    with store.write():
        store.save_learner(LearnerRecord(phone=LEARNER, locale="en", carrier_id="twa"))
    original = sent_message(store, "twa", LEARNER, as_sid("not-on-whatsapp"),
                            body="*Lesson 1/6: Find a skill people pay for*\nReply NEXT")
    for _ in range(2):  # Twilio may report the failure more than once
        response = wa_post(client, wa_status("not-on-whatsapp", "undelivered", "63003"),
                           route="status")
        assert response.status_code == 200
    copies = list(store.db.query("SELECT carrier_id, body FROM outbox WHERE fallback_of = ?",
                                 [original]))
    assert [c["carrier_id"] for c in copies] == ["twilio"]
    assert "*" not in copies[0]["body"] and "Reply NEXT" in copies[0]["body"]
    assert store.learner(LEARNER).carrier_id == "twilio"  # SMS from now on
    OutboxWorker(db_path, load_carriers(path)).run(drain=True, poll_seconds=0.01)
    assert [m["To"] for m in twilio_api.messages] == [LEARNER]  # by SMS, once
