"""Group commit: the appends that arrive while one is being written go in together.

Every append pays for the same things whatever its size: the append lock (a round trip
to PostgreSQL's advisory lock, or an flock), reading the log's state, one transaction
for the events and one for the Merkle nodes, each with its commit (an fsync). With one
transaction per request, more clients only queue longer for the lock: the work per
entry does not fall, so throughput cannot rise with load (issue 18).

So requests are combined, the way a database's group commit does it, without a timer:
a request that finds nobody writing becomes the leader and writes every request queued
at that moment, its own included, in one lock hold and one transaction; requests that
arrive meanwhile queue up and are written by the next leader, as a group the size of
the load. One client alone is never delayed (no batching window), and under load a
group is as large as what arrived during the previous write, bounded by `max_requests`.

Each waiting request is woken once, by its own bell: when its group is settled, or when
it is handed the lead (the queue's head, once the leader's own request is answered).
Waking every waiter on each group's end, as one condition variable did, woke all the
threads queued (tens, under load) for each group, each taking the interpreter lock to
find it was not its turn: in the HTTP server that was a tenth of an append (issue 18).
The leader hands the lead on as soon as its own request is settled, then runs `after` on
the group it wrote (the HTTP server's receipts), so the next group is written meanwhile.

Each request keeps its own answer: the writer (`Ledger._append_group`) checks requests
in arrival order, each against the state the accepted ones before it leave, and gives a
refused request its own error without failing its neighbours; all-or-nothing holds per
request. The combiner only hands batches to the writer and answers to the waiters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(eq=False)
class Pending(Generic[Item, Result]):
    """One request waiting in a group: what it asks, then its result or its error."""

    item: Item
    result: Result | None = None
    error: BaseException | None = None
    done: bool = field(default=False)
    #: Held until the request's thread is to wake (settled, or made the leader): released
    #: exactly once by whoever wakes it, acquired by the thread itself to sleep.
    bell: threading.Lock = field(default_factory=lambda: _held(threading.Lock()), repr=False)

    def succeed(self, result: Result) -> None:
        self.result, self.done = result, True

    def fail(self, error: BaseException) -> None:
        self.error, self.done = error, True

    def reopen(self) -> None:
        """Unsettle it, for the writer to answer it again (a group checked again)."""
        self.result, self.error, self.done = None, None, False


class GroupCommit(Generic[Item, Result]):
    """Runs `write(group)` for the requests queued together; see the module docstring.

    `write` must settle every Pending it is given (succeed or fail); one it leaves
    unsettled, or an exception escaping it, fails the requests it left with that error."""

    def __init__(
        self,
        write: Callable[[Sequence[Pending[Item, Result]]], None],
        *,
        max_requests: int = 256,
        max_items: Callable[[Item], int] = lambda _: 1,
        max_group_items: int = 4096,
        after: Callable[[Sequence[Pending[Item, Result]]], None] | None = None,
    ) -> None:
        self._write = write
        #: Run by the leader on each group it wrote, once the next leader has taken over
        #: and before the group's requests are answered: it may replace their results.
        self._after = after
        self._max_requests = max_requests
        self._size_of = max_items
        self._max_group_items = max_group_items
        self._queue: list[Pending[Item, Result]] = []
        self._writing = False
        self._lock = threading.Lock()  # the queue and who is writing
        #: Groups written and requests in them, for benchmarks and tests.
        self.groups = 0
        self.requests = 0

    def submit(self, item: Item) -> Result:
        """Queue the request, lead a group or wait for one, and return its own result
        (or raise its own error)."""
        pending: Pending[Item, Result] = Pending(item)
        with self._lock:
            self._queue.append(pending)
            leading = not self._writing
            self._writing = True
        if not leading:
            pending.bell.acquire()  # rung once: settled, or handed the lead
            if pending.done:
                return self._outcome(pending)
        handed_on = False
        try:
            while not pending.done:  # our own request may be in a later group
                with self._lock:
                    group = self._take()
                try:
                    self._run(group)
                    if pending.done:  # the next group is written while this one finishes
                        handed_on = True
                        self._hand_on()
                    if self._after is not None:
                        self._after(group)
                finally:
                    for settled in group:
                        if settled is not pending:
                            settled.bell.release()
        finally:
            if not handed_on:
                with self._lock:
                    if not pending.done and pending in self._queue:  # only if _run raised
                        self._queue.remove(pending)
                self._hand_on()
        return self._outcome(pending)

    def _hand_on(self) -> None:
        """Ring the queue's head to lead the next group; or, with nobody queued, stop."""
        with self._lock:
            if self._queue:
                self._queue[0].bell.release()  # still writing: the head leads now
            else:
                self._writing = False

    def _take(self) -> list[Pending[Item, Result]]:
        """The queue's head, up to the group bounds (at least one request)."""
        taken: list[Pending[Item, Result]] = []
        items = 0
        while self._queue and len(taken) < self._max_requests:
            size = self._size_of(self._queue[0].item)
            if taken and items + size > self._max_group_items:
                break
            taken.append(self._queue.pop(0))
            items += size
        self.groups += 1
        self.requests += len(taken)
        return taken

    def _run(self, group: list[Pending[Item, Result]]) -> None:
        try:
            self._write(group)
        except BaseException as error:
            for pending in group:
                if not pending.done:
                    pending.fail(error)
            if not isinstance(error, Exception):
                raise
        for pending in group:
            if not pending.done:
                pending.fail(RuntimeError("the group writer left this request unanswered"))

    @staticmethod
    def _outcome(pending: Pending[Item, Result]) -> Result:
        if pending.error is not None:
            raise pending.error
        assert pending.result is not None
        return pending.result


def _held(lock: threading.Lock) -> threading.Lock:
    lock.acquire()
    return lock
