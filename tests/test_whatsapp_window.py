"""WhatsApp's 24-hour window: the scheduler's messages to a WhatsApp learner go as WhatsApp
messages, free-form inside the window and as the carrier's templates outside it; a daily
lesson's template invites a reply that opens the lesson; a message with no template is not
sent free-form and says why. Through the real webhook, scheduler and worker against the
loopback Graph API, on a clock the test turns."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from carrier_adapters import SendError
from gateway import create_app
from gateway.channels.scheduled import run_scheduled
from gateway.channels.whatsapp.unsolicited import engine, queue_due
from gateway.config import load_carriers
from gateway.learning import replies as r
from gateway.ops.announcements import announce
from gateway.outbox.window import as_sendable
from gateway.outbox.worker import OutboxWorker
from gateway.store import Store
from tests.conftest import AUTH_TOKEN, carriers_toml
from tests.fakes.clock import SimulatedClock
from tests.fakes.graph_api import FakeGraphApi, sign, wamid
from tests.test_operations import learnline

PHONE_NUMBER_ID = "106540352242922"
ACCESS_TOKEN = "EAAG-whatsapp-access-token-0123456789"
APP_SECRET = "0123456789abcdef0123456789abcdef"
AWA = "+221770000555"  # Dakar (UTC+0), in French
DAKAR = ZoneInfo("Africa/Dakar")
# The Monday that began this week (UTC): `learnline outbox failed` counts its days back from
# the real time, so the simulated week must be the real one, whenever the suite runs.
_TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
MONDAY = (_TODAY - timedelta(days=_TODAY.weekday())).timestamp()
HOUR = 3600.0
COURSE = "start-freelancing"

TEMPLATES = """
[carriers.wa.templates.daily_lesson]
name = "learnline_daily_lesson"
category = "utility"
parameters = ["learner_name", "lesson_number", "lesson_title"]
language_codes = { fr = "fr", en = "en_US" }

[carriers.wa.templates.reminder]
name = "learnline_reminder"
category = "utility"
parameters = ["lesson_title"]
language_codes = { fr = "fr" }

[carriers.wa.templates.review]
name = "learnline_review"
category = "utility"
parameters = ["lesson_title", "question"]
language_codes = { fr = "fr" }

[carriers.wa.templates.announcement]
name = "learnline_announcement"
category = "marketing"
parameters = ["course_title", "text"]
language_codes = { fr = "fr" }
"""


def carriers_text(graph_url: str, templates: str) -> str:
    return f"""
