"""The transparency log: checkpoints, witness cosignatures, log-key rotations and the
post-quantum log key (public), and the export of the log's entries (auditors)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as FastAPIPath
from fastapi.responses import PlainTextResponse, Response

from api.application.access import AccessDenied, is_witness, require_auditor
from api.http import errors
from api.http.deps import (
    MAX_INDEX,
    NOTE,
    CallerDep,
    ConfigDep,
    Services,
    ServicesDep,
    b64,
    errors_doc,
)
from api.http.errors import Conflict, Forbidden, NotFound
from api.http.routes.schemas import (
    CheckpointOut,
    CosignatureIn,
    CosignatureLine,
    CosignatureOut,
    LogEntriesOut,
    PQLogKeyOut,
)
from domain import Role
from ledger.auditor.cosignature import CosignerKey, note_body, open_cosignature
from ledger.auditor.note import NoteSigner
from ledger.auditor.pqkey import PQBinding
from ledger.errors import CosignedTooLate
from ledger.keys import KeyPair
from ledger.logkeys import rotation_notes
from ledger.pqkeys import pq_statement

router = APIRouter(tags=["log"])
#: Who may have the log sign a checkpoint on request: those who hold the agencies to
#: account and act on it (scrutiny only reads; agencies wait for the regular one).
CHECKPOINT_REQUESTERS = frozenset({Role.CHAIR, Role.IMPLEMENTATION_GROUP, Role.ADMIN})
TreeSize = Annotated[int, FastAPIPath(ge=0, le=MAX_INDEX)]


@router.get("/v1/checkpoint", response_class=Response, responses={200: NOTE, **errors_doc(404)})
def latest_checkpoint(svc: ServicesDep) -> Any:
    """The latest checkpoint, a C2SP signed note (text/plain)."""
    latest = svc.ledger.latest_checkpoint()
    if latest is None:
        return errors.error(404, "no_checkpoint", "the log has no signed checkpoint yet")
    return PlainTextResponse(latest.note)


@router.post(
    "/v1/checkpoint", response_class=Response, responses={200: NOTE, **errors_doc(401, 403)}
)
def sign_checkpoint(svc: ServicesDep, who: CallerDep, config: ConfigDep) -> Response:
    """The chair, the implementation group and administrators: have the log sign a
    checkpoint of the tree as it is now (before a report, a visit, an export). The server
    also signs one by itself within its checkpoint interval of the log growing."""
    if who.role not in CHECKPOINT_REQUESTERS:
        raise Forbidden(f"{who.describe()} may not ask for a checkpoint")
    signer = NoteSigner(svc.ledger.origin(), KeyPair.read(config.log_key_path))
    return PlainTextResponse(svc.ledger.sign_checkpoint(signer).note)


@router.get("/v1/log-key/rotations", response_model=list[str])
def log_key_rotations(svc: ServicesDep) -> list[str]:
    """Every log-key rotation statement, oldest first: signed notes by the old and the
    new key (ledger/logkeys.py). Verifiers still trust only the keys they pinned."""
    return rotation_notes(svc.ledger.tables)


@router.get("/v1/log-key/pq", response_model=PQLogKeyOut, responses=errors_doc(404))
def pq_log_key(svc: ServicesDep) -> Any:
    """The log's post-quantum (ML-DSA-44) verifier key, with the statement that binds it
    to the log key, signed by both (ledger/pqkeys.py): `vkey`, `statement` and `since`
    (checkpoints of larger trees carry its signature). 404 if the log has none. Check
    the statement with the log key you pinned before pinning this key."""
    note = pq_statement(svc.ledger.tables)
    if note is None:
        return errors.error(404, "no_pq_log_key", "the log has no post-quantum key")
    binding = PQBinding.parse(note)
    return PQLogKeyOut(vkey=binding.pq.encode(), statement=note, since=binding.size)


@router.get("/v1/checkpoints", response_model=list[CheckpointOut])
def checkpoints(svc: ServicesDep) -> list[CheckpointOut]:
    """Every checkpoint the log has signed, oldest first, with its cosignatures."""
    cosignatures = svc.ledger.tables.cosignatures()
    return [
        CheckpointOut(
            tree_size=c.tree_size,
            root_hash=b64(c.root_hash),
            note=c.note,
            created_at=c.created_at,
            cosignatures=[
                CosignatureLine(witness_key=key, line=line)
                for size, key, line in cosignatures
                if size == c.tree_size
            ],
        )
        for c in svc.ledger.tables.checkpoints()
    ]


@router.get(
    "/v1/checkpoints/{tree_size}/cosigned",
    response_class=Response,
    responses={200: NOTE, **errors_doc(404)},
)
def cosigned_checkpoint(svc: ServicesDep, tree_size: TreeSize) -> Any:
    """The checkpoint of that size with every witness cosignature appended (C2SP)."""
    stored = checkpoint_of(svc, tree_size)
    lines = "".join(line + "\n" for _, _, line in svc.ledger.tables.cosignatures(tree_size))
    return PlainTextResponse(stored.note + lines)


@router.post(
    "/v1/checkpoints/{tree_size}/cosignatures",
    status_code=201,
    responses=errors_doc(401, 403, 404, 409, 422),
)
def cosign(
    svc: ServicesDep, who: CallerDep, tree_size: TreeSize, request: CosignatureIn
) -> CosignatureOut:
    """Witnesses (the chair, scrutiny): publish a cosignature of a checkpoint. It is
    verified against the witness key given before it is stored; readers decide which
    witness keys they trust. Its time then dates the log: nothing after it may claim to
    be older (ledger/timestamps.py), so a time ahead of the ledger's clock is refused
    (422 clock_skew), and so is one later than an entry the log recorded after that
    checkpoint (409 cosigned_too_late: cosign a newer checkpoint)."""
    if not is_witness(who):
        raise AccessDenied(f"{who.describe()} is not a witness; chair and scrutiny cosign")
    stored = checkpoint_of(svc, tree_size)
    key = CosignerKey.parse(request.witness_key)
    timestamp = open_cosignature(note_body(stored.note), request.line, key)
    try:
        svc.ledger.record_cosignature(tree_size, key.encode(), request.line, timestamp)
    except CosignedTooLate as error:
        raise Conflict(str(error), error.code) from None
    return CosignatureOut(tree_size=tree_size, witness=key.name, timestamp=timestamp)


@router.get("/v1/log/entries", response_model=LogEntriesOut, responses=errors_doc(401, 403))
def log_entries(
    svc: ServicesDep,
    who: CallerDep,
    start: int = Query(default=0, ge=0, le=MAX_INDEX),
    limit: int = Query(default=1000, ge=1, le=5000),
) -> LogEntriesOut:
    """Auditors (chair, scrutiny, implementation group, admin): the log's entries in
    order, each the exact stored bytes (base64) its Merkle leaf hashes, for an export
    made through the API instead of on the server."""
    require_auditor(who, "read the whole log")
    size = svc.ledger.tree_size()
    # By leaf index (two indexed reads), not by scanning the log from its start: reading
    # a 1M-entry log page by page through the API would otherwise cost O(n^2).
    found = svc.ledger.leaf_entries(start, min(size, start + limit)) if start < size else []
    return LogEntriesOut(start=start, tree_size=size, entries=[b64(data) for _, data in found])


def checkpoint_of(svc: Services, tree_size: int) -> Any:
    for stored in svc.ledger.tables.checkpoints():
        if stored.tree_size == tree_size:
            return stored
    raise NotFound(f"the log has no checkpoint of size {tree_size}", "no_checkpoint")
