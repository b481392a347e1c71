"""One contract, every evidence backend: the local folder and a real S3 server (Ceph RGW),
each plain and encrypted. Nothing here mocks boto3 or the server."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import time
import tracemalloc
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from evidence_store.base import (
    BlobStatus,
    CorruptBlob,
    EmptyEvidence,
    ErasedBlob,
    ErasureUnsupported,
    EvidenceError,
    EvidenceTooLarge,
    HashMismatch,
    MissingBlob,
    storage_key,
)
from evidence_store.crypto import FileKeyStore
from evidence_store.local import LocalEvidenceStore
from evidence_store.s3 import UPLOADS_IN_FLIGHT, S3EvidenceStore
from evidence_store.sniff import sniff_media_type

KEK = bytes(range(32))
LIMIT = 192 * 1024 * 1024
PART = 5 * 1024 * 1024  # S3's minimum part size: small parts make multipart cheap to test


@dataclass
class Backend:
    name: str
    store: Any
    raw_client: Any = None
    bucket: str = ""

    def tamper(self, sha256: str) -> None:
        """Change the stored bytes behind the store's back, as an operator could."""
        key = storage_key(sha256)
        if self.raw_client is None:
            path = self.store.root / key
            data = bytearray(path.read_bytes())
            data[len(data) // 2] ^= 0x01
            os.chmod(path, 0o644)
            path.write_bytes(bytes(data))
            return
        data = bytearray(self.raw_client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        data[len(data) // 2] ^= 0x01
        body = bytes(data)
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
        # Object Lock forbids changing a version, not adding one: the latest one is read.
        self.raw_client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentMD5=md5)

    def stored_bytes(self, sha256: str) -> bytes:
        key = storage_key(sha256)
        if self.raw_client is None:
            return bytes((self.store.root / key).read_bytes())
        return bytes(self.raw_client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def leftovers(self) -> list[str]:
        """Anything half-written: temporary files or unfinished multipart uploads."""
        if self.raw_client is None:
            tmp = self.store.root / "tmp"
            return [p.name for p in tmp.iterdir()] if tmp.exists() else []
        uploads = self.raw_client.list_multipart_uploads(Bucket=self.bucket)
        return [u["Key"] for u in uploads.get("Uploads", [])]


BACKENDS = ["local", "local-encrypted", "s3", "s3-encrypted"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    encrypted = request.param.endswith("encrypted")
    kek = KEK if encrypted else None
    keys = FileKeyStore(tmp_path / "keys") if encrypted else None
    if request.param.startswith("local"):
        store = LocalEvidenceStore(tmp_path / "evidence", max_bytes=LIMIT, kek=kek, key_store=keys)
        return Backend(request.param, store)
    server = request.getfixturevalue("ceph_s3")
    client = server.client()
    bucket = f"evidence-{uuid.uuid4().hex[:12]}"
    store = S3EvidenceStore(
        client, bucket, max_bytes=LIMIT, kek=kek, key_store=keys, retention_days=1, part_size=PART
    )
    store.ensure_bucket()
    return Backend(request.param, store, client, bucket)


def _put(backend: Backend, data: bytes, **kwargs: Any) -> Any:
    return backend.store.put(io.BytesIO(data), **kwargs)


def _read(backend: Backend, sha256: str) -> bytes:
    return b"".join(backend.store.read(sha256))


class PatternStream(io.RawIOBase):
    """`size` bytes of a repeating pattern, produced on demand: never all in memory."""

    def __init__(self, size: int, fail_after: int | None = None) -> None:
        self.remaining = size
        self.produced = 0
        self.fail_after = fail_after
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.fail_after is not None and self.produced >= self.fail_after:
            raise ConnectionResetError("client went away mid-upload")
        n = self.remaining if n < 0 else min(n, self.remaining)
        block = (hashlib.sha256(self.produced.to_bytes(8, "big")).digest() * (n // 32 + 1))[:n]
        self.remaining -= n
        self.produced += n
        self.digest.update(block)
        return block


def test_round_trip_is_content_addressed(backend: Backend) -> None:
    data = b"Minutes of the Strategic Implementation Group, 1 February 2023.\n"
    blob = _put(backend, data)
    assert blob.sha256 == hashlib.sha256(data).hexdigest()
    assert blob.size == len(data) and blob.storage_key == storage_key(blob.sha256)
    assert backend.store.blob_size(blob.sha256) == len(data)
    assert _read(backend, blob.sha256) == data
    assert backend.store.status(blob.sha256) is BlobStatus.OK


def test_the_same_file_twice_is_stored_once(backend: Backend) -> None:
    first = _put(backend, b"same content")
    second = _put(backend, b"same content")
    again = _put(backend, b"same content", expected_sha256=first.sha256)
    assert not first.already_stored and second.already_stored and again.already_stored
    assert list(backend.store.stored_hashes()) == [first.sha256]


def test_a_large_file_streams_in_parts_in_bounded_memory(backend: Backend) -> None:
    size = 24 * PART + 12345  # many multipart parts on S3
    stream = PatternStream(size)
    tracemalloc.start()
    blob = backend.store.put(stream)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert blob.sha256 == stream.digest.hexdigest() and blob.size == size
    # Memory is bounded by a few parts (those in flight, each possibly copied once by the
    # HTTP layer; the one waiting; the one being assembled and its joined copy), never by
    # the file: 24 parts must not cost anything like 24 parts.
    bound = (2 * (UPLOADS_IN_FLIGHT + 1) + 1) * PART
    assert bound < size / 2
    assert peak < bound, f"peak {peak} bytes for a {size}-byte upload"
    digest = hashlib.sha256()
    for chunk in backend.store.read(blob.sha256):
        digest.update(chunk)
    assert digest.hexdigest() == blob.sha256
    assert backend.store.blob_size(blob.sha256) == size


def test_a_large_file_with_a_known_hash_streams_straight_through(backend: Backend) -> None:
    size = 3 * PART + 7
    probe = PatternStream(size)
    while probe.read(1 << 20):
        pass
    blob = backend.store.put(PatternStream(size), expected_sha256=probe.digest.hexdigest())
    assert blob.size == size and backend.store.status(blob.sha256) is BlobStatus.OK


def test_an_object_altered_behind_the_store_is_detected_on_read(backend: Backend) -> None:
    blob = _put(backend, b"training record " * 1000)
    backend.tamper(blob.sha256)
    with pytest.raises(CorruptBlob):
        _read(backend, blob.sha256)
    assert backend.store.status(blob.sha256) is BlobStatus.ALTERED


def test_encryption_keeps_plaintext_out_of_the_store(backend: Backend) -> None:
    data = b"Child's name: REDACTED-TEST-NAME; referral notes follow. " * 50
    blob = _put(backend, data)
    stored = backend.stored_bytes(blob.sha256)
    if backend.store.encrypted:
        assert b"REDACTED-TEST-NAME" not in stored and stored.startswith(b"ILEV\x01")
    else:
        assert stored == data
    assert _read(backend, blob.sha256) == data


def test_crypto_erasure_makes_a_blob_unreadable_forever(backend: Backend) -> None:
    blob = _put(backend, b"personal data to be erased lawfully")
    if not backend.store.encrypted:  # no key store: nowhere for a tombstone, or plain S3
        with pytest.raises(ErasureUnsupported):
            backend.store.erase(blob.sha256)
        assert _read(backend, blob.sha256) == b"personal data to be erased lawfully"
        return
    backend.store.erase(blob.sha256)
    with pytest.raises(ErasedBlob):
        _read(backend, blob.sha256)
    assert backend.store.status(blob.sha256) is BlobStatus.ERASED
    with pytest.raises(ErasedBlob):  # nor can it be stored again under a new key
        _put(backend, b"personal data to be erased lawfully")


def test_an_empty_file_is_refused_and_nothing_is_stored(backend: Backend) -> None:
    with pytest.raises(EmptyEvidence):
        _put(backend, b"")
    assert list(backend.store.stored_hashes()) == [] and backend.leftovers() == []


def test_a_file_over_the_limit_is_refused_and_nothing_is_stored(backend: Backend) -> None:
    backend.store.max_bytes = PART + 10
    with pytest.raises(EvidenceTooLarge):
        backend.store.put(PatternStream(2 * PART))
    with pytest.raises(EvidenceTooLarge):
        backend.store.put(PatternStream(2 * PART), expected_sha256="a" * 64)
    assert list(backend.store.stored_hashes()) == [] and backend.leftovers() == []


def test_a_hash_mismatch_is_refused_and_nothing_is_stored(backend: Backend) -> None:
    with pytest.raises(HashMismatch):
        _put(backend, b"what was uploaded", expected_sha256=hashlib.sha256(b"other").hexdigest())
    with pytest.raises(HashMismatch):
        backend.store.put(PatternStream(2 * PART + 1), expected_sha256="b" * 64)
    assert list(backend.store.stored_hashes()) == [] and backend.leftovers() == []


def test_a_truncated_upload_leaves_nothing_behind(backend: Backend) -> None:
    with pytest.raises(ConnectionResetError):
        backend.store.put(PatternStream(3 * PART, fail_after=PART + 100))
    with pytest.raises(ConnectionResetError):
        backend.store.put(PatternStream(3 * PART, fail_after=2 * PART), expected_sha256="c" * 64)
    assert list(backend.store.stored_hashes()) == [] and backend.leftovers() == []


def test_an_unknown_hash_is_a_clear_error(backend: Backend) -> None:
    with pytest.raises(MissingBlob):
        _read(backend, "d" * 64)
    assert backend.store.blob_size("d" * 64) is None
    assert backend.store.status("d" * 64) is BlobStatus.MISSING
    with pytest.raises(EvidenceError, match="not a SHA-256"):
        _read(backend, "../../etc/passwd")


# -- what only S3 with Object Lock gives -----------------------------------------------


@pytest.fixture
def s3(ceph_s3: Any) -> Iterator[Backend]:
    client = ceph_s3.client()
    bucket = f"locked-{uuid.uuid4().hex[:12]}"
    store = S3EvidenceStore(client, bucket, retention_days=1, part_size=PART)
    store.ensure_bucket()
    yield Backend("s3", store, client, bucket)


def _error_code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def test_object_lock_refuses_deleting_a_version(s3: Backend) -> None:
    blob = _put(s3, b"signed-for evidence")
    key = storage_key(blob.sha256)
    version = s3.raw_client.head_object(Bucket=s3.bucket, Key=key)["VersionId"]
    with pytest.raises(ClientError) as refused:
        s3.raw_client.delete_object(Bucket=s3.bucket, Key=key, VersionId=version)
    assert _error_code(refused.value) == "AccessDenied"
    assert _read(s3, blob.sha256) == b"signed-for evidence"


def test_object_lock_refuses_shortening_retention(s3: Backend) -> None:
    blob = _put(s3, b"retained evidence")
    key = storage_key(blob.sha256)
    retention = s3.raw_client.get_object_retention(Bucket=s3.bucket, Key=key)["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    shorter = retention["RetainUntilDate"] - timedelta(hours=12)
    with pytest.raises(ClientError) as refused:
        s3.raw_client.put_object_retention(
            Bucket=s3.bucket,
            Key=key,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": shorter},
        )
    assert _error_code(refused.value) == "AccessDenied"


def test_the_bucket_is_versioned(s3: Backend) -> None:
    status = s3.raw_client.get_bucket_versioning(Bucket=s3.bucket)
    assert status["Status"] == "Enabled"


def _http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), b""


def test_a_presigned_url_works_then_expires_and_cannot_be_tampered(s3: Backend) -> None:
    data = b"downloadable evidence"
    blob = _put(s3, data)
    url = s3.store.presigned_url(blob.sha256, expires_in=2)
    status, body = _http_get(url)
    assert status == 200 and hashlib.sha256(body).hexdigest() == blob.sha256
    other = _put(s3, b"someone else's evidence")
    forged = url.replace(blob.sha256, other.sha256)
    assert _http_get(forged)[0] == 403
    time.sleep(3)
    assert _http_get(url)[0] == 403


def test_encrypted_evidence_is_never_handed_out_by_url(ceph_s3: Any, tmp_path: Path) -> None:
    store = S3EvidenceStore(
        ceph_s3.client(),
        f"enc-{uuid.uuid4().hex[:12]}",
        kek=KEK,
        key_store=FileKeyStore(tmp_path / "keys"),
        retention_days=1,
    )
    store.ensure_bucket()
    blob = store.put(io.BytesIO(b"encrypted"))
    with pytest.raises(EvidenceError, match="through the ledger"):
        store.presigned_url(blob.sha256)


# -- media types -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (b"action,status\nR1.1,done\nR1.2,open\n", "text/csv"),
        (b"Minutes of the meeting\nPresent: ...\n", "text/plain"),
        (b"\x00\x01\x02\x03binary", "application/octet-stream"),
        (b"MZ\x90\x00\x03\x00\x00\x00", "application/x-msdownload"),
    ],
)
def test_media_type_comes_from_content_not_the_name(head: bytes, expected: str) -> None:
    assert sniff_media_type(head) == expected
