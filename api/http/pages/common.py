"""What every page shares: the signed-in viewer, rendering, refusals, form CSRF,
cookies and date parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from api.application.access import SESSION_READERS, is_auditor, may_read_action
from api.application.offpage import must_sign_off_page
from api.application.tokens import TokenError
from api.http.deps import services
from api.http.pages.render import html_page
from api.http.session import CsrfError, Session, current_session, require_csrf
from domain import Action, Actor
from domain.wording import resolved
from ledger.service import Ledger
from projections.asof import RECORDED, parse_as_of, status_as_of
from projections.status import PlanStatus

TIME = re.compile(r"\d{2}:\d{2}(:\d{2})?", re.ASCII)


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
        return is_auditor(self.actor)

    @property
    def session_reader(self) -> bool:
        """Auditors and lived-experience consultees read the sessions and minutes."""
        return self.actor.role in SESSION_READERS


def viewer_of(request: Request) -> Viewer:
    """The signed-in viewer; SignInNeeded (a redirect to /signin) if there is none."""
    ledger = services(request).ledger
    try:
        session = current_session(request, ledger)
    except TokenError:
        raise SignInNeeded from None
    user = ledger.require_directory().users.get(session.user_id)
    if user is None or not user.active:
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
        **({"words": current_words(request)} | context),
    )


def current_words(request: Request) -> dict[str, str]:
    """The ledger's words as they stand (domain/wording.py): every page names the report,
    the levels and the bodies as this ledger has signed them, or generically."""
    plan = services(request).ledger.plan()
    return resolved(plan.wording if plan is not None else None)


def plan_status(ledger: Ledger, until: datetime | None, basis: str = RECORDED) -> PlanStatus:
    """The plan's status now or as of a moment: the indexed as-of projection that
    `status --as-of` and /v1/status answer from, so the three always agree (`basis`:
    what the record said then, or what had happened by then: projections/asof.py)."""
    return status_as_of(ledger, as_of=until, basis=basis)


def page_date(text: str, name: str, clock: str = "") -> datetime:
    """A date (the end of that day, UTC) or, with a time of day, that moment (UTC)."""
    if clock and not TIME.fullmatch(clock):
        raise PageError(400, f"{name} time is not HH:MM or HH:MM:SS: {clock[:20]!r}")
    try:
        return parse_as_of(f"{text.strip()}T{clock}" if clock else text.strip())
    except ValueError:
        raise PageError(400, f"{name} is not a date (YYYY-MM-DD): {text[:40]!r}") from None


def readable_action(ledger: Ledger, viewer: Viewer, action_id: str) -> Action:
    action = ledger.action(action_id) if len(action_id) <= 16 else None
    if action is None:
        raise PageError(404, f"There is no action {action_id} in the plan.")
    who = viewer.actor
    if not may_read_action(who, action.lead_agency):
        raise PageError(403, f"As {who.role.value} of {who.agency} you read only its actions.")
    return action


def signing_context(ledger: Ledger, viewer: Viewer) -> dict[str, Any]:
    """What a page with signing forms needs: may this user sign in the browser (the
    charter may require their role to sign on their own machine), for which log, and
    the keys registered to them."""
    directory = ledger.require_directory()
    user = directory.users[viewer.actor.user_id]
    return {
        "browser_signing": not must_sign_off_page(directory, viewer.actor),
        "log_origin": ledger.origin(),
        "my_keys": [k.key_id for k in user.active_keys()],
    }


def form_csrf(request: Request, viewer: Viewer, submitted: str) -> None:
    try:
        require_csrf(request, viewer.session, submitted)
    except CsrfError:
        raise PageError(
            403, "The form expired or came from another site; please try again."
        ) from None


def set_cookie(
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
