"""The proof material behind a public page: one checkpoint, the witnesses' cosignatures,
and each entry the page shows with its inclusion proof, so a reader's browser (or
`inquiry-ledger public-check`) can check every fact against the log's key and the
witnesses' keys without trusting the server that sent them.

Which checkpoint: the newest the log has signed. Witnesses cosign a checkpoint some
seconds after it is signed, so the newest often has no cosignature yet; then the
material also carries the newest *cosigned* checkpoint and the consistency proof from
it to the newest, and the reader checks that the cosigned tree is a prefix of the one
the page was built from (RFC 9162 2.1.4). A page built from a checkpoint no witness has
seen is still checked against the log key, and says that no witness vouches for it.

Entries travel exactly as stored (base64 of the signed entry's bytes): the reader
hashes them itself, so a fact cannot be shown with a proof of some other leaf.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ledger.service import Ledger
from ledger.storage import StoredCheckpoint

FORMAT = "inquiry-ledger/public-proofs/v1"


@dataclass(frozen=True)
class PageCheckpoint:
    """The checkpoint a public view is cut at, and the newest one witnesses cosigned."""

    newest: StoredCheckpoint
    cosigned: StoredCheckpoint | None
    cosignature_lines: tuple[str, ...]

    @property
    def size(self) -> int:
        return self.newest.tree_size


def page_checkpoint(ledger: Ledger) -> PageCheckpoint | None:
    """The checkpoint public pages are built from now (None: the log has none yet)."""
    newest = ledger.latest_checkpoint()
    if newest is None:
        return None
    by_size: dict[int, list[str]] = {}
    for size, _key, line in ledger.tables.cosignatures():
        if size <= newest.tree_size:
            by_size.setdefault(size, []).append(line)
    if not by_size:
        return PageCheckpoint(newest, None, ())
    size = max(by_size)
    cosigned = newest if size == newest.tree_size else _checkpoint_of(ledger, size)
    if cosigned is None:  # a cosignature of a checkpoint the log does not hold
        return PageCheckpoint(newest, None, ())
    return PageCheckpoint(newest, cosigned, tuple(by_size[size]))


def proof_material(ledger: Ledger, at: PageCheckpoint, leaves: Iterable[int]) -> dict[str, Any]:
    """The JSON a reader checks: the checkpoint(s), the consistency proof between them,
    and every listed leaf's stored entry with its inclusion proof under `at.size`."""
    size = at.size
    wanted = sorted({leaf for leaf in leaves if 0 <= leaf < size})
    entries = []
    for leaf in wanted:
        found = ledger.leaf_entries(leaf, leaf + 1)
        if not found:
            continue  # not integrated: cannot happen below a signed checkpoint
        proof = ledger.inclusion_proof(leaf, size)
        entries.append(
            {
                "leaf_index": leaf,
                "entry": base64.b64encode(found[0][1]).decode("ascii"),
                "proof": [base64.b64encode(node).decode("ascii") for node in proof],
            }
        )
    cosigned: dict[str, Any] | None = None
    if at.cosigned is not None:
        consistency = (
            []
            if at.cosigned.tree_size == size
            else ledger.consistency_proof(at.cosigned.tree_size, size)
        )
        cosigned = {
            "tree_size": at.cosigned.tree_size,
            "note": at.cosigned.note + "".join(line + "\n" for line in at.cosignature_lines),
            "consistency": [base64.b64encode(node).decode("ascii") for node in consistency],
        }
    return {
        "format": FORMAT,
        "checkpoint": {"tree_size": size, "note": at.newest.note},
        "cosigned": cosigned,
        "entries": entries,
    }


def _checkpoint_of(ledger: Ledger, size: int) -> StoredCheckpoint | None:
    tables = ledger.tables
    with tables.reading() as cursor:
        cursor.execute(tables.sql("SELECT * FROM ledger_checkpoints WHERE tree_size = ?"), (size,))
        row = cursor.fetchone()
    if row is None:
        return None
    return StoredCheckpoint(
        int(row["tree_size"]), bytes(row["root_hash"]), str(row["note"]), str(row["created_at"])
    )
