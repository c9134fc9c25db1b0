"""The operator's dashboard (/admin), its CSV files and `learnline stats`, on a database
seeded through the real webhooks, pages and store over three days, for two carriers."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from carrier_adapters import UssdRequest
from gateway import create_app
from gateway.channels.ussd import handle_ussd
from gateway.cli.main import main
from gateway.ops import reports
from gateway.sms_text import count
from gateway.store import Store
from tests.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CONSOLE_TOKEN,
    PUBLIC_URL,
    TWILIO_SENDER,
    TwilioWebhooks,
)

TOKEN = "dashboard-token-for-tests-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
DAY0 = datetime(2025, 3, 3, tzinfo=UTC).timestamp()  # a Monday
DAYS = ("2025-03-03", "2025-03-04", "2025-03-05")
T1, T2, W1, W2 = "+2348030000001", "+2348030000002", "+2348030000011", "+2348030000012"
C1, U1 = "+221770000001", "+221770000002"
PRICES = {"twilio": (0.05, "USD"), "console": (2.5, "XOF")}


class Clock:
    """The time every store of the test reads (Store's and create_app's CLOCK)."""

    def __init__(self) -> None:
        self.now = DAY0

    def __call__(self) -> float:
        return self.now

    def at(self, day: int, hour: float) -> None:
        self.now = DAY0 + day * 86400 + hour * 3600


def carriers_toml(api_base_url: str) -> str:
    """Twilio (Nigeria) and the console (Senegal), each with a price per segment."""
    return f"""
[carriers.twilio]
adapter = "twilio"
sender = "{TWILIO_SENDER}"
country = "NG"
account_sid = "{ACCOUNT_SID}"
auth_token = "${{TEST_TWILIO_AUTH_TOKEN}}"
api_base_url = "{api_base_url}"
public_url = "{PUBLIC_URL}"
price_per_segment = {PRICES["twilio"][0]}
currency = "{PRICES["twilio"][1]}"

[carriers.console]
adapter = "console"
sender = "Learnline"
country = "SN"
webhook_token = "{CONSOLE_TOKEN}"
price_per_segment = {PRICES["console"][0]}
currency = "{PRICES["console"][1]}"
"""


def make_app(db_path: Path, carriers_file: Path, clock: Clock, **config):
    """The gateway with the dashboard on (its token) and the test's clock."""
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                       "SECRET_KEY": "dashboard-secret-0123456789", "CLOCK": clock,
                       "ADMIN_TOKEN": TOKEN, **config})


@dataclass
class Seeded:
    """What the seeding did, to check the figures against: inbound messages per (day,
    carrier), and the outbox ids created on each day."""

    inbound: Counter = field(default_factory=Counter)
    outbox_days: list[int] = field(default_factory=list)  # first outbox id of each day


