"""The sessions pages: `/sessions` lists the holding-to-account sessions (body, date,
draft or approved, how many of their actions arising are open) and every action arising;
`/sessions/{id}` is one session's minutes inside the site's layout, with links to the
document a clerk circulates (`/v1/sessions/{id}/minutes?format=html|pdf`) and its
actions arising. Plain HTML, no JavaScript.

Read as `/v1/sessions` is (api/http/routes/sessions.py): only by those who hold the
agencies to account (chair, scrutiny, the implementation group, administrators) and the
lived-experience consultees, since
the minutes hold every agency's answers; an officer or agency lead is refused with a page
saying why.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.application import prepare_holding
from api.http.deps import ServicesDep
from api.http.pages.common import PageError, Viewer, render, signing_context, viewer_of
from domain.session import session_aggregate_id
from projections.minutes import UnknownSession, build_minutes, list_arisings, list_sessions
from projections.minutes_render import approval_matches, minutes_sha256

router = APIRouter(include_in_schema=False)

REFUSAL = (
    "Sessions and their minutes are read by the chair, scrutiny, the implementation group, "
    "lived-experience consultees and administrators: the minutes hold every agency's "
    "answers, and you read only your own agency's."
)


def _reader(request: Request) -> Viewer:
    viewer = viewer_of(request)
    if not viewer.session_reader:
        raise PageError(403, REFUSAL)
    return viewer


def _overdue(due: str, state: str, today: str) -> bool:
    return state == "open" and due < today


def _owners(svc: ServicesDep) -> dict[str, str]:
    """How each owner is shown: "agency police" as the agency's name, "user x" as x."""
    plan = svc.ledger.plan()
    return {f"agency {a}": name for a, name in (plan.agencies if plan else {}).items()}


@router.get("/sessions")
def session_list(request: Request, svc: ServicesDep) -> Response:
    viewer = _reader(request)
    day = svc.ledger.clock().date().isoformat()
    arisings = list_arisings(svc.ledger.entries(0))
    arisings.sort(key=lambda a: (a.state != "open", a.due_date, a.leaf_index))
    return render(
        request,
        "sessions.html",
        viewer,
        sessions=list_sessions(svc.ledger.entries(0)),
        arisings=arisings,
        day=day,
        overdue=_overdue,
        owners=_owners(svc),
    )


@router.get("/sessions/{session_id}")
def session_page(
    request: Request, svc: ServicesDep, session_id: str, recorded: int | None = None
) -> Response:
    viewer = _reader(request)
    try:
        minutes = build_minutes(svc.ledger.entries(0), session_id[:64])
    except UnknownSession:
        raise PageError(404, f"There is no session {session_id[:40]!r}.") from None
    # The actions arising as they stand now (the minutes show them as at the approval).
    now = {a.arising_id: a for a in list_arisings(svc.ledger.entries(0))}
    return render(
        request,
        "session.html",
        viewer,
        m=minutes,
        arisings=[now.get(a.arising_id, a) for a in minutes.arisings],
        matches=approval_matches(minutes),
        day=svc.ledger.clock().date().isoformat(),
        overdue=_overdue,
        owners=_owners(svc),
        # Its signing forms (api/application/prepare_holding.py): what the chair's
        # approval would sign, as `session approve` signs it, and the actions arising.
        offers=prepare_holding.offered(
            svc.ledger, viewer.actor, prepare_holding.SESSION, minutes.session_id, minutes_sha256
        ),
        minutes_sha=None if minutes.approval else minutes_sha256(minutes),
        aggregate=str(session_aggregate_id(minutes.session_id)),
        recorded=recorded,
        **signing_context(svc.ledger, viewer),
    )
