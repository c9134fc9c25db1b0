"""deploy/nginx/learnline.conf loads in the nginx docs/operations.md installs (Debian 12's,
1.22, and later ones), and a real nginx running it passes requests on as Learnline expects:
the client's address in `X-Forwarded-For` (never one the client wrote), the original
scheme and host, `/metrics` for the machine only.

Each test writes a small nginx.conf in a temporary prefix that includes a copy of the
shipped file, with only what a test cannot have replaced: the certificate paths (a
self-signed certificate made here) and, to run it, the listening ports."""

from __future__ import annotations

import datetime
import http.server
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.ports import free_port
from tests.slow_clients import run_way, shipped_ways, slow_clients

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "deploy" / "nginx" / "learnline.conf"
NAME = "learn.example.org"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_version() -> tuple[int, ...]:
    result = subprocess.run([NGINX, "-v"], capture_output=True, text=True, timeout=30)
    return tuple(int(n) for n in re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", result.stderr).groups())


def self_signed(folder: Path) -> None:
    """fullchain.pem and privkey.pem for NAME in `folder`, as certbot would leave them."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True)
    (folder / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "privkey.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


def prefix_with_shipped(tmp_path: Path, replace: dict[str, str] | None = None) -> Path:
    """A prefix in tmp with nginx.conf including a copy of the shipped configuration."""
    live = tmp_path / "letsencrypt" / "live" / NAME
    self_signed(live)
    site = SHIPPED.read_text().replace(f"/etc/letsencrypt/live/{NAME}/", f"{live}/")
    for old, new in (replace or {}).items():
        assert old in site, old
        site = site.replace(old, new)
    (tmp_path / "learnline.conf").write_text(site)
    temp = {kind: tmp_path / f"{kind}_temp" for kind in
            ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    (tmp_path / "nginx.conf").write_text(f"""\
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
worker_processes auto;
events {{ worker_connections 768; }}  # as Debian's nginx.conf
http {{
    access_log {tmp_path}/access.log;
    {"".join(f"{kind}_temp_path {path}; " for kind, path in temp.items())}
    include {tmp_path}/learnline.conf;
}}
""")
    return tmp_path


def nginx(prefix: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                           "-e", str(prefix / "error.log"), *args],
                          capture_output=True, text=True, timeout=60)


def test_the_shipped_configuration_loads(tmp_path: Path):
    result = nginx(prefix_with_shipped(tmp_path), "-t")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "[warn]" in line]
    if nginx_version() >= (1, 25, 1):  # `listen ... http2` is deprecated there, not refused
        warnings = [w for w in warnings if '"listen ... http2" directive is deprecated' not in w]
    assert warnings == []


def test_the_shipped_configuration_loads_beside_debians_own(tmp_path: Path):
    """As docs/operations.md installs it: in sites-enabled, next to Debian's default
    site, under Debian's nginx.conf (which sets gzip and ssl_protocols itself)."""
    prefix = prefix_with_shipped(tmp_path)
    debian = Path("/etc/nginx/nginx.conf").read_text()
    for setting in ("pid", "error_log", "access_log"):
        debian, count = re.subn(rf"^(\s*){setting} \S+;", rf"\1{setting} {prefix}/{setting};",
                                debian, flags=re.M)
        assert count == 1, setting
    debian = debian.replace("include /etc/nginx/sites-enabled/*;",
                            f"include /etc/nginx/sites-enabled/*; include {prefix}/learnline.conf;")
    assert str(prefix / "learnline.conf") in debian
    (prefix / "nginx.conf").write_text(debian)
    result = nginx(prefix, "-t")
    assert result.returncode == 0, result.stderr


# -- a real nginx in front of a stand-in for Learnline ----------------------------------


class _Echo(http.server.BaseHTTPRequestHandler):
    """Answers every request with the headers it got, one `name: value` a line."""

    def do_GET(self) -> None:
        body = "".join(f"{name}: {value}\n" for name, value in self.headers.items()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def shipped_nginx(tmp_path: Path, upstream_port: int) -> Iterator[tuple[int, int]]:
    """The shipped nginx on free loopback ports, in front of whatever listens on
    `upstream_port` where learnline-web would; yields its HTTPS and HTTP ports."""
    tls, plain = free_port(), free_port()
    site = SHIPPED.read_text()
    [upstream_address] = set(re.findall(r"proxy_pass http://(\S+);", site))
    listens = {line for line in re.findall(r"^\s*(listen .*;)$", site, flags=re.M)}
    replace = {upstream_address: f"127.0.0.1:{upstream_port}"}
    for line in listens:
        if "[::]" in line:
            replace[line] = ""
        elif "443" in line:
            replace[line] = line.replace("443", f"127.0.0.1:{tls}")
        else:
            replace[line] = line.replace("80", f"127.0.0.1:{plain}")
    prefix = prefix_with_shipped(tmp_path, replace)
    started = nginx(prefix)
    assert started.returncode == 0, started.stderr
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", tls), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, (prefix / "error.log").read_text()
                time.sleep(0.1)
        yield tls, plain
    finally:
        nginx(prefix, "-s", "stop")


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[int]:
    """The shipped nginx in front of `_Echo`; yields nginx's HTTPS port."""
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        with shipped_nginx(tmp_path, upstream.server_address[1]) as (tls, _):
            yield tls
    finally:
        upstream.shutdown()
        upstream.server_close()


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=NAME) as sock:
        lines = [f"GET {path} HTTP/1.1", f"Host: {NAME}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


def test_the_client_address_reaches_learnline_and_a_forged_one_does_not(proxied: int):
    status, seen = _get(proxied, "/", {"X-Forwarded-For": "203.0.113.9"})
    assert status == 200
    headers = dict(line.split(": ", 1) for line in seen.splitlines())
    assert headers["X-Forwarded-For"] == "127.0.0.1"  # the peer, as nginx saw it
    assert headers["X-Forwarded-Proto"] == "https"
    assert headers["X-Forwarded-Host"] == headers["Host"] == NAME


def test_metrics_are_for_the_machine_only_and_the_simulator_is_off(proxied: int):
    assert _get(proxied, "/metrics")[0] == 200  # from 127.0.0.1
    assert _get(proxied, "/simulator")[0] == 404


@pytest.mark.slow
def test_the_systemd_way_behind_the_shipped_nginx_answers_while_300_slow_clients_are_held(
        tmp_path: Path):
    """deploy/systemd's web unit behind deploy/nginx, as docs/operations.md installs them:
    300 slow clients on nginx's port and 300 on the web server's own."""
    (tmp_path / "web").mkdir()
    with run_way(shipped_ways()["systemd"], tmp_path / "web", free_port()) as web, \
            shipped_nginx(tmp_path / "nginx", web.port) as (tls, plain), \
            slow_clients("127.0.0.1", plain, 300), \
            slow_clients("127.0.0.1", web.port, 300):
        time.sleep(3)
        worst = 0.0
        for _ in range(3):
            start = time.monotonic()
            status, body = _get(tls, "/healthz")
            assert status == 200 and body.startswith("ok\n")
            worst = max(worst, time.monotonic() - start)
            time.sleep(1)
    assert worst < 1.0, f"/healthz through nginx took {worst:.2f} s"
