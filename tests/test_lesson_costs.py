"""Cost per completed lesson, in money, by delivery mode, carrier, course and language:
the carriers' prices (SMS segments, USSD sessions, megabytes of lesson pages), and a
seeded run through the real channels read on the dashboard and in `learnline stats`."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import brotli
import pytest
from click.testing import CliRunner

from gateway import create_app
from gateway.channels.scheduled import run_scheduled
from gateway.channels.vocabulary import command_words
from gateway.cli.main import main
from gateway.config import ConfigError, load_carriers
from gateway.ops import reports
from gateway.sms_text import count
from gateway.store import Store, privacy
from tests.conftest import csrf

CONSOLE = 'adapter = "console"\nwebhook_token = "0123456789abcdef0"\n'
COURSE = "start-freelancing"
LESSON = "find-your-skill"
TOKEN = "lesson-costs-dashboard-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
SMS_TOKEN = "console-token-0123456789abcdef"
AT_TOKEN = "at-token-0123456789abcdef"
DAY0 = datetime(2025, 5, 5, 9, tzinfo=UTC).timestamp()
SMS_LEARNER, USSD_LEARNER, WEB_LEARNER = "+221770000101", "+254712000201", "+254712000301"
# Senegal's carrier texts in French, prices segments in XOF; the Kenyan one takes USSD
# and zero-rates the lite web for a school, in KES.
PRICES = {"console": {"segment": 2.5, "currency": "XOF"},
          "at-ke": {"segment": 0.8, "ussd": 1.5, "mb": 200.0, "currency": "KES"}}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "carriers.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- the carriers' prices ------------------------------------------------------------------


@pytest.mark.parametrize("key", ["price_per_ussd_session", "price_per_web_mb",
                                 "price_per_segment"])
@pytest.mark.parametrize("value", ["-1", '"cheap"', "true", "1000", "nan"])
def test_a_bad_price_is_refused_naming_file_carrier_and_key(tmp_path, key, value):
    path = write(tmp_path, f'[carriers.sn-console]\n{CONSOLE}{key} = {value}\n')
    with pytest.raises(ConfigError) as caught:
        load_carriers(path, env={})
    message = str(caught.value)
    assert str(path) in message
    assert "'sn-console'" in message
    assert f"key '{key}': must be a number at least 0 and below 1000" in message


def test_prices_of_ussd_sessions_and_web_megabytes_are_read(tmp_path):
    path = write(tmp_path, f'[carriers.sn-console]\n{CONSOLE}price_per_segment = 2.5\n'
                 'price_per_ussd_session = 10\nprice_per_web_mb = 0.75\ncurrency = "XOF"\n')
    carrier = load_carriers(path, env={})["sn-console"]
    assert (carrier.price_per_segment, carrier.price_per_ussd_session,
            carrier.price_per_web_mb, carrier.currency) == (2.5, 10.0, 0.75, "XOF")
    bare = load_carriers(write(tmp_path, f'[carriers.sn-console]\n{CONSOLE}'), env={})
    assert (bare["sn-console"].price_per_ussd_session, bare["sn-console"].price_per_web_mb) \
        == (0.0, 0.0)


# -- a seeded run through the real channels ------------------------------------------------


class Clock:
    """The time every store of the test reads."""

    def __init__(self) -> None:
        self.now = DAY0

    def __call__(self) -> float:
        return self.now


def seeded_carriers(tmp_path: Path) -> Path:
    at = PRICES["at-ke"]
    return write(tmp_path, f"""
[carriers.console]
adapter = "console"
country = "SN"
webhook_token = "{SMS_TOKEN}"
price_per_segment = {PRICES["console"]["segment"]}
currency = "{PRICES["console"]["currency"]}"

[carriers.at-ke]
adapter = "africastalking"
country = "KE"
locale = "en"
username = "sandbox"
api_key = "at-api-key-0123456789"
api_base_url = "http://127.0.0.1:9"
webhook_token = "{AT_TOKEN}"
price_per_segment = {at["segment"]}
price_per_ussd_session = {at["ussd"]}
price_per_web_mb = {at["mb"]}
currency = "{at["currency"]}"
""")


@dataclass
class Run:
    """What the seeded run saw from the learners' side, to check the figures against."""

    app: object
    sms_segments: int  # of every reply the SMS learner got, counted again from the texts
    ussd_sessions: int  # sessions the USSD learner opened that showed the lesson
    web_bytes: int  # lesson and quiz pages as the browser received them


