"""Browser sessions: sign in once with an API token, then an HttpOnly cookie.

Why a server-side session rather than the token in a cookie: signing out must end the
session for real (the row is deleted), and the token itself is never stored anywhere
on the server (the tokens table keeps only its hash, this table only the session id's
hash and the token's id). Each request re-checks the token row, so revoking or expiring
the token ends every browser session made from it. The store itself (and its table)
is the application layer's: api/application/sessions.py.

CSRF: the cookie is SameSite=Strict, and every state-changing request made with it must
also carry the session's CSRF token (a form field or the ``X-CSRF-Token`` header). The
CSRF token is derived from the raw session id, which only the browser holds, so it
needs no storage and cannot be computed from the database.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

# Session and same are re-exported: the pages import them from here.
from api.application.sessions import Session as Session
from api.application.sessions import WebSessions
from api.application.sessions import same as same
from api.application.tokens import TokenError
from api.http.errors import Forbidden
from domain import Actor
from ledger.service import Ledger

COOKIE = "il_session"
#: A short-lived cookie that binds the sign-in form to this browser (login CSRF).
PRE_COOKIE = "il_signin"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfError(Forbidden):
    """A state-changing request made with the session cookie but without its CSRF token."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, "csrf_failed")


def sessions_of(request: Request, ledger: Ledger) -> WebSessions:
    """The app's session store (its table is created on first use)."""
    state: Any = request.app.state
    found: WebSessions | None = getattr(state, "web_sessions", None)
    if found is None or found.tables is not ledger.tables:
        found = WebSessions(ledger.tables)
        state.web_sessions = found
    return found


def current_session(request: Request, ledger: Ledger) -> Session:
    """The session named by the cookie; TokenError if there is none."""
    session_id = request.cookies.get(COOKIE)
    if not session_id:
        raise TokenError("not signed in")
    return sessions_of(request, ledger).find(session_id, ledger.clock())


def require_csrf(request: Request, session: Session, submitted: str | None) -> None:
    if not submitted or not same(submitted, session.csrf):
        raise CsrfError("this request needs the session's CSRF token (X-CSRF-Token)")


def session_actor(request: Request, ledger: Ledger) -> Actor:
    """The API's caller for a browser request made with the session cookie instead of a
    bearer token. State-changing methods must carry the CSRF header."""
    session = current_session(request, ledger)
    if request.method not in SAFE_METHODS:
        require_csrf(request, session, request.headers.get(CSRF_HEADER))
    user = ledger.require_directory().users.get(session.user_id)
    if user is None:
        raise TokenError("the session's user is not registered")
    if not user.active:
        raise TokenError(f"{session.user_id} has been deactivated")
    request.scope.setdefault("state", {})["user_id"] = session.user_id
    return user.actor()
