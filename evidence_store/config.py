"""Which evidence store, from INQUIRY_LEDGER_* environment variables.

INQUIRY_LEDGER_EVIDENCE_BACKEND      local | s3 (default: s3 when a bucket is named, else local)
INQUIRY_LEDGER_S3_BUCKET             bucket name
INQUIRY_LEDGER_S3_ENDPOINT_URL       e.g. http://minio:9000 (unset: AWS)
INQUIRY_LEDGER_S3_REGION             default us-east-1
INQUIRY_LEDGER_S3_ACCESS_KEY_ID / INQUIRY_LEDGER_S3_SECRET_ACCESS_KEY
                                     (unset: boto3's usual chain, AWS_* variables, roles)
INQUIRY_LEDGER_S3_RETENTION_DAYS     Object Lock COMPLIANCE retention; 0 = no lock (default 3650)
INQUIRY_LEDGER_S3_READ_TIMEOUT       seconds the S3 server may stay silent mid-request (default 10)
INQUIRY_LEDGER_EVIDENCE_ENCRYPTION   on | off (default: on for s3, off for local)
INQUIRY_LEDGER_EVIDENCE_KEK          base64 of the 32-byte key-encryption key; or
INQUIRY_LEDGER_EVIDENCE_KEK_FILE     a file holding it (default HOME/keys/evidence.kek,
                                     created mode 0600 on first use)
INQUIRY_LEDGER_EVIDENCE_MAX_BYTES    largest accepted file (default 5 GiB)
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence_store.base import DEFAULT_MAX_BYTES, DEFAULT_READ_TIMEOUT, EvidenceError
from evidence_store.crypto import FileKeyStore, KeyStore, load_kek


@dataclass(frozen=True)
class EvidenceConfig:
    home: Path
    backend: str = "local"
    encrypt: bool = False
    kek_base64: str | None = None
    kek_file: Path | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    retention_days: int = 3650
    #: Seconds an S3 server may stay silent mid-request (s3.py `make_client`).
    s3_read_timeout: float = DEFAULT_READ_TIMEOUT

    @classmethod
    def from_env(cls, home: Path, environ: Mapping[str, str] | None = None) -> EvidenceConfig:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            return env.get(f"INQUIRY_LEDGER_{name}") or None

        bucket = get("S3_BUCKET")
        backend = get("EVIDENCE_BACKEND") or ("s3" if bucket else "local")
        if backend not in ("local", "s3"):
            raise EvidenceError("INQUIRY_LEDGER_EVIDENCE_BACKEND must be local or s3")
        if backend == "s3" and not bucket:
            raise EvidenceError("the s3 evidence backend needs INQUIRY_LEDGER_S3_BUCKET")
        encryption = (get("EVIDENCE_ENCRYPTION") or ("on" if backend == "s3" else "off")).lower()
        if encryption not in ("on", "off"):
            raise EvidenceError("INQUIRY_LEDGER_EVIDENCE_ENCRYPTION must be on or off")
        return cls(
            home=home,
            backend=backend,
            encrypt=encryption == "on",
            kek_base64=get("EVIDENCE_KEK"),
            kek_file=Path(get("EVIDENCE_KEK_FILE") or home / "keys" / "evidence.kek"),
            max_bytes=_int(get("EVIDENCE_MAX_BYTES"), DEFAULT_MAX_BYTES, "EVIDENCE_MAX_BYTES"),
            s3_bucket=bucket,
            s3_endpoint_url=get("S3_ENDPOINT_URL"),
            s3_region=get("S3_REGION"),
            s3_access_key=get("S3_ACCESS_KEY_ID"),
            s3_secret_key=get("S3_SECRET_ACCESS_KEY"),
            retention_days=_int(get("S3_RETENTION_DAYS"), 3650, "S3_RETENTION_DAYS"),
            s3_read_timeout=float(
                _int(get("S3_READ_TIMEOUT"), int(DEFAULT_READ_TIMEOUT), "S3_READ_TIMEOUT") or 1
            ),
        )

    def describe(self) -> str:
        where = (
            f"S3 bucket {self.s3_bucket} at {self.s3_endpoint_url or 'AWS'}"
            if self.backend == "s3"
            else f"folder {self.home / 'evidence'}"
        )
        return f"{where}, {'encrypted' if self.encrypt else 'not encrypted'}"

    def kek(self) -> bytes:
        """The key-encryption key; created (0600) in the default file on first use."""
        if self.kek_base64:
            try:
                return load_kek(base64.b64decode(self.kek_base64, validate=True))
            except binascii.Error:
                raise EvidenceError("INQUIRY_LEDGER_EVIDENCE_KEK is not base64") from None
        assert self.kek_file is not None
        if not self.kek_file.exists():
            self.kek_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.kek_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(base64.b64encode(os.urandom(32)).decode() + "\n")
        mode = stat.S_IMODE(self.kek_file.stat().st_mode)
        if mode & 0o077:  # whoever reads it reads every encrypted blob
            raise EvidenceError(
                f"the key-encryption key {self.kek_file} is readable by others (mode "
                f"{mode:o}); run: chmod 600 {self.kek_file}"
            )
        try:
            return load_kek(base64.b64decode(self.kek_file.read_text().strip(), validate=True))
        except (OSError, binascii.Error) as error:
            raise EvidenceError(
                f"cannot read the key-encryption key {self.kek_file}: {error}"
            ) from None


def _int(value: str | None, default: int, name: str) -> int:
    if value is None:
        return default
    if not re.fullmatch(r"[0-9]{1,18}", value):  # ASCII: isdigit() accepts U+0665, U+00B2
        raise EvidenceError(f"INQUIRY_LEDGER_{name} must be a whole number")
    return int(value)


def open_store(config: EvidenceConfig, key_store: KeyStore | None = None) -> Any:
    """The configured evidence store (local folder or S3), with encryption if asked.

    `key_store` keeps the wrapped data keys and erasure tombstones. Without one they go
    in the folder HOME/evidence-keys, which only this machine sees: right for the local
    backend, whose blobs are in the same home, and for a tool on one machine; an S3
    deployment, whose machines share the bucket, passes one they all share (the ledger's
    database: api/application/evidence_keys.py), or a second machine could not read
    what the first stored."""
    kek = config.kek() if config.encrypt else None
    if key_store is None and config.encrypt:
        key_store = FileKeyStore(config.home / "evidence-keys")
    if config.backend == "local":
        from evidence_store.local import LocalEvidenceStore

        # Plain, the folder still keeps erasure tombstones there (local.py, "Erasure").
        return LocalEvidenceStore(
            config.home / "evidence",
            max_bytes=config.max_bytes,
            kek=kek,
            key_store=key_store or FileKeyStore(config.home / "evidence-keys"),
        )
    from evidence_store.s3 import S3EvidenceStore, make_client

    assert config.s3_bucket is not None
    client = make_client(
        config.s3_endpoint_url,
        config.s3_region,
        config.s3_access_key,
        config.s3_secret_key,
        read_timeout=config.s3_read_timeout,
    )
    store = S3EvidenceStore(
        client,
        config.s3_bucket,
        max_bytes=config.max_bytes,
        kek=kek,
        key_store=key_store if kek is not None else None,  # plain: no keys to keep
        retention_days=config.retention_days or None,
    )
    store.ensure_bucket()
    return store
