"""Course packs (gateway/sync/packs.py, `learnline packs`): build, sign, verify, install, with
learners in the middle of lessons that change."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.channels.sms import receive_inbound
from gateway.config import Carrier
from gateway.content import load_courses
from gateway.content.model import SMS
from gateway.learning import Answer, Engine, Next, Start, Status
from gateway.learning import replies as r
from gateway.learning.merge import rebuild_projection
from gateway.paths import lessons_dir
from gateway.store import Store
from gateway.sync import packs

REPO = Path(__file__).resolve().parent.parent
COURSE = "start-freelancing"
CONSOLE = Carrier.of(id="console", adapter="console", sender="Learnline", country="NG")


@pytest.fixture(scope="module")
def hub_key():
    return packs.generate_key()


@pytest.fixture(scope="module")
def trusted(hub_key) -> list[bytes]:
    return [packs.public_key_bytes(hub_key)]


@pytest.fixture(scope="module")
def bundled_pack(hub_key) -> bytes:
    return packs.build_pack(lessons_dir(), hub_key, version=100)


@pytest.fixture
def fresh_db(tmp_path: Path) -> Path:
    path = tmp_path / "edge.db"
    Store.open(path, migrate=True).close()
    return path


def lesson_rows(store: Store) -> list[tuple]:
    return list(store.db.execute(
        "SELECT course_id, lesson_id, locale, hash FROM lessons ORDER BY 1, 2, 3").fetchall())


# -- the format ----------------------------------------------------------------------------------


def test_a_pack_holds_every_course_locale_and_lesson_with_its_sms_costs(bundled_pack, trusted):
    pack = packs.verify_pack(bundled_pack, trusted)
    # Format 2: the bundled course carries an SMS edition ('[sms]', '[web only]').
    assert bundled_pack.startswith(b"LEARNLINE-PACK 2\n")
    header = json.loads(bundled_pack.split(b"\n")[1])
    assert header["version"] == 100 and header["format"] == 2
    assert header["digest"] == pack.digest and len(pack.digest) == 64
    assert pack.size == len(bundled_pack)

    [course] = pack.document()["courses"]
    [authored], _ = load_courses(lessons_dir())
    assert course["id"] == COURSE
    expected = {"course.toml"} | {f"{loc}/{lesson_id}.txt" for loc in authored.locales
                                  for lesson_id in authored.lesson_ids}
    assert set(course["files"]) == expected
    assert course["files"]["fr/first-clients.txt"] == (
        lessons_dir() / COURSE / "fr" / "first-clients.txt").read_text(encoding="utf-8")

    from gateway.channels.sms.cost import lesson_segments

    lesson = authored.lessons["fr"][1]
    rendition = course["sms"]["fr"][lesson.id]
    # Packed as a carrier with the default policy gets them: one message per card SMS
    # sends (web-only cards are left out), the last card with Q1, one per further
    # question, and the end with the last feedback.
    sms_cards = [card for card in lesson.edition(SMS).cards if card.text]
    assert len(sms_cards) < len(lesson.cards)
    assert len(rendition) == len(sms_cards) + len(lesson.questions)
    assert sum(m["segments"]["auto"] for m in rendition) == lesson_segments(
        authored, lesson, 2, "fr", "auto")


def test_the_same_content_builds_the_same_digest_whatever_the_version(hub_key, bundled_pack):
    again = packs.build_pack(lessons_dir(), hub_key, version=7)
    assert packs.read_pack(again).digest == packs.read_pack(bundled_pack).digest
    assert packs.read_pack(again).payload == packs.read_pack(bundled_pack).payload
    assert packs.suggested_name(again) == packs.read_pack(again).digest[:16] + ".llpack"


def test_changed_content_builds_another_digest(hub_key, bundled_pack, tmp_path):
    root = edited_lessons(tmp_path, lambda folder: replace_in(
        folder / "fr" / "first-clients.txt", "clients", "client(e)s", count=1))
    other = packs.build_pack(root, hub_key, version=100)
    assert packs.read_pack(other).digest != packs.read_pack(bundled_pack).digest


# -- refusals ------------------------------------------------------------------------------------


def flipped(data: bytes, index: int, new: bytes | None = None) -> bytes:
    replacement = new if new is not None else bytes([data[index] ^ 0x01])
    return data[:index] + replacement + data[index + 1:]


def header_span(data: bytes, field: str) -> tuple[int, int]:
    """Where the value of a header field lies in the pack's bytes."""
    line_start = data.index(b"\n") + 1
    line = data[line_start:data.index(b"\n", line_start)]
    match = re.search(rb'"' + field.encode() + rb'":("?)([^",}]+)', line)
    assert match
    return line_start + match.start(2), line_start + match.end(2)


