"""Forwarded headers: trusted only from the proxies Learnline is told about, so clients
behind nginx keep their own limits, and nobody reaching the server directly can claim
another address (least of all the machine's own)."""

from __future__ import annotations

import logging
import re

import pytest

from gateway import create_app
from gateway.config import ConfigError
from tests.conftest import csrf

CONSOLE = '[carriers.local]\nadapter = "console"\n'
INBOUND = {"from": "+2348030000000", "text": "START"}


@pytest.fixture
def console_carriers(tmp_path):
    path = tmp_path / "console.toml"
    path.write_text(CONSOLE)
    return path


def _app(db_path, carriers, **config):
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers),
                       "SECRET_KEY": "proxies-secret-key-0123456789", **config})


def _via(peer: str, forwarded_for: str | None = None) -> dict:
    """What a request carries when `peer` connects, perhaps naming a client it forwards."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return {"environ_base": {"REMOTE_ADDR": peer}, "headers": headers}


def test_clients_behind_nginx_on_this_machine_keep_their_own_limits(db_path, carriers_file,
                                                                    monkeypatch):
    """Every client behind nginx (loopback, trusted by default) is its own address: one
    client over the per-address sign-in limit leaves the next one their code."""
    monkeypatch.delenv("LEARNLINE_TRUSTED_PROXIES", raising=False)
    monkeypatch.delenv("LEARNLINE_PROXY_HOPS", raising=False)
    client = _app(db_path, carriers_file).test_client()
    token = csrf(client)
    answers = [client.post("/signin", data={"csrf": token,
                                            "phone": f"+234803{n:02d}00000"},
                           **_via("127.0.0.1", "203.0.113.5")).status_code
               for n in range(11)]
    assert answers == [302] * 10 + [429]
    assert client.post("/signin", data={"csrf": token, "phone": "+2348059900000"},
                       **_via("127.0.0.1", "198.51.100.6")).status_code == 302


@pytest.mark.parametrize("hops", ["0", "1"])
def test_a_spoofed_loopback_from_outside_opens_nothing(db_path, console_carriers, hops,
                                                       monkeypatch):
    """Reaching the server's port directly with "X-Forwarded-For: 127.0.0.1": /metrics
    and the loopback-only console webhook still see the caller's own address (whatever
    the old LEARNLINE_PROXY_HOPS says)."""
    monkeypatch.setenv("LEARNLINE_PROXY_HOPS", hops)
    client = _app(db_path, console_carriers).test_client()
    assert client.get("/metrics", **_via("203.0.113.9", "127.0.0.1")).status_code == 403
    answer = client.post("/carriers/local/sms", data={**INBOUND, "id": "spoofed"},
                         **_via("203.0.113.9", "127.0.0.1"))
    assert answer.status_code == 403


def test_a_forwarded_loopback_is_never_local(db_path, console_carriers):
    """Through the proxy, whatever the client wrote: a request forwarded by nginx is not
    the machine's own, even when the forwarded address is loopback."""
    client = _app(db_path, console_carriers).test_client()
    for chain in ("127.0.0.1", "127.0.0.1, 203.0.113.9", "::1", "not-an-address, 127.0.0.1"):
        assert client.get("/metrics", **_via("127.0.0.1", chain)).status_code == 403, chain
        answer = client.post("/carriers/local/sms", data={**INBOUND, "id": chain},
                             **_via("127.0.0.1", chain))
        assert answer.status_code == 403, chain
    # the machine itself, directly: as before
    assert client.get("/metrics", **_via("127.0.0.1")).status_code == 200
    assert client.post("/carriers/local/sms", data={**INBOUND, "id": "local"},
                       **_via("127.0.0.1")).status_code == 200


def test_only_configured_proxies_are_trusted(db_path, carriers_file, monkeypatch):
    """A proxy on another machine, named in LEARNLINE_TRUSTED_PROXIES: its forwarded
    address counts (and nobody else's); the scheme it forwards makes the cookie Secure."""
    monkeypatch.setenv("LEARNLINE_TRUSTED_PROXIES", "10.0.0.0/24, ::1")
    client = _app(db_path, carriers_file).test_client()
    token = csrf(client)
    for n in range(10):
        client.post("/signin", data={"csrf": token, "phone": f"+234803{n:02d}00000"},
                    **_via("10.0.0.2", "203.0.113.5"))
    over = client.post("/signin", data={"csrf": token, "phone": "+2348031100000"},
                       **_via("10.0.0.3", "203.0.113.5"))
    assert over.status_code == 429  # the same client through another proxy of the list
    # loopback is no longer trusted: its forwarded address is ignored
    for n in range(10):
        client.post("/signin", data={"csrf": token, "phone": f"+234805{n:02d}00000"},
                    **_via("127.0.0.1", f"198.51.100.{n}"))
    assert client.post("/signin", data={"csrf": token, "phone": "+2348071100000"},
                       **_via("127.0.0.1", "198.51.100.99")).status_code == 429
    page = client.application.test_client().get(
        "/signin", environ_base={"REMOTE_ADDR": "10.0.0.2"},
        headers={"X-Forwarded-For": "203.0.113.5", "X-Forwarded-Proto": "https"})
    assert "Secure" in page.headers["Set-Cookie"]
    page = client.application.test_client().get(
        "/signin", environ_base={"REMOTE_ADDR": "203.0.113.5"},
        headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in page.headers["Set-Cookie"]


@pytest.mark.parametrize("value", ["nginx", "10.0.0.0/33", "127.0.0.1,,bad"])
def test_a_bad_trusted_proxies_setting_stops_start_up(db_path, monkeypatch, value):
    monkeypatch.setenv("LEARNLINE_TRUSTED_PROXIES", value)
    with pytest.raises(ConfigError, match=r"^LEARNLINE_TRUSTED_PROXIES: '.*' is not an "
                                          r"IP address or network"):
        create_app({"DATABASE": str(db_path)})


@pytest.mark.parametrize(("env", "warning"), [
    ({"LEARNLINE_PROXY_HOPS": "1"}, "LEARNLINE_PROXY_HOPS is no longer read"),
    ({"LEARNLINE_TRUSTED_PROXIES": "0.0.0.0/0"}, "trusts public addresses"),
    ({"LEARNLINE_TRUSTED_PROXIES": "10.0.0.1,8.8.8.0/24"}, "trusts public addresses"),
])
def test_start_up_says_when_the_proxy_setting_looks_wrong(db_path, monkeypatch, caplog,
                                                          env, warning):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with caplog.at_level(logging.WARNING, logger="gateway"):
        create_app({"DATABASE": str(db_path)})
    assert any(re.search(warning, record.getMessage()) for record in caplog.records)


def test_a_private_proxy_network_starts_quietly(db_path, monkeypatch, caplog):
    monkeypatch.setenv("LEARNLINE_TRUSTED_PROXIES", "10.0.0.0/24,127.0.0.1")
    monkeypatch.delenv("LEARNLINE_PROXY_HOPS", raising=False)
    with caplog.at_level(logging.WARNING, logger="gateway"):
        create_app({"DATABASE": str(db_path)})
    assert [r for r in caplog.records if "PROXIES" in r.getMessage()
            or "PROXY_HOPS" in r.getMessage()] == []
