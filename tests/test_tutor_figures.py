"""The tutors' service figures (questions per day, time to first answer, the backlog and
its age, answers per tutor, questions per lesson) on the dashboard and in `learnline
stats`, asserted exactly from a week of questions seeded on a real database with a fixed
clock: asked by learners through the store, answered by two tutors and by one whose
account was removed since."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from gateway import create_app
from gateway.cli.main import main
from gateway.ops import reports, staff
from gateway.store import Store
from gateway.store import questions as asked
from gateway.store import staff as accounts
from tests.fakes.clock import SimulatedClock
from tests.test_dashboard import terminal_tables

DAY0 = datetime(2025, 3, 3, tzinfo=UTC).timestamp()  # a Monday
ADMIN_PASSWORD = "admin pass phrase 41"
TUTOR_PASSWORD = "tutor pass phrase 42"
COURSE = "start-freelancing"
SKILL, CLIENTS, PRICE = "find-your-skill", "first-clients", "set-your-price"
SUMMARY = "Questions to tutors, as at "
PER_DAY = "Questions to tutors per day (UTC days, by the day asked)"
PER_TUTOR = "Answers per tutor"
PER_LESSON = "Questions to tutors per lesson (most asked first)"


def at(day: int, hour: float) -> float:
    return DAY0 + day * 86400 + hour * 3600


# (day, hour asked, lesson or None, learner, outcome, minutes to the answer, who answered).
# Outcome: "answered", "closed" (without an answer), "open".
WEEK = [
    (-1, 15, PRICE, "+2348030000009", "open", None, None),  # before the period
    (0, 9, SKILL, "+2348030000001", "answered", 10, "tunde"),
    (0, 10, SKILL, "+2348030000002", "answered", 30, "zainab"),
    (0, 11, PRICE, "+2348030000001", "answered", 60, "tunde"),
    (1, 9, PRICE, "+2348030000003", "answered", 20, "zainab"),
    (1, 14, PRICE, "+2348030000003", "closed", None, None),
    (1, 15, None, "+2348030000004", "answered", 6, "ada"),  # ada's account is removed
    (3, 8, CLIENTS, "+2348030000005", "answered", 120, "tunde"),
    (3, 9, PRICE, "+2348030000006", "answered", 40, "zainab"),
    (4, 10, SKILL, "+2348030000007", "answered", 15, "tunde"),
    (5, 12, PRICE, "+2348030000008", "answered", 21 * 60, "zainab"),  # Sunday 09:00
    (6, 10, CLIENTS, "+2348030000001", "open", None, None),
    (6, 16, PRICE, "+2348030000002", "answered", 90, "tunde"),
    (6, 19, PRICE, "+2348030000005", "open", None, None),
]
# The one mark a learner past the daily limit leaves (on Monday and Friday), and a
# question of the phone simulator's pretend learner: neither is a question asked.
REFUSED = [(0, 11.5, "+2348030000001"), (4, 10.1, "+2348030000007")]
SIMULATED = (2, 12, "+99900000001")


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(at(-1, 8))


@pytest.fixture
def app(db_path, carriers_file, clock):
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                       "SECRET_KEY": "tutor-figures-secret-0123456789", "CLOCK": clock})


@pytest.fixture
def store(db_path, clock, app):
    with Store.open(db_path, clock=clock) as opened:
        yield opened


@pytest.fixture
def admin(store):
    staff.add_account(store, "amina@example.org", "Amina Diallo", "admin", ADMIN_PASSWORD)


def answer(store: Store, question_id: int, username: str, when: float) -> None:
    """A tutor answers at `when`, as the tutors' inbox records it."""
    clock = store.clock
    clock.now = when
    assert asked.mark_answered(store, question_id, "See card 2.",
                               accounts.find(store, username).id)


def close(store: Store, question_id: int) -> None:
    """A tutor closes a question unanswered, as the tutors' inbox records it."""
    assert asked.mark_closed(store, question_id, None)


@pytest.fixture
def week(store, clock, admin):
    """The seeded week; the clock ends on Sunday 2025-03-09 at 20:00."""
    for username, name in (("tunde", "Tunde Bello"), ("zainab", "Zainab Musa"),
                           ("ada", "Ada Obi")):
        staff.add_account(store, username, name, "tutor", TUTOR_PASSWORD)
    answers = []
    for day, hour, lesson, phone, outcome, minutes, tutor in WEEK:
        clock.now = at(day, hour)
        question_id = asked.add(store, phone, "sms", "twilio", "How do I price a logo?",
                                course_id=COURSE if lesson else None, lesson_id=lesson)
        if outcome == "answered":
            answers.append((question_id, tutor, clock.now + minutes * 60))
        elif outcome == "closed":
            close(store, question_id)
    for day, hour, phone in REFUSED:
        clock.now = at(day, hour)
        asked.add(store, phone, "sms", "twilio", "", status=asked.REFUSED)
    clock.now = at(*SIMULATED[:2])
    asked.add(store, SIMULATED[2], "sms", "simulator", "Is this real?")
    for question_id, tutor, when in answers:
        answer(store, question_id, tutor, when)
    staff.remove_account(store, "ada")
    clock.now = at(6, 20)


