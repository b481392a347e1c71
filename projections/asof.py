"""What "as of" means, in one place for the CLI, the API, the diff and the reports.

`status_as_of` is the one entry point: the plan's status now, as of a moment, or as of
a log position. It answers from the indexed as-of projection (projections/store.py),
which it first brings up to date with the log, so a query costs one indexed lookup per
aggregate whatever the log's length; `status_from(Replay().feed(...))` remains the
reference it must always agree with.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING

from projections.status import PlanStatus, Replay, status_from

if TYPE_CHECKING:
    from projections.port import LogReader


def parse_as_of(text: str) -> datetime:
    """A date (YYYY-MM-DD) means the end of that day, UTC: everything decided that day
    counts. A date-time is taken as given (UTC if it names no zone). ValueError otherwise."""
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time.max, tzinfo=UTC)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


#: The two questions a dated view can answer (domain/backfill.py).
RECORDED = "recorded"  # what the record said on the date: the entries recorded by then
OCCURRED = "occurred"  # what had happened by the date, as the record now tells it
BASES = (RECORDED, OCCURRED)


def basis_phrase(basis: str, as_of: str) -> str:
    """How a view says which question it answers (CLI, pages and the report)."""
    if basis == OCCURRED:
        return f"what had happened by {as_of}, as the record stands now"
    if as_of == "now":
        return "the record as it stands now"
    return f"what the record said on {as_of}"


def as_of_label(as_of: datetime | None, position: int | None) -> str:
    """How a status names its cut (shown by the CLI and returned by the API)."""
    if as_of is not None:
        return as_of.isoformat()
    if position is not None:
        return f"log position {position}"
    return "now"


def status_as_of(
    ledger: LogReader,
    *,
    as_of: datetime | None = None,
    position: int | None = None,
    today: date | None = None,
    basis: str = RECORDED,
) -> PlanStatus:
    """The plan's status as it stood at `as_of` (entries signed at or before it) and/or
    at log `position` (the first `position` entries); both None means now.

    With `basis` OCCURRED, `as_of` cuts by valid time instead: every entry recorded up
    to now (or `position`) whose fact had happened by `as_of`, backfilled facts at the
    date their source gives. That answer comes from a full replay (O(log length)): it
    is asked for by scrutiny now and then, not on every page view.

    `today` decides which actions count as overdue: by default the day of `as_of`, or
    the current UTC date. Later entries never leak backwards: per aggregate the ledger
    enforces non-decreasing timestamps, so a time cut is a prefix of each history."""
    if as_of is not None and as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    if position is not None and position < 0:
        raise ValueError("position must be 0 or more")
    if basis not in BASES:
        raise ValueError(f"basis must be one of {', '.join(BASES)}")
    if today is None:
        today = as_of.date() if as_of is not None else datetime.now(UTC).date()
    label = as_of_label(as_of, position)
    if basis == OCCURRED and as_of is not None:
        replay = Replay().feed(ledger.entries(), until_position=position, occurred_by=as_of)
        status = status_from(replay, as_of=label, today=today)
        status.basis = OCCURRED
        return status
    from projections.projector import projector_for

    found = projector_for(ledger).status(
        ledger, as_of=as_of, position=position, today=today, label=label
    )
    return found


def replay_status(
    ledger: LogReader,
    *,
    as_of: datetime | None = None,
    position: int | None = None,
    today: date | None = None,
) -> PlanStatus:
    """The same answer as `status_as_of` by a full replay of the log (the reference the
    projection is tested and benchmarked against; O(log length) per call)."""
    if today is None:
        today = as_of.date() if as_of is not None else datetime.now(UTC).date()
    replay = Replay().feed(ledger.entries(), until_position=position, until_time=as_of)
    return status_from(replay, as_of=as_of_label(as_of, position), today=today)
