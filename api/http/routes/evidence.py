"""Evidence files: stored (streamed) before their signed evidence_attached entry, and
read back re-verified against their hash. Officers and agency leads read only evidence
named by their own agency's actions (api/application/access.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi import Path as FastAPIPath
from fastapi.responses import Response, StreamingResponse

from api.application.access import acts_for_agency, require_readable_evidence
from api.http.deps import CallerDep, ServicesDep, body_doc, errors_doc
from api.http.errors import Forbidden, NotFound
from api.http.routes.schemas import StoredOut
from evidence_store.base import check_sha256
from evidence_store.sniff import SNIFF_BYTES, sniff_media_type
from projections.evidence import evidence_uses

router = APIRouter(tags=["evidence"])


@router.post("/v1/evidence", status_code=201, responses=errors_doc(401, 403, 413, 422))
def upload(
    svc: ServicesDep,
    who: CallerDep,
    file: Annotated[UploadFile, File()],
    sha256: Annotated[str | None, Form(pattern="^[0-9a-f]{64}$")] = None,
) -> StoredOut:
    """Store an evidence file (streamed); then sign and post its evidence_attached entry.
    Give the expected SHA-256 to have the upload refused if anything arrives altered."""
    if not acts_for_agency(who):
        raise Forbidden(f"{who.describe()} does not attach evidence")
    if sha256 is not None:
        check_sha256(sha256)
    head = file.file.read(SNIFF_BYTES)
    file.file.seek(0)
    blob = svc.evidence.store.put(file.file, expected_sha256=sha256)
    assert who.agency is not None  # acts_for_agency: officers and leads have one
    svc.uploads.record(blob.sha256, who.agency, who.user_id)  # they hold these bytes
    return StoredOut(
        sha256=blob.sha256,
        size=blob.size,
        media_type=sniff_media_type(head),
        storage_key=blob.storage_key,
        encrypted=blob.encrypted,
        already_stored=blob.already_stored,
    )


@router.get(
    "/v1/evidence/{sha256}",
    response_class=Response,
    responses={
        200: body_doc("the file, as stored", binary=("application/octet-stream",)),
        **errors_doc(401, 403, 404, 410),
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
    # From the as-of projection (caught up first): one seek on the hash and one read per
    # action naming it, not a replay of the log (any officer can ask, again and again).
    uses = evidence_uses(svc.ledger, sha256)
    if not uses:
        raise NotFound(f"no evidence {sha256} is named by the ledger")
    # Each use carries its action's current lead agency, read with it from the projection.
    actions = iter(uses)
    require_readable_evidence(who, (a.lead_agency for a in actions if a))
    chunks = svc.evidence.store.read(sha256)
    first = next(chunks)  # fail before the response starts if it cannot be read at all

    def body() -> Iterator[bytes]:
        yield first
        yield from chunks

    return StreamingResponse(
        body(), media_type="application/octet-stream", headers={"X-Content-SHA256": sha256}
    )