def _csrf(client, path: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def _web_learner(client, store: Store, phone: str, choices: dict[str, str]) -> None:
    """Sign in by SMS code, read lesson 1 and post its quiz, as a learner would."""
    response = client.post("/signin", data={"csrf": _csrf(client, "/signin"), "phone": phone})
    assert response.status_code == 302
    code = re.search(r"code is (\d{6})", store.outbox(phone)[-1].body).group(1)
    response = client.post("/signin/code", data={"csrf": _csrf(client, "/signin/code"),
                                                 "code": code})
    assert response.status_code == 302
    lesson = "/courses/start-freelancing/find-your-skill"
    assert client.get(lesson).status_code == 200
    response = client.post(lesson + "/quiz",
                           data={"csrf": _csrf(client, lesson + "/quiz"), **choices})
    assert response.status_code == 200


def seed(app, clock: Clock) -> Seeded:
    """Three days of traffic through the real channels:

    - day 0: T1 (Twilio) sends START and HELP, C1 (console) START; the worker's store
      operations
      send everything queued; Twilio reports the first reply delivered and the second
      undelivered, the console reports its first reply delivered.
    - day 1: T1 sends NEXT, T2 sends START; W1 signs in on the web (a code by Twilio SMS)
      and answers lesson 1's quiz all right.
    - day 2: C1 sends NEXT; U1 dials the USSD menu; W2 signs in and answers lesson 1's
      quiz with the first question wrong.
    """
    client = app.test_client()
    twilio = TwilioWebhooks(client, AUTH_TOKEN)
    store = Store.open(app.config["DATABASE"], clock=clock)
    carriers = app.extensions["learnline.carriers"]
    seeded = Seeded()

    def day(n: int) -> None:
        clock.at(n, 9)
        seeded.outbox_days.append(len(store.outbox()) + 1)

    def sms(carrier: str, phone: str, text: str) -> None:
        if carrier == "twilio":
            response = twilio.sms(phone, text)
        else:
            response = client.post(f"/carriers/console/sms?token={CONSOLE_TOKEN}",
                                   data={"from": phone, "text": text})
        assert response.status_code == 200, response.text
        seeded.inbound[(DAYS[round((clock.now - DAY0) // 86400)], carrier)] += 1

    try:
        day(0)
        sms("twilio", T1, "START")
        sms("twilio", T1, "HELP")
        sms("console", C1, "START")
        clock.at(0, 10)
        sids: dict[str, list[str]] = defaultdict(list)
        for carrier in ("twilio", "console"):
            while (claimed := store.claim_due(carrier, 60)) is not None:
                sid = f"SM{claimed.id:032x}" if carrier == "twilio" else f"console-{claimed.id}"
                store.finish_send(claimed.id, "accepted", carrier_message_id=sid)
                sids[carrier].append(sid)
        assert len(sids["twilio"]) >= 2 and sids["console"]
        assert twilio.status(sids["twilio"][0], "delivered").status_code == 200
        assert twilio.status(sids["twilio"][1], "undelivered", "30003").status_code == 200
        assert client.post(f"/carriers/console/status?token={CONSOLE_TOKEN}", data={
            "id": sids["console"][0], "status": "delivered"}).status_code == 200

        day(1)
        sms("twilio", T1, "NEXT")
        sms("twilio", T2, "START")
        _web_learner(app.test_client(), store, W1, {"q0": _right(store, 0),
                                                    "q1": _right(store, 1),
                                                    "q2": _right(store, 2)})
        day(2)
        sms("console", C1, "NEXT")
        handle_ussd(store, carriers["console"], UssdRequest(
            session_id="ussd-1", sender=U1, service_code="*384*12#", text="", is_new=True,
            cumulative=True), U1, now=clock())
        _web_learner(app.test_client(), store, W2, {"q0": _wrong(store, 0),
                                                    "q1": _right(store, 1),
                                                    "q2": _right(store, 2)})
        clock.at(2, 18)
    finally:
        store.close()
    return seeded


def _right(store: Store, number: int) -> str:
    return str(store.lesson("start-freelancing", "find-your-skill", "en")
               .questions[number].answer)


def _wrong(store: Store, number: int) -> str:
    return str((int(_right(store, number)) + 1) % 2)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def priced_carriers(tmp_path, twilio_api, monkeypatch) -> Path:
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    path = tmp_path / "priced-carriers.toml"
    path.write_text(carriers_toml(twilio_api.url))
    return path


@pytest.fixture
def app(db_path, priced_carriers, clock):
    return make_app(db_path, priced_carriers, clock)


@pytest.fixture
def seeded(app, clock) -> Seeded:
    return seed(app, clock)


def csv_rows(text: str) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(text)))


# -- the figures -------------------------------------------------------------------------


def expected_carriers(app, seeded: Seeded) -> list[list[str]]:
    """The carriers table worked out from the outbox's texts (segments counted again
    from each body) and what the seeding sent, received and reported."""
    carriers = app.extensions["learnline.carriers"]
    with Store.open(app.config["DATABASE"]) as store:
        outbox = store.outbox()
    starts = [*seeded.outbox_days, outbox[-1].id + 1]
    out: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for n in range(3):
        for message in outbox:
            if starts[n] <= message.id < starts[n + 1]:
                segments = count(message.body, carriers[message.carrier_id].encoding_policy)
                row = out[(DAYS[n], message.carrier_id)]
                row[0] += 1
                row[1] += segments.segments
                row[2] += segments.segments if n == 0 else 0  # day 0's were sent
    reports_ = {("2025-03-03", "twilio"): (1, 1, 0), ("2025-03-03", "console"): (1, 0, 0)}
    rows = []
    totals: dict[str, list[float]] = defaultdict(lambda: [0] * 7)
    for key in sorted(set(out) | set(seeded.inbound)):
        day, carrier = key
        messages, segments, accepted = out[key]
        delivered, undelivered, failed = reports_.get(key, (0, 0, 0))
        final = delivered + undelivered + failed
        price, currency = PRICES[carrier]
        rows.append([day, carrier, str(seeded.inbound[key]), str(messages), str(segments),
                     str(accepted), str(delivered), str(undelivered), str(failed),
                     f"{100 * delivered / final:.1f}" if final else "",
                     reports.money(accepted * price), currency, "0", ""])  # read: no SMS
        for i, value in enumerate((seeded.inbound[key], messages, segments, accepted,
                                   delivered, undelivered, failed)):
            totals[carrier][i] += value
    for carrier, (inbound, messages, segments, accepted, delivered, undelivered,
                  failed) in sorted(totals.items()):
        final = delivered + undelivered + failed
        price, currency = PRICES[carrier]
        rows.append(["all days", carrier, *(str(int(v)) for v in (
            inbound, messages, segments, accepted, delivered, undelivered, failed)),
            f"{100 * delivered / final:.1f}" if final else "",
            reports.money(accepted * price), currency, "0", ""])
    return rows


def test_the_figures_from_three_days_of_traffic(app, seeded, clock):
    client = app.test_client()
    fetch = {name: csv_rows(client.get(f"/admin/{name}.csv?days=3", headers=BEARER).text)
             for name in reports.TABLES}

    assert fetch["activity"] == [
        ["day", "SMS", "USSD", "Web", "WhatsApp", "any channel"],
        ["2025-03-03", "2", "0", "0", "0", "2"],   # T1, C1 by SMS
        ["2025-03-04", "2", "0", "1", "0", "3"],   # T1, T2 by SMS; W1 on the web
        ["2025-03-05", "1", "1", "1", "0", "3"],   # C1 by SMS, U1 by USSD, W2 on the web
    ]
    # Lesson 1's first question: W1 right, W2 wrong; the others right twice.
    questions = fetch["questions"]
    assert questions[0] == ["course", "lesson", "question", "first answers", "right",
                            "% right", "text"]
    assert [row[:6] for row in questions[1:]] == [
        ["start-freelancing", "find-your-skill", "1", "2", "1", "50.0"],
        ["start-freelancing", "find-your-skill", "2", "2", "2", "100.0"],
        ["start-freelancing", "find-your-skill", "3", "2", "2", "100.0"],
    ]
    with Store.open(app.config["DATABASE"]) as store:
        lesson = store.lesson("start-freelancing", "find-your-skill", "en")
    assert questions[1][6] == lesson.questions[0].text

    funnel = {row[1]: row[2:] for row in fetch["funnel"][1:]}
    assert funnel["Finished 1. Find a skill people pay for"] == ["2", _share(2, funnel)]
    assert funnel["Finished 2. Find your first clients"] == ["0", "0.0"]
    assert funnel["Completed the course"] == ["0", "0.0"]
    # T1, T2 and C1 started by SMS, W1 and W2 on the web; U1 only saw the menu.
    assert funnel["Enrolled"] == ["5", "100.0"]
    assert int(funnel["Started lesson 1"][0]) == 5

    assert fetch["carriers"][1:] == expected_carriers(app, seeded)
    assert fetch["carriers"][1][:3] == ["2025-03-03", "console", "1"]
    twilio_day0 = next(r for r in fetch["carriers"] if r[:2] == ["2025-03-03", "twilio"])
    assert twilio_day0[6:10] == ["1", "1", "0", "50.0"]

    totals = {row[1]: row for row in fetch["carriers"] if row[0] == "all days"}
    costs = fetch["costs"]
    assert costs[0] == ["currency", "cost", "lessons completed", "cost per lesson"]
    assert costs[1:] == [
        [currency, totals[carrier][10], "2",
         reports.money(float(totals[carrier][10]) / 2)]
        for carrier, (_, currency) in sorted(PRICES.items(), key=lambda p: p[1][1])]
    assert float(totals["twilio"][10]) == pytest.approx(int(totals["twilio"][5]) * 0.05)


def _share(count: int, funnel: dict) -> str:
    return f"{100 * count / int(funnel['Enrolled'][0]):.1f}"


def test_the_page_draws_the_same_figures(app, seeded):
    page = app.test_client().get("/admin?days=3", headers=BEARER)
    assert page.status_code == 200
    html = page.text
    assert "<script" not in html and "style=" not in html
    assert html.count('role="img"') == 4 + 1 + 1 + 2  # channels, course, questions, carriers
    for title in ("2025-03-04: 2 learners by SMS", "2025-03-05: 1 learner by USSD",
                  "2025-03-04: 1 learner by Web", "Finished 1. Find a skill people pay for: "
                  "2 learners", "find-your-skill question 1: 1 of 2 right first (50.0%)"):
        assert f"<title>{title}</title>" in html, title
    for name in reports.TABLES:
        assert f'href="/admin/{name}.csv?days=3"' in html
    report_cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    start = report_cells.index("2025-03-05")
    assert report_cells[start:start + 6] == ["2025-03-05", "1", "1", "1", "0", "3"]
    assert page.headers["Cache-Control"] == "no-store"
    assert "style-src 'sha256-" in page.headers["Content-Security-Policy"]


def test_csv_files_are_downloads(app, seeded):
    client = app.test_client()
    response = client.get("/admin/carriers.csv?days=3", headers=BEARER)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="learnline-carriers-2025-03-03-to-2025-03-05.csv"')
    assert client.get("/admin/nothing.csv", headers=BEARER).status_code == 404
    assert client.get("/admin/nothing.csv").status_code == 403


# -- who may see it ----------------------------------------------------------------------------


def test_off_without_a_token(db_path, priced_carriers, clock, monkeypatch):
    monkeypatch.delenv("LEARNLINE_ADMIN_TOKEN", raising=False)
    client = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(priced_carriers),
                         "CLOCK": clock}).test_client()
    for path in ("/admin", "/admin/signin", "/admin/activity.csv"):
        assert client.get(path).status_code == 404
        assert client.get(path, headers={"Authorization": "Bearer "}).status_code == 404


def test_the_token_from_the_environment(db_path, priced_carriers, clock, monkeypatch):
    monkeypatch.setenv("LEARNLINE_ADMIN_TOKEN", "from-the-environment-0123456789")
    client = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(priced_carriers),
                         "CLOCK": clock}).test_client()
    assert client.get("/admin").status_code == 403
    assert client.get("/admin", headers={
        "Authorization": "Bearer from-the-environment-0123456789"}).status_code == 200


