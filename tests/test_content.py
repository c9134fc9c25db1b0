"""Course content: the bundled course, the lesson format's rules, and importing.

Broken lessons are written into course folders under tmp_path and parsed for
real; every problem is checked as the exact `path:line: message` an author sees.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.content import ContentError, load_courses
from gateway.content.importer import import_courses
from gateway.content.parser import (
    MAX_CARD,
    MAX_CARDS,
    MAX_EXPLANATION,
    MAX_OPTION,
    MAX_OPTIONS,
    MAX_QUESTION_SCREEN,
    MAX_QUESTIONS,
    MAX_SMS_BUDGET,
    MAX_TITLE,
    MIN_CARDS,
    MIN_OPTIONS,
    MIN_QUESTIONS,
)
from gateway.learning import Engine, Next, Start, Status
from gateway.learning import replies as r
from gateway.paths import lessons_dir
from gateway.store import Store

# -- building course folders ---------------------------------------------------------------

# A valid lesson: the title on line 1, three cards on lines 3, 5 and 7, '## Quiz' on
# line 9, so the first quiz line is line 11.
HEAD = "# A lesson\n\nCard one.\n\nCard two.\n\nCard three.\n\n## Quiz\n\n"
QUESTION = "? Which is right?\n+ This one\n- That one\n= Because it is.\n"
VALID = HEAD + QUESTION + "\n" + QUESTION


def course_toml(code: str = "DEMO", lessons: tuple[str, ...] = ("one",),
                locales: tuple[str, ...] = ("en", "fr")) -> str:
    """A valid course.toml for a course teaching `lessons`."""
    listed = ", ".join(f'"{lesson}"' for lesson in lessons)
    titles = "\n".join(f'{loc} = "Demo {loc}"' for loc in locales)
    return (f'code = "{code}"\ndefault_locale = "en"\npass_mark = 70\n'
            f"lessons = [{listed}]\n\n[title]\n{titles}\n")


def write_course(root: Path, name: str = "demo", *, toml: str | None = None,
                 files: dict[str, str | bytes] | None = None) -> Path:
    """A course folder under `root`; `files` maps 'en/one.txt' to its text or bytes."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "course.toml").write_text(course_toml() if toml is None else toml,
                                        encoding="utf-8")
    for relative, content in (files or {"en/one.txt": VALID}).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


def problem_lines(root: Path) -> list[str]:
    """Every problem found under `root`, as printed."""
    _, problems = load_courses(root, strict=False)
    return [str(p) for p in problems]


def lesson_with_cards(count: int) -> str:
    cards = "\n\n".join(f"Card {n}." for n in range(1, count + 1))
    return f"# A lesson\n\n{cards}\n\n## Quiz\n\n{QUESTION}\n{QUESTION}"


def question(options: str, text: str = "Which is right?", explanation: str = "Why.") -> str:
    return f"? {text}\n{options}= {explanation}\n"


# -- the bundled course --------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled():
    courses, problems = load_courses(lessons_dir(), strict=True)
    return courses, problems


def test_bundled_course_parses_without_problems(bundled):
    courses, problems = bundled
    assert [str(p) for p in problems] == []
    assert [c.code for c in courses] == ["FREELANCE"]
    course = courses[0]
    assert course.default_locale == "en"
    assert set(course.locales) == {"en", "ar", "fr", "pt", "sw"}
    assert len(course.lesson_ids) >= 5


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_bundled_lessons_keep_the_limits(bundled, locale):
    course = bundled[0][0]
    lessons = course.lessons[locale]
    assert [lesson.id for lesson in lessons] == list(course.lesson_ids)
    for lesson in lessons:
        assert lesson.locale == locale
        assert 0 < len(lesson.title) <= MAX_TITLE
        assert MIN_CARDS <= len(lesson.cards) <= MAX_CARDS, lesson.id
        assert MIN_QUESTIONS <= len(lesson.questions) <= MAX_QUESTIONS, lesson.id
        for card in lesson.cards:
            assert 0 < len(card.text) <= MAX_CARD
        for q in lesson.questions:
            assert MIN_OPTIONS <= len(q.options) <= MAX_OPTIONS, (lesson.id, q.text)
            assert 0 <= q.answer < len(q.options)
            assert all(0 < len(option) <= MAX_OPTION for option in q.options)
            assert 0 < len(q.explanation) <= MAX_EXPLANATION


