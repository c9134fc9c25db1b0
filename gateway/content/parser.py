"""Parse authored course folders into `Course` objects, reporting `path:line: message`.

A course folder holds `course.toml` and one sub-folder per locale with one
`<lesson-id>.txt` per lesson. The lesson format is described in docs/authoring.md.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import regex
from babel import Locale, UnknownLocaleError

from gateway.content.model import Card, Course, Lesson, Question

MIN_CARDS, MAX_CARDS = 3, 6
MIN_QUESTIONS, MAX_QUESTIONS = 2, 4
MIN_OPTIONS, MAX_OPTIONS = 2, 4
MAX_TITLE = 60
MAX_CARD = 480
MAX_OPTION = 40
MAX_QUESTION_SCREEN = 160  # question plus options: one USSD screen with numbering
MAX_EXPLANATION = 160
MAX_SMS_BUDGET = 100  # segments a lesson may be budgeted (course.toml sms_budget)
CODE_RE = re.compile(r"[A-Z0-9]{3,12}")  # fullmatch: `$` lets "\n" through
ID_RE = re.compile(r"[a-z0-9][a-z0-9-]*")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the content, located for the author."""

    path: str
    line: int
    message: str
    warning: bool = False

    def __str__(self) -> str:
        prefix = "warning: " if self.warning else ""
        return f"{self.path}:{self.line}: {prefix}{self.message}"


class ContentError(Exception):
    """Raised when content has problems; `problems` lists them all."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def load_courses(
    root: Path, *, strict: bool = True, on_lesson: Callable[[], object] | None = None,
) -> tuple[list[Course], list[Problem]]:
    """Parse every course folder under `root`.

    Returns the courses that parsed cleanly and every problem found. With
    `strict`, raise `ContentError` when any problem is an error (not a warning).
    `on_lesson` is called after each lesson file is read (a progress bar).
    """
    problems: list[Problem] = []
    courses: list[Course] = []
    if root.is_file():
        problems.append(Problem(str(root), 1, "a file, not a folder of courses: give the "
                                "folder that holds the course folders"))
    elif not root.is_dir():
        problems.append(Problem(str(root), 1, "no such folder of courses"))
    elif (root / "course.toml").is_file():
        problems.append(Problem(str(root / "course.toml"), 1, "this is one course's folder: "
                                "give the folder that holds the course folders "
                                f"({root.parent if root.name else root.resolve().parent})"))
    else:
        folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        for folder in folders:
            course, found = _load_course(folder, on_lesson)
            problems.extend(found)
            if course is not None and not any(not p.warning for p in found):
                courses.append(course)
        if not folders:
            problems.append(Problem(str(root), 1, "no course folders found"))
        codes: dict[str, str] = {}
        for course in courses:
            if course.code in codes:
                problems.append(
                    Problem(
                        str(root / course.id / "course.toml"),
                        _line_of_key(root / course.id / "course.toml", "code"),
                        f"code {course.code!r} is already used by course {codes[course.code]!r}",
                    )
                )
            codes[course.code] = course.id
    if strict and any(not p.warning for p in problems):
        raise ContentError(problems)
    return courses, problems


def _count(n: int, noun: str) -> str:
    """'1 card', '3 cards'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _line_of_key(path: Path, key: str) -> int:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return 1
    pattern = re.compile(rf"^\s*(\[\s*{re.escape(key)}\s*\]|{re.escape(key)}\s*=)")
    for number, line in enumerate(lines, 1):
        if pattern.match(line):
            return number
    return 1