def test_a_flipped_byte_in_the_payload_is_tampering(bundled_pack, trusted):
    for index in (len(bundled_pack) - 1, len(bundled_pack) - 500):
        with pytest.raises(packs.PackError, match=r"^tampered: the payload does not match"):
            packs.verify_pack(flipped(bundled_pack, index), trusted)


@pytest.mark.parametrize("field", ["created_at", "version", "raw_size"])
def test_a_changed_byte_in_the_header_is_tampering(bundled_pack, trusted, field):
    start, _end = header_span(bundled_pack, field)
    digit = bundled_pack[start:start + 1]
    changed = flipped(bundled_pack, start, b"9" if digit != b"9" else b"8")
    with pytest.raises(packs.PackError, match=r"^tampered: the signature does not match"):
        packs.verify_pack(changed, trusted)


def test_a_header_that_no_longer_parses_is_tampering(bundled_pack, trusted):
    start, _ = header_span(bundled_pack, "version")
    with pytest.raises(packs.PackError, match=r"^tampered or damaged: the header"):
        packs.verify_pack(flipped(bundled_pack, start, b"x"), trusted)


def test_a_header_respelled_with_the_same_fields_is_refused(bundled_pack, trusted):
    line_end = bundled_pack.index(b"\n", len(packs.MAGIC))
    header = json.loads(bundled_pack[len(packs.MAGIC):line_end])
    respelled = json.dumps(header, indent=1).replace("\n", "").encode()
    magic = bundled_pack[:len(packs.MAGIC)]
    with pytest.raises(packs.PackError, match=r"^tampered: the header is not in its canonical"):
        packs.verify_pack(magic + respelled + bundled_pack[line_end:], trusted)