def _sms_learner(client, store: Store) -> None:
    """A learner in Senegal takes lesson 1 by SMS, in French: START, NEXT through the
    cards of its SMS edition into the quiz, every question answered right."""
    words = command_words("fr")

    def text(body: str) -> None:
        response = client.post(f"/carriers/console/sms?token={SMS_TOKEN}",
                               data={"from": SMS_LEARNER, "text": body})
        assert response.status_code == 200, response.text

    lesson = store.lesson(COURSE, LESSON, "fr")
    text(words["start"])
    # NEXT until the first question comes (with the last card its SMS edition sends).
    while not any("Q1/" in m.body for m in store.outbox(SMS_LEARNER)):
        text(words["next"])
        assert len(store.outbox(SMS_LEARNER)) <= 2 * len(lesson.cards), "no quiz came"
    for question in lesson.questions:
        text("ABCD"[question.answer])


class UssdPhone:
    """A Kenyan handset on Africa's Talking's USSD webhook (every input so far, '*'-joined)."""

    def __init__(self, client) -> None:
        self.client, self.session, self.inputs = client, "", []

    def dial(self, session: str) -> str:
        self.session, self.inputs = session, []
        return self._send()

    def press(self, choice: str) -> str:
        self.inputs.append(choice)
        return self._send()

    def _send(self) -> str:
        response = self.client.post(f"/carriers/at-ke/ussd?token={AT_TOKEN}", data={
            "sessionId": self.session, "serviceCode": "*384*12#",
            "phoneNumber": USSD_LEARNER, "text": "*".join(self.inputs)})
        assert response.status_code == 200 and response.text.startswith("CON "), response.text
        return response.text[4:]


def _ussd_learner(client, store: Store) -> int:
    """A learner in Kenya starts lesson 1 by USSD, the call drops on a card, they dial
    again (resumed at the card) and finish the quiz right: two sessions showed it."""
    lesson = store.lesson(COURSE, LESSON, "en")
    phone = UssdPhone(client)
    phone.dial("at-1")
    screen = phone.press("1")  # Start: the first card
    assert screen.startswith("Lesson 1/6, card 1/")
    screen = phone.dial("at-2")  # the call dropped: a new session resumes at the card
    assert screen.startswith("Welcome back! Lesson 1/6, card 1/"), screen
    asked = 0
    for _ in range(200):
        if re.match(r"Q\d+/\d+: ", screen):
            screen = phone.press(str(lesson.questions[asked].answer + 1))
            asked += 1
        elif "98 More" in screen:
            screen = phone.press("98")
        elif asked == len(lesson.questions):
            break
        else:
            screen = phone.press("1")
    assert store.lesson_results(USSD_LEARNER, COURSE) == {LESSON: (3, 3)}
    return 2


def _wire_bytes(response) -> int:
    """A response's bytes as the server wrote them: status line, headers, body."""
    return len(response.data) + len(f"HTTP/1.1 {response.status}\r\n\r\n") + sum(
        len(name) + len(value) + 4 for name, value in response.headers.items())


def _web_learner(client, store: Store) -> int:
    """A learner in Kenya signs in on the lite web, reads lesson 1 and answers its quiz
    right, in a browser taking brotli; returns the bytes of the lesson's pages."""
    response = client.post("/signin", data={"csrf": csrf(client), "phone": WEB_LEARNER})
    assert response.status_code == 302
    code = re.search(r"code is (\d{6})", store.outbox(WEB_LEARNER)[-1].body).group(1)
    response = client.post("/signin/code", data={"csrf": csrf(client, "/signin/code"),
                                                 "code": code})
    assert response.status_code == 302
    path = f"/courses/{COURSE}/{LESSON}"
    br = {"Accept-Encoding": "br"}
    pages = [client.get(path, headers=br)]
    token = re.search(r'name="csrf" value="([^"]+)"',
                      brotli.decompress(pages[0].data).decode()).group(1)
    pages.append(client.post(path, data={"csrf": token}, headers=br))
    pages.append(client.get(path + "/quiz", headers=br))
    lesson = store.lesson(COURSE, LESSON, "en")
    pages.append(client.post(path + "/quiz", headers=br, data={
        "csrf": token, **{f"q{n}": str(q.answer) for n, q in enumerate(lesson.questions)}}))
    assert [p.status_code for p in pages] == [200, 303, 200, 200]
    assert all(p.headers.get("Content-Encoding") == "br" for p in pages if p.data)
    assert store.lesson_results(WEB_LEARNER, COURSE) == {LESSON: (3, 3)}
    return sum(_wire_bytes(p) for p in pages)


