"""Witness cosignatures (C2SP tlog-cosignature, Ed25519 cosignature/v1).

A cosignature is a signed-note signature line ``— NAME base64(keyhash || u64 time ||
Ed25519 signature)``, keyhash = SHA-256(NAME || "\\n" || 0x04 || public key)[:4], over
``cosignature/v1\\ntime T\\n`` followed by the checkpoint body. It states that, as of
time T, this is the largest consistent tree the witness has seen. What a witness checks
before cosigning (consistency with what it saw before) is ledger/witness.py.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass

from ledger.auditor.ed25519 import SigningKey, verify_signature
from ledger.auditor.note import (
    SIGNATURE_PREFIX,
    NoteError,
    encode_vkey,
    parse_vkey,
    split_note,
    valid_key_name,
    vkey_hash,
)

COSIGNATURE_V1 = b"\x04"
COSIGNATURE_SIZE = 4 + 8 + 64


def cosigner_key_hash(name: str, public_key: bytes) -> bytes:
    return vkey_hash(name, COSIGNATURE_V1, public_key)


@dataclass(frozen=True)
class CosignerKey:
    """A witness's public key, as the vkey ``NAME+KEYHASH+base64(0x04 || key)``."""

    name: str
    public_key: bytes

    @property
    def key_hash(self) -> bytes:
        return cosigner_key_hash(self.name, self.public_key)

    def encode(self) -> str:
        return encode_vkey(self.name, COSIGNATURE_V1, self.public_key)

    @classmethod
    def parse(cls, text: str) -> CosignerKey:
        return cls(*parse_vkey(text, COSIGNATURE_V1, "witness key"))


def cosignature_message(body: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + body.encode()


@dataclass(frozen=True)
class Cosigner:
    """A witness's signing side: `key` is a private key it holds (ledger.keys.KeyPair)."""

    name: str
    key: SigningKey

    def __post_init__(self) -> None:
        if not valid_key_name(self.name):
            raise NoteError(f"witness name {self.name!r} must be non-empty, no spaces or '+'")

    @property
    def public(self) -> CosignerKey:
        return CosignerKey(self.name, self.key.public_key)

    def cosign(self, body: str, timestamp: int) -> str:
        """The signature line to append to the checkpoint note whose text is `body`."""
        signature = self.key.sign(cosignature_message(body, timestamp))
        blob = base64.b64encode(self.public.key_hash + struct.pack(">Q", timestamp) + signature)
        return f"{SIGNATURE_PREFIX}{self.name} {blob.decode()}"


def _verified_time(body: str, raw: bytes, key: CosignerKey) -> int | None:
    """The timestamp of a cosignature/v1 by `key` (raw: keyhash || time || signature)
    if it verifies over `body`, None if it does not."""
    (timestamp,) = struct.unpack(">Q", raw[4:12])
    message = cosignature_message(body, timestamp)
    if timestamp >= 2**63 or not verify_signature(key.public_key, raw[12:], message):
        return None
    return int(timestamp)


def open_cosignature(body: str, line: str, key: CosignerKey) -> int:
    """The timestamp of `line` if it is `key`'s valid cosignature of `body`."""
    if "\n" in line:
        raise NoteError("a cosignature is one line")
    _, ((name, raw),) = split_note(body + "\n" + line + "\n")
    if name != key.name:
        raise NoteError(f"not a cosignature line by {key.name}")
    if len(raw) != COSIGNATURE_SIZE or raw[:4] != key.key_hash:
        raise NoteError(f"the line is not a cosignature/v1 by {key.name}'s key")
    timestamp = _verified_time(body, raw, key)
    if timestamp is None:
        raise NoteError(f"the cosignature by {key.name} does not verify")
    return timestamp


def cosigned_by(note: str, key: CosignerKey) -> bool | None:
    """True if `note` carries a valid cosignature by `key`, False if it carries one that
    does not verify, None if none. A malformed note raises NoteError."""
    body, signatures = split_note(note)
    for name, raw in signatures:
        if name == key.name and len(raw) == COSIGNATURE_SIZE and raw[:4] == key.key_hash:
            return _verified_time(body, raw, key) is not None
    return None


def cosigned_time(note: str, key: CosignerKey) -> int | None:
    """The time of `key`'s valid cosignature on `note`, None if it carries none that
    verifies (the auditor dates the log by it: ledger/auditor/dating.py)."""
    body, signatures = split_note(note)
    for name, raw in signatures:
        if name == key.name and len(raw) == COSIGNATURE_SIZE and raw[:4] == key.key_hash:
            return _verified_time(body, raw, key)
    return None


def note_body(note: str) -> str:
    """The text of a signed note (its body), without checking any signature."""
    text, separator, _ = note.rpartition("\n\n")
    if not separator:
        raise NoteError("not a signed note")
    return text + "\n"
