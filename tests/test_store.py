"""The store on real SQLite files: settings, migrations, dedupe, leases, early reports."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest

from gateway.store import LearnerRecord, Store
from gateway.store.schema import migrations
from gateway.store.schema_check import known_migrations
from gateway.store.writelock import LockBusy


def test_connection_settings_and_migrations(tmp_path: Path):
    path = tmp_path / "fresh.db"
    with Store.open(path, migrate=True) as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
        assert store.migrate() == []  # nothing left to apply
        applied = [m.name for m in migrations.applied(store.db)]
        assert applied[:10] == [
            "m001_initial", "m002_ussd_sessions", "m003_web", "m004_inbound_meta",
            "m005_outbox_by_status", "m006_partial_indexes", "m007_learning_over_time",
            "m008_events", "m009_content_version", "m010_repair_edited_migrations"]
        assert applied == known_migrations()  # and any added since, in order
        assert {"inbound", "outbox", "learners", "enrollments", "lessons"} <= set(
            store.db.table_names())


def test_an_inbound_message_is_stored_once_per_carrier_and_id(store: Store):
    first = store.record_inbound("twilio", "SM1", "+2348030000000", "START")
    again = store.record_inbound("twilio", "SM1", "+2348030000000", "START")
    other_carrier = store.record_inbound("console", "SM1", "+2348030000000", "START")
    assert first.is_new and not again.is_new and other_carrier.is_new
    assert again.id == first.id and other_carrier.id != first.id


def test_a_failing_inner_write_undoes_only_its_own_changes(store: Store):
    """A message's processing runs in a savepoint inside the transaction that stores it."""
    with store.write():
        store.save_learner(LearnerRecord("+2348030000001", "en", "twilio"))
        try:
            with store.write():
                store.save_learner(LearnerRecord("+2348030000002", "en", "twilio"))
                with store.write():
                    store.save_learner(LearnerRecord("+2348030000003", "en", "twilio"))
                raise LookupError("engine failed")
        except LookupError:
            pass
        store.save_learner(LearnerRecord("+2348030000004", "en", "twilio"))
    kept = [n for n in ("+2348030000001", "+2348030000002", "+2348030000003",
                        "+2348030000004") if store.learner(n)]
    assert kept == ["+2348030000001", "+2348030000004"]


def _queued(store: Store, body: str = "hello") -> int:
    with store.write():
        store.save_learner(LearnerRecord("+2348030000000", "en", "twilio"))
        return store.enqueue("twilio", "+2348030000000", body)


def test_a_leased_message_is_not_claimed_twice_until_the_lease_runs_out(store: Store):
    message_id = _queued(store)
    claimed = store.claim_due("twilio", lease_seconds=0.3)
    assert claimed.id == message_id and claimed.attempts == 1
    assert store.claim_due("twilio", lease_seconds=0.3) is None
    time.sleep(0.35)
    again = store.claim_due("twilio", lease_seconds=0.3)
    assert again.id == message_id and again.attempts == 2


