"""The log as C2SP tlog-tiles (ledger/tiles.py), so a monitor mirrors and checks it with
any tlog client (Go's golang.org/x/mod/sumdb/tlog, for one) and none of this product's
code: the latest checkpoint, hash tiles and entry bundles under /tlog/.

Access: the checkpoint and the hash tiles need a token of any role, or nothing at all
when the operator publishes the ledger (INQUIRY_LEDGER_PUBLIC=on), so any monitor can
mirror the tree and check that it only ever grows. Entry bundles need an auditor's token
even then, as /v1/log/entries does: they are the entries themselves, and entries carry
what is never public (people's names in the directory's entries, comments, evidence
file names); the entries behind what the public tracker shows are published with it,
each with its inclusion proof (ledger/public_proofs.py). Full tiles never change, so
they may be cached for good; partial tiles and the checkpoint are superseded as the log
grows.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi import Path as FastAPIPath
from fastapi.responses import PlainTextResponse, Response

from api.application.access import require_auditor
from api.http import errors
from api.http.deps import (
    NOTE,
    CallerDep,
    ServicesDep,
    body_doc,
    caller,
    config,
    error_doc,
    errors_doc,
)
from api.http.errors import NotFound
from domain.roles import Actor
from ledger import tiles
from ledger.tiles import Tile

log = logging.getLogger("inquiry_ledger.api")
router = APIRouter(tags=["log"])
IMMUTABLE = "max-age=31536000, immutable"
SHORT_LIVED = "max-age=60"
CHECKPOINT_CACHE = "public, max-age=5"
TILE = body_doc("the tile's hashes, 32 bytes each", binary=("application/octet-stream",))
BUNDLE = body_doc(
    "entries, each a uint16 length and its bytes", binary=("application/octet-stream",)
)
TOO_LARGE = error_doc("an entry of the bundle is over 65,535 bytes (read it from /v1/log/entries)")
TileLevel = Annotated[int, FastAPIPath(ge=0, le=63)]


async def tree_reader(
    request: Request, svc: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> Actor | None:
    """Anyone, on a published ledger; otherwise a token's holder (any role)."""
    if config(request).public:
        return None
    return await caller(request, svc, authorization)


TreeReaderDep = Annotated[Actor | None, Depends(tree_reader)]


@router.get(
    "/tlog/checkpoint", response_class=Response, responses={200: NOTE, **errors_doc(401, 404)}
)
def tlog_checkpoint(svc: ServicesDep, who: TreeReaderDep) -> Response:
    """The latest signed checkpoint (C2SP signed note): the tree the tiles prove."""
    latest = svc.ledger.latest_checkpoint()
    if latest is None:
        return errors.error(404, "no_checkpoint", "the log has no signed checkpoint yet")
    return PlainTextResponse(latest.note, headers={"Cache-Control": CHECKPOINT_CACHE})


# Before the hash tiles' route: "entries" would otherwise be read as a level, and refused.
@router.get(
    "/tlog/tile/entries/{index:path}",
    response_class=Response,
    responses={200: BUNDLE, **errors_doc(401, 403, 404, 500), 501: TOO_LARGE},
)
def tlog_entry_bundle(svc: ServicesDep, who: CallerDep, index: str) -> Response:
    """Auditors: entry bundle N (``x001/234/067``, ``.p/W`` if partial), the stored
    entries of leaves 256N .. 256N+W-1."""
    require_auditor(who, "read the whole log")
    tile = _existing(svc, -1, index)
    first = tile.index * tiles.TILE_WIDTH
    found = svc.ledger.leaf_entries(first, first + tile.width)
    leaves = svc.ledger.tables.leaves(first, tile.width)
    try:
        if len(found) != tile.width or len(leaves) != tile.width:
            raise tiles.BrokenStore(f"entries of bundle {index} missing from storage")
        bundle = tiles.entry_bundle(first, [e for _, e in found], [h for _, _, h in leaves])
    except tiles.EntryTooLargeForBundle as error:
        return errors.error(501, "entry_too_large_for_bundle", str(error))
    except tiles.BrokenStore as error:
        return _broken(error)
    return _binary(bundle, tile, "private")


@router.get(
    "/tlog/tile/{level}/{index:path}",
    response_class=Response,
    responses={200: TILE, **errors_doc(401, 404, 500)},
)
def tlog_tile(svc: ServicesDep, who: TreeReaderDep, level: TileLevel, index: str) -> Response:
    """Hash tile (level, N): the tree's nodes at level 8*level, indexes 256N .. 256N+W-1."""
    tile = _existing(svc, level, index)
    try:
        return _binary(tiles.tile_hashes(tile, svc.ledger.tables), tile, "public")
    except tiles.BrokenStore as error:
        return _broken(error)


def _existing(svc: ServicesDep, level: int, index: str) -> Tile:
    """The tile at this path if the tree has it; 404 otherwise (C2SP: beyond the tree)."""
    try:
        n, width = tiles.parse_index(index)
    except tiles.TileError as error:
        raise NotFound(str(error), "no_such_tile") from None
    tile = Tile(level, n, width)
    if not tiles.exists(tile, svc.ledger.tree_size()):
        raise NotFound(f"the tree has no tile {level}/{index}", "no_such_tile")
    return tile


def _broken(error: tiles.BrokenStore) -> Response:
    """A store that is not a tree: the operator's to repair (the auditor says what is
    wrong); the caller learns only that it cannot be served."""
    log.error("the log's store is inconsistent: %s", error)
    return errors.error(500, "log_store_inconsistent", "the server cannot serve this tile")


def _binary(data: bytes, tile: Tile, scope: str) -> Response:
    lifetime = IMMUTABLE if tile.full else SHORT_LIVED
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Cache-Control": f"{scope}, {lifetime}"},
    )
