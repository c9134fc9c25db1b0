"""The SMS edition of a lesson: short forms authored beside the full text ('[sms] ...'),
cards left out of SMS ('[web only]'), parsed and checked, carried by imports and course
packs, read by SMS and USSD learners while the lite web shows the full text."""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from pathlib import Path

import pytest

from carrier_adapters import UssdRequest
from gateway import create_app
from gateway.channels.sms import handle_inbound
from gateway.channels.sms.cost import lesson_messages
from gateway.channels.ussd import handle_ussd
from gateway.config import Carrier
from gateway.content import load_courses
from gateway.content.importer import import_courses
from gateway.content.model import SMS, Lesson
from gateway.learning import Engine
from gateway.store import Store
from gateway.sync import packs
from tests.conftest import csrf
from tests.test_content import course_toml, problem_lines, write_course

# An English lesson with an SMS edition: card 1 and card 3 have short forms (card 3's on
# two lines), card 2 is left out of SMS; question 1, its right option and its
# explanation have short forms; question 2 has none.
EN_ONE = """\
# Count your costs

Full card one: count every cost before you set a price, materials, transport and
your own time.
[sms] Short one: count every cost.

Full card two: a long story of a tailor who forgot her transport and lost money.
[web only]

Full card three: add a margin on top of your costs, the margin pays you.
[sms] Short three:
add a margin.

## Quiz

? Full question one: what do you count before you set a price?
[sms] Short Q1: what to count?
+ Full option: every cost
[sms] All costs
- Full option: only materials
= Full why one: every cost is money out of your pocket.
[sms] Short why one.

? Full question two: what goes on top of your costs?
- Nothing at all
+ A margin for you
= Full why two: the margin pays you.
"""

FR_ONE = """\
# Comptez vos couts

Carte longue un : comptez chaque cout avant de fixer un prix.
[sms] Court un : comptez tout.

Carte longue deux : une longue histoire de couturiere.
[web only]

Carte longue trois : ajoutez une marge sur vos couts.
[sms] Court trois : une marge.

## Quiz

? Question longue un : que compter avant de fixer un prix ?
[sms] Court Q1 : que compter ?
+ Option longue : chaque cout
[sms] Tous les couts
- Option longue : le materiel
= Pourquoi long un : chaque cout sort de votre poche.
[sms] Pourquoi court un.

? Question longue deux : que mettre sur vos couts ?
- Rien du tout
+ Une marge pour vous
= Pourquoi long deux : la marge vous paie.
"""

PLAIN_TWO = """\
# Lesson two

Plain card A.

Plain card B.

Plain card C.

## Quiz

? Plain question?
+ Plain yes
- Plain no
= Plain why.

? Plain again?
- Plain no
+ Plain yes
= Plain why again.
"""

FULL_TEXTS = ("Full card", "Full question one", "Full option: every cost", "Full why one")
SHORT_TEXTS = ("Short one: count every cost.", "Short three: add a margin.",
               "Short Q1: what to count?", "All costs", "Short why one.")


def edition_course(root: Path) -> Path:
    """A course 'demo' (code DEMO) with an SMS edition in English and French."""
    write_course(root, toml=course_toml(lessons=("one", "two")),
                 files={"en/one.txt": EN_ONE, "en/two.txt": PLAIN_TWO,
                        "fr/one.txt": FR_ONE, "fr/two.txt": PLAIN_TWO})
    return root


@pytest.fixture
def course_root(tmp_path: Path) -> Path:
    return edition_course(tmp_path / "lessons")


@pytest.fixture
def demo_db(tmp_path: Path, course_root: Path) -> Path:
    path = tmp_path / "demo.db"
    with Store.open(path, migrate=True) as store:
        import_courses(store, course_root)
    return path


@pytest.fixture
def demo_store(demo_db: Path):
    with Store.open(demo_db) as store:
        yield store


# -- the format --------------------------------------------------------------------------------


