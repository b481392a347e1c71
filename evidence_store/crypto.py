"""Client-side encryption of evidence: one data key per blob, streamed AES-256-GCM.

Format (the object store only ever sees this): a 16-byte header, then chunks.

    header = b"ILEV" || version 0x01 || 7-byte random nonce prefix || chunk size (u32 BE)
    chunk i = AES-256-GCM(data key, nonce = prefix || i (u32 BE) || last (0x00/0x01),
                          plaintext chunk, associated data = header)

This is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015): the counter
stops chunks being reordered or duplicated, and the last-chunk flag stops truncation at
a chunk boundary. Memory is one chunk at a time. The data key is wrapped (RFC 3394 AES
key wrap) by a key-encryption key that the object store never sees, and kept in a key
store apart from the write-once bucket: destroying it (crypto-erasure) makes the blob
unreadable forever while its hash stays in the ledger.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from evidence_store.base import CorruptBlob, ErasedBlob, EvidenceError, read_exactly

MAGIC = b"ILEV\x01"
HEADER_SIZE = 16
TAG_SIZE = 16
CHUNK_SIZE = 1024 * 1024


class KeyStore(Protocol):
    """Where a store keeps wrapped data keys and erasure tombstones. `put` replaces a key
    (a retried upload) but raises ErasedBlob once erased; `erase` destroys the key and
    leaves the tombstone, and is idempotent (a retry completes a crash)."""

    def put(self, sha256: str, wrapped_key: bytes) -> None: ...
    def get(self, sha256: str) -> bytes | None: ...
    def erase(self, sha256: str) -> None: ...
    def is_erased(self, sha256: str) -> bool: ...


class FileKeyStore:
    """Wrapped data keys, one small file each, in a folder kept apart from the blobs.

    Only the machine that holds the folder sees it: the local backend's keys (its blobs
    are in the same home) and single-machine tools. An S3 deployment's machines share
    the bucket, so they keep the keys in the ledger's database instead (any `KeyStore`
    can be given to `open_store`; api/application/evidence_keys.py).

    Erasure overwrites the file and removes it, leaving a tombstone so that `verify` can
    tell "erased" from "missing". Copies in backups are beyond its reach: the operator's
    backup policy must exclude or expire this folder (see README)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str, suffix: str = ".key") -> Path:
        return self.root / f"{sha256}{suffix}"

    def put(self, sha256: str, wrapped_key: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.is_erased(sha256):
            raise ErasedBlob(f"evidence {sha256} was erased; it cannot be stored again")
        path = self._path(sha256)
        tmp = self._path(sha256, f".tmp{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(wrapped_key)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    def get(self, sha256: str) -> bytes | None:
        try:
            return self._path(sha256).read_bytes()
        except FileNotFoundError:
            return None

    def erase(self, sha256: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._path(sha256)
        if path.exists():
            size = path.stat().st_size
            with open(path, "r+b") as handle:
                handle.write(os.urandom(size))
                handle.flush()
                os.fsync(handle.fileno())
            path.unlink()
        self._path(sha256, ".erased").touch()

    def is_erased(self, sha256: str) -> bool:
        return self._path(sha256, ".erased").exists()


def load_kek(value: bytes) -> bytes:
    if len(value) != 32:
        raise EvidenceError("the key-encryption key must be 32 bytes (base64 of 32 bytes)")
    return value


def new_wrapped_key(kek: bytes) -> tuple[bytes, bytes]:
    data_key = AESGCM.generate_key(bit_length=256)
    return data_key, aes_key_wrap(kek, data_key)


def unwrap(kek: bytes, wrapped: bytes) -> bytes:
    try:
        return aes_key_unwrap(kek, wrapped)
    except InvalidUnwrap:
        raise CorruptBlob("the data key does not unwrap with this key-encryption key") from None


def encrypt_stream(
    data_key: bytes, source: BinaryIO, chunk_size: int = CHUNK_SIZE
) -> Iterator[bytes]:
    """Yield the header and then each encrypted chunk; reads one chunk ahead to mark the last."""
    prefix = os.urandom(7)
    header = MAGIC + prefix + struct.pack(">I", chunk_size)
    yield header
    aead = AESGCM(data_key)
    index = 0
    current = read_exactly(source, chunk_size)
    while True:
        following = read_exactly(source, chunk_size) if len(current) == chunk_size else b""
        last = not following
        nonce = prefix + struct.pack(">IB", index, 1 if last else 0)
        yield aead.encrypt(nonce, current, header)
        if last:
            return
        current, index = following, index + 1


def decrypt_stream(data_key: bytes, source: BinaryIO) -> Iterator[bytes]:
    """Yield plaintext chunks; raise CorruptBlob on any altered, reordered or cut chunk."""
    header = read_exactly(source, HEADER_SIZE)
    if len(header) != HEADER_SIZE or not header.startswith(MAGIC):
        raise CorruptBlob("not an encrypted evidence blob (bad header)")
    prefix = header[5:12]
    (chunk_size,) = struct.unpack(">I", header[12:16])
    if not 0 < chunk_size <= 64 * 1024 * 1024:
        raise CorruptBlob("bad chunk size in header")
    aead = AESGCM(data_key)
    index = 0
    current = read_exactly(source, chunk_size + TAG_SIZE)
    while True:
        following = read_exactly(source, chunk_size + TAG_SIZE) if current else b""
        last = not following
        nonce = prefix + struct.pack(">IB", index, 1 if last else 0)
        try:
            yield aead.decrypt(nonce, current, header)
        except InvalidTag:
            raise CorruptBlob(f"encrypted chunk {index} fails authentication") from None
        if last:
            return
        current, index = following, index + 1


def plaintext_size(ciphertext_size: int, chunk_size: int = CHUNK_SIZE) -> int:
    body = ciphertext_size - HEADER_SIZE
    chunks = max(1, -(-body // (chunk_size + TAG_SIZE)))
    return body - chunks * TAG_SIZE
