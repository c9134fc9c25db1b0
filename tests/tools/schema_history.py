"""Rebuild the databases of past schemas under tests/data/schemas/ from git history.

    python tests/tools/schema_history.py [--rebuild]

For every commit of main's own line (first parents: a branch's commits are not
releases) that changed gateway/store/schema.py, that commit's own code (taken
with `git archive`, so nothing of today's code runs) creates a fresh database, and its
SQL (schema and rows, as sqlite3's iterdump writes it) is stored as
`NN-<commit>.sql`. The project's first commit also builds `first-commit-learner.sql`:
a learner halfway through the bundled course with replies still queued, as that
version left them. tests/test_schema_history.py upgrades each under today's code, so
the tests need no git history. `landed-migrations.txt` records a digest of each
migration's source as committed, so a test notices one edited after it landed. Run it
again after adding a migration (and committing it): it adds the databases it lacks and
keeps those it has (`--rebuild` makes every one again). A commit whose migrations are
not the first of today's (a migration renamed or renumbered before it landed) made a
schema no release had: it is skipped.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "schemas"

# Run by the past commit's code (PYTHONPATH = its tree): the schema as it made it.
_FRESH = """
import sqlite3, sys
from sqlite_utils import Database
from gateway.store.schema import migrations
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
migrations.apply(Database(conn))
conn.close()
"""

# Run by the first commit's code: a learner halfway through the course, replies queued.
_LEARNER = """
import sys
from gateway.channels.sms.conversation import handle_inbound
from gateway.content.importer import import_courses
from gateway.store import Store

PHONE = "+2348030000000"
try:  # the gateway's carrier type, since the adapters' settings hold only wire keys
    from gateway.config import Carrier
    carrier = Carrier.of(id="twilio", adapter="twilio", sender="+15005550006", country="NG")
except ImportError:  # a commit from before it
    from carrier_adapters import CarrierSettings
    carrier = CarrierSettings(id="twilio", adapter="twilio", sender="+15005550006",
                              country="NG")
store = Store.open(sys.argv[1], migrate=True)
import_courses(store)
course = store.courses()[0]
half = len(course.lesson_ids) // 2
sent = 0

def say(n, text):
    inbound = store.record_inbound("twilio", f"SM{'f' * 24}{n:08x}", PHONE, text, carrier.sender)
    handle_inbound(store, carrier, inbound)

def send_all():
    global sent
    while (message := store.claim_due("twilio", 60)) is not None:
        sent += 1
        store.finish_send(message.id, "accepted", carrier_message_id=f"SM{'e' * 24}{sent:08x}")

n = 0
say(n, "START")
while store.enrollment(PHONE, course.id).position < half:
    send_all()
    n += 1
    enrollment = store.enrollment(PHONE, course.id)
    say(n, "A" if enrollment.quiz else "NEXT")
send_all()
for text in ("NEXT", "NEXT"):  # the learner's latest replies: still queued at the upgrade
    n += 1
    say(n, text)
store.close()
"""


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout


def _tree(commit: str, into: Path) -> None:
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def _run(code: str, tree: Path, db: Path) -> None:
    subprocess.run([sys.executable, "-c", code, str(db)], cwd=tree, check=True,
                   env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"})


def _dump(db: Path, commit: str, out: Path) -> None:
    subject = _git("log", "-1", "--format=%h %cs %s", commit).strip()
    conn = sqlite3.connect(db)
    lines = [f"-- A database made by {subject}", "-- (tests/tools/schema_history.py)",
             *conn.iterdump()]
    conn.close()
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def migration_digests(source: str) -> dict[str, str]:
    """Each migration in `source` (the text of gateway/store/schema.py) and a digest of
    its code: the function's lines, its decorator and docstring included."""
    import ast
    import hashlib

    lines = source.splitlines()
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.decorator_list:
            start = node.decorator_list[0].lineno - 1
            text = "\n".join(lines[start:node.end_lineno])
            found[node.name] = hashlib.sha256(text.encode()).hexdigest()
    return found


def _released(names: list[str], today: list[str]) -> bool:
    """Whether a commit's migrations are the first of today's, in order: a schema some
    version had, not one renumbered before it landed."""
    return names == today[:len(names)]


def main() -> None:
    """Write tests/data/schemas/ from the repository's history."""
    today = list(migration_digests(_git("show", "HEAD:gateway/store/schema.py")))
    commits = [
        commit for commit in _git("log", "--first-parent", "--reverse", "--format=%H", "--",
                                  "gateway/store/schema.py").split()
        if _released(list(migration_digests(
            _git("show", f"{commit}:gateway/store/schema.py"))), today)]
    first = _git("rev-list", "--max-parents=0", "HEAD").split()[0]
    if "--rebuild" in sys.argv[1:]:
        for stale in OUT.glob("*.sql"):
            stale.unlink()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for number, commit in enumerate(commits, 1):
            out = OUT / f"{number:02d}-{commit[:7]}.sql"
            if out.exists():
                continue
            tree = Path(scratch) / commit
            _tree(commit, tree)
            db = Path(scratch) / f"{commit}.db"
            _run(_FRESH, tree, db)
            _dump(db, commit, out)
            shutil.rmtree(tree)
        if not (OUT / "first-commit-learner.sql").exists():
            tree = Path(scratch) / first
            _tree(first, tree)
            db = Path(scratch) / "learner.db"
            _run(_LEARNER, tree, db)
            _dump(db, first, OUT / "first-commit-learner.sql")
    landed = migration_digests(_git("show", "HEAD:gateway/store/schema.py"))
    (OUT / "landed-migrations.txt").write_text(
        "# migration sha256 of its code as landed (tests/tools/schema_history.py)\n"
        + "".join(f"{name} {digest}\n" for name, digest in landed.items()), encoding="utf-8")


if __name__ == "__main__":
    main()
