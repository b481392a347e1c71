"""Witness cosigning (C2SP tlog-cosignature, Ed25519 cosignature/v1).

A witness (the inquiry chair, a scrutiny committee) keeps the last checkpoint it cosigned.
Each visit it fetches the log's latest checkpoint, checks the log key's signature, and
accepts it only if it extends what the witness saw before: a consistency proof from the
old size to the new one must verify. A smaller size is a rollback; the same size with
another root, or a proof that fails, is a split view (the log has shown two histories).
Only then does it cosign: a statement that, as of its timestamp, this is the largest
consistent tree the witness has seen. Cosignatures are published beside the checkpoint,
so a reader can require a quorum of independent witnesses before trusting a checkpoint.

Cosignature format: a signed-note signature line ``— NAME base64(keyhash || u64 time ||
Ed25519 signature)``, keyhash = SHA-256(NAME || "\\n" || 0x04 || public key)[:4], over
``cosignature/v1\\ntime T\\n`` followed by the checkpoint body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ledger import merkle
from ledger.keys import KeyPair, verify_signature
from ledger.logkeys import LogKeys, verify_checkpoint
from ledger.note import SIGNATURE_PREFIX, Checkpoint, NoteError, VerifierKey

COSIGNATURE_V1 = b"\x04"


class WitnessError(Exception):
    """The log's checkpoint cannot be cosigned."""


class SplitView(WitnessError):
    """Two signed checkpoints that cannot both be true: the log forked its history."""

    def __init__(self, message: str, seen: str, shown: str) -> None:
        super().__init__(message)
        self.seen = seen
        self.shown = shown


def cosigner_key_hash(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + COSIGNATURE_V1 + public_key).digest()[:4]


@dataclass(frozen=True)
class CosignerKey:
    """A witness's public key, as the vkey ``NAME+KEYHASH+base64(0x04 || key)``."""

    name: str
    public_key: bytes

    @property
    def key_hash(self) -> bytes:
        return cosigner_key_hash(self.name, self.public_key)

    def encode(self) -> str:
        blob = base64.b64encode(COSIGNATURE_V1 + self.public_key).decode()
        return f"{self.name}+{self.key_hash.hex()}+{blob}"

    @classmethod
    def parse(cls, text: str) -> CosignerKey:
        parts = text.strip().split("+", 2)
        if len(parts) != 3 or not parts[0] or any(c.isspace() for c in parts[0]):
            raise NoteError("a witness key is NAME+KEYHASH+KEY")
        name, hash_hex, blob = parts
        try:
            raw = base64.b64decode(blob, validate=True)
        except binascii.Error:
            raise NoteError("witness key is not valid base64") from None
        if len(raw) != 33 or raw[:1] != COSIGNATURE_V1:
            raise NoteError("a witness key must be an Ed25519 cosignature/v1 key (type 0x04)")
        key = cls(name, raw[1:])
        if key.key_hash.hex() != hash_hex:
            raise NoteError("witness key hash does not match its name and key")
        return key


def _message(body: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + body.encode()


@dataclass(frozen=True)
class Cosigner:
    name: str
    key: KeyPair

    @property
    def public(self) -> CosignerKey:
        return CosignerKey(self.name, self.key.public_key)

    def cosign(self, body: str, timestamp: int) -> str:
        """The signature line to append to the checkpoint note whose text is `body`."""
        signature = self.key.sign(_message(body, timestamp))
        blob = base64.b64encode(self.public.key_hash + struct.pack(">Q", timestamp) + signature)
        return f"{SIGNATURE_PREFIX}{self.name} {blob.decode()}"


def open_cosignature(body: str, line: str, key: CosignerKey) -> int:
    """The timestamp of `line` if it is `key`'s valid cosignature of `body`."""
    name, space, blob = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
    if not line.startswith(SIGNATURE_PREFIX) or not space or name != key.name:
        raise NoteError(f"not a cosignature line by {key.name}")
    try:
        raw = base64.b64decode(blob, validate=True)
    except binascii.Error:
        raise NoteError("cosignature is not valid base64") from None
    if len(raw) != 4 + 8 + 64 or raw[:4] != key.key_hash:
        raise NoteError(f"the line is not a cosignature/v1 by {key.name}'s key")
    (timestamp,) = struct.unpack(">Q", raw[4:12])
    if timestamp >= 2**63 or not verify_signature(
        key.public_key, raw[12:], _message(body, timestamp)
    ):
        raise NoteError(f"the cosignature by {key.name} does not verify")
    return int(timestamp)


def note_body(note: str) -> str:
    text, separator, _ = note.rpartition("\n\n")
    if not separator:
        raise NoteError("not a signed note")
    return text + "\n"


def check_extends(
    shown_note: str,
    seen_note: str | None,
    log_key: VerifierKey | LogKeys,
    consistency_proof: Callable[[int, int], Sequence[bytes]],
) -> Checkpoint:
    """The checkpoint in `shown_note` if it may be cosigned after `seen_note`.

    `log_key` is the pinned key, or after a rotation the pinned keys (ledger/logkeys.py).
    Raises SplitView for the same size with another root or a failing consistency proof,
    WitnessError for a rollback, another origin or a note the log key did not sign."""
    try:
        shown = verify_checkpoint(shown_note, log_key)
    except NoteError as error:
        raise WitnessError(f"the log's checkpoint does not verify: {error}") from None
    if seen_note is None:
        return shown  # trust on first use: the witness has no history yet
    seen = verify_checkpoint(seen_note, log_key)
    if shown.origin != seen.origin:
        raise WitnessError(f"checkpoint for {shown.origin}, this witness follows {seen.origin}")
    if shown.size < seen.size:
        raise WitnessError(
            f"rollback: the log shows size {shown.size}, this witness already cosigned {seen.size}"
        )
    if shown.size == seen.size:
        if shown.root_hash != seen.root_hash:
            raise SplitView(
                f"SPLIT VIEW: two signed checkpoints of size {shown.size} with different roots",
                seen_note,
                shown_note,
            )
        return shown
    proof = consistency_proof(seen.size, shown.size)
    if not merkle.verify_consistency(seen.size, shown.size, seen.root_hash, shown.root_hash, proof):
        raise SplitView(
            f"SPLIT VIEW: checkpoint {shown.size} does not extend checkpoint {seen.size} "
            "(the consistency proof fails: history before it was changed)",
            seen_note,
            shown_note,
        )
    return shown


class WitnessState:
    """The witness's memory, on its own machine: the last checkpoint it cosigned, and any
    split view it has caught (kept as evidence: both notes are signed by the log key)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def latest_path(self) -> Path:
        return self.folder / "latest-cosigned.note"

    def latest(self) -> str | None:
        return self.latest_path.read_text() if self.latest_path.exists() else None

    def save(self, note: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.latest_path.with_suffix(".tmp")
        temporary.write_text(note)
        temporary.replace(self.latest_path)

    def record_split_view(self, error: SplitView) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = self.folder / f"split-view-{stamp}.txt"
        self.folder.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"{error}\n\n--- cosigned earlier ---\n{error.seen}\n--- shown now ---\n{error.shown}"
        )
        return path