@pytest.fixture
def run(tmp_path, db_path) -> Run:
    clock = Clock()
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(seeded_carriers(tmp_path)),
                      "SECRET_KEY": "lesson-costs-secret-0123456789", "CLOCK": clock,
                      "ADMIN_TOKEN": TOKEN})
    store = Store.open(str(db_path), clock=clock)
    try:
        _sms_learner(app.test_client(), store)
        clock.now += 600
        sessions = _ussd_learner(app.test_client(), store)
        clock.now += 600
        web_bytes = _web_learner(app.test_client(), store)
        console = app.extensions["learnline.carriers"]["console"]
        segments = sum(count(m.body, console.encoding_policy).segments
                       for m in store.outbox(SMS_LEARNER))
    finally:
        store.close()
    return Run(app, segments, sessions, web_bytes)


def expected_rows(run: Run) -> list[list[str]]:
    """The lesson_costs table worked out from what the learners received, times the
    carriers' prices."""
    at = PRICES["at-ke"]
    sms_cost = run.sms_segments * PRICES["console"]["segment"]
    ussd_cost = run.ussd_sessions * at["ussd"]
    web_cost = run.web_bytes / 1_000_000 * at["mb"]
    mb = f"{run.web_bytes / 1_000_000:.3f}"
    money = reports.money
    sms = [str(run.sms_segments), "0", "0.000", "0", money(sms_cost), money(sms_cost)]
    kenya = ["0", str(run.ussd_sessions), mb, "0", money(ussd_cost + web_cost),
             money((ussd_cost + web_cost) / 2)]
    return [
        ["by", "group", "currency", "lessons completed", "segments", "USSD sessions",
         "web MB", "WhatsApp messages", "cost", "cost per lesson"],
        ["mode", "full SMS", "XOF", "1", *sms],
        ["mode", "USSD", "KES", "1", "0", str(run.ussd_sessions), "0.000", "0",
         money(ussd_cost), money(ussd_cost)],
        ["mode", "web", "KES", "1", "0", "0", mb, "0", money(web_cost), money(web_cost)],
        ["carrier", "at-ke", "KES", "2", *kenya],
        ["carrier", "console", "XOF", "1", *sms],
        ["course", COURSE, "KES", "2", *kenya],
        ["course", COURSE, "XOF", "1", *sms],
        ["language", "en", "KES", "2", *kenya],
        ["language", "fr", "XOF", "1", *sms],
    ]


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_dashboard_shows_cost_per_completed_lesson_by_mode(run: Run):
    client = run.app.test_client()
    response = client.get("/admin/lesson_costs.csv?days=1", headers=BEARER)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert csv_rows(response.text) == expected_rows(run)
    # The SMS learner's first lesson in French cost segments, within the course's budget of
    # 8 (its welcome included); USSD two sessions; the web a few kilobytes of compressed pages.
    assert 5 <= run.sms_segments <= 8 and 2_000 < run.web_bytes < 60_000

    page = client.get("/admin?days=1", headers=BEARER)
    assert page.status_code == 200
    html = " ".join(page.text.split())
    for mode, row in (("full SMS", 1), ("USSD", 2), ("web", 3)):
        figures = expected_rows(run)[row]
        assert (f"<li>{mode}: <b>{figures[9]} {figures[2]}</b> a lesson (1 lesson; "
                f"{figures[4]} segments, {figures[5]} USSD sessions, {figures[6]} MB, "
                f"{figures[7]} WhatsApp messages)</li>") in html, mode
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", page.text)
    start = cells.index("full SMS")
    assert cells[start - 1:start + 9] == expected_rows(run)[1]


def test_learnline_stats_shows_the_same_cost_per_completed_lesson(run: Run, monkeypatch,
                                                                     tmp_path):
    monkeypatch.setenv("LEARNLINE_DB", run.app.config["DATABASE"])
    monkeypatch.setenv("LEARNLINE_CARRIERS", str(tmp_path / "carriers.toml"))
    runner = CliRunner()
    result = runner.invoke(main, ["stats", "--days", "1", "--until", "2025-05-05",
                                  "--csv", "lesson_costs"])
    assert result.exit_code == 0, result.output
    assert csv_rows(result.output) == expected_rows(run)
    printed = runner.invoke(main, ["stats", "--days", "1", "--until", "2025-05-05"])
    assert printed.exit_code == 0, printed.output
    lines = printed.output.splitlines()
    start = lines.index("Cost per completed lesson, by delivery mode, carrier, course and "
                        "language")
    shown = [re.split(r"\s{2,}", line.strip()) for line in lines[start + 3:start + 12]]
    assert shown == expected_rows(run)[1:]


