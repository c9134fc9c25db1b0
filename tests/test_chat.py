"""`learnline chat` beside a running `learnline serve`: each chat gets its own replies, and
the server's console keeps the others. Real processes on one database."""

from __future__ import annotations

import os
import queue
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ports import free_port

CHATTER = "+221770000001"
OTHER = "+221770000002"


class Chat:
    """A `learnline chat PHONE` process whose output is read line by line as it comes."""

    def __init__(self, env: dict[str, str], phone: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "chat", phone], env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.output = ""
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.wait_for("Ctrl-D to quit")

    def _read(self) -> None:
        # Raw reads, not lines: the prompt has no newline after it.
        fd = self.process.stdout.fileno()
        while chunk := os.read(fd, 4096):
            self._lines.put(chunk.decode())

    def wait_for(self, text: str, timeout: float = 20.0, count: int = 1) -> str:
        deadline = time.monotonic() + timeout
        while self.output.count(text) < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{text!r} not in the chat's output:\n{self.output}"
            try:
                self.output += self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
        return self.output

    def say(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def close(self) -> str:
        self.process.stdin.close()
        code = self.process.wait(30)
        self._reader.join(10)
        errors = self.process.stderr.read()
        self.process.stdout.close()
        self.process.stderr.close()
        assert code == 0, errors
        assert "Traceback" not in errors
        while not self._lines.empty():
            self.output += self._lines.get()
        return self.output


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[dict[str, str], int, Path]]:
    """`learnline serve` with its outbox worker, the console carrier only."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEARNLINE_")}
    env["LEARNLINE_DB"] = str(tmp_path / "learnline.db")
    log_path = tmp_path / "serve.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    deadline = time.time() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                break
        except OSError:
            assert process.poll() is None, log_path.read_text()
            assert time.time() < deadline, "learnline serve did not come up"
            time.sleep(0.1)
    try:
        yield env, port, log_path
    finally:
        process.terminate()
        process.wait(20)
        log.close()


def console_sms(port: int, sender: str, text: str) -> None:
    data = urllib.parse.urlencode({"from": sender, "text": text}).encode()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/carriers/console/sms", data,
                                timeout=10) as response:
        assert response.status == 200


def sent_to(db: str, phone: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute(
            "SELECT body FROM outbox WHERE phone = ? AND status = 'sent' ORDER BY id",
            [phone])]


def wait_sent(db: str, phone: str, count: int, timeout: float = 20.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while len(bodies := sent_to(db, phone)) < count:
        assert time.monotonic() < deadline, f"only {len(bodies)} sent to {phone}"
        time.sleep(0.1)
    return bodies


def wait_all_sent(db: str, phone: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with sqlite3.connect(db) as conn:
            waiting = conn.execute("SELECT count(*) FROM outbox WHERE phone = ? AND status "
                                   "!= 'sent'", [phone]).fetchone()[0]
        if not waiting:
            return
        assert time.monotonic() < deadline, f"{waiting} message(s) to {phone} not sent"
        time.sleep(0.1)


def test_a_chat_gets_its_own_replies_while_serve_runs(served):
    env, port, serve_log = served
    chat = Chat(env, CHATTER)
    for line in ("START", "NEXT", "NEXT", "STATUS", "HELP", "NEXT", "NEXT"):
        chat.say(line)
    chat.wait_for("> ", timeout=30, count=8)  # the prompt after each line's replies
    # The chat is idle at its prompt; a message for its number still reaches it, and a
    # message for another number goes to the server's console, not to the chat.
    console_sms(port, CHATTER, "STATUS")
    console_sms(port, OTHER, "START")
    wait_sent(env["LEARNLINE_DB"], OTHER, 1)
    time.sleep(1.5)  # time for the server's worker to take the chat's reply, if it would
    wait_all_sent(env["LEARNLINE_DB"], CHATTER)
    output = chat.close()

    bodies = sent_to(env["LEARNLINE_DB"], CHATTER)
    assert len(bodies) >= 8
    for body in bodies:
        assert body.splitlines()[0] in output
    assert output.count(f"[to {CHATTER}]") == len(bodies)
    assert f"[to {OTHER}]" not in output
    served_console = serve_log.read_text()
    assert f"[to {CHATTER}]" not in served_console
    assert f"[to {OTHER}]" in served_console


def test_two_chats_each_get_only_their_own_replies(served):
    env, _port, serve_log = served
    first, second = Chat(env, CHATTER), Chat(env, OTHER)
    first.say("START")
    second.say("START")
    for _ in range(3):
        first.say("NEXT")
        second.say("NEXT")
    db = env["LEARNLINE_DB"]
    wait_sent(db, CHATTER, 4)
    wait_sent(db, OTHER, 4)
    time.sleep(1.0)
    out_first, out_second = first.close(), second.close()
    assert out_first.count(f"[to {CHATTER}]") == len(sent_to(db, CHATTER))
    assert out_second.count(f"[to {OTHER}]") == len(sent_to(db, OTHER))
    assert f"[to {OTHER}]" not in out_first and f"[to {CHATTER}]" not in out_second
    assert "[to +" not in serve_log.read_text()


def test_a_chat_leaves_other_learners_and_carriers_alone(tmp_path: Path, carriers_file: Path):
    """A chat knows the console carrier only: it neither fails another carrier's message
    waiting to be processed nor stops another learner's daily lessons, nor says the
    gateway's worker is running."""
    from gateway.channels.sms import handle_inbound
    from gateway.config import Carrier
    from gateway.store import Store

    db = tmp_path / "gateway.db"
    twilio = Carrier.of(id="twilio", adapter="twilio", country="NG")
    learner = "+2348030000000"
    with Store.open(db, migrate=True) as store:
        from gateway.content.importer import import_courses

        import_courses(store)
        handle_inbound(store, twilio, store.record_inbound("twilio", "SM1", learner, "START"))
        store.set_next_check(learner, store.clock() - 60)
        waiting = store.record_inbound("twilio", "SM2", learner, "NEXT")
    with sqlite3.connect(db) as conn:  # stored a while ago, as by an older version
        conn.execute("UPDATE inbound SET received_at = received_at - 120 WHERE id = ?",
                     [waiting.id])
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEARNLINE_")}
    env.update(LEARNLINE_DB=str(db), LEARNLINE_CARRIERS=str(carriers_file))
    chat = Chat(env, CHATTER)
    chat.say("START")
    chat.wait_for("> ", count=2)
    time.sleep(1.0)
    chat.close()

    with Store.open(db) as store:
        assert store.learner(learner).next_check_at is not None
        assert [m.status for m in store.unprocessed_inbound(store.clock())] == ["received"]
        assert store.last_beat("worker") is None