def figures(rows: list[list[str]]) -> dict[str, str]:
    return {row[0]: row[1] for row in rows[1:]}


SUMMARY_ROWS = {
    "Questions asked": "13",
    "Past the daily limit (not counted as asked)": "2",
    "Answered": "10",
    "Closed without an answer": "1",
    "Still open": "2",
    "Time to first answer, median": "35 min",
    "Time to first answer, 90th percentile": "2 h 00 min",
}
PER_DAY_ROWS = [
    ["day", "asked", "answered", "closed unanswered", "open", "past daily limit",
     "median time to answer"],
    ["2025-03-03", "3", "3", "0", "0", "1", "30 min"],
    ["2025-03-04", "3", "2", "1", "0", "0", "13 min"],
    ["2025-03-05", "0", "0", "0", "0", "0", "-"],
    ["2025-03-06", "2", "2", "0", "0", "0", "1 h 20 min"],
    ["2025-03-07", "1", "1", "0", "0", "1", "15 min"],
    ["2025-03-08", "1", "1", "0", "0", "0", "21 h 00 min"],
    ["2025-03-09", "3", "1", "0", "2", "0", "1 h 30 min"],
]
PER_TUTOR_ROWS = [
    ["tutor", "answers", "median time to answer"],
    ["Tunde Bello (tunde)", "5", "1 h 00 min"],
    ["Zainab Musa (zainab)", "4", "35 min"],
    ["removed account #4", "1", "6 min"],
]
PER_LESSON_ROWS = [
    ["lesson", "course", "questions", "open"],
    ["Set a fair price", "Start freelancing", "7", "1"],
    ["Find a skill people pay for", "Start freelancing", "3", "0"],
    ["Find your first clients", "Start freelancing", "2", "1"],
    ["(none)", "(none)", "1", "0"],
]


def stats(db_path, monkeypatch, *args: str) -> dict[str, list[list[str]]]:
    monkeypatch.setenv("LEARNLINE_DB", str(db_path))
    monkeypatch.delenv("LEARNLINE_CARRIERS", raising=False)
    result = CliRunner().invoke(main, ["stats", *args])
    assert result.exit_code == 0, result.output
    return terminal_tables(result.output)


def test_learnline_stats_shows_the_weeks_service(db_path, week, monkeypatch):
    # The period ended before now: the backlog is as it stood at its end, midnight.
    printed = stats(db_path, monkeypatch, "--days", "7", "--until", "2025-03-09")

    summary = printed[SUMMARY + "2025-03-10 00:00 UTC"]
    assert summary[0] == ["figure", "value"]
    assert figures(summary) == {
        **SUMMARY_ROWS,
        "Backlog (open questions)": "3",
        "Oldest open question": "7 d 09 h",
        "Median age of open questions": "14 h 00 min",
    }
    assert printed[PER_DAY] == PER_DAY_ROWS
    assert printed[PER_TUTOR] == PER_TUTOR_ROWS
    assert printed[PER_LESSON] == PER_LESSON_ROWS


def test_a_past_period_counts_what_was_answered_by_its_end(db_path, week, monkeypatch):
    """Saturday's question, answered on Sunday, was still open when Saturday ended."""
    printed = stats(db_path, monkeypatch, "--days", "7", "--until", "2025-03-08")

    summary = figures(printed[SUMMARY + "2025-03-09 00:00 UTC"])
    assert summary["Questions asked"] == "11"  # Sunday 2 March's too
    assert (summary["Answered"], summary["Still open"]) == ("8", "2")
    assert summary["Backlog (open questions)"] == "2"
    assert summary["Oldest open question"] == "6 d 09 h"
    assert printed[PER_DAY][-1] == ["2025-03-08", "1", "0", "0", "1", "0", "-"]
    assert printed[PER_TUTOR][1:] == [["Tunde Bello (tunde)", "4", "38 min"],
                                      ["Zainab Musa (zainab)", "3", "30 min"],
                                      ["removed account #4", "1", "6 min"]]


