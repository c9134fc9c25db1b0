"""Learning over time: a simulated week of daily lessons, quiet hours, reminders and review
for learners in two time zones, through the real webhook, scheduler and outbox worker
against the loopback Twilio API, on a clock the test turns."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway import create_app
from gateway.channels.commands import parse_command
from gateway.config import load_carriers
from gateway.learning import intents as i
from gateway.learning.timing import (
    hour_outside_quiet,
    in_quiet_hours,
    learner_zone,
    next_lesson_time,
    quiet_end,
    weekend_of,
    working_days,
)
from gateway.outbox.worker import OutboxWorker
from gateway.store import Store
from tests.conftest import (
    TwilioWebhooks,
    carriers_toml,
    csrf,
    right_answers,
    web_sign_in,
)
from tests.fakes.clock import SimulatedClock

UTC = ZoneInfo("UTC")
LAGOS, NAIROBI = ZoneInfo("Africa/Lagos"), ZoneInfo("Africa/Nairobi")  # UTC+1, UTC+3
ADA = "+2348031110001"  # Lagos: learns every day at 09:00
BARAKA = "+254712345678"  # Nairobi, in Swahili: daily at 18:00, then stops mid-lesson
SAMIRA = "+201001234567"  # Cairo, in Arabic: weekdays, which are Sunday to Thursday there
CAIRO = ZoneInfo("Africa/Cairo")
MONDAY = datetime(2026, 12, 7, tzinfo=UTC).timestamp()
STEP = 15 * 60
LETTERS = "ABCD"
LESSON = "/courses/start-freelancing/find-your-skill"  # lesson 1's page


@pytest.fixture
def week(tmp_path: Path, db_path: Path, twilio_api, monkeypatch):
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", "auth-token-for-tests-0123456789")
    carriers = tmp_path / "carriers.toml"
    carriers.write_text(carriers_toml(twilio_api.url).replace(
        # The inbound limiter counts real seconds, and this week passes in a few of them.
        "tps = 200\n", "tps = 200\nmax_nudges = 2\nnudge_after_days = 2\n"
                       "review_after_days = 3\ninbound_per_minute = 10000\n"
                       "inbound_per_hour = 10000\n"))
    clock = SimulatedClock(MONDAY)
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers),
                      "TESTING": True, "CLOCK": clock})
    worker = OutboxWorker(db_path, load_carriers(carriers), wall_clock=clock,
                          schedule_seconds=0)
    store = Store.open(db_path, clock=clock)
    yield Week(clock, TwilioWebhooks(app.test_client()), worker, store, twilio_api, app)
    store.close()


class Week:
    """The simulation: learners write through the webhook; the worker runs each step."""

    def __init__(self, clock, hooks, worker, store, api, app):
        self.clock, self.hooks, self.worker, self.store, self.api = clock, hooks, worker, \
            store, api
        self.app = app  # for the lite pages

    def at(self, day: int, hour: int, minute: int, zone: ZoneInfo) -> float:
        start = datetime.fromtimestamp(MONDAY, zone)
        return start.replace(day=start.day + day, hour=hour, minute=minute).timestamp()

    def say(self, phone: str, text: str) -> None:
        assert self.hooks.sms(phone, text).status_code == 200

    def run_worker(self) -> None:
        self.worker.run(drain=True, poll_seconds=0.001)

    def sent(self, phone: str, *, since: float = 0.0, kind: str | None = None) -> list[dict]:
        rows = self.store.db.execute(
            "SELECT kind, body, sent_at FROM outbox WHERE phone = ? AND sent_at >= ? "
            "AND status IN ('sent', 'delivered') ORDER BY id", [phone, since]).fetchall()
        return [{"kind": k, "body": b, "sent_at": at} for k, b, at in rows
                if kind is None or k == kind]

    def take_lesson(self, phone: str, *, wrong: set[int] = frozenset()) -> None:
        """Read the lesson the learner is in and answer its quiz, right except `wrong`
        (question numbers, answered wrong on their first try)."""
        learner = self.store.learner(phone)
        course = self.store.course(learner.current_course)
        start = self.store.enrollment(phone, course.id).position
        for _ in range(40):
            enrollment = self.store.enrollment(phone, course.id)
            if enrollment.position != start or (enrollment.completed
                                                and enrollment.quiz is None):
                return
            if enrollment.quiz is None or not enrollment.quiz.queue:
                self.say(phone, "NEXT")
                continue
            lesson = self.store.lesson(course.id, course.lesson_ids[start], learner.locale)
            number = enrollment.quiz.queue[0]
            answer = lesson.questions[number].answer
            if number in wrong and number not in enrollment.quiz.requeued:
                answer = (answer + 1) % len(lesson.questions[number].options)
            self.say(phone, LETTERS[answer])
        raise AssertionError("the lesson never ended")

    def answer_review(self, phone: str) -> None:
        pending = self.store.learner(phone).pending_review
        course = self.store.course(pending["course"])
        lesson = self.store.lesson(course.id, pending["lesson"], "en")
        self.say(phone, LETTERS[lesson.questions[pending["question"]].answer])


def local_times(rows: list[dict], zone: ZoneInfo) -> list[datetime]:
    return [datetime.fromtimestamp(row["sent_at"], zone) for row in rows]


def test_a_simulated_week_in_two_time_zones(week: Week):
    # Monday: Ada (Lagos) starts at 10:00, takes lesson 1 (Q1 wrong first), and asks for
    # the next lesson every day at 9; Baraka (Nairobi) starts in the evening and picks 18:00.
    week.clock.now = week.at(0, 10, 0, LAGOS)
    week.say(ADA, "START")
    week.take_lesson(ADA, wrong={0})
    week.run_worker()
    offer = week.sent(ADA)[-1]["body"]
    assert "DAILY" in offer and "TIME" in offer  # offered once, after the first lesson
    week.say(ADA, "TIME 9")
    week.run_worker()
    assert "every day at 09:00" in week.sent(ADA)[-1]["body"]

    week.clock.now = week.at(0, 19, 0, NAIROBI)
    week.say(BARAKA, "ANZA")  # a Kenyan number defaults to Swahili and its command words
    week.take_lesson(BARAKA)
    week.say(BARAKA, "SIKU 18")
    week.run_worker()
    assert "kila siku saa 18:00" in week.sent(BARAKA)[-1]["body"]

    baraka_read_late = False
    while week.clock.now < week.at(7, 0, 0, UTC):
        week.clock.now += STEP
        before = week.clock.now - 1
        week.run_worker()
        for row in week.sent(ADA, since=before):
            if row["kind"] == "lesson":
                week.take_lesson(ADA)
            elif row["kind"] == "review":
                week.answer_review(ADA)
        baraka_lessons = week.sent(BARAKA, kind="lesson")
        if baraka_lessons and not baraka_read_late \
                and week.clock.now >= week.at(1, 22, 30, NAIROBI):
            # Tuesday 22:30 in Nairobi, in the quiet hours: one card, then silence.
            week.say(BARAKA, "NEXT")
            baraka_read_late = True
        week.run_worker()

    # Ada: a lesson each morning at 09:00 Lagos time, Tuesday to Saturday, then the course
    # is done and they stop.
    ada_lessons = local_times(week.sent(ADA, kind="lesson"), LAGOS)
    firsts = sorted({moment.date(): moment for moment in ada_lessons}.values())
    assert [(m.strftime("%a"), m.hour) for m in firsts] == [
        ("Tue", 9), ("Wed", 9), ("Thu", 9), ("Fri", 9), ("Sat", 9)]
    assert all(moment.minute < 15 for moment in firsts)
    enrollment = week.store.enrollment(ADA, week.store.learner(ADA).current_course)
    assert enrollment.completed

    # Ada passed: the certificate code came by SMS, and it checks out on the web and by
    # SMS from anyone's phone.
    done = next(row["body"] for row in week.sent(ADA) if "Course complete" in row["body"])
    code = re.search(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}\b", done).group(0)
    page = week.hooks.client.get(f"/verify/{code}")
    assert page.status_code == 200
    assert "Start freelancing" in page.get_data(as_text=True)
    employer = "+2348039990000"
    week.say(employer, f"VERIFY {code.lower()}")
    week.run_worker()
    assert "Start freelancing" in week.sent(employer)[-1]["body"]

    # The question Ada missed on Monday came back on Thursday and Sunday; right twice, it
    # has left review.
    reviews = local_times(week.sent(ADA, kind="review"), LAGOS)
    assert [m.strftime("%a") for m in reviews] == ["Thu", "Sun"]
    assert week.store.db.execute("SELECT count(*) FROM reviews WHERE phone = ?",
                                 [ADA]).fetchone()[0] == 0

    # Baraka: Tuesday's lesson at 18:00 Nairobi time; stopped in it, no more lessons, two
    # reminders (max_nudges = 2), each held from 22:30 to the end of the quiet hours.
    baraka = local_times(week.sent(BARAKA, kind="lesson"), NAIROBI)
    assert {(m.strftime("%a"), m.hour) for m in baraka} == {("Tue", 18)}
    reminders = local_times(week.sent(BARAKA, kind="reminder"), NAIROBI)
    assert [(m.strftime("%a"), m.hour) for m in reminders] == [("Fri", 8), ("Sun", 8)]
    assert all("ENDELEA" in row["body"] for row in week.sent(BARAKA, kind="reminder"))

    # Nothing unsolicited in anyone's quiet hours; replies are never held (Baraka's 22:30).
    for phone, zone in ((ADA, LAGOS), (BARAKA, NAIROBI)):
        for row in week.sent(phone):
            hour = datetime.fromtimestamp(row["sent_at"], zone).hour
            if row["kind"] != "reply":
                assert 8 <= hour < 21, (phone, row)
    late_replies = [m for m in local_times(week.sent(BARAKA, kind="reply"), NAIROBI)
                    if m.hour == 22]
    assert late_replies
    # And the carrier's API saw exactly what the outbox says was sent.
    assert len(week.api.bodies_to(ADA)) == len(week.sent(ADA))


def test_daily_cap_holds_the_rest_for_the_next_morning(week: Week):
    week.clock.now = week.at(0, 10, 0, LAGOS)
    week.say(ADA, "START")
    week.run_worker()
    with week.store.write():
        for n in range(5):
            week.store.enqueue("twilio", ADA, f"Announcement {n}", kind="announcement")
    week.run_worker()
    sent = week.sent(ADA, kind="announcement")
    assert [row["body"] for row in sent] == ["Announcement 0", "Announcement 1",
                                             "Announcement 2"]  # max_unsolicited_per_day
    week.clock.now = week.at(1, 7, 59, LAGOS)
    week.run_worker()
    assert len(week.sent(ADA, kind="announcement")) == 3
    week.clock.now = week.at(1, 8, 0, LAGOS)
    week.run_worker()
    later = local_times(week.sent(ADA, kind="announcement"), LAGOS)[3:]
    assert [(m.strftime("%a"), m.hour) for m in later] == [("Tue", 8), ("Tue", 8)]


def test_pause_resume_and_weekdays(week: Week):
    week.clock.now = week.at(0, 10, 0, LAGOS)
    week.say(ADA, "START")
    week.take_lesson(ADA)
    week.say(ADA, "WEEKDAYS 7")  # 07:00 is in the quiet hours: moved to 08:00
    week.run_worker()
    reply = week.sent(ADA)[-1]["body"]
    assert "Monday to Friday at 08:00" in reply and "07:00" in reply
    week.say(ADA, "PAUSE")
    week.run_worker()
    assert "paused" in week.sent(ADA)[-1]["body"]
    week.clock.now = week.at(1, 12, 0, LAGOS)
    week.run_worker()
    assert week.sent(ADA, kind="lesson") == []  # paused: Tuesday's lesson did not come
    week.say(ADA, "RESUME")
    for day in range(2, 7):
        week.clock.now = week.at(day, 8, 5, LAGOS)
        week.run_worker()
    days = {m.strftime("%a") for m in local_times(week.sent(ADA, kind="lesson"), LAGOS)}
    assert days == {"Wed"}  # then in the middle of that lesson: no more until it is done


def test_pause_holds_reminders_and_reviews_with_daily_lessons_off(week: Week):
    """Daily lessons off (the default): reminders and review questions still come, and
    every reminder offers PAUSE. PAUSE holds them; RESUME says so and lets them come."""
    week.clock.now = week.at(0, 10, 0, LAGOS)
    week.say(ADA, "START")
    week.take_lesson(ADA, wrong={0})  # the missed question comes back as a review
    week.say(ADA, "NEXT")  # into lesson 2, then silent: reminders are due from Wednesday
    week.say(ADA, "PAUSE")
    week.run_worker()
    assert "paused. Reply RESUME" in week.sent(ADA)[-1]["body"]
    paused_at = week.clock.now
    for day in range(1, 7):
        week.clock.now = week.at(day, 12, 0, LAGOS)
        week.run_worker()
    assert week.sent(ADA, since=paused_at + 1) == []  # no reminder, no review, all week
    week.say(ADA, "STATUS")  # seen again: reminders count from now
    week.say(ADA, "RESUME")
    week.run_worker()
    for day in range(7, 12):
        week.clock.now = week.at(day, 12, 0, LAGOS)
        week.run_worker()
    since_resume = week.sent(ADA, since=paused_at + 1)
    assert since_resume[1]["body"].startswith(  # after STATUS's answer
        "Reminders are on again. Daily lessons are off. Reply DAILY")
    kinds = [row["kind"] for row in since_resume]
    assert "review" in kinds and "reminder" in kinds
    assert "lesson" not in kinds


def test_weekdays_follow_the_learners_weekend(week: Week):
    # In Egypt the weekend is Friday and Saturday: WEEKDAYS means Sunday to Thursday.
    week.clock.now = week.at(0, 10, 0, CAIRO)
    week.say(SAMIRA, "ابدأ")
    week.take_lesson(SAMIRA)
    week.say(SAMIRA, "أسبوع 9")
    week.run_worker()
    assert "من الأحد إلى الخميس الساعة 09:00" in week.sent(SAMIRA)[-1]["body"]
    for day in range(1, 8):  # Tuesday to the next Monday, each lesson read on its day
        week.clock.now = week.at(day, 9, 5, CAIRO)
        week.run_worker()
        if week.sent(SAMIRA, since=week.at(day, 0, 0, CAIRO), kind="lesson"):
            week.take_lesson(SAMIRA)
    days = [m.strftime("%a") for m in local_times(week.sent(SAMIRA, kind="lesson"), CAIRO)]
    assert days == ["Tue", "Wed", "Thu", "Sun", "Mon"]  # not Friday or Saturday


def test_french_schedule_commands():
    assert parse_command("HEURE 7") == i.Schedule(None, 7)
    assert parse_command("quotidien") == i.Schedule("daily", None)
    assert parse_command("QUOTIDIEN NON") == i.Schedule("off", None)
    assert parse_command("reprendre") == i.Resume()
    assert parse_command("TIME 19:00") == i.Schedule(None, 19)
    assert parse_command("time 7pm") == i.Schedule(None, 19)
    # Not a whole hour of the day: nothing changes, and the learner is told (below).
    for text, typed in (("TIME 25", "25"), ("time 7:30", "7:30"), ("HEURE 19h30", "19H30"),
                        ("TIME seven", "SEVEN"), ("DAILY 7:30", "7:30"),
                        ("semaine 12.30pm", "12.30PM")):
        assert parse_command(text) == i.Schedule(unclear_hour=typed), text
    assert parse_command("DAILY LESSONS PLEASE") == i.Schedule("daily", None)
    # The hour after a word or two, as people write it; TIME OFF as DAILY OFF.
    assert parse_command("DAILY AT 7") == i.Schedule("daily", 7)
    assert parse_command("quotidien a 19h") == i.Schedule("daily", 19)
    assert parse_command("TIME AT 7 PM") == i.Schedule(None, 19)
    assert parse_command("TIME OFF") == parse_command("HEURE NON") == i.Schedule("off")
    assert parse_command("DAILY NEXT WEEK 2") == i.Schedule("daily", None)  # no hour named


def test_local_time_rules():
    paris = ZoneInfo("Europe/Paris")
    # 09:00 local stays 09:00 across the end of summer time (25 October 2026).
    before = datetime(2026, 10, 24, 10, 0, tzinfo=paris).timestamp()
    after = next_lesson_time(before, paris, 9)
    assert datetime.fromtimestamp(after, paris).hour == 9
    assert after - before == 23 * 3600 + 3600  # a 25-hour day
    # Weekdays skip the weekend: Saturday and Sunday in Nigeria, Friday and Saturday in
    # Egypt, Friday in Iran (CLDR).
    friday = datetime(2026, 12, 11, 10, 0, tzinfo=LAGOS).timestamp()
    assert datetime.fromtimestamp(next_lesson_time(friday, LAGOS, 9, weekend_of(ADA)),
                                  LAGOS).strftime("%a") == "Mon"
    thursday = datetime(2026, 12, 10, 10, 0, tzinfo=CAIRO).timestamp()
    assert datetime.fromtimestamp(next_lesson_time(thursday, CAIRO, 9, weekend_of(SAMIRA)),
                                  CAIRO).strftime("%a") == "Sun"
    assert (weekend_of(ADA), weekend_of(SAMIRA), weekend_of("+989121234567")) == (
        {5, 6}, {4, 5}, {4})
    assert (working_days(ADA), working_days(SAMIRA)) == ((0, 4), (6, 3))
    # Quiet hours wrap midnight; their end is the next morning.
    late = datetime(2026, 12, 7, 23, 30, tzinfo=LAGOS).timestamp()
    assert in_quiet_hours(late, LAGOS, (21, 8))
    assert datetime.fromtimestamp(quiet_end(late, LAGOS, (21, 8)), LAGOS).hour == 8
    assert not in_quiet_hours(late, LAGOS, (0, 0))
    assert hour_outside_quiet(6, (21, 8)) == 8 and hour_outside_quiet(12, (21, 8)) == 12
    # A number's zone; a country with several zones takes the carrier's.
    assert learner_zone(ADA, None, None).key == "Africa/Lagos"
    assert learner_zone(BARAKA, None, None).key == "Africa/Nairobi"
    assert learner_zone("+12025550123", None, "America/Chicago").key in (
        "America/New_York", "America/Chicago")
    assert learner_zone(ADA, "Africa/Abidjan", None).key == "Africa/Abidjan"


def test_reminders_and_lessons_never_reach_an_opted_out_learner(week: Week):
    week.clock.now = week.at(0, 10, 0, LAGOS)
    week.say(ADA, "START")
    week.take_lesson(ADA)
    week.say(ADA, "TIME 9")
    week.say(ADA, "NEXT")  # into lesson 2, then gone
    week.say(ADA, "STOP")
    week.run_worker()
    replies = len(week.sent(ADA))
    for day in range(1, 7):
        week.clock.now = week.at(day, 12, 0, LAGOS)
        week.run_worker()
    assert len(week.sent(ADA)) == replies
    assert re.search("no more messages", week.sent(ADA)[-1]["body"])


def test_learning_on_the_web_counts_as_being_seen(week: Week):
    """A learner who goes on with the course on the lite pages is not reminded by SMS to
    come back; once they stop, reminders count from their last page."""
    week.clock.now = week.at(0, 10, 0, LAGOS)
    week.say(ADA, "START")
    week.say(ADA, "NEXT")  # in the middle of lesson 1, where reminders apply
    web = week.app.test_client()
    web_sign_in(web, week.store, ADA)
    week.run_worker()
    last_page = 0.0
    while week.clock.now < week.at(10, 0, 0, LAGOS):
        week.clock.now += STEP
        if week.clock.now <= week.at(5, 12, 0, LAGOS) and \
                datetime.fromtimestamp(week.clock.now, LAGOS).hour == 12 and \
                datetime.fromtimestamp(week.clock.now, LAGOS).minute == 0:
            # every day at noon, to day 5: the lesson read, on to its quiz
            assert web.post(LESSON, data={"csrf": csrf(web, LESSON)}).status_code == 303
            last_page = week.clock.now
        week.run_worker()
    reminders = [row["sent_at"] for row in week.sent(ADA, kind="reminder")]
    # nudge_after_days = 2, max_nudges = 2: two days after the last page, then two more.
    assert last_page == week.at(5, 12, 0, LAGOS)
    assert [(at - last_page) // STEP * STEP / 86400 for at in reminders] == [2.0, 4.0]
    # Answering the lesson's quiz on the web counts too.
    week.clock.now = week.at(11, 9, 0, LAGOS)
    answered = web.post(LESSON + "/quiz", data={"csrf": csrf(web, LESSON + "/quiz"),
                                                **right_answers(week.store)})
    assert answered.status_code == 200
    assert week.store.learner(ADA).last_seen_at == week.clock.now