def test_short_forms_are_read_beside_the_full_text(course_root):
    [course], problems = load_courses(course_root)
    assert [str(p) for p in problems] == []
    lesson = course.lessons["en"][0]
    assert [card.text for card in lesson.cards] == [
        "Full card one: count every cost before you set a price, materials, transport and "
        "your own time.",
        "Full card two: a long story of a tailor who forgot her transport and lost money.",
        "Full card three: add a margin on top of your costs, the margin pays you."]
    assert [card.sms for card in lesson.cards] == [
        "Short one: count every cost.", "", "Short three: add a margin."]
    first, second = lesson.questions
    assert first.text.startswith("Full question one")
    assert first.sms_text == "Short Q1: what to count?"
    assert first.options == ("Full option: every cost", "Full option: only materials")
    assert first.sms_options == ("All costs", None)
    assert first.sms_explanation == "Short why one."
    assert (second.sms_text, second.sms_options, second.sms_explanation) == (None, (), None)

    sms = lesson.edition("sms")
    assert [card.text for card in sms.cards] == [
        "Short one: count every cost.", "", "Short three: add a margin."]
    assert sms.questions[0].text == "Short Q1: what to count?"
    assert sms.questions[0].options == ("All costs", "Full option: only materials")
    assert sms.questions[0].explanation == "Short why one."
    assert sms.questions[1] == second
    assert lesson.edition("full") == lesson


def test_short_forms_survive_the_store_and_a_lesson_without_them_keeps_its_text(course_root):
    [course], _ = load_courses(course_root)
    with_forms, plain = course.lessons["en"]
    assert Lesson.from_json(with_forms.to_json()) == dataclasses.replace(with_forms, path="")
    # A lesson without short forms is stored exactly as before they existed: same JSON,
    # same content hash, so upgrading changes no lesson in any database.
    stored = json.loads(plain.to_json())
    assert set(stored) == {"cards", "id", "locale", "questions", "title"}
    assert all(set(card) == {"text"} for card in stored["cards"])
    assert all(set(q) == {"answer", "explanation", "options", "text"}
               for q in stored["questions"])


SMS_BROKEN = [
    pytest.param(EN_ONE.replace("# Count your costs\n", "# Count your costs\n[sms] Costs\n"), 2,
                 "a lesson's title has no SMS form: '[sms]' and '[web only]' go under a card "
                 "or a quiz line", id="sms-under-the-title"),
    pytest.param(EN_ONE.replace("your own time.\n[sms]", "your own time.\n\n[sms]"), 6,
                 "'[sms]' gives the SMS form of the card or quiz line just above it: put it "
                 "on the line right under it, with no blank line between", id="sms-after-blank"),
    pytest.param(EN_ONE.replace("[sms] Short one: count every cost.", "[sms]"), 5,
                 "the SMS form is empty; write '[web only]' to leave the card out of SMS",
                 id="empty-card-form"),
    pytest.param(EN_ONE.replace("[sms] Short one: count every cost.",
                                "[sms] Short one.\n[sms] Again."), 6,
                 "a card has one '[sms]' form", id="two-card-forms"),
    pytest.param(EN_ONE.replace("[web only]", "[web only]\n[sms] Short two."), 9,
                 "a card is either '[web only]' or has an '[sms]' form, not both",
                 id="web-only-and-sms"),
    pytest.param(EN_ONE.replace("[web only]", "[web only] but keep this"), 8,
                 "'[web only]' stands alone on its line: the card above it is left out of SMS "
                 "whole", id="text-beside-web-only"),
    pytest.param(EN_ONE.replace("[web only]", "[web only]\nmore text"), 9,
                 "'[web only]' ends its card: start the next card after a blank line",
                 id="text-after-web-only"),
    pytest.param(EN_ONE.replace("[sms] Short one: count every cost.", "[web only]")
                 .replace("[sms] Short three:\nadd a margin.", "[web only]"), 1,
                 "every card is '[web only]'; the SMS edition needs at least one card",
                 id="every-card-web-only"),
    pytest.param(EN_ONE.replace("[sms] Short Q1: what to count?", "[web only]"), 17,
                 "'[web only]' is for cards: SMS learners answer every question; give it a "
                 "shorter '[sms]' form instead", id="web-only-question"),
    pytest.param(EN_ONE.replace("[sms] Short Q1: what to count?",
                                "[sms] Short Q1.\n[sms] Again."), 18,
                 "a quiz line has one '[sms]' form, on the line right under it",
                 id="two-question-forms"),
    pytest.param(EN_ONE.replace("## Quiz\n\n", "## Quiz\n\n[sms] Lost.\n"), 16,
                 "'[sms]' gives the SMS form of the card or quiz line just above it: put it "
                 "on the line right under it, with no blank line between",
                 id="sms-before-any-question"),
    pytest.param(EN_ONE.replace("[sms] All costs", "[sms]"), 19, "the SMS form is empty",
                 id="empty-option-form"),
    pytest.param(EN_ONE.replace("[sms] All costs", "[sms] " + "o" * 41), 19,
                 "SMS form of the option is 41 characters; keep it to 40",
                 id="option-form-too-long"),
    pytest.param(EN_ONE.replace("[sms] Short why one.", "[sms] " + "e" * 161), 22,
                 "SMS form of the explanation is 161 characters; keep it to 160",
                 id="explanation-form-too-long"),
    pytest.param(EN_ONE.replace("[sms] All costs", "[sms] Full option: only materials"), 16,
                 "options A and B read the same in the SMS edition; learners could not tell "
                 "them apart", id="options-alike-in-sms"),
    pytest.param(EN_ONE.replace("[sms] Short Q1: what to count?", "[sms] " + "q" * 120), 16,
                 "the SMS form of the question and its options are 164 characters with "
                 "numbering; keep them to 160 (one USSD screen)", id="sms-screen-too-long"),
    pytest.param(EN_ONE.replace("[sms] Short one: count every cost.",
                                "[sms] " + "s" * 481), 5,
                 "SMS form of the card is 481 characters; keep it to 480",
                 id="card-form-too-long"),
]


