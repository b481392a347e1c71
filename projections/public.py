"""What the public tracker shows (INQUIRY_LEDGER_PUBLIC=on), as it stood at one checkpoint.

Why cut at a checkpoint: every fact on a public page names the signed entry it comes
from, and the reader checks that entry against the checkpoint the page carries
(ledger/public_proofs.py). A view of "now" would show entries no checkpoint covers yet.
The cut is a log position (the first N entries), so it is exact, whatever the clocks.

What is public, and what never is. Public: the plan (its title, source and agencies),
each recommendation and action as the plan states them, and every decision on an action
with its reasons (status changes, sign-offs and their revocations, returns, ratings,
merges, withdrawals, transfers to another lead agency), and the agency's statement
publishing a file. Never public: the
directory (people's names), comments, evidence entries (a file's name can carry personal
data), erasures and officer assignments; evidence only where its agency has published it
with a signed statement. People are shown by role and agency, never by name.

What the entries themselves reveal: the reader checks each fact against the entry's own
bytes, so those bytes are published, and they hold the signer's user id and, in an
action's entries, the plan's lead officers as the plan names them. The README says so
and asks for user ids that are role handles (``council-lead``), not names, on a ledger
that will be published.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from domain import PLAN_ID
from domain.wording import resolved
from projections.asof import status_as_of
from projections.evidence import PublishedEvidence, published_evidence
from projections.port import LogReader
from projections.projector import projector_for
from projections.status import PlanStatus
from projections.timeline import (
    TimelineEntry,
    UnknownSubject,
    recommendation_timeline,
    timeline_entry,
)

#: Entry types a public page shows, with the payload members it shows of each (exactly
#: as signed: the reader compares them with the entry's bytes).
PUBLIC_MEMBERS: dict[str, tuple[str, ...]] = {
    "plan.imported": ("title", "source"),
    "plan.recommendation_added": ("number", "title", "text", "lead_agencies"),
    "action.added": (
        "action_id",
        "recommendation",
        "title",
        "lead_agency",
        "expected_outcome",
        "evidence_required",
        "due_date",
    ),
    "action.amended": ("changes", "reason"),
    "action.status_changed": ("from_status", "to_status", "reason"),
    "action.signed_off": ("level", "statement"),
    "action.sign_off_revoked": ("level", "reason"),
    "action.returned": ("level", "reasons"),
    "action.rag_rated": ("scope", "rating", "reason"),
    "action.merged": ("into", "reason"),
    "action.withdrawn": ("reason",),
    # A fact of the past from a (public) source, marked as backfilled by its type.
    "action.backfilled": ("status", "occurred_on", "source", "note"),
    # Responsibility moving to another agency: the agency's id and the reason, no person.
    "action.lead_agency_transferred": ("to_agency", "reason"),
    "plan.response_recorded": (
        "number",
        "response",
        "responded_on",
        "responder",
        "reasons",
        "source",
    ),
    "plan.response_vocabulary_set": ("terms",),
    # The plan's changes, each with its reason: facts of the plan, naming no person.
    "plan.agency_added": ("id", "name", "reason"),
    "plan.agency_renamed": ("id", "name", "reason"),
    "plan.recommendation_amended": ("number", "changes", "reason"),
    "plan.recommendation_withdrawn": ("number", "reason"),
    "plan.recommendation_merged": ("number", "into", "reason"),
    "plan.recommendation_renumbered": ("number", "new_number", "reason"),
    "plan.recommendation_referenced": ("number", "reference", "group", "reason"),
    # The words the pages use for the report, levels and bodies (domain/wording.py).
    "plan.wording_set": ("words", "reason"),
    "action.response_recorded": ("response", "responded_on", "responder", "reasons", "source"),
    "action.evidence_published": ("sha256", "statement"),
    "action.evidence_unpublished": ("sha256", "reason"),
}
#: Members of an amendment's changes never shown (names of officers).
PRIVATE_CHANGES = frozenset({"lead_officers"})
#: The most decisions one recommendation's page shows (its latest); the rest are
#: in the log, and the count says how many there are.
PAGE_LIMIT = 200

#: Who signed: (role, agency or None) for a user id at an entry's signed time (ISO 8601),
#: from the directory: the role they held then, not the one they hold now.
Who = Callable[[str, str], tuple[str, str | None]]


@dataclass(frozen=True)
class PublicEntry:
    """One signed decision as the public sees it, and the leaf that proves it."""

    leaf_index: int
    type: str
    subject: str  # an action id, or "plan"
    timestamp: str  # as signed: YYYY-MM-DDTHH:MM:SS.ffffffZ
    by_role: str
    by_agency: str | None
    status_after: str | None
    shown: dict[str, Any]


@dataclass(frozen=True)
class PublicAction:
    action_id: str
    title: str
    lead_agency: str
    status: str
    agency_claim: str | None
    verdict: str | None
    due_date: str | None
    overdue: bool
    response: dict[str, Any] | None = None


@dataclass
class PublicRecommendation:
    number: int
    title: str
    text: str
    lead_agencies: list[str]
    status: str
    actions: list[PublicAction]
    entries: list[PublicEntry] = field(default_factory=list)
    total_entries: int = 0
    #: The formal response (accepted, in principle...), beside the delivery status.
    response: dict[str, Any] | None = None
    #: Files their agency published with a signed statement (all of them, whatever the
    #: page limit): each is proven by its attaching and its publishing entries, both in
    #: `evidence_entries`.
    published: list[dict[str, Any]] = field(default_factory=list)
    evidence_entries: list[PublicEntry] = field(default_factory=list)
    #: The plan's agencies (id: display name) and its words (domain/wording.py) then.
    agencies: dict[str, str] = field(default_factory=dict)
    wording: dict[str, str] = field(default_factory=lambda: resolved(None))
    #: The plan's changes to it: merged into, why withdrawn or merged, former numbers.
    merged_into: int | None = None
    closed_reason: str | None = None
    former_numbers: list[int] = field(default_factory=list)
    #: How the inquiry writes it and the group it sits in (domain/references.py).
    reference: str = ""
    group: str = ""
    #: Which entry shows its title and its text now (the addition, or the latest
    #: amendment of each): {"title": {"leaf", "field", "key"}, ...}, for the page's check.
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def leaves(self) -> set[int]:
        return {e.leaf_index for e in self.entries + self.evidence_entries}

    def to_json(self) -> dict[str, Any]:
        found = asdict(self)
        found["truncated"] = self.total_entries > len(self.entries)
        # The reader checks every fact the page shows, the files' entries among them.
        found["entries"] = found["entries"] + found.pop("evidence_entries")
        found["entries"].sort(key=lambda e: e["leaf_index"])
        return found


class Renumbered(UnknownSubject):
    """A former number of a recommendation: the pages send the reader to its number now."""

    def __init__(self, number: int, now: int) -> None:
        super().__init__(f"recommendation {number} is now recommendation {now}")
        self.number = number
        self.now = now


def text_sources(entries: list[PublicEntry], numbers: set[int]) -> dict[str, dict[str, Any]]:
    """Where a recommendation's title and text shown now were signed: its addition, or
    the latest amendment that changed each (`field` "changes", `key` the member)."""
    found: dict[str, dict[str, Any]] = {}
    for e in entries:
        if e.shown.get("number") not in numbers:
            continue
        if e.type == "plan.recommendation_added":
            for name in ("title", "text"):
                found[name] = {"leaf": e.leaf_index, "field": name, "key": None}
        elif e.type == "plan.recommendation_amended":
            changes = e.shown.get("changes") or {}
            for name in ("title", "text"):
                if name in changes:
                    found[name] = {"leaf": e.leaf_index, "field": "changes", "key": name}
    return found


@dataclass
class PublicPlan:
    title: str
    source: str
    agencies: dict[str, str]
    tree_size: int
    summary: dict[str, int]
    recommendations: list[dict[str, Any]]
    by_agency: dict[str, dict[str, int]]
    entries: list[PublicEntry] = field(default_factory=list)
    #: The ledger's words then (domain/wording.py); its `plan.wording_set` entries are
    #: among `entries`, so a reader can check them.
    wording: dict[str, str] = field(default_factory=lambda: resolved(None))

    @property
    def leaves(self) -> set[int]:
        return {e.leaf_index for e in self.entries}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def plan_view(ledger: LogReader, size: int, who: Who) -> PublicPlan:
    """The plan as it stood at log position `size`: its own entries (the import and each
    recommendation's) prove the titles; the statuses are summaries of the actions, each
    proven on its recommendation's page."""
    status = status_as_of(ledger, position=size)
    entries = _plan_entries(ledger, size, who)
    return PublicPlan(
        title=status.title,
        source=next((e.shown["source"] for e in entries if e.type == "plan.imported"), ""),
        agencies=status.agencies,
        tree_size=size,
        summary=status.claims_and_verdicts(),
        recommendations=[
            {
                "number": r.number,
                "title": r.title,
                "lead_agencies": r.lead_agencies,
                "status": r.status,
                "actions": r.actions,
                "by_status": r.by_status,
                "response": _response(r),
                "merged_into": r.merged_into,
                "closed_reason": r.closed_reason,
                "former_numbers": r.former_numbers,
                "reference": r.reference,
                "group": r.group,
                "sources": text_sources(entries, {r.number, *r.former_numbers}),
            }
            for r in status.recommendations
        ],
        by_agency=status.by_agency,
        entries=entries,
        wording=status.wording,
    )


def recommendation_view(
    ledger: LogReader, number: int, size: int, who: Who, *, limit: int = PAGE_LIMIT
) -> PublicRecommendation:
    """One recommendation as it stood at log position `size`, with its public decisions
    (the latest `limit`); UnknownSubject if the plan had no such recommendation then."""
    status = status_as_of(ledger, position=size)
    row = status.recommendation(number)
    if row is None:
        raise UnknownSubject(f"no recommendation {number}")
    if row.number != number:
        raise Renumbered(number, row.number)
    numbers = {number, *row.former_numbers}
    timeline = recommendation_timeline(ledger, number, position=size)
    public = [e for e in timeline.entries if e.type in PUBLIC_MEMBERS]
    # The plan's responses to this recommendation, unless the timeline holds them.
    in_timeline = {e.leaf_index for e in timeline.entries}
    responses = [
        e
        for e in _plan_entries(ledger, size, who)
        if e.type == "plan.response_recorded"
        and e.shown.get("number") in numbers
        and e.leaf_index not in in_timeline
    ]
    plan_entries = [_public(e, who) for e in timeline.entries if e.type in PUBLIC_MEMBERS]
    sources = text_sources(plan_entries, numbers)
    text = ""
    for e in plan_entries:  # the text as added, then as each amendment left it
        if e.leaf_index == sources.get("text", {}).get("leaf"):
            key = sources["text"]["key"]
            text = str(e.shown["changes"][key] if key else e.shown.get("text", ""))
    chosen = public[-limit:] if limit else []
    actions = {a.action_id for a in status.actions if a.recommendation == number}
    files = [f for f in published_evidence(ledger, position=size) if f.action_id in actions]
    by_leaf = {e.leaf_index: e for e in timeline.entries}
    evidence_entries = [
        _public(by_leaf[f.published_leaf], who) for f in files if f.published_leaf in by_leaf
    ] + [_attached(by_leaf[f.attached_leaf], f, who) for f in files if f.attached_leaf in by_leaf]
    shown = {e.leaf_index for e in chosen}
    entries = sorted([_public(e, who) for e in chosen] + responses, key=lambda e: e.leaf_index)
    return PublicRecommendation(
        number=row.number,
        title=row.title,
        text=text,
        lead_agencies=row.lead_agencies,
        status=row.status,
        actions=_actions(status, number),
        entries=entries,
        total_entries=len(public) + len(responses),
        response=_response(row),
        published=[_file(f) for f in files],
        evidence_entries=[e for e in evidence_entries if e.leaf_index not in shown],
        agencies=status.agencies,
        wording=status.wording,
        merged_into=row.merged_into,
        closed_reason=row.closed_reason,
        former_numbers=list(row.former_numbers),
        reference=row.reference,
        group=row.group,
        sources=sources,
    )


def agency_view(ledger: LogReader, agency: str, size: int) -> dict[str, Any]:
    """One agency's actions as they stood at log position `size` (a summary: each action's
    decisions are proven on its recommendation's page); KeyError for no such agency."""
    status = status_as_of(ledger, position=size)
    if agency not in status.agencies:
        raise KeyError(agency)
    own = [a for a in status.actions if a.lead_agency == agency]
    return {
        "agency": agency,
        "name": status.agencies[agency],
        "tree_size": size,
        "by_status": status.by_agency.get(agency, {}),
        "actions": [asdict(_action(a)) | {"recommendation": a.recommendation} for a in own],
        "wording": status.wording,
    }


def _actions(status: PlanStatus, number: int) -> list[PublicAction]:
    return [_action(a) for a in status.actions if a.recommendation == number]


def _response(row: Any) -> dict[str, Any] | None:
    """The row's current formal response, if it has one (projections/status.py)."""
    if getattr(row, "response", None) is None:
        return None
    return {
        "response": row.response,
        "label": row.response_label,
        "responded_on": row.responded_on,
        "responder": row.responder,
        "reasons": row.response_reasons,
        "source": row.response_source,
    }


def _action(row: Any) -> PublicAction:
    return PublicAction(
        action_id=row.action_id,
        title=row.title,
        lead_agency=row.lead_agency,
        status=row.status,
        agency_claim=row.agency_claim,
        verdict=row.verdict,
        due_date=row.due_date,
        overdue=row.overdue,
        response=_response(row),
    )


def _plan_entries(ledger: LogReader, size: int, who: Who) -> list[PublicEntry]:
    """The plan aggregate's entries inside the first `size` leaves (its import and the
    recommendations added), read from the projection's leaf index."""
    tables = projector_for(ledger).tables
    projector_for(ledger).catch_up(ledger)
    plan = tables.aggregate_number(str(PLAN_ID))
    if plan is None:
        return []
    leaves = tables.leaves_of(plan, bound=size)
    if not leaves:
        return []
    out = []
    for event in ledger.events_of(PLAN_ID, last_version=max(leaves)):
        leaf = leaves.get(event.originator_version)
        if leaf is None:
            continue
        entry = timeline_entry(leaf, event, None, None)
        if entry.type in PUBLIC_MEMBERS:
            out.append(_public(entry, who))
    return out


def _public(entry: TimelineEntry, who: Who) -> PublicEntry:
    role, agency = who(entry.actor, entry.timestamp)
    shown = {name: entry.details.get(name) for name in PUBLIC_MEMBERS[entry.type]}
    changes = shown.get("changes")
    if entry.type == "action.amended" and isinstance(changes, dict):
        shown["changes"] = {k: v for k, v in changes.items() if k not in PRIVATE_CHANGES}
    return PublicEntry(
        leaf_index=entry.leaf_index,
        type=entry.type,
        subject=entry.action_id or "plan",
        timestamp=_as_signed(entry.timestamp),
        by_role=role,
        by_agency=agency,
        status_after=entry.status_after,
        shown=shown,
    )


def _file(found: PublishedEvidence) -> dict[str, Any]:
    return {
        "sha256": found.sha256,
        "action_id": found.action_id,
        "filename": found.filename,
        "media_type": found.media_type,
        "size": found.size,
        "description": found.description,
        "statement": found.statement,
        "published_at": found.published_at.astimezone(UTC).isoformat(),
        "published_leaf": found.published_leaf,
        "attached_leaf": found.attached_leaf,
    }


def _attached(entry: TimelineEntry, found: PublishedEvidence, who: Who) -> PublicEntry:
    """The entry that attached a published file, with what the page shows of it (its name
    comes from the projection: timelines never carry names)."""
    role, agency = who(entry.actor, entry.timestamp)
    return PublicEntry(
        leaf_index=entry.leaf_index,
        type=entry.type,
        subject=entry.action_id or "plan",
        timestamp=_as_signed(entry.timestamp),
        by_role=role,
        by_agency=agency,
        status_after=entry.status_after,
        shown={
            "sha256": found.sha256,
            "original_name": found.filename,
            "media_type": found.media_type,
            "size": found.size,
            "description": found.description,
        },
    )


def _as_signed(iso: str) -> str:
    """The entry's timestamp in the form it is signed in (ledger/auditor/entry.py)."""
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