[carriers.wa]
adapter = "whatsapp"
country = "SN"
phone_number_id = "{PHONE_NUMBER_ID}"
access_token = "{ACCESS_TOKEN}"
app_secret = "{APP_SECRET}"
verify_token = "learnline-verify-token-0123"
api_base_url = "{graph_url}"
public_url = "https://learn.example.org"
inbound_per_minute = 10000
inbound_per_hour = 10000
{templates}"""


class Days:
    """A WhatsApp learner's days: they write through the signed webhook; the worker
    schedules and sends at each moment the test turns the clock to."""

    def __init__(self, tmp_path: Path, db_path: Path, graph_api: FakeGraphApi,
                 templates: str = TEMPLATES):
        self.graph_api = graph_api
        self.carriers = tmp_path / "carriers.toml"
        self.carriers.write_text(carriers_text(graph_api.url, templates))
        self.clock = SimulatedClock(MONDAY)
        self.client = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(self.carriers),
                                  "TESTING": True, "CLOCK": self.clock}).test_client()
        self.worker = OutboxWorker(db_path, load_carriers(self.carriers),
                                   wall_clock=self.clock, schedule_seconds=0)
        self.store = Store.open(db_path, clock=self.clock)

    def at(self, day: int, hour: int, minute: int = 0) -> float:
        start = datetime.fromtimestamp(MONDAY, DAKAR)
        return (start + timedelta(days=day)).replace(hour=hour, minute=minute).timestamp()

    def post(self, message: dict) -> None:
        raw = json.dumps({"object": "whatsapp_business_account", "entry": [{
            "id": "102290129340398", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881",
                             "phone_number_id": PHONE_NUMBER_ID},
                "contacts": [{"profile": {"name": "Awa"}, "wa_id": AWA[1:]}],
                "messages": [message]}}]}]}).encode()
        response = self.client.post("/carriers/wa/whatsapp", data=raw, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": sign(APP_SECRET, raw)})
        assert response.status_code == 200, response.get_data(as_text=True)

    def say(self, text: str) -> None:
        self.post({"from": AWA[1:], "id": wamid(), "timestamp": "1765000000",
                   "type": "text", "text": {"body": text}})

    def tap_quick_reply(self, payload: str, text: str) -> None:
        """A template's quick-reply button, as Meta notifies it."""
        self.post({"from": AWA[1:], "id": wamid(), "timestamp": "1765000000",
                   "type": "button", "button": {"payload": payload, "text": text}})

    def run_worker(self) -> None:
        self.worker.run(drain=True, poll_seconds=0.001)

    def take_first_lesson(self, *, wrong_first: bool = False) -> None:
        """START, then the first lesson read and answered right (its first question wrong
        first, with `wrong_first`)."""
        self.say("START")
        course = self.store.course(COURSE)
        for _ in range(40):
            enrollment = self.store.enrollment(AWA, COURSE)
            if enrollment.position == 1:
                return
            if enrollment.quiz is None or not enrollment.quiz.queue:
                self.say("NEXT")
                continue
            lesson = self.store.lesson(COURSE, course.lesson_ids[0], "fr")
            number = enrollment.quiz.queue[0]
            answer = lesson.questions[number].answer
            if wrong_first and number == 0 and 0 not in enrollment.quiz.requeued:
                answer = (answer + 1) % len(lesson.questions[0].options)
            self.say("ABCD"[answer])
        raise AssertionError("the lesson never ended")

    def scheduled(self, kind: str = "lesson") -> list[dict]:
        return [dict(row) for row in self.store.db.query(
            "SELECT status, body, payload, error, due_at FROM outbox WHERE kind = ? "
            "ORDER BY id", [kind])]


@pytest.fixture
def graph_api():
    with FakeGraphApi(PHONE_NUMBER_ID, ACCESS_TOKEN) as api:
        api.register_template("learnline_daily_lesson", "fr", parameters=3, quick_replies=1)
        api.register_template("learnline_reminder", "fr", parameters=1, quick_replies=1)
        api.register_template("learnline_announcement", "fr", parameters=2)
        api.register_template("learnline_review", "fr", parameters=2)
        yield api


@pytest.fixture
def days(tmp_path, db_path, graph_api):
    found = Days(tmp_path, db_path, graph_api)
    yield found
    found.store.close()


def daily_lesson_at(days: Days, hour: int, *, learned_at: float) -> None:
    """Awa takes the first lesson at `learned_at`, asks for daily lessons at `hour`, and
    gets her answers."""
    days.clock.now = learned_at
    days.take_first_lesson()
    days.say(f"TIME {hour}")
    days.run_worker()
    learner = days.store.learner(AWA)
    assert (learner.schedule, learner.schedule_hour) == ("daily", hour)


def test_a_daily_lesson_due_30_hours_after_the_last_message_goes_as_its_template(days):
    daily_lesson_at(days, 16, learned_at=days.at(0, 10))
    sent_before = len(days.graph_api.messages)
    days.clock.now = days.at(1, 16, 1)  # Tuesday 16:01: 30 hours after her last message
    days.run_worker()
    [template] = days.graph_api.messages[sent_before:]
    lesson = days.store.lesson(COURSE, days.store.course(COURSE).lesson_ids[1], "fr")
    assert template["type"] == "template"
    assert template["template"]["name"] == "learnline_daily_lesson"
    assert template["template"]["language"] == {"code": "fr"}
    body, button = template["template"]["components"]
    assert [p["text"] for p in body["parameters"]] == ["ami", "2", lesson.title]
    assert button["parameters"] == [{"type": "payload", "payload": "START"}]
    [queued] = days.scheduled()
    assert queued["status"] == "sent"
    assert json.loads(queued["payload"])["template"]["category"] == "utility"
    assert f"*Leçon 2/6 : {lesson.title}*" in queued["body"]  # the lesson, for operators
    assert _whatsapp_cost(days, lesson.id) == (0, 1)  # one utility template toward lesson 2


