"""The embedded default evidence store: a content-addressed folder.

Blobs are named by their plaintext SHA-256 (``sha256/ab/cd/<hex>``), hashed while
streaming into a temporary file, fsynced and then hard-linked into place: a link never
replaces an existing name, so nothing in the product overwrites a stored blob, and a
crash leaves at most an unreferenced temporary file. Reads re-hash and refuse a blob
whose content no longer matches its name. With a key-encryption key the folder holds
only ciphertext (see crypto.py).

Protection it gives: integrity (alteration is detected on every read and by `evidence
verify`), no overwrite by this code, and with encryption, confidentiality at rest and
crypto-erasure. What it does not give: protection from someone with write access to
the folder, who can delete files (detected as missing, not prevented).

Erasure (a lawful one, recorded by a signed `action.evidence_erased`) means the blob can
never be read again while its hash stays in the log, and `evidence verify` tells it from
a blob gone missing. Encrypted, that is crypto-erasure: the data key is destroyed and the
ciphertext may stay. In a plain folder there is no key to destroy, but nor is there a
write-once guarantee to keep (unlike S3 under Object Lock): the blob is the only copy the
product holds, so it is overwritten, fsynced and deleted. That is a real erasure of the
product's copy; it cannot reach copies in file-level backups, nor blocks a copy-on-write
filesystem or an SSD keeps (README: encrypt at rest where that matters). Either way a
tombstone (`<sha256>.erased` in the key store folder, HOME/evidence-keys) is written last,
once nothing readable is left: it lets `status` say ERASED rather than MISSING, stops the
same content being stored again, and travels with `backup` like the keys do.

Temporaries. An upload killed (kill -9, a power cut) between its temporary file and the
link leaves that file in ``tmp/`` for ever, holding a copy of the content. Opening the
store sweeps them (`sweep_stale_temporaries`): at open, not at `serve` start, because
every process that writes the folder opens it here (each `serve` worker, on its first
request that touches evidence; the CLI's `evidence` commands; `demo`), so a deployment
that never runs `serve` is swept too, and this is the one module that knows how
temporaries are named. Only temporaries not written to for `STALE_AFTER_SECONDS` go: see
there why an upload still in progress in another process is never one of them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from evidence_store.base import (
    DEFAULT_MAX_BYTES,
    BlobStatus,
    EmptyEvidence,
    ErasedBlob,
    ErasureUnsupported,
    EvidenceError,
    HashMismatch,
    LimitedHashingReader,
    MissingBlob,
    StoredBlob,
    check_sha256,
    status_by_reading,
    storage_key,
    verified,
)
from evidence_store.crypto import (
    CHUNK_SIZE,
    KeyStore,
    decrypt_stream,
    encrypt_stream,
    new_wrapped_key,
    plaintext_size,
    unwrap,
)

# Re-exported for callers that only know the local store.
__all__ = ["EvidenceError", "LocalEvidenceStore", "StoredBlob"]

log = logging.getLogger("inquiry_ledger.evidence")

#: Every temporary is ``tmp/<TMP_PREFIX><random>`` (tempfile.mkstemp): the sweep removes
#: nothing else, whatever else someone puts in the folder.
TMP_PREFIX = "tmp"
#: A temporary whose mtime is older than this belongs to no live upload. A live upload
#: writes its temporary chunk after chunk from a local file (the CLI) or from the body
#: the server has already spooled whole (a multipart upload), so its mtime moves at disk
#: speed; after its last write come only an fsync, a hash check and a link, seconds. An
#: hour is far beyond a slow disk's pause, and beyond the clock skew between hosts that
#: share the folder over a network filesystem (mtime is the file server's clock). A
#: crashed upload's copy stays at most this long plus the time until the next open.
STALE_AFTER_SECONDS = 3600


class LocalEvidenceStore:
    def __init__(
        self,
        root: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        kek: bytes | None = None,
        key_store: KeyStore | None = None,
    ) -> None:
        # A key store without a key-encryption key is a plain folder's: it holds only
        # the tombstones of erased blobs.
        if kek is not None and key_store is None:
            raise ValueError("encryption needs both a key-encryption key and a key store")
        self.root = root
        self.max_bytes = max_bytes
        self.kek = kek
        self.key_store = key_store
        self.encrypted = kek is not None
        sweep_stale_temporaries(root / "tmp")

    def key_for(self, sha256: str) -> str:
        return storage_key(sha256)

    def _path(self, sha256: str) -> Path:
        return self.root / storage_key(check_sha256(sha256))

    def put(self, stream: BinaryIO, *, expected_sha256: str | None = None) -> StoredBlob:
        """Store a stream; the same content stored twice is kept once."""
        tmp_dir = self.root / "tmp"
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp_dir.mkdir(mode=0o700, exist_ok=True)
        reader = LimitedHashingReader(stream, self.max_bytes)
        wrapped = None
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix=TMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as out:
                if self.kek is not None:
                    data_key, wrapped = new_wrapped_key(self.kek)
                    for piece in encrypt_stream(data_key, reader):  # type: ignore[arg-type]
                        out.write(piece)
                else:
                    while chunk := reader.read(CHUNK_SIZE):
                        out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if reader.size == 0:
                raise EmptyEvidence("evidence file is empty")
            sha256 = reader.hexdigest()
            if expected_sha256 is not None and expected_sha256 != sha256:
                raise HashMismatch(
                    f"the content hashes to {sha256}, not the expected {expected_sha256}"
                )
            self._refuse_erased(sha256)
            final = self._path(sha256)
            if final.exists():
                return StoredBlob(sha256, reader.size, storage_key(sha256), self.encrypted, True)
            if wrapped is not None and self.key_store is not None:
                self.key_store.put(
                    sha256, wrapped
                )  # the key before the blob: never a blob without its key
            final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(tmp_name, 0o400)  # evidence may hold personal data: its owner only
            # Another writer may have linked the same content meanwhile: keep the first.
            with contextlib.suppress(FileExistsError):
                os.link(tmp_name, final)
            return StoredBlob(sha256, reader.size, storage_key(sha256), self.encrypted)
        finally:
            os.unlink(tmp_name)

    def _refuse_erased(self, sha256: str) -> None:
        if self.key_store is not None and self.key_store.is_erased(sha256):
            raise ErasedBlob(f"evidence {sha256} was erased; it cannot be stored again")

    def blob_size(self, sha256: str) -> int | None:
        try:
            size = self._path(sha256).stat().st_size
        except FileNotFoundError:
            return None
        return plaintext_size(size) if self.encrypted else size

    def read(self, sha256: str) -> Iterator[bytes]:
        """Stream a blob's plaintext; raise CorruptBlob (at the latest at the end) if altered."""
        path = self._path(sha256)
        if self.key_store is not None and self.key_store.is_erased(sha256):
            raise ErasedBlob(f"evidence {sha256} was erased")
        if not path.is_file():
            raise MissingBlob(f"no evidence blob {sha256}")
        with open(path, "rb") as handle:
            chunks: Iterator[bytes]
            if self.kek is not None and self.key_store is not None:
                wrapped = self.key_store.get(sha256)
                if wrapped is None:
                    raise MissingBlob(f"the data key of evidence {sha256} is missing")
                chunks = decrypt_stream(unwrap(self.kek, wrapped), handle)
            else:
                chunks = iter(lambda: handle.read(CHUNK_SIZE), b"")
            yield from verified(chunks, sha256)

    def status(self, sha256: str) -> BlobStatus:
        if self.kek is None and self._erased(sha256) and self._path(sha256).exists():
            # A tombstone, but the plaintext is still on disk (put back from a copy, or
            # an erasure cut short): not erased, whatever the tombstone says.
            return BlobStatus.OK
        return status_by_reading(self, sha256)

    def _erased(self, sha256: str) -> bool:
        return self.key_store is not None and self.key_store.is_erased(sha256)

    def stored_hashes(self) -> Iterator[str]:
        base = self.root / "sha256"
        if base.is_dir():
            for path in sorted(base.glob("*/*/*")):
                yield path.name

    def check_erasable(self) -> None:
        if self.key_store is None:
            raise ErasureUnsupported(
                "this evidence folder has no key store to keep erasure tombstones in, so "
                "an erased blob could not be told from a missing one (open it with a key "
                "store, as the configured store does: HOME/evidence-keys)"
            )

    def erase(self, sha256: str) -> None:
        """Encrypted: destroy the data key. Plain: overwrite and delete the blob. Then
        the tombstone (module docstring). Idempotent, so a retry completes a crash."""
        self.check_erasable()
        assert self.key_store is not None
        check_sha256(sha256)
        if self.kek is None:
            _destroy(self._path(sha256))
        self.key_store.erase(sha256)  # last: "erased" only once nothing readable is left

    def verify(self, sha256: str) -> bool:
        return self.status(sha256) is BlobStatus.OK


