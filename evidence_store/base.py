"""What every evidence store does, and how it can fail.

Blobs are named by the SHA-256 of their plaintext content, so the same file uploaded
twice is stored once, and the hash the ledger signs is the name the store uses.
"""

from __future__ import annotations

import errno
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO, Protocol

DEFAULT_MAX_BYTES = 5 * 1024**3  # 5 GiB
HEX = frozenset("0123456789abcdef")
#: What a filesystem says when it is full: the disk, or the writer's quota.
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
SQLITE_FULL = 13  # sqlite3.SQLITE_FULL: "database or disk is full"
POSTGRES_DISK_FULL = "53100"  # SQLSTATE disk_full


class EvidenceError(ValueError):
    """Base of evidence refusals; `code` is stable for APIs and scripts."""

    code = "evidence_error"


class EmptyEvidence(EvidenceError):
    code = "empty_evidence"


class EvidenceTooLarge(EvidenceError):
    code = "evidence_too_large"


class HashMismatch(EvidenceError):
    code = "hash_mismatch"


class MissingBlob(EvidenceError):
    code = "missing_blob"


class ErasedBlob(EvidenceError):
    code = "erased_blob"


class ErasureUnsupported(EvidenceError):
    """This store cannot erase a blob (so an erasure must not be recorded against it)."""

    code = "erasure_unsupported"


class ErasureIncomplete(EvidenceError):
    """The erasure is recorded in the log, but the store has not (yet) carried it out."""

    code = "erasure_incomplete"


class CorruptBlob(EvidenceError):
    """The stored bytes no longer decrypt or no longer hash to their name."""

    code = "corrupt_blob"


class BlobStatus(StrEnum):
    OK = "ok"
    MISSING = "missing"
    ALTERED = "altered"
    ERASED = "erased"


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    storage_key: str
    encrypted: bool
    already_stored: bool = False


def storage_full(error: BaseException) -> bool:
    """Whether `error`, or an error it was raised from, says the storage under it is full.

    A full disk is neither a bad request nor an outage to retry in seconds: the API
    answers it 507 and the CLI in one line (api/http/errors.py, api/cli/common.py),
    wherever it happens. So this knows the filesystem's ENOSPC/EDQUOT (an evidence
    upload's temporary, a file the CLI writes) and the same condition as the databases
    report it, wrapped by eventsourcing: SQLite's SQLITE_FULL and PostgreSQL's disk_full,
    recognised by their attributes so that this module imports neither driver."""
    seen: set[int] = set()
    found: BaseException | None = error
    while found is not None and id(found) not in seen:
        seen.add(id(found))
        if isinstance(found, OSError) and found.errno in FULL_ERRNOS:
            return True
        code = getattr(found, "sqlite_errorcode", None)  # extended codes: low byte
        if isinstance(code, int) and code & 0xFF == SQLITE_FULL:
            return True
        if getattr(found, "sqlstate", None) == POSTGRES_DISK_FULL:
            return True
        found = found.__cause__ or found.__context__
    return False


#: Seconds an S3 server may stay silent in the middle of a request, by default
#: (INQUIRY_LEDGER_S3_READ_TIMEOUT; evidence_store/s3.py `make_client`).
DEFAULT_READ_TIMEOUT = 10.0


def storage_key(sha256: str) -> str:
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def check_sha256(value: str) -> str:
    if len(value) != 64 or not set(value) <= HEX:
        raise EvidenceError(f"not a SHA-256 hex digest: {value[:80]!r}")
    return value


class EvidenceStore(Protocol):
    """The contract both backends meet (tests/evidence_store/test_evidence_contract.py)."""

    encrypted: bool

    def put(self, stream: BinaryIO, *, expected_sha256: str | None = None) -> StoredBlob: ...

    def blob_size(self, sha256: str) -> int | None: ...

    def read(self, sha256: str) -> Iterator[bytes]: ...

    def status(self, sha256: str) -> BlobStatus: ...

    def stored_hashes(self) -> Iterator[str]: ...

    def check_erasable(self) -> None:
        """Raise ErasureUnsupported, saying why, if this store cannot erase: asked before
        an erasure is recorded, so that nothing is recorded that the store cannot do."""
        ...

    def erase(self, sha256: str) -> None:
        """Make the blob unreadable forever and remember that it was erased (`status`
        says ERASED, `put` refuses it again). Idempotent: erasing again, or completing an
        erasure a crash interrupted, does what is left and succeeds."""
        ...


class LimitedHashingReader:
    """Read a stream in chunks, hashing and counting, refusing more than `limit` bytes."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self.stream = stream
        self.limit = limit
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, n: int) -> bytes:
        chunk = self.stream.read(n)
        if chunk:
            self.size += len(chunk)
            if self.size > self.limit:
                raise EvidenceTooLarge(f"evidence is larger than the limit of {self.limit} bytes")
            self.digest.update(chunk)
        return chunk

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


def verified(chunks: Iterator[bytes], sha256: str) -> Iterator[bytes]:
    """Pass chunks through, hashing them; raise CorruptBlob at the end on a mismatch."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
        yield chunk
    if digest.hexdigest() != sha256:
        raise CorruptBlob(f"evidence blob {sha256} no longer matches its hash")


def status_by_reading(store: EvidenceStore, sha256: str) -> BlobStatus:
    """Read the whole blob (decrypting and re-hashing) and say what state it is in."""
    try:
        for _ in store.read(sha256):
            pass
    except ErasedBlob:
        return BlobStatus.ERASED
    except MissingBlob:
        return BlobStatus.MISSING
    except CorruptBlob:
        return BlobStatus.ALTERED
    return BlobStatus.OK


def read_exactly(stream: BinaryIO, n: int) -> bytes:
    """Fill a buffer of n bytes from a stream that may return short reads (sockets do)."""
    parts = []
    remaining = n
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)
