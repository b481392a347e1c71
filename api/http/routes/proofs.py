"""Proofs over the log's Merkle tree and its leaf hashes (public: hashes and sizes only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as FastAPIPath

from api.http.deps import MAX_INDEX, ServicesDep, b64, errors_doc
from api.http.errors import NotFound
from api.http.routes.schemas import ConsistencyProofOut, InclusionProofOut, LeafOut

router = APIRouter(tags=["log"])


@router.get("/v1/proofs/inclusion", response_model=InclusionProofOut, responses=errors_doc(400))
def inclusion(
    svc: ServicesDep,
    leaf_index: int = Query(ge=0, le=MAX_INDEX),
    tree_size: int = Query(ge=1, le=MAX_INDEX),
) -> InclusionProofOut:
    """RFC 9162 inclusion proof of a leaf in the tree of the given size."""
    proof = svc.ledger.inclusion_proof(leaf_index, tree_size)
    return InclusionProofOut(
        leaf_index=leaf_index, tree_size=tree_size, proof=[b64(h) for h in proof]
    )


@router.get("/v1/proofs/consistency", response_model=ConsistencyProofOut, responses=errors_doc(400))
def consistency(
    svc: ServicesDep,
    old_size: int = Query(ge=0, le=MAX_INDEX),
    new_size: int = Query(ge=1, le=MAX_INDEX),
) -> ConsistencyProofOut:
    """RFC 9162 consistency proof between two tree sizes."""
    proof = svc.ledger.consistency_proof(old_size, new_size)
    return ConsistencyProofOut(old_size=old_size, new_size=new_size, proof=[b64(h) for h in proof])


@router.get("/v1/entries/{leaf_index}", response_model=LeafOut, responses=errors_doc(404))
def entry_hash(
    svc: ServicesDep, leaf_index: Annotated[int, FastAPIPath(ge=0, le=MAX_INDEX)]
) -> LeafOut:
    """The leaf hash at an index (the entry itself needs a token)."""
    leaves = svc.ledger.tables.leaves(leaf_index, 1) if leaf_index >= 0 else []
    if not leaves or leaves[0][0] != leaf_index:
        raise NotFound(f"no entry {leaf_index}", "no_such_entry")
    return LeafOut(leaf_index=leaf_index, leaf_hash=b64(leaves[0][2]))
