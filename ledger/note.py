"""C2SP signed notes, checkpoints (tlog-checkpoint) and their Ed25519 signatures.

A checkpoint body is three lines: the log's origin, the tree size in decimal, and the
base64 root hash. A signed note is the body, a blank line, then one line per signature:
``— NAME BASE64(KEYHASH || SIGNATURE)`` where KEYHASH is the first 4 bytes of
SHA-256(NAME || 0x0A || 0x01 || PUBLIC_KEY) for Ed25519 (signature type 0x01). The
verifier key is written ``NAME+HEX(KEYHASH)+BASE64(0x01 || PUBLIC_KEY)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from ledger.keys import KeyPair, verify_signature

ED25519 = b"\x01"
SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space


class NoteError(ValueError):
    """A note, checkpoint or verifier key that is malformed or does not verify."""


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_hash(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public_key).digest()[:4]


@dataclass(frozen=True)
class VerifierKey:
    name: str
    public_key: bytes

    @property
    def key_hash(self) -> bytes:
        return key_hash(self.name, self.public_key)

    def encode(self) -> str:
        blob = base64.b64encode(ED25519 + self.public_key).decode()
        return f"{self.name}+{self.key_hash.hex()}+{blob}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        parts = text.strip().split("+", 2)  # the base64 key may itself contain "+"
        if len(parts) != 3 or not _valid_name(parts[0]):
            raise NoteError("a verifier key is NAME+KEYHASH+KEY")
        name, hash_hex, blob = parts
        if len(hash_hex) != 8 or not all(c in "0123456789abcdef" for c in hash_hex):
            raise NoteError("a verifier key's hash is 8 lowercase hex digits")
        try:
            raw = base64.b64decode(blob, validate=True)
        except binascii.Error:
            raise NoteError("verifier key is not valid base64") from None
        if base64.b64encode(raw).decode() != blob:
            raise NoteError("verifier key is not in canonical base64")
        expected_hash = bytes.fromhex(hash_hex)
        if len(raw) != 33 or raw[:1] != ED25519:
            raise NoteError("only Ed25519 verifier keys are supported")
        key = cls(name, raw[1:])
        if key.key_hash != expected_hash:
            raise NoteError("verifier key hash does not match its name and key")
        return key


@dataclass(frozen=True)
class NoteSigner:
    name: str
    key: KeyPair

    def __post_init__(self) -> None:
        if not _valid_name(self.name):
            raise NoteError(f"note signer name {self.name!r} must be non-empty, no spaces or '+'")

    @property
    def verifier(self) -> VerifierKey:
        return VerifierKey(self.name, self.key.public_key)

    def signature_line(self, text: str) -> str:
        signature = self.key.sign(text.encode())
        blob = base64.b64encode(self.verifier.key_hash + signature).decode()
        return f"{SIGNATURE_PREFIX}{self.name} {blob}\n"


def sign_note(text: str, signer: NoteSigner) -> str:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    return text + "\n" + signer.signature_line(text)


def open_note(note: str, verifier: VerifierKey) -> str:
    """Return the note's text if `verifier` signed it; otherwise raise NoteError.

    Signature lines from other keys are ignored (a checkpoint may carry cosignatures),
    but every line must be well formed, as C2SP signed-note and Go's note.Open require:
    no control characters but newline, and the signature block ends in a newline."""
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise NoteError("a note may not contain control characters")
    text, separator, signatures = note.rpartition("\n\n")
    if not separator or not signatures.endswith("\n"):
        raise NoteError("a signed note is text, a blank line, then newline-ended signatures")
    text += "\n"
    lines = signatures[:-1].split("\n")
    parsed: list[tuple[str, bytes]] = []
    for line in lines:
        name, space, blob = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
        if not line.startswith(SIGNATURE_PREFIX) or not space or not _valid_name(name):
            raise NoteError(f"malformed signature line: {line[:80]!r}")
        try:
            raw = base64.b64decode(blob, validate=True)
        except binascii.Error:
            raise NoteError("signature is not valid base64") from None
        if len(raw) < 5:
            raise NoteError("signature line is too short")
        parsed.append((name, raw))
    for name, raw in parsed:
        if name != verifier.name or len(raw) != 4 + 64 or raw[:4] != verifier.key_hash:
            continue
        if verify_signature(verifier.public_key, raw[4:], text.encode()):
            return text
        raise NoteError(f"the signature by {name} does not verify")
    raise NoteError(f"the note carries no signature by {verifier.name}")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root_hash).decode()}\n"

    def sign(self, signer: NoteSigner) -> str:
        return sign_note(self.body(), signer)

    @classmethod
    def parse_body(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint body is origin, size and root hash, one per line")
        origin, size_text, root_text = lines[0], lines[1], lines[2]
        if not origin or not size_text.isdigit() or (size_text != "0" and size_text[0] == "0"):
            raise NoteError("checkpoint origin or size is malformed")
        try:
            root = base64.b64decode(root_text, validate=True)
        except binascii.Error:
            raise NoteError("checkpoint root hash is not base64") from None
        if len(root) != 32:
            raise NoteError("checkpoint root hash must be 32 bytes")
        return cls(origin, int(size_text), root)

    @classmethod
    def verify(cls, note: str, verifier: VerifierKey) -> Checkpoint:
        """Parse a signed checkpoint, requiring a valid signature by `verifier`."""
        return cls.parse_body(open_note(note, verifier))
