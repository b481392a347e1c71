"""What the pages show, computed from projections and reports (no HTML here).

RAG. Councils report red/amber/green, so the pages show one for every action, with
where it came from, always as a word beside the colour. Once the implementation group
has accepted an action or the chair has decided it, it is green (a rating made while the
work was open is history by then). Before that: the reviewer's own rating if there is
one (implementation group or chair), else the agency lead's, else one derived from the
status (blocked or overdue: red; not started and not overdue: "not started"; otherwise
amber). A recommendation or an agency shows its worst.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from domain.lifecycle import CHAIR_OUTCOMES, Status
from ledger.verify import VerificationReport
from projections.status import ActionRow, PlanStatus, response_summary

RAG_ORDER = ("red", "amber", "not_started", "green")
GREEN_STATUSES = frozenset(
    {Status.VERIFIED.value, Status.ACCEPTED.value} | {s.value for s in CHAIR_OUTCOMES}
)
REMOVED = frozenset({Status.MERGED.value, Status.WITHDRAWN.value})
SOURCE_LABEL = {
    "review": "reviewer's rating",
    "agency": "agency's rating",
    "status": "from its status",
}
RAG_LABEL = {"red": "Red", "amber": "Amber", "green": "Green", "not_started": "Not started"}


@dataclass(frozen=True)
class Rag:
    value: str  # red | amber | green | not_started
    source: str  # review | agency | status

    @property
    def label(self) -> str:
        return RAG_LABEL[self.value]

    @property
    def source_label(self) -> str:
        return SOURCE_LABEL.get(self.source, self.source)


def action_rag(row: ActionRow) -> Rag:
    if row.status in GREEN_STATUSES:  # accepted or decided: an earlier rating is history
        return Rag("green", "status")
    if row.review_rag:
        return Rag(row.review_rag, "review")
    if row.agency_rag:
        return Rag(row.agency_rag, "agency")
    if row.status == Status.BLOCKED.value or row.overdue:
        return Rag("red", "status")
    if row.status == Status.NOT_STARTED.value:
        return Rag("not_started", "status")
    return Rag("amber", "status")


def worst(rags: Iterable[Rag]) -> Rag | None:
    found = list(rags)
    if not found:
        return None
    value = min((r.value for r in found), key=RAG_ORDER.index)
    return Rag(value, "worst of its actions")


@dataclass
class AgencyRow:
    agency: str
    name: str
    actions: int
    rag_counts: dict[str, int]
    overdue: int
    worst: Rag | None


@dataclass
class RecommendationView:
    number: int
    title: str
    lead_agencies: list[str]
    status: str
    actions: int
    rag: Rag | None
    #: Its formal response in a phrase (`projections.status.response_summary`), its
    #: reasons and where it was published; None while it has none.
    response: str | None = None
    response_reasons: str | None = None
    response_source: str | None = None
    #: The plan's changes to it: merged into, why withdrawn or merged, former numbers.
    merged_into: int | None = None
    closed_reason: str | None = None
    former_numbers: list[int] = field(default_factory=list)
    #: How the inquiry writes it, and the group it is listed under (domain/references.py).
    reference: str = ""
    group: str = ""


@dataclass
class Dashboard:
    status: PlanStatus
    summary: dict[str, int]
    agencies: list[AgencyRow]
    recommendations: list[RecommendationView]
    actions: list[tuple[ActionRow, Rag]]
    overdue: list[ActionRow]
    missing: list[int] = field(default_factory=list)


def dashboard(status: PlanStatus, expected: int = 0) -> Dashboard:
    live = [a for a in status.actions if a.status not in REMOVED]
    rags = {a.action_id: action_rag(a) for a in live}
    agencies = []
    for agency, name in sorted(status.agencies.items()):
        own = [a for a in live if a.lead_agency == agency]
        counts = {v: sum(1 for a in own if rags[a.action_id].value == v) for v in RAG_ORDER}
        agencies.append(
            AgencyRow(
                agency,
                name,
                len(own),
                counts,
                sum(1 for a in own if a.overdue),
                worst(rags[a.action_id] for a in own),
            )
        )
    recommendations = [
        RecommendationView(
            r.number,
            r.title,
            r.lead_agencies,
            r.status,
            r.actions,
            worst(rags[a.action_id] for a in live if a.recommendation == r.number),
            response_summary(r),
            r.response_reasons,
            r.response_source,
            r.merged_into,
            r.closed_reason,
            list(r.former_numbers),
            r.reference,
            r.group,
        )
        for r in status.recommendations
    ]
    present = {n for r in status.recommendations for n in (r.number, *r.former_numbers)}
    return Dashboard(
        status,
        status.claims_and_verdicts(),
        agencies,
        recommendations,
        [(a, rags[a.action_id]) for a in live],
        [a for a in live if a.overdue],
        [n for n in range(1, expected + 1) if n not in present],
    )


# -- the chair's verification page -------------------------------------------------------

#: Each check the page lists, and the kinds of problem (`Problem.what`) that fail it.
CHECKS: tuple[tuple[str, str, frozenset[str]], ...] = (
    (
        "entries",
        "Every entry is well-formed canonical JSON and matches its stored columns",
        frozenset({"malformed entry", "altered columns", "cannot apply"}),
    ),
    (
        "signatures",
        "Every signature verifies under the key registered to its actor at that point",
        frozenset({"bad signature", "unknown signer"}),
    ),
    (
        "rules",
        "Every event obeys the rule for its signer's registered role and agency",
        frozenset({"rule broken"}),
    ),
    (
        "order",
        "Versions and timestamps run in order; nothing is missing, inserted or moved",
        frozenset({"version sequence", "timestamp order", "log order", "missing entries"}),
    ),
    (
        "tree",
        "The Merkle tree recomputed from the entries matches the stored tree",
        frozenset({"altered entry", "stored tree"}),
    ),
    (
        "checkpoints",
        "Every checkpoint is signed by the log key and matches the recomputed root",
        frozenset({"bad checkpoint", "checkpoint mismatch", "no checkpoint"}),
    ),
)


@dataclass
class CheckResult:
    key: str
    title: str
    ok: bool
    problems: list[str]


def verification_checks(report: VerificationReport) -> list[CheckResult]:
    known = frozenset().union(*(kinds for _, _, kinds in CHECKS))
    results = []
    for key, title, kinds in CHECKS:
        problems = [str(p) for p in report.problems if p.what in kinds]
        results.append(CheckResult(key, title, not problems, problems))
    other = [str(p) for p in report.problems if p.what not in known]
    if other:
        results.append(CheckResult("other", "Other problems", False, other))
    return results


# -- an action's timeline -------------------------------------------------------------------

SHOWN = (
    "from_status",
    "to_status",
    "level",
    "statement",
    "reasons",
    "reason",
    "rating",
    "scope",
    "kind",
    "text",
    "officer",
    "original_name",
    "description",
    "sha256",
    "evidence",
)


def timeline_row(entry: dict[str, Any]) -> dict[str, Any]:
    """One signed entry as the timeline shows it: who, with which key, what, when."""
    payload = entry.get("payload", {})
    details = {k: payload[k] for k in SHOWN if payload.get(k) not in (None, "", [])}
    return {
        "timestamp": entry["timestamp"],
        "actor": entry["actor"],
        "key_id": entry["key_id"],
        "type": entry["type"].removeprefix("action."),
        "version": entry["version"],
        "details": details,
        "signature": entry["signature"],
    }