def test_a_changed_byte_in_the_signature_is_tampering(bundled_pack, trusted):
    start, end = header_span(bundled_pack, "signature")
    for index in (start, (start + end) // 2, end - 3):
        char = bundled_pack[index:index + 1]
        other = b"A" if char != b"A" else b"B"
        # (The last character before the "==" padding has low bits that carry no data:
        # changing only those is caught as a non-canonical header.)
        with pytest.raises(packs.PackError, match=r"^tampered: the (signature|header)"):
            packs.verify_pack(flipped(bundled_pack, index, other), trusted)


def test_a_pack_signed_by_another_key_is_refused_naming_it(bundled_pack):
    stranger = packs.public_key_bytes(packs.generate_key())
    signer = packs.read_pack(bundled_pack).key_id
    with pytest.raises(packs.PackError, match=rf"^signed by an untrusted key {signer} "):
        packs.verify_pack(bundled_pack, [stranger])


def test_no_trusted_key_configured_says_how_to_configure_one(bundled_pack, monkeypatch):
    monkeypatch.delenv("LEARNLINE_TRUSTED_PACK_KEYS", raising=False)
    assert packs.trusted_keys_from_env() == []
    with pytest.raises(packs.PackError, match="set LEARNLINE_TRUSTED_PACK_KEYS"):
        packs.verify_pack(bundled_pack, packs.trusted_keys_from_env())


def test_trusted_keys_come_from_the_environment(monkeypatch, trusted):
    other = packs.public_key_bytes(packs.generate_key())
    monkeypatch.setenv("LEARNLINE_TRUSTED_PACK_KEYS", " , ".join(
        base64.b64encode(k).decode() for k in (trusted[0], other)) + ",")
    assert packs.trusted_keys_from_env() == [trusted[0], other]
    monkeypatch.setenv("LEARNLINE_TRUSTED_PACK_KEYS", "not-a-key")
    with pytest.raises(packs.PackError, match="not a base64 Ed25519 public key"):
        packs.trusted_keys_from_env()


def test_not_a_pack(trusted):
    for data in (b"", b"PK\x03\x04zip", b"LEARNLINE-PACK 3\n{}\n"):
        with pytest.raises(packs.PackError, match=r"not a Learnline pack|unsupported pack"):
            packs.verify_pack(data, trusted)


# -- installing ----------------------------------------------------------------------------------


def test_install_then_the_same_pack_again_is_a_no_op(fresh_db, bundled_pack, trusted):
    with Store.open(fresh_db) as store:
        assert packs.installed_pack(store) is None
        report = packs.install_pack(store, bundled_pack, trusted)
        assert report.installed and report.previous is None
        assert report.counts == {COURSE: {"added": 30, "updated": 0, "unchanged": 0}}
        digest = packs.read_pack(bundled_pack).digest
        assert packs.installed_pack(store) == (100, digest)
        rows = lesson_rows(store)
        assert len(rows) == 30  # 6 lessons in 5 languages

        again = packs.install_pack(store, bundled_pack, trusted)
        assert not again.installed and again.previous == (100, digest)
        assert lesson_rows(store) == rows


def test_an_older_or_equal_version_is_refused(fresh_db, hub_key, trusted, tmp_path):
    root = edited_lessons(tmp_path, lambda folder: replace_in(
        folder / "en" / "first-clients.txt", "busy", "crowded", count=1))
    with Store.open(fresh_db) as store:
        packs.install_pack(store, packs.build_pack(lessons_dir(), hub_key, version=100),
                           trusted)
        rows = lesson_rows(store)
        for version, message in ((99, r"older than the installed pack \(version 99 < 100\)"),
                                 (100, r"version 100 is already installed with other content")):
            with pytest.raises(packs.PackError, match=message):
                packs.install_pack(store, packs.build_pack(root, hub_key, version), trusted)
        assert lesson_rows(store) == rows
        report = packs.install_pack(store, packs.build_pack(root, hub_key, 101), trusted)
        assert report.counts[COURSE]["updated"] == 1 and report.previous[0] == 100


def test_content_this_gateway_rejects_changes_nothing(fresh_db, hub_key, bundled_pack, trusted):
    with Store.open(fresh_db) as store:
        packs.install_pack(store, bundled_pack, trusted)
        before = (lesson_rows(store), packs.installed_pack(store))

        document = packs.read_pack(bundled_pack).document()
        files = document["courses"][0]["files"]
        # A valid second lesson change and an invalid one (two cards) in one pack: the
        # valid change must not be applied alone.
        files["en/find-your-skill.txt"] = files["en/find-your-skill.txt"].replace(
            "Find", "Choose", 1)
        text = files["en/first-clients.txt"]
        head, quiz = text.split("## Quiz")
        cards = head.strip().split("\n\n")
        files["en/first-clients.txt"] = "\n\n".join(cards[:3]) + "\n\n## Quiz" + quiz
        bad = packs.seal(document, hub_key, version=200)
        with pytest.raises(packs.PackError, match=r"content refused .* 1 problem\(s\), first: "
                           r"pack:start-freelancing/en/first-clients.txt:1: 2 cards") as caught:
            packs.install_pack(store, bad, trusted)
        assert caught.value.problems
        assert (lesson_rows(store), packs.installed_pack(store)) == before


def test_a_file_name_that_leaves_the_course_folder_is_refused(fresh_db, hub_key, bundled_pack,
                                                               trusted):
    document = packs.read_pack(bundled_pack).document()
    document["courses"][0]["files"]["../../evil.txt"] = "x"
    refused = re.escape("unexpected file '../../evil.txt'")
    with Store.open(fresh_db) as store, pytest.raises(packs.PackError, match=refused):
        packs.install_pack(store, packs.seal(document, hub_key, 300), trusted)


@pytest.mark.parametrize("where", ["course id", "file name"])
def test_a_name_with_a_trailing_newline_is_refused(fresh_db, hub_key, bundled_pack, trusted,
                                                   where):
    document = packs.read_pack(bundled_pack).document()
    course = document["courses"][0]
    if where == "course id":
        course["id"] = COURSE + "\n"
    else:
        files = course["files"]
        files["en/first-clients.txt\n"] = files.pop("en/first-clients.txt")
    with Store.open(fresh_db) as store:
        with pytest.raises(packs.PackError, match=r"^damaged: "):
            packs.install_pack(store, packs.seal(document, hub_key, 300), trusted)
        assert lesson_rows(store) == [] and packs.installed_pack(store) is None


def test_a_course_twice_in_a_pack_is_refused(fresh_db, hub_key, bundled_pack, trusted):
    document = packs.read_pack(bundled_pack).document()
    document["courses"].append(json.loads(json.dumps(document["courses"][0])))
    with Store.open(fresh_db) as store:
        with pytest.raises(packs.PackError,
                           match=f"^damaged: course {COURSE} is in the pack twice$"):
            packs.install_pack(store, packs.seal(document, hub_key, 300), trusted)
        assert lesson_rows(store) == []


def test_a_course_code_an_installed_course_uses_is_one_clear_error(tmp_path: Path, hub_key,
                                                                    bundled_pack, trusted):
    """A hub that renamed a course's folder but kept its code: the edge still has the old
    course, so the code would be taken twice."""
    db = tmp_path / "edge.db"
    with Store.open(db, migrate=True) as store:
        packs.install_pack(store, bundled_pack, trusted)
        before = (lesson_rows(store), packs.installed_pack(store))
    document = packs.read_pack(bundled_pack).document()
    document["courses"][0]["id"] = "freelancing"
    (tmp_path / "renamed.llpack").write_bytes(packs.seal(document, hub_key, 300))
    public = base64.b64encode(trusted[0]).decode()
    result = learnline("packs", "import", "renamed.llpack", cwd=tmp_path, LEARNLINE_DB=str(db),
                       LEARNLINE_TRUSTED_PACK_KEYS=public)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: renamed.llpack: course freelancing has code FREELANCE, which course "
        f"{COURSE} already uses on this gateway; give one of them another code"]
    with Store.open(db) as store:
        assert (lesson_rows(store), packs.installed_pack(store)) == before


