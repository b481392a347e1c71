"""Current status of every action, recommendation and agency — now, or as it stood.

The projection replays the log in log order through the domain aggregates (applying
events, not re-checking rules: the ledger checked them on append and `verify` checks
them again). "As of" cuts the log either at a log position (the first N entries) or
at a moment (entries whose signed timestamp is at or before it). Per aggregate the
ledger enforces non-decreasing timestamps, so a moment cut is a prefix of every
aggregate's history: later corrections cannot leak backwards.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain import Action, Plan, Status
from domain.events import SignedEvent
from domain.figures import ActionFacts, HeadlineFigures, verdict_applies
from domain.lifecycle import CHAIR_OUTCOMES, REMOVED_FROM_PLAN, Decision, Evidence
from domain.progress import recommendation_status
from domain.response import Response
from ledger.auditor.entry import SignedEntry
from ledger.entry import to_domain_event

#: Statuses in the order of tables and charts, from not started to closed; merged and
#: withdrawn actions are out of the plan and are never counted.
STATUS_ORDER = tuple(s.value for s in Status if s not in REMOVED_FROM_PLAN)


@dataclass(frozen=True)
class ActionRow:
    action_id: str
    recommendation: int
    title: str
    lead_agency: str
    status: str
    agency_claim: str | None
    verdict: str | None
    agency_rag: str | None
    review_rag: str | None
    due_date: str | None
    overdue: bool
    evidence: int
    signed_by: dict[str, str]
    last_change: str
    # The action's own formal response (where its agency responds for itself; `response_`
    # fields of RecommendationRow for the recommendation's): its term, the term's label,
    # the date it was made, who made it, its reasons and where it was published. All None
    # while it has none.
    response: str | None = None
    response_label: str | None = None
    responded_on: str | None = None
    responder: str | None = None
    response_reasons: str | None = None
    response_source: str | None = None


@dataclass(frozen=True)
class RecommendationRow:
    number: int
    title: str
    lead_agencies: list[str]
    status: str
    actions: int
    by_status: dict[str, int]
    # The recommendation's current formal response (domain/response.py), beside its
    # delivery status: term, label, date made, responder, reasons, source; None if none.
    response: str | None = None
    response_label: str | None = None
    responded_on: str | None = None
    responder: str | None = None
    response_reasons: str | None = None
    response_source: str | None = None


def response_summary(row: ActionRow | RecommendationRow) -> str | None:
    """A row's formal response in a phrase: "Accepted in principle (Home Office,
    2023-03-01)"; None while it has none."""
    if row.response is None:
        return None
    return f"{row.response_label} ({row.responder}, {row.responded_on})"


