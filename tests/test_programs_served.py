"""Two programs on one `learnline serve` (docs/programs.md), end to end with real
processes: each program's administrator signs in over HTTP and uploads a cohort of 1,000
numbers; `learnline worker --drain` invites them at each program's pace through the
Twilio API on loopback; the numbers that answer join their own program; each
administrator sees their own funnel and nothing of the other program; a program at its
monthly budget stops its invitations and reminders while its learners' replies go on."""

from __future__ import annotations

import csv
import io
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from gateway.paths import lessons_dir
from gateway.store import Store
from tests.conftest import AUTH_TOKEN, PUBLIC_URL, TwilioWebhooks, carriers_toml
from tests.fakes.signing import twilio_signature
from tests.served import serve_gateway

pytestmark = pytest.mark.slow

PACE = 100  # invitations a minute, each program's cohort
PASSWORD = "program admin pass phrase 77"
SUN_CONTACT = "+2348039999999"

PROGRAMS = f"""
[programs.orange]
name = "Orange Academy"
default_locale = "fr"
country = "NG"
keywords = ["JOIN ORANGE"]
invitations_per_minute = {PACE}

[programs.sun]
name = "Sun School"
default_locale = "en"
monthly_budget = {PACE}
currency = "USD"
contacts = ["{SUN_CONTACT}"]
keywords = ["JOIN SUN"]
invitations_per_minute = {PACE}
"""

# Orange's numbers as its administrator has them (national, read for NG); Sun's in E.164.
ORANGE = [f"+23480310{n:05d}" for n in range(1000)]
SUN = [f"+23480320{n:05d}" for n in range(1000)]


def orange_csv() -> bytes:
    return ("phone,name\n" + "".join(f"0803 10{n:05d},Learner {n}\n" for n in range(1000))
            ).encode()


def sun_csv() -> bytes:
    return ("Name,Phone\n" + "".join(f"Sun {n},{phone}\n" for n, phone in enumerate(SUN))
            ).encode()


def course_copy(root: Path, folder: str, code: str, program: str) -> None:
    shutil.copytree(lessons_dir() / "start-freelancing", root / folder)
    toml = root / folder / "course.toml"
    text = toml.read_text(encoding="utf-8").replace('code = "FREELANCE"', f'code = "{code}"')
    toml.write_text(f'program = "{program}"\n' + text, encoding="utf-8")


