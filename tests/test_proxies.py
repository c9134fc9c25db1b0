"""Forwarded headers: trusted only from the proxies Learnline is told about, so clients
behind nginx keep their own limits, and nobody reaching the server directly can claim
another address (least of all the machine's own)."""

from __future__ import annotations

import http.client
import logging
import re
import subprocess
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from gateway import create_app
from gateway.config import ConfigError
from gateway.ops.doctor import diagnose
from tests.conftest import csrf
from tests.ports import free_port
from tests.served import serve_gateway

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
    # doctor says it too: start-up's log is read less often than doctor's verdict.
    said = [f"{finding}" for finding in diagnose(db_path) if finding.subject == "proxies"]
    assert any(re.search(warning, line) and line.startswith("WARN") for line in said), said


def test_doctor_fails_a_trusted_proxies_setting_that_is_no_address(db_path, monkeypatch):
    monkeypatch.setenv("LEARNLINE_TRUSTED_PROXIES", "nginx.local")
    [finding] = [f for f in diagnose(db_path) if f.subject == "proxies"]
    assert str(finding) == ("FAIL proxies: LEARNLINE_TRUSTED_PROXIES: 'nginx.local' is not an "
                            "IP address or network (e.g. 127.0.0.1,::1 or 10.0.0.0/24)")
    monkeypatch.setenv("LEARNLINE_TRUSTED_PROXIES", "127.0.0.1,10.0.0.0/8")
    assert [f for f in diagnose(db_path) if f.subject == "proxies"] == []


def test_a_proxy_left_out_of_the_list_is_named_once(db_path, carriers_file, monkeypatch,
                                                     caplog):
    """A proxy on another machine not in LEARNLINE_TRUSTED_PROXIES: every client behind
    it would share its limits, so the log says so, once, naming its address."""
    monkeypatch.delenv("LEARNLINE_TRUSTED_PROXIES", raising=False)
    client = _app(db_path, carriers_file).test_client()
    with caplog.at_level(logging.WARNING, logger="gateway"):
        for n in range(3):
            client.get("/", **_via("172.17.0.1", f"203.0.113.{n}"))
    told = [r.getMessage() for r in caplog.records if "X-Forwarded-For" in r.getMessage()]
    assert len(told) == 1 and "172.17.0.1" in told[0]
    assert "LEARNLINE_TRUSTED_PROXIES" in told[0]


def test_a_private_proxy_network_starts_quietly(db_path, monkeypatch, caplog):
    monkeypatch.setenv("LEARNLINE_TRUSTED_PROXIES", "10.0.0.0/24,127.0.0.1")
    monkeypatch.delenv("LEARNLINE_PROXY_HOPS", raising=False)
    with caplog.at_level(logging.WARNING, logger="gateway"):
        create_app({"DATABASE": str(db_path)})
    assert [r for r in caplog.records if "PROXIES" in r.getMessage()
            or "PROXY_HOPS" in r.getMessage()] == []


# -- behind a real nginx ---------------------------------------------------------------------


def _nginx_conf(tmp_path, port: int, upstream: int) -> str:
    """A plain-HTTP nginx in front of the gateway, passing the headers the shipped
    configuration (deploy/nginx/learnline.conf) passes."""
    shipped = (Path(__file__).parent.parent / "deploy" / "nginx" / "learnline.conf").read_text()
    headers = "\n".join(re.findall(r"^\s*(proxy_set_header .*;)$", shipped, re.MULTILINE))
    assert "X-Forwarded-For $remote_addr" in headers
    temp = "\n".join(f"{kind}_temp_path {tmp_path}/nginx-{kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""daemon off;
master_process off;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    {temp}
    proxy_http_version 1.1;
    {headers}
    server {{
        listen 127.0.0.1:{port};
        location / {{ proxy_pass http://127.0.0.1:{upstream}; }}
    }}
}}
"""


def _ask(port: int, path: str, *, source: str, cookie: str = "", form: dict | None = None,
         forwarded_for: str | None = None) -> tuple[int, str, str]:
    """One request to 127.0.0.1:`port` from the loopback address `source`: (status,
    body, session cookie)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20,
                                            source_address=(source, 0))
    headers = {"Cookie": cookie} if cookie else {}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request("POST" if form is not None else "GET", path, body, headers)
    response = connection.getresponse()
    text = response.read().decode()
    found = re.search(r"learnline=([^;]+)", response.getheader("Set-Cookie") or "")
    connection.close()
    return response.status, text, f"learnline={found.group(1)}" if found else cookie


@pytest.fixture
def behind_nginx(tmp_path, carriers_file, monkeypatch):
    """`learnline serve` with its default settings, and nginx in front of it."""
    for name in ("LEARNLINE_TRUSTED_PROXIES", "LEARNLINE_PROXY_HOPS"):
        monkeypatch.delenv(name, raising=False)
    served = serve_gateway(tmp_path, carriers_file)
    gateway = next(served)
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(_nginx_conf(tmp_path, port, gateway.port))
    nginx = subprocess.Popen(["nginx", "-p", str(tmp_path), "-c", str(conf),
                              "-e", str(tmp_path / "nginx-error.log")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 10
        while True:
            try:
                if _ask(port, "/healthz", source="127.0.0.1")[0] == 200:
                    break
            except OSError:
                pass
            assert nginx.poll() is None and time.time() < deadline, \
                (tmp_path / "nginx-error.log").read_text()
            time.sleep(0.1)
        yield port, gateway.port
    finally:
        nginx.terminate()
        nginx.wait(10)
        served.close()


def test_behind_nginx_each_client_has_its_own_limits_and_nobody_is_local(behind_nginx):
    """The shipped way: nginx on this machine in front of `learnline serve`, with no proxy
    setting at all. Two clients (two loopback addresses) each get their own sign-in
    limit; a request that claims 127.0.0.1 through nginx, or forwards it to the server's
    port, does not open /metrics, which the machine itself still reads directly. (A
    caller from another machine straight to the port: test_a_spoofed_loopback_...)"""
    proxy, server = behind_nginx
    _, html, cookie = _ask(proxy, "/signin", source="127.0.0.2")
    token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    answers = [_ask(proxy, "/signin", source="127.0.0.2", cookie=cookie,
                    form={"csrf": token, "phone": f"+234803{n:02d}00000"})[0]
               for n in range(11)]
    assert answers == [302] * 10 + [429]
    _, html, other = _ask(proxy, "/signin", source="127.0.0.3")
    token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    assert _ask(proxy, "/signin", source="127.0.0.3", cookie=other,
                form={"csrf": token, "phone": "+2348059900000"})[0] == 302

    assert _ask(proxy, "/metrics", source="127.0.0.2", forwarded_for="127.0.0.1")[0] == 403
    assert _ask(proxy, "/metrics", source="127.0.0.1", forwarded_for="127.0.0.1")[0] == 403
    assert _ask(server, "/metrics", source="127.0.0.1", forwarded_for="127.0.0.1")[0] == 403
    assert _ask(server, "/metrics", source="127.0.0.1")[0] == 200
