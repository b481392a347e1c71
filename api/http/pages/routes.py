"""The web interface: server-rendered pages on the same FastAPI app, at ``/``.

Read-only pages are plain HTML and work without JavaScript. Writing is signing, and
signing happens in the browser: the page asks ``POST /web/prepare`` for the exact body
of the intended event, shows it, checks it against the form, canonicalises and signs
it with the user's non-extractable WebCrypto Ed25519 key, and posts it to the API's
own ``POST /v1/entries`` (the session cookie stands in for the bearer token there, with
the CSRF header). The server never holds a user's private key and cannot sign for them.

Every page carries a strict Content-Security-Policy (api/web_render.py: scripts only from
``/static``, nothing inline), so injected markup cannot run script even if escaping
were ever missed; templates autoescape.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.application.commands import CommandError
from api.application.prepare import COMMANDS, offered, prepare
from api.application.tokens import TokenError
from api.http import errors
from api.http.pages.render import html_page
from api.http.pages.views import dashboard, timeline_row, verification_checks
from api.http.session import (
    COOKIE,
    CSRF_HEADER,
    PRE_COOKIE,
    CsrfError,
    Session,
    current_session,
    require_csrf,
    same,
    sessions_of,
)
from domain import Action, Actor, Role, action_aggregate_id
from domain.roles import AGENCY_ROLES
from ledger.config import LedgerConfig
from ledger.entry import from_domain_event
from ledger.note import VerifierKey
from ledger.service import Ledger
from projections.asof import parse_as_of, status_as_of
from projections.diff import diff_as_of
from projections.status import PlanStatus

if TYPE_CHECKING:
    from api.http.app import Services

HERE = Path(__file__).resolve().parent
TIME = re.compile(r"\d{2}:\d{2}(:\d{2})?", re.ASCII)
AUDITORS = frozenset({Role.CHAIR, Role.SCRUTINY, Role.IMPLEMENTATION_GROUP, Role.ADMIN})


class PageError(Exception):
    """A page that cannot be shown, with the HTTP status and a sentence for the reader."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SignInNeeded(Exception):
    pass


@dataclass(frozen=True)
class Viewer:
    """The signed-in user as pages need them."""

    actor: Actor
    name: str
    session: Session

    @property
    def auditor(self) -> bool:
        return self.actor.role in AUDITORS


def _services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def _viewer(request: Request) -> Viewer:
    ledger = _services(request).ledger
    try:
        session = current_session(request, ledger)
    except TokenError:
        raise SignInNeeded from None
    user = ledger.require_directory().users.get(session.user_id)
    if user is None:
        raise SignInNeeded
    return Viewer(user.actor(), user.name, session)


