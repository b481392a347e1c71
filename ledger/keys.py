"""Private keys, held by their owners: users' Ed25519 keys and the log's two keys.

A user's private key lives in a file on the user's side (PKCS#8 PEM, mode 0600); the
ledger only ever holds public keys, registered by signed events. Key ids, public-key
encoding and signature checks are the verifying half, in ledger/auditor/ed25519.py. The
log's post-quantum key (`PQKeyPair`, ML-DSA-44: ledger/auditor/mldsa.py) is kept the
same way: PKCS#8 PEM (its 32-byte seed form), mode 0600, never overwritten.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey

from ledger.auditor.ed25519 import key_id_for, public_key_bytes


class KeyFileError(ValueError):
    """A key file is missing, unreadable, too permissive or not the kind of key asked for."""


@dataclass(frozen=True)
class KeyPair:
    """A private key held by its owner, with the identifiers the ledger knows it by."""

    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> KeyPair:
        return cls(Ed25519PrivateKey.generate())

    @property
    def public_key(self) -> bytes:
        return public_key_bytes(self.private_key.public_key())

    @property
    def key_id(self) -> str:
        return key_id_for(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    def write(self, path: Path) -> None:
        """Write the private key as PKCS#8 PEM, readable by the owner only; never overwrite."""
        _write_private(path, self.private_key)

    @classmethod
    def read(cls, path: Path) -> KeyPair:
        key = _read_private(path)
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(f"{path} is not an Ed25519 private key")
        return cls(key)


@dataclass(frozen=True)
class PQKeyPair:
    """The log's ML-DSA-44 private key (ledger/pqkeys.py), held where the log key is."""

    private_key: MLDSA44PrivateKey

    @classmethod
    def generate(cls) -> PQKeyPair:
        return cls(MLDSA44PrivateKey.generate())

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes_raw()

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    def write(self, path: Path) -> None:
        """As KeyPair.write: PKCS#8 PEM, mode 0600, never over an existing file."""
        _write_private(path, self.private_key)

    @classmethod
    def read(cls, path: Path) -> PQKeyPair:
        key = _read_private(path)
        if not isinstance(key, MLDSA44PrivateKey):
            raise KeyFileError(f"{path} is not an ML-DSA-44 private key")
        return cls(key)


def _write_private(path: Path, key: Ed25519PrivateKey | MLDSA44PrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} already exists; refusing to overwrite a key") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def _read_private(path: Path) -> object:
    """The private key in `path`, refusing a file others may read."""
    try:
        mode = path.stat().st_mode & 0o777
        data = path.read_bytes()
    except OSError as error:
        raise KeyFileError(f"cannot read key file {path}: {error.strerror}") from None
    if mode & 0o077:
        raise KeyFileError(
            f"key file {path} is readable by others (mode {mode:o}); run: chmod 600 {path}"
        )
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise KeyFileError(f"{path} is not an unencrypted PKCS#8 PEM private key") from None
    except UnsupportedAlgorithm:
        raise KeyFileError(f"{path}: this cryptography cannot load its algorithm") from None
