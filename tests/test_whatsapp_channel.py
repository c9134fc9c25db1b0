"""The WhatsApp channel: whole cards with a bold title and a Next button, questions with
reply buttons or a list whose choices are read as the typed letters, titles within
WhatsApp's limits in every language; the same learner and progress as on SMS; and, end to
end, a learner's lesson over signed Cloud API webhooks to `learnline serve`, replies
delivered to a loopback Graph API by `learnline worker --drain`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import regex
from werkzeug.serving import make_server

from carrier_adapters import WebRequest
from carrier_adapters.whatsapp import utf16_length
from gateway import create_app
from gateway.channels.sms import handle_inbound
from gateway.channels.whatsapp.render import render
from gateway.config import Carrier, ConfigError, load_carriers
from gateway.learning import replies as r
from gateway.outbox.worker import OutboxWorker
from gateway.store import Store
from tests.conftest import AUTH_TOKEN, PUBLIC_URL, TwilioWebhooks, carriers_toml, web_sign_in
from tests.fakes.graph_api import FakeGraphApi, sign, wamid
from tests.fakes.signing import twilio_signature
from tests.served import Gateway, post, serve_gateway

PHONE_NUMBER_ID = "106540352242922"
ACCESS_TOKEN = "EAAG-whatsapp-access-token-0123456789"
APP_SECRET = "0123456789abcdef0123456789abcdef"
VERIFY_TOKEN = "learnline-verify-token-0123"
PHONE = "+2348030000000"

CARD = r.CardShown(course_title="Start freelancing", lesson_number=1, lesson_count=6,
                   lesson_title="Find a skill people pay for", card_number=1, card_count=3,
                   text="List what people already ask you to do.")


def question(options: tuple[str, ...], text: str = "Which skill sells first?") -> r.QuestionAsked:
    return r.QuestionAsked(lesson_title="Find a skill people pay for", number=1, total=3,
                           text=text, options=options)


# -- rendering --------------------------------------------------------------------------


def test_a_card_is_one_message_with_a_bold_title_and_a_next_button():
    [message] = render([CARD], "en")
    lines = message.body.split("\n")
    assert lines[0] == "*Lesson 1/6: Find a skill people pay for*"
    assert lines[1] == CARD.text
    assert lines[2] == "[1/3] Reply NEXT"
    assert message.payload == {"buttons": [{"id": "NEXT", "title": "NEXT"}]}


def test_a_french_card_titles_its_button_with_the_french_word_and_keeps_the_english_id():
    [message] = render([CARD], "fr")
    [button] = message.payload["buttons"]
    assert button["id"] == "NEXT" and button["title"] != "NEXT"
    assert message.body.startswith("*Leçon 1/6")


def test_three_options_are_reply_buttons_with_their_letters_and_the_whole_options_in_the_body():
    options = ("Work, price, deposit, deadline", "Only the final price", "Your name")
    [message] = render([question(options)], "en")
    assert message.payload == {"buttons": [
        {"id": "A", "title": "A) Work, price…"},
        {"id": "B", "title": "B) Only the final…"},
        {"id": "C", "title": "C) Your name"}]}
    for letter, option in zip("ABC", options, strict=True):
        assert f"{letter}) {option}" in message.body.split("\n")


def test_four_options_are_a_list():
    options = ("Sewing", "Phone repair and screen replacement", "Hair", "Cooking")
    [message] = render([question(options)], "en")
    listed = message.payload["list"]
    assert listed["button"] == "Reply A-D"
    assert [row["id"] for row in listed["rows"]] == list("ABCD")
    assert listed["rows"][0] == {"id": "A", "title": "A) Sewing"}
    assert listed["rows"][1]["title"] == "B) Phone repair and…"
    assert listed["rows"][1]["description"] == "Phone repair and screen replacement"


@pytest.mark.parametrize("locale", ["en", "fr", "pt", "sw", "ar"])
def test_titles_respect_whatsapps_limits_in_every_language(locale):
    """Options as long as an author writes them, Arabic with its marks: every title within
    its limit and cut between whole characters."""
    arabic = "اِتَّفِقْ عَلَى السِّعْرِ وَالْمَوْعِدِ قَبْلَ أَنْ تَبْدَأَ الْعَمَلَ"
    long = (arabic, "Agree the price and the date before you begin the work", "👩🏽‍🌾 " * 12)
    for options in (long, (*long, "Cooking")):
        [message] = render([CARD, question(options)], locale)[-1:]
        payload = message.payload
        titles = [b["title"] for b in payload.get("buttons", [])] + \
            [row["title"] for row in payload.get("list", {}).get("rows", [])]
        limit = 20 if "buttons" in payload else 24
        assert titles and all(utf16_length(title) <= limit for title in titles), titles
        for title, option in zip(titles, options, strict=False):
            shown = title.removesuffix("…")[3:]
            whole = regex.findall(r"\X", option)
            assert whole[:len(regex.findall(r"\X", shown))] == regex.findall(r"\X", shown)
        if "list" in payload:
            assert utf16_length(payload["list"]["button"]) <= 20
        assert utf16_length(message.body) <= 1024


def test_feedback_and_the_next_question_are_one_message():
    feedback = r.Feedback(correct=True, right_option=0, right_text="Sewing",
                          explanation="People already ask you.")
    [message] = render([feedback, question(("Sewing", "Hair", "Cooking"))], "en")
    assert message.body.startswith("Right! People already ask you.\nQ1/3: ")
    assert [b["id"] for b in message.payload["buttons"]] == ["A", "B", "C"]


def test_a_card_too_long_for_buttons_goes_as_text_with_its_button_after():
    long_card = r.CardShown(**{**CARD.__dict__, "text": "word " * 400})
    text, button = render([long_card], "en")
    assert text.payload is None and text.body.startswith("*Lesson 1/6")
    assert button.body == "Reply NEXT" and button.payload["buttons"][0]["id"] == "NEXT"


# -- the channel in the gateway ------------------------------------------------------------


@pytest.fixture
def graph_api() -> Iterator[FakeGraphApi]:
    with FakeGraphApi(PHONE_NUMBER_ID, ACCESS_TOKEN) as api:
        yield api


def whatsapp_carrier(graph_url: str) -> str:
    return f"""