def test_credentials(app):
    client = app.test_client()
    assert client.get("/admin").status_code == 403  # the sign-in form
    assert 'name="token"' in client.get("/admin").text
    assert client.get("/admin/activity.csv").status_code == 403
    for wrong in ("Bearer nope", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN):
        assert client.get("/admin", headers={"Authorization": wrong}).status_code == 403
    assert client.get("/admin", headers=BEARER).status_code == 200
    assert client.get("/admin/activity.csv", headers=BEARER).status_code == 200

    token = _csrf(client, "/admin/signin")
    refused = client.post("/admin/signin", data={"csrf": token, "token": "guess"})
    assert refused.status_code == 403 and "not the dashboard" in refused.text
    assert client.post("/admin/signin", data={"token": TOKEN}).status_code == 400  # no CSRF
    signed = client.post("/admin/signin", data={"csrf": token, "token": TOKEN})
    assert signed.status_code == 303 and signed.location.endswith("/admin")
    assert client.get("/admin").status_code == 200
    assert client.get("/admin/funnel.csv").status_code == 200

    client.post("/admin/signout", data={"csrf": _csrf(client, "/admin")})
    assert client.get("/admin").status_code == 403


def test_a_new_token_signs_everyone_out(app):
    client = app.test_client()
    client.post("/admin/signin", data={"csrf": _csrf(client, "/admin/signin"),
                                       "token": TOKEN})
    assert client.get("/admin").status_code == 200
    app.config["ADMIN_TOKEN"] = "a-new-token-0123456789"
    assert client.get("/admin").status_code == 403