def test_two_workers_never_claim_the_same_message(db_path: Path):
    with Store.open(db_path) as store:
        for n in range(50):
            _queued(store, f"m{n}")
    claimed: list[int] = []

    def claim_all():
        with Store.open(db_path) as own:
            while (message := own.claim_due("twilio", 60)) is not None:
                claimed.append(message.id)

    threads = [threading.Thread(target=claim_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 50


def test_a_delivery_report_that_beats_the_send_acknowledgement_is_applied(store: Store):
    """The carrier may call back before the worker has recorded the carrier's id."""
    message_id = _queued(store)
    store.claim_due("twilio", 60)
    assert store.apply_status("twilio", "SM-early", "delivered", "delivered") is None
    store.finish_send(message_id, "accepted", carrier_message_id="SM-early")
    [message] = store.outbox()
    assert message.status == "delivered"
    events = list(store.db.query("SELECT outbox_id, status FROM status_events"))
    assert events == [{"outbox_id": message_id, "status": "delivered"}]


def test_what_runs_for_every_message_reads_no_table_whole(store: Store):
    """Per-message and per-poll statements find their rows through an index, so their
    cost does not grow with the history of inbound and outbox (bench B5, B6)."""
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    try:
        inbound = store.record_inbound("twilio", "SM1", "+2348030000000", "START")
        store.record_inbound("twilio", "SM1", "+2348030000000", "START")
        store.mark_inbound(inbound.id, "processed")
        store.unprocessed_inbound(time.time())
        queued = _queued(store)
        claimed = store.claim_due("twilio", 30)
        assert claimed is not None and claimed.id == queued
        store.finish_send(queued, "accepted", carrier_message_id="SMout1")
        store.apply_status("twilio", "SMout1", "delivered", "delivered")
        store.apply_status("twilio", "SMunknown", "delivered", "delivered")
        store.due_count("twilio")
        store.next_due_at()
    finally:
        store.db.conn.set_trace_callback(None)
    scans = {}
    for sql in statements:
        # (an INSERT's plan lists the foreign-key probes SQLite runs only while a
        # deferred constraint is violated, which ours never are)
        if sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
            plan = [row[3] for row in store.db.conn.execute("EXPLAIN QUERY PLAN " + sql)]
            whole = [step for step in plan if step.startswith("SCAN") and (
                "inbound" in step or "outbox" in step or "status_events" in step)]
            if whole:
                scans[sql] = whole
    assert scans == {}


def test_a_programs_and_a_cohorts_message_figures_read_only_their_periods_messages(
        db_path: Path):
    """The program and cohort pages count the period's messages by id range, whatever
    the outbox's history (grouped by carrier, SQLite would walk outbox_due instead)."""
    from gateway.store import cohort_stats, program_stats
    from gateway.store import cohorts as cohort_store

    clock = [1_780_000_000.0]
    with Store.open(db_path, migrate=True, clock=lambda: clock[0]) as store:
        with store.write():
            store.save_learner(LearnerRecord("+2348030000001", "en", "twilio"))
            store.enqueue("twilio", "+2348030000001", "last month", program="acme",
                          kind="lesson")
        clock[0] += 40 * 86400
        cohort = cohort_store.create(
            store, program="acme", name="Night class", course_id="intro", starts_on="",
            carrier_id="twilio", created_by="admin", members=[("+2348030000001", "Ada")])
        with store.write():
            for body in ("one", "two"):
                store.enqueue("twilio", "+2348030000001", body, program="acme",
                              kind="lesson", segments=2)
            store.enqueue("twilio", "+2348030000001", "other", program="other",
                          kind="lesson")
        statements: list[str] = []
        store.db.conn.set_trace_callback(statements.append)
        try:
            [program] = program_stats.messages_by_carrier(
                store, "acme", clock[0] - 86400, clock[0] + 1)
            [of_cohort] = cohort_stats.messages_by_carrier(store, cohort)
        finally:
            store.db.conn.set_trace_callback(None)
        assert (program.carrier_id, program.queued) == ("twilio", 2)
        assert (of_cohort.carrier_id, of_cohort.queued) == ("twilio", 2)
        scans = {sql: steps for sql in statements if "FROM outbox" in sql and (steps := [
            row[3] for row in store.db.conn.execute("EXPLAIN QUERY PLAN " + sql)
            if row[3].startswith("SCAN outbox")])}
        assert scans == {}


def test_the_tutors_figures_of_a_period_read_only_that_periods_questions(db_path: Path):
    """The dashboard's and a program's question figures find the period's questions by
    their asking time (questions_by_time), whatever the history of questions kept."""
    from gateway.store import program_stats, questions, stats

    clock = [1_780_000_000.0]
    with Store.open(db_path, migrate=True, clock=lambda: clock[0]) as store:
        with store.write():
            store.save_learner(LearnerRecord("+2348030000001", "en", "twilio"))
        questions.add(store, "+2348030000001", "sms", "twilio", "Last month?")
        clock[0] += 40 * 86400
        asked = [questions.add(store, "+2348030000001", "sms", "twilio", text)
                 for text in ("How do I price?", "Where are clients?")]
        questions.mark_answered(store, asked[0], "Start low.", None)
        since, until, at = clock[0] - 86400, clock[0] + 1, clock[0] + 1
        statements: list[str] = []
        store.db.conn.set_trace_callback(statements.append)
        try:
            [day] = stats.questions_by_day(store, since, until, at)
            waits = stats.first_answer_waits(store, since, until, at)
            [(_course, _lesson, about, _open)] = stats.questions_by_lesson(
                store, since, until, at, 10)
            asked_in_program = program_stats.questions_asked(store, "", since, until)
        finally:
            store.db.conn.set_trace_callback(None)
        assert (day.asked, day.answered, day.still_open) == (2, 1, 1)
        assert [wait for _day, wait in waits] == [0.0] and about == 2
        assert asked_in_program == (2, 1, 0, 1)
        scans = {sql: steps for sql in statements if "FROM questions" in sql and (steps := [
            row[3] for row in store.db.conn.execute("EXPLAIN QUERY PLAN " + sql)
            if row[3].startswith("SCAN questions")])}
        assert scans == {}


def _bundled_course():
    from gateway.content import load_courses
    from gateway.paths import lessons_dir

    [course], _ = load_courses(lessons_dir())
    return course


def _retitled(course, title: str):
    import dataclasses

    first = course.lessons["en"][0]
    lessons = dict(course.lessons)
    lessons["en"] = [dataclasses.replace(first, title=title), *course.lessons["en"][1:]]
    return dataclasses.replace(course, lessons=lessons,
                               titles={**course.titles, "en": title + " course"})


def test_content_changed_by_another_process_is_read_at_the_next_message(db_path: Path):
    """A long-lived store (a server thread) caches parsed content; an import by another
    connection (the CLI, another process) shows in its next write transaction."""
    course = _bundled_course()
    first_id = course.lesson_ids[0]
    with Store.open(db_path, migrate=True) as server, Store.open(db_path) as cli:
        cli.save_course(course, 0)
        with server.write():  # a message: content read, and cached
            assert server.lesson(course.id, first_id, "en").title == \
                course.lessons["en"][0].title
            assert server.course(course.id).title_in("en") == course.title_in("en")
            assert [c.id for c in server.courses()] == [course.id]
        statements: list[str] = []
        server.db.conn.set_trace_callback(statements.append)
        with server.write():  # the next message: from the cache
            server.courses()
            server.course(course.id)
            server.lesson(course.id, first_id, "en")
        server.db.conn.set_trace_callback(None)
        assert not [sql for sql in statements if "lessons" in sql or "courses" in sql]

        cli.save_course(_retitled(course, "Renamed"), 0)
        with server.write():
            assert server.lesson(course.id, first_id, "en").title == "Renamed"
            assert server.course(course.id).title_in("en") == "Renamed course"
            assert server.courses()[0].title_in("en") == "Renamed course"
        # Outside a write transaction content is always read from its tables.
        cli.save_course(course, 0)
        assert server.lesson(course.id, first_id, "en").title == course.lessons["en"][0].title


def test_a_content_change_rolled_back_is_never_served_from_the_cache(db_path: Path):
    course = _bundled_course()
    first_id = course.lesson_ids[0]
    with Store.open(db_path, migrate=True) as store:
        store.save_course(course, 0)
        try:
            with store.write():
                store.save_course(_retitled(course, "Draft"), 0)
                # The transaction that changed content reads it as it now stands.
                assert store.lesson(course.id, first_id, "en").title == "Draft"
                raise RuntimeError("abandoned")
        except RuntimeError:
            pass
        with store.write():
            assert store.lesson(course.id, first_id, "en").title == \
                course.lessons["en"][0].title
            assert store.course(course.id).title_in("en") == course.title_in("en")


def test_a_message_recorded_as_accepted_counts_towards_the_daily_cap(store: Store):
    """The acceptance is recorded with its time even when the attempt's bookkeeping
    (finish_send) never runs, so the cap of unsolicited messages a day counts it."""
    with store.write():
        store.save_learner(LearnerRecord("+2348030000000", "en", "twilio"))
        store.enqueue("twilio", "+2348030000000", "a lesson", kind="lesson")
    claimed = store.claim_due("twilio", 60)
    assert claimed is not None
    store.record_accepted(claimed.id, "SM-accepted")
    assert store.unsolicited_sent_since("+2348030000000", time.time() - 60) == 1


def test_putting_a_claimed_message_back_waits_for_the_write_lock(db_path: Path):
    """Deferring a send is a write like any other: while another writer holds the lock it
    waits for it (then gives up, changing nothing) instead of writing beside it."""
    with Store.open(db_path, busy_timeout=0.3) as store:
        message_id = _queued(store)
        assert store.claim_due("twilio", 60) is not None
        fd = os.open(f"{db_path}-writelock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # another process's writer holds the lock
            with pytest.raises(LockBusy):
                store.defer_send(message_id, time.time() + 600)
            [message] = store.outbox()
            assert message.status == "sending"
        finally:
            os.close(fd)
        store.defer_send(message_id, time.time() + 600)
        [message] = store.outbox()
        assert message.status == "queued"


def _open_when_told(path: str, start, results) -> None:
    start.wait()
    try:
        with Store.open(path, migrate=True):
            results.put("ok")
    except Exception as exc:  # reported to the test, which names it
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_starting_together_on_a_new_database_all_start(tmp_path: Path):
    """gunicorn's workers, or `serve` and `worker` started together, on a database that
    does not exist yet: one makes it, the others wait for it; none is told to restore a
    backup because it looked while the first was migrating."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    for attempt in range(4):
        path = str(tmp_path / f"new-{attempt}.db")
        start, results = context.Event(), context.Queue()
        processes = [context.Process(target=_open_when_told, args=(path, start, results))
                     for _ in range(6)]
        for process in processes:
            process.start()
        start.set()
        outcomes = [results.get(timeout=120) for _ in processes]
        for process in processes:
            process.join(30)
        assert outcomes == ["ok"] * len(processes), outcomes


def test_a_learner_created_in_a_transaction_has_what_is_saved_for_them_in_it(store: Store):
    """A learner just created is known to have no place and no review without a look;
    whatever the same transaction then saves for them is read back, and a number that
    already had a learner is read from its rows."""
    from gateway.store import EnrollmentRecord

    store.save_learner(LearnerRecord("+2348030000009", "en", "twilio"))
    store.add_review("+2348030000009", "c", "l", 0, 50.0)
    with store.write():
        store.save_learner(LearnerRecord("+2348030000009", "fr", "twilio"), new=True)
        assert store.next_review_at("+2348030000009") == 50.0  # it was there all along
        store.save_learner(LearnerRecord("+2348030000010", "en", "twilio"), new=True)
        assert store.enrollment("+2348030000010", "start-freelancing") is None
        assert store.next_review_at("+2348030000010") is None
        store.save_enrollment(EnrollmentRecord("+2348030000010", "start-freelancing",
                                               position=1, card=2))
        store.add_review("+2348030000010", "start-freelancing", "l", 0, 100.0)
        found = store.enrollment("+2348030000010", "start-freelancing")
        assert found is not None and (found.position, found.card) == (1, 2)
        assert store.next_review_at("+2348030000010") == 100.0
    assert store.learner("+2348030000009").locale == "fr"


def test_a_new_inbound_message_comes_back_as_stored(store: Store):
    """What record_inbound returns for a new message is its stored row, as a repeat
    reads it back: id, number, text and status, processed or not."""
    for sid, processed in (("SMnew1", False), ("SMnew2", True)):
        new = store.record_inbound("twilio", sid, "+2348030000000", "Réponse: B ✓",
                                   processed=processed)
        again = store.record_inbound("twilio", sid, "+2348030000000", "other")
        assert new.is_new and not again.is_new
        assert (new.id, new.phone, new.text, new.status) == \
            (again.id, again.phone, again.text, again.status)
        assert new.status == ("processed" if processed else "received")
