"""`learnline i18n` pointed at the wrong place says so in one line, exit code 1, and
writes nothing: a folder that is not there, one with no catalogs, no template to update
or start a catalog from, a catalog that already exists."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.test_cli_i18n import REPO, run


@pytest.mark.parametrize("command", ["check", "compile"])
def test_a_missing_folder_of_catalogs_is_named(tmp_path: Path, command: str):
    missing = tmp_path / "nowhere"
    done = run("i18n", command, "--locales", str(missing))
    assert done.returncode == 1
    assert done.stderr.strip() == f"Error: {missing}: no such folder of catalogs"


def test_a_folder_without_catalogs_says_so(tmp_path: Path):
    done = run("i18n", "check", "--locales", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip() == \
        f"Error: no catalogs (*/LC_MESSAGES/messages.po) in {tmp_path}"


@pytest.mark.parametrize("command", [("update",), ("init", "wo")])
def test_without_a_template_update_and_init_say_to_extract_first(tmp_path: Path, command):
    done = run("i18n", *command, "--locales", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip() == (f"Error: {tmp_path / 'messages.pot'} not found; run "
                                   "`learnline i18n extract` first")
    assert list(tmp_path.iterdir()) == []


def test_init_refuses_a_language_that_already_has_a_catalog(tmp_path: Path):
    locales = tmp_path / "locales"
    shutil.copytree(REPO / "locales", locales)
    before = (locales / "fr" / "LC_MESSAGES" / "messages.po").read_bytes()
    done = run("i18n", "init", "fr", "--locales", str(locales))
    assert done.returncode == 1
    assert done.stderr.strip() == (f"Error: {locales / 'fr' / 'LC_MESSAGES' / 'messages.po'} "
                                   "exists; use `learnline i18n update`")
    assert (locales / "fr" / "LC_MESSAGES" / "messages.po").read_bytes() == before
