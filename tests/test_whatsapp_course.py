"""End to end, for each way into WhatsApp (Meta's Cloud API, Twilio's WhatsApp): against a
real `learnline serve`, a French learner takes the whole bundled course over signed
webhooks, answering by reply buttons, list choices and typed letters, every reply
delivered to the loopback carrier API by `learnline worker --drain`; afterwards the same
number's progress shows by SMS, on USSD and on the lite web.

The bundled course's questions have three options each, so WhatsApp shows them as reply
buttons; a list (4 to 10 options) is never shown. The learner still answers some questions
as a list choice is posted (`list_reply`, `ListId`): what the carrier sends for a chosen
row, read as the typed letter, whatever the message showed."""

from __future__ import annotations

import http.cookiejar
import itertools
import json
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from gateway.store import Store
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, TwilioWebhooks, carriers_toml
from tests.fakes.graph_api import FakeGraphApi, sign, wamid
from tests.fakes.signing import twilio_signature
from tests.fakes.twilio_api import FakeTwilioApi
from tests.served import Gateway, post, serve_gateway

COURSE = "start-freelancing"
PHONE_NUMBER_ID = "106540352242922"
GRAPH_TOKEN = "EAAG-whatsapp-access-token-0123456789"
APP_SECRET = "0123456789abcdef0123456789abcdef"
TWILIO_WA_SENDER = "whatsapp:+14155238886"
USSD_TOKEN = "at-sn-token-0123456789abcdef"
# Senegalese numbers: French learners. One per way in, on one server.
LEARNERS = {"cloud-api": "+221770000101", "twilio": "+221770000102"}

CARRIERS = """
[carriers.wa]
adapter = "whatsapp"
country = "SN"
phone_number_id = "{number_id}"
access_token = "{graph_token}"
app_secret = "{app_secret}"
verify_token = "learnline-verify-token-0123"
api_base_url = "{graph_url}"
public_url = "{public_url}"
inbound_per_minute = 10000
inbound_per_hour = 10000
tps = 200

[carriers.twa]
adapter = "twilio"
sender = "{wa_sender}"
country = "SN"
account_sid = "{account_sid}"
auth_token = "${{TEST_TWILIO_AUTH_TOKEN}}"
api_base_url = "{twilio_url}"
public_url = "{public_url}"
inbound_per_minute = 10000
inbound_per_hour = 10000
tps = 200

[carriers.at-sn]
adapter = "africastalking"
country = "SN"
webhook_token = "{ussd_token}"
"""


class CloudApi:
    """A learner on Meta's WhatsApp Cloud API: signed JSON notifications."""

    carrier = "wa"

    def __init__(self, gateway: Gateway, graph: FakeGraphApi, phone: str):
        self.gateway, self.graph, self.phone = gateway, graph, phone

    def _send(self, message: dict) -> int:
        message = {"from": self.phone[1:], "id": wamid(), "timestamp": "1749416383",
                   **message}
        raw = json.dumps({"object": "whatsapp_business_account", "entry": [{
            "id": "102290129340398", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881",
                             "phone_number_id": PHONE_NUMBER_ID},
                "contacts": [{"profile": {"name": "Awa"}, "wa_id": self.phone[1:]}],
                "messages": [message]}}]}]}).encode()
        request = urllib.request.Request(
            f"{self.gateway.base}/carriers/wa/whatsapp", data=raw, method="POST",
            headers={"Content-Type": "application/json",
                     "X-Hub-Signature-256": sign(APP_SECRET, raw)})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status

    def text(self, text: str) -> int:
        return self._send({"type": "text", "text": {"body": text}})

    def tap(self, choice: str, title: str) -> int:
        return self._send({"type": "interactive", "interactive": {
            "type": "button_reply", "button_reply": {"id": choice, "title": title}}})

    def pick(self, choice: str, title: str) -> int:
        return self._send({"type": "interactive", "interactive": {
            "type": "list_reply", "list_reply": {"id": choice, "title": title}}})

    def shown(self) -> list[dict]:
        """What the learner was shown: each message's text and its choices' (id, title)."""
        seen = []
        for message in self.graph.messages:
            if message["to"] != self.phone[1:]:
                continue
            if message["type"] == "text":
                seen.append({"body": message["text"]["body"], "choices": []})
                continue
            interactive = message["interactive"]
            action = interactive["action"]
            choices = [(b["reply"]["id"], b["reply"]["title"])
                       for b in action.get("buttons", [])]
            choices += [(row["id"], row["title"]) for section in action.get("sections", [])
                        for row in section["rows"]]
            seen.append({"body": interactive["body"]["text"], "choices": choices})
        return seen


