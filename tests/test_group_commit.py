"""Group commit: concurrent writers of one process share transactions, each keeping its own
result and its own failure."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest

from gateway.store import LearnerRecord, Store
from gateway.store.writelock import LockBusy


def _run_concurrently(db_path: Path, works: list) -> tuple[list, int]:
    """Each work in its own thread with its own store; (outcomes, commits made)."""
    outcomes: list = [None] * len(works)
    commits: list[str] = []
    started = threading.Barrier(len(works))

    def one(index: int) -> None:
        with Store.open(db_path) as store:
            store.db.conn.set_trace_callback(
                lambda sql: commits.append(sql) if sql == "COMMIT" else None)
            started.wait()
            time.sleep(0.01 * index)  # the first leads; the others queue behind it
            try:
                outcomes[index] = store.write_shared(works[index])
            except Exception as exc:
                outcomes[index] = exc

    threads = [threading.Thread(target=one, args=(n,)) for n in range(len(works))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes, len(commits)


def _learner(n: int, pause: float = 0.0):
    def work(store: Store) -> str:
        phone = f"+23480300001{n:02d}"
        store.save_learner(LearnerRecord(phone, "en", "twilio"))
        time.sleep(pause)
        return phone
    return work


def test_queued_writers_share_commits_and_each_gets_its_own_result(db_path: Path):
    works = [_learner(0, pause=0.3)] + [_learner(n) for n in range(1, 8)]
    outcomes, commits = _run_concurrently(db_path, works)
    assert outcomes == [f"+23480300001{n:02d}" for n in range(8)]
    assert commits <= 3  # the first alone, the seven that queued behind it together
    with Store.open(db_path) as store:
        assert all(store.learner(phone) for phone in outcomes)


def test_a_failing_writer_is_undone_alone_and_told(db_path: Path):
    def failing(store: Store) -> str:
        store.save_learner(LearnerRecord("+2348030000199", "en", "twilio"))
        raise LookupError("lesson missing")

    works = [_learner(0, pause=0.3), _learner(1), failing, _learner(3)]
    outcomes, _ = _run_concurrently(db_path, works)
    assert isinstance(outcomes[2], LookupError)
    assert outcomes[:2] + outcomes[3:] == ["+2348030000100", "+2348030000101",
                                           "+2348030000103"]
    with Store.open(db_path) as store:
        assert store.learner("+2348030000199") is None
        assert all(store.learner(phone) for phone in outcomes if isinstance(phone, str))


def test_a_writer_inside_a_transaction_just_runs(store: Store):
    with store.write():
        assert store.write_shared(_learner(5)) == "+2348030000105"
    assert store.learner("+2348030000105") is not None


def test_writers_of_different_databases_never_share(tmp_path: Path, db_path: Path):
    other = tmp_path / "other.db"
    Store.open(other, migrate=True).close()
    works = [_learner(0, pause=0.2), _learner(1)]
    outcomes: list = [None, None]

    def one(index: int, path: Path) -> None:
        with Store.open(path) as store:
            outcomes[index] = store.write_shared(works[index])

    threads = [threading.Thread(target=one, args=(0, db_path)),
               threading.Thread(target=one, args=(1, other))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with Store.open(db_path) as first, Store.open(other) as second:
        assert first.learner(outcomes[0]) and not first.learner(outcomes[1])
        assert second.learner(outcomes[1]) and not second.learner(outcomes[0])


@pytest.mark.parametrize("failure", [KeyboardInterrupt])
def test_a_leader_interrupted_leaves_no_writer_waiting(db_path: Path, failure):
    def interrupted(store: Store) -> None:
        raise failure

    with Store.open(db_path) as store, pytest.raises(failure):
        store.write_shared(interrupted)
    with Store.open(db_path) as store:  # the next writer leads at once
        assert store.write_shared(_learner(9)) == "+2348030000109"


def test_a_work_queued_late_behind_a_long_waiting_leader_keeps_its_own_time(db_path: Path):
    """A batch waits for the write lock as long as its latest-queued work may: a webhook
    that just arrived is not refused with the time its leader has already spent waiting."""
    outcomes: dict[int, object] = {}

    def one(index: int, delay: float) -> None:
        with Store.open(db_path, busy_timeout=2.0) as store:
            time.sleep(max(0.0, delay - (time.monotonic() - start)))
            try:
                outcomes[index] = store.write_shared(_learner(index))
            except LockBusy as exc:
                outcomes[index] = exc

    fd = os.open(f"{db_path}-writelock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another process writes for 2.6 s
        start = time.monotonic()
        threads = [threading.Thread(target=one, args=(n, delay))
                   for n, delay in enumerate((0.0, 0.3, 1.6))]
        for thread in threads:
            thread.start()
        time.sleep(2.6)
        fcntl.flock(fd, fcntl.LOCK_UN)
        for thread in threads:
            thread.join()
    finally:
        os.close(fd)
    assert isinstance(outcomes[0], LockBusy)  # waited its whole busy timeout
    assert outcomes[2] == "+2348030000102"  # queued 1.6 s in: 1 s of its time left
