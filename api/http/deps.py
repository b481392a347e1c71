"""What every HTTP route shares: the services, the caller, parameter parsing and the
documented error responses.

The services live on ``app.state`` (set up by the app's lifespan, api/http/app.py) and
reach the routes through FastAPI's dependency injection (`ServicesDep`, `ConfigDep`,
`CallerDep`), never through closures, so the route modules are plain module-level
routers that the composition root includes.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.application.checkpoints import ServerReceipts
from api.application.evidence import ConfiguredEvidence
from api.application.idempotency import CommandLog
from api.application.tokens import TokenError, TokenStore
from api.application.uploads import EvidenceUploads
from api.http import session as web_session
from domain import Actor
from ledger.auditor.entry import EntryFormatError
from ledger.config import LedgerConfig
from ledger.service import Ledger
from projections.asof import parse_as_of

MAX_INDEX = 2**53 - 1  # positions and sizes stay in the JSON-safe integer range
TIMELINE_LIMIT, TIMELINE_MAX = 1000, 10_000  # entries per timeline response: default, most


@dataclass
class Services:
    ledger: Ledger
    tokens: TokenStore
    commands: CommandLog
    evidence: ConfiguredEvidence
    #: Which agency uploaded which blob: who may name it (api/application/uploads.py).
    uploads: EvidenceUploads = field(init=False)
    #: The appends' receipts, one signature for those answered together (checkpoints.py).
    receipts: ServerReceipts = field(init=False)

    def __post_init__(self) -> None:
        self.uploads = EvidenceUploads(self.ledger.tables)
        self.receipts = ServerReceipts(self.ledger)


# -- dependencies --------------------------------------------------------------------------
# The dependencies that do no I/O are `async def` (over the plain functions, which pages and
# middleware call): FastAPI runs a `def` dependency in a worker thread, a thread hop per
# dependency per request for an attribute read.

#: Where `authenticate` leaves the caller in the request's scope, so the route's `caller`
#: dependency reuses what HeaderAuth (api/http/middleware.py) found from the same headers.
CALLER_STATE = "inquiry_ledger.caller"


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


async def _services(request: Request) -> Services:
    return services(request)


ServicesDep = Annotated[Services, Depends(_services)]


def config(request: Request) -> LedgerConfig:
    found: LedgerConfig = request.app.state.config
    return found


async def _config(request: Request) -> LedgerConfig:
    return config(request)


ConfigDep = Annotated[LedgerConfig, Depends(_config)]


def authenticate(request: Request, svc: Services, authorization: str | None) -> Actor:
    """The directory's view of whoever holds the bearer token (or the browser's session),
    left in the request's scope for `caller`. Blocking reads: call it from a worker thread."""
    if authorization is None and web_session.COOKIE in request.cookies:
        actor = web_session.session_actor(request, svc.ledger)  # the browser; CSRF-checked
    else:
        if not authorization or not authorization.startswith("Bearer "):
            raise TokenError("send Authorization: Bearer <token>")
        token = authorization.removeprefix("Bearer ").strip()
        user_id = svc.tokens.authenticate(token, now=svc.ledger.clock())
        user = svc.ledger.require_directory().users.get(user_id)
        if user is None:
            raise TokenError("the token's user is not registered")
        if not user.active:  # deactivation ends reading too, not only signing
            raise TokenError(f"{user_id} has been deactivated")
        request.scope.setdefault("state", {})["user_id"] = user_id
        actor = user.actor()
    request.scope.setdefault("state", {})[CALLER_STATE] = actor
    return actor


async def caller(
    request: Request, svc: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> Actor:
    """The caller, authenticated once per request: a state-changing API request was
    already authenticated from these same headers by HeaderAuth, before its body was
    read, and the scope is this request's own; any other request (reads, pages) is
    authenticated here, with the same checks and refusals."""
    found = request.scope.get("state", {}).get(CALLER_STATE)
    if isinstance(found, Actor):
        return found
    return await run_in_threadpool(authenticate, request, svc, authorization)


CallerDep = Annotated[Actor, Depends(caller)]


# -- parameters and encodings --------------------------------------------------------------


def moment(text: str) -> datetime:
    """An ``as_of``-style parameter: a date (the end of that day, UTC) or a date-time."""
    try:
        return parse_as_of(text)
    except ValueError:
        raise EntryFormatError(f"as_of is not a date or date-time: {text[:40]!r}") from None


def optional_moment(text: str | None) -> datetime | None:
    return moment(text) if text else None


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# -- documented responses ------------------------------------------------------------------


class ErrorOut(BaseModel):
    """Every error response: a stable code, a readable detail, and where it applies the
    rule that was broken or the aggregate's current version."""

    error: str
    detail: Any
    rule: str | None = None
    current_version: int | None = None
    aggregate_id: str | None = None


def error_doc(description: str) -> dict[str, Any]:
    return {"description": description, "model": ErrorOut}


def body_doc(
    description: str, *, text: tuple[str, ...] = (), binary: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A documented 200 response whose body is not JSON (a note, a file, a document),
    in these text and binary media types."""
    content: dict[str, Any] = {m: {"schema": {"type": "string"}} for m in text}
    content |= {m: {"schema": {"type": "string", "format": "binary"}} for m in binary}
    return {"description": description, "content": content}


#: A signed note is text; its errors are JSON like every other error.
NOTE: dict[str, Any] = body_doc("a C2SP signed note", text=("text/plain",))

ERRORS: dict[int | str, dict[str, Any]] = {
    400: error_doc("inconsistent parameters (e.g. a leaf index beyond the tree size)"),
    401: error_doc("missing, unknown, expired or revoked token"),
    403: error_doc("the caller's role or agency may not do this, or the signature is bad"),
    404: error_doc("not found"),
    409: error_doc("conflict with the current state (includes current_version)"),
    410: error_doc("erased"),
    413: error_doc("request too large"),
    422: error_doc("malformed request or entry"),
    500: error_doc("unexpected server error (no details are disclosed)"),
    502: error_doc("a stored blob failed verification"),
    503: error_doc("the ledger is not initialised or a dependency is down"),
    507: error_doc("the disk under the evidence folder or the database is full"),
}


def errors_doc(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error responses of a route, by status code."""
    return {code: ERRORS[code] for code in codes}