@pytest.mark.parametrize(("text", "line", "message"), SMS_BROKEN)
def test_a_broken_sms_edition_is_reported_at_its_line(tmp_path, text, line, message):
    folder = write_course(tmp_path, toml=course_toml(locales=("en",)),
                          files={"en/one.txt": text})
    path = folder / "en" / "one.txt"
    assert f"{path}:{line}: {message}" in problem_lines(tmp_path)
    assert load_courses(tmp_path, strict=False)[0] == []


@pytest.mark.parametrize(("old", "new", "line", "meant"), [
    ("[web only]", "[web onyl]", 8, "[web only]"),
    ("[sms] Short one:", "[smss] Short one:", 5, "[sms]"),
    ("[sms] All costs", "[sm] All costs", 19, "[sms]"),
])
def test_a_misspelt_marker_is_a_warning_naming_the_marker_meant(tmp_path, old, new, line,
                                                               meant):
    folder = write_course(tmp_path, toml=course_toml(locales=("en",)),
                          files={"en/one.txt": EN_ONE.replace(old, new)})
    written = new.split("]")[0] + "]"
    assert (f"{folder / 'en' / 'one.txt'}:{line}: warning: '{written}' is no marker: did you "
            f"mean '{meant}'? As written, learners read it as text") \
        in problem_lines(tmp_path)


@pytest.mark.parametrize("bracket", ["[MMS] Send a picture.", "[SOS] Call for help.",
                                     "[SMS tip] Keep it short."])
def test_a_bracket_that_is_a_word_of_its_own_is_text(tmp_path, bracket):
    text = EN_ONE.replace("Full card two: a long story", f"{bracket} A long story")
    write_course(tmp_path, toml=course_toml(locales=("en",)), files={"en/one.txt": text})
    assert not [line for line in problem_lines(tmp_path) if "no marker" in line]
    [course], _ = load_courses(tmp_path, strict=False)
    assert course is not None


def test_a_short_form_no_shorter_than_the_card_is_a_warning(tmp_path):
    text = EN_ONE.replace("[sms] Short one: count every cost.",
                          "[sms] Full card one: count every cost before you set a price, "
                          "materials, transport and your own time, and more.")
    folder = write_course(tmp_path, toml=course_toml(locales=("en",)),
                          files={"en/one.txt": text})
    assert problem_lines(tmp_path) == [
        f"{folder / 'en' / 'one.txt'}:5: warning: the SMS form of the card is not shorter "
        "than the card (105 against 95 characters)"]


