"""Ed25519 public keys, key ids and signature checks: the verifying half of ledger/keys.py.

A key is named by its key id: the first 16 hex digits of SHA-256 over the raw 32-byte
public key, short enough to read aloud at a sign-off meeting and long enough that a
collision between honest keys is not a concern (a forged collision would still need a
valid signature under the registered key). Private keys never come here: signing code
takes any `SigningKey` (ledger/keys.py's KeyPair is one).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.auditor.errors import FormatError

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64


class SigningKey(Protocol):
    """What signing code needs of a private key held by its owner."""

    @property
    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


def public_key_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_for(public_key: bytes) -> str:
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise FormatError("an Ed25519 public key is 32 bytes")
    return hashlib.sha256(public_key).hexdigest()[:16]


def encode_public_key(public_key: bytes) -> str:
    return base64.b64encode(public_key).decode("ascii")


def decode_base64(text: object, what: str) -> bytes:
    """Strict base64 (the standard alphabet, padded, nothing else) of a text field."""
    if not isinstance(text, str):
        raise FormatError(f"{what} must be base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"{what} is not valid base64") from None


def decode_public_key(text: object) -> bytes:
    raw = decode_base64(text, "public key")
    if len(raw) != PUBLIC_KEY_SIZE:
        raise FormatError(f"an Ed25519 public key is 32 bytes, got {len(raw)}")
    return raw


@functools.lru_cache(maxsize=4096)
def _loaded(public_key: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(public_key)  # once per key, not per entry


def verify_signature(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """True when `signature` is a valid Ed25519 signature of `message` under `public_key`."""
    try:
        _loaded(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