def test_the_reply_to_the_template_opens_the_lesson_free_form(days):
    daily_lesson_at(days, 16, learned_at=days.at(0, 10))
    days.clock.now = days.at(1, 16, 1)
    days.run_worker()
    assert days.graph_api.messages[-1]["type"] == "template"  # the invitation to reply
    sent_before = len(days.graph_api.messages)
    days.clock.now = days.at(1, 18)
    days.tap_quick_reply("START", "Commencer")
    days.run_worker()
    [card] = days.graph_api.messages[sent_before:]
    lesson = days.store.lesson(COURSE, days.store.course(COURSE).lesson_ids[1], "fr")
    assert card["type"] == "interactive"
    text = card["interactive"]["body"]["text"]
    assert f"*Leçon 2/6 : {lesson.title}*\n{lesson.cards[0].text}" in text, text
    assert card["interactive"]["action"]["buttons"][0]["reply"]["id"] == "NEXT"
    enrollment = days.store.enrollment(AWA, COURSE)
    assert (enrollment.position, enrollment.card, enrollment.quiz) == (1, 0, None)
    # The lesson goes on free-form: NEXT shows its second card.
    days.tap_quick_reply("NEXT", "Suivant")
    days.run_worker()
    assert days.graph_api.messages[-1]["type"] == "interactive"
    assert days.store.enrollment(AWA, COURSE).card == 1


def test_within_the_window_the_daily_lesson_goes_free_form_with_its_button(days):
    daily_lesson_at(days, 16, learned_at=days.at(0, 10))
    days.clock.now = days.at(1, 9)
    days.say("STATUS")  # Tuesday 9:00: she writes; the window is open until Wednesday 9:00
    days.run_worker()
    sent_before = len(days.graph_api.messages)
    days.clock.now = days.at(1, 16, 1)
    days.run_worker()
    [lesson] = days.graph_api.messages[sent_before:]
    assert lesson["type"] == "interactive"
    assert lesson["interactive"]["body"]["text"].startswith("Votre leçon du jour")
    assert lesson["interactive"]["action"]["buttons"][0]["reply"]["id"] == "NEXT"
    [queued] = days.scheduled()
    assert "template" not in json.loads(queued["payload"])  # what went: no template
    second = days.store.course(COURSE).lesson_ids[1]
    assert _whatsapp_cost(days, second) == (1, 0)  # one service message toward lesson 2


def _whatsapp_cost(days, lesson_id: str) -> tuple[int, int]:
    """(service messages, utility templates) counted toward Awa's lesson."""
    row = days.store.db.execute(
        "SELECT whatsapp_service, whatsapp_utility FROM lesson_costs WHERE phone = ? "
        "AND course_id = ? AND lesson_id = ?", [AWA, COURSE, lesson_id]).fetchone()
    return (row[0], row[1]) if row else (0, 0)


def test_without_a_template_the_lesson_is_not_sent_free_form_and_says_why(
        tmp_path, db_path, graph_api):
    days = Days(tmp_path, db_path, graph_api, templates="")
    try:
        daily_lesson_at(days, 16, learned_at=days.at(0, 10))
        sent_before = len(graph_api.messages)
        days.clock.now = days.at(1, 16, 1)
        days.run_worker()
        assert graph_api.messages[sent_before:] == []
        [queued] = days.scheduled()
        assert queued["status"] == "failed"
        assert queued["error"] == ("outside WhatsApp's 24-hour window and no template "
                                   "'daily_lesson' for fr")
        [attempt] = days.store.db.query(
            "SELECT outcome, detail FROM send_attempts WHERE outbox_id = (SELECT id FROM "
            "outbox WHERE kind = 'lesson')")
        assert attempt["outcome"] == "failed" and "24-hour window" in attempt["detail"]
        # What the operator reads of it.
        listed = learnline("outbox", "failed", "--days", "7", cwd=tmp_path,
                           LEARNLINE_DB=str(db_path), LEARNLINE_CARRIERS=str(days.carriers))
        assert listed.returncode == 0, listed.stderr
        [line] = [line for line in listed.stdout.splitlines() if " lesson " in line]
        assert line.endswith("  outside WhatsApp's 24-hour window and no template "
                             "'daily_lesson' for fr"), line
        failed_at = f"{datetime.fromtimestamp(days.at(1, 16, 1), UTC):%Y-%m-%d %H:%M}"
        assert f" wa  +22177*****55  lesson  failed {failed_at} UTC  " in line
        assert AWA not in listed.stdout
    finally:
        days.store.close()