# -- translations: the SMS edition lines up too --------------------------------------------------


TRANSLATION_PROBLEMS = [
    pytest.param(FR_ONE.replace("\n[sms] Court un : comptez tout.", ""), 3,
                 "card 1 has no '[sms]' form, but card 1 of the 'en' lesson has one",
                 id="card-form-missing"),
    pytest.param(FR_ONE.replace("\n[web only]", ""), 6,
                 "card 2: the 'en' lesson leaves it out of SMS ('[web only]'); leave it out "
                 "here too", id="web-only-missing"),
    pytest.param(FR_ONE.replace("[sms] Court un : comptez tout.", "[web only]"), 3,
                 "card 1 is '[web only]' here, but not in the 'en' lesson", id="web-only-extra"),
    pytest.param(FR_ONE.replace("\n[sms] Court Q1 : que compter ?", ""), 14,
                 "question 1 has no '[sms]' form, but question 1 of the 'en' lesson has one",
                 id="question-form-missing"),
    pytest.param(FR_ONE.replace("\n[sms] Tous les couts", ""), 14,
                 "question 1, option A has no '[sms]' form, but the 'en' lesson's has one",
                 id="option-form-missing"),
    pytest.param(FR_ONE.replace("\n[sms] Pourquoi court un.", ""), 14,
                 "question 1: the explanation has no '[sms]' form, but the 'en' lesson's has "
                 "one", id="explanation-form-missing"),
]


@pytest.mark.parametrize(("french", "line", "message"), TRANSLATION_PROBLEMS)
def test_a_translation_has_the_short_forms_its_source_has(tmp_path, french, line, message):
    write_course(tmp_path, files={"en/one.txt": EN_ONE, "fr/one.txt": french})
    path = tmp_path / "demo" / "fr" / "one.txt"
    assert f"{path}:{line}: {message}" in problem_lines(tmp_path)
    assert load_courses(tmp_path, strict=False)[0] == []


def test_a_short_form_only_the_translation_has_is_a_warning(tmp_path):
    french = FR_ONE.replace("= Pourquoi long deux : la marge vous paie.",
                            "= Pourquoi long deux : la marge vous paie.\n[sms] La marge paie.")
    write_course(tmp_path, files={"en/one.txt": EN_ONE, "fr/one.txt": french})
    path = tmp_path / "demo" / "fr" / "one.txt"
    assert problem_lines(tmp_path) == [
        f"{path}:22: warning: question 2: the explanation has an '[sms]' form the 'en' "
        "lesson's lacks"]
    [course], _ = load_courses(tmp_path, strict=False)
    assert course.lessons["fr"][0].questions[1].sms_explanation == "La marge paie."


def test_lessons_check_names_a_translation_without_the_short_form(tmp_path):
    from tests.test_cli import run
    root = tmp_path / "lessons"
    write_course(root, files={"en/one.txt": EN_ONE,
                              "fr/one.txt": FR_ONE.replace("\n[sms] Court un : comptez tout.",
                                                           "")})
    result = run("lessons", "check", str(root), cwd=tmp_path)
    assert result.returncode == 1
    assert (f"{root / 'demo' / 'fr' / 'one.txt'}:3: card 1 has no '[sms]' form, but card 1 "
            "of the 'en' lesson has one") in result.stderr.splitlines()


# -- SMS learners get the short forms, web readers the full text ----------------------------------

CONSOLE = Carrier.of(id="console", adapter="console", country="NG", locale="en",
                     max_segments=10)
PHONE = "+2348030000001"
_ids = itertools.count()


def sms(store: Store, text: str, phone: str = PHONE) -> str:
    before = len(store.outbox())
    inbound = store.record_inbound("console", f"ed-{next(_ids)}", phone, text)
    handle_inbound(store, CONSOLE, inbound)
    return "\n".join(m.body for m in store.outbox()[before:])


