"""What a fault in the outbox worker costs: SMS the carrier gets twice, and replies that
are never sent.

Each scenario starts a real `learnline serve` (gunicorn, the shipped settings) on a fresh
database in a temporary folder, with one Twilio carrier whose Messages API is a loopback
fake in this process (tests/fakes/twilio_api.py) counting what it accepts. Learners'
messages come in through the signed Twilio webhook. A warm-up message shows the worker
sending, then the fault:

- bookkeeping: an SQL trigger makes the record of each of the next `--faulty` messages'
  send attempt fail (`INSERT INTO send_attempts` of an accepted send raises "database or
  disk is full") right after the carrier accepted it; as many learners write in. The
  fault's time is the carrier's acceptance of the first of those messages.
- lock: a plain sqlite3 connection (an operator's shell) holds the write lock for `--hold`
  seconds, past the store's busy timeout (10 s). The fault's time is the lock's release.

Right after the fault, two more learners write in ("later replies"). Each scenario then
runs `--window` seconds from the fault (longer than the worker's 60-second lease, after
which a message claimed by a worker that died is sent again): how many messages were
queued, how many SMS the carrier accepted, how many of those were copies of a message it
had already accepted, how many messages it never got, whether the later replies went out,
how long from the fault until the carrier accepted the first of them, and how many worker
processes ran. Two ways of running the worker: `learnline serve` (the worker beside the
server, as serve starts it) and the shipped systemd unit's (`learnline serve --no-worker`
and `learnline worker` started again 2 s after it ends: Restart=always, RestartSec=2).

    python bench/worker_faults.py [--window 75] [--faulty 3] [--hold 15]

It uses only what every version shares (the CLI, LEARNLINE_DB, LEARNLINE_CARRIERS, the
webhook, SQL on the database file), so the same script measures an older checkout.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import children  # noqa: E402
from tests.fakes.signing import twilio_signature  # noqa: E402
from tests.fakes.twilio_api import FakeTwilioApi  # noqa: E402
from tests.ports import free_port  # noqa: E402

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
PUBLIC_URL = "https://learnline.example.org"
SENDER = "+15005550006"
RESTART_SEC = 2.0  # deploy/systemd/learnline-worker.service
LATER = 2  # learners who write in right after the fault

CARRIERS = f"""
[carriers.twilio]
adapter = "twilio"
sender = "{SENDER}"
country = "NG"
account_sid = "{ACCOUNT_SID}"
auth_token = "${{BENCH_TWILIO_AUTH_TOKEN}}"
api_base_url = "@URL@"
public_url = "{PUBLIC_URL}"
tps = 50
"""


def phone(group: int, n: int) -> str:
    return f"+234803{group:03d}{n:04d}"


def worker_children(pid: int) -> set[int]:
    """Live `learnline worker` processes whose parent is `pid`."""
    found = set()
    for child in children(pid):
        try:
            with open(f"/proc/{child}/stat") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]
            with open(f"/proc/{child}/cmdline", "rb") as cmdline:
                args = cmdline.read().split(b"\0")
        except OSError:
            continue
        if state != "Z" and b"worker" in args:
            found.add(child)
    return found


class Gateway:
    """`learnline serve` (with its worker, or `--no-worker`) on a fresh database."""

    def __init__(self, root: Path, api_url: str, *, worker: bool):
        (root / "carriers.toml").write_text(CARRIERS.replace("@URL@", api_url))
        self.root, self.db = root, root / "faults.db"
        self.env = {**os.environ, "LEARNLINE_DB": str(self.db),
                    "LEARNLINE_CARRIERS": str(root / "carriers.toml"),
                    "LEARNLINE_METRICS_DIR": str(root / "metrics"),
                    "LEARNLINE_ACCESS_LOG": "", "BENCH_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                    "PYTHONPATH": str(ROOT)}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = root / "serve.log"
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "serve", "--port", str(self.port),
                 *([] if worker else ["--no-worker"])],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=root)
        self._sids = 0
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    sys.exit(f"learnline serve did not come up:\n{self.log.read_text()}")
                time.sleep(0.2)

    def sms(self, sender: str, body: str) -> int:
        """Post one inbound SMS as Twilio does (signed); the webhook's status."""
        self._sids += 1
        sid = f"SM{os.getpid():08x}{self._sids:024x}"
        params = {
            "ToCountry": "NG", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0",
            "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "",
            "SmsStatus": "received", "FromCity": "", "Body": body, "FromCountry": "NG",
            "To": SENDER, "MessagingServiceSid": "", "ToZip": "", "NumSegments": "1",
            "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": sender,
            "ApiVersion": "2010-04-01",
        }
        path = "/carriers/twilio/sms"
        request = urllib.request.Request(
            self.base + path, data=urllib.parse.urlencode(params).encode(), method="POST",
            headers={"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, PUBLIC_URL + path,
                                                            params)})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def outbox(self, after_id: int = 0) -> list[tuple[int, str, str]]:
        """(id, phone, body) of the messages queued, from `after_id` on."""
        with sqlite3.connect(self.db, timeout=30) as conn:
            return conn.execute("SELECT id, phone, body FROM outbox WHERE id > ? ORDER BY id",
                                [after_id]).fetchall()

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


