"""The read-only pages: the dashboard now and as of a date, what changed between two
dates, a recommendation, an action with its signed history, and the signing keys page.
Plain HTML: they work without JavaScript."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.application.access import scoped_decisions
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
from ledger.entry import from_domain_event
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
def as_of(request: Request, svc: ServicesDep, date: str = "", time: str = "") -> Response:
    """A date means the end of that day (UTC); a time, if given, that moment."""
    viewer = viewer_of(request)
    ledger = svc.ledger
    view = None
    if date:
        moment = page_date(date, "The date", time)
        plan = ledger.plan()
        view = dashboard(plan_status(ledger, moment), plan.recommendations_expected if plan else 0)
    return render(request, "asof.html", viewer, view=view, as_of=date, time=time)


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
def recommendation(request: Request, svc: ServicesDep, number: int) -> Response:
    viewer = viewer_of(request)
    ledger = svc.ledger
    view = dashboard(plan_status(ledger, None))
    found = [r for r in view.recommendations if r.number == number]
    if not found:
        raise PageError(404, f"There is no recommendation {number} in the plan.")
    plan = ledger.plan()
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