def test_an_sms_learner_walks_the_sms_edition(demo_store):
    start = sms(demo_store, "START DEMO")
    assert "Lesson 1/2: Count your costs\nShort one: count every cost.\n[1/2] Reply NEXT" \
        in start
    # Card 2 is web only: the SMS edition skips it, and card 3, the last SMS card, brings
    # the first question.
    third = sms(demo_store, "NEXT")
    assert third == ("Short three: add a margin.\n[2/2]\nQ1/2: Short Q1: what to count?\n"
                     "A) All costs\nB) Full option: only materials\nReply A-B")
    status = sms(demo_store, "STATUS")
    assert "Short Q1: what to count?" in status
    feedback = sms(demo_store, "A")
    assert feedback.startswith("Right! Short why one.\nQ2/2: Full question two")
    wrong = sms(demo_store, "A")
    assert wrong.startswith("Not quite: it's B) A margin for you. Full why two")
    everything = "\n".join(m.body for m in demo_store.outbox(PHONE))
    for full in FULL_TEXTS:
        assert full not in everything
    assert "tailor" not in everything


def test_a_card_made_web_only_under_a_learner_leads_on_to_the_next_sms_card(tmp_path):
    root = tmp_path / "lessons"
    plain = "\n".join(line for line in EN_ONE.splitlines()
                      if not line.startswith(("[sms]", "[web only]", "add a margin."))) + "\n"
    write_course(root, toml=course_toml(lessons=("one",), locales=("en",)),
                 files={"en/one.txt": plain})
    with Store.open(tmp_path / "db.sqlite", migrate=True) as store:
        import_courses(store, root)
        sms(store, "START DEMO")
        assert sms(store, "NEXT").startswith("Full card two: a long story")  # card 2 of 3

        (root / "demo" / "en" / "one.txt").write_text(EN_ONE, encoding="utf-8")
        import_courses(store, root)  # card 2, where the learner is, is now web only
        resumed = sms(store, "START DEMO")
        # Card 3 is now the last SMS card: it comes with the first question.
        assert resumed.endswith("Short three: add a margin.\n[2/2]\n"
                                "Q1/2: Short Q1: what to count?\nA) All costs\n"
                                "B) Full option: only materials\nReply A-B")
        assert sms(store, "A").startswith("Right! Short why one.\nQ2/2: Full question two")


def test_a_web_only_last_card_leaves_the_quiz_to_the_last_sms_card(tmp_path):
    root = tmp_path / "lessons"
    last_web_only = EN_ONE.replace("[web only]\n", "[sms] Short two.\n").replace(
        "[sms] Short three:\nadd a margin.", "[web only]")
    write_course(root, toml=course_toml(lessons=("one",), locales=("en",)),
                 files={"en/one.txt": last_web_only})
    with Store.open(tmp_path / "db.sqlite", migrate=True) as store:
        import_courses(store, root)
        assert sms(store, "START DEMO").endswith("Short one: count every cost.\n"
                                                 "[1/2] Reply NEXT")
        assert sms(store, "NEXT") == ("Short two.\n[2/2]\nQ1/2: Short Q1: what to count?\n"
                                      "A) All costs\nB) Full option: only materials\n"
                                      "Reply A-B")
        assert sms(store, "A").startswith("Right! Short why one.\nQ2/2: Full question two")
        everything = "\n".join(m.body for m in store.outbox(PHONE))
        assert "Full card three" not in everything


def test_a_question_back_for_review_by_sms_reads_its_short_forms(demo_store):
    sms(demo_store, "START DEMO")
    for _ in range(2):
        sms(demo_store, "NEXT")
    sms(demo_store, "B")  # question 1 wrong: it comes back for review days later
    engine = Engine(demo_store, edition=SMS)
    with demo_store.write():
        learner = demo_store.learner(PHONE)
        asked = engine.review_question(learner, {"course_id": "demo", "lesson_id": "one",
                                                 "question": 0})
    assert (asked.text, asked.options) == ("Short Q1: what to count?",
                                           ("All costs", "Full option: only materials"))
    with demo_store.write():
        learner = demo_store.learner(PHONE)
        full = Engine(demo_store).review_question(learner, {"course_id": "demo",
                                                            "lesson_id": "one", "question": 0})
    assert full.text.startswith("Full question one")


