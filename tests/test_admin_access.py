"""Who may reach the operator's dashboard: failed guesses limited per address and
overall, the right token never locked out by others' failures, and no short token."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from gateway import create_app
from gateway.config import ConfigError
from tests.fakes.clock import SimulatedClock
from tests.ports import free_port

TOKEN = "admin-access-token-for-tests-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def admin(db_path, carriers_file):
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                      "SECRET_KEY": "admin-access-secret-0123456789", "ADMIN_TOKEN": TOKEN,
                      "CLOCK": SimulatedClock(1_800_000_000.0)})
    return app.test_client()


def _later(client, seconds: float) -> None:
    client.application.config["CLOCK"].now += seconds


def _at(address: str) -> dict:
    return {"REMOTE_ADDR": address}


def _signin_csrf(client) -> str:
    html = client.get("/admin/signin").text
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_the_right_token_is_never_counted_as_a_guess(admin):
    """A script polling the CSV with the right token, from one address (or every client
    behind one proxy address), is never held back."""
    for _ in range(30):
        assert admin.get("/admin/activity.csv", headers=BEARER,
                         environ_base=_at("203.0.113.7")).status_code == 200


def test_failed_guesses_are_limited_overall_but_not_the_right_token(admin):
    """Guesses spread over many addresses (2 each, far under each address's limit): past
    the overall limit an address that guessed wrong is refused without a check, while
    the operator, from an address with no failures, still gets in by token or form.
    (Before, every attempt counted, only per address: the operator behind a shared
    address was locked out, and guesses from many addresses were never held back.)"""
    answers = []
    for n in range(60):
        for guess in range(2):
            answers.append(admin.get("/admin", headers={
                "Authorization": f"Bearer guess-{n}-{guess}"},
                environ_base=_at(f"198.51.100.{n}")).status_code)
    assert answers[:100] == [403] * 100
    # Past the overall limit: one check for a fresh address (at most one a second
    # between all of them), then none for an address that failed.
    assert answers[100:] == [403] + [429] * 19
    assert admin.get("/admin", headers={"Authorization": "Bearer guess-0-2"},
                     environ_base=_at("198.51.100.0")).status_code == 429
    _later(admin, 1.5)
    assert admin.get("/admin", headers=BEARER,
                     environ_base=_at("203.0.113.9")).status_code == 200
    form = admin.application.test_client()
    csrf_token = _signin_csrf(form)
    _later(admin, 1.5)
    signed = form.post("/admin/signin", data={"csrf": csrf_token, "token": TOKEN},
                       environ_base=_at("203.0.113.10"))
    assert signed.status_code == 303
    assert form.get("/admin", environ_base=_at("203.0.113.10")).status_code == 200


@pytest.mark.parametrize("token", ["hunter2", "x" * 23, " " + "y" * 20 + " "])
def test_a_short_admin_token_stops_start_up_with_one_line(db_path, carriers_file,
                                                          monkeypatch, token):
    monkeypatch.setenv("LEARNLINE_ADMIN_TOKEN", token)
    with pytest.raises(ConfigError) as raised:
        create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file)})
    message = str(raised.value)
    assert "\n" not in message and "LEARNLINE_ADMIN_TOKEN" in message and "24" in message
    assert token.strip() not in message  # never the secret itself


def test_a_long_enough_admin_token_turns_the_dashboard_on(db_path, carriers_file,
                                                          monkeypatch):
    monkeypatch.setenv("LEARNLINE_ADMIN_TOKEN", "z" * 24)
    client = create_app({"DATABASE": str(db_path),
                         "CARRIERS_FILE": str(carriers_file)}).test_client()
    assert client.get("/admin", headers={"Authorization": "Bearer " + "z" * 24}
                      ).status_code == 200


def test_serve_refuses_a_short_admin_token_with_one_line(tmp_path, carriers_file):
    env = {**os.environ, "LEARNLINE_DB": str(tmp_path / "served.db"),
           "LEARNLINE_CARRIERS": str(carriers_file), "LEARNLINE_ADMIN_TOKEN": "short-token"}
    result = subprocess.run([sys.executable, "-m", "gateway.cli", "serve", "--no-worker",
                             "--port", str(free_port())], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: LEARNLINE_ADMIN_TOKEN has 11 characters: at least 24 are needed (make one "
        "with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"]


def test_the_addresses_of_one_ipv6_64_are_one_address_to_the_limit(admin):
    """An attacker given a /64 has 2^64 addresses: they count as one."""
    answers = [admin.get("/admin", headers={"Authorization": f"Bearer guess-{n}"},
                         environ_base=_at(f"2001:db8:7:1::{n:x}")).status_code
               for n in range(21)]
    assert answers == [403] * 20 + [429]
    assert admin.get("/admin", headers={"Authorization": "Bearer guess"},
                     environ_base=_at("2001:db8:7:2::1")).status_code == 403


def test_past_the_overall_limit_fresh_addresses_are_checked_at_a_global_pace(admin):
    """Past the overall failed-guess limit, an attacker with many fresh addresses (a /48
    gives 65,536 /64s) gets one check a second between them all, not one each; the
    operator's token still gets in once the second has passed."""
    for n in range(100):
        admin.get("/admin", headers={"Authorization": f"Bearer guess-{n}"},
                  environ_base=_at(f"198.51.100.{n}"))
    fresh = [admin.get("/admin", headers={"Authorization": f"Bearer fresh-{n}"},
                       environ_base=_at(f"2001:db8:{n:x}::1")).status_code for n in range(50)]
    assert fresh == [403] + [429] * 49
    _later(admin, 1.5)
    assert admin.get("/admin", headers=BEARER,
                     environ_base=_at("203.0.113.9")).status_code == 200