def learnline(env: dict[str, str], *args: str, stdin: str = "") -> str:
    result = subprocess.run([sys.executable, "-m", "gateway.cli", *args], env=env,
                            input=stdin, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def sms(base: str, sender: str, body: str) -> None:
    """One signed Twilio webhook of an inbound SMS to the served gateway."""
    path = "/carriers/twilio/sms"
    params = TwilioWebhooks(None).inbound_params(sender, body, TwilioWebhooks.new_sid())
    answer = requests.post(base + path, data=params, timeout=30, headers={
        "X-Twilio-Signature": twilio_signature(AUTH_TOKEN, PUBLIC_URL + path, params)})
    assert answer.status_code == 200, answer.text


def signed_in(base: str, username: str, *, verify: bool = True) -> requests.Session:
    session = requests.Session()
    if not verify:  # nginx's self-signed certificate in a test (no CA bundle of the
        session.verify, session.trust_env = False, False  # environment either)
    form = session.get(base + "/admin/signin", timeout=30).text
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    answer = session.post(base + "/admin/signin", allow_redirects=False, timeout=60, data={
        "csrf": token, "username": username, "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return session


def upload(session: requests.Session, base: str, program: str, course: str,
           data: bytes) -> int:
    """Create a cohort starting today from the cohorts page's form; its id."""
    path = f"{base}/admin/programs/{program}/cohorts"
    token = re.search(r'name="csrf" value="([^"]+)"', session.get(path, timeout=30).text
                      ).group(1)
    answer = session.post(path, allow_redirects=False, timeout=60, data={
        "csrf": token, "name": f"{program} intake", "course": course,
        "starts_on": datetime.now(UTC).date().isoformat()},
        files={"numbers": ("numbers.csv", data, "text/csv")})
    assert answer.status_code == 303, answer.text
    return int(re.search(r"created=(\d+)", answer.headers["Location"]).group(1))


def funnel(session: requests.Session, base: str, program: str, cohort: int) -> dict:
    answer = session.get(f"{base}/admin/programs/{program}/cohorts/{cohort}.csv", timeout=30)
    assert answer.status_code == 200, answer.text
    return {row["stage"]: int(row["count"]) for row in csv.DictReader(io.StringIO(answer.text))}


def test_two_programs_invite_their_cohorts_at_their_pace_and_a_budget_stops_one(
        tmp_path, twilio_api, monkeypatch):
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    carriers_file = tmp_path / "carriers.toml"
    carriers_file.write_text(carriers_toml(twilio_api.url).replace(
        "tps = 200\n", 'tps = 200\nprice_per_segment = 1.0\ncurrency = "USD"\n'
                       'quiet_hours = "0-0"\n'), encoding="utf-8")  # any hour of the test
    programs_file = tmp_path / "programs.toml"
    programs_file.write_text(PROGRAMS, encoding="utf-8")
    monkeypatch.setenv("LEARNLINE_PROGRAMS", str(programs_file))
    lessons = tmp_path / "lessons"
    course_copy(lessons, "orange-course", "ORANGE1", "orange")
    course_copy(lessons, "sun-course", "SUN1", "sun")

    served = serve_gateway(tmp_path, carriers_file)
    gateway = next(served)
    try:
        env, base = gateway.env, gateway.base
        learnline(env, "lessons", "import", str(lessons))
        for username, program in (("ada", "orange"), ("sol", "sun")):
            learnline(env, "staff", "add", username, "--name", username.title(), "--role",
                      "admin", "--program", program, "--password-stdin", stdin=PASSWORD + "\n")
        ada, sol = signed_in(base, "ada"), signed_in(base, "sol")
        orange_cohort = upload(ada, base, "orange", "orange-course", orange_csv())
        sun_cohort = upload(sol, base, "sun", "sun-course", sun_csv())

        def invited(numbers: list[str]) -> list[str]:
            """The numbers the invitations reached on the wire, in order."""
            wanted = set(numbers)
            return [m["To"] for m in twilio_api.messages
                    if m["To"] in wanted and "/join/" in m["Body"]]

        # Paced: one round sends each cohort its minute's worth, in the file's order.
        gateway.drain()
        assert invited(ORANGE) == ORANGE[:PACE] and invited(SUN) == SUN[:PACE]
        [first] = [m["Body"] for m in twilio_api.messages if m["To"] == ORANGE[0]]
        assert first.startswith("Orange Academy vous invite") and "/join/orange" in first
        [first] = [m["Body"] for m in twilio_api.messages if m["To"] == SUN[0]]
        assert first.startswith("Sun School invites you") and "/join/sun" in first
        # Within the same minute, no more; Sun's invitations cost it its budget: its
        # contact is told.
        gateway.drain()
        assert len(invited(ORANGE)) == PACE and len(invited(SUN)) == PACE
        told = [m["Body"] for m in twilio_api.messages if m["To"] == SUN_CONTACT]
        assert told == ["Sun School has reached its budget for "
                        f"{datetime.now(UTC):%Y-%m}: 100.00 of 100.00 USD. Lessons, reminders, "
                        "announcements and invitations stop until next month; replies to "
                        "learners continue."]
        # A minute on (the pace counts invitations of the last minute): Orange's next
        # hundred go; Sun's numbers wait for the budget.
        with sqlite3.connect(env["LEARNLINE_DB"]) as db:
            db.execute("UPDATE cohort_members SET invited_at = invited_at - 61 "
                       "WHERE invited_at IS NOT NULL")
        gateway.drain()
        assert invited(ORANGE) == ORANGE[:2 * PACE] and invited(SUN) == SUN[:PACE]
        assert len(twilio_api.messages) == 3 * PACE + len(told)

        # Those who answer join their own program, and start the cohort's course.
        for phone in ORANGE[:3]:
            sms(base, phone, "OUI")
        for phone in SUN[:2]:
            sms(base, phone, "YES")
        sms(base, ORANGE[500], "OUI")  # not invited yet: joins nothing
        gateway.drain()
        for phone in ORANGE[:3]:
            assert any("Orange Academy" in b for b in twilio_api.bodies_to(phone)[1:]), phone
        for phone in SUN[:2]:  # replies go though Sun is at its budget
            welcome = twilio_api.bodies_to(phone)[1:]
            assert any("Sun School" in b for b in welcome), welcome
        with Store.open(env["LEARNLINE_DB"]) as store:
            joined = store.db.execute(
                "SELECT program, phone, via FROM program_members ORDER BY program, phone"
            ).fetchall()
            assert [tuple(row) for row in joined] == (
                [("orange", phone, "invitation") for phone in ORANGE[:3]]
                + [("sun", phone, "invitation") for phone in SUN[:2]])
            assert store.learner(ORANGE[0]).current_course == "orange-course"
            assert store.learner(SUN[0]).current_course == "sun-course"

        # Each administrator sees their own funnel, and nothing of the other program.
        assert funnel(ada, base, "orange", orange_cohort) == {
            "members": 1000, "invited": 2 * PACE, "joined": 3, "started": 3, "half": 0,
            "certificate": 0}
        assert funnel(sol, base, "sun", sun_cohort) == {
            "members": 1000, "invited": PACE, "joined": 2, "started": 2, "half": 0,
            "certificate": 0}
        for session, program, joiners in ((ada, "orange", 3), (sol, "sun", 2)):
            table = session.get(f"{base}/admin/programs/{program}/funnel.csv", timeout=30)
            assert table.status_code == 200
            assert table.text.splitlines()[1:4] == [
                f",Joined the program,{joiners},", f"Start freelancing,Enrolled,{joiners},100.0",
                f"Start freelancing,Started lesson 1,{joiners},100.0"]
        # Their messages, counted to each program: its invitations and its replies.
        costs = sol.get(f"{base}/admin/programs/sun/costs.csv", timeout=30).text
        assert costs.splitlines()[1].startswith(f"USD,{PACE + 2},")
        costs = ada.get(f"{base}/admin/programs/orange/costs.csv", timeout=30).text
        assert costs.splitlines()[1].startswith(f"USD,{2 * PACE + 3},")
        page = ada.get(f"{base}/admin/programs/orange", timeout=30)
        assert page.status_code == 200 and "Orange Academy" in page.text
        assert "Sun School" not in page.text
        assert "sun intake" not in ada.get(f"{base}/admin/programs/orange/cohorts",
                                           timeout=30).text
        for session, other, cohort, shown in (
                (ada, "sun", sun_cohort, ("Sun School", "sun intake", SUN[0])),
                (sol, "orange", orange_cohort, ("Orange Academy", "orange intake",
                                                ORANGE[0]))):
            for path in (f"/admin/programs/{other}", f"/admin/programs/{other}/funnel.csv",
                         f"/admin/programs/{other}/cohorts",
                         f"/admin/programs/{other}/cohorts/{cohort}",
                         f"/admin/programs/{other}/cohorts/{cohort}.csv"):
                answer = session.get(base + path, timeout=30, allow_redirects=False)
                assert answer.status_code == 403, (path, answer.status_code)
                assert not any(text in answer.text for text in shown), path

        # Six quiet days: Orange's learner gets a reminder; Sun's, at its budget, none,
        # while what they text is still answered.
        with Store.open(env["LEARNLINE_DB"]) as store:
            now = time.time()
            for phone in (ORANGE[0], SUN[0]):
                learner = store.learner(phone)
                learner.last_seen_at = now - 6 * 86_400
                learner.next_check_at = now - 1
                with store.write():
                    store.save_learner(learner)
        orange_before = len(twilio_api.bodies_to(ORANGE[0]))
        sun_before = len(twilio_api.bodies_to(SUN[0]))
        gateway.drain()
        assert len(twilio_api.bodies_to(ORANGE[0])) == orange_before + 1
        assert "vous attend" in twilio_api.bodies_to(ORANGE[0])[-1]  # the reminder
        assert len(twilio_api.bodies_to(SUN[0])) == sun_before
        assert invited(SUN) == SUN[:PACE]
        sms(base, SUN[0], "HELP")
        gateway.drain()
        assert len(twilio_api.bodies_to(SUN[0])) == sun_before + 1
        assert "NEXT continue" in twilio_api.bodies_to(SUN[0])[-1]  # the help it asked for
    finally:
        served.close()


@contextmanager
def _uploads_served(tmp_path: Path, twilio_api, monkeypatch) -> Iterator:
    """`learnline serve` with the programs, Orange's course, and staff: ada (Orange's
    administrator), sol (Sun's) and tim (a tutor of Orange)."""
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    carriers_file = tmp_path / "carriers.toml"
    carriers_file.write_text(carriers_toml(twilio_api.url), encoding="utf-8")
    programs_file = tmp_path / "programs.toml"
    programs_file.write_text(PROGRAMS, encoding="utf-8")
    monkeypatch.setenv("LEARNLINE_PROGRAMS", str(programs_file))
    lessons = tmp_path / "lessons"
    course_copy(lessons, "orange-course", "ORANGE1", "orange")
    served = serve_gateway(tmp_path, carriers_file)
    gateway = next(served)
    try:
        learnline(gateway.env, "lessons", "import", str(lessons))
        for username, role, program in (("ada", "admin", "orange"), ("sol", "admin", "sun"),
                                        ("tim", "tutor", "orange")):
            learnline(gateway.env, "staff", "add", username, "--name", username.title(),
                      "--role", role, "--program", program, "--password-stdin",
                      stdin=PASSWORD + "\n")
        yield gateway
    finally:
        served.close()


def numbers_csv(count: int) -> bytes:
    return ("phone,name\n" + "".join(f"0803 {n:07d},Learner number {n}\n"
                                     for n in range(count))).encode()


def _asked(port: int, session: requests.Session | None, size: int,
           headers: dict[str, str] | None = None,
           path: str = "/admin/programs/orange/cohorts", tls: bool = False) -> bytes:
    """The first answer (after any `100 Continue`) to the head of a cohort upload (a POST
    to `path`) of `size` bytes sent by `session` (its cookies), the body not sent: what
    came within 10 s. `tls`: through nginx's HTTPS port."""
    import contextlib
    import socket
    import ssl

    cookies = "; ".join(f"{c.name}={c.value}" for c in session.cookies) if session else ""
    lines = [f"POST {path} HTTP/1.1", "Host: learn.example.org",
             "Content-Type: multipart/form-data; boundary=XyZ", f"Content-Length: {size}",
             "Expect: 100-continue", *([f"Cookie: {cookies}"] if cookies else []),
             *(f"{name}: {value}" for name, value in (headers or {}).items())]
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            (context.wrap_socket(raw, server_hostname="learn.example.org") if tls
             else contextlib.nullcontext(raw)) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
                if tls and data == b"HTTP/1.1 100 Continue\r\n\r\n":
                    data = b""  # nginx's own, as it starts reading the body
                elif data.startswith(b"HTTP/1.1 100 ") and data.endswith(b"\r\n\r\n"):
                    break
        except (TimeoutError, ssl.SSLError):
            pass
    return data


def _sent_whole(port: int, session: requests.Session, size: int) -> bytes:
    """The answer to a cohort upload of `size` bytes sent whole at once by `session`, as a
    browser sends a form, read while it is sent; empty if the connection was reset."""
    import socket
    import threading

    cookies = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    head = (f"POST /admin/programs/orange/cohorts HTTP/1.1\r\nHost: learn.example.org\r\n"
            f"Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {size}\r\n"
            f"Cookie: {cookies}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        def send() -> None:
            with suppress(OSError):  # reset once the answer is out: read what came
                sock.sendall(head + b"x" * size)

        sender = threading.Thread(target=send)
        sender.start()
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except OSError:
            data = b""
        sender.join(60)
    return data


def test_served_a_cohort_of_20000_numbers_uploads_and_a_larger_file_gets_a_page_unread(
        tmp_path, twilio_api, monkeypatch):
    """Through the real server: a program's administrator uploads 20,000 numbers (about
    600 KB, ten times the gateway's 64 KiB) on the dashboard and they are imported; a file
    over the upload's 8 MB gets a page naming its size, the limit and the command before
    any of it is sent; without credentials, with a wrong bearer token, as a tutor or as
    another program's administrator, a body over 64 KiB is refused before it is sent."""
    with _uploads_served(tmp_path, twilio_api, monkeypatch) as gateway:
        base, port = gateway.base, gateway.port
        ada = signed_in(base, "ada")
        data = numbers_csv(20_000)
        assert len(data) > 9 * 64 * 1024
        cohort = upload(ada, base, "orange", "orange-course", data)
        assert funnel(ada, base, "orange", cohort)["members"] == 20_000

        page = _asked(port, ada, 19 * 512 * 1024)  # 9.5 MB: answered before it is sent
        assert page.startswith(b"HTTP/1.1 413 ") and b"\r\nConnection: close\r\n" in page
        text = page.decode()
        assert "This upload is 9.5 MB" in text and "up to 8 MB" in text
        assert "learnline cohorts import orange" in text and "Orange Academy" in text
        assert "<script" not in text

        size = 5 * 1024 * 1024
        refused = {"nobody": _asked(port, None, size),
                   "wrong token": _asked(port, None, size,
                                         {"Authorization": "Bearer " + "w" * 40}),
                   "tutor": _asked(port, signed_in(base, "tim"), size),
                   "sun's administrator": _asked(port, signed_in(base, "sol"), size)}
        for who, answer in refused.items():
            assert answer.startswith(b"HTTP/1.1 413 "), (who, answer[:200])
        # A browser sends the whole file without waiting: it still reads the page whole.
        assert b"This upload is 9.5 MB" in _sent_whole(port, ada, 19 * 512 * 1024)
        # Orange's administrator is asked for the body, and only then.
        assert _asked(port, ada, size).startswith(b"HTTP/1.1 100 Continue\r\n")
        # Every other route keeps the gateway's 64 KiB, signed in or not.
        for path in ("/signin", "/admin/signin", f"/admin/programs/orange/cohorts/{cohort}"):
            answer = _asked(port, ada, 65 * 1024, path=path)
            assert answer.startswith(b"HTTP/1.1 413 Request Entity Too Large\r\n"), path


def test_behind_the_shipped_nginx_the_upload_is_refused_or_taken_as_without_it(
        tmp_path, twilio_api, monkeypatch):
    """deploy/nginx in front: the administrator's 20,000 numbers go through, a file over
    8 MB gets Learnline's page, and nobody else's large body is taken."""
    import warnings

    from urllib3.exceptions import InsecureRequestWarning

    from tests.test_nginx import shipped_nginx

    (tmp_path / "web").mkdir()
    with _uploads_served(tmp_path / "web", twilio_api, monkeypatch) as gateway, \
            shipped_nginx(tmp_path / "nginx", gateway.port) as (tls, _), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureRequestWarning)
        base = f"https://127.0.0.1:{tls}"
        ada = signed_in(base, "ada", verify=False)
        cohort = upload(ada, base, "orange", "orange-course", numbers_csv(20_000))
        assert funnel(ada, base, "orange", cohort)["members"] == 20_000
        page = _asked(tls, ada, 19 * 512 * 1024, tls=True)
        assert page.startswith(b"HTTP/1.1 413 "), page[:300]
        assert b"This upload is 9.5 MB" in page, page[:300]
        for who, session in (("nobody", None), ("tutor", signed_in(base, "tim", verify=False))):
            answer = _asked(tls, session, 5 * 1024 * 1024, tls=True)
            assert answer.startswith(b"HTTP/1.1 413 "), (who, answer[:300])