def test_a_french_sms_learner_gets_the_french_short_forms(demo_store):
    sms(demo_store, "LANG fr")
    assert "Court un : comptez tout." in sms(demo_store, "START DEMO")
    assert sms(demo_store, "NEXT").startswith("Court trois : une marge.")


def test_a_lesson_costs_its_sms_edition(course_root):
    [course], _ = load_courses(course_root)
    lesson = course.lessons["en"][0]
    messages = lesson_messages(course, lesson, 1, "en")
    # Two SMS cards, the last with question 1 (one message: packed, it costs no more),
    # question 2 with question 1's feedback, the result with question 2's.
    assert len(messages) == 4
    assert messages[1].startswith("Short three: add a margin.\n[2/2]\nQ1/2: Short Q1")
    assert messages[2].startswith("Right! Short why one.\nQ2/2: Full question two")
    assert messages[0].startswith("Lesson 1/2: Count your costs\nShort one")
    assert not any("Full card" in text or "Full why one" in text for text in messages)


@pytest.fixture
def web(demo_db: Path, carriers_file: Path):
    app = create_app({"DATABASE": str(demo_db), "CARRIERS_FILE": str(carriers_file),
                      "SECRET_KEY": "test-secret-key-0123456789"})
    return app.test_client()


def test_the_lite_web_shows_the_full_text_and_every_card(web):
    page = web.get("/courses/demo/one")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Full card one: count every cost" in html
    assert "Full card two: a long story of a tailor" in html  # web only: here it is
    assert "Full card three" in html
    assert "Short one" not in html and "Short three" not in html
    quiz = web.get("/courses/demo/one/quiz").get_data(as_text=True)
    assert "Full question one" in quiz and "Full option: every cost" in quiz
    assert "Short Q1" not in quiz and "All costs" not in quiz
    results = web.post("/courses/demo/one/quiz",
                       data={"csrf": csrf(web, "/courses/demo/one/quiz"), "q0": "0", "q1": "1"})
    html = results.get_data(as_text=True) if results.status_code == 200 else \
        web.get(results.location).get_data(as_text=True)
    assert "Full why one" in html and "Short why one" not in html


# -- USSD reads the SMS edition ------------------------------------------------------------------

USSD_CARRIER = Carrier.of(id="at", adapter="africastalking", country="KE", locale="en")


def test_a_ussd_learner_reads_the_sms_edition(demo_store):
    session = "ed-ussd"
    now = time.time()

    def press(text: str, *, new: bool = False) -> str:
        request = UssdRequest(session, "+254712345670", "*384*12#", text, is_new=new,
                              cumulative=False, ended=False)
        return handle_ussd(demo_store, USSD_CARRIER, request, "+254712345670", now=now).text

    menu = press("", new=True)
    assert "1. Start: Demo en" in menu
    first = press("1")
    assert first.startswith("Lesson 1/2, card 1/2\nCount your costs\nShort one: count every "
                            "cost.")
    second = press("1")
    assert second.startswith("Lesson 1/2, card 2/2\nShort three: add a margin.")
    assert press("0").startswith("Lesson 1/2, card 1/2\nCount your costs\nShort one")
    assert press("1").startswith("Lesson 1/2, card 2/2\nShort three")
    question = press("1")
    assert question.startswith("Q1/2: Short Q1: what to count?\n1. All costs\n"
                               "2. Full option: only materials")
    assert press("1").startswith("Right! Short why one.")


# -- course packs carry the SMS edition ----------------------------------------------------------


