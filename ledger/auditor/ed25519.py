"""Ed25519 public keys, key ids and signature checks: the verifying half of ledger/keys.py.

A key is named by its key id: the first 16 hex digits of SHA-256 over the raw 32-byte
public key, short enough to read aloud at a sign-off meeting and long enough that a
collision between honest keys is not a concern (a forged collision would still need a
valid signature under the registered key). Private keys never come here: signing code
takes any `SigningKey` (ledger/keys.py's KeyPair is one).

A public key is accepted only if it is the one encoding RFC 8032 gives a point of the
curve (`decode_public_key`) and that point is not of small order: see `check_point`.
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


class PublicKeyError(FormatError):
    """Text or bytes that are not an acceptable Ed25519 public key."""


def decode_public_key(text: object) -> bytes:
    """The raw 32 bytes of a public key given as base64 text, refusing any text that is
    not the key's one spelling (canonical base64 of the canonical point encoding) and any
    point of small order (`check_point`)."""
    raw = decode_base64(text, "public key")
    if len(raw) != PUBLIC_KEY_SIZE:
        raise PublicKeyError(f"an Ed25519 public key is 32 bytes, got {len(raw)}")
    if base64.b64encode(raw).decode("ascii") != text:
        raise PublicKeyError("public key is not in canonical base64")
    check_point(raw)
    return raw


# -- RFC 8032 point decoding, in Python integers ---------------------------------------

_P = 2**255 - 19
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)  # a square root of -1 mod p


@functools.lru_cache(maxsize=4096)
def check_point(public_key: bytes) -> None:
    """Raise PublicKeyError unless `public_key` is the canonical RFC 8032 encoding of a
    curve point P with [8]P != identity.

    Why: Ed25519 verification as cryptography (OpenSSL) does it checks [S]B = R + [k]A and
    nothing about the key A. If A is the identity, [k]A vanishes whatever the message, so
    the "signature" R = identity, S = 0 verifies for *every* message under that key
    (tests/ledger/test_public_keys.py shows it); a key of any small order (the eight
    points of the torsion subgroup, [8]A = identity) lets anyone forge after a few
    guesses. Whoever registers such a key, an administrator or an operator writing the
    log, would make an identity whose every statement anyone can sign. A key that is
    not canonical (y >= p, or x = 0 with the sign bit set) is refused too: it is a second
    spelling of a point, so a second key id for one key, and OpenSSL reduces it silently.

    Decoding is RFC 8032 section 5.1.3; [8]P is three doublings. Cached per key, since
    the ledger decodes a signer's key for each of its entries."""
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise PublicKeyError(f"an Ed25519 public key is 32 bytes, got {len(public_key)}")
    encoded = int.from_bytes(public_key, "little")
    sign, y = encoded >> 255, encoded & ((1 << 255) - 1)
    if y >= _P:
        raise PublicKeyError("public key is not a canonical point encoding (y >= p)")
    x = _recover_x(y, sign)
    point = (x, y, 1, x * y % _P)  # extended coordinates (X:Y:Z:T), x = X/Z, y = Y/Z
    for _ in range(3):
        point = _double(point)
    if _is_identity(point):
        raise PublicKeyError(
            "public key is a point of small order (anyone could sign as its holder)"
        )


def _recover_x(y: int, sign: int) -> int:
    """x from y and its sign bit (RFC 8032 5.1.3 steps 2-4), or PublicKeyError."""
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    vxx = v * x * x % _P
    if vxx == (-u) % _P:
        x = x * _SQRT_M1 % _P
    elif vxx != u:
        raise PublicKeyError("public key is not a point on the curve")
    if x == 0 and sign:
        raise PublicKeyError("public key is not a canonical point encoding (x = 0, sign 1)")
    if x & 1 != sign:
        x = _P - x
    return x


def _double(point: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """2P in extended coordinates (RFC 8032 5.1.4, "dbl-2008-hwcd" for a = -1)."""
    x1, y1, z1, _ = point
    a = x1 * x1 % _P
    b = y1 * y1 % _P
    c = 2 * z1 * z1 % _P
    h = (a + b) % _P
    e = (h - (x1 + y1) * (x1 + y1)) % _P
    g = (a - b) % _P
    f = (c + g) % _P
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _is_identity(point: tuple[int, int, int, int]) -> bool:
    x, y, z, _ = point
    return x % _P == 0 and (y - z) % _P == 0


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