def test_bundled_translations_line_up(bundled):
    course = bundled[0][0]
    english = {lesson.id: lesson for lesson in course.lessons["en"]}
    french = {lesson.id: lesson for lesson in course.lessons["fr"]}
    assert english.keys() == french.keys()
    for lesson_id, en in english.items():
        fr = french[lesson_id]
        assert len(fr.cards) == len(en.cards), lesson_id
        assert [(len(q.options), q.answer) for q in fr.questions] == \
            [(len(q.options), q.answer) for q in en.questions], lesson_id
        # Translated, not copied.
        assert fr.title != en.title
        assert fr.cards[0].text != en.cards[0].text


# -- broken lessons: the exact path:line: message ---------------------------------------------

LONG_CARD = "x" * 300 + "\n" + "y" * (MAX_CARD - 300)  # joined with a space: MAX_CARD + 1

BROKEN_LESSONS = [
    pytest.param("Just words, no title\n\n" + HEAD[len("# A lesson\n\n"):] + QUESTION + "\n"
                 + QUESTION, 1, "a lesson starts with its title: a line '# Title'",
                 id="missing-title"),
    pytest.param("# " + "T" * (MAX_TITLE + 1) + "\n\nOne.\n\nTwo.\n\nThree.\n\n## Quiz\n\n"
                 + QUESTION + QUESTION.replace("?", "? Again"), 1,
                 f"title is {MAX_TITLE + 1} characters; keep it to {MAX_TITLE}",
                 id="title-too-long"),
    pytest.param(lesson_with_cards(2), 1,
                 "2 cards; a lesson has 3 to 6 (a blank line separates cards)",
                 id="too-few-cards"),
    pytest.param(lesson_with_cards(7), 1,
                 "7 cards; a lesson has 3 to 6 (a blank line separates cards)",
                 id="too-many-cards"),
    pytest.param("// Written by Awa\n// reviewed by Chidi\n" + lesson_with_cards(2), 3,
                 "2 cards; a lesson has 3 to 6 (a blank line separates cards)",
                 id="comments-before-title-keep-line-numbers"),
    pytest.param("# A lesson\n\nOne.\n\nTwo.\n\nThree.\n", 7, "no '## Quiz' section",
                 id="no-quiz"),
    pytest.param(HEAD + QUESTION, 1, "1 question; a quiz has 2 to 4", id="one-question"),
    pytest.param(HEAD + "\n".join([QUESTION] * 5), 1, "5 questions; a quiz has 2 to 4",
                 id="five-questions"),
    pytest.param(HEAD + question("- A\n- B\n") + "\n" + QUESTION, 11,
                 "0 right answers; mark exactly one option with '+'", id="no-right-answer"),
    pytest.param(HEAD + QUESTION + "\n" + question("+ A\n+ B\n- C\n"), 16,
                 "2 right answers; mark exactly one option with '+'", id="two-right-answers"),
    pytest.param(HEAD + question("+ A\n") + "\n" + QUESTION, 11,
                 "1 option; a question has 2 to 4 (lines starting '+' or '-')",
                 id="one-option"),
    pytest.param(HEAD + question("+ A\n- B\n- C\n- D\n- E\n") + "\n" + QUESTION, 11,
                 "5 options; a question has 2 to 4 (lines starting '+' or '-')",
                 id="five-options"),
    pytest.param(HEAD + "? Which is right?\n+ A\n- B\n\n" + QUESTION, 11,
                 "no explanation; add a line '= why the answer is right'",
                 id="missing-explanation"),
    pytest.param(HEAD + "? Which is right?\n+ A\n= Why.\n- B\n\n" + QUESTION, 14,
                 "options must come before the '=' explanation", id="option-after-explanation"),
    pytest.param(HEAD + "? Which is right?\n+ A\n- B\n= Why.\n= Why again.\n\n" + QUESTION, 15,
                 "a question has one '=' explanation line", id="two-explanations"),
    pytest.param(HEAD + "? Which is right?\n+ A\n- B\nBy the way, think.\n= Why.\n\n"
                 + QUESTION, 14, "in the quiz, lines start with '?', '+', '-' or '='",
                 id="stray-line-in-quiz"),
    pytest.param(HEAD + "Answer these:\n\n" + QUESTION + "\n" + QUESTION, 11,
                 "in the quiz, start each question with '? '", id="text-before-first-question"),
    pytest.param(HEAD + "?\n+ A\n- B\n= Why.\n\n" + QUESTION, 11, "question text is empty",
                 id="empty-question"),
    pytest.param(HEAD + "? Which?\n+\n- B\n= Why.\n\n" + QUESTION, 12, "option text is empty",
                 id="empty-option"),
    pytest.param(HEAD + "? Which?\n+ A\n- B\n=\n\n" + QUESTION, 14, "explanation is empty",
                 id="empty-explanation"),
    pytest.param("# A lesson\n\nOne.\n\n" + LONG_CARD + "\n\nThree.\n\n## Quiz\n\n" + QUESTION
                 + "\n" + QUESTION, 5,
                 f"card is {MAX_CARD + 1} characters; keep it to {MAX_CARD} "
                 "(split it into two cards)", id="card-too-long"),
    pytest.param(HEAD + question("+ " + "o" * (MAX_OPTION + 1) + "\n- B\n") + "\n" + QUESTION,
                 12, f"option is {MAX_OPTION + 1} characters; keep it to {MAX_OPTION}",
                 id="option-too-long"),
    pytest.param(HEAD + question("+ A\n- B\n", explanation="e" * (MAX_EXPLANATION + 1))
                 + "\n" + QUESTION, 14,
                 f"explanation is {MAX_EXPLANATION + 1} characters; keep it to "
                 f"{MAX_EXPLANATION}", id="explanation-too-long"),
    pytest.param(HEAD + question("+ " + "a" * 30 + "\n- " + "b" * 30 + "\n", text="q" * 100)
                 + "\n" + QUESTION, 11,
                 "question and options are 168 characters with numbering; keep them to 160 "
                 "(one USSD screen)", id="question-screen-too-long"),
    pytest.param("# A lesson\n\nOne.\n\n### Tip\n\nTwo.\n\nThree.\n\n## Quiz\n\n" + QUESTION
                 + "\n" + QUESTION, 5,
                 "unexpected heading; only '# Title' and '## Quiz' are headings",
                 id="unexpected-heading"),
    pytest.param(HEAD + QUESTION + "\n## Quiz\n\n" + QUESTION, 16, "a second '## Quiz' heading",
                 id="second-quiz-heading"),
    pytest.param("", 1, "the file is empty; a lesson starts with a line '# Title'",
                 id="empty-file"),
    pytest.param("// only a comment\n\n", 1,
                 "the file is empty; a lesson starts with a line '# Title'",
                 id="only-comments"),
]


