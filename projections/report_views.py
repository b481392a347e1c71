"""The progress report's "Views of the lived-experience consultees" (issue 15): every
comment signed in the report's window (since, as_of] by a user who was then a
lived-experience consultee, by action, with its leaf index. The council's report asks for
a place for their insight on the proposed actions; their challenges are in the report's
challenges, with the agencies' answers.

Found like the narrative updates (projections/report_narrative.py): by time on the as-of
projection's index, so the cost follows the entries in the window. Shown by role, never
by name: a consultee may be a survivor (README "Who reads and writes what").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from domain import Action, Directory, Role
from projections.diff import action_entries_between
from projections.report_narrative import action_order

if TYPE_CHECKING:
    from projections.port import LogReader

#: The kinds of `action.comment_added` that are a consultee's view of the action.
KINDS = frozenset({"comment", "challenge"})


@dataclass(frozen=True)
class ConsulteeView:
    action_id: str
    text: str
    signed_at: str  # ISO timestamp
    leaf_index: int
    #: "comment", or "challenge": a comment that asks the agency to answer (the action
    #: page's "Challenge" form), a view too, and not among the report's challenges.
    kind: str = "comment"


def consultee_views(
    ledger: LogReader, start: datetime, end: datetime, size: int, directory: Directory | None
) -> list[ConsulteeView]:
    """The consultees' comments signed in (start, end] among the first `size` entries, by
    action (in the plan's order), each action's in the order they were signed."""
    views = []
    for position, body, action_id in action_entries_between(ledger, start, end, bound=size):
        if body.type != Action.CommentAdded.TYPE or body.payload.get("kind") not in KINDS:
            continue
        user = directory.users.get(body.actor) if directory else None
        if user is None or user.role_at(body.timestamp)[0] is not Role.LIVED_EXPERIENCE:
            continue
        views.append(
            ConsulteeView(
                action_id=action_id,
                text=str(body.payload.get("text", "")),
                signed_at=body.timestamp.isoformat(),
                leaf_index=position,
                kind=str(body.payload.get("kind")),
            )
        )
    return sorted(views, key=lambda view: (action_order(view.action_id), view.leaf_index))