def test_a_failure_while_applying_leaves_everything_as_it_was(fresh_db, hub_key, bundled_pack,
                                                              trusted, tmp_path, monkeypatch):
    root = edited_lessons(tmp_path, lambda folder: replace_in(
        folder / "en" / "first-clients.txt", "busy", "crowded", count=1))
    with Store.open(fresh_db) as store:
        packs.install_pack(store, bundled_pack, trusted)
        before = (lesson_rows(store), packs.installed_pack(store))

        def broken(*args, **kwargs):
            raise OSError("disk full")

        monkeypatch.setattr(store, "record_pack", broken)
        with pytest.raises(OSError):
            packs.install_pack(store, packs.build_pack(root, hub_key, 101), trusted)
        assert (lesson_rows(store), packs.installed_pack(store)) == before


# -- learners in the middle of lessons that change ----------------------------------------------


def edited_lessons(tmp_path: Path, edit) -> Path:
    """A copy of the bundled lessons, changed by `edit(course_folder)`."""
    root = tmp_path / "lessons"
    shutil.copytree(lessons_dir(), root)
    edit(root / COURSE)
    return root


def replace_in(path: Path, old: str, new: str, count: int = -1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def keep_cards(path: Path, count: int) -> None:
    head, quiz = path.read_text(encoding="utf-8").split("## Quiz")
    title, *cards = head.strip().split("\n\n")
    path.write_text("\n\n".join([title, *cards[:count]]) + "\n\n## Quiz" + quiz,
                    encoding="utf-8")


def drop_last_question(path: Path) -> None:
    head, quiz = path.read_text(encoding="utf-8").split("## Quiz")
    questions = quiz.strip().split("\n\n")
    path.write_text(head + "## Quiz\n\n" + "\n\n".join(questions[:-1]) + "\n",
                    encoding="utf-8")


def remove_lesson(folder: Path, lesson_id: str) -> None:
    replace_in(folder / "course.toml", f'    "{lesson_id}",\n', "")
    for locale in ("en", "ar", "fr", "pt", "sw"):
        (folder / locale / f"{lesson_id}.txt").unlink()


class Learner:
    """One learner driving the real engine, one intent per transaction."""

    def __init__(self, store: Store, phone: str, locale: str = "en"):
        self.store, self.phone, self.locale = store, phone, locale

    def do(self, intent) -> tuple:
        with self.store.write():
            engine = Engine(self.store)
            learner = engine.learner(self.phone, "console", self.locale)
            return engine.handle(learner, intent).replies

    def status(self) -> r.Progress:
        return self.do(Status())[0]

    def right_answer(self) -> int:
        enrollment = self.store.enrollment(self.phone, COURSE)
        course = self.store.course(COURSE)
        lesson = self.store.lesson(COURSE, course.lesson_ids[enrollment.position],
                                   course.locale_for(self.locale))
        return lesson.questions[enrollment.quiz.queue[0]].answer

    def finish_lesson(self) -> r.LessonDone:
        """Read on to the quiz (or go on with it) and answer every question right."""
        replies = self.do(Next())
        while not isinstance(replies[-1], r.QuestionAsked):
            replies = self.do(Next())
        while True:
            replies = self.do(Answer(self.right_answer()))
            done = [reply for reply in replies if isinstance(reply, r.LessonDone)]
            if done:
                return done[0]


def test_learners_mid_lesson_continue_sensibly_after_a_pack_changes_their_lessons(
        fresh_db, hub_key, trusted, tmp_path):
    def edit(folder: Path) -> None:
        for locale in ("en", "ar", "fr", "pt", "sw"):
            keep_cards(folder / locale / "find-your-skill.txt", 3)  # 5 cards to 3
            drop_last_question(folder / locale / "first-clients.txt")  # 3 questions to 2
        remove_lesson(folder, "set-your-price")  # the third of six lessons

    v1 = packs.build_pack(lessons_dir(), hub_key, version=1)
    v2 = packs.build_pack(edited_lessons(tmp_path, edit), hub_key, version=2)

    with Store.open(fresh_db) as store:
        packs.install_pack(store, v1, trusted)

        # Ama reads card 5 of 5 of lesson 1: the first two of the three cards of its SMS
        # edition by SMS (the webhook's path: store, engine, render, outbox in one
        # commit), then on to card 5 on the web (SMS would open the quiz with its last
        # card, so by SMS alone she could not stay on card 5 before the quiz).
        ama = Learner(store, "+2348030000001")
        for n, text in enumerate(["START", "NEXT"]):
            receive_inbound(store, CONSOLE, f"ama-{n}", ama.phone, text)
        assert "[2/3]" in store.outbox(ama.phone)[-1].body
        assert (ama.status().card_number, ama.status().card_count) == (3, 5)
        ama.do(Next())
        ama.do(Next())
        assert (ama.status().card_number, ama.status().card_count) == (5, 5)

        # Bola, in French, has answered question 1 of 3 in lesson 2's quiz.
        bola = Learner(store, "+2348030000002", "fr")
        bola.do(Start())
        bola.finish_lesson()
        while not isinstance(bola.do(Next())[-1], r.QuestionAsked):
            pass
        assert isinstance(bola.do(Answer(bola.right_answer()))[-1], r.QuestionAsked)

        # Chidi reads card 2 of lesson 3, the lesson the pack removes.
        chidi = Learner(store, "+2348030000003")
        chidi.do(Start())
        chidi.finish_lesson()
        chidi.finish_lesson()
        chidi.do(Next())
        chidi.do(Next())
        assert (chidi.status().lesson_title, chidi.status().card_number) == (
            "Set a fair price", 2)

        # Dayo reads card 3 of lesson 4, after the removed lesson.
        dayo = Learner(store, "+2348030000004")
        dayo.do(Start())
        for _ in range(3):
            dayo.finish_lesson()
        for _ in range(3):
            dayo.do(Next())
        assert (dayo.status().lesson_number, dayo.status().card_number) == (4, 3)
        dayo_lesson = dayo.status().lesson_title

        report = packs.install_pack(store, v2, trusted)
        assert report.installed and report.previous[0] == 1
        assert report.counts[COURSE] == {"added": 0, "updated": 10, "unchanged": 15}
        # The move is a fact too: rebuilt from his events, Chidi is where the pack put him
        # (at the start of the lesson after the removed one), not back in the removed one.
        live = store.enrollment(chidi.phone, COURSE)
        with store.write():
            rebuild_projection(store, chidi.phone)
        rebuilt = store.enrollment(chidi.phone, COURSE)
        assert (rebuilt.position, rebuilt.card) == (live.position, live.card) == (2, -1)

        # Ama: her card is clamped to the last of the three; NEXT goes to the quiz.
        assert (ama.status().card_number, ama.status().card_count) == (3, 3)
        receive_inbound(store, CONSOLE, "ama-4", ama.phone, "NEXT")
        assert store.outbox(ama.phone)[-1].body.startswith("Q1/3")
        assert ama.finish_lesson().total == 3

        # Bola: question 3 is gone; question 2 (of 2 now) is next, then the lesson ends.
        replies = bola.do(Next())
        assert isinstance(replies[-1], r.QuestionAsked)
        assert (replies[-1].number, replies[-1].total) == (2, 2)
        done = bola.do(Answer(bola.right_answer()))
        assert isinstance(done[-1], r.LessonDone) and (done[-1].score, done[-1].total) == (2, 2)
        assert bola.status().lessons_done == 2

        # Chidi: his lesson is gone; he moves on to the start of the one after it.
        status = chidi.status()
        assert (status.lesson_title, status.lesson_number, status.lesson_count) == (
            "Agree the job clearly", 3, 5)
        card = chidi.do(Next())[-1]
        assert isinstance(card, r.CardShown)
        assert (card.lesson_title, card.card_number) == ("Agree the job clearly", 1)
        assert status.lessons_done == 2

        # Dayo: still in the same lesson at the same card; its number moved from 4 to 3.
        status = dayo.status()
        assert (status.lesson_title, status.lesson_number, status.card_number) == (
            dayo_lesson, 3, 3)
        assert dayo.do(Next())[-1].card_number == 4

        # Everyone can go on to the end of the course.
        for learner in (ama, bola, chidi, dayo):
            while learner.finish_lesson().next_lesson_title is not None:
                pass
            assert store.enrollment(learner.phone, COURSE).completed
            assert learner.status().lessons_done == 5


def test_a_learner_in_the_last_lesson_when_it_is_removed_gets_the_quiz_before_it(
        fresh_db, hub_key, trusted, tmp_path):
    v2 = packs.build_pack(edited_lessons(tmp_path, lambda folder: remove_lesson(
        folder, "keep-clients-and-money")), hub_key, version=2)
    with Store.open(fresh_db) as store:
        packs.install_pack(store, packs.build_pack(lessons_dir(), hub_key, version=1), trusted)
        eve = Learner(store, "+2348030000005")
        eve.do(Start())
        for _ in range(5):
            eve.finish_lesson()
        eve.do(Next())
        assert eve.status().lesson_number == 6

        packs.install_pack(store, v2, trusted)
        status = eve.status()
        assert (status.lesson_title, status.lesson_number, status.lesson_count) == (
            "Get paid safely", 5, 5)
        assert isinstance(eve.do(Next())[-1], r.QuestionAsked)
        assert eve.finish_lesson().next_lesson_title is None
        assert store.enrollment(eve.phone, COURSE).completed


# -- the command line ----------------------------------------------------------------------------


def learnline(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LEARNLINE_")}
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=120)


def test_keygen_build_show_import_through_the_cli(tmp_path: Path):
    keygen = learnline("packs", "keygen", "-o", "hub.pem", cwd=tmp_path)
    assert keygen.returncode == 0, keygen.stderr
    assert (tmp_path / "hub.pem").stat().st_mode & 0o777 == 0o600
    public = keygen.stdout.strip().splitlines()[-1]
    assert len(base64.b64decode(public)) == 32
    again = learnline("packs", "keygen", "-o", "hub.pem", cwd=tmp_path)
    assert again.returncode == 1 and "exists; not overwriting" in again.stderr

    no_key = learnline("packs", "build", cwd=tmp_path)
    assert no_key.returncode == 1 and "LEARNLINE_PACK_SIGNING_KEY" in no_key.stderr

    build = learnline("packs", "build", str(lessons_dir()), "--version", "5", cwd=tmp_path,
                      LEARNLINE_PACK_SIGNING_KEY="hub.pem")
    assert build.returncode == 0, build.stderr
    [name] = [p.name for p in tmp_path.glob("*.llpack")]
    data = (tmp_path / name).read_bytes()
    assert name == packs.read_pack(data).digest[:16] + ".llpack"
    assert f"wrote {name}: {len(data):,} bytes" in build.stdout

    db = str(tmp_path / "edge.db")
    show = learnline("packs", "show", name, cwd=tmp_path, LEARNLINE_TRUSTED_PACK_KEYS=public)
    assert show.returncode == 0, show.stderr
    assert "version: 5" in show.stdout and "valid, by a trusted key" in show.stdout
    assert "start-freelancing (FREELANCE): 6 lessons, locales en, ar, fr, pt, sw" in show.stdout

    unconfigured = learnline("packs", "import", name, cwd=tmp_path, LEARNLINE_DB=db)
    assert unconfigured.returncode == 1
    assert "set LEARNLINE_TRUSTED_PACK_KEYS" in unconfigured.stderr
    assert "Traceback" not in unconfigured.stderr

    first = learnline("packs", "import", name, cwd=tmp_path, LEARNLINE_DB=db,
                      LEARNLINE_TRUSTED_PACK_KEYS=public)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("installed pack version 5")
    assert "start-freelancing: 30 added, 0 updated, 0 unchanged" in first.stdout

    second = learnline("packs", "import", name, cwd=tmp_path, LEARNLINE_DB=db,
                       LEARNLINE_TRUSTED_PACK_KEYS=public)
    assert second.returncode == 0 and "already installed (version 5" in second.stdout

    (tmp_path / "bad.llpack").write_bytes(flipped(data, len(data) - 1))
    tampered = learnline("packs", "import", "bad.llpack", cwd=tmp_path, LEARNLINE_DB=db,
                         LEARNLINE_TRUSTED_PACK_KEYS=public)
    assert tampered.returncode == 1
    assert tampered.stderr.strip().splitlines() == [
        "Error: bad.llpack: tampered: the payload does not match the digest in its header"]

    same = learnline("packs", "build", "--key", "hub.pem", "--version", "4", "-o", "same.pack",
                     cwd=tmp_path)
    assert same.returncode == 0, same.stderr
    assert (tmp_path / "same.pack").read_bytes().split(b"\n", 2)[2] == data.split(b"\n", 2)[2]
    assert "already installed (version 5" in learnline(
        "packs", "import", "same.pack", cwd=tmp_path, LEARNLINE_DB=db,
        LEARNLINE_TRUSTED_PACK_KEYS=public).stdout

    root = edited_lessons(tmp_path, lambda folder: replace_in(
        folder / "en" / "first-clients.txt", "busy", "crowded", count=1))
    older = learnline("packs", "build", str(root), "--key", "hub.pem", "--version", "4",
                      "-o", "old.pack", cwd=tmp_path)
    assert older.returncode == 0, older.stderr
    refused = learnline("packs", "import", "old.pack", cwd=tmp_path, LEARNLINE_DB=db,
                        LEARNLINE_TRUSTED_PACK_KEYS=public)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "Error: old.pack: older than the installed pack (version 4 < 5)"]
    with Store.open(db) as store:
        assert packs.installed_pack(store) == (5, packs.read_pack(data).digest)


