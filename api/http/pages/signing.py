"""Preparing a body for the browser to sign: ``POST /web/prepare`` answers the exact
event body of the intended command; the browser shows it, signs it with the user's own
key and posts it to ``POST /v1/entries``. ``POST /web/prepare/challenge`` and ``POST
/web/prepare/session`` do the same for the challenge and session pages' forms
(api/application/prepare_holding.py): raising, answering, closing and escalating a
challenge; approving a session's minutes, recording and closing its actions arising.

A user whose role the charter requires to sign off the operator's page is refused here:
their page offers only signing on their own machine (api/http/pages/offpage.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.application import prepare_holding
from api.application.access import SESSION_READERS, agency_scope, may_read_action
from api.application.commands import CommandError
from api.application.offpage import must_sign_off_page
from api.application.prepare import COMMANDS, prepare
from api.http import errors
from api.http.deps import Services, ServicesDep
from api.http.pages.common import (
    PageError,
    SignInNeeded,
    Viewer,
    readable_action,
    viewer_of,
)
from api.http.session import CSRF_HEADER, require_csrf
from domain.challenge import Challenge, subject_kind
from domain.ids import challenge_aggregate_id
from projections.minutes_render import minutes_sha256

router = APIRouter(include_in_schema=False)


@router.post("/web/prepare")
async def prepare_entry(request: Request, svc: ServicesDep) -> Response:
    asked = await _holding_request(request, svc, "action_id")
    if isinstance(asked, Response):
        return asked
    viewer, data = asked
    try:
        readable_action(svc.ledger, viewer, data["action_id"])
        body = prepare(
            svc.ledger,
            viewer.actor,
            data["key_id"],
            data["action_id"],
            data["command"],
            data["inputs"],
        )
    except PageError as error:
        return errors.error(error.status, "not_readable", error.message)
    except CommandError as error:
        return errors.error(404, "not_found", str(error))
    command = COMMANDS[data["command"]]
    return JSONResponse({"body": body.to_json(), "label": command.label})


async def _holding_request(
    request: Request, svc: Services, subject_name: str
) -> tuple[Viewer, dict[str, Any]] | Response:
    """The signed-in, CSRF-checked viewer and their JSON request (with `subject_name`:
    the action, challenge or session; command, key_id and inputs), or the refusal to
    answer. Every /web/prepare route asks it first."""
    try:
        viewer = viewer_of(request)
    except SignInNeeded:
        return errors.error(401, "unauthenticated", "sign in first")
    require_csrf(request, viewer.session, request.headers.get(CSRF_HEADER))
    if must_sign_off_page(svc.ledger.require_directory(), viewer.actor):
        return errors.error(
            403,
            "off_page_only",
            f"the charter requires the {viewer.actor.role.value} to sign on their own machine "
            "(inquiry-ledger sign, or the command line), not in the browser",
        )
    try:
        data = await request.json()
    except ValueError:
        return errors.error(422, "invalid_request", "send a JSON object")
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str) for k in (subject_name, "command", "key_id")
    ):
        return errors.error(
            422, "invalid_request", f"send {subject_name}, command, key_id and inputs"
        )
    if not isinstance(data.get("inputs") or {}, dict):
        return errors.error(422, "invalid_request", "inputs must be an object")
    data["inputs"] = data.get("inputs") or {}
    return viewer, data


def _prepared(body: Any, kind: str, command: str) -> Response:
    label = prepare_holding.COMMANDS[(kind, command)].label
    return JSONResponse({"body": body.to_json(), "label": label})


@router.post("/web/prepare/challenge")
async def prepare_challenge(request: Request, svc: ServicesDep) -> Response:
    """Raise (challenge_id ""), answer, close or escalate a challenge. Read as the
    challenges pages are: an agency's people only their own agency's challenges."""
    asked = await _holding_request(request, svc, "challenge_id")
    if isinstance(asked, Response):
        return asked
    viewer, data = asked
    challenge_id = data["challenge_id"][:64]
    scope = agency_scope(viewer.actor)
    if data["command"] == "raise":
        subject = data["inputs"].get("subject")
        if isinstance(subject, str) and subject_kind(subject.strip().upper()) == "action":
            action = svc.ledger.action(subject.strip().upper())
            if action is not None and not may_read_action(viewer.actor, action.lead_agency):
                return errors.error(403, "not_readable", f"you read only {scope}'s actions")
    else:
        state = svc.ledger.get(challenge_aggregate_id(challenge_id))
        if not isinstance(state, Challenge):
            return errors.error(404, "not_found", f"there is no challenge {challenge_id}")
        if scope is not None and state.agency != scope:
            return errors.error(403, "not_readable", f"you read only {scope}'s challenges")
    try:
        body = prepare_holding.prepare(
            svc.ledger,
            viewer.actor,
            data["key_id"],
            prepare_holding.CHALLENGE,
            challenge_id,
            data["command"],
            data["inputs"],
        )
    except CommandError as error:
        return errors.error(404, "not_found", str(error))
    return _prepared(body, prepare_holding.CHALLENGE, data["command"])


@router.post("/web/prepare/session")
async def prepare_session(request: Request, svc: ServicesDep) -> Response:
    """Approve a session's minutes, record or close one of its actions arising. Read as
    the sessions pages are: by those who hold the agencies to account."""
    asked = await _holding_request(request, svc, "session_id")
    if isinstance(asked, Response):
        return asked
    viewer, data = asked
    if viewer.actor.role not in SESSION_READERS:
        return errors.error(
            403, "not_readable", "sessions are read by those who hold the agencies to account"
        )
    try:
        body = prepare_holding.prepare(
            svc.ledger,
            viewer.actor,
            data["key_id"],
            prepare_holding.SESSION,
            data["session_id"][:64],
            data["command"],
            data["inputs"],
            minutes_sha256,
        )
    except CommandError as error:
        return errors.error(404, "not_found", str(error))
    return _prepared(body, prepare_holding.SESSION, data["command"])
