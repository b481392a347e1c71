"""Every refusal as JSON ``{"error": code, "detail": ...}`` with the right status code.

A full disk (or quota) is 507 ``insufficient_storage`` (RFC 4918: the server cannot store
what the request needs), not 503: 503's Retry-After invites a retry in seconds, and only
an operator freeing space mends a full disk. Here for the evidence folder (an OSError);
the database's errors reach api/http/unavailable.py first, which answers a full database
with `insufficient_storage` too. What was cut short leaves nothing behind (an upload's
temporary is removed, an append's transaction rolled back: tests/reliability/
test_full_disk.py).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.application.access import AccessDenied
from api.application.tokens import TokenError
from domain import InvalidInput, InvalidTransition, NotPermitted
from evidence_store.base import (
    CorruptBlob,
    ErasedBlob,
    EvidenceError,
    EvidenceTooLarge,
    MissingBlob,
    storage_full,
)
from ledger.auditor import merkle
from ledger.auditor.canonical import CanonicalFormError
from ledger.auditor.entry import EntryFormatError
from ledger.auditor.note import NoteError
from ledger.errors import (
    ClockSkew,
    InvalidEntry,
    LedgerError,
    MissingEvidence,
    NotInitialised,
    SignatureRejected,
    VersionConflict,
)

log = logging.getLogger("inquiry_ledger.api")


class Forbidden(AccessDenied):
    """A refusal by the HTTP layer itself (the application layer raises AccessDenied)."""


class NotFound(Exception):
    def __init__(self, detail: str, code: str = "not_found") -> None:
        super().__init__(detail)
        self.code = code


class Conflict(Exception):
    def __init__(self, detail: str, code: str = "conflict", **extra: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.extra = extra


#: The error code for each status Starlette itself answers with.
HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def error(status: int, code: str, detail: Any, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail, **extra}, status_code=status)


def insufficient_storage() -> JSONResponse:
    """507 for a full disk or quota (`evidence_store.base.storage_full`), wherever it is."""
    return error(
        507,
        "insufficient_storage",
        "the server's storage is full; retry once the operator has freed space",
    )


def _status_for(exc: Exception) -> tuple[int, str, dict[str, Any]]:
    if isinstance(exc, TokenError):
        return 401, "unauthenticated", {}
    if isinstance(exc, AccessDenied):  # Forbidden and CsrfError included
        return 403, exc.code, {}
    if isinstance(exc, NotFound):
        return 404, exc.code, {}
    if isinstance(exc, Conflict):
        return 409, exc.code, exc.extra
    if isinstance(exc, NotPermitted):
        return 403, "not_permitted", {"rule": exc.rule}
    if isinstance(exc, InvalidTransition):
        return 409, "invalid_transition", {"rule": exc.rule}
    if isinstance(exc, InvalidInput):
        return 422, "invalid_input", {"rule": exc.rule}
    if isinstance(exc, VersionConflict):
        return (
            409,
            exc.code,
            {"current_version": exc.current_version, "aggregate_id": str(exc.aggregate_id)},
        )
    if isinstance(exc, SignatureRejected):
        return 403, exc.code, {}
    if isinstance(
        exc, (InvalidEntry, ClockSkew, MissingEvidence, EntryFormatError, CanonicalFormError)
    ):
        code = getattr(exc, "code", "invalid_entry")
        return 422, code, {}
    if isinstance(exc, NotInitialised):
        return 503, exc.code, {}
    if isinstance(exc, LedgerError):
        return 400, exc.code, {}
    if isinstance(exc, EvidenceTooLarge):
        return 413, exc.code, {}
    if isinstance(exc, (MissingBlob, ErasedBlob)):
        return 404 if isinstance(exc, MissingBlob) else 410, exc.code, {}
    if isinstance(exc, CorruptBlob):
        return 502, exc.code, {}
    if isinstance(exc, EvidenceError):
        return 422, exc.code, {}
    if isinstance(exc, merkle.ProofError):
        return 400, "bad_proof_request", {}
    if isinstance(exc, NoteError):
        return 422, "bad_cosignature", {}
    raise exc


def install(app: FastAPI) -> None:
    handled = (
        NoteError,
        TokenError,
        AccessDenied,
        NotFound,
        Conflict,
        NotPermitted,
        InvalidTransition,
        InvalidInput,
        LedgerError,
        EvidenceError,
        merkle.ProofError,
        EntryFormatError,
        CanonicalFormError,
    )

    async def known(_: Request, exc: Exception) -> JSONResponse:
        status, code, extra = _status_for(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        response = error(status, code, str(exc), **extra)
        if headers:
            response.headers.update(headers)
        return response

    for cls in handled:
        app.add_exception_handler(cls, known)

    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        details = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        return error(422, "invalid_request", details)

    app.add_exception_handler(RequestValidationError, validation)

    async def routing(_: Request, exc: Exception) -> JSONResponse:
        # Starlette's own refusals (no such route, a method the route does not take) in
        # the documented shape, not FastAPI's {"detail": ...}.
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400:
            # The framework's only 400: a body it could not parse (broken multipart, a
            # form it cannot read). That is a malformed request, answered like a JSON
            # body that does not parse (422 invalid_request), which is the documented
            # status; 400 is documented only for our own inconsistent-parameter refusals.
            return error(422, "invalid_request", [{"loc": ["body"], "msg": str(exc.detail)}])
        code = HTTP_CODES.get(exc.status_code, "http_error")
        response = error(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    app.add_exception_handler(StarletteHTTPException, routing)

    async def storage(_: Request, exc: Exception) -> JSONResponse:
        if not storage_full(exc):
            raise exc  # any other OSError is unexpected: the catch-all below (500)
        log.error("storage full: %s", type(exc).__name__)
        return insufficient_storage()

    app.add_exception_handler(OSError, storage)

    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        # No stack trace to the client; the log names the type only, never a payload.
        log.error("unhandled %s", type(exc).__name__)
        return error(500, "internal_error", "the server could not complete the request")

    app.add_exception_handler(Exception, unexpected)