@pytest.mark.parametrize(("text", "line", "message"), BROKEN_LESSONS)
def test_broken_lesson_reports_path_line_message(tmp_path, text, line, message):
    folder = write_course(tmp_path, files={"en/one.txt": text})
    path = folder / "en" / "one.txt"

    courses, problems = load_courses(tmp_path, strict=False)

    assert f"{path}:{line}: {message}" in [str(p) for p in problems]
    assert courses == []  # an error keeps the course out
    with pytest.raises(ContentError) as raised:
        load_courses(tmp_path, strict=True)
    assert f"{path}:{line}: {message}" in str(raised.value).splitlines()


def test_invalid_utf8_reports_the_line_of_the_bad_byte(tmp_path):
    text = VALID.replace("Card two.", "Caf\xe9 two.").encode("latin-1")  # é as one byte, line 5
    folder = write_course(tmp_path, files={"en/one.txt": text})

    assert problem_lines(tmp_path) == [
        f"{folder / 'en' / 'one.txt'}:5: not UTF-8 text; save the file as UTF-8"
    ]


def test_a_folder_named_like_a_lesson_is_a_problem_not_a_crash(tmp_path):
    folder = write_course(tmp_path)
    (folder / "en" / "one.txt").unlink()
    (folder / "en" / "one.txt").mkdir()  # an editor's or an unzip's mistake
    assert f"{folder / 'en' / 'one.txt'}:1: cannot read the lesson file: Is a directory" \
        in problem_lines(tmp_path)


def test_invalid_utf8_in_course_toml_reports_its_line(tmp_path):
    toml = course_toml().replace("\n", "\n# caf\xe9\n", 1).encode("latin-1")  # é, line 2
    folder = write_course(tmp_path)
    (folder / "course.toml").write_bytes(toml)
    assert problem_lines(tmp_path) == [
        f"{folder / 'course.toml'}:2: not UTF-8 text; save the file as UTF-8"]


def test_invalid_utf8_line_counts_old_mac_line_endings(tmp_path):
    text = VALID.replace("Card two.", "Caf\xe9 two.").replace("\n", "\r").encode("latin-1")
    folder = write_course(tmp_path, files={"en/one.txt": text})

    assert problem_lines(tmp_path) == [
        f"{folder / 'en' / 'one.txt'}:5: not UTF-8 text; save the file as UTF-8"
    ]


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x0c", "\x85"])
def test_unusual_line_separators_do_not_shift_line_numbers(tmp_path, separator):
    # Pasted text can carry U+2028 and friends; editors do not count them as new lines.
    text = HEAD.replace("Card one.", f"Card{separator}one.") + question("+ A\n") + "\n" + QUESTION
    folder = write_course(tmp_path, files={"en/one.txt": text})

    assert problem_lines(tmp_path) == [
        f"{folder / 'en' / 'one.txt'}:11: 1 option; a question has 2 to 4 "
        "(lines starting '+' or '-')"
    ]