class TwilioWhatsApp:
    """A learner on Twilio's WhatsApp: signed forms, choices as quick replies and lists."""

    carrier = "twa"
    _sids = itertools.count(1)

    def __init__(self, gateway: Gateway, twilio: FakeTwilioApi, phone: str):
        self.gateway, self.twilio, self.phone = gateway, twilio, phone

    def _send(self, body: str, **extra: str) -> int:
        sid = f"SM{next(self._sids):032x}"
        params = {"SmsMessageSid": sid, "NumMedia": "0", "ProfileName": "Awa",
                  "MessageType": "text", "SmsSid": sid, "WaId": self.phone[1:],
                  "SmsStatus": "received", "Body": body, "To": TWILIO_WA_SENDER,
                  "NumSegments": "1", "ReferralNumMedia": "0", "MessageSid": sid,
                  "AccountSid": ACCOUNT_SID, "From": "whatsapp:" + self.phone,
                  "ApiVersion": "2010-04-01", **extra}
        path = "/carriers/twa/whatsapp"
        status, answer = post(self.gateway.base + path, params, {
            "X-Twilio-Signature": twilio_signature(AUTH_TOKEN, PUBLIC_URL + path, params)})
        assert answer.startswith("<?xml"), answer  # Twilio is answered TwiML
        return status

    def text(self, text: str) -> int:
        return self._send(text)

    def tap(self, choice: str, title: str) -> int:
        return self._send(title, MessageType="button", ButtonPayload=choice,
                          ButtonText=title)

    def pick(self, choice: str, title: str) -> int:
        return self._send(title, MessageType="interactive", ListId=choice, ListTitle=title)

    def shown(self) -> list[dict]:
        seen = []
        for shown in self.twilio.shown_to(self.phone):
            choices = [(b["id"], b["title"]) for b in shown.get("buttons", [])]
            choices += [(i["id"], i["item"]) for i in shown.get("items", [])]
            seen.append({"body": shown["body"], "choices": choices})
        return seen


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Gateway, FakeGraphApi, FakeTwilioApi]]:
    """One `learnline serve` for both ways in, with Twilio SMS, the Cloud API, Twilio's
    WhatsApp and Africa's Talking USSD, their APIs on loopback."""
    folder = tmp_path_factory.mktemp("course")
    with FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN) as twilio_api, \
            FakeGraphApi(PHONE_NUMBER_ID, GRAPH_TOKEN) as graph_api, \
            pytest.MonkeyPatch.context() as env:
        env.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        path = folder / "carriers.toml"
        path.write_text(carriers_toml(twilio_api.url) + CARRIERS.format(
            number_id=PHONE_NUMBER_ID, graph_token=GRAPH_TOKEN, app_secret=APP_SECRET,
            graph_url=graph_api.url, public_url=PUBLIC_URL, wa_sender=TWILIO_WA_SENDER,
            account_sid=ACCOUNT_SID, twilio_url=twilio_api.url, ussd_token=USSD_TOKEN))
        served = serve_gateway(folder, path)
        gateway = next(served)
        try:
            yield gateway, graph_api, twilio_api
        finally:
            served.close()


def take_the_course(learner: CloudApi | TwilioWhatsApp, store: Store) -> dict[str, int]:
    """START, then Next by button through every card and each question answered right, in
    turn by button, by typed letter and by list choice; how many answers went each way."""
    assert learner.text("START") == 200
    ways = {"button": 0, "typed": 0, "list": 0}
    course = store.course(COURSE)
    answered = 0
    for _ in range(300):
        enrollment = store.enrollment(learner.phone, COURSE)
        if enrollment.completed:
            return ways
        if enrollment.quiz is None or not enrollment.quiz.queue:
            assert learner.tap("NEXT", "SUITE") == 200
            continue
        lesson = store.lesson(COURSE, course.lesson_ids[enrollment.position], "fr")
        question = lesson.questions[enrollment.quiz.queue[0]]
        letter = "ABCD"[question.answer]
        title = f"{letter}) {question.options[question.answer]}"[:20]
        way = ("button", "typed", "list")[answered % 3]
        status = learner.tap(letter, title) if way == "button" else \
            learner.text(letter.lower()) if way == "typed" else learner.pick(letter, title)
        assert status == 200
        ways[way] += 1
        answered += 1
    raise AssertionError("the course never ended")