@dataclass
class PlanStatus:
    as_of: str
    log_size: int
    title: str
    agencies: dict[str, str]
    actions: list[ActionRow]
    recommendations: list[RecommendationRow]
    by_agency: dict[str, dict[str, int]] = field(default_factory=dict)

    def claims_and_verdicts(self) -> dict[str, int]:
        """The headline figures, as the domain defines them (domain/figures.py)."""
        return HeadlineFigures.of(action_facts(a) for a in self.actions).as_dict()

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> PlanStatus:
        """The inverse of `to_json` (for clients reading the API)."""
        return cls(
            as_of=obj["as_of"],
            log_size=obj["log_size"],
            title=obj["title"],
            agencies=dict(obj["agencies"]),
            actions=[ActionRow(**row) for row in obj["actions"]],
            recommendations=[RecommendationRow(**row) for row in obj["recommendations"]],
            by_agency=dict(obj["by_agency"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of,
            "log_size": self.log_size,
            "title": self.title,
            "summary": self.claims_and_verdicts(),
            "agencies": self.agencies,
            "by_agency": self.by_agency,
            "recommendations": [vars(r) for r in self.recommendations],
            "actions": [vars(a) for a in self.actions],
        }


def action_facts(row: ActionRow) -> ActionFacts:
    """What the headline figures read of an action's row."""
    return ActionFacts(Status(row.status), frozenset(row.signed_by), row.overdue)


class Replay:
    """Aggregates rebuilt from log entries, in log order."""

    def __init__(self) -> None:
        self.aggregates: dict[UUID, Any] = {}
        self.size = 0
        self.last_timestamp: datetime | None = None

    def apply(self, event: SignedEvent) -> None:
        current = self.aggregates.get(event.originator_id)
        self.aggregates[event.originator_id] = event.mutate(current)
        self.size += 1
        self.last_timestamp = event.timestamp

    def feed(
        self,
        entries: Iterable[tuple[int, bytes]],
        *,
        until_position: int | None = None,
        until_time: datetime | None = None,
    ) -> Replay:
        for position, data in entries:
            if until_position is not None and position >= until_position:
                break
            event = to_domain_event(SignedEntry.from_entry_bytes(data))
            if until_time is not None and event.timestamp > until_time:
                continue
            self.apply(event)
        return self

    def of_type(self, cls: type[Any]) -> list[Any]:
        return [a for a in self.aggregates.values() if isinstance(a, cls)]


def _value(decision: Decision | None) -> str | None:
    return None if decision is None else decision.value


def response_snapshot(response: Response | None) -> dict[str, Any] | None:
    """A current formal response as a snapshot shows it (its label is the plan's:
    `plan_snapshot`'s `response_labels`, looked up when rows are made)."""
    if response is None:
        return None
    return {
        "response": response.term,
        "responded_on": response.responded_on,
        "responder": response.responder,
        "reasons": response.reasons,
        "source": response.source,
    }


def response_record(response: Response, labels: Mapping[str, str]) -> dict[str, Any]:
    """A formal response as the API lists a history of them: the snapshot's members, the
    term's label (`labels`: a plan's `response_labels`), and who recorded it when."""
    shown = response_snapshot(response)
    assert shown is not None
    return shown | {
        "label": labels.get(response.term, response.term),
        "recorded_by": response.recorded_by,
        "recorded_at": response.recorded_at.isoformat(),
    }


def _response_fields(
    snapshot: dict[str, Any] | None, labels: dict[str, str]
) -> dict[str, str | None]:
    """The `response` fields of a row, from a `response_snapshot` (None: no response)."""
    if snapshot is None:
        return {}
    term = snapshot["response"]
    return {
        "response": term,
        "response_label": labels.get(term, term),
        "responded_on": snapshot["responded_on"],
        "responder": snapshot["responder"],
        "response_reasons": snapshot["reasons"],
        "response_source": snapshot["source"],
    }


# -- snapshots: the one representation both the replay and the as-of projection use --------
#
# A snapshot is the part of an aggregate that a status (or an as-of view) shows, as plain
# JSON-able data. The full replay builds snapshots from live aggregates; the as-of
# projection stores them as JSON text keyed by log position. Both go through
# `status_from_snapshots`, so the two answers cannot drift apart in how rows are made.


def action_snapshot(action: Action) -> dict[str, Any]:
    """Who had signed what, on which evidence, and the status fields of one action.

    Counters (comments, challenges) and ``modified_on`` are left out on purpose: they
    change with every comment, and the projection stores a new snapshot only when this
    dictionary changes (``last_change`` comes from the log position instead)."""
    return {
        "action_id": action.action_id,
        "recommendation": action.recommendation,
        "title": action.title,
        "lead_agency": action.lead_agency,
        "status": action.status.value,
        "agency_claim": _value(action.agency_claim),
        "verdict": _value(action.verdict),
        "agency_rag": _value(action.agency_rag),
        "review_rag": _value(action.review_rag),
        "due_date": action.due_date,
        "evidence": action.current_evidence(),
        "sign_offs": [
            {
                "level": level.value,
                "by": s.by,
                "at": s.at.isoformat(),
                "evidence": list(s.evidence),
                "statement": s.statement,
            }
            for level, s in action.sign_offs.items()
        ],
        "response": response_snapshot(action.responses[-1] if action.responses else None),
    }


def evidence_snapshot(evidence: Evidence) -> dict[str, Any]:
    """One evidence item as an export lists it: hash, size, type, description, dates,
    and its publication (`projections.evidence.published_evidence` reads it).

    The original file name is left out (a name can carry personal data; the hash is the
    reference) except while the item is published, whose statement vouches for it
    (`published_name`; exports never show it); so are the storage key and the reasons
    for a withdrawal, an erasure or an unpublication (the log holds them, signed)."""
    published = evidence.published_at is not None
    return {
        "sha256": evidence.sha256,
        "size": evidence.size,
        "media_type": evidence.media_type,
        "description": evidence.description,
        "effective_date": evidence.effective_date,
        "attached_by": evidence.attached_by,
        "attached_at": evidence.attached_at.isoformat(),
        "withdrawn_at": _moment(evidence.withdrawn_at),
        "erased_at": _moment(evidence.erased_at),
        "published_at": _moment(evidence.published_at),
        "published_by": evidence.published_by,
        "published_statement": evidence.published_statement,
        "published_name": evidence.original_name if published else None,
    }


def _moment(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def plan_snapshot(plan: Plan) -> dict[str, Any]:
    """The plan's title, agencies (in their imported order) and recommendations; the
    current response to each that has one ([number, response], by number), and the label
    of every term its response vocabularies have had (responses keep their terms)."""
    return {
        "title": plan.title,
        "agencies": dict(plan.agencies),
        "recommendations": [
            [number, rec.title, list(rec.lead_agencies)]
            for number, rec in sorted(plan.recommendations.items())
        ],
        "responses": [
            [number, response_snapshot(plan.current_response(number))]
            for number in sorted(plan.responses)
        ],
        "response_labels": dict(sorted(plan.response_labels.items())),
    }


def status_from(replay: Replay, *, as_of: str, today: date) -> PlanStatus:
    plans = replay.of_type(Plan)
    plan: Plan | None = plans[0] if plans else None
    actions = [(action_snapshot(a), a.modified_on.isoformat()) for a in replay.of_type(Action)]
    return status_from_snapshots(
        plan_snapshot(plan) if plan is not None else None,
        actions,
        log_size=replay.size,
        as_of=as_of,
        today=today,
    )


def status_from_snapshots(
    plan: dict[str, Any] | None,
    actions: Iterable[tuple[dict[str, Any], str]],
    *,
    log_size: int,
    as_of: str,
    today: date,
) -> PlanStatus:
    """A status from a plan snapshot and (action snapshot, last change) pairs."""
    ordered = sorted(
        actions, key=lambda a: (a[0]["recommendation"], _action_sort_key(a[0]["action_id"]))
    )
    labels: dict[str, str] = plan["response_labels"] if plan is not None else {}
    rows = [
        _row_from_snapshot(snapshot, last_change, today, labels)
        for snapshot, last_change in ordered
    ]
    removed = {s.value for s in REMOVED_FROM_PLAN}
    recommendations = []
    if plan is not None:
        responses = {number: response for number, response in plan["responses"]}
        for number, title, lead_agencies in plan["recommendations"]:
            own = [Status(row.status) for row in rows if row.recommendation == number]
            counts = Counter(s.value for s in own if s not in REMOVED_FROM_PLAN)
            recommendations.append(
                RecommendationRow(
                    number,
                    title,
                    list(lead_agencies),
                    recommendation_status(own),
                    sum(counts.values()),
                    dict(sorted(counts.items())),
                    **_response_fields(responses.get(number), labels),
                )
            )
    by_agency: dict[str, dict[str, int]] = {}
    for row in rows:
        if row.status in removed:
            continue
        agency = by_agency.setdefault(row.lead_agency, {})
        agency[row.status] = agency.get(row.status, 0) + 1
    return PlanStatus(
        as_of=as_of,
        log_size=log_size,
        title=plan["title"] if plan else "",
        agencies=dict(plan["agencies"]) if plan else {},
        actions=rows,
        recommendations=recommendations,
        by_agency={k: dict(sorted(v.items())) for k, v in sorted(by_agency.items())},
    )


OPEN_EXCLUDED = frozenset(
    s.value for s in {Status.VERIFIED, *CHAIR_OUTCOMES, *REMOVED_FROM_PLAN, Status.ACCEPTED}
)


def _row_from_snapshot(
    snapshot: dict[str, Any], last_change: str, today: date, labels: dict[str, str]
) -> ActionRow:
    due = snapshot["due_date"]
    open_ = snapshot["status"] not in OPEN_EXCLUDED
    overdue = bool(due and open_ and date.fromisoformat(due) < today)
    signed_by = {s["level"]: s["by"] for s in snapshot["sign_offs"]}
    facts = ActionFacts(Status(snapshot["status"]), frozenset(signed_by), overdue)
    return ActionRow(
        action_id=snapshot["action_id"],
        recommendation=snapshot["recommendation"],
        title=snapshot["title"],
        lead_agency=snapshot["lead_agency"],
        status=snapshot["status"],
        agency_claim=snapshot["agency_claim"],
        verdict=verdict_applies(snapshot["verdict"], facts),  # only while it applies
        agency_rag=snapshot["agency_rag"],
        review_rag=snapshot["review_rag"],
        due_date=due,
        overdue=overdue,
        evidence=len(snapshot["evidence"]),
        signed_by=signed_by,
        last_change=last_change,
        **_response_fields(snapshot["response"], labels),
    )


def _action_sort_key(action_id: str) -> tuple[int, int]:
    head, _, tail = action_id.partition(".")
    return int(head[1:]), int(tail)