def test_a_second_chat_as_the_same_number_says_so_at_once(tmp_path: Path):
    """Two chats as one number would take each other's replies: the second one ends at
    once, in one line, instead of waiting silently for the first to end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEARNLINE_")}
    env["LEARNLINE_DB"] = str(tmp_path / "learnline.db")
    first = Chat(env, CHATTER)
    try:
        second = subprocess.run([sys.executable, "-m", "gateway.cli", "chat", CHATTER],
                                env=env, stdin=subprocess.DEVNULL, capture_output=True,
                                text=True, timeout=20)
    finally:
        first.close()
    assert second.returncode == 1
    assert second.stderr.strip().splitlines() == [
        f"Error: already chatting as {CHATTER} on this database (another learnline chat)"]


def test_a_national_number_without_a_country_to_read_it_in_says_how_to_write_it(
        tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEARNLINE_")}
    env["LEARNLINE_DB"] = str(tmp_path / "learnline.db")
    answer = subprocess.run([sys.executable, "-m", "gateway.cli", "chat", "08030000000"],
                            env=env, stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=20)
    assert answer.returncode == 2
    assert answer.stderr.strip().splitlines()[-1] == (
        "Error: Invalid value for PHONE: '08030000000' is not a phone number: write it with "
        "its country code, e.g. +2348030000000 (the console carrier names no `country` to "
        "read national numbers in)")
