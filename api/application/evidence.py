"""Evidence commands: attach a file (upload, verify, then sign and append), fetch,
verify every blob the ledger names, list orphans, and erase lawfully."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.application.commands import Client
from api.application.evidence_keys import LEGACY_FOLDER, TableKeyStore, import_key_folder
from domain import Action
from evidence_store.base import BlobStatus, EvidenceError, EvidenceTooLarge, check_sha256
from evidence_store.config import EvidenceConfig, open_store
from evidence_store.crypto import FileKeyStore
from evidence_store.sniff import SNIFF_BYTES, sniff_media_type
from ledger.service import Appended, Ledger
from ledger.storage import LedgerTables
from projections.status import Replay


class ConfiguredEvidence:
    """The evidence store named by the environment, opened on first use (a command that
    never touches evidence never connects to S3).

    Encrypted on S3, its data keys and tombstones are kept in the ledger's database,
    which every API machine of the deployment shares (api/application/evidence_keys.py);
    the local backend keeps them in HOME/evidence-keys, beside its blobs in the same home.
    It is made before the ledger (which asks it for blob sizes), so the ledger's tables
    are given to it once the ledger is open (`keep_keys_in`, by whoever pairs the two:
    the HTTP app's lifespan, the CLI's `open_ledger`)."""

    def __init__(self, home: Path, tables: LedgerTables | None = None) -> None:
        self.config = EvidenceConfig.from_env(home)
        self.tables = tables
        self._store: Any = None
        self._opening = threading.Lock()

    def keep_keys_in(self, tables: LedgerTables) -> None:
        """The ledger's tables, where an S3 store keeps its data keys (before first use)."""
        if self._store is not None and self.tables not in (None, tables):
            raise RuntimeError("the evidence store is open already, on another ledger's tables")
        self.tables = tables

    @property
    def store(self) -> Any:
        if self._store is None:
            with self._opening:  # the first requests come at once: one opens, for all
                if self._store is None:
                    self._store = open_store(self.config, key_store=self._shared_key_store())
        return self._store

    def _shared_key_store(self) -> TableKeyStore | None:
        """For encrypted S3, the database's key store, with the home's old folder imported."""
        if not (self.config.encrypt and self.config.backend == "s3"):
            return None
        if self.tables is None:
            raise RuntimeError(
                "the S3 store keeps its data keys in the ledger's database: open the ledger "
                "and pass its tables (ConfiguredEvidence.keep_keys_in) before using the store"
            )
        folder = FileKeyStore(self.config.home / LEGACY_FOLDER)
        keys = TableKeyStore(self.tables, legacy=folder)
        import_key_folder(keys, folder.root)
        _refuse_a_second_kek(self.config, keys)
        return keys

    def blob_size(self, sha256: str) -> int | None:
        size: int | None = self.store.blob_size(sha256)
        return size


def _refuse_a_second_kek(config: EvidenceConfig, keys: TableKeyStore) -> None:
    """EvidenceError if this machine would create a key-encryption key while the database
    already holds data keys: they were wrapped by the deployment's KEK, which a new one
    cannot unwrap, and blobs stored under the new one would be readable here only."""
    kek_file = config.kek_file
    creates = not config.kek_base64 and kek_file is not None and not kek_file.exists()
    if creates and keys.any_key():
        raise EvidenceError(
            f"this machine has no key-encryption key ({kek_file}), but the ledger's database "
            "holds data keys wrapped by the deployment's: give every API machine the same "
            "key (that file, mode 0600, or INQUIRY_LEDGER_EVIDENCE_KEK)"
        )


def attach_file(
    client: Client,
    store: Any,
    action_id: str,
    path: Path,
    *,
    description: str,
    effective_date: str,
) -> Appended:
    """Upload first (the store verifies the hash while streaming), then sign and append the
    event naming it. If the append is refused, the blob stays as an orphan: listed by
    `evidence orphans`, referenced by nothing."""
    client.action(action_id)  # fail fast on an unknown action, before any upload
    sha256, size, head = _hash_file(path, store)
    with open(path, "rb") as handle:
        blob = store.put(handle, expected_sha256=sha256)
    return client.attach_evidence(
        action_id,
        {
            "sha256": blob.sha256,
            "size": size,
            "media_type": sniff_media_type(head),
            "original_name": path.name[:500],
            "description": description,
            "storage_key": blob.storage_key,
            "effective_date": effective_date,
        },
    )


def _hash_file(path: Path, store: Any) -> tuple[str, int, bytes]:
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1024 * 1024):
                if not head:
                    head = chunk[:SNIFF_BYTES]
                digest.update(chunk)
                size += len(chunk)
                if size > store.max_bytes:
                    raise EvidenceTooLarge(f"{path} is larger than the limit of {store.max_bytes}")
    except IsADirectoryError:
        raise EvidenceError(f"{path} is a folder, not a file") from None
    if size == 0:
        from evidence_store.base import EmptyEvidence

        raise EmptyEvidence(f"{path} is empty")
    return digest.hexdigest(), size, head


def fetch(store: Any, sha256: str, out: Path) -> int:
    """Write a blob to `out` only once every byte has been verified against its hash."""
    check_sha256(sha256)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    size = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in store.read(sha256):
                handle.write(chunk)
                size += len(chunk)
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise
    return size


@dataclass
class EvidenceReport:
    named: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def named_evidence(ledger: Ledger) -> dict[str, list[tuple[str, bool]]]:
    """sha256 -> [(action id, erased by a signed event)] for every blob the log names.

    A full replay, on purpose: the whole-store verification and the orphan listing walk
    everything anyway, and trust no derived table. A download asks about one blob and
    must not cost the log's length: it reads the as-of projection instead
    (`projections.evidence.evidence_uses`, tested to agree with this)."""
    replay = Replay().feed(ledger.entries())
    named: dict[str, list[tuple[str, bool]]] = {}
    for action in replay.of_type(Action):
        for evidence in action.evidence.values():
            named.setdefault(evidence.sha256, []).append(
                (action.action_id, evidence.erased_at is not None)
            )
    return named


def verify_evidence(ledger: Ledger, store: Any) -> EvidenceReport:
    """Re-hash every blob the ledger names; erased ones must be erased, and only those."""
    report = EvidenceReport()
    for sha256, uses in sorted(named_evidence(ledger).items()):
        report.named += 1
        erased_in_log = any(erased for _, erased in uses)
        status = store.status(sha256)
        report.statuses[status.value] = report.statuses.get(status.value, 0) + 1
        where = ", ".join(sorted({action for action, _ in uses}))
        if status is BlobStatus.ERASED and not erased_in_log:
            report.problems.append(f"{sha256} ({where}): erased, but no signed erasure in the log")
        elif erased_in_log and status is BlobStatus.OK:
            report.problems.append(f"{sha256} ({where}): erasure recorded but still readable")
        elif status in (BlobStatus.MISSING, BlobStatus.ALTERED):
            report.problems.append(f"{sha256} ({where}): {status.value}")
    return report


def orphans(ledger: Ledger, store: Any) -> Iterator[str]:
    named = named_evidence(ledger)
    for sha256 in store.stored_hashes():
        if sha256 not in named:
            yield sha256
