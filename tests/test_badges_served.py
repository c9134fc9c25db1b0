"""Open Badges' settings as a real `learnline serve` and `learnline worker` read them: a
value that cannot be used stops each at start-up with one line naming the setting, before
the banner; the banner says where badges are issued from and where statements go."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ports import free_port
from tests.served import serve_gateway

PUBLIC = "https://learn.example.org"
ISSUER = "Learn Kano <badges@learn.example.org>"
SETTINGS = ("LEARNLINE_PUBLIC_URL", "LEARNLINE_BADGE_ISSUER", "LEARNLINE_BADGE_SIGNING_KEY",
            "LEARNLINE_LRS_ENDPOINT", "LEARNLINE_LRS_USERNAME", "LEARNLINE_LRS_PASSWORD",
            "LEARNLINE_XAPI_BASE_IRI")

BAD = [
    ({"LEARNLINE_PUBLIC_URL": PUBLIC, "LEARNLINE_BADGE_ISSUER": "Learn Kano"},
     "LEARNLINE_BADGE_ISSUER"),
    ({"LEARNLINE_PUBLIC_URL": "learn.example.org", "LEARNLINE_BADGE_ISSUER": ISSUER},
     "LEARNLINE_PUBLIC_URL"),
    ({"LEARNLINE_PUBLIC_URL": PUBLIC, "LEARNLINE_BADGE_ISSUER": ISSUER,
      "LEARNLINE_BADGE_SIGNING_KEY": "/nonexistent/learnline-badge-key.pem"},
     "LEARNLINE_BADGE_SIGNING_KEY"),
    # Set alone, a value that cannot be used is said all the same: badges would be off,
    # but the operator meant something by it.
    ({"LEARNLINE_BADGE_ISSUER": "Learn Kano"}, "LEARNLINE_BADGE_ISSUER"),
    ({"LEARNLINE_PUBLIC_URL": "learn.example.org"}, "LEARNLINE_PUBLIC_URL"),
]
IDS = ["issuer", "url", "key", "issuer-alone", "url-alone"]


def _env(tmp_path: Path, settings: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    return {**env, "LEARNLINE_DB": str(tmp_path / "badges.db"), **settings}


def _run(tmp_path: Path, settings: dict[str, str], *command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gateway.cli", *command],
                          env=_env(tmp_path, settings), cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize(("settings", "named"), BAD, ids=IDS)
def test_a_bad_badge_setting_stops_serve_with_one_line_before_the_banner(
        tmp_path, settings, named):
    done = _run(tmp_path, settings, "serve", "--no-worker", "--port", str(free_port()))
    said = (done.stdout + done.stderr).strip()
    assert done.returncode == 1, said
    assert "Traceback" not in said and "Learnline gateway on" not in said, said
    [line] = said.splitlines()
    assert line.startswith(f"Error: {named}="), line


@pytest.mark.parametrize(("settings", "named"), BAD, ids=IDS)
def test_a_bad_badge_setting_stops_the_worker_with_one_line(tmp_path, settings, named):
    done = _run(tmp_path, settings, "worker", "--drain")
    said = (done.stdout + done.stderr).strip()
    assert done.returncode == 1, said
    assert "Traceback" not in said and "sent " not in said, said
    [line] = said.splitlines()
    assert line.startswith(f"Error: {named}="), line


def test_the_banner_names_the_badge_issuer_and_the_lrs(tmp_path, carriers_file, monkeypatch):
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LEARNLINE_PUBLIC_URL", PUBLIC + "/")
    monkeypatch.setenv("LEARNLINE_BADGE_ISSUER", ISSUER)
    lrs = f"http://127.0.0.1:{free_port()}/xAPI/"
    monkeypatch.setenv("LEARNLINE_LRS_ENDPOINT", lrs)
    monkeypatch.setenv("LEARNLINE_LRS_USERNAME", "school")
    monkeypatch.setenv("LEARNLINE_LRS_PASSWORD", "lrs-password-never-shown")
    for gateway in serve_gateway(tmp_path, carriers_file):
        banner = gateway.log.read_text()
        assert f"  open badges: issued by Learn Kano at {PUBLIC}/badges/issuer" in banner
        assert f"  LRS: learning statements go to {lrs}" in banner
        assert "lrs-password-never-shown" not in banner

    monkeypatch.delenv("LEARNLINE_BADGE_ISSUER")
    monkeypatch.delenv("LEARNLINE_LRS_ENDPOINT")
    monkeypatch.delenv("LEARNLINE_LRS_USERNAME")
    monkeypatch.delenv("LEARNLINE_LRS_PASSWORD")
    off = tmp_path / "off"
    off.mkdir()
    for gateway in serve_gateway(off, carriers_file):
        banner = gateway.log.read_text()
        assert "open badges" not in banner and "LRS" not in banner
