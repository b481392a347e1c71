"""The timeline of one action, or of one recommendation's actions: every signed
decision in log order with who, when, its log position and its reasons.

Scrutiny asks "how did R10.1 get to 'verified', and on whose say-so?". The raw
`history` shows entries; a timeline reads as the story: each entry with the status it
left the action in, and the members that carry the decision (reasons, statement, the
evidence hashes a signer named, ratings). The leaf index of each entry comes from the
as-of projection, so it can be checked against a signed checkpoint with an inclusion
proof. A timeline may be cut (as of a moment or a log position); its `state` is then
the action exactly as it stood: who had signed at which level on which evidence, and
which evidence was attached.

Cost: positions, versions and the status after each entry come from the projection's
indexed rows, in one query for all the actions of a recommendation however many there
are (`ProjectionTables.latest_of`); only the entries shown (the latest `limit`) are read
from the event store (one read per action shown) and parsed, so a long history
(thousands of comments on one action) is not replayed.

Evidence is shown by hash, size, media type, description and date only: the original
file name and the storage key stay out (a name can carry personal data; the hash is
the reference).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain import PLAN_ID, Plan, action_aggregate_id
from domain.backfill import BACKFILL_TYPE
from domain.events import SignedEvent
from ledger.entry import from_domain_event
from projections.asof import as_of_label, status_as_of
from projections.projector import projector_for
from projections.store import to_micros

if TYPE_CHECKING:
    from projections.port import LogReader

#: Payload members never shown in a timeline (see the module docstring).
HIDDEN = frozenset({"original_name", "storage_key"})


class UnknownSubject(LookupError):
    """No such action (or recommendation) inside the cut."""


@dataclass(frozen=True)
class TimelineEntry:
    leaf_index: int
    version: int
    timestamp: str
    actor: str
    key_id: str
    type: str
    action_id: str | None
    status_after: str | None
    details: dict[str, Any]


@dataclass
class Timeline:
    subject: str
    as_of: str
    entries: list[TimelineEntry] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    total: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "as_of": self.as_of,
            "state": self.state,
            "total": self.total,
            "truncated": self.total > len(self.entries),
            "entries": [vars(e) for e in self.entries],
        }


@dataclass(frozen=True)
class _Cut:
    bound: int
    ts: int | None


@dataclass(frozen=True)
class _Found:
    """Of one action inside a cut: how many entries it holds in all, and those of them
    a timeline may show (its newest first: its state at the cut)."""

    action_id: str
    aggregate_id: UUID
    total: int
    rows: list[tuple[int, int, str | None]]  # (leaf, version, snapshot), newest first


def action_timeline(
    ledger: LogReader,
    action_id: str,
    *,
    as_of: datetime | None = None,
    position: int | None = None,
    limit: int | None = None,
) -> Timeline:
    """The entries of one action inside the cut (the latest `limit`, if given, in log
    order); UnknownSubject if it had none by then."""
    cut = _cut(ledger, as_of, position, limit)
    found = next(iter(_find(ledger, [action_id], cut, limit)), None)
    if found is None:
        raise UnknownSubject(f"no action {action_id}" + _when(as_of, position))
    entries = _entries(ledger, [found], limit)
    state = _state(found)
    label = as_of_label(as_of, position)
    return Timeline(action_id, label, entries, state, found.total)


def recommendation_timeline(
    ledger: LogReader,
    number: int,
    *,
    as_of: datetime | None = None,
    position: int | None = None,
    readable: Callable[[str], bool] = lambda _: True,
    limit: int | None = None,
) -> Timeline:
    """The recommendation's own entries (its addition, its formal responses) and the
    entries of its actions, in log order
    (the latest `limit` of them all, if given).

    `readable(action_id)` leaves out actions the caller may not read (officers and
    agency leads read only their own agency's actions); `state` gives the
    recommendation's status as of the cut and the shown state of each readable action."""
    cut = _cut(ledger, as_of, position, limit)
    plan_entries = _plan_entries(ledger, number, cut)
    if not plan_entries:
        raise UnknownSubject(f"no recommendation {number}" + _when(as_of, position))
    status = status_as_of(ledger, as_of=as_of, position=position)
    row = status.recommendation(number)  # a former number finds it too
    now = number if row is None else row.number
    shown = [a.action_id for a in status.actions if a.recommendation == now]
    found = _find(ledger, [action_id for action_id in shown if readable(action_id)], cut, limit)
    entries = plan_entries + _entries(ledger, found, limit)
    entries.sort(key=lambda e: e.leaf_index)
    if limit is not None:
        entries = entries[-limit:] if limit else []
    state = {
        "recommendation": vars(row) if row is not None else None,
        "actions": {each.action_id: _state(each) for each in found},
    }
    total = len(plan_entries) + sum(each.total for each in found)
    return Timeline(f"recommendation {now}", as_of_label(as_of, position), entries, state, total)


def current_lead_agencies(ledger: LogReader) -> dict[str, str]:
    """Action id -> its lead agency now (what read scoping goes by), from the projection."""
    return {row.action_id: row.lead_agency for row in status_as_of(ledger).actions}


def _when(as_of: datetime | None, position: int | None) -> str:
    return "" if as_of is None and position is None else f" as of {as_of_label(as_of, position)}"


def _cut(
    ledger: LogReader, as_of: datetime | None, position: int | None, limit: int | None
) -> _Cut:
    if as_of is not None and as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    if position is not None and position < 0:
        raise ValueError("position must be 0 or more")
    if limit is not None and limit < 0:
        raise ValueError("limit must be 0 or more")
    mark = projector_for(ledger).catch_up(ledger)
    bound = mark if position is None else min(position, mark)
    return _Cut(bound, None if as_of is None else to_micros(as_of))


def _find(ledger: LogReader, action_ids: list[str], cut: _Cut, limit: int | None) -> list[_Found]:
    """The actions' latest entries in the cut (together, the latest `limit`) and each
    one's newest, read from the projection in one query whatever their number (position,
    version and the state shown after each), so no history is replayed; in the order
    given, leaving out the actions with no entry in the cut."""
    ids = {str(action_aggregate_id(action_id)): action_id for action_id in action_ids}
    # The newest row is always read, even for limit 0: it carries the state at the cut.
    fetch = None if limit is None else max(1, limit)
    rows = projector_for(ledger).tables.latest_of(
        list(ids), bound=cut.bound, ts=cut.ts, limit=fetch
    )
    by_aggregate: dict[str, list[tuple[int, int, str | None]]] = {}
    for aggregate_id, leaf, version, state in rows:  # newest first
        by_aggregate.setdefault(aggregate_id, []).append((leaf, version, state))
    return [
        _Found(action_id, UUID(aggregate_id), found[0][1], found)
        for aggregate_id, action_id in ids.items()
        if (found := by_aggregate.get(aggregate_id))
    ]


def _entries(ledger: LogReader, found: list[_Found], limit: int | None) -> list[TimelineEntry]:
    """The latest `limit` entries of these actions together, read from the event store
    by version range (the signed payload is only there), each with the status its
    projected snapshot shows. Only the entries shown are read and parsed."""
    chosen = sorted(
        ((leaf, version, state, each) for each in found for leaf, version, state in each.rows),
        key=lambda row: row[0],
        reverse=True,
    )
    if limit is not None:
        chosen = chosen[:limit]
    by_action: dict[str, dict[int, tuple[int, str | None]]] = {}
    for leaf, version, state, each in chosen:
        by_action.setdefault(each.action_id, {})[version] = (leaf, state)
    statuses: dict[str, str] = {}
    out: list[TimelineEntry] = []
    for each in found:
        by_version = by_action.get(each.action_id)
        if not by_version:
            continue
        events = ledger.events_of(
            each.aggregate_id, first_version=min(by_version), last_version=max(by_version)
        )
        for event in events:
            if event.originator_version not in by_version:
                continue  # between this action's chosen entries: another's are later
            leaf, state = by_version[event.originator_version]
            status = None
            if state is not None:
                if state not in statuses:
                    statuses[state] = json.loads(state)["status"]
                status = statuses[state]
            out.append(timeline_entry(leaf, event, each.action_id, status))
    out.sort(key=lambda e: e.leaf_index)
    return out


def _state(found: _Found) -> dict[str, Any]:
    """The action as it stood at the cut: its newest row's snapshot."""
    snapshot = found.rows[0][2]
    return {} if snapshot is None else dict(json.loads(snapshot))


def _plan_entries(ledger: LogReader, number: int, cut: _Cut) -> list[TimelineEntry]:
    """The plan's entries that added the recommendation and recorded its formal
    responses, those inside the cut."""
    tables = projector_for(ledger).tables
    plan = tables.aggregate_number(str(PLAN_ID))
    if plan is None:
        return []
    leaves = tables.leaves_of(plan, bound=cut.bound)
    events = ledger.events_of(PLAN_ID, last_version=max(leaves)) if leaves else iter(())
    inside = []
    for event in events:
        if cut.ts is not None and to_micros(event.timestamp) > cut.ts:
            break  # a cut is a prefix of every aggregate's history
        inside.append(event)
    numbers = _numbers_of(number, inside)
    return [
        timeline_entry(leaves[event.originator_version], event, None, None)
        for event in inside
        if isinstance(event, OWN) and event.number in numbers
    ]


#: The plan's entries about one recommendation: its addition, its formal responses, and
#: the plan's changes to it.
OWN = (
    Plan.RecommendationAdded,
    Plan.ResponseRecorded,
    Plan.RecommendationAmended,
    Plan.RecommendationWithdrawn,
    Plan.RecommendationMerged,
    Plan.RecommendationRenumbered,
    Plan.RecommendationReferenced,
)


def _numbers_of(number: int, events: list[SignedEvent]) -> set[int]:
    """Every number the recommendation that `number` names has had in these entries (a
    renumbering links two; a number is never given to another recommendation)."""
    found = {number}
    renumbered = [e for e in events if isinstance(e, Plan.RecommendationRenumbered)]
    grew = True
    while grew:
        grew = False
        for e in renumbered:
            if (e.number in found) != (e.new_number in found):
                found |= {e.number, e.new_number}
                grew = True
    return found


def timeline_entry(
    leaf: int, event: SignedEvent, action_id: str | None, status_after: str | None
) -> TimelineEntry:
    body = from_domain_event(event).body
    details = {k: v for k, v in body.payload.items() if k not in HIDDEN}
    return TimelineEntry(
        leaf_index=leaf,
        version=body.version,
        timestamp=body.timestamp.astimezone(UTC).isoformat(),
        actor=body.actor,
        key_id=body.key_id,
        type=body.type,
        action_id=action_id,
        status_after=status_after,
        details=details,
    )


def lead_phrase(history: list[dict[str, Any]], names: dict[str, str] | None = None) -> str:
    """Who leads an action, and who led it before, from a snapshot's `lead_history`: "led
    by mhclg since 2025-04-01 (before: home_office until 2025-04-01)"; "" when it has had
    one lead all along. `names` gives agencies' names (default: their ids)."""
    if len(history) < 2:
        return ""
    names = names or {}

    def name(lead: dict[str, Any]) -> str:
        return str(names.get(lead["agency"], lead["agency"]))

    now, before = history[-1], history[:-1]
    earlier = "; ".join(f"{name(lead)} until {lead['until'][:10]}" for lead in reversed(before))
    return f"led by {name(now)} since {now['since'][:10]} (before: {earlier})"


def render_timeline(found: dict[str, Any], *, width: int = 200) -> str:
    """A timeline's JSON (local or from the API) as readable text, one decision a line
    with its details indented beneath; long texts are cut at `width` characters."""
    listed, total = len(found["entries"]), found.get("total", len(found["entries"]))
    count = f"latest {listed} of {total} entries" if total > listed else f"{listed} entries"
    lines = [f"{found['subject']} — as of {found['as_of']} — {count}"]
    for e in found["entries"]:
        who = f"[{e['leaf_index']}] {e['timestamp']}"
        subject = f" {e['action_id']}" if e["action_id"] else ""
        after = f" -> {e['status_after']}" if e["status_after"] else ""
        if e["type"] == BACKFILL_TYPE:  # recorded now, about then: say so on its face
            after += f" (backfilled: as at {e['details'].get('occurred_on')}, per its source)"
        lines.append(f"{who}{subject} {e['type']} by {e['actor']} (key {e['key_id']}){after}")
        for name, value in e["details"].items():
            if value in ("", [], None, {}):
                continue
            text = "; ".join(map(str, value)) if isinstance(value, list) else str(value)
            if len(text) > width:
                text = text[:width] + "…"
            lines.append(f"      {name}: {text}")
    state = found.get("state") or {}
    if "actions" in state:  # a recommendation's timeline
        shown = state["actions"]
        rec = state.get("recommendation")
        if rec:
            lines.append(
                f"recommendation {rec['number']}: {rec['status']} ({rec['actions']} actions)"
            )
    else:
        shown = {found["subject"]: state}
    for action_id, snapshot in shown.items():
        if not snapshot:
            continue
        led = lead_phrase(snapshot.get("lead_history") or [])
        if led:
            lines.append(f"{action_id}: {led}")
        lines.append(f"{action_id}: {snapshot['status']}; evidence attached:")
        lines.extend(f"      {sha}" for sha in snapshot["evidence"] or ["none"])
        for sign_off in snapshot["sign_offs"]:
            lines.append(
                f"  signed at {sign_off['level']} level by {sign_off['by']} on {sign_off['at']}"
                f" ({len(sign_off['evidence'])} evidence): {sign_off['statement']}"
            )
    return "\n".join(lines)