def test_the_refusal_outside_the_window_may_go_through_the_fallback(
        tmp_path, db_path, graph_api):
    """What the worker is given for a free-form message outside the window with no
    template: a SendError not retried, marked for the carrier's fallback."""
    days = Days(tmp_path, db_path, graph_api, templates="")
    try:
        days.say("START")
        days.run_worker()
        days.clock.now += 25 * HOUR
        with days.store.write():
            days.store.enqueue("wa", AWA, "Rappel", kind="reminder")
        message = days.store.claim_due("wa", 60.0)
        assert message.kind == "reminder"
        carrier = load_carriers(days.carriers)["wa"]
        with pytest.raises(SendError) as caught:
            as_sendable(days.store, carrier, message, "fr")
        assert (caught.value.retry, caught.value.fallback) == (False, True)
        assert caught.value.detail == ("outside WhatsApp's 24-hour window and no template "
                                       "'reminder' for fr")
    finally:
        days.store.close()


def test_a_lesson_held_by_quiet_hours_past_the_window_goes_as_its_template(days):
    """Queued at 20:01, 12.5 hours after her last message: free-form then, its template
    beside it. Not sent before quiet hours began (21:00), it is held until 08:00, when the
    window has closed: it goes as its template."""
    daily_lesson_at(days, 20, learned_at=days.at(0, 7, 30))
    days.clock.now = days.at(0, 20, 1)
    assert run_scheduled(days.store, load_carriers(days.carriers)) == 1
    [queued] = days.scheduled()
    payload = json.loads(queued["payload"])
    assert payload["buttons"][0]["id"] == "NEXT" and "outside_window" in payload
    days.clock.now = days.at(0, 21, 30)  # the worker comes to it in quiet hours
    days.run_worker()
    [queued] = days.scheduled()
    assert queued["status"] == "queued" and queued["due_at"] == days.at(1, 8)
    sent_before = len(days.graph_api.messages)
    days.clock.now = days.at(1, 8)
    days.run_worker()
    [template] = days.graph_api.messages[sent_before:]
    assert template["type"] == "template"
    assert template["template"]["name"] == "learnline_daily_lesson"
    [queued] = days.scheduled()
    assert queued["status"] == "sent"
    assert json.loads(queued["payload"]) == {"template": {
        "name": "learnline_daily_lesson", "language": "fr", "category": "utility",
        "parameters": ["ami", "2", days.store.lesson(
            COURSE, days.store.course(COURSE).lesson_ids[1], "fr").title],
        "quick_replies": ["START"]}}


def test_a_reminder_outside_the_window_goes_as_its_template(days):
    days.clock.now = days.at(0, 10)
    days.say("START")  # in the middle of lesson 1, and silent: reminded two days later
    days.run_worker()
    sent_before = len(days.graph_api.messages)
    days.clock.now = days.at(2, 10, 1)
    days.run_worker()
    [reminder] = days.graph_api.messages[sent_before:]
    assert reminder["type"] == "template"
    assert reminder["template"]["name"] == "learnline_reminder"
    lesson = days.store.lesson(COURSE, days.store.course(COURSE).lesson_ids[0], "fr")
    assert reminder["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": lesson.title}]


def test_an_announcement_outside_the_window_goes_as_its_template(days):
    days.say("START")
    days.run_worker()
    sent_before = len(days.graph_api.messages)
    days.clock.now += 3 * 24 * HOUR
    text = "Bonjour !\nLa leçon de demain porte sur les prix."
    announce(days.store, load_carriers(days.carriers), COURSE, text)
    days.clock.now = days.at(3, 12)
    days.run_worker()
    [news] = [m for m in days.graph_api.messages[sent_before:]
              if m["template"]["name"] == "learnline_announcement"]
    assert news["type"] == "template"
    assert news["template"]["name"] == "learnline_announcement"
    title = days.store.course(COURSE).title_in("fr")
    assert [p["text"] for p in news["template"]["components"][0]["parameters"]] == [
        title, "Bonjour ! La leçon de demain porte sur les prix."]  # on one line
    [queued] = days.scheduled("announcement")
    assert queued["body"] == text