class Watch(threading.Thread):
    """Notes every `learnline worker` process `learnline serve` runs."""

    def __init__(self, serve_pid: int):
        super().__init__(daemon=True)
        self.serve_pid, self.seen, self.done = serve_pid, set(), threading.Event()
        self.start()

    def run(self) -> None:
        while not self.done.wait(0.1):
            self.seen |= worker_children(self.serve_pid)

    def starts(self) -> int:
        self.done.set()
        self.join()
        return len(self.seen)


class RestartAlways(threading.Thread):
    """`learnline worker` started again RESTART_SEC after it ends, as systemd's
    Restart=always does."""

    def __init__(self, gateway: Gateway):
        super().__init__(daemon=True)
        self.gateway, self.done, self.count = gateway, threading.Event(), 0
        self.process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self.start()

    def run(self) -> None:
        with (self.gateway.root / "worker.log").open("w") as out:
            while True:
                with self._lock:
                    if self.done.is_set():
                        return
                    self.process = subprocess.Popen(
                        [sys.executable, "-m", "gateway.cli", "worker"], env=self.gateway.env,
                        stdout=out, stderr=subprocess.STDOUT, cwd=self.gateway.root)
                    self.count += 1
                self.process.wait()
                if self.done.wait(RESTART_SEC):
                    return

    def starts(self) -> int:
        with self._lock:
            self.done.set()
            if self.process is not None and self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(30)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(10)
        self.join()
        return self.count


@dataclass
class Row:
    scenario: str
    queued: int
    got: int
    duplicates: int
    never: int
    later: str
    resumed: str
    starts: int


def wait_for(check, seconds: float):
    deadline = time.monotonic() + seconds
    while not (found := check()):
        if time.monotonic() > deadline:
            return found
        time.sleep(0.05)
    return found


def warm_up(gateway: Gateway, api: FakeTwilioApi) -> int:
    """One learner writes in; once the carrier has every reply, the last message id."""
    assert gateway.sms(phone(0, 0), "START") == 200
    if not wait_for(lambda: len(api.messages) >= max(1, len(gateway.outbox())), 60):
        sys.exit("the worker sent nothing within 60 s")
    time.sleep(1.0)  # the worker records the last send
    return max(row[0] for row in gateway.outbox())


def later_replies(gateway: Gateway) -> set[str]:
    numbers = {phone(2, n) for n in range(LATER)}
    for number in sorted(numbers):
        gateway.sms(number, "START")
    return numbers


