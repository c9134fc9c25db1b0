"""A real Kannel in front of a real `learnline serve`, for end-to-end tests.

Debian's kannel 1.4.5 (`apt-get install -y kannel kannel-extras`) runs as three
processes started here with a configuration written to a tmp dir, on free loopback
ports (the packages' own init scripts use 13000/13013 and are never touched):

- bearerbox, with a `smsc = fake` connection and internal DLR storage;
- fakesmsc (kannel-extras' /usr/lib/kannel/test/fakesmsc) connected to it in
  interactive mode: a line on its stdin is a message from a phone
  (`<from> <to> text <text>` or `<from> <to> ucs2 <url-encoded UTF-16BE>`), and every
  message the SMSC receives is logged on stderr as `Got message N: <from to TYPE DATA>`,
  TYPE being `text` (literal, coding 0), `data` (url-encoded, coding 1), `ucs-2`
  (url-encoded UTF-16BE, coding 2) or `udh <url-encoded UDH> data <url-encoded part>` for
  each part of a concatenated message, whose coding fakesmsc does not show: it is taken
  from bearerbox's access log (`%c` of the whole message);
- smsbox, with a `sendsms-user` for Learnline and one `sms-service` per carrier whose
  `get-url` calls the gateway (chosen by the number the learner texted).

`learnline serve` runs with its outbox worker, so a learner's text goes phone ->
fakesmsc -> bearerbox -> smsbox -> /carriers/<id>/sms, the replies leave through
the worker -> sendsms -> bearerbox -> fakesmsc, and fakesmsc's acknowledgements come
back as delivery reports (types 8 then 1) to /carriers/<id>/status.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes

import pytest

from gateway.paths import lessons_dir
from tests.ports import free_port

BEARERBOX = Path("/usr/sbin/bearerbox")
SMSBOX = Path("/usr/sbin/smsbox")
FAKESMSC = Path("/usr/lib/kannel/test/fakesmsc")
APT_COMMAND = "apt-get update && apt-get install -y kannel kannel-extras"

USERNAME = "learnline"
PASSWORD = "sendsms-password-for-tests"
WEBHOOK_TOKEN = "kannel-webhook-token-0123456789"
ADMIN_PASSWORD = "admin-password-for-tests"

# What smsbox's sms-service asks for: the fields KannelAdapter reads.
GET_URL_QUERY = "from=%p&to=%P&text=%b&coding=%c&charset=%C&id=%I&time=%T"


def require_kannel() -> None:
    """Fail (never skip) when Kannel is missing, naming the command that installs it."""
    missing = [str(path) for path in (BEARERBOX, SMSBOX, FAKESMSC)
               if not os.access(path, os.X_OK)]
    if missing:
        pytest.fail(f"Kannel is not installed ({', '.join(missing)} missing); "
                    f"install it with: {APT_COMMAND}", pytrace=False)


def wait_for(predicate, what: str, timeout: float = 15.0, interval: float = 0.05):
    """Poll until predicate() is truthy; return its value, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class KannelCarrier:
    """One Learnline carrier behind the Kannel: the number learners text, its table."""

    id: str
    shortcode: str
    country: str
    encoding_policy: str = "smart"
    locale: str | None = None  # the carrier's language, when not the country's


@dataclass
class SmscMessage:
    """A message fakesmsc received (concatenated parts joined)."""

    sender: str
    receiver: str
    data: bytes
    coding: int | None  # 0 GSM-7, 1 8-bit, 2 UCS-2
    parts: int = 1

    @property
    def text(self) -> str:
        codec = "utf-16-be" if self.coding == 2 else "utf-8"
        return self.data.decode(codec)


@dataclass
class _Part:
    sender: str
    receiver: str
    kind: str
    data: bytes
    udh: bytes = b""


_GOT = re.compile(r"Got message \d+: <(.*)>$")


