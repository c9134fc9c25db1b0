"""Group commit: the webhooks of one process that are waiting to write share a transaction.

Every message is one short write, and every write queues for the database's single
writer. Instead of each taking the lock, beginning, committing and handing the lock on,
the first to arrive leads: it takes the lock and runs its own work and the work of every
thread of this process that queued meanwhile, each in its own savepoint, then commits
once and wakes them with their results. A work that raises is rolled back alone and
its thread gets the exception; if the commit fails, every thread in the batch does.
No thread answers before the commit that holds its work. No work waits longer than the
store's busy timeout for its transaction to begin: one still queued by then is dropped
from the queue and its thread gets LockBusy, as a lone writer would. A batch waits for
the lock until the latest deadline among its works.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gateway.store.writelock import LockBusy

if TYPE_CHECKING:
    from gateway.store.store import Store


class _Work:
    __slots__ = ("deadline", "done", "error", "function", "result")

    def __init__(self, function: Callable[[Store], Any], deadline: float):
        self.function = function
        self.deadline = deadline  # time.monotonic() past which it may not wait to begin
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = False


class GroupCommit:
    """One per process: batches `run` calls from its threads into shared transactions."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._pending: list[_Work] = []
        self._leading = False

    def run(self, store: Store, function: Callable[[Store], Any]) -> Any:
        """Run `function(store_of_the_leader)` in a write transaction, maybe with others';
        return its result once that transaction is committed, or raise its error
        (LockBusy when no transaction could begin within `store.busy_timeout`)."""
        deadline = time.monotonic() + store.busy_timeout
        work = _Work(function, deadline)
        with self._condition:
            self._pending.append(work)
            while not work.done and self._leading:
                left = deadline - time.monotonic()
                if left <= 0 and work in self._pending:  # not taken into a batch yet
                    self._pending.remove(work)
                    raise LockBusy(f"write lock busy for {store.busy_timeout:g} s "
                                   "(this process)")
                # Taken into the leader's batch, it waits for that batch, however long.
                self._condition.wait(left if work in self._pending else None)
            if work.done:
                return _outcome(work)
            self._leading = True
            batch, self._pending = self._pending, []
        try:
            # The batch waits as long as its latest-queued work may: one that has just
            # arrived is not refused for the time its leader already spent waiting.
            latest = max(item.deadline for item in batch)
            self._commit(store, batch, latest - time.monotonic())
        finally:
            with self._condition:
                for item in batch:
                    item.done = True
                self._leading = False
                self._condition.notify_all()
        return _outcome(work)

    @staticmethod
    def _commit(store: Store, batch: list[_Work], timeout: float) -> None:
        if len(batch) == 1:
            # Alone in its transaction, a work needs no savepoint: if it raises, rolling
            # the whole transaction back undoes exactly its changes.
            [item] = batch
            try:
                with store.write(timeout):
                    item.result = item.function(store)
            except BaseException as exc:
                item.result, item.error = None, exc
                if not isinstance(exc, Exception):
                    raise
            return
        try:
            with store.write(timeout):
                for item in batch:
                    try:
                        with store.write():  # a savepoint: a failure undoes this work only
                            item.result = item.function(store)
                    except Exception as exc:
                        item.error = exc
        except BaseException as exc:  # no transaction, or the commit failed: nothing kept
            for item in batch:
                item.result, item.error = None, item.error or exc
            if not isinstance(exc, Exception):
                raise


def _outcome(work: _Work) -> Any:
    if work.error is not None:
        raise work.error
    return work.result
