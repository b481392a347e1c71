"""Receipts: the log's signed answer to an accepted append, and how to check one.

A receipt names one leaf (its index and RFC 9162 leaf hash), carries a checkpoint the log
key signed right after the append (so its size is at least ``leaf_index + 1``) and the
inclusion proof of the leaf in that checkpoint's tree. Its JSON form::

    {"format": "inquiry-ledger/receipt/v1", "leaf_index": 12,
     "leaf_hash": "<base64>", "checkpoint": "<C2SP signed note>",
     "inclusion_proof": ["<base64>", ...]}

Why the client keeps it: the checkpoint is the log key's signature over a tree that holds
the client's entry, so the operator can never later show a log without that entry at that
place (dropping it, or rewriting anything before it) without either a consistency proof
from this checkpoint that fails, or a second signed tree of the same size: evidence the
client holds. It lives here, in the trusted base, because the format and its check are
things an auditor runs without the rest of the project (stdlib and `cryptography` only).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.errors import FormatError
from ledger.auditor.merkle import HASH_SIZE, leaf_hash, verify_inclusion
from ledger.auditor.note import NoteError, VerifierKey, decode_canonical_base64, split_note
from ledger.auditor.rotation import LogKeys, verify_checkpoint

RECEIPT_FORMAT = "inquiry-ledger/receipt/v1"
MEMBERS = {"format", "leaf_index", "leaf_hash", "checkpoint", "inclusion_proof"}
MAX_INDEX = 2**53 - 1  # JSON-safe integers, as everywhere else in the ledger's formats
MAX_PROOF = 64  # an RFC 9162 path in a tree of fewer than 2**64 leaves


class ReceiptError(FormatError):
    """A receipt that is malformed, or that does not prove what it claims."""


@dataclass(frozen=True)
class Receipt:
    leaf_index: int
    leaf_hash: bytes
    checkpoint: str  # the signed note, exactly as the log key signed it
    inclusion_proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": RECEIPT_FORMAT,
            "leaf_index": self.leaf_index,
            "leaf_hash": _b64(self.leaf_hash),
            "checkpoint": self.checkpoint,
            "inclusion_proof": [_b64(h) for h in self.inclusion_proof],
        }

    @classmethod
    def from_json(cls, obj: Any) -> Receipt:
        """Parse strictly: exactly the members above, canonical base64, 32-byte hashes."""
        if not isinstance(obj, dict) or set(obj) != MEMBERS:
            raise ReceiptError(f"a receipt has exactly the members {sorted(MEMBERS)}")
        if obj["format"] != RECEIPT_FORMAT:
            raise ReceiptError(f"not a receipt in the format {RECEIPT_FORMAT}")
        index, note, proof = obj["leaf_index"], obj["checkpoint"], obj["inclusion_proof"]
        if type(index) is not int or not 0 <= index <= MAX_INDEX:
            raise ReceiptError("a receipt's leaf_index is a non-negative integer")
        if not isinstance(note, str):
            raise ReceiptError("a receipt's checkpoint is a signed note")
        if not isinstance(proof, list) or len(proof) > MAX_PROOF:
            raise ReceiptError(f"a receipt's inclusion_proof is a list of at most {MAX_PROOF}")
        return cls(
            index,
            _hash(obj["leaf_hash"], "leaf_hash"),
            note,
            tuple(_hash(h, "inclusion proof hash") for h in proof),
        )

    def claimed_checkpoint(self) -> Checkpoint:
        """The checkpoint the note states, its signature NOT checked (verify_receipt does)."""
        try:
            return Checkpoint.parse_body(split_note(self.checkpoint)[0])
        except NoteError as error:
            raise ReceiptError(f"the receipt's checkpoint: {error}") from None


def check_inclusion(receipt: Receipt, entry: bytes | None = None) -> Checkpoint:
    """The receipt's (unverified) checkpoint if its proof places the leaf in that tree,
    and, with `entry`, if the leaf is that entry's bytes. What a client checks the moment
    it is answered, before it has a pinned log key; ReceiptError otherwise."""
    checkpoint = receipt.claimed_checkpoint()
    if entry is not None and leaf_hash(entry) != receipt.leaf_hash:
        raise ReceiptError(f"receipt for leaf {receipt.leaf_index} is not for this entry")
    if not verify_inclusion(
        receipt.leaf_index,
        checkpoint.size,
        receipt.leaf_hash,
        receipt.inclusion_proof,
        checkpoint.root_hash,
    ):
        raise ReceiptError(
            f"the inclusion proof does not place leaf {receipt.leaf_index} in the tree of "
            f"size {checkpoint.size} its checkpoint signs"
        )
    return checkpoint


def verify_receipt(
    receipt: Receipt, log_keys: VerifierKey | LogKeys, entry: bytes | None = None
) -> Checkpoint:
    """The receipt's checkpoint, if a pinned log key signed it (within that key's period,
    across rotations) and its inclusion proof holds; ReceiptError otherwise."""
    try:
        verify_checkpoint(receipt.checkpoint, log_keys)
    except NoteError as error:
        raise ReceiptError(f"the receipt's checkpoint does not verify: {error}") from None
    return check_inclusion(receipt, entry)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _hash(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise ReceiptError(f"a receipt's {what} is base64 text")
    try:
        raw = decode_canonical_base64(text, what)
    except NoteError as error:
        raise ReceiptError(str(error)) from None
    if len(raw) != HASH_SIZE:
        raise ReceiptError(f"a receipt's {what} is {HASH_SIZE} bytes")
    return raw
