"""The log's post-quantum signature: ML-DSA-44 (FIPS 204) signature lines on C2SP signed notes.

The witness network requires Ed25519, so every checkpoint keeps its Ed25519 line; a log
that has a post-quantum key (ledger/pqkeys.py) adds a second line by that key, so that a
verifier who pins it can still tell the log's checkpoints from forgeries once Ed25519 can
be broken. Who does not know the key ignores the line: C2SP signed-note says "verifiers
MUST ignore signatures from unknown keys", and Go's note.Open puts it in UnverifiedSigs
(tests/interop/test_go_note.py), so Ed25519 verifiers, witnesses and Go are unaffected.

**The signature type.** C2SP signed-note assigns ML-DSA no byte (0x01 Ed25519, 0x02
ECDSA, 0x04 timestamped cosignatures, 0x05 RFC 6962 tree heads); it reserves 0xff "for
signature types without an identifier byte assigned by this specification", to be
followed by "a longer identifier that is unlikely to collide". So this type is the 28
bytes ``0xff || "inquiry-ledger/ml-dsa-44/v1"`` (ASCII, no terminator)::

    ff 69 6e 71 75 69 72 79 2d 6c 65 64 67 65 72 2f 6d 6c 2d 64 73 61 2d 34 34 2f 76 31

the project's name (no one else's private type is spelled so by accident), the FIPS 204
parameter set (an ML-DSA-65 key would be another type) and v1, the construction below
(a change, such as a context string or HashML-DSA, would be a new identifier, so new key
ids, never a second meaning of the same key). Should C2SP assign ML-DSA-44 a byte, that
is a type beside this one (another key id): nothing signed under this one changes meaning.

- key ID = SHA-256(name || 0x0A || TYPE || public key)[:4], the public key in its
  1,312-byte FIPS 204 encoding; verifier key ``NAME+HEX8(key ID)+BASE64(TYPE || public
  key)`` (1,340 bytes before base64);
- signature line ``— NAME BASE64(key ID || signature)``: the 2,420-byte signature of pure
  ML-DSA-44 (FIPS 204 ML-DSA.Sign) over the note text, the very bytes the Ed25519 line
  signs, with the empty context string. Signing is hedged (randomised), as FIPS 204
  recommends, so two signatures of one checkpoint differ; both verify.

A verifier that knows the key (its name and key ID match) verifies its line, and a line
that does not verify refuses the note (`open_pq_note`), as C2SP says.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PublicKey

from ledger.auditor.note import (
    SIGNATURE_PREFIX,
    NoteError,
    encode_vkey,
    parse_vkey,
    split_note,
    valid_key_name,
    vkey_hash,
)

ALGORITHM = "ML-DSA-44"
#: The signature type: C2SP's private-use escape 0xff and this identifier (see above).
MLDSA44 = b"\xff" + b"inquiry-ledger/ml-dsa-44/v1"
PUBLIC_KEY_SIZE = 1312
SIGNATURE_SIZE = 2420


class PQSigningKey(Protocol):
    """What signing needs of an ML-DSA-44 private key its owner holds (ledger.keys)."""

    @property
    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


@functools.lru_cache(maxsize=1)
def mldsa_supported() -> bool:
    """Whether this `cryptography` (its OpenSSL) does ML-DSA-44 at all."""
    try:
        MLDSA44PublicKey.from_public_bytes(bytes(PUBLIC_KEY_SIZE))
    except UnsupportedAlgorithm:
        return False
    return True


def _require_support() -> None:
    if not mldsa_supported():
        raise NoteError(
            f"this cryptography (its OpenSSL) cannot verify {ALGORITHM}: install cryptography "
            "50 or later from its wheels"
        )


@functools.lru_cache(maxsize=64)
def _loaded(public_key: bytes) -> MLDSA44PublicKey:
    return MLDSA44PublicKey.from_public_bytes(public_key)  # once per key, not per note


def verify_mldsa(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """True when `signature` is a valid ML-DSA-44 signature of `message` (empty context)."""
    _require_support()
    try:
        _loaded(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def pq_key_hash(name: str, public_key: bytes) -> bytes:
    return vkey_hash(name, MLDSA44, public_key)


@dataclass(frozen=True)
class PQVerifierKey:
    """The log's ML-DSA-44 verifier key, ``NAME+KEYHASH+BASE64(MLDSA44 || key)``."""

    name: str
    public_key: bytes

    @property
    def key_hash(self) -> bytes:
        return pq_key_hash(self.name, self.public_key)

    @property
    def label(self) -> str:
        """NAME+KEYHASH: how messages name the key."""
        return f"{self.name}+{self.key_hash.hex()}"

    def encode(self) -> str:
        return encode_vkey(self.name, MLDSA44, self.public_key)

    @classmethod
    def parse(cls, text: str) -> PQVerifierKey:
        name, public_key = parse_vkey(
            text,
            MLDSA44,
            "post-quantum verifier key",
            key_size=PUBLIC_KEY_SIZE,
            algorithm=ALGORITHM,
        )
        _require_support()
        try:
            _loaded(public_key)
        except ValueError as error:
            raise NoteError(f"not an {ALGORITHM} public key: {error}") from None
        return cls(name, public_key)


def parse_pq_key_file(text: str) -> PQVerifierKey:
    """A pinned post-quantum key file: one verifier key (blank lines are skipped)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise NoteError(
            f"a post-quantum log key file holds one {ALGORITHM} verifier key, not {len(lines)}"
        )
    return PQVerifierKey.parse(lines[0])


@dataclass(frozen=True)
class PQSigner:
    """Adds the ML-DSA-44 line to a note signed as `name` (a NoteSigner's `also`)."""

    name: str
    key: PQSigningKey

    def __post_init__(self) -> None:
        if not valid_key_name(self.name):
            raise NoteError(f"note signer name {self.name!r} must be non-empty, no spaces or '+'")

    @property
    def verifier(self) -> PQVerifierKey:
        return PQVerifierKey(self.name, self.key.public_key)

    def signature_line(self, text: str) -> str:
        signature = self.key.sign(text.encode())
        blob = base64.b64encode(self.verifier.key_hash + signature).decode()
        return f"{SIGNATURE_PREFIX}{self.name} {blob}\n"


def pq_signed(note: str, key: PQVerifierKey) -> bool | None:
    """True if `note` carries a valid ML-DSA-44 signature by `key`, False if it carries one
    that does not verify, None if none. A malformed note raises NoteError."""
    text, signatures = split_note(note)
    for name, raw in signatures:
        if name != key.name or len(raw) != 4 + SIGNATURE_SIZE or raw[:4] != key.key_hash:
            continue
        return verify_mldsa(key.public_key, raw[4:], text.encode())
    return None


def open_pq_note(note: str, key: PQVerifierKey) -> str:
    """The note's text if it carries a valid ML-DSA-44 signature by `key`; NoteError if
    it carries none, or one that does not verify. Other lines are ignored (but must be
    well formed, as split_note checks)."""
    signed = pq_signed(note, key)
    if signed is None:
        raise NoteError(f"it carries no {ALGORITHM} signature by {key.label}")
    if not signed:
        raise NoteError(f"the {ALGORITHM} signature by {key.label} does not verify")
    return note_text(note)


def note_text(note: str) -> str:
    text, _ = split_note(note)
    return text