def _parse_part(line: str) -> _Part:
    sender, receiver, kind, rest = [*line.split(" ", 3), ""][:4]
    if kind == "text":
        return _Part(sender, receiver, kind, rest.encode("utf-8", "surrogateescape"))
    if kind == "udh":
        udh, part_kind, data = rest.split(" ", 2)
        return _Part(sender, receiver, part_kind, unquote_to_bytes(data.replace("+", " ")),
                     unquote_to_bytes(udh.replace("+", " ")))
    return _Part(sender, receiver, kind, unquote_to_bytes(rest.replace("+", " ")))


class FakeSmsc:
    """fakesmsc in interactive mode: inject phone messages, read what it received."""

    CODINGS = {"text": 0, "data": 1, "ucs-2": 2}  # noqa: RUF012

    def __init__(self, port: int, log_dir: Path, access_log: Path):
        self.port = port
        self.access_log = access_log
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._log = (log_dir / "fakesmsc.log").open("w", encoding="utf-8", errors="replace")
        self.process = subprocess.Popen(
            [str(FAKESMSC), "-H", "127.0.0.1", "-r", str(port), "-i", "0.01"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode("utf-8", "surrogateescape").rstrip("\n")
            self._log.write(line.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                            + "\n")
            self._log.flush()
            match = _GOT.search(line)
            if match:
                with self._cond:
                    self.lines.append(match.group(1))
                    self._cond.notify_all()

    def inject(self, sender: str, text: str, receiver: str, *, ucs2: bool = False) -> None:
        """A phone sends `text` to `receiver`: as it types it (UTF-8 bytes, coding 0) or,
        with `ucs2`, as a UCS-2 message."""
        if ucs2:
            line = f"{sender} {receiver} ucs2 {quote(text.encode('utf-16-be'), safe='')}"
        else:
            assert "\n" not in text
            line = f"{sender} {receiver} text {text}"
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode("utf-8") + b"\n")
        self.process.stdin.flush()

    def _sent_codings(self) -> list[tuple[str, int]]:
        """(receiver, coding) of every message bearerbox sent, from its access log."""
        if not self.access_log.exists():
            return []
        rows = []
        for line in self.access_log.read_text(encoding="utf-8", errors="replace").splitlines():
            fields = line.split("|")
            if len(fields) >= 4 and fields[0] == "Sent SMS":
                rows.append((fields[2], int(fields[3])))
        return rows

    def messages(self, receiver: str | None = None) -> list[SmscMessage]:
        """Every complete message received so far (to `receiver`, or all)."""
        with self._cond:
            lines = list(self.lines)
        assembled: list[SmscMessage] = []
        pending: dict[tuple[str, str, int], list[_Part | None]] = {}
        for line in lines:
            part = _parse_part(line)
            if part.udh[:3] == b"\x05\x00\x03" and len(part.udh) >= 6:
                ref, total, seq = part.udh[3], part.udh[4], part.udh[5]
                key = (part.sender, part.receiver, ref)
                slots = pending.setdefault(key, [None] * total)
                slots[seq - 1] = part
                if all(slots):
                    del pending[key]
                    assembled.append(SmscMessage(
                        part.sender, part.receiver,
                        b"".join(p.data for p in slots if p is not None), None, total))
            else:
                assembled.append(SmscMessage(part.sender, part.receiver, part.data,
                                             self.CODINGS.get(part.kind)))
        # Concatenated parts do not show their coding: bearerbox's access log has it,
        # one line per message in the order they went to this SMSC.
        codings = self._sent_codings()
        for index, message in enumerate(assembled):
            if message.coding is None and index < len(codings):
                log_receiver, coding = codings[index]
                assert log_receiver == message.receiver, (codings, index)
                message.coding = coding
        return [m for m in assembled if receiver is None or m.receiver == receiver]

    def wait_messages(self, receiver: str, count: int, timeout: float = 15.0
                      ) -> list[SmscMessage]:
        """Wait until `count` complete messages (with known coding) reached `receiver`."""
        def ready():
            got = self.messages(receiver)
            return got if len(got) >= count and all(
                m.coding is not None for m in got) else None
        return wait_for(ready, f"{count} message(s) to {receiver} at the fake SMSC", timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()  # end of input: fakesmsc exits
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                self.process.wait(5)
        self._reader.join(5)
        if self.process.stderr is not None:
            self.process.stderr.close()
        self._log.close()


def kannel_conf(tmp: Path, *, admin_port: int, smsbox_port: int, smsc_port: int,
                sendsms_port: int, gateway_base: str,
                carriers: tuple[KannelCarrier, ...]) -> str:
    """bearerbox + fake SMSC + smsbox + sendsms-user + one sms-service per carrier."""
    services = "".join(f"""
group = sms-service
name = learnline-{carrier.id}
keyword-regex = ".*"
catch-all = true
allowed-receiver-prefix = "{carrier.shortcode}"
get-url = "{gateway_base}/carriers/{carrier.id}/sms?token={WEBHOOK_TOKEN}&{GET_URL_QUERY}"
max-messages = 0
omit-empty = true
""" for carrier in carriers)
    return f"""
group = core
admin-port = {admin_port}
admin-interface = 127.0.0.1
admin-password = {ADMIN_PASSWORD}
admin-allow-ip = "127.0.0.1"
smsbox-port = {smsbox_port}
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
log-file = "{tmp}/bearerbox.log"
log-level = 0
access-log = "{tmp}/access.log"
access-log-clean = true
access-log-format = "%l|%p|%P|%c|%d"
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
port = {smsc_port}
connect-allow-ip = "127.0.0.1"

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox_port}
sendsms-port = {sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{tmp}/smsbox.log"
log-level = 0

group = sendsms-user
username = {USERNAME}
password = {PASSWORD}
max-messages = 10
concatenation = true
{services}"""


def carriers_toml(carriers: tuple[KannelCarrier, ...], sendsms_port: int,
                  gateway_base: str) -> str:
    return "".join(f"""
[carriers.{carrier.id}]
adapter = "kannel"
sender = "{carrier.shortcode}"
country = "{carrier.country}"
{f'locale = "{carrier.locale}"' if carrier.locale else ""}
encoding_policy = "{carrier.encoding_policy}"
api_base_url = "http://127.0.0.1:{sendsms_port}"
username = "{USERNAME}"
password = "${{TEST_KANNEL_PASSWORD}}"
webhook_token = "{WEBHOOK_TOKEN}"
public_url = "{gateway_base}"
tps = 100
""" for carrier in carriers)


@dataclass
class KannelStack:
    """Everything running: the gateway, bearerbox, smsbox and the fake SMSC."""

    dir: Path
    env: dict[str, str]
    gateway_base: str
    sendsms_port: int
    admin_port: int
    smsc: FakeSmsc
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def db_path(self) -> str:
        return self.env["LEARNLINE_DB"]

    def log(self, name: str) -> str:
        """One process's log (bearerbox, smsbox, fakesmsc, serve)."""
        path = self.dir / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def _start(name: str, argv: list[str], tmp: Path, env: dict[str, str] | None = None
           ) -> subprocess.Popen:
    out = (tmp / f"{name}.out").open("w")
    try:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp,
                                start_new_session=True)
    finally:
        out.close()


def _stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def _smsc_online(admin_port: int) -> bool:
    url = f"http://127.0.0.1:{admin_port}/status.txt?password={ADMIN_PASSWORD}"
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            status = response.read().decode("utf-8", "replace")
    except (OSError, urllib.error.URLError):
        return False
    smsc = status.split("SMSC connections:", 1)[-1]
    return "online" in smsc and "smsbox:" in status.split("Box connections:", 1)[-1]


@contextmanager
def kannel_stack(tmp: Path, carriers: tuple[KannelCarrier, ...]) -> Iterator[KannelStack]:
    """Start learnline serve (with its worker), bearerbox, fakesmsc and smsbox; stop all."""
    require_kannel()
    ports = {name: free_port() for name in ("gateway", "admin", "smsbox", "smsc", "sendsms")}
    gateway_base = f"http://127.0.0.1:{ports['gateway']}"
    (tmp / "carriers.toml").write_text(
        carriers_toml(carriers, ports["sendsms"], gateway_base), encoding="utf-8")
    (tmp / "kannel.conf").write_text(kannel_conf(
        tmp, admin_port=ports["admin"], smsbox_port=ports["smsbox"], smsc_port=ports["smsc"],
        sendsms_port=ports["sendsms"], gateway_base=gateway_base, carriers=carriers,
    ), encoding="utf-8")
    env = {**os.environ, "LEARNLINE_DB": str(tmp / "learnline.db"),
           "LEARNLINE_CARRIERS": str(tmp / "carriers.toml"),
           "TEST_KANNEL_PASSWORD": PASSWORD, "LEARNLINE_WEB_WORKERS": "1"}
    processes: dict[str, subprocess.Popen] = {}
    with ExitStack() as stack:
        def stop_all() -> None:
            for process in reversed(list(processes.values())):
                _stop(process)
        stack.callback(stop_all)

        processes["serve"] = _start("serve", [
            sys.executable, "-m", "gateway.cli", "serve", "--port", str(ports["gateway"])],
            tmp, env)
        processes["bearerbox"] = _start("bearerbox", [str(BEARERBOX), "kannel.conf"], tmp)
        wait_for(lambda: _port_open(ports["smsc"]) or _dead(processes, tmp),
                 "bearerbox to listen")
        smsc = FakeSmsc(ports["smsc"], tmp, tmp / "access.log")
        stack.callback(smsc.close)
        processes["smsbox"] = _start("smsbox", [str(SMSBOX), "kannel.conf"], tmp)
        wait_for(lambda: _smsc_online(ports["admin"]) or _dead(processes, tmp),
                 "the fake SMSC and smsbox to connect to bearerbox")
        wait_for(lambda: _port_open(ports["sendsms"]) or _dead(processes, tmp),
                 "smsbox's sendsms port")
        wait_for(lambda: _gateway_up(gateway_base) or _dead(processes, tmp),
                 "learnline serve", timeout=30)
        _teach_full_text(tmp, env)
        yield KannelStack(tmp, env, gateway_base, ports["sendsms"], ports["admin"], smsc,
                          processes)


def _teach_full_text(tmp: Path, env: dict[str, str]) -> None:
    """Load the bundled course without its SMS edition (`[sms]` and `[web only]` lines),
    so that replies are the long, concatenated messages these tests are about. fakesmsc
    carries a message on one line: a one-part text message with line breaks reaches it
    cut into several "messages" (and fakesmsc 1.4.5 then crashes), while concatenated
    parts travel url-encoded and whole. A real SMSC takes line breaks as any character."""
    copy = tmp / "lessons"
    shutil.copytree(lessons_dir(), copy)
    for path in copy.glob("*/*/*.txt"):
        text = path.read_text(encoding="utf-8")
        path.write_text("".join(line for line in text.splitlines(keepends=True)
                                if not line.lstrip().lower().startswith(("[sms]", "[web only]"))),
                        encoding="utf-8")
    subprocess.run([sys.executable, "-m", "gateway.cli", "lessons", "import", str(copy)],
                   env=env, cwd=tmp, check=True, capture_output=True, timeout=60)


def _gateway_up(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=1):
            return True
    except OSError:
        return False


def _dead(processes: dict[str, subprocess.Popen], tmp: Path) -> bool:
    for name, process in processes.items():
        if process.poll() is not None:
            output = (tmp / f"{name}.out").read_text(errors="replace")[-2000:]
            raise AssertionError(f"{name} exited with {process.returncode}:\n{output}")
    return False