[carriers.wa]
adapter = "whatsapp"
country = "NG"
phone_number_id = "{PHONE_NUMBER_ID}"
access_token = "{ACCESS_TOKEN}"
app_secret = "{APP_SECRET}"
verify_token = "{VERIFY_TOKEN}"
api_base_url = "{graph_url}"
public_url = "{PUBLIC_URL}"
inbound_per_minute = 10000
inbound_per_hour = 10000
"""


def text_message(text: str) -> dict:
    return {"from": PHONE[1:], "id": wamid(), "timestamp": "1749416383", "type": "text",
            "text": {"body": text}}


def button_reply(choice: str, title: str = "") -> dict:
    return {"from": PHONE[1:], "id": wamid(), "timestamp": "1749416383",
            "type": "interactive",
            "interactive": {"type": "button_reply",
                            "button_reply": {"id": choice, "title": title or choice}}}


def notification(message: dict) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881",
                         "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Chiamaka"}, "wa_id": PHONE[1:]}],
            "messages": [message]}}]}]}).encode()


@pytest.fixture
def wa_carriers(tmp_path, graph_api, twilio_api, monkeypatch) -> Path:
    """Twilio for SMS and a WhatsApp carrier, both on loopback APIs."""
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    path = tmp_path / "carriers.toml"
    path.write_text(carriers_toml(twilio_api.url) + whatsapp_carrier(graph_api.url))
    return path


@pytest.fixture
def wa_client(db_path, wa_carriers):
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(wa_carriers),
                       "TESTING": True}).test_client()


def send(client, message: dict) -> None:
    raw = notification(message)
    response = client.post("/carriers/wa/whatsapp", data=raw, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": sign(APP_SECRET, raw)})
    assert response.status_code == 200, response.get_data(as_text=True)


def queued(store: Store) -> list[dict]:
    return list(store.db.query("SELECT body, payload FROM outbox WHERE carrier_id = 'wa' "
                               "ORDER BY id"))


def test_a_button_is_answered_exactly_as_the_typed_letter(wa_client, store, db_path):
    """Two learners at the same question: one taps B, the other types b. The engine sees the
    same answer, and both get the same words back."""
    send(wa_client, text_message("START"))
    lesson = store.lesson("start-freelancing", "find-your-skill", "en")
    for _ in lesson.cards:
        send(wa_client, button_reply("NEXT"))
    last = queued(store)[-1]
    assert last["body"].startswith(f"Q1/{len(lesson.questions)}: {lesson.questions[0].text}")
    assert [b["id"] for b in json.loads(last["payload"])["buttons"]] == \
        list("ABCD"[:len(lesson.questions[0].options)])
    letter = "ABCD"[lesson.questions[0].answer]
    send(wa_client, button_reply(letter, "whatever the title said"))
    by_button = queued(store)[-1]["body"]
    assert by_button.startswith("Right! ") and f"\nQ2/{len(lesson.questions)}: " in by_button
    send(wa_client, text_message("abcd"[lesson.questions[1].answer]))
    by_letter = queued(store)[-1]["body"]
    assert by_letter.startswith("Right! ") and f"\nQ3/{len(lesson.questions)}: " in by_letter
    learner = store.learner(PHONE)
    assert learner.carrier_id == "wa"
    # The same number on the lite web: the same learner, in the same quiz.
    web_sign_in(wa_client, store, PHONE)
    course = wa_client.get("/courses/start-freelancing").get_data(as_text=True)
    assert re.search(rf"{re.escape(lesson.title)}</a> - You are here", course), course
    channels = {row["channel"] for row in store.db.query(
        "SELECT channel FROM activity WHERE phone = ?", [PHONE])}
    assert channels == {"whatsapp", "web"}  # counted active on each


def tap(choice: str, on: str | None) -> dict:
    """A tap on a button of message `on` (its wamid), as Meta reports it: with `context`."""
    message = button_reply(choice)
    if on is not None:
        message["context"] = {"from": "15550783881", "id": on}
    return message


def test_a_tap_on_an_earlier_message_does_not_answer_the_current_question(
        wa_client, store, db_path, wa_carriers, graph_api):
    """A learner scrolls up and taps a button of an earlier question or card: the current
    question is not answered; they are told, and shown the question again. A typed letter,
    a tap on the latest message and a tap on a message Learnline does not know are read as
    before."""
    send(wa_client, text_message("START"))
    drain(db_path, wa_carriers)
    card_one = graph_api.ids[-1]
    lesson = store.lesson("start-freelancing", "find-your-skill", "en")
    for _ in lesson.cards:
        send(wa_client, tap("NEXT", graph_api.ids[-1]))
        drain(db_path, wa_carriers)
    first_question = graph_api.ids[-1]
    send(wa_client, tap("ABCD"[lesson.questions[0].answer], first_question))
    drain(db_path, wa_carriers)
    assert graph_api.messages[-1]["interactive"]["body"]["text"].startswith("Right! ")
    place = store.enrollment(PHONE, "start-freelancing")
    wrong = "ABCD"[(lesson.questions[1].answer + 1) % len(lesson.questions[1].options)]
    for stale in (tap(wrong, first_question), tap("NEXT", card_one)):
        send(wa_client, stale)
        again = queued(store)[-1]
        assert again["body"].startswith("That button belongs to an earlier message.\n"
                                        f"Q2/{len(lesson.questions)}: "), again["body"]
        assert [b["id"] for b in json.loads(again["payload"])["buttons"]] == \
            list("ABCD"[:len(lesson.questions[1].options)])
        assert store.enrollment(PHONE, "start-freelancing") == place
    drain(db_path, wa_carriers)
    assert store.db.execute("SELECT count(*) FROM answers").fetchone()[0] == 1
    # A tap on a message Learnline does not know (sent before it kept ids): as before.
    send(wa_client, tap("ABCD"[lesson.questions[1].answer], wamid()))
    assert queued(store)[-1]["body"].startswith("Right! ")
    drain(db_path, wa_carriers)
    # A typed letter answers the current question, even one typed as a reply quoting the
    # first question (a swipe: `context` on a text message).
    count = len(queued(store))
    typed = text_message("abcd"[lesson.questions[2].answer])
    typed["context"] = {"from": "15550783881", "id": first_question}
    send(wa_client, typed)
    assert queued(store)[count]["body"].startswith("Right! ")
    assert store.db.execute("SELECT count(*) FROM answers").fetchone()[0] == 3


def test_a_tap_on_a_question_answered_by_sms_since_is_on_an_earlier_message(
        wa_client, store, db_path, wa_carriers, graph_api):
    """The WhatsApp message shows Q1; the learner answers Q1 by SMS; a tap on that message
    is not taken as an answer to Q2, which they have not seen there."""
    send(wa_client, text_message("START"))
    lesson = store.lesson("start-freelancing", "find-your-skill", "en")
    for _ in lesson.cards:
        send(wa_client, button_reply("NEXT"))
    drain(db_path, wa_carriers)
    first_question = graph_api.ids[-1]
    sms_carrier = Carrier.of(id="console", adapter="console", country="NG")
    inbound = store.record_inbound("console", "sms-1", PHONE,
                                   "ABCD"[lesson.questions[0].answer])
    handle_inbound(store, sms_carrier, inbound)
    assert store.outbox(PHONE)[-1].body.startswith("Right! ")
    send(wa_client, tap("ABCD"[(lesson.questions[1].answer + 1) % 3], first_question))
    assert queued(store)[-1]["body"].startswith("That button belongs to an earlier message.\n"
                                                f"Q2/{len(lesson.questions)}: ")
    assert store.db.execute("SELECT count(*) FROM answers").fetchone()[0] == 1


def test_a_tap_is_on_an_earlier_message_once_a_later_one_offers_choices(store):
    """Text sent after a question leaves its buttons the latest; a later list or template
    with quick replies does not. A message not known as sent to that learner is never
    earlier."""
    def queue(payload: dict | None) -> str:
        with store.write():
            outbox_id = store.enqueue("wa", PHONE, "body",
                                      payload=json.dumps(payload) if payload else None)
        store.record_accepted(outbox_id, f"wamid.{outbox_id}")
        return f"wamid.{outbox_id}"

    question = queue({"buttons": [{"id": "A", "title": "A) Yes"}]})
    queue(None)  # feedback or progress, as text
    assert not store.tapped_earlier("wa", PHONE, question)
    listed = queue({"list": {"button": "Reply A-D", "rows": [{"id": "A", "title": "A"}]}})
    assert store.tapped_earlier("wa", PHONE, question)
    assert not store.tapped_earlier("wa", PHONE, listed)
    queue({"template": {"name": "daily_lesson", "language": "en", "parameters": []}})
    assert not store.tapped_earlier("wa", PHONE, listed)  # a template with no buttons
    queue({"template": {"name": "daily_lesson", "language": "en", "parameters": [],
                        "quick_replies": ["NEXT"]}})
    assert store.tapped_earlier("wa", PHONE, listed)
    assert not store.tapped_earlier("wa", PHONE, wamid())
    assert not store.tapped_earlier("wa", "+2348030000001", question)


def test_a_stored_tap_on_an_earlier_message_processed_later_is_not_an_answer(
        wa_client, store, db_path, wa_carriers, graph_api):
    """The worker's recovery of a stored message reads the tap's message as the webhook
    does."""
    send(wa_client, text_message("START"))
    drain(db_path, wa_carriers)
    card_one = graph_api.ids[-1]
    send(wa_client, tap("NEXT", card_one))
    drain(db_path, wa_carriers)
    place = store.enrollment(PHONE, "start-freelancing")
    raw = notification(tap("NEXT", card_one))
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(wa_carriers),
                      "TESTING": True})
    adapter = app.extensions["learnline.adapters"]["wa"]
    [message] = adapter.parse_notification(WebRequest(
        method="POST", url=PUBLIC_URL, headers={}, form={}, query={}, body=raw,
        remote_addr=None)).messages
    with store.write():
        store.record_inbound("wa", message.carrier_message_id, PHONE, message.text,
                             meta=dict(message.extra))
    store.db.execute("UPDATE inbound SET received_at = received_at - 60")
    drain(db_path, wa_carriers)
    assert graph_api.messages[-1]["interactive"]["body"]["text"].startswith(
        "That button belongs to an earlier message.\n*Lesson 1/")
    assert store.enrollment(PHONE, "start-freelancing") == place


def test_a_picture_without_words_is_kept_and_answered_politely(wa_client, store):
    send(wa_client, text_message("START"))
    picture = {"from": PHONE[1:], "id": wamid(), "timestamp": "1749416383", "type": "image",
               "image": {"mime_type": "image/jpeg", "sha256": "abc", "id": "1479537139"}}
    before = store.enrollment(PHONE, "start-freelancing")
    send(wa_client, picture)
    [row] = store.db.query("SELECT text, status FROM inbound WHERE carrier_message_id = ?",
                           [picture["id"]])
    assert (row["text"], row["status"]) == ("", "processed")
    assert queued(store)[-1]["body"].startswith("Sorry, we can only read text.")
    assert queued(store)[-1]["payload"] is None
    assert store.enrollment(PHONE, "start-freelancing") == before


def drain(db_path: Path, carriers_file: Path) -> None:
    OutboxWorker(db_path, load_carriers(carriers_file)).run(drain=True, poll_seconds=0.01)


def test_the_worker_sends_buttons_as_interactive_messages(wa_client, store, db_path,
                                                          wa_carriers, graph_api):
    send(wa_client, text_message("START"))
    drain(db_path, wa_carriers)
    [sent] = graph_api.messages
    assert sent["type"] == "interactive" and sent["to"] == PHONE[1:]
    assert sent["interactive"]["action"]["buttons"] == [
        {"type": "reply", "reply": {"id": "NEXT", "title": "NEXT"}}]
    [message] = store.outbox(PHONE)
    assert message.status == "sent" and message.carrier_message_id == graph_api.ids[0]
    assert message.body == sent["interactive"]["body"]["text"]  # the text, for operators


def test_an_expired_access_token_is_shown_to_the_operator_and_the_message_kept(
        wa_client, store, db_path, wa_carriers, graph_api):
    send(wa_client, text_message("START"))
    graph_api.fail_next(401, 190, "Error validating access token: Session has expired")
    drain(db_path, wa_carriers)
    [message] = store.outbox(PHONE)
    assert message.status == "queued"  # sent once the token is renewed
    ready = wa_client.get("/readyz")
    [line] = [line for line in ready.text.splitlines() if line.startswith("carrier wa:")]
    assert "DEGRADED: its API refuses the gateway's credentials (HTTP 401 190: the access " \
        "token was refused (renew access_token)" in line, line
    assert ACCESS_TOKEN not in ready.text


@pytest.mark.parametrize("code", [131026, 131047])
def test_not_on_whatsapp_and_a_closed_window_fail_once_with_their_code(
        wa_client, store, db_path, wa_carriers, graph_api, code):
    send(wa_client, text_message("START"))
    graph_api.fail_next(400, code)
    drain(db_path, wa_carriers)
    [message] = store.outbox(PHONE)
    assert message.status == "failed" and str(code) in message.error
    assert graph_api.messages == []
    [attempt] = store.db.query("SELECT outcome FROM send_attempts")
    assert attempt["outcome"] == "failed"


# -- end to end -------------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path, twilio_api, graph_api, monkeypatch) -> Iterator[Gateway]:
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    path = tmp_path / "carriers.toml"
    path.write_text(carriers_toml(twilio_api.url) + whatsapp_carrier(graph_api.url))
    yield from serve_gateway(tmp_path, path)


def post_json(gateway: Gateway, raw: bytes, signature: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if signature:
        headers["X-Hub-Signature-256"] = signature
    request = urllib.request.Request(f"{gateway.base}/carriers/wa/whatsapp", data=raw,
                                     headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.slow
def test_a_lesson_over_whatsapp_through_serve_and_the_same_progress_by_sms(
        served: Gateway, graph_api, twilio_api):
    def whatsapp(message: dict, *, signature: bool = True) -> int:
        raw = notification(message)
        return post_json(served, raw, sign(APP_SECRET, raw) if signature else None)

    banner = served.log.read_text()
    assert f"WhatsApp (callback URL): {PUBLIC_URL}/carriers/wa/whatsapp" in banner, banner
    challenge = urllib.request.urlopen(
        f"{served.base}/carriers/wa/whatsapp?hub.mode=subscribe&hub.verify_token="
        f"{VERIFY_TOKEN}&hub.challenge=7391", timeout=10)
    assert challenge.read() == b"7391"
    assert whatsapp(text_message("START"), signature=False) == 403
    start = text_message("START")
    assert whatsapp(start) == 200
    assert whatsapp(start) == 200  # Meta's retry of the same wamid
    served.drain()
    [welcome] = graph_api.messages
    assert welcome["type"] == "interactive"
    body = welcome["interactive"]["body"]["text"]
    assert body.startswith("Welcome to Start freelancing: 6 lessons.\n*Lesson 1/6: ")
    assert welcome["interactive"]["action"]["buttons"][0]["reply"]["id"] == "NEXT"

    with Store.open(served.env["LEARNLINE_DB"]) as store:
        lesson = store.lesson("start-freelancing", "find-your-skill", "en")
    for _ in range(len(lesson.cards)):
        assert whatsapp(button_reply("NEXT")) == 200
    served.drain()
    asked = graph_api.messages[-1]["interactive"]
    assert asked["body"]["text"].startswith(f"Q1/{len(lesson.questions)}: ")
    titles = [b["reply"]["title"] for b in asked["action"]["buttons"]]
    assert all(len(title) <= 20 for title in titles)
    whatsapp(button_reply("ABCD"[lesson.questions[0].answer]))  # by button
    whatsapp(text_message("ABCD"[lesson.questions[1].answer]))  # by typed letter
    served.drain()
    *_, by_button, by_letter = graph_api.delivered()
    assert by_button[1].startswith("Right! ") and by_letter[1].startswith("Right! ")

    # The same number by SMS: the same learner, their place and score.
    params = TwilioWebhooks(None).inbound_params(PHONE, "STATUS", "SM" + "7" * 32)
    signature = twilio_signature(AUTH_TOKEN, PUBLIC_URL + "/carriers/twilio/sms", params)
    status, _ = post(served.base + "/carriers/twilio/sms", params,
                     {"X-Twilio-Signature": signature})
    assert status == 200
    served.drain()
    [progress] = twilio_api.bodies_to(PHONE)
    assert progress.startswith("Start freelancing: 0/6 lessons done. Now: the quiz of "
                               f"{lesson.title}.\nQ3/{len(lesson.questions)}: ")


def test_an_announcement_to_whatsapp_learners_keeps_its_accents_in_one_message(
        wa_client, store, wa_carriers):
    from gateway.ops.announcements import announce

    send(wa_client, text_message("START"))
    with store.write():
        store.db.execute("DELETE FROM outbox")
    text = ("Bonjour ! La leçon de demain porte sur les prix : préparez vos questions. "
            * 20).strip()
    plan = announce(store, load_carriers(wa_carriers), "start-freelancing", text)
    assert plan.learners == 1
    [message] = store.outbox(PHONE)
    assert message.body == text


# -- docs/carriers.md's set-up, as written ------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "carriers.md"


def test_the_documented_subscription_checks_answer_as_documented(tmp_path, db_path,
                                                                 monkeypatch):
    """The Cloud API section's example carrier, its secrets from the environment, starts
    only with secrets of 16 characters or more; served on loopback, each `curl` the section
    gives prints what it says: the challenge for the verify token, 403 for a wrong one."""
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("## Meta's WhatsApp Cloud API"):text.index("### WhatsApp templates")]
    [example] = re.findall(r"```toml\n(.*?)```", section, re.S)
    carriers = tmp_path / "carriers.toml"
    carriers.write_text(example)
    secrets = {"LEARNLINE_WHATSAPP_TOKEN": ACCESS_TOKEN, "LEARNLINE_WHATSAPP_APP_SECRET":
               APP_SECRET, "LEARNLINE_WHATSAPP_VERIFY_TOKEN": "a" * 15}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    config = {"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers)}
    with pytest.raises(ConfigError, match="key 'verify_token': must be a string of at least "
                       "16 characters"):
        create_app(config)
    monkeypatch.setenv("LEARNLINE_WHATSAPP_VERIFY_TOKEN", "b" * 16)
    server = make_server("127.0.0.1", 0, create_app(config), threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        checks = re.findall(r"```sh\n(curl .*?)\n# prints: (.*?)\n```", section, re.S)
        assert len(checks) == 2
        env = {key: value for key, value in os.environ.items()
               if not key.lower().endswith("_proxy")}
        for command, printed in checks:
            command = command.replace("https://learn.example.org",
                                      f"http://127.0.0.1:{server.server_port}")
            done = subprocess.run(["bash", "-c", command], env=env, capture_output=True,
                                  text=True, timeout=30)
            assert (done.returncode, done.stdout) == (0, printed + "\n"), (command, done)
    finally:
        server.shutdown()


def test_a_question_asked_on_whatsapp_is_kept_as_whatsapps_and_receipted(wa_client, store):
    """ASK by WhatsApp is the SMS command: the question is kept with the channel and
    carrier it came by, and the receipt comes back on WhatsApp."""
    send(wa_client, text_message("START"))
    send(wa_client, text_message("ASK Can I charge for the first job?"))
    receipt = queued(store)[-1]
    assert receipt["body"].startswith("Your question reached the tutors. Expect an answer ")
    [asked] = store.db.execute("SELECT channel, carrier_id, text, course_id, card "
                               "FROM questions WHERE phone = ?", [PHONE]).fetchall()
    assert asked == ("whatsapp", "wa", "Can I charge for the first job?",
                     "start-freelancing", 1)
    send(wa_client, text_message("STATUS"))
    assert 'question waits for a tutor: "Can I charge for the first..."' in \
        queued(store)[-1]["body"]
