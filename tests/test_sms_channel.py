"""The SMS channel: commands in, wording out, one inbound to one outbox commit."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.channels.sms import handle_inbound, parse_command, receive_inbound, render
from gateway.config import Carrier
from gateway.content.importer import import_courses
from gateway.content.model import SMS
from gateway.i18n import default_locale
from gateway.learning import intents as i
from gateway.learning import replies as r
from gateway.sms_text import count
from gateway.store import Store
from tests.courses import LONG_CARDS, long_card_course

CONSOLE = Carrier.of(id="console", adapter="console", sender="Learnline", country="NG")


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("START", i.Start()),
        ("  start  ", i.Start()),
        ("Join freelance", i.Start("FREELANCE")),
        ("start 1", i.Start("1")),
        ("COURSES", i.Courses()),
        ("next", i.Next()),
        ("Next!", i.Next()),
        ("NEXT please", i.Next()),
        ("status", i.Status()),
        ("help", i.Help()),
        ("HELP?", i.Help()),
        ("LANG fr", i.Language("fr")),  # as typed: the engine reads any case
        ("LANG العربية", i.Language("العربية")),
        ("lang: Português", i.Language("Português")),
        ("lang", i.Language(None)),
        ("stop", i.Stop()),
        ("STOPALL", i.Stop()),
        ("Unsubscribe", i.Stop()),
        ("A", i.Answer(0)),
        ("b", i.Answer(1)),
        (" c ", i.Answer(2)),
        ("D.", i.Answer(3)),
        ("(b)", i.Answer(1)),
        ("1", i.Answer(0)),
        ("4", i.Answer(3)),
        ("7", i.Answer(6)),
        # French words, with or without accents, any case
        ("suite", i.Next()),
        ("Suivant", i.Next()),
        ("DÉBUT", i.Start()),
        ("début freelance", i.Start("FREELANCE")),
        ("arrêt", i.Stop()),
        ("aide", i.Help()),
        ("Langue EN", i.Language("EN")),
        ("bilan", i.Status()),
        ("cours", i.Courses()),
        ("", i.Unknown("")),
        ("   ", i.Unknown("   ")),
        ("hello there", i.Unknown("hello there")),
        ("E", i.Unknown("E")),
        ("AB", i.Unknown("AB")),
        ("'; DROP TABLE learners; --", i.Unknown("'; DROP TABLE learners; --")),
    ],
)
def test_commands(text: str, intent: i.Intent):
    assert parse_command(text) == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # one slip in NEXT, STATUS, HELP or COURSES texted alone (four letters or more): a
        # letter missing, extra, or wrong, or two swapped
        ("SUIT", i.Next()),
        ("suiet", i.Next()),
        ("nxet", i.Next()),
        ("NEXTT", i.Next()),
        ("stauts", i.Status()),
        ("Stairs", i.Unknown("Stairs")),  # two slips from STATUS: not a command
        ("HELO", i.Help()),
        ("HELO?", i.Help()),
        ("courss", i.Courses()),
        ("nxet please", i.Unknown("nxet please")),  # a slip only in a word alone
        # Commands that act are never guessed: ordinary words one slip away stay words.
        ("staart 1", i.Unknown("staart 1")),
        ("Stars", i.Unknown("Stars")),
        ("Star", i.Unknown("Star")),
        ("John", i.Unknown("John")),
        ("Some of it was hard", i.Unknown("Some of it was hard")),
        ("come on", i.Unknown("come on")),
        ("names", i.Unknown("names")),
        ("cause", i.Unknown("cause")),
        ("semaines", i.Unknown("semaines")),
        ("diaria", i.Unknown("diaria")),
        ("اسمه احمد", i.Unknown("اسمه احمد")),
        ("اشتركت", i.Unknown("اشتركت")),
        ("NAM Ada", i.Unknown("NAM Ada")),
        # STOP is never guessed: a learner who meant something else would lose the course
        ("STPO", i.Unknown("STPO")),
        ("STOPP", i.Unknown("STOPP")),
        # an answer said in words
        ("la réponse A", i.Answer(0)),
        ("Réponse: b", i.Answer(1)),
        ("ma réponse est C", i.Answer(2)),
        ("answer D", i.Answer(3)),
        ("my answer is b", i.Answer(1)),
        ("resposta A", i.Answer(0)),
        ("a resposta é B", i.Answer(1)),
        ("jibu ni C", i.Answer(2)),
        ("answer", i.Unknown("answer")),
        ("answer the phone", i.Unknown("answer the phone")),
    ],
)
def test_command_words_tolerate_a_slip_and_answers_in_words(text: str, intent: i.Intent):
    assert parse_command(text) == intent


CARD = r.CardShown("Start freelancing", 1, 6, "Find a skill", 1, 5, "Card text.")


@pytest.mark.parametrize(
    ("replies", "locale", "expected"),
    [
        ((CARD,), "en", "Lesson 1/6: Find a skill\nCard text.\n[1/5] Reply NEXT"),
        ((CARD,), "fr", "Leçon 1/6 : Find a skill\nCard text.\n[1/5] Répondez SUITE"),
        ((dataclasses.replace(CARD, card_number=5),), "en",
         "Card text.\n[5/5] Reply NEXT for the quiz"),
        ((r.QuestionAsked("L", 1, 3, "Which?", ("Yes", "No", "Maybe")),), "en",
         "Q1/3: Which?\nA) Yes\nB) No\nC) Maybe\nReply A-C"),
        ((r.Feedback(True, 0, "Yes", "Because."),), "fr", "Bravo ! Because."),
        ((r.Feedback(False, 1, "No", "Because.", will_return=True),), "en",
         "Not quite: it's B) No. Because. You will see this question again."),
        ((r.Stopped(),), "en", "You will get no more messages. Reply START to come back."),
        ((r.LanguageChanged("fr"),), "fr", "Langue : Français."),
        ((r.Notice("not_understood", {"expecting": "answer", "count": 4}),), "en",
         "Please answer with a letter, A-D, or reply HELP."),
    ],
)
def test_wording(replies, locale: str, expected: str):
    assert render(replies, locale) == expected


def test_plural_forms_follow_each_language():
    assert render((r.Welcome("X", 1),), "en") == "Welcome to X: 1 lesson."
    assert render((r.Welcome("X", 6),), "en") == "Welcome to X: 6 lessons."
    assert render((r.Welcome("X", 1),), "fr") == "Bienvenue dans X : 1 leçon."
    assert render((r.Welcome("X", 6),), "fr") == "Bienvenue dans X : 6 leçons."


def test_locale_number_formatting_never_forces_ucs2():
    """Babel writes '79 %' in French with a narrow no-break space; SMS gets a plain one."""
    text = render((r.CourseDone("Cours", 15, 19, 70, True),), "fr")
    assert "\u202f" not in text and "\u00a0" not in text
    assert "79 %" in text and "70" not in text.split("(")[0]
    assert count(text, "gsm7").encoding == "GSM-7"


def test_every_reply_kind_has_wording_in_every_language():
    entry = r.CourseEntry(1, "FREELANCE", "Start freelancing", "Earn", 6)
    samples = [
        r.CourseList((entry,)), r.CourseList(()), r.Welcome("C", 2, resumed=True), CARD,
        r.QuestionAsked("L", 2, 3, "Q?", ("a", "b"), again=True),
        r.LessonDone("L", 2, 3, "Next one"), r.LessonDone("L", 2, 3, None),
        r.CourseDone("C", 5, 10, 70, False),
        r.Progress("C", 1, 6, 3, 3, "L", 2, 5, False, False),
        r.Progress("C", 1, 6, 0, 0, "L", 1, 3, True, False),
        r.Progress("C", 6, 6, 18, 19, None, 1, 0, False, True),
        r.HelpShown(True, True, 3, False), r.HelpShown(False, False, 0, False),
        r.HelpShown(True, False, 0, True), r.LanguageChoices(("en", "fr"), "xx"),
    ] + [
        r.Notice(kind, details)
        for kind, details in [
            ("not_understood", {"expecting": "start", "course": "FREELANCE"}),
            ("not_understood", {"expecting": "start", "course": None}),
            ("not_understood", {"expecting": "next"}),
            ("not_understood", {"expecting": "courses"}),
            ("unknown_course", {"asked": "X"}), ("no_question", {}),
            ("answer_out_of_range", {"count": 3}), ("answer_first", {}),
            ("not_enrolled", {}), ("course_complete", {"course": "C"}), ("no_courses", {}),
        ]
    ]
    for locale in ("en", "fr", "pt"):
        for sample in samples:
            text = render((sample,), locale)
            assert text and "%(" not in text, (locale, sample)
    # French and Portuguese wording really is theirs, not the English source.
    for locale in ("fr", "pt"):
        for sample in samples:
            if not isinstance(sample, r.Welcome | r.CardShown):
                assert render((sample,), locale) != render((sample,), "en"), (locale, sample)


@pytest.mark.parametrize(
    ("phone", "carrier", "expected"),
    [
        ("+221770000000", CONSOLE, "fr"),  # Senegal
        ("+2348030000000", CONSOLE, "en"),  # Nigeria
        ("+2250700000000", CONSOLE, "fr"),  # Côte d'Ivoire
        ("+2348030000000", dataclasses.replace(CONSOLE, locale="fr"), "fr"),  # carrier wins
        ("+8613800000000", dataclasses.replace(CONSOLE, country="SN"), "fr"),  # carrier country
        ("+258841234567", CONSOLE, "pt"),  # Mozambique
        ("+244923123456", CONSOLE, "pt"),  # Angola
        ("+351912345678", CONSOLE, "pt"),  # Portugal
        ("+5511912345678", CONSOLE, "pt"),  # Brazil
        ("+258841234567", dataclasses.replace(CONSOLE, locale="en"), "en"),  # carrier wins
    ],
)
def test_a_new_learner_language(phone: str, carrier: Carrier, expected: str):
    assert default_locale(phone, carrier) == expected


def say(store: Store, text: str, phone: str = "+2348030000000",
        carrier: Carrier = CONSOLE, sid: str | None = None) -> list[str]:
    """One inbound SMS through the channel; returns the bodies it queued."""
    before = len(store.outbox())
    sid = sid or f"m{before}-{text}"
    receive_inbound(store, carrier, sid, phone, text)
    return [m.body for m in store.outbox()[before:]]


def test_a_language_not_offered_is_said_to_be_none_of_ours(store: Store):
    say(store, "START")
    [reply] = say(store, "LANG xx")
    assert reply.startswith("xx is not one of our languages. Languages: EN English, ")
    [french] = say(store, "LANG klingon", phone="+221770000001")  # a French-speaking number
    assert french.startswith("klingon ne fait pas partie de nos langues. Langues : ")
    [listed] = say(store, "LANG")  # nothing asked: the list alone
    assert listed.startswith("Languages: EN English, ")


def test_one_inbound_one_commit_and_a_repeat_does_nothing(store: Store):
    assert say(store, "START", sid="abc")[0].startswith("Welcome to Start freelancing")
    assert say(store, "START", sid="abc") == []
    rows = list(store.db.query("SELECT status FROM inbound"))
    assert rows == [{"status": "processed"}]


def test_gibberish_gets_a_helpful_reply_never_silence(store: Store):
    for text in ("asdfgh", "???", "😀", "x" * 1600, "\x00\x07"):
        replies = say(store, text)
        assert replies and "HELP" in replies[0]


def test_someone_with_no_course_is_shown_how_to_start_one(store: Store):
    """A letter or STATUS from a number with no course yet (a stray reply, a curious
    first message) answers with the courses and how to start one, not a dead end."""
    for text in ("A", "STATUS"):
        [reply] = say(store, text, phone=f"+23480300001{len(text):02d}")
        assert reply.startswith("You have not started a course yet.\nCourses:\n"
                                "1) Start freelancing (6 lessons)\n")
        assert "Reply START and a number" in reply
    say(store, "START")
    say(store, "NEXT")
    assert say(store, "A") == ["No question is waiting. Reply NEXT to go on."]


def test_status_in_a_quiz_asks_the_question_waiting(store: Store):
    """STATUS mid-quiz used to say "Reply NEXT", and NEXT "Answer this question first":
    now the progress line, then the question itself, ready to answer."""
    say(store, "START")
    while "Q1/3" not in (reply := say(store, "NEXT")[0]):
        pass
    [status] = say(store, "STATUS")
    assert status.startswith("Start freelancing: 0/6 lessons done. Now: the quiz of Find a "
                             "skill people pay for.\nQ1/3: ")
    assert status.endswith("Reply A-C") and "NEXT" not in status
    assert reply.endswith("\n" + status.split("\n", 1)[1])  # it came with the last card
    assert say(store, "B")[0].startswith("Right!")


def test_an_hour_that_is_not_a_whole_hour_is_explained_and_changes_nothing(store: Store):
    say(store, "START")
    assert say(store, "TIME 9") == ["Your next lesson will come every day at 09:00. "
                                    "Reply PAUSE to hold them."]
    for text in ("TIME 7:30", "TIME 25", "DAILY 12:30pm"):
        assert say(store, text) == ["Lessons come on the hour. Reply TIME and an hour from "
                                    "0 to 23, e.g. TIME 7 or TIME 19."]
    learner = store.learner("+2348030000000")
    assert (learner.schedule, learner.schedule_hour) == ("daily", 9)
    senegal = "+221770000001"  # French by its country
    say(store, "DEBUT", phone=senegal)
    assert say(store, "HEURE 19H30", phone=senegal) == [
        "Les lecons arrivent à l'heure pile. Répondez HEURE et une heure de 0 à 23, par ex. "
        "HEURE 7 ou HEURE 19."]


def test_long_replies_are_split_not_truncated(tmp_path):
    # The bundled course's SMS edition is short: a course of cards longer than one SMS.
    with Store.open(tmp_path / "long.db", migrate=True) as store:
        import_courses(store, long_card_course(tmp_path / "lessons"))
        carrier = dataclasses.replace(CONSOLE, max_segments=1)
        bodies = say(store, "START LONG", carrier=carrier)
    assert len(LONG_CARDS[0]) > 160 and len(bodies) > 1  # one card, more than one message
    assert all(count(body, carrier.encoding_policy).segments == 1 for body in bodies)
    assert " ".join(" ".join(bodies).split()).find(LONG_CARDS[0]) >= 0


def test_the_carrier_encoding_policy_shapes_the_text(store: Store):
    gsm7 = dataclasses.replace(CONSOLE, encoding_policy="gsm7", locale="fr")
    exact = dataclasses.replace(CONSOLE, encoding_policy="exact", locale="fr")
    folded = say(store, "START", phone="+221770000001", carrier=gsm7)
    as_written = say(store, "START", phone="+221770000002", carrier=exact)
    assert all(count(b, "exact").encoding == "GSM-7" for b in folded)
    assert "Leçon" in "".join(as_written) and "Lecon" in "".join(folded)
    assert sum(count(b, "exact").segments for b in folded) < sum(
        count(b, "exact").segments for b in as_written)


def test_stop_gets_one_confirmation_then_silence_until_start(store: Store):
    say(store, "START")
    assert say(store, "STOP") == ["You will get no more messages. Reply START to come back."]
    assert store.outbox()[-1].to_stopped_ok
    assert say(store, "NEXT") == []
    assert say(store, "hello?") == []
    assert "START" in say(store, "HELP")[0]
    assert say(store, "START")[0].startswith("Welcome back")


def test_an_engine_failure_apologises_and_keeps_the_message(store: Store):
    """A lesson missing from the database is a bug; the learner still hears back."""
    say(store, "START")
    store.db.execute("DELETE FROM lessons")
    replies = say(store, "NEXT")
    assert replies == ["Sorry, something went wrong on our side. Please try again later."]
    failed = list(store.db.query("SELECT text, status, error FROM inbound WHERE status='failed'"))
    assert failed[0]["text"] == "NEXT" and "LookupError" in failed[0]["error"]


def test_a_message_stored_but_never_processed_is_processed_once(store: Store):
    """A process that died after storing a message: the worker's recovery handles it."""
    inbound = store.record_inbound("console", "orphan-1", "+2348030000000", "START")
    assert handle_inbound(store, CONSOLE, inbound) > 0
    assert handle_inbound(store, CONSOLE, inbound) == 0
    receive_inbound(store, CONSOLE, "orphan-1", "+2348030000000", "START")
    assert len(store.outbox()) > 0
    assert [row["status"] for row in store.db.query("SELECT status FROM inbound")] == [
        "processed"]


