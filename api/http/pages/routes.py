"""The web interface: server-rendered pages on the same FastAPI app, at ``/``.

Read-only pages are plain HTML and work without JavaScript. Writing is signing, and
signing happens in the browser: the page asks ``POST /web/prepare`` for the exact body
of the intended event, shows it, checks it against the form, canonicalises and signs
it with the user's non-extractable WebCrypto Ed25519 key, and posts it to the API's
own ``POST /v1/entries`` (the session cookie stands in for the bearer token there, with
the CSRF header). The server never holds a user's private key and cannot sign for them.
Or, with or without JavaScript, the user signs on their own machine: the form posts to
``POST /web/off-page``, the page offers the exact body for download, the user signs it
with ``inquiry-ledger sign`` and pastes the signature back (api/http/pages/offpage.py);
the charter can require that of some roles, who are then offered nothing else.

Every page carries a strict Content-Security-Policy (api/http/pages/render.py: scripts
only from ``/static``, nothing inline), so injected markup cannot run script even if
escaping were ever missed; templates autoescape.

The pages are independent of the JSON routes (api/http/routes/): both use only the
shared dependencies (api/http/deps.py), the session, the errors and the application
layer.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.application.tokens import TokenError
from api.http.pages import challenges, offpage, reading, sessions, signin, signing, verify
from api.http.pages.common import PageError, SignInNeeded, render, viewer_of

HERE = Path(__file__).resolve().parent

#: The pages' routers (none of them is in /openapi.json).
ROUTERS: tuple[APIRouter, ...] = (
    signin.router,
    reading.router,
    challenges.router,
    sessions.router,
    verify.router,
    signing.router,
    offpage.router,
)


def install_web(app: FastAPI) -> None:
    """Mount the pages, their static files and their error handling on the API's app."""
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    async def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        viewer = None
        try:
            viewer = viewer_of(request)
        except (SignInNeeded, TokenError):
            viewer = None
        return render(request, "error.html", viewer, status=exc.status, message=exc.message)

    async def sign_in_needed(request: Request, exc: Exception) -> Response:
        return RedirectResponse("/signin", status_code=303)

    app.add_exception_handler(PageError, page_error)
    app.add_exception_handler(SignInNeeded, sign_in_needed)
