"""Signing in with an API token (a server-side session, api/http/session.py) and out."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.application.tokens import TokenError
from api.http.deps import ServicesDep
from api.http.pages.common import form_csrf, render, set_cookie, viewer_of
from api.http.session import COOKIE, PRE_COOKIE, same, sessions_of

router = APIRouter(include_in_schema=False)
SIGNIN_FORM_SECONDS = 1800


@router.get("/signin")
def signin_page(request: Request) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = render(request, "signin.html", None, nonce=nonce, error=None)
    set_cookie(request, response, PRE_COOKIE, nonce, max_age=SIGNIN_FORM_SECONDS)
    return response


@router.post("/signin")
def signin(
    request: Request,
    svc: ServicesDep,
    token: str = Form(default="", max_length=300),
    csrf: str = Form(""),
) -> Response:
    expected = request.cookies.get(PRE_COOKIE, "")
    nonce = secrets.token_urlsafe(24)
    if not expected or not csrf or not same(csrf, expected):
        error = "The sign-in form expired or came from another site; please try again."
        response = render(request, "signin.html", None, status=403, nonce=nonce, error=error)
        set_cookie(request, response, PRE_COOKIE, nonce, max_age=SIGNIN_FORM_SECONDS)
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
        set_cookie(request, response, PRE_COOKIE, nonce, max_age=SIGNIN_FORM_SECONDS)
        return response
    redirect = RedirectResponse("/", status_code=303)
    lifetime = int((session.expires_at - svc.ledger.clock()).total_seconds())
    set_cookie(request, redirect, COOKIE, session_id, max_age=max(lifetime, 1))
    redirect.delete_cookie(PRE_COOKIE, path="/")
    return redirect


@router.post("/signout")
def signout(request: Request, svc: ServicesDep, csrf: str = Form("")) -> Response:
    viewer = viewer_of(request)
    form_csrf(request, viewer, csrf)
    sessions_of(request, svc.ledger).end(request.cookies[COOKIE])
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