def test_unusual_line_separator_inside_a_card_reads_as_a_space(tmp_path):
    write_course(tmp_path, files={"en/one.txt": VALID.replace("Card one.", "Card\u2028one.")})

    courses, _ = load_courses(tmp_path, strict=True)

    assert courses[0].lessons["en"][0].cards[0].text == "Card one."


def test_limits_are_inclusive(tmp_path):
    text = (
        "# " + "T" * MAX_TITLE + "\n\nOne.\n\n" + "c" * MAX_CARD + "\n\nThree.\n\n## Quiz\n\n"
        + question("+ " + "o" * MAX_OPTION + "\n- B\n", text="Q?",
                   explanation="e" * MAX_EXPLANATION)
        + "\n" + QUESTION
    )
    write_course(tmp_path, files={"en/one.txt": text})

    courses, problems = load_courses(tmp_path, strict=True)

    assert problems == []
    lesson = courses[0].lessons["en"][0]
    assert len(lesson.title) == MAX_TITLE
    assert len(lesson.cards[1].text) == MAX_CARD
    assert lesson.questions[0].options[0] == "o" * MAX_OPTION


def test_byte_order_mark_and_windows_line_endings_are_tolerated(tmp_path):
    data = ("\ufeff" + VALID).replace("\n", "\r\n").encode("utf-8")
    write_course(tmp_path, files={"en/one.txt": data})

    courses, problems = load_courses(tmp_path, strict=True)

    assert problems == []
    lesson = courses[0].lessons["en"][0]
    assert lesson.title == "A lesson"
    assert [c.text for c in lesson.cards] == ["Card one.", "Card two.", "Card three."]


def test_comments_are_ignored_everywhere(tmp_path):
    text = (
        "// Lesson by Awa, checked by Chidi\n"
        "# A lesson\n"
        "// a note on the title\n"
        "\n"
        "Card one starts here\n"
        "// this note is inside the card\n"
        "and goes on here.\n"
        "\n"
        "// a note between cards\n"
        "Card two.\n"
        "\n"
        "Card three.\n"
        "\n"
        "## Quiz\n"
        "// the quiz checks card two\n"
        "? Which is right?\n"
        "// the first option is the right one\n"
        "+ This one\n"
        "- That one\n"
        "= Because it is.\n"
        "\n" + QUESTION
    )
    write_course(tmp_path, files={"en/one.txt": text})

    courses, problems = load_courses(tmp_path, strict=True)

    assert problems == []
    lesson = courses[0].lessons["en"][0]
    assert [c.text for c in lesson.cards] == [
        "Card one starts here and goes on here.", "Card two.", "Card three."
    ]
    assert lesson.questions[0].options == ("This one", "That one")
    assert lesson.questions[0].answer == 0


def test_lines_are_joined_into_one_card_and_answers_found(tmp_path):
    text = (HEAD + question("- Red\n- Green\n+ Blue\n- Black\n", explanation="Sky.") + "\n"
            + QUESTION)
    write_course(tmp_path, files={"en/one.txt": text})

    courses, _ = load_courses(tmp_path, strict=True)

    q = courses[0].lessons["en"][0].questions[0]
    assert (q.options, q.answer, q.explanation) == (("Red", "Green", "Blue", "Black"), 2, "Sky.")


# -- course folders ----------------------------------------------------------------------------


def test_lesson_not_listed_in_course_toml(tmp_path):
    folder = write_course(tmp_path, files={"en/one.txt": VALID, "en/extra.txt": VALID})

    assert problem_lines(tmp_path) == [
        f"{folder / 'en' / 'extra.txt'}:1: lesson 'extra' is not listed in course.toml lessons"
    ]


def test_listed_lesson_missing_in_default_locale_is_an_error(tmp_path):
    folder = write_course(tmp_path, toml=course_toml(lessons=("one", "two")),
                          files={"en/one.txt": VALID, "fr/one.txt": VALID, "fr/two.txt": VALID})

    courses, problems = load_courses(tmp_path, strict=False)

    assert [str(p) for p in problems] == [
        f"{folder / 'en' / 'two.txt'}:1: lesson 'two' has no 'en' text"
    ]
    assert not problems[0].warning
    assert courses == []
    with pytest.raises(ContentError):
        load_courses(tmp_path, strict=True)