def test_build_refuses_content_with_errors(tmp_path: Path, hub_key):
    (tmp_path / "hub.pem").write_bytes(packs.private_key_pem(hub_key))
    root = edited_lessons(tmp_path, lambda folder: keep_cards(folder / "en" /
                                                              "first-clients.txt", 1))
    result = learnline("packs", "build", str(root), "--key", "hub.pem", cwd=tmp_path)
    assert result.returncode == 1
    assert "first-clients.txt:1: 1 card; a lesson has 3 to 6" in result.stderr
    assert "no pack built" in result.stderr and not list(tmp_path.glob("*.llpack"))


def test_the_cli_does_not_load_packs_or_metrics_until_asked():
    code = ("import sys, gateway.cli.main; "
            "print(sorted(m for m in ('gateway.sync.packs', 'gateway.metrics', 'cryptography') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_the_settings_are_documented():
    docs = {name: (REPO / name).read_text(encoding="utf-8") for name in (
        "docs/sync.md", "docs/operations.md", "deploy/learnline.env.example")}
    for name in ("LEARNLINE_TRUSTED_PACK_KEYS", "LEARNLINE_PACK_SIGNING_KEY"):
        assert name in docs["docs/operations.md"] and name in docs["deploy/learnline.env.example"]
    for words in ("LEARNLINE-PACK 1", "learnline packs build", "learnline packs import",
                  "learnline packs keygen", "learnline packs show"):
        assert words in docs["docs/sync.md"]


def test_show_and_import_print_no_control_character_an_unsigned_pack_carries(tmp_path: Path):
    """`packs show` is how an operator inspects a pack before trusting it: a forged one's
    key id, course id, code and locale names cannot clear the screen, retitle the window
    or forge a "valid" line, and a course of another shape is said to be damaged."""
    forged = "\x1b]0;title\x07\x1b[2J\x1b[H\r  signature: valid, by a trusted key\x1b[8m"
    document = {"format": 1, "courses": [
        {"id": "x" + forged, "sms": {},
         "files": {"course.toml": 'code = "A\\u001b[31mRED"\nlessons = ["a"]\n',
                   "en\u202e/a.txt": ""}},
        "not a course"]}
    raw = packs._canonical(document)
    payload = packs._compress(raw, "gzip")
    header = {"format": 1, "version": 5, "created_at": 10**20, "compression": "gzip",
              "raw_size": len(raw), "digest": "d" + forged,
              "key_id": "k" + forged, "signature": base64.b64encode(b"x" * 64).decode()}
    (tmp_path / "forged.llpack").write_bytes(
        packs.MAGICS[1] + packs._header_line(header) + payload)
    show = learnline("packs", "show", "forged.llpack", cwd=tmp_path)
    imported = learnline("packs", "import", "forged.llpack", cwd=tmp_path,
                         LEARNLINE_DB=str(tmp_path / "edge.db"))
    for run in (show, imported):
        printed = run.stdout + run.stderr
        assert not any(c in printed for c in "\x1b\x07\r\u202e"), repr(printed)
    assert show.returncode == 0, show.stderr
    assert "signed by key: k\\x1b]0;title\\x07\\x1b[2J" in show.stdout
    assert "digest: d\\x1b]0;title" in show.stdout
    assert "created: 100000000000000000000 (no date)" in show.stdout
    assert not any(line.startswith("  signature: valid") for line in show.stdout.splitlines())
    assert "(A\\x1b[31mRED)" in show.stdout
    assert "en\\u202e" in show.stdout
    assert "(a course in a shape Learnline does not read: the pack is damaged)" in show.stdout
    assert imported.returncode == 1
