"""Issuing receipts: one signed checkpoint for a batch of appended leaves, and each
leaf's inclusion proof in it (the format and its check: ledger/auditor/receipt.py).

Not part of `Ledger.append`, which bench/ingest.py measures and bulk writers (import, the
demo) call without wanting receipts: the command layer that answers a user (the HTTP
route, the CLI's `Client`) issues them after the append returns, or, in the HTTP server,
has the ledger's group writer issue them for each group it writes (`Ledger.
finish_each_group`, api/application/checkpoints.py `ServerReceipts.attach`).

Why the checkpoints receipts carry are NOT stored in the checkpoints table: one per
request would grow the table with every append, and every stored checkpoint is exported,
re-verified by `verify` and by the auditor, and offered to witnesses. A signed checkpoint
is binding without being stored: the client holds it, and any later tree the log shows
must be consistent with it (`receipts check`). When the latest stored checkpoint already
covers exactly the current tree, it is reused and nothing new is signed; the server's
regular checkpoints (api/application/checkpoints.py) soon cover every receipt's tree.

The checkpoint is of the tree as it is when the receipt is issued, so its size is at least
every leaf's index + 1 (other writers may have appended since; the proofs are for that
size). It is signed without the append lock: stored nodes never change, so the tree of
the size read is fixed, and the log key is checked after the size was read, so a
rotation that completed before it refuses this (possibly retired) key, and one that did
not yet happened at a size no smaller (the key is valid for this size). Like every
checkpoint the log signs, it carries the post-quantum key's line too when the ledger has
one (`Ledger.checkpoint_signer`, ledger/pqkeys.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger import merkle
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.merkle import ProofError
from ledger.auditor.note import NoteSigner
from ledger.auditor.receipt import Receipt, ReceiptError, check_inclusion, verify_receipt
from ledger.service import Appended, Ledger

__all__ = [
    "Receipt",
    "ReceiptError",
    "Receipted",
    "RecentTree",
    "check_inclusion",
    "issue_receipts",
    "verify_receipt",
    "with_receipts",
]


@dataclass(frozen=True)
class Receipted(Appended):
    """An append's result with its receipt (None where none could be issued)."""

    receipt: Receipt | None = None


@dataclass(frozen=True)
class SignedTree:
    """A checkpoint signed for receipts: its tree, its note, and the log key's verifier."""

    size: int
    root: bytes
    note: str
    key: str


@dataclass
class RecentTree:
    """The tree of the receipts last issued by one issuer (`ServerReceipts`), whose note a
    later batch reuses when that tree already holds all of its leaves: the requests of one
    group of appends are answered in two or three batches of receipts, and each signed
    anew (an ML-DSA-44 signature is ~0.6 ms) although the first one's tree holds every
    entry of the group (issue 18). Used by one batch at a time (its issuer's leader)."""

    tree: SignedTree | None = None

    def holding(self, leaves: Sequence[int], signer: NoteSigner) -> SignedTree | None:
        tree = self.tree
        if tree is None or max(leaves) >= tree.size or tree.key != signer.verifier.encode():
            return None
        return tree


def issue_receipts(
    ledger: Ledger, signer: NoteSigner, leaves: Sequence[int], recent: RecentTree | None = None
) -> list[Receipt]:
    """A receipt for each leaf index, all under ONE checkpoint: of the current tree, or,
    with `recent`, of the tree of the receipts issued just before when it holds every
    leaf (any signed tree holding a leaf proves it; that one was checked as this is)."""
    if not leaves:
        return []
    reused = recent.holding(leaves, signer) if recent is not None else None
    size = ledger.tree_size() if reused is None else reused.size
    if max(leaves) >= size:
        raise ProofError(f"leaf {max(leaves)} is not in the tree of size {size} yet")
    origin = ledger.require_log_signer(signer)  # after reading the size: see above
    root, proven = merkle.proven_leaves(leaves, size, ledger.tables)
    if reused is not None and reused.root == root:
        note = reused.note
    else:
        latest = ledger.latest_checkpoint()
        if latest is not None and latest.tree_size == size and latest.root_hash == root:
            note = latest.note
        else:
            note = Checkpoint(origin, size, root).sign(ledger.checkpoint_signer(signer))
        if recent is not None:
            recent.tree = SignedTree(size, root, note, signer.verifier.encode())
    return [
        Receipt(index, leaf, note, tuple(proof))
        for index, (leaf, proof) in zip(leaves, proven, strict=True)
    ]


def with_receipts(
    ledger: Ledger,
    signer: NoteSigner,
    appended: Sequence[Appended],
    recent: RecentTree | None = None,
) -> list[Receipted]:
    """The results of one append with their receipts (one checkpoint signature)."""
    receipts = issue_receipts(ledger, signer, [a.leaf_index for a in appended], recent)
    return [receipted(a, r) for a, r in zip(appended, receipts, strict=True)]


def receipted(appended: Appended, receipt: Receipt | None) -> Receipted:
    return Receipted(
        appended.leaf_index,
        appended.notification_id,
        appended.type,
        appended.aggregate_id,
        appended.version,
        receipt,
    )