def test_listed_lesson_missing_in_another_locale_is_only_a_warning(tmp_path):
    folder = write_course(tmp_path, toml=course_toml(lessons=("one", "two")),
                          files={"en/one.txt": VALID, "en/two.txt": VALID, "fr/one.txt": VALID})

    courses, problems = load_courses(tmp_path, strict=True)  # does not raise

    assert [str(p) for p in problems] == [
        f"{folder / 'fr' / 'two.txt'}:1: warning: lesson 'two' has no 'fr' text; "
        "learners get it in 'en'"
    ]
    assert problems[0].warning
    course = courses[0]
    assert [lesson.id for lesson in course.lessons["en"]] == ["one", "two"]
    assert [lesson.id for lesson in course.lessons["fr"]] == ["one"]


@pytest.mark.parametrize(
    ("french", "line", "message"),
    [
        pytest.param(HEAD + QUESTION + "\n" + question("- A\n+ B\n"), 16,
                     "question 2: the right answer is option B, but option A in the 'en' "
                     "lesson", id="answer-moved"),
        pytest.param(HEAD + QUESTION + "\n" + question("+ A\n- B\n- C\n"), 16,
                     "question 2: 3 options, but question 2 of the 'en' lesson has 2",
                     id="option-added"),
        pytest.param(HEAD + QUESTION + "\n" + QUESTION + "\n" + QUESTION, 21,
                     "3 questions, but the 'en' lesson has 2", id="question-added"),
        pytest.param(lesson_with_cards(4), 1, "4 cards, but the 'en' lesson has 3",
                     id="card-added"),
    ],
)
def test_translation_must_line_up_with_default_locale(tmp_path, french, line, message):
    folder = write_course(tmp_path, files={"en/one.txt": VALID, "fr/one.txt": french})

    courses, problems = load_courses(tmp_path, strict=False)

    assert [str(p) for p in problems] == [f"{folder / 'fr' / 'one.txt'}:{line}: {message}"]
    assert courses == []


def test_every_question_that_differs_is_named_once(tmp_path):
    french = HEAD + question("- A\n+ B\n") + "\n" + question("+ A\n- B\n- C\n")
    folder = write_course(tmp_path, files={"en/one.txt": VALID, "fr/one.txt": french})

    _courses, problems = load_courses(tmp_path, strict=False)

    where = folder / "fr" / "one.txt"
    assert [str(p) for p in problems] == [
        f"{where}:11: question 1: the right answer is option B, but option A in the 'en' lesson",
        f"{where}:16: question 2: 3 options, but question 2 of the 'en' lesson has 2",
    ]


def test_a_course_file_error_does_not_stop_the_lessons_being_checked(tmp_path):
    folder = write_course(tmp_path, toml=course_toml(code="demo"),
                          files={"en/one.txt": lesson_with_cards(7), "fr/one.txt": VALID})

    courses, problems = load_courses(tmp_path, strict=False)

    assert courses == []
    assert [str(p) for p in problems] == [
        f"{folder / 'course.toml'}:1: code must be 3 to 12 capital letters or digits, "
        'e.g. code = "FREELANCE"',
        f"{folder / 'en' / 'one.txt'}:1: 7 cards; a lesson has 3 to 6 (a blank line "
        "separates cards)",
    ]


@pytest.mark.parametrize(("broken", "line", "message"), [
    pytest.param(('lessons = ["one", "two"]', 'lessons = "one"'), 4,
                 "lessons must list lesson ids (lowercase, digits, hyphens) in order",
                 id="lessons"),
    pytest.param(('en = "Demo en"\nfr = "Demo fr"', 'en = ""'), 6,
                 "[title] en must be a language code with non-empty text", id="title"),
    pytest.param(('default_locale = "en"', 'default_locale = "english!"'), 2,
                 'default_locale must be a language code such as "en"', id="default-locale"),
])
def test_a_course_file_error_is_said_once_not_for_every_lesson(tmp_path, broken, line,
                                                                 message):
    toml = course_toml(lessons=("one", "two")).replace(*broken)
    assert toml != course_toml(lessons=("one", "two"))
    folder = write_course(tmp_path, toml=toml, files={
        "en/one.txt": VALID, "en/two.txt": VALID, "fr/one.txt": VALID,
        "fr/two.txt": lesson_with_cards(2)})

    courses, problems = load_courses(tmp_path, strict=False)

    assert courses == []
    assert [str(p) for p in problems] == [
        f"{folder / 'course.toml'}:{line}: {message}",
        f"{folder / 'fr' / 'two.txt'}:1: 2 cards; a lesson has 3 to 6 (a blank line "
        "separates cards)",
    ]