def scenario(label: str, fault: str, *, systemd: bool, window: float, faulty: int,
             hold: float) -> Row:
    """Run one scenario and count what the carrier got."""
    with tempfile.TemporaryDirectory(prefix="worker-faults-") as folder, \
            FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN) as api:
        gateway = Gateway(Path(folder), api.url, worker=not systemd)
        workers = RestartAlways(gateway) if systemd else Watch(gateway.process.pid)
        try:
            last = warm_up(gateway, api)
            if fault == "bookkeeping":
                with sqlite3.connect(gateway.db, timeout=30) as conn:
                    conn.execute(
                        "CREATE TRIGGER bench_fault BEFORE INSERT ON send_attempts "
                        f"WHEN NEW.outcome = 'accepted' AND NEW.outbox_id > {last} "
                        f"AND NEW.outbox_id <= {last + faulty} "
                        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
                for n in range(faulty):
                    gateway.sms(phone(1, n), "START")

                def faulty_sent() -> list[float]:
                    keys = {(p, b) for i, p, b in gateway.outbox(last) if i <= last + faulty}
                    return [m["accepted_at"] for m in list(api.messages)
                            if (m["To"], m["Body"]) in keys]

                first = wait_for(faulty_sent, 60)
                if not first:
                    sys.exit("the carrier got none of the messages whose bookkeeping fails")
                fault_at = min(first)
            else:
                holder = sqlite3.connect(gateway.db, isolation_level=None, timeout=30)
                try:
                    holder.execute("BEGIN IMMEDIATE")
                    time.sleep(hold)
                finally:
                    holder.execute("COMMIT")
                    holder.close()
                fault_at = time.time()
            numbers = later_replies(gateway)

            def later_sent() -> list[float]:
                return [m["accepted_at"] for m in list(api.messages) if m["To"] in numbers]

            if fault == "bookkeeping":  # copies come once the lease runs out: wait it all
                time.sleep(max(0.0, fault_at + window - time.time()))
            else:  # nothing was in flight: done once the later replies are out
                rows = len(gateway.outbox(last))
                wait_for(lambda: len(later_sent()) >= rows, fault_at + window - time.time())
                time.sleep(1.0)
            rows = gateway.outbox(last)
            got = Counter((m["To"], m["Body"]) for m in list(api.messages)
                          if m["To"] != phone(0, 0))
            queued = Counter((p, b) for _, p, b in rows)
            unmatched = sum(n for key, n in got.items() if key not in queued)
            if unmatched:
                print(f"  ({label}: {unmatched} SMS match no queued message)", flush=True)
            delivered = sum(min(n, got[key]) for key, n in queued.items())
            sent_later = later_sent()
            later_rows = sum(1 for _, p, _ in rows if p in numbers)
            later_got = sum(min(n, got[key]) for key, n in queued.items() if key[0] in numbers)
            resumed = (f"{min(sent_later) - fault_at:.1f} s" if sent_later
                       else f"never (> {window:g} s)")
        finally:
            starts = workers.starts()
            gateway.close()
        return Row(label, len(rows), sum(got.values()), sum(got.values()) - delivered,
                   len(rows) - delivered, f"{later_got}/{later_rows}", resumed, starts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--window", type=float, default=75.0,
                        help="seconds watched after each fault (the worker's lease is 60 s)")
    parser.add_argument("--faulty", type=int, default=3,
                        help="messages whose bookkeeping fails after the carrier accepted")
    parser.add_argument("--hold", type=float, default=15.0,
                        help="seconds the write lock is held (busy timeout: 10 s)")
    args = parser.parse_args()
    runs = (("serve: bookkeeping fails after send", "bookkeeping", False),
            (f"serve: write lock held {args.hold:g} s", "lock", False),
            ("systemd unit: bookkeeping fails", "bookkeeping", True))
    headers = ("scenario", "queued", "carrier got", "duplicates", "never sent",
               "later replies sent", "fault -> sending resumes", "worker processes")
    print(f"worker faults: {args.faulty} messages' bookkeeping fails, or the lock held "
          f"{args.hold:g} s; {args.window:g} s watched after the fault", flush=True)
    rows = []
    for label, fault, systemd in runs:
        row = scenario(label, fault, systemd=systemd, window=args.window,
                       faulty=args.faulty, hold=args.hold)
        rows.append((row.scenario, str(row.queued), str(row.got), str(row.duplicates),
                     str(row.never), row.later, row.resumed, str(row.starts)))
        print("  " + " | ".join(rows[-1]), flush=True)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print()
    print(" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
