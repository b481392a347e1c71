"""Current status of every action, recommendation and agency — now, or as it stood.

The projection replays the log in log order through the domain aggregates (applying
events, not re-checking rules: the ledger checked them on append and `verify` checks
them again). "As of" cuts the log either at a log position (the first N entries) or
at a moment (entries whose signed timestamp is at or before it). Per aggregate the
ledger enforces non-decreasing timestamps, so a moment cut is a prefix of every
aggregate's history: later corrections cannot leak backwards. A valid-time cut ("as
occurred by", domain/backfill.py) instead keeps the entries whose fact had happened by
then, recorded whenever.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from domain import Action, Plan, Status
from domain.backfill import Backfill
from domain.figures import (
    MERGED,
    OUT_OF_PLAN,
    WITHDRAWN,
    ActionFacts,
    HeadlineFigures,
    RecommendationFigures,
    verdict_applies,
)
from domain.lifecycle import CHAIR_OUTCOMES, REMOVED_FROM_PLAN, Decision, Evidence
from domain.progress import recommendation_status
from domain.response import Response
from domain.wording import resolved
from projections.narrative_snapshot import narrative_fields, narrative_snapshot
from projections.replay import Replay as Replay  # re-exported: the reference replay

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
    # Where the status comes from a backfilled fact (domain/backfill.py): the date the
    # source reported it for, and the source. None when it was recorded live.
    backfilled_on: str | None = None
    backfill_source: str | None = None
    # Its latest narrative update's period and signing date (domain/narrative.py), or None.
    narrative_period: str | None = None
    narrative_on: str | None = None


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
    # The plan's changes to it (domain/plan.py): the recommendation it is merged into
    # (status "merged"), why it was withdrawn or merged, and the numbers it had before.
    merged_into: int | None = None
    closed_reason: str | None = None
    former_numbers: list[int] = field(default_factory=list)
    # How the inquiry writes it (domain/references.py): its reference ("113.6"; its number
    # when it has none), the group it sits in, and whether it is a placeholder (listed by
    # the inquiry, its text not yet known).
    reference: str = ""
    group: str = ""
    placeholder: bool = False

    def __post_init__(self) -> None:
        if not self.reference:
            object.__setattr__(self, "reference", str(self.number))
        if not self.title:
            object.__setattr__(self, "placeholder", True)


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
    #: Which question a dated view answers (projections/asof.py `BASES`): "recorded",
    #: what the record said then; "occurred", what had happened by then as it says now.
    basis: str = "recorded"
    #: The ledger's words as they stood at the cut (domain/wording.py, defaults filled).
    wording: dict[str, str] = field(default_factory=lambda: resolved(None))

    def claims_and_verdicts(self) -> dict[str, int]:
        """The headline figures, as the domain defines them (domain/figures.py)."""
        out = self.out_of_plan()
        return HeadlineFigures.of(action_facts(a, out) for a in self.actions).as_dict()

    def recommendation_figures(self) -> dict[str, int]:
        """The recommendations in the plan and outstanding (domain/figures.py)."""
        return RecommendationFigures.of(r.status for r in self.recommendations).as_dict()

    def out_of_plan(self) -> set[int]:
        """The numbers of the recommendations withdrawn or merged (their actions with them)."""
        return {r.number for r in self.recommendations if r.status in OUT_OF_PLAN}

    def recommendation(self, number: int) -> RecommendationRow | None:
        """The recommendation `number` names, now or as one of its former numbers."""
        for row in self.recommendations:
            if row.number == number or number in row.former_numbers:
                return row
        return None

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
            basis=obj.get("basis", "recorded"),
            wording=resolved(obj.get("wording")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of,
            "basis": self.basis,
            "log_size": self.log_size,
            "title": self.title,
            "summary": self.claims_and_verdicts(),
            "recommendation_summary": self.recommendation_figures(),
            "agencies": self.agencies,
            "by_agency": self.by_agency,
            "recommendations": [vars(r) for r in self.recommendations],
            "actions": [vars(a) for a in self.actions],
            "wording": self.wording,
        }


def action_facts(row: ActionRow, out_of_plan: Collection[int] = ()) -> ActionFacts:
    """What the headline figures read of an action's row (`out_of_plan`: the numbers of the
    recommendations withdrawn or merged, which take their actions out with them)."""
    return ActionFacts(
        Status(row.status),
        frozenset(row.signed_by),
        row.overdue,
        in_plan=row.recommendation not in out_of_plan,
    )


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


def _response_fields(snapshot: dict[str, Any] | None, labels: dict[str, str]) -> dict[str, Any]:
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
        "backfill": _backfill_snapshot(action.status_backfill),
        # Who was responsible when: each agency that has led it, oldest first (the last
        # leads it now); a transfer's entry changes it (domain/action.py).
        "lead_history": [
            {
                "agency": lead.agency,
                "since": lead.since.isoformat(),
                "until": _moment(lead.until),
                "reason": lead.reason,
            }
            for lead in action.lead_history
        ],
        **narrative_snapshot(action.narrative_updates),  # only once it has one
    }


def _backfill_snapshot(fact: Backfill | None) -> dict[str, str] | None:
    return None if fact is None else {"occurred_on": fact.occurred_on, "source": fact.source}


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
        "wording": dict(sorted(plan.wording.items())),
        **_changes_snapshot(plan),
    }


def _changes_snapshot(plan: Plan) -> dict[str, Any]:
    """The plan's changes to its recommendations, as a snapshot shows them (members only
    when the plan has made any, so a plan that never changed keeps its snapshot text):
    withdrawn [number, reason], merged [number, into, reason], renumbered [former, now]."""
    recs = sorted(plan.recommendations.items())
    found = {
        "withdrawn": [[n, r.closed_reason] for n, r in recs if r.withdrawn],
        "merged": [[n, r.merged_into, r.closed_reason] for n, r in recs if r.merged_into],
        "renumbered": [[old, now] for old, now in sorted(plan.former_numbers.items())],
        "references": [[n, r.reference, r.group] for n, r in recs if r.reference or r.group],
    }
    return {name: value for name, value in found.items() if value}


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
    """A status from a plan snapshot and (action snapshot, last change) pairs.

    An action follows its recommendation's renumbering: its row carries the number the
    recommendation has now (its id keeps the old one: R10.2 under recommendation 12)."""
    renumbered: dict[int, int] = dict(plan.get("renumbered", [])) if plan is not None else {}
    labels: dict[str, str] = plan["response_labels"] if plan is not None else {}
    rows = [
        _row_from_snapshot(snapshot, last_change, today, labels)
        for snapshot, last_change in actions
    ]
    if renumbered:
        rows = [
            replace(row, recommendation=renumbered.get(row.recommendation, row.recommendation))
            for row in rows
        ]
    rows.sort(key=lambda row: (row.recommendation, _action_sort_key(row.action_id)))
    removed = {s.value for s in REMOVED_FROM_PLAN}
    recommendations = []
    out_of_plan: set[int] = set()
    if plan is not None:
        responses = {number: response for number, response in plan["responses"]}
        withdrawn = {number: reason for number, reason in plan.get("withdrawn", [])}
        merged = {number: (into, reason) for number, into, reason in plan.get("merged", [])}
        former: dict[int, list[int]] = {}
        for old, now in plan.get("renumbered", []):
            former.setdefault(now, []).append(old)
        references = {number: (ref, group) for number, ref, group in plan.get("references", [])}
        for number, title, lead_agencies in plan["recommendations"]:
            own = [Status(row.status) for row in rows if row.recommendation == number]
            counts = Counter(s.value for s in own if s not in REMOVED_FROM_PLAN)
            status = recommendation_status(own)
            into, reason = merged.get(number, (None, withdrawn.get(number)))
            if number in withdrawn or into is not None:
                status = WITHDRAWN if into is None else MERGED
                out_of_plan.add(number)
            recommendations.append(
                RecommendationRow(
                    number,
                    title,
                    list(lead_agencies),
                    status,
                    sum(counts.values()),
                    dict(sorted(counts.items())),
                    **_response_fields(responses.get(number), labels),
                    merged_into=into,
                    closed_reason=reason,
                    former_numbers=sorted(former.get(number, [])),
                    reference=references.get(number, ("", ""))[0],
                    group=references.get(number, ("", ""))[1],
                )
            )
    by_agency: dict[str, dict[str, int]] = {}
    for row in rows:
        if row.status in removed or row.recommendation in out_of_plan:
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
        wording=resolved(plan.get("wording") if plan else None),
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
        **_backfill_fields(snapshot.get("backfill")),
        **narrative_fields(snapshot.get("narrative")),
    )


def _backfill_fields(snapshot: dict[str, str] | None) -> dict[str, str]:
    if snapshot is None:
        return {}
    return {"backfilled_on": snapshot["occurred_on"], "backfill_source": snapshot["source"]}


def _action_sort_key(action_id: str) -> tuple[int, int]:
    head, _, tail = action_id.partition(".")
    return int(head[1:]), int(tail)
