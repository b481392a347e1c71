"""The plan, its status now or as it stood, what changed between two moments, and an
aggregate's version (for signing the next entry)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query

from api.application.access import acts_for_agency, require_readable_action, scoped_decisions
from api.http.deps import MAX_INDEX, CallerDep, ServicesDep, errors_doc, moment, optional_moment
from api.http.routes.schemas import DiffOut, PlanOut, StatusOut, VersionOut
from domain import action_aggregate_id
from ledger.auditor.entry import EntryFormatError, format_timestamp
from projections.asof import status_as_of
from projections.diff import diff_as_of
from projections.status import response_record
from projections.timeline import current_lead_agencies

router = APIRouter(tags=["read"])


@router.get(
    "/v1/plan",
    response_model=PlanOut,
    response_model_exclude_unset=True,  # no plan yet: title, agencies, recommendations only
    responses=errors_doc(401),
)
def plan(svc: ServicesDep, who: CallerDep) -> dict[str, Any]:
    """The plan: agencies and recommendations, each with its formal responses, and the
    response vocabulary."""
    current = svc.ledger.plan()
    if current is None:
        return {"title": "", "agencies": {}, "recommendations": []}
    labels = current.response_labels
    return {
        "title": current.title,
        "source": current.source,
        "agencies": current.agencies,
        "recommendations_expected": current.recommendations_expected,
        "recommendations": [
            vars(r)
            | {"responses": [response_record(x, labels) for x in current.responses.get(n, [])]}
            for n, r in sorted(current.recommendations.items())
        ],
        "response_vocabulary": [vars(term) for term in current.response_terms],
        "former_numbers": dict(current.former_numbers),
    }


@router.get("/v1/status", response_model=StatusOut, responses=errors_doc(401, 422))
def status(
    svc: ServicesDep,
    who: CallerDep,
    as_of: str | None = None,
    position: int | None = Query(default=None, ge=0, le=MAX_INDEX),
    basis: Literal["recorded", "occurred"] = Query(
        default="recorded",
        description="with as_of: `recorded`, what the record said then; `occurred`, what "
        "had happened by then as the record stands now",
    ),
) -> dict[str, Any]:
    """Status of every action, recommendation and agency: now, as of a date or
    date-time (UTC), or as of a log position (the first N entries)."""
    moment = optional_moment(as_of)
    return status_as_of(svc.ledger, as_of=moment, position=position, basis=basis).to_json()


@router.get("/v1/diff", response_model=DiffOut, responses=errors_doc(401, 422))
def diff(
    svc: ServicesDep,
    who: CallerDep,
    start: Annotated[str, Query(alias="from", max_length=40)],
    end: Annotated[str, Query(alias="to", max_length=40)],
) -> dict[str, Any]:
    """What changed between two dates (or date-times, UTC): actions added, every field
    that changed, and every signed decision in between with its log position (for an
    officer or agency lead, the decisions on their own agency's actions only)."""
    first, last = moment(start), moment(end)
    if last <= first:
        raise EntryFormatError("'to' must be after 'from'")
    found = diff_as_of(svc.ledger, first, last)
    found.decisions = scoped_decisions(svc.ledger, who, found.decisions)
    return found.to_json()


@router.get(
    "/v1/aggregates/{aggregate_id}/version",
    response_model=VersionOut,
    responses=errors_doc(401, 403),
)
def version(svc: ServicesDep, who: CallerDep, aggregate_id: UUID) -> VersionOut:
    """The aggregate's current version and latest timestamp: a signed entry writes
    version + 1, dated max(now, not_before) (ledger/timestamps.py)."""
    if acts_for_agency(who):  # an action's version and dates are part of its history
        leads = {
            action_aggregate_id(a): lead for a, lead in current_lead_agencies(svc.ledger).items()
        }
        if aggregate_id in leads:
            require_readable_action(who, leads[aggregate_id])
    following = svc.ledger.next_entry(aggregate_id)
    return VersionOut(
        aggregate_id=str(aggregate_id),
        version=following.version - 1,
        timestamp=_stamp(following.previous),
        not_before=_stamp(following.not_before),
    )


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else format_timestamp(moment)
