"""Writing: entries built and signed by the caller, appended atomically and in order;
a client-chosen command id makes a retry idempotent. Every accepted append answers with
a receipt per entry (ledger/receipt.py): the leaf, a checkpoint the log key signed of a
tree holding it (one signature for the requests answered together: api/application/
checkpoints.py `ServerReceipts`) and the inclusion proof. A replay answers with the
receipts of the first answer, which stay true."""

from __future__ import annotations

import contextlib
import hashlib

from eventsourcing.persistence import IntegrityError
from fastapi import APIRouter, Response

from api.application.uploads import (
    naming_leads_in,
    require_attachable,
    require_true_media_types,
)
from api.http.deps import CallerDep, ConfigDep, Services, ServicesDep, errors_doc
from api.http.errors import Conflict, Forbidden
from api.http.routes.schemas import AppendIn, AppendOut, EntryIn
from domain import Actor, Directory, Role
from ledger.auditor.canonical import canonical_bytes
from ledger.auditor.entry import EntryFormatError, SignedEntry
from ledger.config import LedgerConfig
from ledger.errors import VersionConflict
from ledger.recorded import find_recorded

router = APIRouter(tags=["write"])


def _carried_charter(entry: SignedEntry, who: Actor) -> bool:
    """An administrator's token may carry the chair's charter: the chair has no token
    until the charter registers them, and the charter is self-signed by the key it
    introduces, so who sends it adds nothing to it (the ledger checks that signature,
    and that there is no charter yet). Nobody else's entries travel on another's token."""
    return entry.body.type == Directory.CharterAdopted.TYPE and who.role is Role.ADMIN


@router.post("/v1/entries", response_model=AppendOut, responses=errors_doc(401, 403, 409, 413, 422))
def append(svc: ServicesDep, who: CallerDep, config: ConfigDep, request: AppendIn) -> Response:
    """Append entries signed by the caller, atomically and in order."""
    return as_json(answer(svc, who, config, request))


def as_json(out: AppendOut) -> Response:
    """The answer, encoded as FastAPI encodes a response model (pydantic's JSON of it),
    here in the route's worker thread: a returned model would be validated again, in one
    more hop to a worker thread per append, before the same encoding (issue 18)."""
    return Response(out.model_dump_json(), media_type="application/json")


def answer(svc: Services, who: Actor, config: LedgerConfig, request: AppendIn) -> AppendOut:
    entries = [parse_entry(e) for e in request.entries]
    for entry in entries:
        if entry.body.actor != who.user_id and not _carried_charter(entry, who):
            raise Forbidden(
                f"{who.user_id} may submit only entries signed as themselves, "
                f"not as {entry.body.actor}",
                "not_your_entry",
            )
    # What a command id is remembered with; without one, nothing uses it.
    request_hash = (
        hashlib.sha256(canonical_bytes([e.to_json() for e in entries])).hexdigest()
        if request.command_id
        else ""
    )
    if request.command_id:
        replay = replayed(svc, request.command_id, who, request_hash)
        if replay is not None:
            return replay
    require_attachable(who, entries, svc.uploads, naming_leads_in(svc.ledger))
    require_true_media_types(svc.evidence.store, entries)
    try:
        results = svc.ledger.append(entries)
    except VersionConflict:
        if request.command_id:  # a concurrent retry of the same command won the race
            replay = replayed(svc, request.command_id, who, request_hash)
            if replay is None:  # or it was appended, then the reply was lost (crash)
                replay = already_recorded(
                    svc, config, request.command_id, who, request_hash, entries
                )
            if replay is not None:
                return replay
        raise
    out = AppendOut.of(svc.receipts.issue(config, results))
    if request.command_id:
        svc.commands.remember(request.command_id, who.user_id, request_hash, out.model_dump())
    return out


def replayed(svc: Services, command_id: str, who: Actor, request_hash: str) -> AppendOut | None:
    found = svc.commands.find(command_id)
    if found is None:
        return None
    user_id, stored_hash, response = found
    if user_id != who.user_id or stored_hash != request_hash:
        raise Conflict("this command id was used for a different request", "command_id_reused")
    out = AppendOut.model_validate(response)
    out.replayed = True
    return out


def already_recorded(
    svc: Services,
    config: LedgerConfig,
    command_id: str,
    who: Actor,
    request_hash: str,
    entries: list[SignedEntry],
) -> AppendOut | None:
    """A retried command whose entries are in the log, byte for byte, although its answer
    was never remembered (the server died between the append and `remember`): answer it
    as a replay instead of refusing entries that are in fact recorded (ledger/recorded.py).
    Found by tests/reliability/test_crash.py."""
    recorded = find_recorded(svc.ledger, entries)
    if recorded is None:
        return None
    out = AppendOut.of(svc.receipts.issue(config, recorded), replayed=True)
    with contextlib.suppress(IntegrityError):  # a concurrent retry remembered it first
        svc.commands.remember(command_id, who.user_id, request_hash, out.model_dump())
    return out


def parse_entry(entry: EntryIn) -> SignedEntry:
    """The entry format's own parser (ledger/auditor/entry.py), so the server refuses
    exactly what the chair's auditor refuses (non-canonical base64 included)."""
    if "signature" in entry.body:  # else the merge below would hide it
        raise EntryFormatError("an event body has no signature member")
    return SignedEntry.from_json({**entry.body, "signature": entry.signature})
