"""Research exports (`learnline export`, docs/integrations.md): the learning events of a
gateway whose learners learn by SMS, as CSV and Parquet, one row per event, learners as
pseudonyms and never their numbers, filtered by course, program and dates; erased
learners left out, formulas made inert, bad options answered in one line."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway import create_app, xapi
from gateway.cli.main import main as cli
from gateway.content.importer import import_courses
from gateway.content.model import SMS
from gateway.ops.research_export import COLUMNS
from gateway.paths import lessons_dir
from gateway.pseudonyms import gateway_key, pseudonym
from gateway.store import Store, event_export, events, privacy
from tests.conftest import AUTH_TOKEN, TwilioWebhooks, carriers_toml

ROOT = Path(__file__).resolve().parents[1]
ORANGE = "+2348030000001"
SUN = "+2348030000002"
BOTH = "+2348030000003"
PROGRAMS = """
[programs.orange]
name = "Orange Academy"
default_locale = "en"
keywords = ["JOIN ORANGE"]

[programs.sun]
name = "Sun School"
default_locale = "en"
keywords = ["JOIN SUN"]
"""
MARCH_4 = datetime(2025, 3, 4, 10, tzinfo=UTC).timestamp()
DAY = 86400.0


def course_copy(root: Path, program: str, code: str) -> None:
    shutil.copytree(lessons_dir() / "start-freelancing", root / f"{program}-course")
    toml = root / f"{program}-course" / "course.toml"
    text = toml.read_text(encoding="utf-8").replace('code = "FREELANCE"', f'code = "{code}"')
    toml.write_text(f'program = "{program}"\n' + text, encoding="utf-8")


@pytest.fixture
def app(db_path, tmp_path, twilio_api, monkeypatch):
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    carriers = tmp_path / "carriers.toml"
    carriers.write_text(carriers_toml(twilio_api.url))
    programs = tmp_path / "programs.toml"
    programs.write_text(PROGRAMS, encoding="utf-8")
    monkeypatch.setenv("LEARNLINE_PROGRAMS", str(programs))
    monkeypatch.setenv("LEARNLINE_CARRIERS", str(carriers))
    monkeypatch.setenv("LEARNLINE_DB", str(db_path))
    monkeypatch.delenv("LEARNLINE_PSEUDONYM_KEY", raising=False)
    root = tmp_path / "lessons"
    root.mkdir()
    course_copy(root, "orange", "ORANGE1")
    course_copy(root, "sun", "SUN1")
    with Store.open(db_path) as store:
        import_courses(store, root)
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers),
                       "SECRET_KEY": "research-export-secret-0123456789", "TESTING": True})


@pytest.fixture
def store(db_path, app):
    with Store.open(db_path) as opened:
        yield opened


def finish_first_lesson(twilio: TwilioWebhooks, store: Store, phone: str, course: str) -> None:
    """Read the course's first lesson card by card and answer its quiz right, by SMS."""
    before = len(store.outbox(phone))
    while not any("Q1/" in m.body for m in store.outbox(phone)[before:]):
        assert twilio.sms(phone, "NEXT").status_code == 200
    for question in store.lesson(course, "find-your-skill", "en").questions:
        assert twilio.sms(phone, "ABCD"[question.answer]).status_code == 200
    assert any("Lesson done" in m.body for m in store.outbox(phone)[before:])


@pytest.fixture
def learned(app, store):
    """Three learners: one takes orange's first lesson, one answers a question of sun's,
    one joins both programs and reads a card of each."""
    twilio = TwilioWebhooks(app.test_client())
    twilio.sms(ORANGE, "JOIN ORANGE")
    finish_first_lesson(twilio, store, ORANGE, "orange-course")
    twilio.sms(SUN, "JOIN SUN")
    for text in ("NEXT", "NEXT", "B"):
        twilio.sms(SUN, text)
    twilio.sms(BOTH, "JOIN SUN")
    twilio.sms(BOTH, "JOIN ORANGE")
    twilio.sms(BOTH, "NEXT")
    return twilio


def run(*args: str):
    result = CliRunner().invoke(cli, ["export", *args])
    return result


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == list(COLUMNS)
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]]


def stored_events(store: Store) -> list[tuple]:
    return store.db.conn.execute(
        "SELECT id, learner, kind, at FROM events ORDER BY seq").fetchall()