def test_a_lesson_costs_what_the_learner_receives():
    from gateway.channels.sms.cost import lesson_messages
    from gateway.content import load_courses
    from gateway.paths import lessons_dir

    [course], _ = load_courses(lessons_dir())
    lessons = course.lessons["en"]
    first = lesson_messages(course, lessons[0], 1, "en")
    # One message per card of the SMS edition (web-only cards left out) and per question:
    # the last card brings the first question.
    sms_cards = [card for card in lessons[0].edition(SMS).cards if card.text]
    assert len(first) == len(sms_cards) + len(lessons[0].questions)
    assert first[0].startswith(f"Lesson 1/{len(lessons)}: {lessons[0].title}")
    assert first[-1].endswith(f"for the next lesson: {lessons[1].title}")
    last = lesson_messages(course, lessons[-1], len(lessons), "en")
    assert "next lesson" not in last[-1]


def test_a_message_writes_the_learner_once_with_every_change(store: Store):
    """The engine leaves the learner's row to the channel, which saves it once when it
    notes them seen: one write a message (two for a new number: it is created first),
    holding what the engine changed as well."""
    conn = store.db.conn
    # Row writes, counted by the database itself (a statement that matches no row is none).
    conn.execute("CREATE TEMP TABLE learner_writes (kind TEXT)")
    for kind in ("INSERT", "UPDATE"):
        conn.execute(f"CREATE TEMP TRIGGER count_{kind} AFTER {kind} ON main.learners "
                     f"BEGIN INSERT INTO learner_writes VALUES ('{kind}'); END")

    def writes() -> list[str]:
        return [kind for (kind,) in conn.execute("SELECT kind FROM learner_writes")]

    say(store, "START")
    assert writes() == ["INSERT", "UPDATE"]
    say(store, "LANG fr")
    assert writes() == ["INSERT", "UPDATE", "UPDATE"]
    say(store, "STOP")
    assert writes() == ["INSERT", "UPDATE", "UPDATE", "UPDATE"]
    learner = store.learner("+2348030000000")
    assert learner.current_course == "start-freelancing"
    assert learner.locale == "fr" and learner.stopped and learner.last_seen_at is not None