def test_a_pack_carries_the_sms_edition_to_an_edge(tmp_path, course_root):
    key = packs.generate_key()
    data = packs.build_pack(course_root, key, version=7)
    # Older gateways read packs of format 1 only, and would take '[sms]' lines for card
    # text: a pack with short forms is format 2, which they refuse whole.
    assert data.startswith(b"LEARNLINE-PACK 2\n")
    assert json.loads(data.split(b"\n")[1])["format"] == 2
    pack = packs.verify_pack(data, [packs.public_key_bytes(key)])
    [course] = pack.document()["courses"]
    assert pack.document()["format"] == 2
    rendered = [m["text"] for m in course["sms"]["en"]["one"]]
    assert rendered[0].startswith("Lesson 1/2: Count your costs\nShort one")

    edge = tmp_path / "edge.db"
    with Store.open(edge, migrate=True) as store:
        report = packs.install_pack(store, data, [packs.public_key_bytes(key)])
        assert report.installed
        lesson = store.lesson("demo", "one", "fr")
        assert [card.sms for card in lesson.cards] == [
            "Court un : comptez tout.", "", "Court trois : une marge."]
        assert "Short one: count every cost." in sms(store, "START DEMO")


def test_a_pack_without_short_forms_stays_format_1(tmp_path):
    root = tmp_path / "plain"
    write_course(root, toml=course_toml(lessons=("two",)),
                 files={"en/two.txt": PLAIN_TWO, "fr/two.txt": PLAIN_TWO})
    data = packs.build_pack(root, packs.generate_key(), version=3)
    assert data.startswith(b"LEARNLINE-PACK 1\n")
    assert json.loads(data.split(b"\n")[1])["format"] == 1


# -- the worked example in docs/authoring.md -----------------------------------------------------


def test_the_guides_worked_example_is_the_bundled_lesson_at_a_fraction_of_its_cost(tmp_path):
    from gateway.channels.sms.cost import lesson_segments
    from gateway.paths import lessons_dir

    guide = (Path(__file__).resolve().parent.parent / "docs" / "authoring.md").read_text(
        encoding="utf-8")
    section = guide[guide.index("## 4b. The SMS edition"):]
    example = section[section.index("```text\n") + 8:section.index("```\n", 20)]
    bundled_course = lessons_dir() / "start-freelancing"
    # The example is the bundled English lesson, word for word.
    assert example == (bundled_course / "en" / "agree-the-job.txt").read_text(encoding="utf-8")
    # The same lesson without its SMS edition: what SMS learners got before it had one.
    root = tmp_path / "lessons"
    (root / "start-freelancing" / "en").mkdir(parents=True)
    (root / "start-freelancing" / "course.toml").write_text(
        (bundled_course / "course.toml").read_text(encoding="utf-8"), encoding="utf-8")
    for path in (bundled_course / "en").glob("*.txt"):
        text = path.read_text(encoding="utf-8")
        (root / "start-freelancing" / "en" / path.name).write_text(
            "".join(line for line in text.splitlines(keepends=True)
                    if not line.startswith(("[sms]", "[web only]"))), encoding="utf-8")

    [full_only], problems = load_courses(root)
    # The copy holds English alone: the course's Arabic budget has no lessons to apply to.
    assert [str(p) for p in problems if "sms_budget_per_locale" not in str(p)] == []
    [bundled], _ = load_courses(lessons_dir())
    number = bundled.lesson_ids.index("agree-the-job") + 1
    lesson = bundled.lessons["en"][number - 1]
    original = full_only.lessons["en"][number - 1]
    assert not original.has_sms_edition
    # The full text is the same, word for word: only the SMS edition is added.
    assert lesson.title == original.title
    assert [card.text for card in lesson.cards] == [card.text for card in original.cards]
    assert [(q.text, q.options, q.answer, q.explanation) for q in lesson.questions] == [
        (q.text, q.options, q.answer, q.explanation) for q in original.questions]
    assert sum(card.web_only for card in lesson.cards) == 2
    # Priced as a carrier on the default policy, auto, sends it (a later lesson: terse
    # navigation; the last SMS card with the first question).
    full = lesson_segments(full_only, original, number, "en", "auto")
    short = lesson_segments(bundled, lesson, number, "en", "auto")
    assert short <= 8 < full
    stated = f"Without its `[sms]` and `[web only]` lines it costs {full} SMS segments to a " \
             f"learner who answers right (the default policy, `auto`); its SMS edition " \
             f"costs {short}:"
    assert stated in " ".join(section.split())  # whatever the guide's line breaks


