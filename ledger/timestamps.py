"""Which timestamp the ledger accepts on an entry, and which one a signer should write.

An entry is dated by its signer. The ledger accepts timestamp t on an aggregate when

- t is not before the aggregate's previous entry (so a time cut is a prefix of every
  aggregate's history: projections/asof.py relies on it);
- t is not more than GRACE (five minutes) before the newest time T a witness cosigned a
  checkpoint at (nothing recorded after a witnessed checkpoint may claim to be older than
  the witness's look at the log, less the time a signature may take to arrive:
  ledger/auditor/dating.py says why, and checks the same from a bundle);
- t is at most `backward` behind the ledger's clock, and at most `forward` ahead of it,
  *or* it is exactly the earliest timestamp the two rules above allow (the floor).

The last clause is what stops a future-dated entry from blocking anyone. Signers write
max(now, floor), floor = max(previous + 1 us, T - GRACE). The previous entry was at most
`forward` ahead of the clock when it was accepted, so previous + 1 us is within
`forward` (+1 us) of the clock now, and a cosignature's time is refused beyond `forward`
(Ledger.record_cosignature); the 1 us per successor is let through by accepting the
floor itself, so a run of entries each one microsecond after the last, all on a clock
that has not moved, is accepted too. Only the floor is accepted beyond `forward`: no one
gains a later date by it, they only get the earliest date the aggregate allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ledger.auditor.dating import GRACE
from ledger.auditor.entry import format_timestamp
from ledger.errors import ClockSkew

#: How much later than its predecessor a signer dates an entry: the finest step the
#: entry format's timestamps have (microseconds), so order is strict and nothing is lost.
STEP = timedelta(microseconds=1)


@dataclass(frozen=True)
class NextEntry:
    """What a signer needs to write the next entry of an aggregate: its version, the
    previous entry's timestamp (None for the first) and the earliest timestamp the
    ledger accepts for it (None: any within the clock bounds)."""

    version: int
    previous: datetime | None
    not_before: datetime | None


def floor(previous: datetime | None, witnessed: datetime | None) -> datetime | None:
    """The earliest timestamp a successor of `previous` may carry (see the module doc)."""
    successor = None if previous is None else previous + STEP
    if successor is None or witnessed is None:
        return successor or witnessed
    return max(successor, witnessed)


def witness_floor(witnessed: datetime | None) -> datetime | None:
    """The earliest time an entry appended after a checkpoint a witness cosigned at
    `witnessed` may claim: GRACE before it (ledger/auditor/dating.py says why)."""
    return None if witnessed is None else witnessed - GRACE


def date_entry(now: datetime, not_before: datetime | None) -> datetime:
    """The timestamp a signer writes: now, unless the aggregate's floor is later."""
    return now if not_before is None or now >= not_before else not_before


def witnessed_moment(seconds: int) -> datetime:
    """A cosignature's time (C2SP: seconds since the Unix epoch) as a UTC datetime."""
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, ValueError, OSError):
        raise ClockSkew(
            f"the cosignature's time {seconds} is not a date this ledger can hold"
        ) from None


@dataclass(frozen=True)
class TimestampRule:
    """The ledger's bounds (ledger/config.py says why they differ)."""

    forward: timedelta
    backward: timedelta

    def check(
        self,
        timestamp: datetime,
        now: datetime,
        previous: datetime | None,
        witnessed: datetime | None,
    ) -> None:
        """Raise ClockSkew, naming the bound, unless `timestamp` is acceptable."""
        stamp = format_timestamp(timestamp)
        if previous is not None and timestamp < previous:
            raise ClockSkew(
                f"entry timestamp {stamp} is earlier than the aggregate's last entry "
                f"({format_timestamp(previous)})"
            )
        if witnessed is not None and timestamp < witnessed:
            raise ClockSkew(
                f"entry timestamp {stamp} is more than {_span(GRACE)} before "
                f"{format_timestamp(witnessed + GRACE)}, when a witness cosigned a "
                "checkpoint of this log: nothing recorded after a witnessed checkpoint may "
                "be dated that far before it; prepare and sign it again"
            )
        earliest = floor(previous, witnessed)
        if timestamp > now + self.forward and timestamp != earliest:
            allowed = f"{_span(self.forward)} ahead of the ledger's clock {format_timestamp(now)}"
            if earliest is not None and earliest > now + self.forward:
                allowed += f", or exactly {format_timestamp(earliest)} (its earliest allowed)"
            raise ClockSkew(
                f"entry timestamp {stamp} is too far in the future: the ledger accepts "
                f"entries dated at most {allowed}; check this computer's clock"
            )
        if timestamp < now - self.backward:
            raise ClockSkew(
                f"entry timestamp {stamp} is more than {_span(self.backward)} behind the "
                f"ledger's clock {format_timestamp(now)}: prepare and sign it again "
                "(or check this computer's clock)"
            )


def _span(span: timedelta) -> str:
    seconds = span.total_seconds()
    if seconds >= 120 and seconds % 60 == 0:
        return f"{int(seconds // 60)} minutes"
    return f"{seconds:g} s"
