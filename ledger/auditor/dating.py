"""History dated against witnesses: what a witness has seen cannot be re-dated.

A witness's cosignature of the checkpoint of size n carries its own time T (C2SP
cosignature/v1: "as of T, this is the largest consistent tree I have seen"). Entries
0..n-1 were then in the log; any entry at leaf n or later was recorded after the witness
looked. Two rules follow, each with a grace of GRACE (five minutes, the ledger's default
backward bound: an entry is signed before it is appended, and a statement the chair signs
on their own machine can take minutes to come back):

- an entry at leaf n or later may not claim a time before T - GRACE: it would be writing
  into a past the witness has already seen (backdated);
- an entry before leaf n may not claim a time after T + GRACE: the witness saw it at T,
  so it existed then (future-dated, which would otherwise push every later entry on its
  aggregate into that future and hide them from answers as of the dates in between).

The ledger refuses the first on append and refuses a cosignature that an entry already
recorded would break (ledger/timestamps.py, ledger/service.py); it refuses entries more
than its forward bound (seconds) ahead of its clock, which keeps the second. This module
is the auditor's check of both, from a bundle, trusting only the witnesses the auditor
pinned (their cosignatures in the bundle and in the checkpoints it saved, `--since`).

What it buys a reader of "as of D": once a pinned witness has cosigned at T, the answer
for any D before T - GRACE can no longer change (README, "As of, against witnesses").

Use: feed every verified cosigned checkpoint (`witnessed`), then every entry in log
order (`check`). Standard library only, like the rest of the auditor.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ledger.auditor.entry import format_timestamp

#: How far an entry's time may lie on the wrong side of a witness's look (module doc).
GRACE = timedelta(minutes=5)


@dataclass(frozen=True, order=True)
class Witnessed:
    """A pinned witness's valid cosignature: checkpoint size, its time, who."""

    size: int
    time: int  # seconds since the Unix epoch, as the cosignature states it
    witness: str

    @property
    def moment(self) -> datetime:
        """The time as a UTC datetime; one past any date (year 9999) is the last one."""
        try:
            return datetime.fromtimestamp(self.time, UTC)
        except (OverflowError, ValueError, OSError):
            return datetime.max.replace(tzinfo=UTC)


class WitnessDating:
    """The window each leaf's timestamp must fall in: not before the latest cosignature
    time among the witnessed checkpoints it comes at or after (less GRACE), not after the
    earliest among those that contain it (plus GRACE). Entries must arrive in increasing
    leaf order, after every cosignature (the audit reads checkpoints first)."""

    def __init__(self) -> None:
        self._pending: list[Witnessed] = []  # a heap by size: not yet reached
        self._bound: Witnessed | None = None  # the latest time among those reached
        self._not_before: datetime | None = None  # its moment, less GRACE
        self._all: list[Witnessed] | None = None  # by size, once entries start
        self._earliest_from: list[Witnessed] = []  # [i]: earliest time among _all[i:]
        self._holding = 0  # _all[_holding:] are the checkpoints that hold the leaf

    def witnessed(self, size: int, time: int, witness: str) -> None:
        heapq.heappush(self._pending, Witnessed(size, time, witness))

    def check(self, leaf_index: int, timestamp: datetime) -> str | None:
        """A problem message if the entry at `leaf_index` is dated outside the window
        its witnesses allow; None if it is not."""
        if self._all is None:
            self._index()
        while self._pending and self._pending[0].size <= leaf_index:
            reached = heapq.heappop(self._pending)
            if self._bound is None or reached.time > self._bound.time:
                self._bound, self._not_before = reached, reached.moment - GRACE
        bound, not_before = self._bound, self._not_before
        if bound is not None and not_before is not None and timestamp < not_before:
            return (
                f"dated {format_timestamp(timestamp)}, more than {_minutes(GRACE)} before "
                f"{format_timestamp(bound.moment)}, when {bound.witness} cosigned the "
                f"checkpoint of size {bound.size}; this entry comes after that checkpoint, "
                "so it was recorded later than it claims (backdated)"
            )
        seen = self._seen_by(leaf_index)
        if seen is not None and timestamp > _plus_grace(seen.moment):
            return (
                f"dated {format_timestamp(timestamp)}, more than {_minutes(GRACE)} after "
                f"{format_timestamp(seen.moment)}, when {seen.witness} cosigned the "
                f"checkpoint of size {seen.size}, which already holds this entry "
                "(future-dated)"
            )
        return None

    def _index(self) -> None:
        self._all = sorted(self._pending)
        earliest: list[Witnessed] = []
        for witnessed in reversed(self._all):
            if not earliest or witnessed.time < earliest[-1].time:
                earliest.append(witnessed)
            else:
                earliest.append(earliest[-1])
        self._earliest_from = earliest[::-1]

    def _seen_by(self, leaf_index: int) -> Witnessed | None:
        """The earliest cosignature among the checkpoints that hold `leaf_index` (leaves
        come in increasing order, so one pass over the checkpoints serves them all)."""
        assert self._all is not None
        while self._holding < len(self._all) and self._all[self._holding].size <= leaf_index:
            self._holding += 1
        return self._earliest_from[self._holding] if self._holding < len(self._all) else None


def _plus_grace(moment: datetime) -> datetime:
    """`moment` + GRACE, or the last date there is (a witness's clock in year 9999)."""
    try:
        return moment + GRACE
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


def _minutes(span: timedelta) -> str:
    return f"{int(span.total_seconds() // 60)} minutes"