def test_an_edge_syncing_with_its_hub_teaches_the_sms_edition(tmp_path, course_root,
                                                              monkeypatch):
    from gateway.hub import routes as hub_routes
    from gateway.sync.client import EdgeLink, sync_once
    from tests.hub.test_sync_protocol import Hub

    monkeypatch.setenv("LEARNLINE_EDGE_ID", "edge-a")
    hub = Hub(tmp_path, str(tmp_path / "hub.db"))
    try:
        data = packs.build_pack(course_root, hub.key, version=11)
        with hub.store() as store:
            store.put_pack(data, 11, packs.read_pack(data).digest)
            token = store.add_edge("edge-a")
        with Store.open(tmp_path / "edge.db", migrate=True) as edge:
            report = sync_once(edge, EdgeLink(hub.url, "edge-a", token),
                               trusted_keys=[hub.public])
            assert report.pack.startswith("installed version 11")
            assert edge.lesson("demo", "one", "en").cards[1].web_only
            assert "Short one: count every cost." in sms(edge, "START DEMO")
            assert sms(edge, "NEXT").startswith("Short three: add a margin.")
    finally:
        hub.server.shutdown()
        hub.server.server_close()
        hub_routes.close_pool(hub.app)


# The budget a lesson of the bundled course is written to: SMS segments for a learner who
# answers every question right. French and Portuguese are measured under `gsm7`, the text
# a carrier sends when it folds the letters GSM-7 lacks (ê, ç, õ); Arabic is UCS-2 under
# every policy, so its budget is twice the others'.
BUNDLED_BUDGET = {"en": ("smart", 8), "sw": ("smart", 8), "fr": ("gsm7", 8),
                  "pt": ("gsm7", 8), "ar": ("smart", 16)}


def test_every_bundled_lesson_reaches_sms_learners_within_its_budget():
    from gateway.channels.sms.cost import lesson_segments
    from gateway.paths import lessons_dir

    [course], problems = load_courses(lessons_dir())
    assert [str(p) for p in problems] == []
    costs = {(locale, lesson.id): lesson_segments(course, lesson, number, locale, policy)
             for locale, (policy, _) in BUNDLED_BUDGET.items()
             for number, lesson in enumerate(course.lessons[locale], start=1)}
    assert len(costs) == 5 * len(course.lesson_ids)
    over = {key: cost for key, cost in costs.items() if cost > BUNDLED_BUDGET[key[0]][1]}
    assert over == {}
    for locale in BUNDLED_BUDGET:
        for lesson in course.lessons[locale]:
            # The SMS edition teaches: it keeps cards, and every question is asked by SMS.
            edition = lesson.edition(SMS)
            assert lesson.has_sms_edition, (locale, lesson.id)
            assert any(card.text for card in edition.cards), (locale, lesson.id)
            assert len(edition.questions) == len(lesson.questions)
            # The full text stays whole for the web: every card, every question.
            assert all(card.text for card in lesson.cards)


def test_lessons_check_numbers_cards_as_an_sms_learner_sees_them():
    """The costliest advice names a card by its number in the SMS edition ([3/3]), not in
    the file, where web-only cards come between."""
    import re

    from gateway.channels.sms.cost import CostWalker
    from gateway.config import DEFAULT_CONSOLE
    from gateway.paths import lessons_dir

    [course], _ = load_courses(lessons_dir())
    with CostWalker(course) as walker:
        costs = walker.lesson_cost(DEFAULT_CONSOLE, "en")
    named = [(cost.lesson_id, item) for cost in costs for item in cost.costliest
             if item.kind == "card"]
    assert named  # the bundled course has cards costly enough to name
    for lesson_id, item in named:
        lesson = next(x for x in course.lessons["en"] if x.id == lesson_id)
        sms_cards = [card for card in lesson.cards if not card.web_only]
        assert 1 <= item.number <= len(sms_cards) < len(lesson.cards), (lesson_id, item)
    first = next(item for lesson_id, item in named if lesson_id == "find-your-skill")
    assert re.fullmatch(r"card 3", first.name)  # the last of three SMS cards, [3/3]