@pytest.mark.parametrize(
    ("toml", "line", "message"),
    [
        pytest.param('code = "DEMO"\ndefault_locale = en\nlessons = ["one"]\n', 2,
                     "invalid TOML: ", id="invalid-toml"),
        pytest.param('code = "DEMO"\ndefault_locale = "en"\nlessons = ["one"]\n\n[title]\n'
                     'en = "A"\nen = "B"\n', 7, "invalid TOML: ", id="duplicate-toml-key"),
        pytest.param(course_toml(code="demo"), 1,
                     'code must be 3 to 12 capital letters or digits, e.g. code = "FREELANCE"',
                     id="lowercase-code"),
        pytest.param(course_toml(code="FREELANCING-101"), 1,
                     'code must be 3 to 12 capital letters or digits, e.g. code = "FREELANCE"',
                     id="code-too-long"),
        pytest.param(course_toml(code="DEMO\\n"), 1,
                     'code must be 3 to 12 capital letters or digits, e.g. code = "FREELANCE"',
                     id="code-with-trailing-newline"),
        pytest.param(course_toml().replace("pass_mark = 70", "pass_mark = 170"), 3,
                     "pass_mark must be a whole number from 0 to 100", id="pass-mark"),
        pytest.param(course_toml().replace('default_locale = "en"', 'default_locale = "xx1"'),
                     2, 'default_locale must be a language code such as "en"',
                     id="default-locale"),
        pytest.param(course_toml().replace('lessons = ["one"]', 'lessons = ["One"]'), 4,
                     "lessons must list lesson ids (lowercase, digits, hyphens) in order",
                     id="lesson-id"),
        pytest.param(course_toml().replace('lessons = ["one"]', 'lessons = ["one\\n"]'), 4,
                     "lessons must list lesson ids (lowercase, digits, hyphens) in order",
                     id="lesson-id-with-trailing-newline"),
        pytest.param(course_toml().replace('lessons = ["one"]', 'lessons = ["one", "one"]'), 4,
                     "lessons lists the same lesson twice", id="lesson-twice"),
        pytest.param('author = "Awa"\n' + course_toml(), 1,
                     "unknown key 'author' (expected one of: code, default_locale, lessons, "
                     "pass_mark, program, sms_budget, sms_budget_per_locale, summary, title)",
                     id="unknown-key"),
        pytest.param("sms_budget = 0\n" + course_toml(), 1,
                     "sms_budget must be a whole number of segments from 1 to 100",
                     id="sms-budget-zero"),
        pytest.param(course_toml().replace("pass_mark = 70", 'sms_budget = "8"'), 3,
                     "sms_budget must be a whole number of segments from 1 to 100",
                     id="sms-budget-text"),
        pytest.param(course_toml() + "\n[sms_budget_per_locale]\nar = 16.5\n", 10,
                     "[sms_budget_per_locale] ar must be a language code with a whole number "
                     "of segments from 1 to 100", id="sms-budget-per-locale-value"),
        pytest.param(course_toml() + "\n[sms_budget_per_locale]\nxx1 = 16\n", 10,
                     "[sms_budget_per_locale] xx1 must be a language code with a whole number "
                     "of segments from 1 to 100", id="sms-budget-per-locale-code"),
        pytest.param(course_toml().replace("pass_mark = 70", "sms_budget_per_locale = 16"), 3,
                     "[sms_budget_per_locale] must give segments per language, e.g. ar = 16",
                     id="sms-budget-per-locale-not-a-table"),
        pytest.param(course_toml(locales=("en",)), 6, "title has no 'fr' entry",
                     id="title-missing-locale"),
        pytest.param(course_toml() + "sms_budget = 8\n", 6,
                     "[title] holds 'sms_budget': in TOML every key after a [table] line "
                     "belongs to that table; move 'sms_budget' above the first [table] line",
                     id="course-key-inside-a-table"),
    ],
)
def test_bad_course_toml(tmp_path, toml, line, message):
    folder = write_course(tmp_path, toml=toml, files={"en/one.txt": VALID, "fr/one.txt": VALID})
    where = f"{folder / 'course.toml'}:{line}: {message}"

    courses, problems = load_courses(tmp_path, strict=False)

    assert courses == []
    assert [str(p) for p in problems if str(p).startswith(where)], [str(p) for p in problems]


