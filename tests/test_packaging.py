"""The wheel carries the lessons, catalogs and gunicorn settings, and finds them once installed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from this checkout with pip and hatchling."""
    out = tmp_path_factory.mktemp("wheel")
    base = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out)]
    built = subprocess.run([*base, "--no-build-isolation", "--no-index", str(REPO)],
                           capture_output=True, text=True, timeout=300)
    if built.returncode != 0:  # hatchling missing here: let pip fetch it in isolation
        built = subprocess.run([*base, str(REPO)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    [found] = out.glob("learnline-*.whl")
    return found


@pytest.fixture(scope="module")
def names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def _bundled_lesson_files() -> list[str]:
    root = REPO / "lessons"
    return sorted(
        "gateway/_bundled/lessons/" + path.relative_to(root).as_posix()
        for path in root.rglob("*") if path.is_file()
    )


@pytest.mark.parametrize(
    "name",
    [
        "gateway/_bundled/lessons/start-freelancing/course.toml",
        "gateway/_bundled/lessons/start-freelancing/fr/find-your-skill.txt",
        "gateway/_bundled/locales/fr/LC_MESSAGES/messages.po",
        "gateway/_bundled/locales/en/LC_MESSAGES/messages.po",
        "gateway/_bundled/gunicorn.conf.py",
        "gateway/paths.py",
        "gateway/cli/main.py",
        "carrier_adapters/base.py",
    ],
)
def test_wheel_contains(names, name):
    assert name in names


def test_wheel_carries_every_lesson_file_of_every_locale(names):
    expected = _bundled_lesson_files()
    assert any("/fr/" in n for n in expected) and any("/en/" in n for n in expected)
    assert sorted(n for n in names if n.startswith("gateway/_bundled/lessons/")) == expected


def test_wheel_declares_the_learnline_script(wheel, names):
    [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(entry_points).decode()
    assert "[console_scripts]" in text
    assert "learnline = gateway.cli:main" in text.splitlines()


PROBE = """
import json
import gateway, gateway.paths as paths
from gateway.content import load_courses
from gateway.i18n import available_locales
courses, problems = load_courses(paths.lessons_dir())
print(json.dumps({
    "package": gateway.__file__,
    "lessons": str(paths.lessons_dir()),
    "locales": str(paths.locales_dir()),
    "gunicorn": str(paths.gunicorn_config()),
    "courses": [[c.id, c.code, list(c.locales)] for c in courses],
    "problems": [str(p) for p in problems],
    "available": list(available_locales()),
}))
"""


@pytest.fixture(scope="module")
def unpacked(wheel: Path, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def _run_from(unpacked: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEARNLINE_", "PYTHON"))}
    env["PYTHONPATH"] = str(unpacked)  # the wheel's files first; dependencies from the venv
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_wheel_is_the_version_the_gateway_reports(wheel, names, unpacked, tmp_path):
    """`pip show learnline` and /healthz name the same release (gateway/version.py)."""
    from gateway.version import VERSION

    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION)
    assert wheel.name.startswith(f"learnline-{VERSION}-")
    [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
    with zipfile.ZipFile(wheel) as archive:
        assert f"Version: {VERSION}" in archive.read(metadata).decode().splitlines()
    result = _run_from(unpacked, tmp_path, "-m", "gateway.cli", "--version")
    assert result.returncode == 0 and result.stdout == f"learnline {VERSION}\n"
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"\n## {VERSION} " in changelog  # every release says what it changed


def test_installed_wheel_finds_its_bundled_content(unpacked, tmp_path):
    result = _run_from(unpacked, tmp_path, "-c", PROBE)

    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    for key in ("package", "lessons", "locales", "gunicorn"):
        assert Path(found[key]).is_relative_to(unpacked), (key, found[key])
    assert Path(found["lessons"]) == unpacked / "gateway" / "_bundled" / "lessons"
    assert Path(found["gunicorn"]) == unpacked / "gateway" / "_bundled" / "gunicorn.conf.py"
    assert found["courses"] == [["start-freelancing", "FREELANCE",
                                 ["en", "ar", "fr", "pt", "sw"]]]
    assert found["problems"] == []
    assert found["available"][0] == "en"
    assert {"en", "ar", "fr", "pt", "sw"} <= set(found["available"])  # every bundled catalog


def test_installed_wheel_runs_the_cli(unpacked, tmp_path):
    result = _run_from(unpacked, tmp_path, "-m", "gateway.cli", "lessons", "check")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        "start-freelancing (FREELANCE): 6 lessons, locales en, ar, fr, pt, sw\n")
    assert result.stdout.rstrip().endswith("ok: no problems")