def test_the_csv_files_are_the_dashboards(db_path, week, monkeypatch):
    monkeypatch.setenv("LEARNLINE_DB", str(db_path))
    result = CliRunner().invoke(main, ["stats", "--days", "7", "--until", "2025-03-09",
                                       "--csv", "tutor_lessons"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [",".join(row) for row in PER_LESSON_ROWS]


def _sign_in(app):
    client = app.test_client()
    form = client.get("/admin/signin").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    answer = client.post("/admin/signin", data={
        "csrf": csrf, "username": "amina@example.org", "password": ADMIN_PASSWORD})
    assert answer.status_code == 303, answer.text
    return client


def page_table(html: str, name: str) -> list[list[str]]:
    """A table of the dashboard by its name: the header row, then each row's cells."""
    found = re.search(rf'<caption id="{name}-c">.*?</table>', html, re.S)
    assert found, name
    return [re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", row)
            for row in re.findall(r"<tr>(.*?)</tr>", found.group(0), re.S)]


def test_the_dashboard_shows_the_weeks_service(app, week):
    client = _sign_in(app)
    page = client.get("/admin?days=7")
    assert page.status_code == 200
    html = page.text
    assert "<script" not in html and "style=" not in html
    # The backlog now: Sunday 20:00.
    assert SUMMARY + "2025-03-09 20:00 UTC</caption>" in html
    assert figures(page_table(html, "tutor_service")) == {
        **SUMMARY_ROWS,
        "Backlog (open questions)": "3",
        "Oldest open question": "7 d 05 h",
        "Median age of open questions": "10 h 00 min",
    }
    assert page_table(html, "tutor_days") == PER_DAY_ROWS
    assert page_table(html, "tutors") == PER_TUTOR_ROWS
    assert page_table(html, "tutor_lessons") == PER_LESSON_ROWS
    assert "<title>2025-03-09: 3 questions asked</title>" in html
    csv = client.get("/admin/tutors.csv?days=7")
    assert csv.status_code == 200
    assert csv.text.splitlines() == [",".join(row) for row in PER_TUTOR_ROWS]


def test_an_empty_gateway_shows_dashes(app, db_path, admin, monkeypatch):
    html = _sign_in(app).get("/admin?days=7").text
    assert figures(page_table(html, "tutor_service")) == {
        "Questions asked": "0",
        "Past the daily limit (not counted as asked)": "0",
        "Answered": "0",
        "Closed without an answer": "0",
        "Still open": "0",
        "Time to first answer, median": "-",
        "Time to first answer, 90th percentile": "-",
        "Backlog (open questions)": "0",
        "Oldest open question": "-",
        "Median age of open questions": "-",
    }
    assert page_table(html, "tutors")[1:] == [["Nothing yet."]]
    assert 'questions asked</title>' not in html  # no chart without a question

    printed = stats(db_path, monkeypatch, "--days", "7")
    summary = next(title for title in printed if title.startswith(SUMMARY))
    assert figures(printed[summary])["Time to first answer, median"] == "-"
    assert printed[PER_TUTOR] == [["tutor", "answers", "median time to answer"]]
    assert printed[PER_LESSON] == [["lesson", "course", "questions", "open"]]


@pytest.mark.parametrize(("seconds", "shown"), [
    (None, "-"), (0, "0 s"), (59.4, "59 s"), (59.6, "1 min"), (90, "2 min"),
    (35 * 60, "35 min"), (3599, "1 h 00 min"), (80 * 60, "1 h 20 min"),
    (24 * 3600 - 20, "1 d 00 h"), ((7 * 24 + 5) * 3600, "7 d 05 h")])
def test_durations_read_at_a_glance(seconds, shown):
    assert reports.duration(seconds) == shown


@pytest.mark.parametrize(("count", "rank"), [(1, 1), (2, 2), (9, 9), (10, 9), (11, 10),
                                             (20, 18), (70, 63), (100, 90), (101, 91)])
def test_the_90th_percentile_is_by_nearest_rank(count, rank):
    assert reports.percentile([float(n) for n in range(1, count + 1)], 0.9) == rank
    assert reports.percentile([], 0.9) is None


def test_the_labels_go_through_the_catalogs(db_path, week, store):
    """The tutors' tables speak the page's language where it has one (the dashboard
    is in English today); the CSV files keep English headers."""
    from gateway.i18n import translations

    report = reports.build_report(store, [], 7)
    french = reports.table(report, "tutors", gettext=translations("fr").gettext)
    assert french.title == "Réponses par tuteur"
    assert french.headers == ("tuteur", "réponses", "délai médian de réponse")
    assert french.rows[-1] == ("compte supprimé n° 4", "1", "6 min")
    assert reports.table(report, "tutors").headers == ("tutor", "answers",
                                                       "median time to answer")


def test_an_account_added_after_a_removal_does_not_inherit_its_answers(db_path, week, store,
                                                                        monkeypatch):
    """Ada's account (the newest) was removed; the next account gets an id of its own."""
    staff.add_account(store, "kofi", "Kofi Mensah", "tutor", TUTOR_PASSWORD)

    printed = stats(db_path, monkeypatch, "--days", "7", "--until", "2025-03-09")
    assert printed[PER_TUTOR] == PER_TUTOR_ROWS
    assert accounts.find(store, "kofi").id == 5