class UssdSession:
    """One Africa's Talking USSD session: every input so far, joined by '*'."""

    def __init__(self, gateway: Gateway, phone: str):
        self.url = f"{gateway.base}/carriers/at-sn/ussd?token={USSD_TOKEN}"
        self.phone, self.inputs = phone, []

    def press(self, choice: str | None) -> str:
        if choice is not None:
            self.inputs.append(choice)
        status, body = post(self.url, {
            "sessionId": f"ATUid_{self.phone}", "serviceCode": "*384*12#",
            "phoneNumber": self.phone, "networkCode": "60801",
            "text": "*".join(self.inputs)}, {})
        assert status == 200, body
        return body


def web_progress(gateway: Gateway, store: Store, phone: str) -> str:
    """Sign in on the lite web as a learner does (a code by SMS) and read /progress."""
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def form(path: str, fields: dict[str, str]) -> str:
        with browser.open(gateway.base + path, timeout=10) as page:
            token = re.search(r'name="csrf" value="([^"]+)"', page.read().decode()).group(1)
        data = urllib.parse.urlencode({"csrf": token, **fields}).encode()
        with browser.open(gateway.base + path, data=data, timeout=10) as answer:
            return answer.read().decode()

    form("/signin", {"phone": phone})
    code = re.search(r"\b(\d{6})\b", store.outbox(phone)[-1].body).group(1)
    return form("/signin/code", {"code": code})


@pytest.mark.slow
@pytest.mark.parametrize("way_in", ["cloud-api", "twilio"])
def test_a_french_learner_takes_the_whole_course_over_whatsapp_and_the_progress_shows_everywhere(
        served, way_in):
    gateway, graph_api, twilio_api = served
    phone = LEARNERS[way_in]
    learner = CloudApi(gateway, graph_api, phone) if way_in == "cloud-api" \
        else TwilioWhatsApp(gateway, twilio_api, phone)
    # What serve tells the operator to give the carrier: the WhatsApp webhook (and, for
    # Twilio, the status callback), no SMS webhook.
    banner = gateway.log.read_text()
    carrier_url = f"{PUBLIC_URL}/carriers/{learner.carrier}"
    assert f"WhatsApp (callback URL): {carrier_url}/whatsapp" in banner, banner
    assert f"{carrier_url}/sms" not in banner
    assert (f"delivery status: {carrier_url}/status" in banner) is (way_in == "twilio")
    with Store.open(gateway.env["LEARNLINE_DB"]) as store:
        ways = take_the_course(learner, store)
        gateway.drain()
        assert min(ways.values()) >= 5, ways  # 18 questions: a third each way
        assert store.learner(phone).locale == "fr"
        sent = store.outbox(phone)
        assert sent and {m.status for m in sent} == {"sent"}
        assert {m.carrier_id for m in sent} == {learner.carrier}
        shown = learner.shown()
        assert len(shown) == len(sent)  # every reply reached the learner, once
        welcome, *_ = shown
        assert welcome["body"].startswith("Bienvenue"), welcome["body"]
        assert "*Leçon 1/6 : " in welcome["body"] and welcome["choices"][0][0] == "NEXT"
        assert all(len(title) <= 20 for s in shown for _, title in s["choices"])
        choices = [[choice for choice, _ in s["choices"]] for s in shown]
        assert choices.count(["A", "B", "C"]) >= 18  # every question (and a review)
        assert {tuple(c) for c in choices} == {("A", "B", "C"), ("NEXT",), ()}
        assert "Se lancer en freelance" in shown[-1]["body"]
        assert store.enrollment(phone, COURSE).completed

        # The same number by SMS: the same learner, the course done.
        params = TwilioWebhooks(None).inbound_params(phone, "STATUS",
                                                     f"SM{int(phone[1:]):032x}")
        path = "/carriers/twilio/sms"
        status, _ = post(gateway.base + path, params, {
            "X-Twilio-Signature": twilio_signature(AUTH_TOKEN, PUBLIC_URL + path, params)})
        assert status == 200
        gateway.drain()
        [progress] = twilio_api.bodies_to(phone)
        assert "6/6" in progress and "Cours terminé" in progress, progress

        # On USSD.
        ussd = UssdSession(gateway, phone)
        menu = ussd.press(None)
        assert menu.startswith("CON "), menu
        option = re.search(r"(\d)\. (?:Progr|Mes progr)", menu)
        screen = ussd.press(option.group(1) if option else "3")
        assert "6/6" in screen, (menu, screen)

        # On the lite web.
        page = web_progress(gateway, store, phone)
        assert "Se lancer en freelance" in page and "6/6" in page, page[-2000:]
