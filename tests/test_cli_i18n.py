"""`learnline i18n`: the translator's workflow, and the catalog gate CI runs.

`test_shipped_catalogs_are_complete` is the CI gate: `make test` fails when a shipped
catalog (any locales/<lang>/LC_MESSAGES/messages.po) is incomplete, fuzzy, broken or has
a placeholder that differs from the source.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from tests.test_content import VALID, course_toml, write_course

REPO = Path(__file__).resolve().parent.parent
LOCALES = REPO / "locales"
# locale, translated, total, share, fuzzy, placeholders, commands, status (review skipped:
# REVIEW reads it).
ROW = re.compile(
    r"^(\w+)\s+(\d+)/(\d+)\s+([\d.]+)%\s+(\d+)\s+\d+\s+(\d+)\s+(\d+)\s+(ok|FAIL)$")
REVIEW = re.compile(r"^(\w+)\s+\d+/\d+\s+[\d.]+%\s+\d+\s+(\d+)\s", re.M)
TALLY = "%(course)s: %(done)d/%(count)d lessons done, %(score)d/%(total)d right."


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LEARNLINE_")}
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=60)


def rows(output: str) -> dict[str, re.Match]:
    return {m.group(1): m for m in map(ROW.match, output.splitlines()) if m}


def shipped_locales() -> set[str]:
    return {p.parent.parent.name for p in LOCALES.glob("*/LC_MESSAGES/messages.po")}


# -- the CI gate -----------------------------------------------------------------------------


def test_shipped_catalogs_are_complete():
    result = run("i18n", "check")

    assert result.returncode == 0, result.stdout + result.stderr
    table = rows(result.stdout)
    assert set(table) == shipped_locales() >= {"en", "fr"}
    for locale, row in table.items():
        assert row.group(4) == "100.0" and row.group(8) == "ok", (locale, row.group(0))
        assert row.group(2) == row.group(3), locale
    assert result.stdout.splitlines()[-1].startswith("ok: ")


def test_template_matches_the_code(tmp_path):
    # `learnline i18n extract` run now gives the committed template: a string added to
    # or changed in the code without extract + update fails here.
    out = tmp_path / "messages.pot"
    result = run("i18n", "extract", "--output", str(out))

    assert result.returncode == 0, result.stderr

    def body(path: Path) -> list[str]:
        return [line for line in path.read_text(encoding="utf-8").splitlines()
                if not line.startswith('"POT-Creation-Date:')]

    assert body(out) == body(LOCALES / "messages.pot"), "run: learnline i18n extract"


def test_update_leaves_the_committed_catalogs_unchanged(tmp_path):
    copy = tmp_path / "locales"
    shutil.copytree(LOCALES, copy)

    result = run("i18n", "update", "--locales", str(copy))

    assert result.returncode == 0, result.stderr
    changed = [str(p.relative_to(copy)) for p in copy.rglob("*.po")
               if p.read_bytes() != (LOCALES / p.relative_to(copy)).read_bytes()]
    assert changed == [], "run: learnline i18n update"


# -- check's failure modes, on a copy of en and fr ------------------------------------------


@pytest.fixture
def locales(tmp_path) -> Path:
    copy = tmp_path / "locales"
    copy.mkdir()
    shutil.copy(LOCALES / "messages.pot", copy)
    for locale in ("en", "fr"):
        shutil.copytree(LOCALES / locale, copy / locale)
    return copy


def edit(folder: Path, locale: str, changes: dict[tuple[str | None, str], object]) -> None:
    path = folder / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fp:
        catalog = read_po(fp, locale=locale)
    for (context, msgid), string in changes.items():
        message = catalog.get(msgid, context=context)
        assert message is not None, msgid
        message.string = string
    with path.open("wb") as fp:
        write_po(fp, catalog, width=100)


def mark_help_entry(folder: Path, line: str) -> None:
    """Put a comment or flag line on the French HELP command entry, as a translator would."""
    path = folder / "fr" / "LC_MESSAGES" / "messages.po"
    entry = 'msgctxt "command"\nmsgid "HELP"'
    path.write_text(path.read_text(encoding="utf-8").replace(entry, f"{line}\n{entry}"),
                    encoding="utf-8")


def test_check_passes_on_the_copy(locales):
    result = run("i18n", "check", "--locales", str(locales))

    assert result.returncode == 0, result.stdout
    assert set(rows(result.stdout)) == {"en", "fr"}


def test_check_fails_on_a_whatsapp_button_text_over_its_limit(locales):
    """The Next command word and a list's button are WhatsApp button texts (20 at most):
    a translation longer fails, named with its text and by how much; shipped ones fit."""
    edit(locales, "fr", {("command", "NEXT"): "CONTINUEZ-LA-LECTURE-ICI SUITE",
                         (None, "Reply %(letters)s"): "Répondez par une lettre, %(letters)s"})

    result = run("i18n", "check", "--locales", str(locales))

    assert result.returncode == 1
    table = rows(result.stdout)
    assert table["fr"].group(8) == "FAIL" and table["en"].group(8) == "ok"
    over = [line for line in result.stdout.splitlines() if "WhatsApp" in line]
    assert over == [
        "fr: '[command] NEXT': 'CONTINUEZ-LA-LECTURE-ICI' is a WhatsApp button's text: "
        "24 characters, 4 over WhatsApp's 20",
        "fr: 'Reply %(letters)s': 'Répondez par une lettre, A-D' is a WhatsApp button's "
        "text: 28 characters, 8 over WhatsApp's 20"], result.stdout


def test_check_fails_on_a_placeholder_that_differs(locales):
    edit(locales, "fr", {(None, TALLY): "%(cours)s : %(done)d/%(count)d leçons, "
                                          "%(score)d/%(total)d justes."})

    result = run("i18n", "check", "--locales", str(locales))

    assert result.returncode == 1
    table = rows(result.stdout)
    assert table["fr"].group(8) == "FAIL" and table["fr"].group(6) == "1"
    assert table["fr"].group(4) == "100.0"  # translated, but wrong
    assert table["en"].group(8) == "ok"
    mismatch = [line for line in result.stdout.splitlines()
                if line.startswith("fr: placeholders differ:")]
    assert len(mismatch) == 1 and "%(cours)" in mismatch[0] and "%(course)" in mismatch[0]
    assert "1 catalog(s) fail" in result.stderr


def test_check_fails_on_a_missing_translation_and_reports_empty_command_words(locales):
    edit(locales, "fr", {(None, TALLY): "", ("command", "HELP"): ""})

    result = run("i18n", "check", "--locales", str(locales), "--verbose")

    assert result.returncode == 1
    fr = rows(result.stdout)["fr"]
    assert int(fr.group(2)) == int(fr.group(3)) - 2
    assert fr.group(7) == "1" and fr.group(8) == "FAIL"
    assert "fr: empty command word: 'HELP'" in result.stdout.splitlines()
    assert f"fr: untranslated: {TALLY!r}" in result.stdout.splitlines()

    # A lower bar lets a catalog in progress through; placeholders still count.
    assert run("i18n", "check", "--locales", str(locales), "--min-share", "0.95").returncode == 0


def test_check_fails_on_a_fuzzy_entry(locales):
    mark_help_entry(locales, "#, fuzzy")

    result = run("i18n", "check", "--locales", str(locales))

    assert result.returncode == 1
    assert rows(result.stdout)["fr"].group(5) == "1"


def test_strings_flagged_for_review_are_counted_and_listed_but_pass(locales):
    mark_help_entry(locales, "# review: is AIDE the word learners expect?")

    result = run("i18n", "check", "--locales", str(locales), "--verbose")

    assert result.returncode == 0, result.stdout
    assert {m.group(1): m.group(2) for m in REVIEW.finditer(result.stdout)} == {
        "en": "0", "fr": "1"}
    assert rows(result.stdout)["fr"].group(8) == "ok"
    assert ("fr: to review: '[command] HELP': is AIDE the word learners expect?"
            in result.stdout.splitlines())


def test_a_plural_form_for_one_number_may_spell_it_out(locales):
    # Arabic's forms for 0, 1 and 2 each serve one number: "درسان" (two lessons) needs no
    # digit. French's first form serves 0 and 1: it must keep the number.
    lesson = ("%(num)d lesson", "%(num)d lessons")
    shutil.copytree(LOCALES / "ar", locales / "ar")
    edit(locales, "ar", {(None, lesson): ("لا دروس", "درس واحد", "درسان", "%(num)d دروس",
                                         "%(num)d درسا", "%(num)d درس")})
    edit(locales, "fr", {(None, lesson): ("une leçon", "%(num)d leçons", "%(num)d leçons")})

    result = run("i18n", "check", "--locales", str(locales), "--verbose")

    table = rows(result.stdout)
    assert table["ar"].group(8) == "ok" and table["ar"].group(6) == "0", result.stdout
    assert table["fr"].group(8) == "FAIL" and table["fr"].group(6) == "1"
    assert any(line.startswith("fr: placeholders differ: '%(num)d lesson'")
               for line in result.stdout.splitlines())


def test_check_fails_on_a_catalog_that_does_not_parse(locales):
    path = locales / "fr" / "LC_MESSAGES" / "messages.po"
    path.write_text(path.read_text(encoding="utf-8") + '\nmsgid "dangling\n', encoding="utf-8")

    result = run("i18n", "check", "--locales", str(locales))

    assert result.returncode == 1
    assert any(line.startswith("fr: does not parse or compile:")
               for line in result.stdout.splitlines())
    assert "Traceback" not in result.stderr
    assert run("i18n", "compile", "--locales", str(locales)).returncode == 1


def test_check_counts_strings_missing_from_a_catalog(locales):
    # A catalog nobody updated after extract: the template's new strings count against it.
    with (locales / "messages.pot").open("rb") as fp:
        template = read_po(fp)
    template.add("A string added to the code")
    with (locales / "messages.pot").open("wb") as fp:
        write_po(fp, template, width=100)

    result = run("i18n", "check", "--locales", str(locales))

    assert result.returncode == 1
    assert {r.group(8) for r in rows(result.stdout).values()} == {"FAIL"}


def test_compile_validates_without_writing_mo_files(locales):
    result = run("i18n", "compile", "--locales", str(locales))

    assert result.returncode == 0, result.stderr
    assert "fr: " in result.stdout and "compiles" in result.stdout
    assert list(locales.rglob("*.mo")) == []


def test_init_starts_a_catalog_that_check_then_wants_translated(locales):
    result = run("i18n", "init", "ha", "--locales", str(locales))

    assert result.returncode == 0, result.stderr
    assert (locales / "ha" / "LC_MESSAGES" / "messages.po").is_file()
    assert "learnline i18n check" in result.stdout
    check = run("i18n", "check", "--locales", str(locales))
    assert check.returncode == 1
    assert rows(check.stdout)["ha"].group(2) == "0"
    assert "ha: empty command word: 'HELP'" in check.stdout.splitlines()

    again = run("i18n", "init", "ha", "--locales", str(locales))
    assert again.returncode == 1 and "exists" in again.stderr
    assert run("i18n", "init", "klingon", "--locales", str(locales)).returncode == 2


# -- lesson content per locale ----------------------------------------------------------------


def test_lessons_check_reports_lessons_missing_a_locale(tmp_path):
    root = tmp_path / "lessons"
    write_course(root, toml=course_toml(lessons=("one", "two")),
                 files={"en/one.txt": VALID, "en/two.txt": VALID, "fr/one.txt": VALID})

    result = run("lessons", "check", str(root), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "  fr: missing two" in lines
    assert "  all lessons in en" in lines
    for locale in shipped_locales() - {"en", "fr"}:
        assert f"  {locale}: no lessons (learners get en)" in lines
    assert lines[-1] == "ok: 1 warning(s)"
