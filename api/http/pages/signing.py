"""Preparing a body for the browser to sign: ``POST /web/prepare`` answers the exact
event body of the intended command; the browser shows it, signs it with the user's own
key and posts it to ``POST /v1/entries``.

A user whose role the charter requires to sign off the operator's page is refused here:
their page offers only signing on their own machine (api/http/pages/offpage.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.application.commands import CommandError
from api.application.offpage import must_sign_off_page
from api.application.prepare import COMMANDS, prepare
from api.http import errors
from api.http.deps import ServicesDep
from api.http.pages.common import PageError, SignInNeeded, readable_action, viewer_of
from api.http.session import CSRF_HEADER, require_csrf

router = APIRouter(include_in_schema=False)


@router.post("/web/prepare")
async def prepare_entry(request: Request, svc: ServicesDep) -> Response:
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
            "(inquiry-ledger sign), not in the browser",
        )
    try:
        data = await request.json()
    except ValueError:
        return errors.error(422, "invalid_request", "send a JSON object")
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str) for k in ("action_id", "command", "key_id")
    ):
        return errors.error(422, "invalid_request", "send action_id, command, key_id and inputs")
    inputs = data.get("inputs") or {}
    if not isinstance(inputs, dict):
        return errors.error(422, "invalid_request", "inputs must be an object")
    try:
        readable_action(svc.ledger, viewer, data["action_id"])
        body = prepare(
            svc.ledger, viewer.actor, data["key_id"], data["action_id"], data["command"], inputs
        )
    except PageError as error:
        return errors.error(error.status, "not_readable", error.message)
    except CommandError as error:
        return errors.error(404, "not_found", str(error))
    command = COMMANDS[data["command"]]
    return JSONResponse({"body": body.to_json(), "label": command.label})
