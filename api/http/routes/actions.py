"""One action with its signed history, and the timelines of an action or of a
recommendation's actions. Officers and agency leads read only their own agency's
actions (api/application/access.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as FastAPIPath

from api.application.access import may_read_action, require_readable_action
from api.http.deps import (
    MAX_INDEX,
    TIMELINE_LIMIT,
    TIMELINE_MAX,
    CallerDep,
    ServicesDep,
    errors_doc,
    optional_moment,
)
from api.http.errors import NotFound
from api.http.routes.schemas import ActionHistoryOut, TimelineOut
from domain import Action, action_aggregate_id
from ledger.entry import from_domain_event
from projections.status import response_record
from projections.timeline import (
    UnknownSubject,
    action_timeline,
    current_lead_agencies,
    recommendation_timeline,
)

router = APIRouter(tags=["read"])
AsOf = Annotated[str | None, Query(max_length=40)]
Position = Annotated[int | None, Query(ge=0, le=MAX_INDEX)]
Limit = Annotated[int, Query(ge=0, le=TIMELINE_MAX)]


@router.get(
    "/v1/actions/{action_id}",
    response_model=ActionHistoryOut,
    responses=errors_doc(401, 403, 404),
)
def action(svc: ServicesDep, who: CallerDep, action_id: str) -> dict[str, Any]:
    """An action's current state and every signed entry of its history."""
    current = svc.ledger.action(action_id)
    if current is None:
        raise NotFound(f"no action {action_id}")
    require_readable_action(who, current.lead_agency)
    history = [
        from_domain_event(e).to_json()
        for e in svc.ledger.aggregate_events(action_aggregate_id(action_id))
    ]
    plan = svc.ledger.plan()
    labels = plan.response_labels if plan is not None else {}
    return {"action": action_json(current, labels), "history": history}


@router.get(
    "/v1/actions/{action_id}/timeline",
    response_model=TimelineOut,
    responses=errors_doc(401, 403, 404, 422),
)
def action_timeline_(
    svc: ServicesDep,
    who: CallerDep,
    action_id: Annotated[str, FastAPIPath(max_length=16)],
    as_of: AsOf = None,
    position: Position = None,
    limit: Limit = TIMELINE_LIMIT,
) -> dict[str, Any]:
    """Every signed decision on one action, with who, when, its log position and its
    reasons; cut as of a date-time or position, with the action as it stood then.
    The latest `limit` entries; `total` and `truncated` say whether there are more."""
    # Scoped like /v1/actions/{id} (by the action's lead agency now), read from the
    # as-of projection rather than by replaying the action's whole history.
    lead = current_lead_agencies(svc.ledger).get(action_id)
    if lead is None:
        raise NotFound(f"no action {action_id}")
    require_readable_action(who, lead)
    until = optional_moment(as_of)
    try:
        found = action_timeline(svc.ledger, action_id, as_of=until, position=position, limit=limit)
    except UnknownSubject as error:
        raise NotFound(str(error)) from None
    return found.to_json()


@router.get(
    "/v1/recommendations/{number}/timeline",
    response_model=TimelineOut,
    responses=errors_doc(401, 404, 422),
)
def recommendation_timeline_(
    svc: ServicesDep,
    who: CallerDep,
    number: Annotated[int, FastAPIPath(ge=1, le=999)],
    as_of: AsOf = None,
    position: Position = None,
    limit: Limit = TIMELINE_LIMIT,
) -> dict[str, Any]:
    """The recommendation's entry and every entry of its actions, in log order (the
    latest `limit`). Officers and agency leads see only their own agency's actions."""
    leads = current_lead_agencies(svc.ledger)

    def readable(action_id: str) -> bool:
        return may_read_action(who, leads.get(action_id))

    until = optional_moment(as_of)
    try:
        found = recommendation_timeline(
            svc.ledger, number, as_of=until, position=position, readable=readable, limit=limit
        )
    except UnknownSubject as error:
        raise NotFound(str(error)) from None
    return found.to_json()


def decision_json(value: Any) -> Any:
    return (
        None
        if value is None
        else {
            "value": value.value,
            "by": value.by,
            "at": value.at.isoformat(),
            "reasons": value.reasons,
        }
    )


def action_json(action: Action, labels: Mapping[str, str]) -> dict[str, Any]:
    """The action's state; `labels` name the terms of its formal responses (the plan's)."""
    return {
        "aggregate_id": str(action.id),
        "version": action.version,
        "action_id": action.action_id,
        "recommendation": action.recommendation,
        "title": action.title,
        "lead_agency": action.lead_agency,
        "lead_officers": action.lead_officers,
        "expected_outcome": action.expected_outcome,
        "evidence_required": action.evidence_required,
        "due_date": action.due_date,
        "status": action.status.value,
        "assigned_officers": action.assigned_officers,
        "current_evidence": action.current_evidence(),
        "evidence": [
            {
                "sha256": e.sha256,
                "size": e.size,
                "media_type": e.media_type,
                "original_name": e.original_name,
                "description": e.description,
                "effective_date": e.effective_date,
                "attached_by": e.attached_by,
                "attached_at": e.attached_at.isoformat(),
                "withdrawn": e.withdrawn_at is not None,
                "erased": e.erased_at is not None,
                "published": e.published,
                "published_at": None if e.published_at is None else e.published_at.isoformat(),
                "published_by": e.published_by,
                "published_statement": e.published_statement,
            }
            for e in action.evidence.values()
        ],
        "sign_offs": {
            level.value: {
                "by": s.by,
                "at": s.at.isoformat(),
                "evidence": s.evidence,
                "statement": s.statement,
            }
            for level, s in action.sign_offs.items()
        },
        "agency_claim": decision_json(action.agency_claim),
        "verdict": decision_json(action.verdict),
        "agency_rag": decision_json(action.agency_rag),
        "review_rag": decision_json(action.review_rag),
        "last_return": decision_json(action.last_return),
        "blocked_reason": action.blocked_reason,
        "closed_reason": action.closed_reason,
        "merged_into": action.merged_into,
        "responses": [response_record(r, labels) for r in action.responses],
    }
