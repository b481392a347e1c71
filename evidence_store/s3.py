"""Evidence in S3-compatible object storage (AWS S3, MinIO, Ceph RGW) through boto3.

Uploads stream in parts (multipart above one part), each part carrying Content-MD5 so
the server checks what it received; the SHA-256 of the plaintext is computed while
streaming and the upload is completed only when it matches the name, otherwise aborted
(an uncompleted multipart upload leaves no object). With the bucket's Object Lock, every
object is written with a COMPLIANCE retention date: nobody, the operator included, can
delete it or shorten its retention until then. Reads stream and re-hash.

Protection it gives: write-once (Object Lock), integrity checked on every read,
client-side encryption with crypto-erasure. What it does not give: the store cannot
stop an account with bucket-admin rights from creating a new bucket and pointing the
ledger at it — the ledger's signed hashes are what expose that.

Erasure is crypto-erasure only: the data key is destroyed in the key store, and the
ciphertext stays in the bucket, unreadable. A bucket of plaintext cannot erase: Object
Lock exists so that nobody can delete an object, and even without it every version of a
versioned bucket would have to go. So `check_erasable` refuses a plain bucket, and no
erasure is recorded against it (api/application/erasure.py).
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from botocore.exceptions import ClientError

from evidence_store.base import (
    DEFAULT_MAX_BYTES,
    DEFAULT_READ_TIMEOUT,
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
    read_exactly,
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

ENCRYPTION_TAG = "ilev1-aes256gcm"
UPLOADS_IN_FLIGHT = 3  # measured: 3 x 8 MiB keeps a 2 GB upload near 125 MB RSS at ~0.85 of raw
PART_SIZE = 8 * 1024 * 1024  # S3 minimum 5 MiB; x (UPLOADS_IN_FLIGHT + 1) bounds memory


class StoreUnavailable(EvidenceError):
    code = "store_unavailable"


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _missing(error: ClientError) -> bool:
    code = str(error.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class _Chunker:
    """Turn an iterator of byte pieces into parts of exactly `size` bytes (last shorter)."""

    def __init__(self, pieces: Iterator[bytes], size: int) -> None:
        self.pieces = pieces
        self.size = size

    def __iter__(self) -> Iterator[bytes]:
        pending: list[bytes] = []
        held = 0
        for piece in self.pieces:
            while piece:
                take = piece[: self.size - held]
                piece = piece[len(take) :]
                pending.append(take)
                held += len(take)
                if held == self.size:
                    yield b"".join(pending)
                    pending, held = [], 0
        if pending:
            yield b"".join(pending)


class S3EvidenceStore:
    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        kek: bytes | None = None,
        key_store: KeyStore | None = None,
        retention_days: int | None = None,
        part_size: int = PART_SIZE,
    ) -> None:
        if (kek is None) != (key_store is None):
            raise ValueError("encryption needs both a key-encryption key and a key store")
        self.client = client
        self.bucket = bucket
        self.max_bytes = max_bytes
        self.kek = kek
        self.key_store = key_store
        self.encrypted = kek is not None
        self.retention_days = retention_days
        self.part_size = part_size

    # -- set-up --------------------------------------------------------------------------

    def ensure_bucket(self) -> None:
        """Create the bucket with versioning (and Object Lock when retention is configured)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as error:
            if not _missing(error):
                raise
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.retention_days:
            kwargs["ObjectLockEnabledForBucket"] = True
        self.client.create_bucket(**kwargs)
        self.client.put_bucket_versioning(
            Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
        )

    # -- writing -------------------------------------------------------------------------

    def put(self, stream: BinaryIO, *, expected_sha256: str | None = None) -> StoredBlob:
        if expected_sha256 is None:
            return self._put_spooled(stream)
        check_sha256(expected_sha256)
        self._refuse_erased(expected_sha256)
        existing = self.blob_size(expected_sha256)
        if existing is not None:
            return StoredBlob(
                expected_sha256, existing, storage_key(expected_sha256), self.encrypted, True
            )
        return self._upload(stream, expected_sha256)

    def _put_spooled(self, stream: BinaryIO) -> StoredBlob:
        """The name is the hash, so without a known hash the content is hashed first, into
        a temporary file (constant memory), then uploaded from it."""
        reader = LimitedHashingReader(stream, self.max_bytes)
        with tempfile.TemporaryFile() as spool:
            while chunk := reader.read(CHUNK_SIZE):
                spool.write(chunk)
            if reader.size == 0:
                raise EmptyEvidence("evidence file is empty")
            spool.seek(0)
            sha256 = reader.hexdigest()
            self._refuse_erased(sha256)
            existing = self.blob_size(sha256)
            if existing is not None:
                return StoredBlob(sha256, existing, storage_key(sha256), self.encrypted, True)
            return self._upload(spool, sha256)

    def _refuse_erased(self, sha256: str) -> None:
        if self.key_store is not None and self.key_store.is_erased(sha256):
            raise ErasedBlob(f"evidence {sha256} was erased; it cannot be stored again")

    def _object_lock(self) -> dict[str, Any]:
        if not self.retention_days:
            return {}
        until = datetime.now(UTC) + timedelta(days=self.retention_days)
        return {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": until}

    def _upload(self, stream: BinaryIO, sha256: str) -> StoredBlob:
        key = storage_key(sha256)
        reader = LimitedHashingReader(stream, self.max_bytes)
        wrapped = None
        pieces: Iterator[bytes]
        if self.kek is not None:
            data_key, wrapped = new_wrapped_key(self.kek)
            pieces = encrypt_stream(data_key, reader)  # type: ignore[arg-type]
        else:
            pieces = iter(lambda: reader.read(CHUNK_SIZE), b"")
        parts = iter(_Chunker(pieces, self.part_size))
        first = next(parts, b"")
        second = next(parts, None)
        common: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Metadata": {"sha256": sha256, "encryption": ENCRYPTION_TAG if wrapped else "none"},
            **self._object_lock(),
        }

        def finish_checks() -> int:
            if reader.size == 0:
                raise EmptyEvidence("evidence file is empty")
            if reader.hexdigest() != sha256:
                raise HashMismatch(
                    f"the content hashes to {reader.hexdigest()}, not the expected {sha256}"
                )
            if wrapped is not None and self.key_store is not None:
                self.key_store.put(sha256, wrapped)  # the key before the blob
            return reader.size

        if second is None:  # small: one PUT, after the hash is known to be right
            size = finish_checks()
            self.client.put_object(Body=first, ContentMD5=_md5(first), **common)
            return StoredBlob(sha256, size, key, self.encrypted)

        upload = self.client.create_multipart_upload(**common)
        upload_id = upload["UploadId"]

        def send(number: int, body: bytes) -> dict[str, Any]:
            response = self.client.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
                ContentMD5=_md5(body),
            )
            return {"PartNumber": number, "ETag": response["ETag"]}

        done: list[dict[str, Any]] = []
        try:
            # Pipelined: the next part is read, hashed (and encrypted) while earlier ones
            # are on the wire. At most UPLOADS_IN_FLIGHT parts are sent at once, so memory
            # stays at (UPLOADS_IN_FLIGHT + 1) x part size whatever the file's size.
            with ThreadPoolExecutor(max_workers=UPLOADS_IN_FLIGHT) as pool:
                pending: deque[Future[dict[str, Any]]] = deque()
                for number, body in enumerate(_chain(first, second, parts), start=1):
                    if len(pending) >= UPLOADS_IN_FLIGHT:
                        done.append(pending.popleft().result())
                    pending.append(pool.submit(send, number, body))
                    del body
                while pending:
                    done.append(pending.popleft().result())
            size = finish_checks()
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done}
            )
        except BaseException:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise
        return StoredBlob(sha256, size, key, self.encrypted)

    # -- reading -------------------------------------------------------------------------

    def _head(self, sha256: str) -> dict[str, Any] | None:
        try:
            head: dict[str, Any] = self.client.head_object(
                Bucket=self.bucket, Key=storage_key(check_sha256(sha256))
            )
        except ClientError as error:
            if _missing(error):
                return None
            raise
        return head

    def blob_size(self, sha256: str) -> int | None:
        head = self._head(sha256)
        if head is None:
            return None
        length = int(head["ContentLength"])
        if head.get("Metadata", {}).get("encryption") == ENCRYPTION_TAG:
            return plaintext_size(length)
        return length

    def read(self, sha256: str) -> Iterator[bytes]:
        if self.key_store is not None and self.key_store.is_erased(sha256):
            raise ErasedBlob(f"evidence {sha256} was erased")
        try:
            response = self.client.get_object(
                Bucket=self.bucket, Key=storage_key(check_sha256(sha256))
            )
        except ClientError as error:
            if _missing(error):
                raise MissingBlob(f"no evidence blob {sha256}") from None
            raise
        body = response["Body"]
        chunks: Iterator[bytes]
        if self.kek is not None and self.key_store is not None:
            wrapped = self.key_store.get(sha256)
            if wrapped is None:
                raise MissingBlob(f"the data key of evidence {sha256} is missing")
            chunks = decrypt_stream(unwrap(self.kek, wrapped), body)
        else:
            chunks = iter(lambda: read_exactly(body, CHUNK_SIZE), b"")
        try:
            yield from verified(chunks, sha256)
        finally:
            body.close()

    def status(self, sha256: str) -> BlobStatus:
        return status_by_reading(self, sha256)

    def presigned_url(self, sha256: str, expires_in: int = 300) -> str:
        """A time-limited download URL. Not for encrypted blobs: the URL would hand out
        ciphertext; those are streamed and decrypted by the server instead."""
        if self.encrypted:
            raise EvidenceError("encrypted evidence is downloaded through the ledger, not by URL")
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": storage_key(check_sha256(sha256))},
            ExpiresIn=expires_in,
        )
        return url

    def stored_hashes(self) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix="sha256/"):
            for item in page.get("Contents", []):
                yield item["Key"].rsplit("/", 1)[-1]

    def check_erasable(self) -> None:
        if self.key_store is None:
            locked = " under Object Lock, which forbids deleting it," if self.retention_days else ""
            raise ErasureUnsupported(
                f"this S3 bucket keeps evidence in plaintext{locked} and erasure here is "
                "crypto-erasure (destroying a blob's data key), which needs encryption at "
                "rest when the blob is stored (INQUIRY_LEDGER_EVIDENCE_ENCRYPTION=on)"
            )

    def erase(self, sha256: str) -> None:
        """Destroy the data key (idempotent); the ciphertext stays, unreadable."""
        self.check_erasable()
        assert self.key_store is not None
        self.key_store.erase(check_sha256(sha256))


def _chain(first: bytes, second: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield second
    yield from rest


#: Attempts per request: a frozen server costs about READ_ATTEMPTS x the read timeout
#: (base.DEFAULT_READ_TIMEOUT, 10 s), then a 503.
READ_ATTEMPTS = 2


def make_client(
    endpoint_url: str | None,
    region: str | None,
    access_key: str | None = None,
    secret_key: str | None = None,
    *,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> Any:
    """A boto3 S3 client that works with AWS, MinIO and Ceph RGW alike."""
    import boto3
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        # Fail fast when the server is down (connection refused or unreachable): at most
        # 3 attempts of 2 s each with standard backoff, then a connection error that the
        # API answers with 503 (api/unavailable.py) instead of holding the request.
        # A server that accepts but then says nothing (frozen, a partition) is bounded
        # by the read timeout, a wait between two reads (not a whole transfer: a large
        # blob streams within it): about attempts x read_timeout in all, then 503.
        retries={"max_attempts": READ_ATTEMPTS, "mode": "standard"},
        connect_timeout=2,
        read_timeout=read_timeout,
        # Ceph (Pacific) refuses the newer default checksum trailers on some requests.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=config,
    )
