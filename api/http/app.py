"""The HTTP service: one shared ledger for every agency.

Reads need a bearer token. Writes need more: each is an entry built and signed on the
client's side with the caller's own private key; the server checks that the token's
user is the signer, and the ledger checks the signature, the key and the rule. The server
never sees a private key and cannot forge an entry. The transparency-log endpoints
(checkpoints, proofs, leaf hashes) are public: they reveal hashes and sizes, never content.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from fastapi import Depends, FastAPI, File, Form, Header, Query, Request, UploadFile
from fastapi import Path as FastAPIPath
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from api.application.evidence import ConfiguredEvidence, named_evidence
from api.application.idempotency import CommandLog
from api.application.tokens import TokenError, TokenStore
from api.http import errors, unavailable
from api.http import session as web_session
from api.http.errors import Conflict, Forbidden, NotFound
from api.http.middleware import AccessLog, BodyLimit
from domain import Action, Actor, Role, action_aggregate_id
from domain.roles import AGENCY_ROLES
from evidence_store.base import check_sha256
from evidence_store.sniff import SNIFF_BYTES, sniff_media_type
from ledger.canonical import canonical_bytes
from ledger.config import LedgerConfig
from ledger.entry import EntryFormatError, EventBody, SignedEntry, from_domain_event
from ledger.errors import VersionConflict
from ledger.keys import KeyPair
from ledger.note import NoteSigner
from ledger.recorded import find_recorded
from ledger.service import Appended, Ledger
from ledger.witness import CosignerKey, note_body, open_cosignature
from projections.asof import parse_as_of, status_as_of
from projections.diff import diff_as_of
from projections.projector import projector_for
from projections.timeline import (
    UnknownSubject,
    action_timeline,
    current_lead_agencies,
    recommendation_timeline,
)

JSON_LIMIT = 1024 * 1024
AUDITORS = frozenset({Role.CHAIR, Role.SCRUTINY, Role.IMPLEMENTATION_GROUP, Role.ADMIN})
MAX_INDEX = 2**53 - 1  # positions and sizes stay in the JSON-safe integer range
TIMELINE_LIMIT, TIMELINE_MAX = 1000, 10_000  # entries per timeline response: default, most
log = logging.getLogger("inquiry_ledger.api")


@dataclass
class Services:
    ledger: Ledger
    tokens: TokenStore
    commands: CommandLog
    evidence: ConfiguredEvidence


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# -- request and response shapes ---------------------------------------------------------


class EntryIn(BaseModel):
    body: dict[str, Any] = Field(description="the event body exactly as signed (see README)")
    signature: str = Field(description="base64 Ed25519 signature over the canonical body")


class AppendIn(BaseModel):
    entries: list[EntryIn] = Field(min_length=1, max_length=500)
    command_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._:-]{8,128}$",
        description="client-chosen id: a retry with the same id is answered, not re-appended",
    )


class AppendedOut(BaseModel):
    leaf_index: int
    notification_id: int
    type: str
    aggregate_id: str
    version: int


class AppendOut(BaseModel):
    appended: list[AppendedOut]
    replayed: bool = False

    @classmethod
    def of(cls, results: Sequence[Appended], *, replayed: bool = False) -> AppendOut:
        return cls(
            appended=[
                AppendedOut(
                    leaf_index=r.leaf_index,
                    notification_id=r.notification_id,
                    type=r.type,
                    aggregate_id=str(r.aggregate_id),
                    version=r.version,
                )
                for r in results
            ],
            replayed=replayed,
        )


class MeOut(BaseModel):
    user_id: str
    name: str
    role: str
    agency: str | None
    active_keys: list[str]


class StoredOut(BaseModel):
    sha256: str
    size: int
    media_type: str
    storage_key: str
    encrypted: bool
    already_stored: bool


class CosignatureIn(BaseModel):
    witness_key: str = Field(
        max_length=500, description="the witness's vkey: NAME+KEYHASH+base64(0x04 || key)"
    )
    line: str = Field(max_length=500, description="the C2SP cosignature/v1 signature line")


class CosignatureOut(BaseModel):
    tree_size: int
    witness: str
    timestamp: int


class ErrorOut(BaseModel):
    """Every error response: a stable code, a readable detail, and where it applies the
    rule that was broken or the aggregate's current version."""

    error: str
    detail: Any
    rule: str | None = None
    current_version: int | None = None
    aggregate_id: str | None = None


