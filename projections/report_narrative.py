"""The progress report's "Narrative updates since the last report" (issue 15): every
narrative update (domain/narrative.py) signed in the report's window (since, as_of], by
action, each with its period, what was done, what is next, the risks, who signed it (their
role and agency then) and when, and its leaf index (an inclusion proof ties it to the
report's checkpoint).

Found like the report's decisions (`projections.diff.action_entries_between`: by time on
the as-of projection's index), so the cost follows the entries in the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from domain import Action, Directory
from projections.diff import action_entries_between

if TYPE_CHECKING:
    from projections.port import LogReader


@dataclass(frozen=True)
class NarrativeLine:
    action_id: str
    period: str
    done: str
    next: str
    risks: str
    signed_by: str  # the user id
    role: str  # their role when they signed it
    agency: str | None  # and their agency then
    signed_at: str  # ISO timestamp
    leaf_index: int


def narrative_lines(
    ledger: LogReader, start: datetime, end: datetime, size: int, directory: Directory | None
) -> list[NarrativeLine]:
    """The narrative updates signed in (start, end] among the first `size` entries, by
    action (in the plan's order), each action's in the order they were signed."""
    lines = []
    for position, body, action_id in action_entries_between(ledger, start, end, bound=size):
        if body.type != Action.NarrativeUpdated.TYPE:
            continue
        user = directory.users.get(body.actor) if directory else None
        role, agency = user.role_at(body.timestamp) if user else (None, None)
        payload = body.payload
        lines.append(
            NarrativeLine(
                action_id=action_id,
                period=str(payload["period"]),
                done=str(payload["done"]),
                next=str(payload["next"]),
                risks=str(payload["risks"]),
                signed_by=body.actor,
                role=role.value if role else "",
                agency=agency,
                signed_at=body.timestamp.isoformat(),
                leaf_index=position,
            )
        )
    return sorted(lines, key=lambda line: (action_order(line.action_id), line.leaf_index))


def action_order(action_id: str) -> tuple[int, int]:
    """R10.2 -> (10, 2): the plan's order of action ids."""
    head, _, tail = action_id.partition(".")
    return int(head[1:]), int(tail)
