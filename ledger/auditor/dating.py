"""History dated against witnesses: nothing after a witnessed checkpoint is older than it.

A witness's cosignature of the checkpoint of size n carries its own time T (C2SP
cosignature/v1: "as of T, this is the largest consistent tree I have seen"). Entries
0..n-1 were then in the log. Any entry at leaf n or later was recorded after the witness
looked, so if it claims a timestamp before T it was backdated: the operator (or a signer
the operator let through) is writing into a past the witness has already seen. The
ledger refuses such an entry on append and refuses a cosignature that would make an
entry already recorded break the rule (ledger/timestamps.py); this module is the
auditor's check of it, from a bundle, trusting only the witnesses the auditor pinned.

What it buys a reader of "as of D": once a pinned witness has cosigned at T, the answer
for any D before T can no longer change; only answers for later dates may still gain
entries (README, "As of, against witnesses").

Use: feed every verified cosigned checkpoint (`witnessed`), then every entry in log
order (`check`). Standard library only, like the rest of the auditor.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.auditor.entry import format_timestamp


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
    """The earliest timestamp each leaf may claim: the latest cosignature time among the
    witnessed checkpoints it comes at or after. Entries must arrive in increasing leaf
    order, after every cosignature (the audit reads checkpoints first)."""

    def __init__(self) -> None:
        self._pending: list[Witnessed] = []  # a heap by size: not yet reached
        self._bound: Witnessed | None = None  # the latest time among those reached
        self._not_before: datetime | None = None  # its moment

    def witnessed(self, size: int, time: int, witness: str) -> None:
        heapq.heappush(self._pending, Witnessed(size, time, witness))

    def check(self, leaf_index: int, timestamp: datetime) -> str | None:
        """A problem message if the entry at `leaf_index` is dated before a witness's
        look at a checkpoint it comes after; None if it is not."""
        while self._pending and self._pending[0].size <= leaf_index:
            reached = heapq.heappop(self._pending)
            if self._bound is None or reached.time > self._bound.time:
                self._bound, self._not_before = reached, reached.moment
        bound, not_before = self._bound, self._not_before
        if bound is None or not_before is None or timestamp >= not_before:
            return None
        return (
            f"dated {format_timestamp(timestamp)}, before {format_timestamp(not_before)}, "
            f"when {bound.witness} cosigned the checkpoint of size {bound.size}; this entry "
            "comes after that checkpoint, so it was recorded later than it claims (backdated)"
        )