def test_a_lesson_completed_on_one_mode_is_not_counted_on_another(run: Run):
    with Store.open(run.app.config["DATABASE"]) as store:
        modes = dict(((phone, mode) for phone, mode in store.db.execute(
            "SELECT phone, mode FROM lesson_completions").fetchall()))
    assert modes == {SMS_LEARNER: "sms", USSD_LEARNER: "ussd", WEB_LEARNER: "web"}


@pytest.mark.parametrize("path", ["/admin/lesson_costs.csv?days=1", "/admin?days=1"])
def test_the_cost_figures_need_the_dashboard_token(run: Run, path):
    client = run.app.test_client()
    assert client.get(path).status_code == 403
    wrong = client.get(path, headers={"Authorization": "Bearer " + "x" * 40})
    assert wrong.status_code == 403
    assert "XOF" not in wrong.text and "lesson by link" not in wrong.text
    assert client.get(path, headers=BEARER).status_code == 200


def test_erasing_a_learner_keeps_the_cost_figures_without_the_number(run: Run):
    client = run.app.test_client()
    before = client.get("/admin/lesson_costs.csv?days=1", headers=BEARER).text
    with Store.open(run.app.config["DATABASE"]) as store:
        assert privacy.erase(store, SMS_LEARNER).found
        for table in ("lesson_costs", "lesson_completions"):
            assert not store.db.execute(f"SELECT count(*) FROM {table} WHERE phone = ?",
                                        [SMS_LEARNER]).fetchone()[0], table
    assert client.get("/admin/lesson_costs.csv?days=1", headers=BEARER).text == before


def test_replies_outside_a_lesson_count_toward_none(tmp_path, db_path):
    """HELP before any course and the course list cost the operator, but no lesson; HELP
    asked in the middle of a lesson counts toward it."""
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(seeded_carriers(tmp_path)),
                      "SECRET_KEY": "lesson-costs-secret-0123456789", "ADMIN_TOKEN": TOKEN})
    client = app.test_client()
    words = command_words("fr")
    console = app.extensions["learnline.carriers"]["console"]

    def text(body: str) -> int:
        """Text `body`; the segments of the replies it got."""
        with Store.open(str(db_path)) as store:
            before = len(store.outbox(SMS_LEARNER))
            assert client.post(f"/carriers/console/sms?token={SMS_TOKEN}", data={
                "from": SMS_LEARNER, "text": body}).status_code == 200
            return sum(count(m.body, console.encoding_policy).segments
                       for m in store.outbox(SMS_LEARNER)[before:])

    def counted() -> dict:
        with Store.open(str(db_path)) as store:
            return {row[0]: row[1] for row in store.db.execute(
                "SELECT lesson_id, segments FROM lesson_costs WHERE phone = ?",
                [SMS_LEARNER])}

    assert text(words["help"]) and text(words["courses"])
    assert counted() == {}
    started = text(words["start"])
    helped = text(words["help"])
    assert counted() == {LESSON: started + helped}


def test_a_scheduled_daily_lesson_counts_toward_its_lesson(tmp_path, db_path):
    """The scheduler's message with the day's lesson costs that lesson its segments: a
    learner who finished lesson 1 by SMS and asked for daily lessons gets lesson 2."""
    clock = Clock()
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(seeded_carriers(tmp_path)),
                      "SECRET_KEY": "lesson-costs-secret-0123456789", "CLOCK": clock})
    carriers = app.extensions["learnline.carriers"]
    client = app.test_client()
    with Store.open(str(db_path), clock=clock) as store:
        _sms_learner(client, store)
    assert client.post(f"/carriers/console/sms?token={SMS_TOKEN}", data={
        "from": SMS_LEARNER, "text": command_words("fr")["daily"] + " 9"}).status_code == 200
    with Store.open(str(db_path), clock=clock) as store:
        learner = store.learner(SMS_LEARNER)
        assert learner.schedule == "daily", learner
        counted = dict(store.db.execute("SELECT lesson_id, segments FROM lesson_costs"))
        second = store.course(COURSE).lesson_ids[1]
        assert second not in counted
        last = store.db.execute("SELECT max(id) FROM outbox").fetchone()[0]
        clock.now = learner.next_check_at
        assert run_scheduled(store, carriers, clock()) >= 1
        sent = store.db.execute("SELECT kind, body FROM outbox WHERE id > ?",
                                [last]).fetchall()
        assert [kind for kind, _ in sent] == ["lesson"] * len(sent)
        segments = sum(count(body, carriers["console"].encoding_policy).segments
                       for _, body in sent)
        assert segments and dict(store.db.execute(
            "SELECT lesson_id, segments FROM lesson_costs")) == {**counted, second: segments}