def render(
    request: Request,
    template: str,
    viewer: Viewer | None,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    return html_page(
        template,
        status,
        viewer=viewer,
        csrf=viewer.session.csrf if viewer else "",
        path=request.url.path,
        today=datetime.now(UTC).date().isoformat(),
        **context,
    )


def _plan_status(ledger: Ledger, until: datetime | None) -> PlanStatus:
    """The plan's status now or as of a moment: the indexed as-of projection that
    `status --as-of` and /v1/status answer from, so the three always agree."""
    return status_as_of(ledger, as_of=until)


def _date(text: str, name: str, clock: str = "") -> datetime:
    """A date (the end of that day, UTC) or, with a time of day, that moment (UTC)."""
    if clock and not TIME.fullmatch(clock):
        raise PageError(400, f"{name} time is not HH:MM or HH:MM:SS: {clock[:20]!r}")
    try:
        return parse_as_of(f"{text.strip()}T{clock}" if clock else text.strip())
    except ValueError:
        raise PageError(400, f"{name} is not a date (YYYY-MM-DD): {text[:40]!r}") from None


def _readable_action(ledger: Ledger, viewer: Viewer, action_id: str) -> Action:
    action = ledger.action(action_id) if len(action_id) <= 16 else None
    if action is None:
        raise PageError(404, f"There is no action {action_id} in the plan.")
    who = viewer.actor
    if who.role in AGENCY_ROLES and who.agency != action.lead_agency:
        raise PageError(403, f"As {who.role.value} of {who.agency} you read only its actions.")
    return action


def build_router(config: LedgerConfig) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    # -- signing in and out ------------------------------------------------------------

    @router.get("/signin")
    def signin_page(request: Request) -> Response:
        nonce = secrets.token_urlsafe(24)
        response = render(request, "signin.html", None, nonce=nonce, error=None)
        _set_cookie(request, response, PRE_COOKIE, nonce, max_age=1800)
        return response

    @router.post("/signin")
    def signin(
        request: Request, token: str = Form(default="", max_length=300), csrf: str = Form("")
    ) -> Response:
        svc = _services(request)
        expected = request.cookies.get(PRE_COOKIE, "")
        nonce = secrets.token_urlsafe(24)
        if not expected or not csrf or not same(csrf, expected):
            error = "The sign-in form expired or came from another site; please try again."
            response = render(request, "signin.html", None, status=403, nonce=nonce, error=error)
            _set_cookie(request, response, PRE_COOKIE, nonce, max_age=1800)
            return response
        try:
            session_id, session = sessions_of(request, svc.ledger).start(
                svc.tokens, token.strip(), svc.ledger.clock()
            )
        except TokenError:
            response = render(
                request,
                "signin.html",
                None,
                status=401,
                nonce=nonce,
                error="That token was not accepted (unknown, expired or revoked).",
            )
            _set_cookie(request, response, PRE_COOKIE, nonce, max_age=1800)
            return response
        redirect = RedirectResponse("/", status_code=303)
        lifetime = int((session.expires_at - svc.ledger.clock()).total_seconds())
        _set_cookie(request, redirect, COOKIE, session_id, max_age=max(lifetime, 1))
        redirect.delete_cookie(PRE_COOKIE, path="/")
        return redirect

    @router.post("/signout")
    def signout(request: Request, csrf: str = Form("")) -> Response:
        viewer = _viewer(request)
        _form_csrf(request, viewer, csrf)
        sessions_of(request, _services(request).ledger).end(request.cookies[COOKIE])
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # -- reading ---------------------------------------------------------------------------

    @router.get("/")
    def home(request: Request) -> Response:
        viewer = _viewer(request)
        ledger = _services(request).ledger
        plan = ledger.plan()
        view = dashboard(_plan_status(ledger, None), plan.recommendations_expected if plan else 0)
        return render(request, "dashboard.html", viewer, view=view, as_of=None)

    @router.get("/as-of")
    def as_of(request: Request, date: str = "", time: str = "") -> Response:
        """A date means the end of that day (UTC); a time, if given, that moment."""
        viewer = _viewer(request)
        ledger = _services(request).ledger
        view = None
        if date:
            moment = _date(date, "The date", time)
            plan = ledger.plan()
            view = dashboard(
                _plan_status(ledger, moment), plan.recommendations_expected if plan else 0
            )
        return render(request, "asof.html", viewer, view=view, as_of=date, time=time)

    @router.get("/diff")
    def diff(
        request: Request, start: str = "", end: str = "", start_time: str = "", end_time: str = ""
    ) -> Response:
        viewer = _viewer(request)
        result = None
        if start or end:
            first, last = _date(start, "'From'", start_time), _date(end, "'To'", end_time)
            if last <= first:
                raise PageError(400, "'To' must be after 'From'.")
            result = diff_as_of(_services(request).ledger, first, last)
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
    def recommendation(request: Request, number: int) -> Response:
        viewer = _viewer(request)
        ledger = _services(request).ledger
        view = dashboard(_plan_status(ledger, None))
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
    def action(request: Request, action_id: str, recorded: int | None = None) -> Response:
        viewer = _viewer(request)
        ledger = _services(request).ledger
        current = _readable_action(ledger, viewer, action_id)
        plan = ledger.plan()
        history = [
            timeline_row(from_domain_event(e).to_json())
            for e in ledger.aggregate_events(action_aggregate_id(action_id))
        ]
        signed_with = {
            h["details"].get("level"): h["key_id"] for h in history if h["type"] == "signed_off"
        }
        return render(
            request,
            "action.html",
            viewer,
            action=current,
            history=history,
            signed_with=signed_with,
            commands=offered(ledger, viewer.actor, action_id),
            agencies=plan.agencies if plan else {},
            recorded=recorded,
        )

    @router.get("/keys")
    def keys(request: Request) -> Response:
        try:
            viewer: Viewer | None = _viewer(request)
        except SignInNeeded:
            viewer = None
        registered: list[str] = []
        if viewer is not None:
            user = _services(request).ledger.require_directory().users[viewer.actor.user_id]
            registered = [k.key_id for k in user.active_keys()]
        return render(request, "keys.html", viewer, registered=registered)

    # -- the chair's verification ------------------------------------------------------------

    @router.get("/verify")
    def verify_page(request: Request) -> Response:
        viewer = _require_auditor(request)
        return render(request, "verify.html", viewer, report=None, checks=None)

    @router.post("/verify")
    def verify_run(request: Request, csrf: str = Form("")) -> Response:
        from ledger.verify import verify_ledger

        viewer = _require_auditor(request)
        _form_csrf(request, viewer, csrf)
        try:
            vkey = VerifierKey.parse(config.log_vkey_path.read_text())
        except OSError:
            raise PageError(503, "The server has no log verifier key to check against.") from None
        # One process: forking worker processes from a threaded server is not safe.
        report = verify_ledger(_services(request).ledger, vkey, workers=1)
        return render(
            request,
            "verify.html",
            viewer,
            report=report,
            checks=verification_checks(report),
            ran_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            vkey=vkey.encode(),
        )

    # -- preparing a body for the browser to sign ----------------------------------------------

    @router.post("/web/prepare")
    async def prepare_entry(request: Request) -> Response:
        svc = _services(request)
        try:
            viewer = _viewer(request)
        except SignInNeeded:
            return errors.error(401, "unauthenticated", "sign in first")
        require_csrf(request, viewer.session, request.headers.get(CSRF_HEADER))
        try:
            data = await request.json()
        except ValueError:
            return errors.error(422, "invalid_request", "send a JSON object")
        if not isinstance(data, dict) or not all(
            isinstance(data.get(k), str) for k in ("action_id", "command", "key_id")
        ):
            return errors.error(
                422, "invalid_request", "send action_id, command, key_id and inputs"
            )
        inputs = data.get("inputs") or {}
        if not isinstance(inputs, dict):
            return errors.error(422, "invalid_request", "inputs must be an object")
        try:
            _readable_action(svc.ledger, viewer, data["action_id"])
            body = prepare(
                svc.ledger, viewer.actor, data["key_id"], data["action_id"], data["command"], inputs
            )
        except PageError as error:
            return errors.error(error.status, "not_readable", error.message)
        except CommandError as error:
            return errors.error(404, "not_found", str(error))
        command = COMMANDS[data["command"]]
        return JSONResponse({"body": body.to_json(), "label": command.label})

    def _require_auditor(request: Request) -> Viewer:
        viewer = _viewer(request)
        if not viewer.auditor:
            raise PageError(
                403,
                "The verification page is for the chair, scrutiny, the implementation group "
                "and administrators.",
            )
        return viewer

    return router


def _form_csrf(request: Request, viewer: Viewer, submitted: str) -> None:
    try:
        require_csrf(request, viewer.session, submitted)
    except CsrfError:
        raise PageError(
            403, "The form expired or came from another site; please try again."
        ) from None


def _set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def install_web(app: FastAPI, config: LedgerConfig) -> None:
    """Mount the pages, their static files and their error handling on the API's app."""
    app.include_router(build_router(config))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    async def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        viewer = None
        try:
            viewer = _viewer(request)
        except (SignInNeeded, TokenError):
            viewer = None
        return render(request, "error.html", viewer, status=exc.status, message=exc.message)

    async def sign_in_needed(request: Request, exc: Exception) -> Response:
        return RedirectResponse("/signin", status_code=303)

    app.add_exception_handler(PageError, page_error)
    app.add_exception_handler(SignInNeeded, sign_in_needed)