def sweep_stale_temporaries(
    tmp_dir: Path, *, older_than: float = STALE_AFTER_SECONDS, now: float | None = None
) -> int:
    """Remove the upload temporaries in `tmp_dir` last written `older_than` seconds ago
    or more (crashed uploads', see `STALE_AFTER_SECONDS`); return how many went.

    Only regular files named like a temporary are touched, never followed through a
    link. A temporary that was already linked into place when its upload died is a
    second name of a finished blob: removing the name leaves the blob as it is. A
    temporary that cannot be removed is logged and left: the store still opens. The log
    says how many and where, never the names (random) nor anything of the content."""
    try:
        entries = list(os.scandir(tmp_dir))
    except FileNotFoundError:
        return 0
    except OSError as error:
        log.warning("cannot list upload temporaries in %s: %s", tmp_dir, error.strerror)
        return 0
    cutoff = (time.time() if now is None else now) - older_than
    swept = failed = 0
    for entry in entries:
        if not entry.name.startswith(TMP_PREFIX):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode) or info.st_mtime > cutoff:
                continue
            os.unlink(entry.path)
        except FileNotFoundError:
            continue  # another process opening the store swept it first
        except OSError:
            failed += 1
            continue
        swept += 1
    if swept:
        log.warning(
            "removed %d stale upload temporaries (unwritten for %d s or more: uploads cut "
            "short) from %s",
            swept,
            older_than,
            tmp_dir,
        )
    if failed:
        log.warning("could not remove %d stale upload temporaries from %s", failed, tmp_dir)
    return swept


def _destroy(path: Path) -> None:
    """Overwrite a plaintext blob with zeros, fsync, and delete it (gone already: done).

    Overwriting first means a name restored by the filesystem after a crash holds zeros,
    not the content, and on a plain in-place filesystem the freed blocks hold nothing."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    os.chmod(path, 0o600)  # stored read-only (0400)
    zeros = memoryview(bytes(CHUNK_SIZE))
    with open(path, "r+b") as handle:
        written = 0
        while written < size:
            written += handle.write(zeros[: min(CHUNK_SIZE, size - written)])
        handle.flush()
        os.fsync(handle.fileno())
    path.unlink()
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the deletion is durable before the tombstone says "erased"
    finally:
        os.close(folder)