def test_a_course_sets_its_sms_budget_per_lesson_and_per_language(tmp_path):
    write_course(tmp_path, toml="sms_budget = 5\n" + course_toml()
                 + "\n[sms_budget_per_locale]\nfr = 7\n",
                 files={"en/one.txt": VALID, "fr/one.txt": VALID})

    [course], problems = load_courses(tmp_path, strict=True)

    assert problems == []
    assert (course.sms_budget, course.sms_budget_per_locale) == (5, {"fr": 7})


def test_a_budget_for_a_language_without_lessons_is_a_warning(tmp_path):
    folder = write_course(tmp_path, toml=course_toml() + "\n[sms_budget_per_locale]\nde = 7\n",
                          files={"en/one.txt": VALID, "fr/one.txt": VALID})

    [course], problems = load_courses(tmp_path, strict=True)

    assert [str(p) for p in problems] == [
        f"{folder / 'course.toml'}:10: warning: [sms_budget_per_locale] de: the course has "
        "no lessons in 'de'"]
    assert course.sms_budget is None


def test_duplicate_course_codes_across_courses(tmp_path):
    write_course(tmp_path, "alpha")
    beta = write_course(tmp_path, "beta")

    assert problem_lines(tmp_path) == [
        f"{beta / 'course.toml'}:1: code 'DEMO' is already used by course 'alpha'"
    ]
    with pytest.raises(ContentError):
        load_courses(tmp_path, strict=True)


def test_several_courses_load_in_folder_order(tmp_path):
    write_course(tmp_path, "zeta", toml=course_toml(code="ZETA"))
    write_course(tmp_path, "alpha", toml=course_toml(code="ALPHA"))

    courses, problems = load_courses(tmp_path, strict=True)

    assert problems == []
    assert [(c.id, c.code) for c in courses] == [("alpha", "ALPHA"), ("zeta", "ZETA")]


# -- importing ---------------------------------------------------------------------------------


def test_import_of_bundled_courses_is_idempotent(store):
    # The fixture's database already holds the bundled course.
    course = load_courses(lessons_dir())[0][0]
    lesson_count = sum(len(lessons) for lessons in course.lessons.values())

    assert import_courses(store) == {
        "start-freelancing": {"added": 0, "updated": 0, "unchanged": lesson_count}
    }
    assert [c.code for c in store.courses()] == ["FREELANCE"]


def test_import_counts_added_then_unchanged(tmp_path):
    root = tmp_path / "lessons"
    write_course(root, files={"en/one.txt": VALID, "fr/one.txt": VALID})
    with Store.open(tmp_path / "db.sqlite", migrate=True) as store:
        assert import_courses(store, root) == {"demo": {"added": 2, "updated": 0, "unchanged": 0}}
        assert import_courses(store, root) == {"demo": {"added": 0, "updated": 0, "unchanged": 2}}


def test_broken_course_imports_nothing(tmp_path):
    root = tmp_path / "lessons"
    write_course(root, "alpha", toml=course_toml(code="ALPHA"))
    write_course(root, "beta", toml=course_toml(code="BETA"),
                 files={"en/one.txt": lesson_with_cards(2)})
    with Store.open(tmp_path / "db.sqlite", migrate=True) as store:
        with pytest.raises(ContentError):
            import_courses(store, root)
        assert store.courses() == []  # not even the good course


def test_a_course_added_later_comes_after_the_courses_learners_know(tmp_path):
    """START 1 keeps meaning the course it meant: a new course, whatever its folder's
    name, is numbered after the courses already in the catalogue."""
    import shutil

    root = tmp_path / "lessons"
    shutil.copytree(lessons_dir(), root)
    with Store.open(tmp_path / "db.sqlite", migrate=True) as store:
        import_courses(store, root)
        write_course(root, "accounting", toml=course_toml(code="ACCT"))  # sorts first
        import_courses(store, root)
        assert [c.code for c in store.courses()] == ["FREELANCE", "ACCT"]
        engine = Engine(store)
        with store.write():
            learner = engine.learner(PHONE, "console", "en")
            replies = engine.handle(learner, Start("1")).replies
        assert store.learner(PHONE).current_course == "start-freelancing", replies


PHONE = "+221770000001"
FOUR_CARDS = (
    "# Lesson one\n\nFirst card.\n\nSecond card.\n\nThird card.\n\nFourth card.\n\n## Quiz\n\n"
    + QUESTION + "\n" + QUESTION
)
SECOND = "# Lesson two\n\nA.\n\nB.\n\nC.\n\n## Quiz\n\n" + QUESTION + "\n" + QUESTION