def _load_course(
    folder: Path, on_lesson: Callable[[], object] | None = None,
) -> tuple[Course | None, list[Problem]]:
    course_file = folder / "course.toml"
    where = str(course_file)
    if not course_file.exists():
        return None, [Problem(str(folder), 1, "missing course.toml")]
    try:
        data = tomllib.loads(course_file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        line = len(_NEWLINE_BYTES_RE.split(course_file.read_bytes()[: exc.start]))
        return None, [Problem(where, line, "not UTF-8 text; save the file as UTF-8")]
    except OSError as exc:
        return None, [Problem(where, 1, f"cannot read the course file: {exc.strerror}")]
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(match.group(1)) if match else 1
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        return None, [Problem(where, line, f"invalid TOML: {message}")]

    problems: list[Problem] = []

    def problem(key: str, message: str) -> None:
        problems.append(Problem(where, _line_of_key(course_file, key), message))

    known = _COURSE_KEYS
    for key in sorted(set(data) - known):
        problem(key, f"unknown key {key!r} (expected one of: {', '.join(sorted(known))})")

    code = data.get("code")
    if not isinstance(code, str) or not CODE_RE.fullmatch(code):
        problem("code", "code must be 3 to 12 capital letters or digits, e.g. code = \"FREELANCE\"")
    default_locale = data.get("default_locale")
    if not isinstance(default_locale, str) or not _is_locale(default_locale):
        problem("default_locale", "default_locale must be a language code such as \"en\"")
    pass_mark = data.get("pass_mark", 70)
    if not isinstance(pass_mark, int) or not 0 <= pass_mark <= 100:
        problem("pass_mark", "pass_mark must be a whole number from 0 to 100")
    program = data.get("program", "")
    if not isinstance(program, str) or (program and not _PROGRAM_RE.fullmatch(program)):
        problem("program", "program must be a program's id (lowercase letters, digits, "
                "'-' and '_'), as the programs file names it")
        program = ""
    sms_budget = data.get("sms_budget")
    if sms_budget is not None and not _is_budget(sms_budget):
        problem("sms_budget", f"sms_budget must be a whole number of segments from 1 to "
                f"{MAX_SMS_BUDGET}")
    budgets = _budget_table(data, problem)
    lesson_ids = data.get("lessons")
    listed = True  # whether `lessons` could be read; if not, lesson files are still checked
    if (
        not isinstance(lesson_ids, list)
        or not lesson_ids
        or not all(isinstance(i, str) and ID_RE.fullmatch(i) for i in lesson_ids)
    ):
        problem("lessons", "lessons must list lesson ids (lowercase, digits, hyphens) in order")
        lesson_ids, listed = [], False
    elif len(set(lesson_ids)) != len(lesson_ids):
        problem("lessons", "lessons lists the same lesson twice")
    before = len(problems)
    titles = _locale_table(data, "title", problem, required=True)
    titles_read = len(problems) == before
    summaries = _locale_table(data, "summary", problem, required=False)
    if not ID_RE.fullmatch(folder.name):
        problems.append(
            Problem(str(folder), 1, "course folder name must be lowercase letters, digits, hyphens")
        )
    # A problem in course.toml leaves no course to teach, but the lessons are still
    # checked, each problem said once: what follows from a key that could not be read
    # (every lesson "not listed", every language "not in the title") is not said again.
    course_failed = bool(problems)
    default_read = isinstance(default_locale, str) and _is_locale(default_locale)

    lessons: dict[str, tuple[Lesson, ...]] = {}
    locale_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    for locale_dir in locale_dirs:
        if not _is_locale(locale_dir.name):
            problems.append(Problem(str(locale_dir), 1, "folder name is not a language code"))
            continue
        parsed: dict[str, Lesson] = {}
        for path in sorted(locale_dir.glob("*.txt")):
            if listed and path.stem not in lesson_ids:
                problems.append(Problem(str(path), 1, f"lesson {path.stem!r} is not listed in "
                                        f"{course_file.name} lessons"))
                continue
            lesson, found = parse_lesson(path, locale_dir.name)
            if on_lesson is not None:
                on_lesson()
            problems.extend(found)
            if lesson is not None:
                parsed[path.stem] = lesson
        missing = [i for i in lesson_ids if i not in parsed] if default_read else []
        for lesson_id in missing:
            if not (locale_dir / f"{lesson_id}.txt").exists():
                problems.append(
                    Problem(
                        str(locale_dir / f"{lesson_id}.txt"),
                        1,
                        f"lesson {lesson_id!r} has no {locale_dir.name!r} text"
                        + ("" if locale_dir.name == default_locale
                           else f"; learners get it in {default_locale!r}"),
                        warning=locale_dir.name != default_locale,
                    )
                )
        if titles_read and locale_dir.name not in titles:
            problem("title", f"title has no {locale_dir.name!r} entry")
        lessons[locale_dir.name] = tuple(parsed[i] for i in lesson_ids if i in parsed)
    if not default_read:
        return None, problems
    for locale in budgets:
        if locale not in lessons:
            problems.append(Problem(where, _line_of_key(course_file, "sms_budget_per_locale"),
                                    f"[sms_budget_per_locale] {locale}: the course has no "
                                    f"lessons in {locale!r}", warning=True))
    if default_locale not in lessons:
        problems.append(Problem(str(folder / default_locale), 1,
                                f"no lessons in the default locale {default_locale!r}"))
    if listed:
        problems.extend(_compare_translations(lessons, default_locale))
    if course_failed:
        return None, problems
    course = Course(
        id=folder.name,
        code=code,
        default_locale=default_locale,
        pass_mark=pass_mark,
        lesson_ids=tuple(lesson_ids),
        titles=titles,
        summaries=summaries,
        locales=(default_locale, *sorted(loc for loc in lessons if loc != default_locale)),
        lessons=lessons,
        sms_budget=sms_budget,
        sms_budget_per_locale=budgets,
        program=program,
    )
    return course, problems


def _is_budget(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) \
        and 1 <= value <= MAX_SMS_BUDGET


def _budget_table(data: dict, problem) -> dict[str, int]:
    """[sms_budget_per_locale]: segments a lesson may cost, per language."""
    key = "sms_budget_per_locale"
    table = data.get(key)
    if table is None:
        return {}
    if not isinstance(table, dict):
        problem(key, f"[{key}] must give segments per language, e.g. ar = 16")
        return {}
    out: dict[str, int] = {}
    for locale, value in table.items():
        if not _is_locale(locale) or not _is_budget(value):
            problem(key, f"[{key}] {locale} must be a language code with a whole number of "
                    f"segments from 1 to {MAX_SMS_BUDGET}")
        else:
            out[locale] = value
    return out


def _is_locale(code: str) -> bool:
    try:
        Locale.parse(code)
    except (ValueError, UnknownLocaleError):
        return False
    return True


# The keys of course.toml, outside its tables.
_COURSE_KEYS = frozenset({"code", "default_locale", "pass_mark", "lessons", "title", "summary",
                          "sms_budget", "sms_budget_per_locale", "program"})
_PROGRAM_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")  # as gateway/programs.py


def _locale_table(data: dict, key: str, problem, *, required: bool) -> dict[str, str]:
    table = data.get(key)
    if table is None and not required:
        return {}
    if not isinstance(table, dict) or not table:
        problem(key, f"[{key}] must give one text per language, e.g. en = \"...\"")
        return {}
    out: dict[str, str] = {}
    for locale, text in table.items():
        if locale in _COURSE_KEYS:
            problem(key, f"[{key}] holds '{locale}': in TOML every key after a [table] line "
                    f"belongs to that table; move '{locale}' above the first [table] line")
        elif not _is_locale(locale) or not isinstance(text, str) or not text.strip():
            problem(key, f"[{key}] {locale} must be a language code with non-empty text")
        else:
            out[locale] = text.strip()
    return out


def _compare_translations(
    lessons: dict[str, tuple[Lesson, ...]], default_locale: str
) -> Iterator[Problem]:
    """Progress is kept by card and question number, so translations must line up."""
    base = {lesson.id: lesson for lesson in lessons.get(default_locale, ())}
    for locale, translated in lessons.items():
        if locale == default_locale:
            continue
        for lesson in translated:
            original = base.get(lesson.id)
            if original is None:
                continue
            if len(lesson.cards) != len(original.cards):
                yield Problem(lesson.path, 1, f"{len(lesson.cards)} cards, but the "
                              f"{default_locale!r} lesson has {len(original.cards)}")
            else:
                yield from _compare_card_forms(lesson, original, default_locale)
            yield from _compare_questions(lesson, original, default_locale)
            yield from _compare_quiz_forms(lesson, original, default_locale)


def _compare_card_forms(lesson: Lesson, original: Lesson, default_locale: str
                        ) -> Iterator[Problem]:
    """The SMS edition teaches the same cards in every language, each shortened where the
    original is: a translation lacking a short form the original has is an error; one
    the original lacks is a warning (a longer language may need it)."""
    lines = _card_lines(Path(lesson.path))
    for number, (card, model) in enumerate(zip(lesson.cards, original.cards, strict=True), 1):
        line = lines[number - 1] if number <= len(lines) else 1
        if model.web_only and not card.web_only:
            yield Problem(lesson.path, line, f"card {number}: the {default_locale!r} lesson "
                          "leaves it out of SMS ('[web only]'); leave it out here too")
        elif card.web_only and not model.web_only:
            yield Problem(lesson.path, line, f"card {number} is '[web only]' here, but not "
                          f"in the {default_locale!r} lesson")
        elif model.sms and card.sms is None:
            yield Problem(lesson.path, line, f"card {number} has no '[sms]' form, but card "
                          f"{number} of the {default_locale!r} lesson has one")
        elif card.sms and model.sms is None:
            yield Problem(lesson.path, line, f"card {number} has an '[sms]' form the "
                          f"{default_locale!r} lesson's card {number} lacks", warning=True)


def _compare_quiz_forms(lesson: Lesson, original: Lesson, default_locale: str
                        ) -> Iterator[Problem]:
    """As `_compare_card_forms`, for each question, option and explanation, named at its
    question's line."""
    lines = _question_lines(Path(lesson.path))
    for number, (question, model) in enumerate(zip(lesson.questions, original.questions,
                                                   strict=False), 1):
        line = lines[number - 1] if number <= len(lines) else 1
        pairs = [(f"question {number} has", f"but question {number} of the "
                  f"{default_locale!r} lesson has one", f"the {default_locale!r} lesson's "
                  f"question {number} lacks", question.sms_text, model.sms_text)]
        if len(question.options) == len(model.options):
            ours = question.sms_options or (None,) * len(question.options)
            theirs = model.sms_options or (None,) * len(model.options)
            pairs += [(f"question {number}, option {_LETTERS[n]} has",
                       f"but the {default_locale!r} lesson's has one",
                       f"the {default_locale!r} lesson's lacks", mine, source)
                      for n, (mine, source) in enumerate(zip(ours, theirs, strict=True))]
        pairs.append((f"question {number}: the explanation has",
                      f"but the {default_locale!r} lesson's has one",
                      f"the {default_locale!r} lesson's lacks",
                      question.sms_explanation, model.sms_explanation))
        for what, missing, extra, mine, source in pairs:
            if source is not None and mine is None:
                yield Problem(lesson.path, line, f"{what} no '[sms]' form, {missing}")
            elif mine is not None and source is None:
                yield Problem(lesson.path, line, f"{what} an '[sms]' form {extra}",
                              warning=True)


def _card_lines(path: Path) -> list[int]:
    """The first line of each card of a lesson file that parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    lines, titled, paragraph = [], False, False
    for number, line in enumerate(_NEWLINE_RE.split(_OTHER_BREAKS_RE.sub(" ", text)), 1):
        line = line.strip().lstrip("\ufeff")
        if line.startswith("//"):
            continue
        if not line:
            paragraph = False
        elif line.startswith("#"):
            if titled:
                break  # the quiz
            titled = True
        elif not paragraph and not _SMS_RE.match(line) and not _WEB_ONLY_RE.match(line):
            lines.append(number)
            paragraph = True
    return lines


def _compare_questions(lesson: Lesson, original: Lesson, default_locale: str
                       ) -> Iterator[Problem]:
    """Each question of a translation that does not line up with the original's, named
    at its own line: its number of options, or where its right answer is."""
    lines = _question_lines(Path(lesson.path))
    count, expected = len(lesson.questions), len(original.questions)
    for number, (question, model) in enumerate(zip(lesson.questions, original.questions,
                                                   strict=False), 1):
        line = lines[number - 1] if number <= len(lines) else 1
        if len(question.options) != len(model.options):
            yield Problem(lesson.path, line, f"question {number}: "
                          f"{_count(len(question.options), 'option')}, but question {number} "
                          f"of the {default_locale!r} lesson has {len(model.options)}")
        elif question.answer != model.answer:
            yield Problem(lesson.path, line, f"question {number}: the right answer is option "
                          f"{_LETTERS[question.answer]}, but option {_LETTERS[model.answer]} in "
                          f"the {default_locale!r} lesson")
    if count != expected:
        extra = lines[expected] if count > expected and expected < len(lines) else 1
        yield Problem(lesson.path, extra, f"{_count(count, 'question')}, but the "
                      f"{default_locale!r} lesson has {expected}")


_LETTERS = "ABCD"


def _question_lines(path: Path) -> list[int]:
    """The line of each quiz question ('? ...') of a lesson file that parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    lines, in_quiz = [], False
    for number, line in enumerate(_NEWLINE_RE.split(_OTHER_BREAKS_RE.sub(" ", text)), 1):
        line = line.strip()
        if line.startswith("## ") and line[3:].strip().lower() == "quiz":
            in_quiz = True
        elif in_quiz and line.startswith("?"):
            lines.append(number)
    return lines


def card_lines(path: Path) -> list[int]:
    """The first line of each card of a lesson file that parsed, web-only cards included
    ([] for a file that cannot be read)."""
    return _card_lines(path)


def option_lines(path: Path) -> list[list[int]]:
    """The line of each option ('+ ...' or '- ...') of each quiz question of a lesson file
    that parsed, question by question ([] for a file that cannot be read)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    questions: list[list[int]] = []
    in_quiz = False
    for number, line in enumerate(_NEWLINE_RE.split(_OTHER_BREAKS_RE.sub(" ", text)), 1):
        line = line.strip()
        if line.startswith("## ") and line[3:].strip().lower() == "quiz":
            in_quiz = True
        elif in_quiz and line.startswith("?"):
            questions.append([])
        elif in_quiz and questions and _OPTION_RE.match(line):
            questions[-1].append(number)
    return questions


_OPTION_RE = re.compile(r"^([+-])\s*(.*)$")
_NEWLINE_RE = re.compile(r"\r\n|\r|\n")
_NEWLINE_BYTES_RE = re.compile(rb"\r\n|\r|\n")
_OTHER_BREAKS_RE = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def parse_lesson(path: Path, locale: str) -> tuple[Lesson | None, list[Problem]]:
    """Parse one lesson file; return the lesson (None if unusable) and its problems."""
    where = str(path)
    problems: list[Problem] = []

    def problem(line: int, message: str) -> None:
        problems.append(Problem(where, line, message))

    try:
        data = path.read_bytes()
    except OSError as exc:  # a folder named like a lesson, a file it may not read
        return None, [Problem(where, 1, f"cannot read the lesson file: {exc.strerror}")]
    try:
        raw = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = len(_NEWLINE_BYTES_RE.split(data[: exc.start]))
        return None, [Problem(where, line, "not UTF-8 text; save the file as UTF-8")]
    # Lines end only at CR LF, LF or CR, as in editors: str.splitlines() would also
    # break at U+2028, form feeds, etc. and shift every line number after them.
    lines = _NEWLINE_RE.split(_OTHER_BREAKS_RE.sub(" ", raw.lstrip("\ufeff")))
    if lines[-1] == "":
        lines.pop()

    title: str | None = None
    title_line = 1
    cards: list[dict] = []
    questions: list[dict] = []
    in_quiz = False
    paragraph: list[str] | None = None
    # The quiz line an '[sms]' line would give the short form of: (kind, question,
    # option index), or ("sms", ...) once it has one; None after a blank line.
    above: tuple[str, dict, int] | None = None

    for number, raw_line in enumerate(lines, 1):
        line = raw_line.strip()
        if line.startswith("//"):
            continue
        if not line:
            paragraph = None
            above = None
            continue
        if title is None:
            if line.startswith("# ") and line[2:].strip():
                title, title_line = line[2:].strip(), number
            else:
                problem(number, "a lesson starts with its title: a line '# Title'")
                title, title_line = "", number
            continue
        if line.startswith("#"):
            if line.lstrip("#").strip().lower() == "quiz" and line.startswith("## "):
                if in_quiz:
                    problem(number, "a second '## Quiz' heading")
                in_quiz = True
            else:
                problem(number, "unexpected heading; only '# Title' and '## Quiz' are headings")
            continue
        sms_form = _SMS_RE.match(line)
        marked = _WEB_ONLY_RE.match(line)
        if not (sms_form or marked):
            meant = _misspelled_marker(line)
            if meant:  # a warning: '[MS] Word' may be meant as written
                problems.append(Problem(
                    where, number, f"'{line[:line.index(']') + 1]}' is no marker: did you "
                    f"mean '{meant}'? As written, learners read it as text", warning=True))
        web_only = marked is not None
        if marked and marked.group(1).strip():
            problem(number, "'[web only]' stands alone on its line: the card above it is "
                    "left out of SMS whole")
            continue
        if not in_quiz:
            card = cards[-1] if cards and paragraph is not None else None
            if sms_form or web_only:
                if card is None and number == title_line + 1:
                    problem(number, "a lesson's title has no SMS form: '[sms]' and '[web only]' "
                            "go under a card or a quiz line")
                elif card is None:
                    problem(number, _NOT_UNDER)
                elif card["web_only"] and web_only:
                    problem(number, "'[web only]' ends its card: start the next card after "
                            "a blank line")
                elif card["web_only"] or (card["sms"] is not None and web_only):
                    problem(number, "a card is either '[web only]' or has an '[sms]' form, "
                            "not both")
                elif card["sms"] is not None:
                    problem(number, "a card has one '[sms]' form")
                elif web_only:
                    card["web_only"] = True
                else:
                    rest = sms_form.group(1).strip()
                    card["sms"], card["sms_line"] = [rest] if rest else [], number
                continue
            if card is None:
                paragraph = []
                cards.append({"line": number, "words": paragraph, "sms": None,
                              "sms_line": number, "web_only": False})
            elif card["web_only"]:
                problem(number, "'[web only]' ends its card: start the next card after a "
                        "blank line")
                continue
            elif card["sms"] is not None:
                card["sms"].append(line)
                continue
            paragraph.append(line)
            continue
        if web_only:
            problem(number, "'[web only]' is for cards: SMS learners answer every question; "
                    "give it a shorter '[sms]' form instead")
            continue
        if sms_form:
            if above is None:
                problem(number, _NOT_UNDER)
            elif above[0] == "sms":
                problem(number, "a quiz line has one '[sms]' form, on the line right under it")
            else:
                _quiz_sms_form(above, sms_form.group(1).strip(), number, problem)
                above = ("sms", above[1], above[2])
            continue
        if line.startswith("?"):
            text = line[1:].strip()
            if not text:
                problem(number, "question text is empty")
            questions.append({"line": number, "text": text, "options": [], "answer": [],
                              "explanation": None, "sms_text": None, "sms_options": [],
                              "sms_explanation": None})
            above = ("question", questions[-1], -1)
            continue
        if not questions:
            problem(number, "in the quiz, start each question with '? '")
            continue
        current = questions[-1]
        option = _OPTION_RE.match(line)
        if option:
            if current["explanation"] is not None:
                problem(number, "options must come before the '=' explanation")
            text = option.group(2).strip()
            if not text:
                problem(number, "option text is empty")
            if len(text) > MAX_OPTION:
                problem(number, f"option is {len(text)} characters; keep it to {MAX_OPTION}")
            if option.group(1) == "+":
                current["answer"].append(len(current["options"]))
            above = ("option", current, len(current["options"]))
            current["options"].append(text)
            current["sms_options"].append(None)
        elif line.startswith("="):
            text = line[1:].strip()
            if current["explanation"] is not None:
                problem(number, "a question has one '=' explanation line")
            elif not text:
                problem(number, "explanation is empty")
            elif len(text) > MAX_EXPLANATION:
                problem(number, f"explanation is {len(text)} characters; "
                        f"keep it to {MAX_EXPLANATION}")
            current["explanation"] = text
            above = ("explanation", current, -1)
        else:
            problem(number, "in the quiz, lines start with '?', '+', '-' or '='")

    if title is None:
        problem(1, "the file is empty; a lesson starts with a line '# Title'")
        return None, problems
    if len(title) > MAX_TITLE:
        problem(title_line, f"title is {len(title)} characters; keep it to {MAX_TITLE}")
    for card in cards:
        text = " ".join(card["words"])
        if len(text) > MAX_CARD:
            problem(card["line"], f"card is {len(text)} characters; keep it to {MAX_CARD} "
                    "(split it into two cards)")
        _check_card_sms_form(card, text, problem, problems, where)
    if cards and all(card["web_only"] for card in cards):
        problem(title_line, "every card is '[web only]'; the SMS edition needs at least one "
                "card")
    if not MIN_CARDS <= len(cards) <= MAX_CARDS:
        problem(title_line, f"{_count(len(cards), 'card')}; a lesson has {MIN_CARDS} to "
                f"{MAX_CARDS} (a blank line separates cards)")
    if not in_quiz:
        problem(len(lines) or 1, "no '## Quiz' section")
    elif not MIN_QUESTIONS <= len(questions) <= MAX_QUESTIONS:
        problem(title_line, f"{_count(len(questions), 'question')}; a quiz has {MIN_QUESTIONS} to "
                f"{MAX_QUESTIONS}")
    for q in questions:
        count = len(q["options"])
        if not MIN_OPTIONS <= count <= MAX_OPTIONS:
            problem(q["line"], f"{_count(count, 'option')}; a question has {MIN_OPTIONS} to "
                    f"{MAX_OPTIONS} (lines starting '+' or '-')")
        if len(q["answer"]) != 1:
            problem(q["line"], f"{_count(len(q['answer']), 'right answer')}; mark exactly one "
                    "option with '+'")
        if q["explanation"] is None:
            problem(q["line"], "no explanation; add a line '= why the answer is right'")
        screen = len(q["text"]) + sum(len(o) + 4 for o in q["options"])
        if screen > MAX_QUESTION_SCREEN:
            problem(q["line"], f"question and options are {screen} characters with numbering; "
                    f"keep them to {MAX_QUESTION_SCREEN} (one USSD screen)")
        _check_question_sms_forms(q, problem)
    if any(not p.warning for p in problems):
        return None, problems
    lesson = Lesson(
        id=path.stem,
        locale=locale,
        title=title,
        cards=tuple(Card(" ".join(card["words"]), "" if card["web_only"] else
                         None if card["sms"] is None else " ".join(card["sms"]))
                    for card in cards),
        questions=tuple(
            Question(q["text"], tuple(q["options"]), q["answer"][0], q["explanation"],
                     q["sms_text"], _sms_options(q), q["sms_explanation"])
            for q in questions
        ),
        path=where,
    )
    return lesson, problems


# The SMS edition (docs/authoring.md): '[sms] short text' under a card or a quiz line,
# '[web only]' under a card.
_SMS_RE = re.compile(r"\[\s*sms\s*\](.*)", re.IGNORECASE)
_WEB_ONLY_RE = re.compile(r"\[\s*web[\s-]*only\s*\](.*)", re.IGNORECASE)
# A bracket at a line's start a letter added to or dropped from '[sms]' ('[smss]', not
# '[MMS]' or '[SOS]', words of their own), or two slips from '[web only]'.
_BRACKETED = re.compile(r"\[([^\]]{1,20})\]")
_NEAR_MARKERS = ((regex.compile(r"(?:sms){i<=1,d<=1,e<=1}"), "[sms]"),
                 (regex.compile(r"(?:webonly){e<=2}"), "[web only]"))


def _misspelled_marker(line: str) -> str | None:
    """The marker a line's leading bracket was likely meant to be ('[smss]', '[web onyl]'),
    or None: a slip would otherwise reach learners as text."""
    found = _BRACKETED.match(line)
    if found is None:
        return None
    word = re.sub(r"[\s\-_]+", "", found.group(1)).lower()
    if len(word) < 2:
        return None
    return next((marker for near, marker in _NEAR_MARKERS if near.fullmatch(word)), None)


_NOT_UNDER = ("'[sms]' gives the SMS form of the card or quiz line just above it: put it on "
              "the line right under it, with no blank line between")
_SMS_LIMITS = {"option": MAX_OPTION, "explanation": MAX_EXPLANATION,
               "question": MAX_QUESTION_SCREEN}


def _quiz_sms_form(above: tuple[str, dict, int], text: str, number: int,
                   problem: Callable[[int, str], None]) -> None:
    """Keep the short form of the quiz line `above` (a question, an option or an
    explanation), checked against that line's own limit."""
    kind, question, index = above
    if not text:
        problem(number, "the SMS form is empty")
        return
    if len(text) > _SMS_LIMITS[kind]:
        problem(number, f"SMS form of the {kind} is {len(text)} characters; keep it to "
                f"{_SMS_LIMITS[kind]}")
    if kind == "option":
        question["sms_options"][index] = text
    else:
        question[f"sms_{'text' if kind == 'question' else kind}"] = text


def _check_card_sms_form(card: dict, text: str, problem: Callable[[int, str], None],
                         problems: list[Problem], where: str) -> None:
    """A card's short form: not empty, within a card's limit, and (a warning) shorter
    than the card."""
    if card["sms"] is None:
        return
    short = " ".join(card["sms"])
    line = card["sms_line"]
    if not short:
        problem(line, "the SMS form is empty; write '[web only]' to leave the card out of SMS")
    elif len(short) > MAX_CARD:
        problem(line, f"SMS form of the card is {len(short)} characters; keep it to {MAX_CARD}")
    if short and len(short) >= len(text):
        problems.append(Problem(where, line, "the SMS form of the card is not shorter than "
                                f"the card ({len(short)} against {len(text)} characters)",
                                warning=True))


def _check_question_sms_forms(q: dict, problem: Callable[[int, str], None]) -> None:
    """A question's SMS edition stays answerable: its options can be told apart, and the
    question with its options fits one USSD screen."""
    if q["sms_text"] is None and not any(q["sms_options"]):
        return
    options = [short or full for full, short in zip(q["options"], q["sms_options"],
                                                    strict=True)]
    seen: dict[str, int] = {}
    for index, option in enumerate(options):
        key = " ".join(option.lower().split())
        if key in seen:
            problem(q["line"], f"options {_LETTERS[seen[key]]} and {_LETTERS[index]} read the "
                    "same in the SMS edition; learners could not tell them apart")
            break
        seen[key] = index
    screen = len(q["sms_text"] or q["text"]) + sum(len(o) + 4 for o in options)
    if screen > MAX_QUESTION_SCREEN:
        problem(q["line"], f"the SMS form of the question and its options are {screen} "
                f"characters with numbering; keep them to {MAX_QUESTION_SCREEN} (one USSD "
                "screen)")


def _sms_options(q: dict) -> tuple[str | None, ...]:
    return tuple(q["sms_options"]) if any(q["sms_options"]) else ()
