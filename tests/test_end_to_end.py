"""End to end: `learnline serve` under gunicorn, signed Twilio webhooks, `learnline worker
--drain` against a loopback Twilio API, and `learnline chat` in a terminal session."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.content.model import SMS
from gateway.store import Store
from tests.served import PHONE, Gateway, gateway_fixture, post, serve_gateway  # noqa: F401

pytestmark = pytest.mark.slow


def test_serve_prints_its_urls_and_a_webhook_conversation_reaches_twilio(
        gateway: Gateway, twilio_api, tmp_path: Path):
    banner = (tmp_path / "serve.log").read_text()
    assert f"http://127.0.0.1:{gateway.port}/healthz" in banner
    assert "inbound SMS: https://learnline.example.org/carriers/twilio/sms" in banner
    assert "delivery status: https://learnline.example.org/carriers/twilio/status" in banner

    status, body = gateway.sms("START", "SM" + "1" * 32)
    assert status == 200 and "<Response/>" in body
    worker_log = gateway.drain()
    [welcome] = twilio_api.bodies_to(PHONE)
    # One line a message in the worker's log, not the Twilio library's request and
    # response headers (ten lines a send, at the carrier's tps).
    assert "sent" in worker_log and "twilio.http_client" not in worker_log, worker_log
    assert welcome.startswith("Welcome to Start freelancing: 6 lessons.\nLesson 1/6:")

    with Store.open(gateway.env["LEARNLINE_DB"]) as store:
        # SMS sends the lesson's SMS edition: its short forms, web-only cards left out.
        lesson = store.lesson("start-freelancing", "find-your-skill", "en").edition(SMS)
    # the last card brings the first question
    for n in range(len([card for card in lesson.cards if card.text]) - 1):
        gateway.sms("NEXT", f"SM{n + 2:032d}")
    gateway.drain()
    sent = twilio_api.bodies_to(PHONE)
    assert f"\nQ1/{len(lesson.questions)}: {lesson.questions[0].text}" in sent[-1]
    right = "ABCD"[lesson.questions[0].answer]
    wrong = "ABCD"[(lesson.questions[0].answer + 1) % 2]
    gateway.sms(wrong, "SM" + "a" * 32)
    gateway.sms("ABCD"[lesson.questions[1].answer], "SM" + "b" * 32)  # the next question
    gateway.drain()
    feedback_wrong, feedback_right = twilio_api.bodies_to(PHONE)[-2:]
    assert feedback_wrong.startswith(f"Not quite: it's {right})")
    assert lesson.questions[0].explanation in feedback_wrong
    assert feedback_right.startswith("Right! ")

    gateway.sms("STOP", "SM" + "c" * 32)
    gateway.drain()
    assert twilio_api.bodies_to(PHONE)[-1] == (
        "You will get no more messages. Reply START to come back.")
    count = len(twilio_api.messages)

    # Unsigned: refused, nothing stored or sent.
    status, body = gateway.sms("START", "SM" + "d" * 32, signed=False)
    assert status == 403 and "Traceback" not in body
    # Replayed MessageSid: accepted (the carrier must stop retrying), nothing new sent.
    status, _ = gateway.sms("START", "SM" + "1" * 32)
    assert status == 200
    # After STOP, lessons go quiet.
    gateway.sms("NEXT", "SM" + "e" * 32)
    gateway.drain()
    assert len(twilio_api.messages) == count
    with Store.open(gateway.env["LEARNLINE_DB"]) as store:
        stored = [row["carrier_message_id"] for row in store.db.query(
            "SELECT carrier_message_id FROM inbound ORDER BY id")]
    assert "SM" + "d" * 32 not in stored
    assert stored.count("SM" + "1" * 32) == 1


def test_a_french_learner_takes_the_course_in_the_terminal(tmp_path: Path):
    """`learnline chat +221770000000`: French by default, quiz with feedback, STATUS,
    LANG en, STOP."""
    env = {**os.environ, "LEARNLINE_DB": str(tmp_path / "chat.db")}
    env.pop("LEARNLINE_CARRIERS", None)
    script = ["bonjour", "DEBUT"] + ["SUITE"] * 5 + ["A", "C", "A", "B", "STATUT",
                                                      "LANG en", "STATUS", "STOP", "NEXT"]
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "chat", "+221770000000"],
        input="\n".join(script) + "\n", env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Bienvenue sur Learnline" in out
    # The console carrier's default policy sends French as GSM-7: ç folded, é à kept.
    assert "Bienvenue dans Se lancer en freelance : 6 lecons." in out
    assert "Lecon 1/6 : Trouver un savoir-faire qui paie" in out
    assert "Q1/3 : " in out and "Répondez A-C" in out
    assert "Bravo !" in out and "Pas tout à fait : la réponse est" in out
    assert "Lecon terminée :" in out
    assert "Se lancer en freelance : 1/6 lecons faites, 2/3 bonnes réponses." in out
    assert "Language: English." in out
    assert "Start freelancing: 1/6 lessons done" in out
    assert out.rstrip().endswith("You will get no more messages. Reply START to come back.\n>") \
        or "You will get no more messages. Reply START to come back." in out.split("[to")[-1]
    assert "Traceback" not in result.stderr


USSD_CARRIERS = """
[carriers.at-ke]
adapter = "africastalking"
country = "KE"
locale = "en"  # English screens asserted below; Kenya defaults to Swahili
webhook_token = "at-token-0123456789abcdef"

[carriers.at-ma]
adapter = "africastalking"
country = "MA"  # no locale: Moroccan numbers start in Arabic
webhook_token = "at-ma-token-0123456789abcdef"

[carriers.hubtel-gh]
adapter = "hubtel"
country = "GH"
webhook_token = "hubtel-token-0123456789abcdef"

