"""Challenges (domain/challenge.py) as threads with state, read like the actions: every
role reads them, an officer or agency lead only those addressed to their own agency.

`GET /v1/challenges` lists them (unresolved first, oldest first) with the count of the
unresolved ones per agency and their age as of a day; `GET /v1/challenges/{id}` is one
thread. Raising, answering, closing and escalating are signed entries, appended through
`POST /v1/entries` like any other (the CLI's `challenge` commands build them).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from api.application.access import AccessDenied, agency_scope
from api.http.deps import CallerDep, ServicesDep, errors_doc
from api.http.errors import NotFound
from ledger.auditor.entry import EntryFormatError
from projections.challenges import by_agency, challenges

router = APIRouter(tags=["read"])


# -- the response models (here, not in schemas.py, which is at its size limit) -------

ChallengeState = Literal["open", "answered", "escalated", "closed"]


class AnswerOut(BaseModel):
    text: str
    evidence: list[str] = Field(description="sha256 of the action's evidence it cites")
    by: str
    at: str


class StepOut(BaseModel):
    kind: Literal["closed", "escalated"]
    value: str = Field(description="the outcome (satisfied, not_satisfied) or the body")
    reason: str
    by: str
    at: str


class ChallengeOut(BaseModel):
    challenge_id: str
    subject: str = Field(description="the action (R10.1) or the recommendation (R10)")
    recommendation: int
    agency: str = Field(description="the agency addressed, which must answer")
    text: str
    raised_by: str
    raised_at: str
    state: ChallengeState
    outcome: str | None
    escalated_to: str | None
    age_days: int | None = Field(
        description="days since raised, as of the day asked; null once closed"
    )
    answers: list[AnswerOut]
    steps: list[StepOut]
    leaf: int | None = Field(description="the log position of its raising")
    unresolved: bool


class AgencyCountOut(BaseModel):
    unresolved: int
    oldest_days: int | None
    total: int


class ChallengesOut(BaseModel):
    as_of: str
    by_agency: dict[str, AgencyCountOut]
    challenges: list[ChallengeOut]


def as_of_day(text: str | None) -> date:
    if not text:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise EntryFormatError(f"as_of must be a date YYYY-MM-DD: {text[:40]!r}") from None


@router.get("/v1/challenges", response_model=ChallengesOut, responses=errors_doc(401, 403, 422))
def list_challenges(
    svc: ServicesDep,
    who: CallerDep,
    agency: Annotated[str | None, Query(max_length=64)] = None,
    state: ChallengeState | None = None,
    open: bool = False,
    as_of: Annotated[str | None, Query(max_length=10)] = None,
) -> dict[str, Any]:
    """The challenges raised by `as_of` (default today, UTC) as they then stood, filtered
    by the agency addressed, the state, or (`open`) every one not closed; an officer or
    agency lead reads only their own agency's (asking for another's is refused)."""
    day = as_of_day(as_of)
    scope = agency_scope(who)
    if scope is not None and agency not in (None, scope):
        raise AccessDenied(f"{who.describe()} reads only {scope}'s challenges")
    views = challenges(
        svc.ledger.entries(0),
        as_of=day,
        agency=scope or agency,
        state=state,
        unresolved_only=open,
    )
    return {
        "as_of": day.isoformat(),
        "by_agency": by_agency(views),
        "challenges": [v.to_json() for v in views],
    }


@router.get(
    "/v1/challenges/{challenge_id}",
    response_model=ChallengeOut,
    responses=errors_doc(401, 403, 404, 422),
)
def one_challenge(
    svc: ServicesDep,
    who: CallerDep,
    challenge_id: Annotated[str, Path(max_length=12)],
    as_of: Annotated[str | None, Query(max_length=10)] = None,
) -> dict[str, Any]:
    """One challenge's thread: the question, each answer, the challenger's judgements."""
    day = as_of_day(as_of)
    found = [
        v for v in challenges(svc.ledger.entries(0), as_of=day) if v.challenge_id == challenge_id
    ]
    if not found:
        raise NotFound(f"no challenge {challenge_id}")
    scope = agency_scope(who)
    if scope is not None and found[0].agency != scope:
        raise AccessDenied(f"{who.describe()} reads only {scope}'s challenges")
    return found[0].to_json()