class Learner:
    """One learner talking to the real engine on a real database file."""

    def __init__(self, store: Store, locale: str = "en"):
        self.store = store
        self.engine = Engine(store)
        self.locale = locale

    def send(self, intent) -> tuple:
        with self.store.write():
            learner = self.engine.learner(PHONE, "console", self.locale)
            return self.engine.handle(learner, intent).replies


@pytest.fixture
def course_root(tmp_path: Path) -> Path:
    root = tmp_path / "lessons"
    write_course(root, toml=course_toml(lessons=("one", "two")),
                 files={"en/one.txt": FOUR_CARDS, "en/two.txt": SECOND,
                        "fr/one.txt": FOUR_CARDS, "fr/two.txt": SECOND})
    return root


@pytest.fixture
def demo_store(tmp_path: Path, course_root: Path):
    with Store.open(tmp_path / "db.sqlite", migrate=True) as opened:
        import_courses(opened, course_root)
        yield opened


def cards_shown(replies) -> list[tuple[int, int, str]]:
    return [(x.card_number, x.card_count, x.text) for x in replies if isinstance(x, r.CardShown)]


def test_changed_lesson_updates_in_place_and_keeps_progress(demo_store, course_root):
    learner = Learner(demo_store)
    assert cards_shown(learner.send(Start("DEMO"))) == [(1, 4, "First card.")]
    learner.send(Next())
    assert cards_shown(learner.send(Next())) == [(3, 4, "Third card.")]

    en = course_root / "demo" / "en" / "one.txt"
    en.write_text(FOUR_CARDS.replace("Fourth card.", "Fourth card, rewritten."), encoding="utf-8")
    assert import_courses(demo_store, course_root) == {
        "demo": {"added": 0, "updated": 1, "unchanged": 3}
    }

    assert cards_shown(learner.send(Next())) == [(4, 4, "Fourth card, rewritten.")]
    status = learner.send(Status())[0]
    assert (status.lesson_title, status.card_number, status.card_count) == ("Lesson one", 4, 4)


def test_lesson_shrunk_under_a_learner_goes_on_to_the_quiz(demo_store, course_root):
    learner = Learner(demo_store, locale="fr")
    learner.send(Start("DEMO"))
    learner.send(Next())
    learner.send(Next())
    assert cards_shown(learner.send(Next())) == [(4, 4, "Fourth card.")]

    three_cards = FOUR_CARDS.replace("Third card.\n\nFourth card.", "Third and last card.")
    for locale in ("en", "fr"):
        (course_root / "demo" / locale / "one.txt").write_text(three_cards, encoding="utf-8")
    import_courses(demo_store, course_root)

    replies = learner.send(Next())
    assert [type(x) for x in replies] == [r.QuestionAsked]
    assert (replies[0].number, replies[0].total) == (1, 2)
    status = learner.send(Status())[0]
    assert status.in_quiz and status.card_count == 3


def test_lesson_shrunk_while_learner_mid_lesson_shows_a_valid_card(demo_store, course_root):
    learner = Learner(demo_store)
    learner.send(Start("DEMO"))
    assert cards_shown(learner.send(Next())) == [(2, 4, "Second card.")]

    three_cards = FOUR_CARDS.replace("Second card.\n\n", "").replace("Fourth", "Last")
    for locale in ("en", "fr"):
        (course_root / "demo" / locale / "one.txt").write_text(three_cards, encoding="utf-8")
    import_courses(demo_store, course_root)

    assert cards_shown(learner.send(Next())) == [(3, 3, "Last card.")]
    assert [type(x) for x in learner.send(Next())] == [r.QuestionAsked]


# -- the authoring guide states the rules the parser enforces ------------------------------------


def test_authoring_guide_states_every_limit():
    guide = (Path(__file__).resolve().parent.parent / "docs" / "authoring.md").read_text(
        encoding="utf-8")
    for stated in (
        f"**{MIN_CARDS} to {MAX_CARDS}**",
        f"**{MIN_QUESTIONS} to {MAX_QUESTIONS}**",
        f"**{MIN_OPTIONS} to {MAX_OPTIONS}**",
        f"at most **{MAX_TITLE}** characters",
        f"at most **{MAX_CARD}** characters",
        f"at most **{MAX_OPTION}** characters",
        f"at most **{MAX_QUESTION_SCREEN}** characters",
        f"at most **{MAX_EXPLANATION}** characters",
        f"a whole number from 1 to {MAX_SMS_BUDGET}",
        "learnline lessons check",
        "learnline lessons import",
        "path:line: message",
    ):
        assert stated in guide, f"docs/authoring.md does not say {stated!r}"