def numbers_in(text: str, *phones: str) -> list[str]:
    """Every form of these numbers found in `text`: E.164, without '+', national."""
    forms = [form for phone in phones for form in (phone, phone[1:], "0" + phone[4:])]
    return [form for form in forms if form in text]


def test_every_event_is_a_row_its_learner_a_pseudonym_never_the_number(learned, store,
                                                                      tmp_path):
    result = run("--output", str(tmp_path / "events.csv"))
    assert result.exit_code == 0, result.output
    rows = read_csv(tmp_path / "events.csv")
    recorded = stored_events(store)
    assert f"{len(recorded)} events written to {tmp_path / 'events.csv'}" in result.output
    key = gateway_key(store)
    assert [(r["event_id"], r["learner"], r["kind"]) for r in rows] == [
        (event_id, pseudonym(key, learner), kind) for event_id, learner, kind, _ in recorded]
    for row, (_, _, _, at) in zip(rows, recorded, strict=True):
        millis = round(at * 1000)
        assert row["time"] == datetime.fromtimestamp(millis // 1000, UTC).strftime(
            "%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"
        assert row["edge"] == store.edge_id()
    text = (tmp_path / "events.csv").read_text(encoding="utf-8")
    assert numbers_in(text, ORANGE, SUN, BOTH) == []
    assert os.stat(tmp_path / "events.csv").st_mode & 0o777 == 0o600

    orange = [r for r in rows if r["learner"] == pseudonym(key, ORANGE)]
    done = [r for r in orange if r["kind"] == "lesson_completed"]
    assert len(done) == 1 and done[0] | {"event_id": "", "time": ""} == {
        "event_id": "", "time": "", "learner": pseudonym(key, ORANGE),
        "kind": "lesson_completed", "course": "orange-course", "lesson": "find-your-skill",
        "card": "", "shown": "", "question": "", "choice": "", "correct": "", "first_try": "",
        "score": "3", "total": "3", "passed": "", "channel": "sms", "language": "en",
        "program": "orange", "edge": store.edge_id()}
    answers = [r for r in orange if r["kind"] == "answered"]
    assert [(r["question"], r["correct"], r["first_try"]) for r in answers] == [
        ("0", "true", "true"), ("1", "true", "true"), ("2", "true", "true")]
    assert {r["program"] for r in answers} == {"orange"}
    joined = [r for r in rows if r["kind"] == "program_joined"]
    assert sorted((r["learner"], r["program"]) for r in joined) == sorted([
        (pseudonym(key, ORANGE), "orange"), (pseudonym(key, SUN), "sun"),
        (pseudonym(key, BOTH), "sun"), (pseudonym(key, BOTH), "orange")])
    wrong = [r for r in rows if r["learner"] == pseudonym(key, SUN) and r["kind"] == "answered"]
    assert [(r["course"], r["question"], r["choice"], r["program"]) for r in wrong] == [
        ("sun-course", "0", "1", "sun")]


def test_card_views_are_told_from_places_moved_and_count_as_the_lrs_does(learned, store,
                                                                         tmp_path):
    """By SMS the last card comes with the first question, and each answer moves the
    learner's place again with that same card: only the showing counts as a view."""
    assert run("-o", str(tmp_path / "events.csv")).exit_code == 0
    rows = read_csv(tmp_path / "events.csv")
    key = gateway_key(store)
    places = [r for r in rows if r["learner"] == pseudonym(key, ORANGE)
              and r["kind"] == "card_reached"]
    lesson = store.lesson("orange-course", "find-your-skill", "en").edition(SMS)
    in_sms = [str(n) for n, card in enumerate(lesson.cards) if card.text]
    last = in_sms[-1]
    assert [r["card"] for r in places].count(last) > 1  # the moves within the quiz
    # Each card the SMS edition has, shown once, in order; every other move is no view.
    assert [r["card"] for r in places if r["shown"] == "card"] == in_sms
    assert {r["shown"] for r in places} == {"card", ""}
    assert {r["shown"] for r in rows if r["kind"] != "card_reached"} == {""}
    # The same count as the LRS's `experienced` statements of these events.
    recorded = {event_id: (kind, json.loads(data)) for event_id, kind, data in
                store.db.conn.execute("SELECT id, kind, data FROM events")}
    experienced = [r for r in rows if r["kind"] == "card_reached" and any(
        xapi.statement_ids({"id": r["event_id"], "kind": "card_reached",
                            "data": recorded[r["event_id"]][1]}))]
    assert experienced == [r for r in rows if r["shown"]]


def test_a_place_recorded_before_events_said_what_was_shown_counts_as_the_lrs_does(
        store, tmp_path):
    with store.write():  # as a version before `shown` and `channel` recorded them
        for card, quiz in ((0, None), (1, None), (1, {"queue": [0], "requeued": [],
                                                      "right": []})):
            events.record(store, SUN, "card_reached", {
                "course": "sun-course", "position": 0, "card": card,
                "lesson": "find-your-skill", "quiz": quiz}, at=MARCH_4 + card)
        events.record(store, SUN, "card_reached", {
            "course": "sun-course", "position": 0, "card": 4, "lesson": "find-your-skill",
            "quiz": None, "shown": "lesson", "channel": "web"}, at=MARCH_4 + 5)
    assert run("-o", str(tmp_path / "events.csv")).exit_code == 0
    assert [(r["card"], r["shown"]) for r in read_csv(tmp_path / "events.csv")] == [
        ("0", "card"), ("1", "card"), ("1", ""), ("4", "lesson")]


def test_filters_by_course_and_program(learned, store, tmp_path):
    key = gateway_key(store)
    assert run("--course", "sun-course", "-o", str(tmp_path / "sun.csv")).exit_code == 0
    sun_course = read_csv(tmp_path / "sun.csv")
    assert sun_course and {r["course"] for r in sun_course} == {"sun-course"}
    assert {r["learner"] for r in sun_course} == {pseudonym(key, SUN), pseudonym(key, BOTH)}

    assert run("--program", "orange", "-o", str(tmp_path / "orange.csv")).exit_code == 0
    orange = read_csv(tmp_path / "orange.csv")
    assert {r["program"] for r in orange} == {"orange"}
    assert {r["course"] for r in orange} == {"orange-course", ""}  # "": the joins
    assert {r["kind"] for r in orange if not r["course"]} == {"program_joined"}
    assert {r["learner"] for r in orange} == {pseudonym(key, ORANGE), pseudonym(key, BOTH)}
    assert {"program_joined", "enrolled", "card_reached", "answered",
            "lesson_completed"} <= {r["kind"] for r in orange}

    both = run("--course", "sun-course", "--course", "orange-course", "-o",
               str(tmp_path / "both.csv"))
    assert both.exit_code == 0
    assert len(read_csv(tmp_path / "both.csv")) == len(sun_course) + len(
        [r for r in orange if r["kind"] != "program_joined"])


def test_filters_by_days_in_utc(store, tmp_path):
    with store.write():
        for day in range(4):  # 4, 5, 6 and 7 March 2025, 10:00 and 23:59:59.9 UTC
            for at in (MARCH_4 + day * DAY, MARCH_4 + day * DAY + 14 * 3600 - 0.1):
                events.record(store, ORANGE, "enrolled",
                              {"course": "orange-course", "restart": False}, at=at)
    result = run("--since", "2025-03-05", "--until", "2025-03-06", "-o",
                 str(tmp_path / "two-days.csv"))
    assert result.exit_code == 0, result.output
    assert [r["time"] for r in read_csv(tmp_path / "two-days.csv")] == [
        "2025-03-05T10:00:00.000Z", "2025-03-05T23:59:59.900Z",
        "2025-03-06T10:00:00.000Z", "2025-03-06T23:59:59.900Z"]
    assert run("--since", "2025-03-07", "-o", str(tmp_path / "since.csv")).exit_code == 0
    assert len(read_csv(tmp_path / "since.csv")) == 2
    assert run("--until", "2025-03-04", "-o", str(tmp_path / "until.csv")).exit_code == 0
    assert len(read_csv(tmp_path / "until.csv")) == 2


def test_an_erased_learner_is_left_out(learned, store, tmp_path):
    with store.write():
        events.record(store, ORANGE, "name_set", {"name": "Ada Obi"})
    privacy.erase(store, ORANGE)
    assert any(row[1] == ORANGE and row[2] == "erased" for row in stored_events(store))

    result = run("-o", str(tmp_path / "events.csv"))
    assert result.exit_code == 0, result.output
    rows = read_csv(tmp_path / "events.csv")
    key = gateway_key(store)
    assert pseudonym(key, ORANGE) not in {r["learner"] for r in rows}
    assert {r["learner"] for r in rows} == {pseudonym(key, SUN), pseudonym(key, BOTH)}
    assert not {"erased", "readmitted"} & {r["kind"] for r in rows}
    text = (tmp_path / "events.csv").read_text(encoding="utf-8")
    assert numbers_in(text, ORANGE, SUN, BOTH) == [] and "Ada Obi" not in text
    assert "erased:" not in text


def test_an_invitation_to_a_number_that_never_joined_is_left_out(learned, store, tmp_path):
    invited = "+2348030000009"
    with store.write():  # as an edge records a cohort's invitation queued for a number
        events.keep_event(store, {
            "id": "0195618c5a40e3b0c4a1d2f7a9b8c6d7", "edge": store.edge_id(),
            "learner": invited, "kind": "program_invited", "at": MARCH_4,
            "data": {"program": "sun", "cohort": "c" * 32, "cohort_name": "Kano solar class",
                     "course": "sun-course"}})
    assert run("-o", str(tmp_path / "events.csv")).exit_code == 0
    rows = read_csv(tmp_path / "events.csv")
    assert pseudonym(gateway_key(store), invited) not in {r["learner"] for r in rows}
    assert "program_invited" not in {r["kind"] for r in rows}
    assert len(rows) == len(stored_events(store)) - 1


def test_a_text_a_spreadsheet_would_run_is_inert_and_numbers_are_not(store, tmp_path):
    # As another edge's events could hold them: course and lesson are any text there.
    with store.write():
        events.keep_event(store, {
            "id": "0195618c5a40e3b0c4a1d2f7a9b8c6d5", "edge": "lagos-2", "learner": SUN,
            "kind": "card_reached", "at": MARCH_4,
            "data": {"course": '=HYPERLINK("http://evil.example","x")', "position": 0,
                     "card": -1, "lesson": "@SUM(A1)", "quiz": None, "channel": "+sms",
                     "locale": "-1+1"}})
    assert run("-o", str(tmp_path / "events.csv")).exit_code == 0
    [row] = read_csv(tmp_path / "events.csv")
    assert row["course"] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    assert row["lesson"] == "'@SUM(A1)" and row["channel"] == "'+sms"
    assert row["language"] == "'-1+1"
    assert row["card"] == "-1" and row["edge"] == "lagos-2"


def test_an_event_that_says_its_channel_and_language_gives_them(store, tmp_path):
    # As an edge records a learning step it knows the channel and language of.
    with store.write():
        events.keep_event(store, {
            "id": "0195618c5a40e3b0c4a1d2f7a9b8c6d6", "edge": "kano-1", "learner": SUN,
            "kind": "answered", "at": MARCH_4,
            "data": {"course": "sun-course", "lesson": "first-clients", "question": 2,
                     "choice": 0, "correct": False, "first_try": True, "channel": "ussd",
                     "language": "ha"}})
        events.record(store, SUN, "language_set", {"locale": "fr"}, at=MARCH_4 + 1)
    assert run("-o", str(tmp_path / "events.csv")).exit_code == 0
    answered, chosen = read_csv(tmp_path / "events.csv")
    assert (answered["channel"], answered["language"], answered["program"]) == (
        "ussd", "ha", "sun")
    assert (answered["question"], answered["choice"], answered["correct"]) == ("2", "0",
                                                                              "false")
    assert (chosen["kind"], chosen["channel"], chosen["language"]) == ("language_set", "",
                                                                        "fr")


def test_nothing_to_export_is_the_header_alone(store, tmp_path):
    result = run("-o", str(tmp_path / "events.csv"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "events.csv").read_bytes() == (",".join(COLUMNS) + "\r\n").encode()
    assert "0 events written" in result.output


def test_standard_output(learned, store, tmp_path):
    result = run("-o", "-", "--course", "sun-course")
    assert result.exit_code == 0
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == list(COLUMNS) and len(rows) > 1
    assert {row[COLUMNS.index("course")] for row in rows[1:]} == {"sun-course"}
    assert re.fullmatch(r"\d+ events written to standard output\n", result.stderr)


@pytest.mark.parametrize(("args", "says"), [
    (["--since", "2026-13-01"], "--since: '2026-13-01' is not a date (YYYY-MM-DD, UTC)"),
    (["--until", "yesterday"], "--until: 'yesterday' is not a date (YYYY-MM-DD, UTC)"),
    (["--since", "2026-03-02", "--until", "2026-03-01"],
     "--since 2026-03-02 is after --until 2026-03-01"),
    (["--course", "no-such-course"], "--course: no course 'no-such-course' here"),
    (["--program", "moon"], "--program: no program 'moon'"),
    (["--format", "parquet", "-o", "-"], "--format parquet: write it to a file"),
])
def test_a_bad_option_is_one_line_naming_it_and_writes_nothing(store, tmp_path, args, says):
    output = tmp_path / "events.csv"
    result = run("-o", str(output), *args)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and says in result.output
    assert not output.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_an_output_that_cannot_be_written_is_one_line(store, tmp_path):
    result = run("-o", str(tmp_path / "missing" / "events.csv"))
    assert result.exit_code == 1
    assert result.output == (f"Error: --output {tmp_path}/missing/events.csv: cannot write: "
                             "No such file or directory\n")


def test_a_failed_export_leaves_an_earlier_file_as_it_was(learned, store, tmp_path,
                                                          monkeypatch):
    output = tmp_path / "events.csv"
    assert run("-o", str(output)).exit_code == 0
    before = output.read_bytes()
    monkeypatch.setenv("LEARNLINE_PSEUDONYM_KEY", "short")
    result = run("-o", str(output))
    assert result.exit_code == 1 and "LEARNLINE_PSEUDONYM_KEY has 5 characters" in result.output
    assert output.read_bytes() == before


@pytest.fixture
def pq():
    """pyarrow's Parquet module: the extra `parquet`, which `make test` installs."""
    try:
        import pyarrow.parquet
    except ImportError:
        pytest.fail("pyarrow is not installed: pip install -e '.[test,hub,parquet]'",
                    pytrace=False)
    return pyarrow.parquet


def test_parquet_holds_the_same_rows_typed(learned, store, tmp_path, pq):
    assert run("-o", str(tmp_path / "events.csv")).exit_code == 0
    result = run("--format", "parquet", "-o", str(tmp_path / "events.parquet"))
    assert result.exit_code == 0, result.output
    table = pq.read_table(tmp_path / "events.parquet")
    assert table.column_names == list(COLUMNS)
    assert str(table.schema.field("time").type) == "timestamp[ms, tz=UTC]"
    assert str(table.schema.field("score").type) == "int64"
    assert str(table.schema.field("correct").type) == "bool"
    assert str(table.schema.field("shown").type) == "string"

    def as_csv(value) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime):
            return value.isoformat(timespec="milliseconds")[:-6] + "Z"
        return str(value)

    from_parquet = [{name: as_csv(value) for name, value in row.items()}
                    for row in table.to_pylist()]
    assert from_parquet == read_csv(tmp_path / "events.csv")
    assert numbers_in((tmp_path / "events.parquet").read_bytes().decode("latin-1"),
                      ORANGE, SUN, BOTH) == []


def test_parquet_in_row_groups_of_a_batch(store, pq):
    from gateway.ops.research_export import write_parquet

    rows = [(f"{n:032x}", MARCH_4 + n, "p" * 32, "answered", "c", "l", None, None, n % 3, 1,
             True, False, None, None, None, "sms", "en", "", "edge-a") for n in range(10)]
    out = io.BytesIO()
    assert write_parquet(iter(rows), out, batch=4) == 10
    parquet = pq.ParquetFile(io.BytesIO(out.getvalue()))
    assert [parquet.metadata.row_group(i).num_rows for i in range(3)] == [4, 4, 2]
    assert parquet.read().column("question").to_pylist() == [n % 3 for n in range(10)]


def test_parquet_without_pyarrow_says_what_to_install(store, tmp_path):
    # pyarrow hidden from this process as if it were not installed.
    program = ("import sys; sys.modules['pyarrow'] = None; "
               "from gateway.cli.main import main; main()")
    result = subprocess.run(
        [sys.executable, "-c", program, "export", "--format", "parquet", "-o",
         str(tmp_path / "events.parquet")],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
    assert result.returncode == 1
    # Installed into the interpreter learnline runs from, whatever `pip` is on the PATH.
    assert result.stderr == ("Error: --format parquet: Parquet needs pyarrow: "
                             f"{shlex.quote(sys.executable)} -m pip install "
                             "'learnline[parquet]'\n")
    assert not (tmp_path / "events.parquet").exists()


def test_pages_read_every_event_once_in_order(learned, store):
    whole = list(event_export.export_rows(store))
    assert [row[0] for row in whole] == [row[0] for row in stored_events(store)]
    assert list(event_export.export_rows(store, page=3)) == whole
