"""Signing on one's own machine: the action page's forms post here (plain HTML forms,
no JavaScript needed), the page offers the prepared body's exact bytes for download,
shows the `inquiry-ledger sign` command and takes the pasted signature back.

``POST /web/off-page`` prepares the body of the intended command (the same
`api.application.prepare.prepare` the browser flow asks) and shows it;
``POST /web/off-page/body`` answers those exact bytes as a file; ``POST
/web/off-page/record`` appends the body with the pasted signature, through the same
ledger append as ``POST /v1/entries``: the signature must verify against those bytes and
the user's registered key. The pages carry the body as base64 so no form encoding can
change a byte; the server re-reads it strictly (it must be canonical, the signed-in
user's, and about this action) and trusts nothing else in the form.

Why: any script the operator serves can use a browser key while the page is open, so a
browser key protects the user from a stolen disk, not from the operator
(api/application/offpage.py). Evidence uploads are not offered here: a file is signed
for from the command line (`act attach` in client mode), which uploads it itself.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api.application.commands import CommandError
from api.application.offpage import BodyError, facts, file_name, fingerprint, read_body
from api.application.prepare import COMMANDS, prepare
from api.application.uploads import (
    naming_leads_in,
    require_attachable,
    require_true_media_types,
)
from api.http.deps import Services, ServicesDep, services
from api.http.pages.common import (
    PageError,
    Viewer,
    form_csrf,
    readable_action,
    render,
    viewer_of,
)
from domain import Action, DomainError, InvalidTransition, NotPermitted
from ledger.auditor.entry import EntryFormatError, EventBody, SignedEntry
from ledger.errors import ClockSkew, LedgerError, SignatureRejected, VersionConflict
from ledger.recorded import find_recorded
from ledger.service import Appended

router = APIRouter(include_in_schema=False)
#: Commands a user signs for elsewhere: a file is uploaded by the command line itself.
NOT_OFF_PAGE = frozenset({"attach"})
MAX_FIELD = 20_000


def _field(form: FormData, name: str) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise PageError(400, f"{name} must be text.")
    if len(value) > MAX_FIELD:
        raise PageError(413, f"{name} is too long.")
    return value


async def _form(request: Request, viewer: Viewer) -> FormData:
    form = await request.form()
    form_csrf(request, viewer, _field(form, "csrf"))
    return form


def _refusal(error: Exception) -> tuple[int, str]:
    """A refusal's status and sentence (the domain's message names its rule)."""
    if isinstance(error, NotPermitted | SignatureRejected):
        return 403, str(error)
    if isinstance(error, InvalidTransition | VersionConflict):
        return 409, str(error)
    return 422, str(error)


def _key_id(form: FormData, svc: Services, viewer: Viewer) -> str:
    """The key the user will sign with: the one chosen, or their only active key."""
    key_id = _field(form, "key_id").strip()
    if key_id:
        return key_id
    user = svc.ledger.require_directory().users.get(viewer.actor.user_id)
    keys = [k.key_id for k in user.active_keys()] if user else []
    if len(keys) != 1:
        raise PageError(422, "Choose the key you will sign with.")
    return keys[0]


def _show(
    request: Request,
    viewer: Viewer,
    action: Action,
    data: bytes,
    body: EventBody,
    *,
    label: str = "",
    status: int = 200,
    error: str = "",
    signature: str = "",
) -> Response:
    name = file_name(body, action.action_id)
    return render(
        request,
        "offpage.html",
        viewer,
        status=status,
        action=action,
        label=label or body.type,
        facts=facts(body, action.action_id),
        body_text=data.decode("utf-8"),
        body_b64=base64.b64encode(data).decode("ascii"),
        file_name=name,
        fingerprint=fingerprint(data),
        command=f"inquiry-ledger sign {name} --key YOUR-KEY-FILE",
        timestamp=body.to_json()["timestamp"],
        window_minutes=int(services(request).ledger.max_clock_skew.total_seconds() // 60),
        error=error,
        signature=signature,
    )


@router.post("/web/off-page")
async def prepare_off_page(request: Request, svc: ServicesDep) -> Response:
    """A signing form, sent as a plain form: prepare its body and show it for download."""
    viewer = viewer_of(request)
    form = await _form(request, viewer)
    action = readable_action(svc.ledger, viewer, _field(form, "action_id"))
    name = _field(form, "command")
    command = COMMANDS.get(name)
    if command is None or name in NOT_OFF_PAGE:
        raise PageError(422, f"There is no command {name[:40]!r} to sign on your own machine.")
    inputs: dict[str, Any] = {f.name: _field(form, f.name) for f in command.fields}
    try:
        body = prepare(
            svc.ledger, viewer.actor, _key_id(form, svc, viewer), action.action_id, name, inputs
        )
    except CommandError as error:
        raise PageError(404, str(error)) from None
    except (DomainError, LedgerError) as error:
        raise PageError(*_refusal(error)) from None
    return _show(request, viewer, action, body.signing_bytes(), body, label=command.label)


def _posted_body(form: FormData, viewer: Viewer, action: Action) -> tuple[bytes, EventBody]:
    """The body the form carries, re-read strictly: canonical, this user's, this action's."""
    try:
        data = base64.b64decode(_field(form, "body"), validate=True)
    except binascii.Error:
        raise PageError(422, "The statement in the form is damaged; prepare it again.") from None
    try:
        body = read_body(data)
    except BodyError as error:
        raise PageError(422, f"The statement in the form is not a prepared one: {error}.") from None
    if body.actor != viewer.actor.user_id:
        raise PageError(
            403, f"You may record only statements signed as yourself, not {body.actor}."
        )
    if body.aggregate_id != action.id:
        raise PageError(422, f"This statement is not about action {action.action_id}.")
    return data, body


@router.post("/web/off-page/body")
async def download_body(request: Request, svc: ServicesDep) -> Response:
    """The prepared body's exact bytes, as a file to sign."""
    viewer = viewer_of(request)
    form = await _form(request, viewer)
    action = readable_action(svc.ledger, viewer, _field(form, "action_id"))
    data, body = _posted_body(form, viewer, action)
    name = file_name(body, action.action_id)
    return Response(
        data,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


@router.post("/web/off-page/record")
async def record(request: Request, svc: ServicesDep) -> Response:
    """Append the prepared body with the signature made on the user's own machine."""
    viewer = viewer_of(request)
    form = await _form(request, viewer)
    action = readable_action(svc.ledger, viewer, _field(form, "action_id"))
    data, body = _posted_body(form, viewer, action)
    pasted = "".join(_field(form, "signature").split())

    def again(status: int, error: str) -> Response:
        return _show(
            request, viewer, action, data, body, status=status, error=error, signature=pasted
        )

    if not pasted:
        return again(422, "Paste the signature that inquiry-ledger sign printed.")
    try:
        entry = SignedEntry.from_json({**body.to_json(), "signature": pasted})
    except EntryFormatError as error:
        return again(
            422,
            f"That is not a signature ({error}): paste the one line inquiry-ledger sign printed.",
        )
    try:
        require_attachable(viewer.actor, [entry], svc.uploads, naming_leads_in(svc.ledger))
        require_true_media_types(svc.evidence.store, [entry])
        results: list[Appended] = svc.ledger.append([entry])
    except VersionConflict:
        recorded = find_recorded(svc.ledger, [entry])  # sent twice: it is already in
        if recorded is None:
            return again(
                409,
                "Someone recorded something on this action since this statement was "
                "prepared, so it cannot be recorded: go back to the action and prepare it again.",
            )
        results = recorded
    except SignatureRejected as error:
        return again(
            403,
            f"The signature does not verify against this statement and your registered key "
            f"{body.key_id} ({error}). Sign exactly the file this page offers, with that key.",
        )
    except ClockSkew as error:
        return again(
            422, f"Cannot record it now ({error}): go back to the action and prepare it again."
        )
    except (DomainError, LedgerError) as error:
        return again(*_refusal(error))
    leaf = results[0].leaf_index
    return RedirectResponse(f"/actions/{action.action_id}?recorded={leaf}", status_code=303)