def _err(description: str) -> dict[str, Any]:
    return {"description": description, "model": ErrorOut}


#: A signed note is text; its errors are JSON like every other error.
NOTE: dict[str, Any] = {
    "description": "a C2SP signed note",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}

ERRORS: dict[int | str, dict[str, Any]] = {
    400: _err("inconsistent parameters (e.g. a leaf index beyond the tree size)"),
    401: _err("missing, unknown, expired or revoked token"),
    403: _err("the caller's role or agency may not do this, or the signature is bad"),
    404: _err("not found"),
    409: _err("conflict with the current state (includes current_version)"),
    410: _err("erased"),
    413: _err("request too large"),
    422: _err("malformed request or entry"),
    500: _err("unexpected server error (no details are disclosed)"),
    502: _err("a stored blob failed verification"),
    503: _err("the ledger is not initialised or a dependency is down"),
}


# -- dependencies --------------------------------------------------------------------------


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


def caller(
    request: Request, svc: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> Actor:
    """The directory's view of whoever holds the bearer token."""
    if authorization is None and web_session.COOKIE in request.cookies:
        return web_session.session_actor(request, svc.ledger)  # the browser; CSRF-checked
    if not authorization or not authorization.startswith("Bearer "):
        raise TokenError("send Authorization: Bearer <token>")
    token = authorization.removeprefix("Bearer ").strip()
    user_id = svc.tokens.authenticate(token, now=svc.ledger.clock())
    user = svc.ledger.require_directory().users.get(user_id)
    if user is None:
        raise TokenError("the token's user is not registered")
    request.scope.setdefault("state", {})["user_id"] = user_id
    return user.actor()


CallerDep = Annotated[Actor, Depends(caller)]


# -- the app -------------------------------------------------------------------------------


def create_app(
    config: LedgerConfig, ledger: Ledger | None = None, *, json_limit: int = JSON_LIMIT
) -> FastAPI:
    evidence = (
        ledger.evidence
        if ledger is not None and isinstance(ledger.evidence, ConfiguredEvidence)
        else ConfiguredEvidence(config.home)
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        the_ledger = ledger or Ledger(config, evidence=evidence)
        app.state.services = Services(
            the_ledger, TokenStore(the_ledger.tables), CommandLog(the_ledger.tables), evidence
        )
        # Bring the as-of projection up to date now, not in the first status request.
        catching_up, stop_catching_up = projector_for(the_ledger).catch_up_in_background(the_ledger)
        try:
            yield
        finally:
            stop_catching_up.set()
            catching_up.join()
            if ledger is None:
                the_ledger.close()

    app = FastAPI(
        title="inquiry-ledger",
        description=__doc__,
        version="0.1.0",
        lifespan=lifespan,
        responses={code: ERRORS[code] for code in (422, 500, 503)},
    )
    errors.install(app)
    unavailable.install(app)
    from api.http import report_routes  # imported here: it uses this module's dependencies

    report_routes.install(app, config)
    from api.http.pages.routes import install_web  # the browser pages (api/http/pages/)

    install_web(app, config)

    def readable_action(svc: Services, who: Actor, action_id: str) -> Action:
        action = svc.ledger.action(action_id)
        if action is None:
            raise NotFound(f"no action {action_id}")
        if who.role in AGENCY_ROLES and who.agency != action.lead_agency:
            raise Forbidden(f"{who.describe()} reads only {who.agency}'s actions")
        return action

    # -- service and log (public) ------------------------------------------------------

    @app.get("/healthz", tags=["service"])
    def healthz(svc: ServicesDep) -> dict[str, Any]:
        """Liveness and readiness: the event store answers."""
        return {"status": "ok", "tree_size": svc.ledger.tree_size()}

    @app.get(
        "/v1/checkpoint",
        tags=["log"],
        response_class=Response,
        responses={200: NOTE, 404: ERRORS[404]},
    )
    def latest_checkpoint(svc: ServicesDep) -> Any:
        """The latest checkpoint, a C2SP signed note (text/plain)."""
        latest = svc.ledger.latest_checkpoint()
        if latest is None:
            return errors.error(404, "no_checkpoint", "the log has no signed checkpoint yet")
        return PlainTextResponse(latest.note)

    @app.get("/v1/log-key/rotations", tags=["log"])
    def log_key_rotations(svc: ServicesDep) -> list[str]:
        """Every log-key rotation statement, oldest first: signed notes by the old and the
        new key (ledger/logkeys.py). Verifiers still trust only the keys they pinned."""
        from ledger.logkeys import rotation_notes

        return rotation_notes(svc.ledger.tables)

    @app.get("/v1/checkpoints", tags=["log"])
    def checkpoints(svc: ServicesDep) -> list[dict[str, Any]]:
        """Every checkpoint the log has signed, oldest first, with its cosignatures."""
        cosignatures = svc.ledger.tables.cosignatures()
        return [
            {
                "tree_size": c.tree_size,
                "root_hash": _b64(c.root_hash),
                "note": c.note,
                "created_at": c.created_at,
                "cosignatures": [
                    {"witness_key": key, "line": line}
                    for size, key, line in cosignatures
                    if size == c.tree_size
                ],
            }
            for c in svc.ledger.tables.checkpoints()
        ]

    @app.get(
        "/v1/checkpoints/{tree_size}/cosigned",
        tags=["log"],
        response_class=Response,
        responses={200: NOTE, 404: ERRORS[404]},
    )
    def cosigned_checkpoint(
        svc: ServicesDep, tree_size: Annotated[int, FastAPIPath(ge=0, le=MAX_INDEX)]
    ) -> Any:
        """The checkpoint of that size with every witness cosignature appended (C2SP)."""
        stored = _checkpoint_of(svc, tree_size)
        lines = "".join(line + "\n" for _, _, line in svc.ledger.tables.cosignatures(tree_size))
        return PlainTextResponse(stored.note + lines)

    @app.post(
        "/v1/checkpoints/{tree_size}/cosignatures",
        tags=["log"],
        status_code=201,
        responses={401: ERRORS[401], 403: ERRORS[403], 404: ERRORS[404], 422: ERRORS[422]},
    )
    def cosign(
        svc: ServicesDep,
        who: CallerDep,
        tree_size: Annotated[int, FastAPIPath(ge=0, le=MAX_INDEX)],
        request: CosignatureIn,
    ) -> CosignatureOut:
        """Witnesses (the chair, scrutiny): publish a cosignature of a checkpoint. It is
        verified against the witness key given before it is stored; readers decide which
        witness keys they trust."""
        if who.role not in (Role.CHAIR, Role.SCRUTINY):
            raise Forbidden(f"{who.describe()} is not a witness; chair and scrutiny cosign")
        stored = _checkpoint_of(svc, tree_size)
        key = CosignerKey.parse(request.witness_key)
        timestamp = open_cosignature(note_body(stored.note), request.line, key)
        svc.ledger.tables.insert_cosignature(tree_size, key.encode(), request.line, timestamp)
        return CosignatureOut(tree_size=tree_size, witness=key.name, timestamp=timestamp)

    @app.get("/v1/proofs/inclusion", tags=["log"], responses={400: ERRORS[400]})
    def inclusion(
        svc: ServicesDep,
        leaf_index: int = Query(ge=0, le=MAX_INDEX),
        tree_size: int = Query(ge=1, le=MAX_INDEX),
    ) -> dict[str, Any]:
        """RFC 9162 inclusion proof of a leaf in the tree of the given size."""
        proof = svc.ledger.inclusion_proof(leaf_index, tree_size)
        return {"leaf_index": leaf_index, "tree_size": tree_size, "proof": [_b64(h) for h in proof]}

    @app.get("/v1/proofs/consistency", tags=["log"], responses={400: ERRORS[400]})
    def consistency(
        svc: ServicesDep,
        old_size: int = Query(ge=0, le=MAX_INDEX),
        new_size: int = Query(ge=1, le=MAX_INDEX),
    ) -> dict[str, Any]:
        """RFC 9162 consistency proof between two tree sizes."""
        proof = svc.ledger.consistency_proof(old_size, new_size)
        return {"old_size": old_size, "new_size": new_size, "proof": [_b64(h) for h in proof]}

    @app.get("/v1/entries/{leaf_index}", tags=["log"], responses={404: ERRORS[404]})
    def entry_hash(
        svc: ServicesDep, leaf_index: Annotated[int, FastAPIPath(ge=0, le=MAX_INDEX)]
    ) -> Any:
        """The leaf hash at an index (the entry itself needs a token)."""
        leaves = svc.ledger.tables.leaves(leaf_index, 1) if leaf_index >= 0 else []
        if not leaves or leaves[0][0] != leaf_index:
            raise NotFound(f"no entry {leaf_index}", "no_such_entry")
        return {"leaf_index": leaf_index, "leaf_hash": _b64(leaves[0][2])}

    # -- reading (token) -----------------------------------------------------------------

    @app.get("/v1/log/entries", tags=["log"], responses={401: ERRORS[401], 403: ERRORS[403]})
    def log_entries(
        svc: ServicesDep,
        who: CallerDep,
        start: int = Query(default=0, ge=0, le=MAX_INDEX),
        limit: int = Query(default=1000, ge=1, le=5000),
    ) -> dict[str, Any]:
        """Auditors (chair, scrutiny, implementation group, admin): the log's entries in
        order, each the exact stored bytes (base64) its Merkle leaf hashes, for an export
        made through the API instead of on the server."""
        if who.role not in AUDITORS:
            raise Forbidden(f"{who.describe()} may not read the whole log")
        size = svc.ledger.tree_size()
        entries = []
        for leaf_index, data in svc.ledger.entries(start):
            if leaf_index >= min(size, start + limit):
                break
            entries.append(_b64(data))
        return {"start": start, "tree_size": size, "entries": entries}

    @app.get("/v1/me", tags=["read"], responses={401: ERRORS[401]})
    def me(svc: ServicesDep, who: CallerDep) -> MeOut:
        """Who the token belongs to, as the directory knows them."""
        user = svc.ledger.require_directory().users[who.user_id]
        return MeOut(
            user_id=user.user_id,
            name=user.name,
            role=user.role.value,
            agency=user.agency,
            active_keys=[k.key_id for k in user.active_keys()],
        )

    @app.get("/v1/users", tags=["read"], responses={401: ERRORS[401]})
    def users(svc: ServicesDep, who: CallerDep) -> list[dict[str, Any]]:
        """The directory: who may sign, in which role and agency, with which keys (public
        keys are what every verifier needs; nothing here is secret)."""
        directory = svc.ledger.require_directory()
        return [
            {
                "user_id": u.user_id,
                "name": u.name,
                "role": u.role.value,
                "agency": u.agency,
                "active_keys": [k.key_id for k in u.active_keys()],
                "public_keys": {k.key_id: k.public_key for k in u.keys.values()},
                "revoked_keys": sum(1 for k in u.keys.values() if not k.active),
            }
            for u in sorted(directory.users.values(), key=lambda u: u.user_id)
        ]

    @app.post(
        "/v1/checkpoint",
        tags=["log"],
        response_class=Response,
        responses={200: NOTE, 401: ERRORS[401], 403: ERRORS[403]},
    )
    def sign_checkpoint(svc: ServicesDep, who: CallerDep) -> Response:
        """Administrators: have the log sign a checkpoint of the tree as it is now."""
        if who.role is not Role.ADMIN:
            raise Forbidden(f"{who.describe()} may not ask for a checkpoint")
        signer = NoteSigner(svc.ledger.origin(), KeyPair.read(config.log_key_path))
        return PlainTextResponse(svc.ledger.sign_checkpoint(signer).note)

    @app.get("/v1/plan", tags=["read"], responses={401: ERRORS[401]})
    def plan(svc: ServicesDep, who: CallerDep) -> dict[str, Any]:
        """The plan: agencies and recommendations."""
        current = svc.ledger.plan()
        if current is None:
            return {"title": "", "agencies": {}, "recommendations": []}
        return {
            "title": current.title,
            "source": current.source,
            "agencies": current.agencies,
            "recommendations_expected": current.recommendations_expected,
            "recommendations": [vars(r) for _, r in sorted(current.recommendations.items())],
        }

    @app.get("/v1/status", tags=["read"], responses={401: ERRORS[401], 422: ERRORS[422]})
    def status(
        svc: ServicesDep,
        who: CallerDep,
        as_of: str | None = None,
        position: int | None = Query(default=None, ge=0, le=MAX_INDEX),
    ) -> dict[str, Any]:
        """Status of every action, recommendation and agency: now, as of a date or
        date-time (UTC), or as of a log position (the first N entries)."""
        until = _moment(as_of) if as_of else None
        return status_as_of(svc.ledger, as_of=until, position=position).to_json()

    @app.get("/v1/diff", tags=["read"], responses={401: ERRORS[401], 422: ERRORS[422]})
    def diff(
        svc: ServicesDep,
        who: CallerDep,
        start: Annotated[str, Query(alias="from", max_length=40)],
        end: Annotated[str, Query(alias="to", max_length=40)],
    ) -> dict[str, Any]:
        """What changed between two dates (or date-times, UTC): actions added, every field
        that changed, and every signed decision in between with its log position."""
        first, last = _moment(start), _moment(end)
        if last <= first:
            raise EntryFormatError("'to' must be after 'from'")
        return diff_as_of(svc.ledger, first, last).to_json()

    @app.get("/v1/aggregates/{aggregate_id}/version", tags=["read"], responses={401: ERRORS[401]})
    def version(svc: ServicesDep, who: CallerDep, aggregate_id: UUID) -> dict[str, Any]:
        """The aggregate's current version: a signed entry writes version + 1."""
        return {"aggregate_id": str(aggregate_id), "version": svc.ledger.version_of(aggregate_id)}

    @app.get(
        "/v1/actions/{action_id}",
        tags=["read"],
        responses={401: ERRORS[401], 403: ERRORS[403], 404: ERRORS[404]},
    )
    def action(svc: ServicesDep, who: CallerDep, action_id: str) -> dict[str, Any]:
        """An action's current state and every signed entry of its history."""
        current = readable_action(svc, who, action_id)
        history = [
            from_domain_event(e).to_json()
            for e in svc.ledger.aggregate_events(action_aggregate_id(action_id))
        ]
        return {"action": _action_json(current), "history": history}

    @app.get(
        "/v1/actions/{action_id}/timeline",
        tags=["read"],
        responses={401: ERRORS[401], 403: ERRORS[403], 404: ERRORS[404], 422: ERRORS[422]},
    )
    def action_timeline_(
        svc: ServicesDep,
        who: CallerDep,
        action_id: Annotated[str, FastAPIPath(max_length=16)],
        as_of: Annotated[str | None, Query(max_length=40)] = None,
        position: int | None = Query(default=None, ge=0, le=MAX_INDEX),
        limit: int = Query(default=TIMELINE_LIMIT, ge=0, le=TIMELINE_MAX),
    ) -> dict[str, Any]:
        """Every signed decision on one action, with who, when, its log position and its
        reasons; cut as of a date-time or position, with the action as it stood then.
        The latest `limit` entries; `total` and `truncated` say whether there are more."""
        # Scoped like /v1/actions/{id} (by the action's lead agency now), read from the
        # as-of projection rather than by replaying the action's whole history.
        lead = current_lead_agencies(svc.ledger).get(action_id)
        if lead is None:
            raise NotFound(f"no action {action_id}")
        if who.role in AGENCY_ROLES and who.agency != lead:
            raise Forbidden(f"{who.describe()} reads only {who.agency}'s actions")
        until = _moment(as_of) if as_of else None
        try:
            found = action_timeline(
                svc.ledger, action_id, as_of=until, position=position, limit=limit
            )
        except UnknownSubject as error:
            raise NotFound(str(error)) from None
        return found.to_json()

    @app.get(
        "/v1/recommendations/{number}/timeline",
        tags=["read"],
        responses={401: ERRORS[401], 404: ERRORS[404], 422: ERRORS[422]},
    )
    def recommendation_timeline_(
        svc: ServicesDep,
        who: CallerDep,
        number: Annotated[int, FastAPIPath(ge=1, le=999)],
        as_of: Annotated[str | None, Query(max_length=40)] = None,
        position: int | None = Query(default=None, ge=0, le=MAX_INDEX),
        limit: int = Query(default=TIMELINE_LIMIT, ge=0, le=TIMELINE_MAX),
    ) -> dict[str, Any]:
        """The recommendation's entry and every entry of its actions, in log order (the
        latest `limit`). Officers and agency leads see only their own agency's actions."""

        leads = current_lead_agencies(svc.ledger)

        def readable(action_id: str) -> bool:
            return who.role not in AGENCY_ROLES or leads.get(action_id) == who.agency

        until = _moment(as_of) if as_of else None
        try:
            found = recommendation_timeline(
                svc.ledger, number, as_of=until, position=position, readable=readable, limit=limit
            )
        except UnknownSubject as error:
            raise NotFound(str(error)) from None
        return found.to_json()

    # -- writing (token + the caller's own signature) ------------------------------------

    @app.post(
        "/v1/entries",
        tags=["write"],
        responses={
            401: ERRORS[401],
            403: ERRORS[403],
            409: ERRORS[409],
            413: ERRORS[413],
            422: ERRORS[422],
        },
    )
    def append(svc: ServicesDep, who: CallerDep, request: AppendIn) -> AppendOut:
        """Append entries signed by the caller, atomically and in order."""
        entries = [_parse_entry(e) for e in request.entries]
        for entry in entries:
            if entry.body.actor != who.user_id:
                raise Forbidden(
                    f"{who.user_id} may submit only entries signed as themselves, "
                    f"not as {entry.body.actor}",
                    "not_your_entry",
                )
        request_hash = hashlib.sha256(canonical_bytes([e.to_json() for e in entries])).hexdigest()
        if request.command_id:
            replay = _replayed(svc, request.command_id, who, request_hash)
            if replay is not None:
                return replay
        try:
            results = svc.ledger.append(entries)
        except VersionConflict:
            if request.command_id:  # a concurrent retry of the same command won the race
                replay = _replayed(svc, request.command_id, who, request_hash)
                if replay is None:  # or it was appended, then the reply was lost (crash)
                    replay = _already_recorded(svc, request.command_id, who, request_hash, entries)
                if replay is not None:
                    return replay
            raise
        out = AppendOut.of(results)
        if request.command_id:
            svc.commands.remember(request.command_id, who.user_id, request_hash, out.model_dump())
        return out

    @app.post(
        "/v1/evidence",
        tags=["evidence"],
        status_code=201,
        responses={401: ERRORS[401], 403: ERRORS[403], 413: ERRORS[413], 422: ERRORS[422]},
    )
    def upload(
        svc: ServicesDep,
        who: CallerDep,
        file: Annotated[UploadFile, File()],
        sha256: Annotated[str | None, Form()] = None,
    ) -> StoredOut:
        """Store an evidence file (streamed); then sign and post its evidence_attached entry.
        Give the expected SHA-256 to have the upload refused if anything arrives altered."""
        if who.role not in AGENCY_ROLES:
            raise Forbidden(f"{who.describe()} does not attach evidence")
        if sha256 is not None:
            check_sha256(sha256)
        head = file.file.read(SNIFF_BYTES)
        file.file.seek(0)
        blob = svc.evidence.store.put(file.file, expected_sha256=sha256)
        return StoredOut(
            sha256=blob.sha256,
            size=blob.size,
            media_type=sniff_media_type(head),
            storage_key=blob.storage_key,
            encrypted=blob.encrypted,
            already_stored=blob.already_stored,
        )

    @app.get(
        "/v1/evidence/{sha256}",
        tags=["evidence"],
        responses={
            401: ERRORS[401],
            403: ERRORS[403],
            404: ERRORS[404],
            410: {"description": "erased"},
        },
    )
    def download(
        svc: ServicesDep,
        who: CallerDep,
        sha256: Annotated[str, FastAPIPath(pattern="^[0-9a-f]{64}$")],
    ) -> StreamingResponse:
        """Stream an evidence file, re-verified against its hash as it goes (a blob that
        fails verification ends the response early: the client's own hash check fails)."""
        check_sha256(sha256)
        uses = named_evidence(svc.ledger).get(sha256)
        if not uses:
            raise NotFound(f"no evidence {sha256} is named by the ledger")
        if who.role in AGENCY_ROLES:
            agencies = {a.lead_agency for a in (svc.ledger.action(i) for i, _ in uses) if a}
            if who.agency not in agencies:
                raise Forbidden(f"{who.describe()} reads only {who.agency}'s evidence")
        chunks = svc.evidence.store.read(sha256)
        first = next(chunks)  # fail before the response starts if it cannot be read at all

        def body() -> Iterator[bytes]:
            yield first
            yield from chunks

        return StreamingResponse(
            body(), media_type="application/octet-stream", headers={"X-Content-SHA256": sha256}
        )

    app.add_middleware(BodyLimit, limit=json_limit, evidence_limit=int(evidence.config.max_bytes))
    app.add_middleware(AccessLog)
    return app


def _checkpoint_of(svc: Services, tree_size: int) -> Any:
    for stored in svc.ledger.tables.checkpoints():
        if stored.tree_size == tree_size:
            return stored
    raise NotFound(f"the log has no checkpoint of size {tree_size}", "no_checkpoint")


def _replayed(svc: Services, command_id: str, who: Actor, request_hash: str) -> AppendOut | None:
    found = svc.commands.find(command_id)
    if found is None:
        return None
    user_id, stored_hash, response = found
    if user_id != who.user_id or stored_hash != request_hash:
        raise Conflict("this command id was used for a different request", "command_id_reused")
    out = AppendOut.model_validate(response)
    out.replayed = True
    return out


def _already_recorded(
    svc: Services, command_id: str, who: Actor, request_hash: str, entries: list[SignedEntry]
) -> AppendOut | None:
    """A retried command whose entries are in the log, byte for byte, although its answer
    was never remembered (the server died between the append and `remember`): answer it
    as a replay instead of refusing entries that are in fact recorded (ledger/recorded.py).
    Found by tests/reliability/test_crash.py."""
    recorded = find_recorded(svc.ledger, entries)
    if recorded is None:
        return None
    out = AppendOut.of(recorded, replayed=True)
    with contextlib.suppress(IntegrityError):  # a concurrent retry remembered it first
        svc.commands.remember(command_id, who.user_id, request_hash, out.model_dump())
    return out


def _parse_entry(entry: EntryIn) -> SignedEntry:
    try:
        signature = base64.b64decode(entry.signature, validate=True)
    except ValueError:
        raise EntryFormatError("signature is not valid base64") from None
    if len(signature) != 64:
        raise EntryFormatError("an Ed25519 signature is 64 bytes")
    return SignedEntry(EventBody.from_json(entry.body), signature)


def _moment(text: str) -> datetime:
    try:
        return parse_as_of(text)
    except ValueError:
        raise EntryFormatError(f"as_of is not a date or date-time: {text[:40]!r}") from None


def _decision(value: Any) -> Any:
    return (
        None
        if value is None
        else {
            "value": value.value,
            "by": value.by,
            "at": value.at.isoformat(),
            "reasons": value.reasons,
        }
    )


def _action_json(action: Action) -> dict[str, Any]:
    return {
        "aggregate_id": str(action.id),
        "version": action.version,
        "action_id": action.action_id,
        "recommendation": action.recommendation,
        "title": action.title,
        "lead_agency": action.lead_agency,
        "lead_officers": action.lead_officers,
        "expected_outcome": action.expected_outcome,
        "evidence_required": action.evidence_required,
        "due_date": action.due_date,
        "status": action.status.value,
        "assigned_officers": action.assigned_officers,
        "current_evidence": action.current_evidence(),
        "evidence": [
            {
                "sha256": e.sha256,
                "size": e.size,
                "media_type": e.media_type,
                "original_name": e.original_name,
                "description": e.description,
                "effective_date": e.effective_date,
                "attached_by": e.attached_by,
                "attached_at": e.attached_at.isoformat(),
                "withdrawn": e.withdrawn_at is not None,
                "erased": e.erased_at is not None,
            }
            for e in action.evidence.values()
        ],
        "sign_offs": {
            level.value: {
                "by": s.by,
                "at": s.at.isoformat(),
                "evidence": s.evidence,
                "statement": s.statement,
            }
            for level, s in action.sign_offs.items()
        },
        "agency_claim": _decision(action.agency_claim),
        "verdict": _decision(action.verdict),
        "agency_rag": _decision(action.agency_rag),
        "review_rag": _decision(action.review_rag),
        "last_return": _decision(action.last_return),
        "blocked_reason": action.blocked_reason,
        "closed_reason": action.closed_reason,
        "merged_into": action.merged_into,
    }
