"""The challenges pages: `/challenges` lists them (filters: agency, state, only those not
closed, as of a day), with the unresolved ones counted per agency with their age;
`/challenges/{id}` is one thread. Read like the actions: an officer or agency lead sees
only the challenges addressed to their own agency. Plain HTML, no JavaScript.

Raising one is offered only to those who may raise (domain/challenge.py `RAISERS`:
scrutiny, the implementation group, the chair, lived-experience consultees), never to an
agency's own people;
answering only to the addressed agency's, while it is unresolved; closing and escalating
only to the challenger. Each is a form signed in the browser with the user's own key
(prepared by ``POST /web/prepare/challenge``, api/application/prepare_holding.py, which
offers a form exactly when the domain's rule accepts it), with the command to sign it on
one's own machine beside it; where the charter requires that of the user's role, only
the command. The forms need JavaScript; reading does not.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.application import prepare_holding
from api.application.access import agency_scope
from api.http.deps import ServicesDep
from api.http.pages.common import PageError, render, signing_context, viewer_of
from domain.challenge import ANSWERERS, RAISERS, STATES, subject_kind
from domain.ids import challenge_aggregate_id
from projections.challenges import by_agency, challenges

router = APIRouter(include_in_schema=False)


def _day(text: str) -> date:
    if not text:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise PageError(400, f"The date is not a date (YYYY-MM-DD): {text[:40]!r}") from None


@router.get("/challenges")
def challenge_list(
    request: Request,
    svc: ServicesDep,
    agency: str = "",
    state: str = "",
    open: str = "",
    as_of: str = "",
    subject: str = "",
    recorded: int | None = None,
) -> Response:
    viewer = viewer_of(request)
    suggested = subject.strip().upper()[:16]
    suggested = suggested if subject_kind(suggested) else ""
    if state and state not in STATES:
        raise PageError(400, f"The state is one of {', '.join(STATES)}, not {state[:20]!r}.")
    day = _day(as_of)
    scope = agency_scope(viewer.actor)
    if scope is not None and agency and agency != scope:
        raise PageError(403, f"You read only {scope}'s challenges.")
    views = challenges(
        svc.ledger.entries(0),
        as_of=day,
        agency=scope or agency or None,
        state=state or None,
        unresolved_only=bool(open),
    )
    plan = svc.ledger.plan()
    agencies = plan.agencies if plan else {}
    return render(
        request,
        "challenges.html",
        viewer,
        views=views,
        counts=by_agency(views),
        agencies=agencies,
        choosable=[scope] if scope else sorted(agencies),
        states=STATES,
        chosen={"agency": agency, "state": state, "open": bool(open), "as_of": as_of},
        day=day.isoformat(),
        may_raise=viewer.actor.role in RAISERS,
        offers=prepare_holding.offered(
            svc.ledger, viewer.actor, prepare_holding.CHALLENGE, suggested
        ),
        suggested=suggested,
        recorded=recorded,
        aggregate="",
        **signing_context(svc.ledger, viewer),
    )


@router.get("/challenges/{challenge_id}")
def challenge_thread(
    request: Request, svc: ServicesDep, challenge_id: str, recorded: int | None = None
) -> Response:
    viewer = viewer_of(request)
    day = datetime.now(UTC).date()
    found = [
        v for v in challenges(svc.ledger.entries(0), as_of=day) if v.challenge_id == challenge_id
    ]
    if not found:
        raise PageError(404, f"There is no challenge {challenge_id[:20]}.")
    thread = found[0]
    scope = agency_scope(viewer.actor)
    if scope is not None and thread.agency != scope:
        raise PageError(403, f"You read only {scope}'s challenges.")
    actor = viewer.actor
    plan = svc.ledger.plan()
    return render(
        request,
        "challenge.html",
        viewer,
        c=thread,
        agencies=plan.agencies if plan else {},
        may_answer=thread.unresolved and actor.role in ANSWERERS and actor.agency == thread.agency,
        may_judge=thread.unresolved and actor.user_id == thread.raised_by,
        offers=prepare_holding.offered(
            svc.ledger, actor, prepare_holding.CHALLENGE, thread.challenge_id
        ),
        aggregate=str(challenge_aggregate_id(thread.challenge_id)),
        recorded=recorded,
        **signing_context(svc.ledger, viewer),
    )
