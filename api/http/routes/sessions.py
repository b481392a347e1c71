"""Holding-to-account sessions (domain/session.py) and their minutes, read by those who
hold the agencies to account (chair, scrutiny, the implementation group, administrators)
and by the lived-experience consultees (api/application/access.py `SESSION_READERS`):
the minutes hold every agency's answers in the session, so an
officer or agency lead, who reads only their own agency's, is refused them.

`GET /v1/sessions` lists the sessions (with whether their minutes are approved) and the
actions arising; `GET /v1/sessions/{session_id}/minutes` is the minutes as a clerk would
circulate them (HTML or PDF), rebuilt from the log, with the SHA-256 the chair signs (or
signed) in `X-Minutes-SHA256`. Recording a session, approving its minutes and recording
or closing an action arising are signed entries, appended through `POST /v1/entries`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.application.access import require_session_reader
from api.http.deps import CallerDep, ServicesDep, body_doc, errors_doc
from api.http.errors import NotFound
from api.http.security import REPORT_HEADERS
from projections.minutes import UnknownSession, build_minutes, list_arisings, list_sessions
from projections.minutes_render import minutes_sha256
from projections.minutes_render import render as render_minutes

router = APIRouter(tags=["read"])


class SessionOut(BaseModel):
    session_id: str
    body: str
    date: str
    started_at: str = Field(description="HH:MM UTC")
    ended_at: str = Field(description="HH:MM UTC")
    chair: str = Field(description="the chair's user id")
    recommendations: list[int] = Field(description="covered, in the order taken")
    held_leaf: int
    approved_leaf: int | None = Field(description="the chair's approval; null while a draft")
    open_arisings: int


class ArisingOut(BaseModel):
    arising_id: str
    session_id: str
    recommendation: int
    owner: str = Field(description='"agency ID" or "user ID"')
    owner_agency: str | None
    due_date: str
    done_means: str
    text: str
    leaf_index: int
    closed_leaf: int | None
    closed_at: str | None
    closed_reason: str | None
    evidence: str | None


class SessionsOut(BaseModel):
    sessions: list[SessionOut]
    arisings: list[ArisingOut]


@router.get("/v1/sessions", response_model=SessionsOut, responses=errors_doc(401, 403, 422))
def sessions(svc: ServicesDep, who: CallerDep, open: bool = False) -> dict[str, Any]:
    """Every session, by date, and every action arising (`open`: only the open ones)."""
    require_session_reader(who, "read the sessions")
    arisings = list_arisings(svc.ledger.entries(0))
    if open:
        arisings = [a for a in arisings if a.state == "open"]
    return {
        "sessions": [asdict(s) for s in list_sessions(svc.ledger.entries(0))],
        "arisings": [asdict(a) for a in arisings],
    }


@router.get(
    "/v1/sessions/{session_id}/minutes",
    response_class=Response,
    responses={
        200: body_doc("the minutes", text=("text/html",), binary=("application/pdf",)),
        **errors_doc(401, 403, 404, 422),
    },
)
def minutes(
    svc: ServicesDep,
    who: CallerDep,
    session_id: Annotated[str, Path(max_length=64)],
    format: Annotated[Literal["html", "pdf"], Query()] = "html",
) -> Response:
    """The session's minutes, built from the signed log (cut at the chair's approval once
    approved); `X-Minutes-SHA256` is the hash of the minutes without the approval line."""
    require_session_reader(who, "read the minutes of sessions")
    try:
        built = build_minutes(svc.ledger.entries(0), session_id)
    except UnknownSession:
        raise NotFound(f"no session {session_id}") from None
    content, media_type = render_minutes(built, format)
    headers = REPORT_HEADERS if format == "html" else {"X-Content-Type-Options": "nosniff"}
    return Response(
        content,
        media_type=media_type,
        headers={
            **headers,
            "X-Minutes-SHA256": minutes_sha256(built),
            "Content-Disposition": f'inline; filename="minutes-{session_id}.{format}"',
        },
    )