[carriers.console]
adapter = "console"
webhook_token = "console-token-0123456789"
max_segments = 10
"""


@pytest.fixture
def ussd_gateway(tmp_path: Path) -> Iterator[Gateway]:
    carriers = tmp_path / "ussd-carriers.toml"
    carriers.write_text(USSD_CARRIERS)
    yield from serve_gateway(tmp_path, carriers)


def _check_screen(text: str, limit: int = 182) -> None:
    from gateway.sms_text import encoding_for, septets

    assert septets(text) <= limit and encoding_for(text) == "GSM-7", text


def _sms_status(gateway: Gateway, phone: str) -> str:
    """Text STATUS through the console carrier; return the queued reply."""
    status, _ = post(gateway.base + "/carriers/console/sms?token=console-token-0123456789",
                      {"from": phone, "text": "STATUS", "id": f"status-{phone}"}, {})
    assert status == 200
    with Store.open(gateway.env["LEARNLINE_DB"]) as store:
        return store.outbox(phone)[-1].body


class AfricasTalkingSession:
    """One USSD session as Africa's Talking drives it: every input so far, joined by '*'."""

    _ids = itertools.count()

    def __init__(self, gateway: Gateway, carrier: str, token: str, phone: str):
        self.url = f"{gateway.base}/carriers/{carrier}/ussd?token={token}"
        self.phone, self.session_id = phone, f"ATUid_{next(self._ids)}"
        self.inputs: list[str] = []
        self.screens: list[str] = []

    def press(self, choice: str | None) -> str:
        """Send `choice` (None: dial in); the answer, 'CON ...' or 'END ...'."""
        if choice is not None:
            self.inputs.append(choice)
        status, body = post(self.url, {
            "sessionId": self.session_id, "serviceCode": "*384*12#", "phoneNumber": self.phone,
            "networkCode": "63902", "text": "*".join(self.inputs)}, {})
        assert status == 200 and body.startswith(("CON ", "END ")), body
        self.screens.append(body)
        return body


def test_an_africastalking_session_through_serve(ussd_gateway: Gateway):
    phone = "+254712345678"
    session = AfricasTalkingSession(ussd_gateway, "at-ke", "at-token-0123456789abcdef", phone)
    screens = session.screens

    def press(choice: str | None) -> str:
        body = session.press(choice)
        _check_screen(body[4:])
        return body

    assert press(None).startswith("CON Learnline\n1. Start: Start freelancing")  # dial
    assert "card 1/3" in press("1")  # continue the lesson: card 1 of its SMS edition
    while "Q1/3" not in screens[-1]:
        press("1")  # read, page by page and card by card
    assert press("2").startswith("CON Right!")  # answer
    while "Lesson done" not in " ".join(screens[-3:]):
        press("1")
        if screens[-1].startswith("CON Q"):
            press("1")
    assert "1. Continue" in screens[-1] or "98 More" in screens[-1]  # the result
    assert press("00").startswith("CON Learnline\n1. Continue: Start freelancing, lesson 2")
    assert press("3").startswith("CON Start freelancing: 1/6 lessons done")  # progress
    assert press("0").startswith("CON Learnline")  # back
    assert press("0").startswith("END Goodbye!")  # exit
    assert "Start freelancing: 1/6 lessons done" in _sms_status(ussd_gateway, phone)


def test_an_arabic_africastalking_session_through_serve(ussd_gateway: Gateway):
    from gateway.sms_text import encoding_for, ucs2_units

    # A Moroccan number: Arabic.
    session = AfricasTalkingSession(ussd_gateway, "at-ma", "at-ma-token-0123456789abcdef",
                                    "+212612345678")

    def press(choice: str | None) -> str:
        screen = session.press(choice)[4:]
        assert encoding_for(screen) == "UCS-2" and ucs2_units(screen) <= 80, screen
        return screen

    menu = press(None)
    # The course's whole name in option 1, in place of the "Learnline" line, not cut.
    assert menu.startswith("1. ابدأ: ابدأ العمل الحر\n2. ") and "..." not in menu
    assert "1/6" in press("1")  # the first card of the first lesson, in Arabic
    menu = press("00")
    assert menu.startswith("1. ") and "\n5. " in menu and "..." not in menu
    assert "العربية" in press("4")  # the language menu, names in their own script


def test_a_hubtel_session_through_serve(ussd_gateway: Gateway):
    import json

    session = "3c796dac28174f739de4262d08409c51"
    sequence = 0
    screens: list[dict] = []

    def send(kind: str, message: str) -> dict:
        nonlocal sequence
        sequence += 1
        payload = json.dumps({
            "Type": kind, "Mobile": "233200585542", "SessionId": session,
            "ServiceCode": "713", "Message": message, "Operator": "vodafone",
            "Sequence": sequence, "ClientState": "", "Platform": "USSD",
        }).encode()
        request = urllib.request.Request(
            ussd_gateway.base + "/carriers/hubtel-gh/ussd?token=hubtel-token-0123456789abcdef",
            data=payload, headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.loads(response.read())
        assert body["SessionId"] == session and body["Type"] in ("Response", "Release")
        _check_screen(body["Message"])
        screens.append(body)
        return body

    assert send("Initiation", "*713#")["Message"].startswith("Learnline\n")
    assert "card 1/3" in send("Response", "1")["Message"]
    while not screens[-1]["Message"].startswith("Q1/3"):
        send("Response", "1")
    answer = send("Response", "2")["Message"]
    assert answer.startswith(("Right!", "Not quite"))
    assert send("Response", "00")["Message"].startswith("Learnline\n1. Continue")
    assert send("Response", "0")["Type"] == "Release"
    assert "Now: the quiz of Find a skill people pay for" in _sms_status(
        ussd_gateway, "+233200585542")
