"""The progress report's "Actions arising" (issue 15): each action arising recorded up
to the report's moment, with its session, recommendation, owner, due date, what "done"
means, and whether it was open or closed then (and when closed); open and overdue first.

Built from projections/minutes.py's reading of the log, on only the entries it needs
that were signed by the report's moment (a closure signed later is not in the report of
an earlier day). Cost: one pass over the log up to the report's checkpoint; what is kept
is the sessions, the actions arising and the directory's role changes, all few.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from ledger.auditor.entry import SignedEntry
from projections.minutes import list_arisings, list_sessions

#: What the actions arising and their sessions are read from (owners' agencies included).
_KINDS = frozenset(
    {
        "session.held",
        "arising.recorded",
        "arising.closed",
        "directory.user_registered",
        "directory.user_role_changed",
        "ledger.created",
        "directory.charter_adopted",
    }
)


@dataclass(frozen=True)
class ArisingLine:
    arising_id: str
    session_id: str
    session: str  # "PCC Assurance & Accountability, 2023-03-13"
    recommendation: int
    owner: str  # "agency police" or "user x"
    text: str
    due_date: str
    done_means: str
    state: str  # open | closed, as at the report's moment
    closed_on: str | None
    closed_reason: str | None
    overdue: bool


def _until(entries: Iterable[tuple[int, bytes]], until: datetime) -> Iterator[tuple[int, bytes]]:
    for leaf, data in entries:
        entry = SignedEntry.from_entry_bytes(data)
        if entry.body.type in _KINDS and entry.body.timestamp <= until:
            yield leaf, data


def arising_lines(
    entries: Iterable[tuple[int, bytes]], *, until: datetime, today: date
) -> list[ArisingLine]:
    """The actions arising as they stood at `until`, overdue counted to `today`: open and
    overdue first, then open, then closed, each group by due date."""
    kept = list(_until(entries, until))
    sessions = {s.session_id: s for s in list_sessions(kept)}
    lines = []
    for row in list_arisings(kept):
        held = sessions.get(row.session_id)
        lines.append(
            ArisingLine(
                arising_id=row.arising_id,
                session_id=row.session_id,
                session=f"{held.body}, {held.date}" if held else row.session_id,
                recommendation=row.recommendation,
                owner=row.owner,
                text=row.text,
                due_date=row.due_date,
                done_means=row.done_means,
                state=row.state,
                closed_on=row.closed_at[:10] if row.closed_at else None,
                closed_reason=row.closed_reason,
                overdue=row.state == "open" and row.due_date < today.isoformat(),
            )
        )
    return sorted(lines, key=lambda a: (not a.overdue, a.state != "open", a.due_date))