def test_an_announcement_inside_the_window_goes_as_text(days):
    days.say("START")
    days.run_worker()
    sent_before = len(days.graph_api.messages)
    announce(days.store, load_carriers(days.carriers), COURSE, "Bonjour !")
    days.clock.now = days.at(0, 12)
    days.run_worker()
    [news] = days.graph_api.messages[sent_before:]
    assert news["type"] == "text" and news["text"]["body"] == "Bonjour !"


def test_a_review_outside_the_window_goes_as_its_template_and_is_answered_by_letter(days):
    days.clock.now = days.at(0, 10)
    days.take_first_lesson(wrong_first=True)
    days.run_worker()
    sent_before = len(days.graph_api.messages)
    days.clock.now = days.at(3, 10, 30)  # the missed question is due again, days later
    days.run_worker()
    [review] = days.graph_api.messages[sent_before:]
    lesson = days.store.lesson(COURSE, days.store.course(COURSE).lesson_ids[0], "fr")
    question = lesson.questions[0]
    assert review["type"] == "template"
    assert review["template"]["name"] == "learnline_review"
    options = " ".join(f"{letter}) {option}" for letter, option in zip("ABCD", question.options,
                                                                       strict=False))
    assert [p["text"] for p in review["template"]["components"][0]["parameters"]] == [
        lesson.title, f"{question.text} {options}"]
    days.say("ABCD"[question.answer])  # typed, as the template says
    days.run_worker()
    answer = days.graph_api.messages[-1]
    assert answer["type"] == "text" and answer["text"]["body"].startswith("Bravo !")
    assert days.store.learner(AWA).pending_review is None


def test_a_card_too_long_for_buttons_is_one_scheduled_message_that_says_what_to_reply(days):
    """A scheduled message goes whole, free-form or as its template: a card too long for a
    button's body is one text, which names the reply."""
    days.say("START")
    carrier = load_carriers(days.carriers)["wa"]
    card = r.CardShown(course_title="Se lancer", lesson_number=2, lesson_count=6,
                       lesson_title="Trouver un client", card_number=1, card_count=3,
                       text="mot " * 400)
    with days.store.write():
        learner = days.store.learner(AWA)
        queued = queue_due(days.store, carrier, engine(days.store, carrier.pacing), learner,
                           "lesson", (r.DailyLesson(2, 6), card), due=days.clock.now)
    assert queued == 1
    [message] = days.scheduled()
    assert message["body"].startswith("Votre leçon du jour")
    assert "[1/3]" in message["body"] and message["body"].count("mot") == 400
    payload = json.loads(message["payload"])
    assert set(payload) == {"outside_window"}  # text alone inside the window
    assert payload["outside_window"]["template"]["parameters"][1:] == ["2",
                                                                      "Trouver un client"]


def test_without_a_template_the_daily_lesson_goes_by_sms_through_the_fallback(
        tmp_path, db_path, graph_api, twilio_api, monkeypatch):
    """A daily lesson due 30 hours after her last message, and no template for it: not
    free-form on WhatsApp, but once by SMS through the WhatsApp carrier's fallback."""
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    days = Days(tmp_path, db_path, graph_api,
                templates='fallback_carrier = "twilio"\n' + carriers_toml(twilio_api.url))
    try:
        daily_lesson_at(days, 16, learned_at=days.at(0, 10))
        sent_before = len(days.graph_api.messages)
        days.clock.now = days.at(1, 16, 1)
        days.run_worker()
        assert days.graph_api.messages[sent_before:] == []  # nothing free-form outside it
        sms = twilio_api.bodies_to(AWA)
        lesson = days.store.lesson(COURSE, days.store.course(COURSE).lesson_ids[1], "fr")
        assert sms and lesson.title in "\n".join(sms) and "*" not in "\n".join(sms)
        [original] = days.store.db.query(
            "SELECT status, error FROM outbox WHERE kind = 'lesson' AND carrier_id = 'wa'")
        assert original["status"] == "failed"
        assert original["error"].startswith("outside WhatsApp's 24-hour window and no "
                                            "template 'daily_lesson' for fr")
        assert original["error"].endswith("sent as SMS through twilio")
        days.run_worker()
        assert twilio_api.bodies_to(AWA) == sms  # once
        assert days.store.learner(AWA).carrier_id == "wa"  # still a WhatsApp learner
    finally:
        days.store.close()