def test_showing_the_sign_in_form_is_not_a_guess(app):
    client = app.test_client()
    for _ in range(25):
        assert client.head("/admin/signin").status_code == 200
        assert client.get("/admin/signin").status_code == 200
    token = _csrf(client, "/admin/signin")
    assert client.post("/admin/signin", data={"csrf": token, "token": TOKEN}).status_code == 303


def test_guesses_are_limited_per_address(app):
    client = app.test_client()
    token = _csrf(client, "/admin/signin")
    answers = [client.post("/admin/signin", data={"csrf": token, "token": f"guess-{n}"},
                           environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code
               for n in range(25)]
    assert answers[:20] == [403] * 20 and set(answers[20:]) == {429}
    # even the right token, from that address, until the window passes
    assert client.post("/admin/signin", data={"csrf": token, "token": TOKEN},
                       environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code == 429
    assert client.get("/admin", headers=BEARER,
                      environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code == 429
    # another address is not held back
    assert client.get("/admin", headers=BEARER,
                      environ_base={"REMOTE_ADDR": "203.0.113.8"}).status_code == 200


# -- learnline stats -------------------------------------------------------------------------


def terminal_tables(output: str) -> dict[str, list[list[str]]]:
    """`learnline stats` output back into rows, by table title, cut where the dashes
    under the headers say."""
    tables = {}
    for block in output.split("\n\n")[1:]:
        title, header, dashes, *rows = block.rstrip("\n").split("\n")
        spans, start = [], 0
        for dash in dashes.split("  "):
            spans.append((start, start + len(dash)))
            start += len(dash) + 2
        tables[title] = [[line[a:b].strip() for a, b in spans]
                         for line in (header, *rows) if line != "(none)"]
    return tables


def test_learnline_stats_prints_the_same_numbers(app, seeded, priced_carriers, monkeypatch):
    monkeypatch.setenv("LEARNLINE_DB", app.config["DATABASE"])
    monkeypatch.setenv("LEARNLINE_CARRIERS", str(priced_carriers))
    runner = CliRunner()
    client = app.test_client()
    for name in reports.TABLES:
        result = runner.invoke(main, ["stats", "--days", "3", "--until", "2025-03-05",
                                      "--csv", name])
        assert result.exit_code == 0, result.output
        assert result.stdout_bytes == client.get(f"/admin/{name}.csv?days=3",
                                                 headers=BEARER).data

    result = runner.invoke(main, ["stats", "--days", "3", "--until", "2025-03-05"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Learnline, 2025-03-03 to 2025-03-05 (UTC)")
    printed = terminal_tables(result.output)
    with Store.open(app.config["DATABASE"]) as store:
        report = reports.build_report(store, app.extensions["learnline.carriers"], 3,
                                      now=DAY0 + 2 * 86400 + 3600)
    assert len(printed) == len(reports.TABLES)
    for name in reports.TABLES:
        table = reports.table(report, name)
        rows = printed[table.title]
        assert rows[0] == list(table.headers)
        for shown, row in zip(rows[1:], table.rows, strict=True):
            for cell_shown, cell in zip(shown, row, strict=True):
                assert cell_shown == cell or (cell.startswith(cell_shown.rstrip("…"))
                                              and len(cell) > 60), (name, shown, row)
    assert ["2025-03-04", "2", "0", "1", "0", "3"] in printed["Daily active learners (UTC days)"]


def test_learnline_stats_on_an_empty_database(db_path, monkeypatch):
    monkeypatch.setenv("LEARNLINE_DB", str(db_path))
    monkeypatch.delenv("LEARNLINE_CARRIERS", raising=False)
    result = CliRunner().invoke(main, ["stats", "--days", "2"])
    assert result.exit_code == 0, result.output
    assert "(none)" in result.output and "Daily active learners" in result.output


# -- recording ----------------------------------------------------------------------------------


def test_activity_is_one_row_per_learner_channel_and_day(store: Store):
    clock = Clock()
    store.clock = clock
    with store.write():
        for _ in range(3):
            store.note_activity(T1, "sms")
        store.note_activity(T1, "web")
        clock.at(1, 0.5)
        store.note_activity(T1, "sms")
    rows = list(store.db.query("SELECT day, channel, phone FROM activity ORDER BY day, channel"))
    assert rows == [{"day": "2025-03-03", "channel": "sms", "phone": T1},
                    {"day": "2025-03-03", "channel": "web", "phone": T1},
                    {"day": "2025-03-04", "channel": "sms", "phone": T1}]


def test_each_queued_message_carries_its_segments(app, seeded):
    from gateway.outbox.queue import queue_text

    carriers = app.extensions["learnline.carriers"]
    with Store.open(app.config["DATABASE"]) as store:
        # The bundled course's SMS edition fits a message in one segment or two; a long
        # reply (here an operator's) is priced per message too.
        with store.write():
            queue_text(store, carriers["twilio"], T1, "Your next lesson comes soon. " * 20,
                       to_stopped_ok=True)
        stored = dict(store.db.execute("SELECT id, segments FROM outbox").fetchall())
        for message in store.outbox():
            policy = carriers[message.carrier_id].encoding_policy
            assert stored[message.id] == count(message.body, policy).segments
    assert any(segments > 1 for segments in stored.values())


def test_the_period_is_found_by_id_without_reading_older_rows(store: Store):
    """The outbox has no index on time: the period's first id is found by a binary
    search on ids, and the scan reads from there."""
    from gateway.store import stats

    clock = Clock()
    store.clock = clock
    with store.write():
        for n in range(200):
            clock.now = DAY0 + n * 3600  # one message an hour
            store.enqueue("twilio", T1, f"message {n}", segments=1 + n % 3)
    since = DAY0 + 100 * 3600
    first = stats.first_id_since(store, "outbox", "created_at", since)
    assert first == 100 - int(stats.SLACK_SECONDS // 3600) + 1  # ids from 1
    rows = stats.outbound_by_day(store, since, since + 86400)
    assert sum(r.messages for r in rows) == 24
    assert sum(r.segments for r in rows) == sum(1 + n % 3 for n in range(100, 124))
    assert stats.first_id_since(store, "inbound", "received_at", since) == 0  # empty


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize("token", ["", "dashboard-token-0123456789abcdef"])
def test_serve_lists_the_dashboard_when_it_is_on(tmp_path, carriers_file, monkeypatch, token):
    from tests.served import serve_gateway

    monkeypatch.setenv("LEARNLINE_ADMIN_TOKEN", token)
    served = serve_gateway(tmp_path, carriers_file)
    gateway = next(served)
    banner = (tmp_path / "serve.log").read_text()
    if not token:  # off, then on as the banner says, without a restart
        assert _status(gateway.base + "/admin") == 404
        added = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "staff", "add", "amina", "--name", "Amina",
             "--role", "admin", "--password-stdin"], input="a-long-password-0123\n",
            env=gateway.env, capture_output=True, text=True, timeout=60)
        assert added.returncode == 0, added.stderr
        assert _status(gateway.base + "/admin") == 403  # the sign-in form
    served.close()
    if token:
        assert (f"  dashboard: {gateway.base}/admin (sign in with LEARNLINE_ADMIN_TOKEN until a "
                "staff account exists: add one with `learnline staff add`)\n") in banner
        assert token not in banner
    else:
        # Off, with how to turn it on: an administrator's account works at once.
        assert ("  dashboard: off until an administrator exists: `learnline staff add "
                "USERNAME --name NAME --role admin` turns it on at "
                f"{gateway.base}/admin, no restart needed (or set LEARNLINE_ADMIN_TOKEN "
                "and restart)\n") in banner


@pytest.mark.parametrize("days", ["0", "367", "abc", "-3", "7.5", "٣", "0" * 400])
def test_a_period_outside_1_to_366_days_is_refused_not_changed(app, days):
    """docs/operations.md, The period: a script asking for a period gets it or a 400
    saying what is taken, never another period (0 gave 1 day, 367 gave 366, abc 14)."""
    client = app.test_client()
    for path in ("/admin", "/admin/activity.csv"):
        response = client.get(path, query_string={"days": days}, headers=BEARER)
        assert response.status_code == 400, (path, days)
        assert response.text == ("days: a whole number from 1 to 366 (the last N days, "
                                 "today included; docs/operations.md, The period)\n")
    assert client.get("/admin/activity.csv", query_string={"days": "007"},
                      headers=BEARER).status_code == 200
    assert client.get("/admin/activity.csv?days=", headers=BEARER).status_code == 200
