"""Mistakes in how a course's folders are laid out, each reported as path:line: message
for the author: no course at all, a folder name that is no course id, a language folder
that is no language, no lessons in the default language, an empty summary table."""

from __future__ import annotations

from pathlib import Path

from tests.test_content import VALID, course_toml, problem_lines, write_course


def test_a_content_folder_without_courses_says_so(tmp_path: Path):
    assert problem_lines(tmp_path) == [f"{tmp_path}:1: no course folders found"]


def test_a_course_folder_named_with_capitals_is_a_problem(tmp_path: Path):
    write_course(tmp_path, "Demo_Course")
    assert problem_lines(tmp_path) == [
        f"{tmp_path / 'Demo_Course'}:1: course folder name must be lowercase letters, "
        "digits, hyphens"]


def test_a_language_folder_that_is_no_language_code_is_named(tmp_path: Path):
    write_course(tmp_path, files={"en/one.txt": VALID, "english/one.txt": VALID})
    assert f"{tmp_path / 'demo' / 'english'}:1: folder name is not a language code" \
        in problem_lines(tmp_path)


def test_a_course_without_lessons_in_its_default_language_is_a_problem(tmp_path: Path):
    write_course(tmp_path, files={"fr/one.txt": VALID})
    assert f"{tmp_path / 'demo' / 'en'}:1: no lessons in the default locale 'en'" \
        in problem_lines(tmp_path)


def test_an_empty_summary_table_names_its_line(tmp_path: Path):
    write_course(tmp_path, toml=course_toml() + "\n[summary]\n")
    assert problem_lines(tmp_path) == [
        f"{tmp_path / 'demo' / 'course.toml'}:10: [summary] must give one text per language, "
        'e.g. en = "..."']
