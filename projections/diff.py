"""What changed between two moments, and who decided it, with the entries that did it.

Scrutiny's question is rarely "what is the status?" but "what changed since the last
committee, and on whose say-so?". The answer is two as-of projections (the same code as
`status --as-of`, so the two can never disagree) compared action by action, plus every
signed decision recorded in between, each with its log position so it can be checked
against a signed checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain import Action
from ledger.auditor.entry import EventBody, SignedEntry
from ledger.entry import from_domain_event
from projections.status import ActionRow, PlanStatus, Replay, status_from
from projections.store import to_micros

if TYPE_CHECKING:
    from projections.port import LogReader

#: The fields of an action row a committee cares about (not e.g. last_change).
COMPARED = (
    "status",
    "agency_claim",
    "verdict",
    "agency_rag",
    "review_rag",
    "evidence",
    "signed_by",
    "lead_agency",
    "due_date",
    "response",
)

#: Payload members worth showing beside a decision (never evidence content).
SUMMARY_MEMBERS = (
    "from_status",
    "to_status",
    "level",
    "rating",
    "scope",
    "reasons",
    "reason",
    "statement",
    "kind",
    "text",
    "officer",
    "changes",
    "original_name",
    "response",
    "responded_on",
    "responder",
)


@dataclass(frozen=True)
class FieldChange:
    action_id: str
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class DecisionEntry:
    leaf_index: int
    timestamp: str
    actor: str
    type: str
    action_id: str
    summary: dict[str, Any]


@dataclass
class PlanDiff:
    start: str
    end: str
    added: list[str] = field(default_factory=list)
    changes: list[FieldChange] = field(default_factory=list)
    decisions: list[DecisionEntry] = field(default_factory=list)
    summary_before: dict[str, int] = field(default_factory=dict)
    summary_after: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.start,
            "to": self.end,
            "summary_before": self.summary_before,
            "summary_after": self.summary_after,
            "actions_added": self.added,
            "changes": [vars(c) for c in self.changes],
            "decisions": [vars(d) for d in self.decisions],
        }


def plan_diff(
    entries: Callable[[], Iterable[tuple[int, bytes]]],
    start: datetime,
    end: datetime,
) -> PlanDiff:
    """Compare the plan as it stood at `start` with `end` (start < end), by full replays.

    The reference implementation (`diff_as_of` answers the same from the as-of
    projection). `entries` is called twice: each projection replays from its own copy of
    the log, so no aggregate object is shared between the two moments."""
    _require_order(start, end)
    before = status_from(
        Replay().feed(entries(), until_time=start), as_of=start.isoformat(), today=start.date()
    )
    after_replay = Replay().feed(entries(), until_time=end)
    after = status_from(after_replay, as_of=end.isoformat(), today=end.date())
    result = _compare(before, after, start, end)
    names = {a.id: a.action_id for a in after_replay.of_type(Action)}
    result.decisions = list(_decisions(entries(), start, end, names))
    return result


def diff_as_of(ledger: LogReader, start: datetime, end: datetime) -> PlanDiff:
    """The same answer as `plan_diff`, from the as-of projection: two indexed as-of
    lookups, then only the entries signed in between (found by time on the projection's
    index, read from the event store aggregate by aggregate)."""
    from projections.asof import status_as_of

    _require_order(start, end)
    before = status_as_of(ledger, as_of=start)
    after = status_as_of(ledger, as_of=end)
    result = _compare(before, after, start, end)
    result.decisions = [
        _decision(leaf, body, name)
        for leaf, body, name in action_entries_between(ledger, start, end)
    ]
    return result


def action_entries_between(
    ledger: LogReader, start: datetime, end: datetime, *, bound: int | None = None
) -> list[tuple[int, EventBody, str]]:
    """(leaf index, body, action id) of every action entry signed in (start, end] among
    the first `bound` entries (default: all the projection covers), in log order.

    Found by time on the as-of projection's index, then read from the event store
    aggregate by aggregate: the cost follows the entries in the window, not the log."""
    from projections.projector import projector_for

    projector = projector_for(ledger)
    projector.catch_up(ledger)
    found = projector.tables.changes_between(
        after_ts=to_micros(start),
        until_ts=to_micros(end),
        bound=projector.tables.high_water() if bound is None else bound,
        kind="action",
    )
    leaves: dict[tuple[str, int], int] = {}
    versions: dict[str, tuple[str, int, int]] = {}
    for aggregate_id, name, leaf, version in found:
        leaves[(aggregate_id, version)] = leaf
        _, low, high = versions.get(aggregate_id, (name, version, version))
        versions[aggregate_id] = (name, min(low, version), max(high, version))
    out = []
    for aggregate_id, (name, low, high) in versions.items():
        for event in ledger.events_of(UUID(aggregate_id), first_version=low, last_version=high):
            body = from_domain_event(event).body
            out.append((leaves[(aggregate_id, body.version)], body, name))
    return sorted(out, key=lambda item: item[0])


def _require_order(start: datetime, end: datetime) -> None:
    if end <= start:
        raise ValueError("the end of a diff must be after its start")


def _compare(before: PlanStatus, after: PlanStatus, start: datetime, end: datetime) -> PlanDiff:
    result = PlanDiff(
        start.isoformat(),
        end.isoformat(),
        summary_before=before.claims_and_verdicts(),
        summary_after=after.claims_and_verdicts(),
    )
    rows_before: dict[str, ActionRow] = {row.action_id: row for row in before.actions}
    for row in after.actions:
        old = rows_before.get(row.action_id)
        if old is None:
            result.added.append(row.action_id)
            continue
        for name in COMPARED:
            if getattr(old, name) != getattr(row, name):
                result.changes.append(
                    FieldChange(row.action_id, name, getattr(old, name), getattr(row, name))
                )
    return result


def _decisions(
    entries: Iterable[tuple[int, bytes]], start: datetime, end: datetime, names: dict[UUID, str]
) -> Iterable[DecisionEntry]:
    for position, data in entries:
        body = SignedEntry.from_entry_bytes(data).body
        if not start < body.timestamp <= end or body.aggregate_id not in names:
            continue
        yield _decision(position, body, names[body.aggregate_id])


def _decision(position: int, body: EventBody, action_id: str) -> DecisionEntry:
    summary = {k: body.payload[k] for k in SUMMARY_MEMBERS if body.payload.get(k)}
    if isinstance(summary.get("text"), str) and len(summary["text"]) > 200:
        summary["text"] = summary["text"][:200] + "…"
    return DecisionEntry(
        position, body.timestamp.isoformat(), body.actor, body.type, action_id, summary
    )
