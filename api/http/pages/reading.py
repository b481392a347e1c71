"""The read-only pages: the dashboard now and as of a date, what changed between two
dates, a recommendation, an action with its signed history, and the signing keys page.
Plain HTML: they work without JavaScript."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.application.access import agency_scope, may_read_evidence, scoped_decisions
from api.application.offpage import must_sign_off_page
from api.application.prepare import offered
from api.http.deps import ServicesDep
from api.http.pages.common import (
    PageError,
    SignInNeeded,
    Viewer,
    page_date,
    plan_status,
    readable_action,
    render,
    viewer_of,
)
from api.http.pages.views import dashboard, timeline_row
from domain import action_aggregate_id
from domain.challenge import RAISERS
from ledger.entry import from_domain_event
from projections.asof import BASES, RECORDED
from projections.challenges import challenges
from projections.diff import diff_as_of

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request, svc: ServicesDep) -> Response:
    viewer = viewer_of(request)
    ledger = svc.ledger
    plan = ledger.plan()
    view = dashboard(plan_status(ledger, None), plan.recommendations_expected if plan else 0)
    return render(request, "dashboard.html", viewer, view=view, as_of=None)


@router.get("/as-of")
def as_of(
    request: Request, svc: ServicesDep, date: str = "", time: str = "", basis: str = RECORDED
) -> Response:
    """A date means the end of that day (UTC); a time, if given, that moment. `basis`:
    what the record said then (`recorded`), or what had happened by then as the
    record stands now (`occurred`, backfilled facts at their dates)."""
    viewer = viewer_of(request)
    if basis not in BASES:
        raise PageError(400, f"basis is recorded or occurred, not {basis[:20]!r}")
    ledger = svc.ledger
    view = None
    if date:
        moment = page_date(date, "The date", time)
        plan = ledger.plan()
        status = plan_status(ledger, moment, basis)
        view = dashboard(status, plan.recommendations_expected if plan else 0)
    return render(request, "asof.html", viewer, view=view, as_of=date, time=time, basis=basis)


@router.get("/diff")
def diff(
    request: Request,
    svc: ServicesDep,
    start: str = "",
    end: str = "",
    start_time: str = "",
    end_time: str = "",
) -> Response:
    viewer = viewer_of(request)
    result = None
    if start or end:
        first, last = page_date(start, "'From'", start_time), page_date(end, "'To'", end_time)
        if last <= first:
            raise PageError(400, "'To' must be after 'From'.")
        result = diff_as_of(svc.ledger, first, last)
        result.decisions = scoped_decisions(svc.ledger, viewer.actor, result.decisions)
    return render(
        request,
        "diff.html",
        viewer,
        diff=result,
        start=start,
        end=end,
        start_time=start_time,
        end_time=end_time,
    )


@router.get("/recommendations/{number}")
def recommendation(request: Request, svc: ServicesDep, number: str) -> Response:
    """A recommendation's page, by its number; a former number or the inquiry's
    reference ("113.6", "K10.1") leads to it (302: a reference can be corrected)."""
    viewer = viewer_of(request)
    ledger = svc.ledger
    plan = ledger.plan()
    typed = number[:40]
    found_number = plan.find(typed) if plan else None
    if found_number is not None and str(found_number) != typed:
        return RedirectResponse(f"/recommendations/{found_number}", status_code=302)
    if found_number is None:
        raise PageError(404, f"There is no recommendation {typed} in the plan.")
    return _recommendation_page(request, viewer, ledger, plan, found_number)


def _recommendation_page(
    request: Request, viewer: Any, ledger: Any, plan: Any, number: int
) -> Response:
    view = dashboard(plan_status(ledger, None))
    found = [r for r in view.recommendations if r.number == number]
    if not found:
        raise PageError(404, f"There is no recommendation {number} in the plan.")
    text = plan.recommendations[number].text if plan else ""
    actions = [(a, rag) for a, rag in view.actions if a.recommendation == number]
    return render(
        request,
        "recommendation.html",
        viewer,
        rec=found[0],
        text=text,
        actions=actions,
        agencies=view.status.agencies,
        may_raise=viewer.actor.role in RAISERS,  # linked to the form on /challenges
    )


@router.get("/actions/{action_id}")
def action(
    request: Request, svc: ServicesDep, action_id: str, recorded: int | None = None
) -> Response:
    viewer = viewer_of(request)
    ledger = svc.ledger
    current = readable_action(ledger, viewer, action_id)
    plan = ledger.plan()
    history = [
        timeline_row(from_domain_event(e).to_json())
        for e in ledger.aggregate_events(action_aggregate_id(action_id))
    ]
    signed_with = {
        h["details"].get("level"): h["key_id"] for h in history if h["type"] == "signed_off"
    }
    directory = ledger.require_directory()
    user = directory.users[viewer.actor.user_id]
    return render(
        request,
        "action.html",
        viewer,
        action=current,
        history=history,
        signed_with=signed_with,
        commands=offered(ledger, viewer.actor, action_id),
        agencies=plan.agencies if plan else {},
        response_labels=plan.response_labels if plan else {},
        recorded=recorded,
        browser_signing=not must_sign_off_page(directory, viewer.actor),
        log_origin=ledger.origin(),
        my_keys=[k.key_id for k in user.active_keys()],
        may_raise=viewer.actor.role in RAISERS,  # linked to the form on /challenges
        # Consultees read no evidence file: no download link that the API would refuse.
        reads_evidence=may_read_evidence(viewer.actor, [str(current.lead_agency)]),
        challenges=[  # readable: the challenge is addressed to an agency that led it
            c
            for c in challenges(ledger.entries(0), as_of=ledger.clock().date())
            if c.subject == action_id and (agency_scope(viewer.actor) in (None, c.agency))
        ],
    )


@router.get("/keys")
def keys(request: Request, svc: ServicesDep) -> Response:
    try:
        viewer: Viewer | None = viewer_of(request)
    except SignInNeeded:
        viewer = None
    registered: list[str] = []
    off_page = False
    if viewer is not None:
        directory = svc.ledger.require_directory()
        registered = [k.key_id for k in directory.users[viewer.actor.user_id].active_keys()]
        off_page = must_sign_off_page(directory, viewer.actor)
    return render(request, "keys.html", viewer, registered=registered, off_page=off_page)