def test_a_new_number_costs_no_statement_that_changes_nothing(store: Store):
    """A first message from a new number inserts the learner straight away (no update
    that finds no row first), and the row it leaves is the one a known learner's
    save would: every column the engine and the channel set."""
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    try:
        say(store, "START")
    finally:
        store.db.conn.set_trace_callback(None)
    learner_writes = [sql.split("(")[0].split(" SET ")[0].strip() for sql in statements
                      if sql.lstrip().upper().startswith(("INSERT", "UPDATE"))
                      and " learners" in sql.split("(")[0]]
    assert learner_writes == ["INSERT INTO learners", "UPDATE learners"]
    learner = store.learner("+2348030000000")
    assert learner is not None and learner.created_at is not None
    assert (learner.locale, learner.carrier_id, learner.current_course, learner.stopped) == \
        ("en", "console", "start-freelancing", False)
    assert learner.last_seen_at is not None and learner.next_check_at is not None


def test_a_new_number_reads_no_place_review_or_result_it_cannot_have_yet(store: Store):
    """The learner a first message creates has no place in a course, no review question
    and no lesson result: none is looked up. The next message looks them up, and finds
    what the first one saved."""
    def tables_read(text: str) -> set[str]:
        statements: list[str] = []
        store.db.conn.set_trace_callback(statements.append)
        try:
            say(store, text)
        finally:
            store.db.conn.set_trace_callback(None)
        return {table for sql in statements if sql.lstrip().upper().startswith("SELECT")
                for table in ("enrollments", "reviews", "lesson_results")
                if f"FROM {table}" in sql}

    assert tables_read("START") == set()
    assert tables_read("NEXT") == {"enrollments", "reviews", "lesson_results"}
    assert "[2/" in store.outbox()[-1].body  # the place START saved, read back and moved on
