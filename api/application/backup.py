"""`inquiry-ledger backup` and `restore`: the whole ledger in one file, and back.

What a backup holds (see ledger/backup_archive.py for the file format):

- the event store, the ledger's own tables, the API's tokens and answered commands and
  the wrapped data keys of encrypted S3 evidence (every table declared `Backup.COPY`,
  listed in api/application/tables.py), from one consistent snapshot taken while writers
  run (ledger/snapshot.py), in rows that restore into SQLite or PostgreSQL alike. The data
  keys are copied like the other rows, not sealed: each is wrapped by the key-encryption
  key, which is itself sealed (below) or not in the backup at all, so they are as safe
  here as in the live database. The row of a blob the snapshot's log erased is written
  with no key, only its tombstone, whatever the row still held: never a key the log erased;
- the home folder's key material, encrypted under the backup passphrase: the log's
  signing key, the evidence key-encryption key (unless it comes from the environment),
  the wrapped data keys kept in HOME/evidence-keys (the local backend's, and an S3
  deployment's from before they moved into the database) and any user keys kept on the
  server;
- the public files: log.vkey, the history of retired log keys and log-pq.vkey (the
  post-quantum key's private half, HOME/keys/log-pq.key, is key material like log.key);
- the evidence manifest (every blob the log names, with its SHA-256, size and whether it
  was erased). The blobs themselves live in the evidence store, which has its own
  durability (S3 with versioning and Object Lock); `--evidence` adds the local folder's
  blobs, as stored (ciphertext when encryption is on).

What it leaves out on purpose: the Merkle tree tables (rebuilt and checked against the
signed checkpoints on restore), web sessions (a restore must not revive logins) and the
projections (derived, rebuilt on demand).

Restore goes only into an empty home folder and an empty database. Everything is checked
before anything is written; the home folder is assembled beside its destination and moved
into place last, the database is loaded in one transaction; then the tree is rebuilt and
the full verification runs (every signature, rule, leaf and checkpoint, under the log's
keys including retired ones). If verification fails the restored rows are removed again
and the folder is never moved into place. Finally every `action.evidence_erased` in the
restored log is applied again, in the database's key table and in the folder: a backup
taken between an erasure's event and the destruction of its key (or copied by other
means) would otherwise bring the erased evidence back.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from api.application.evidence_keys import EVIDENCE_DATA_KEYS, LEGACY_FOLDER, TableKeyStore
from api.application.tables import all_tables
from evidence_store.base import EvidenceError, check_sha256, storage_key
from evidence_store.config import EvidenceConfig
from evidence_store.crypto import FileKeyStore
from ledger.auditor.note import NoteError, NoteSigner
from ledger.auditor.rotation import LogKeys
from ledger.backup_archive import ArchiveReader, ArchiveWriter, BackupError
from ledger.config import LedgerConfig
from ledger.keys import KeyPair
from ledger.logkeys import history_path, home_keys, rotation_notes
from ledger.service import Ledger
from ledger.snapshot import (
    SnapshotError,
    decode_row,
    empty_postgres,
    encode_row,
    is_empty,
    load,
    snapshot,
)
from ledger.storage import EVENTS, Backup, TableSpec
from ledger.verify import verify_ledger

PASSPHRASE_ENV = "INQUIRY_LEDGER_BACKUP_PASSPHRASE"
SECRET_FOLDERS = ("keys", LEGACY_FOLDER)
PUBLIC_FILES = ("log.vkey", "log.vkey.history", "log-pq.vkey")
ATTACHED, ERASED = "action.evidence_attached", "action.evidence_erased"


@dataclass
class BackupSummary:
    path: Path
    entries: int = 0
    checkpoints: int = 0
    latest_checkpoint: int | None = None
    rows: dict[str, int] = field(default_factory=dict)
    secret_files: int = 0
    evidence_named: int = 0
    evidence_erased: int = 0
    evidence_blobs: int = 0
    evidence_missing: list[str] = field(default_factory=list)


class RestoreVerificationFailed(BackupError):
    """The backup read back whole, but the ledger in it does not verify (nothing restored)."""


@dataclass
class RestoreSummary:
    entries: int = 0
    checkpoints_verified: int = 0
    signatures_verified: int = 0
    uncovered_entries: int = 0
    erasures_reapplied: int = 0
    keys_destroyed: int = 0
    since_checked: list[int] = field(default_factory=list)
    store: str = ""
    log_key: str = ""


class _Evidence:
    """What the log says about evidence: attached blobs and the erased ones."""

    def __init__(self) -> None:
        self.named: dict[str, dict[str, Any]] = {}
        self.erased: set[str] = set()

    def see(self, leaf_index: int, state: bytes) -> None:
        try:
            entry = json.loads(state)
            kind, payload = entry["type"], entry["payload"]
            if kind == ATTACHED:
                sha = str(payload["sha256"])
                self.named.setdefault(
                    sha,
                    {
                        "sha256": sha,
                        "size": payload.get("size"),
                        "media_type": payload.get("media_type"),
                        "leaf_index": leaf_index,
                    },
                )
            elif kind == ERASED:
                self.erased.add(str(payload["sha256"]))
        except (ValueError, KeyError, TypeError):
            return  # the verification of the restored ledger names a malformed entry

    def manifest(self) -> bytes:
        lines = [
            json.dumps({**record, "erased": sha in self.erased}, sort_keys=True)
            for sha, record in sorted(self.named.items())
        ]
        return "".join(line + "\n" for line in lines).encode()


# -- backup --------------------------------------------------------------------------------


def backup(
    config: LedgerConfig,
    out: Path,
    passphrase: bytes,
    *,
    with_evidence: bool = False,
    tables: Sequence[TableSpec] | None = None,
) -> BackupSummary:
    """Write a backup of the ledger at `config` to the new file `out` (mode 0600).

    `tables` are the database's tables as their owners declare them (by default
    `all_tables()`); those marked `Backup.COPY` are copied."""
    copied = _copied(tables)
    evidence_config = EvidenceConfig.from_env(config.home)
    if with_evidence and evidence_config.backend != "local":
        raise BackupError(
            "--evidence copies the local evidence folder; this ledger keeps its evidence in "
            f"{evidence_config.describe()}, whose own versioning and Object Lock keep it "
            "(replicate the bucket for a second copy)"
        )
    if not config.log_key_path.exists() or not config.log_vkey_path.exists():
        raise BackupError(
            f"no log key in {config.home}: back up from the ledger's own home folder (a "
            "backup without the log key could not sign the restored log's checkpoints)"
        )
    with Ledger(config) as ledger:
        origin = ledger.origin()
        events_table = ledger.events_table
    summary = BackupSummary(out)
    writer = ArchiveWriter(out, passphrase)
    try:
        evidence = _Evidence()
        with snapshot(config, events_table, copied) as snap:
            for spec in snap.tables:
                with writer.part(f"db/{spec.name}.jsonl") as part:
                    count = 0
                    for row in snap.rows(spec):
                        if spec.name == EVENTS:
                            evidence.see(count, bytes(row[4]))
                        elif spec.name == "ledger_checkpoints":
                            summary.latest_checkpoint = int(row[0])
                        elif spec.name == EVIDENCE_DATA_KEYS.name:
                            row = _without_erased_key(row, evidence.erased)
                        part.write(json.dumps(encode_row(spec, row)).encode() + b"\n")
                        count += 1
                summary.rows[spec.name] = count
        summary.entries = summary.rows.get(EVENTS, 0)
        summary.checkpoints = summary.rows.get("ledger_checkpoints", 0)
        # Keys are read after the snapshot: a blob uploaded before its event is in the
        # snapshot has its key here; keys of blobs the snapshot's log erased are left out.
        secrets = _secret_files(config.home, evidence.erased)
        writer.add_secrets(secrets)
        summary.secret_files = len(secrets)
        for name in PUBLIC_FILES:
            path = config.home / name
            if path.exists():
                writer.add(f"home/{name}", path.read_bytes())
        writer.add("evidence/manifest.jsonl", evidence.manifest())
        summary.evidence_named = len(evidence.named)
        summary.evidence_erased = len(evidence.erased & set(evidence.named))
        if with_evidence:
            for sha in sorted(set(evidence.named) - evidence.erased):
                path = config.evidence_dir / storage_key(sha)
                if not path.is_file():
                    summary.evidence_missing.append(sha)
                    continue
                with writer.part(f"evidence/blobs/{sha}") as part, path.open("rb") as source:
                    while chunk := source.read(1 << 20):
                        part.write(chunk)
                summary.evidence_blobs += 1
        writer.finish(
            {
                "origin": origin,
                "created_at": datetime.now(UTC).isoformat(),
                "source": "postgresql" if config.uses_postgres else "sqlite",
                "entries": summary.entries,
                "checkpoints": summary.checkpoints,
                "latest_checkpoint": summary.latest_checkpoint,
                "rows": summary.rows,
                "evidence": {
                    "named": summary.evidence_named,
                    "erased": summary.evidence_erased,
                    "blobs_included": summary.evidence_blobs,
                    "blobs_note": "blobs live in the evidence store, which keeps its own "
                    "copies; only those under evidence/blobs/ are in this file",
                },
            }
        )
    except (SnapshotError, OSError, sqlite3.Error, psycopg.Error) as error:
        writer.abort()
        raise BackupError(f"backup failed, nothing written: {error}") from None
    except BaseException:
        writer.abort()
        raise
    return summary


def _declared(tables: Sequence[TableSpec] | None) -> Sequence[TableSpec]:
    return all_tables() if tables is None else tables


def _copied(tables: Sequence[TableSpec] | None) -> list[TableSpec]:
    """The tables a backup holds, in the order it writes them (the event store first)."""
    return [spec for spec in _declared(tables) if spec.backup is Backup.COPY]


def _without_erased_key(row: Sequence[Any], erased: set[str]) -> tuple[Any, ...]:
    """A data key row as a backup holds it: with no key if the log erased the blob (the
    erasure's event is in the snapshot; its key's destruction may not be yet). The events
    are read first, so `erased` is the snapshot's whole log."""
    sha256, wrapped_key, erased_at = row
    if sha256 in erased and wrapped_key is not None:
        return sha256, None, erased_at or datetime.now(UTC).isoformat()
    return sha256, wrapped_key, erased_at


def _secret_files(home: Path, erased: set[str]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for folder in SECRET_FOLDERS:
        root = home / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if not path.is_file() or ".tmp" in path.name or path.name.endswith(".retired"):
                continue
            if folder == LEGACY_FOLDER and path.suffix == ".key" and path.stem in erased:
                continue  # erased in the log: never carry its key into a backup
            files[str(path.relative_to(home))] = path.read_bytes()
    return files


# -- restore -------------------------------------------------------------------------------


def restore(
    config: LedgerConfig,
    archive: Path,
    passphrase: bytes,
    *,
    since: list[str] | None = None,
    tables: Sequence[TableSpec] | None = None,
) -> RestoreSummary:
    """Restore the backup `archive` into the empty home and store of `config`, verify it,
    and re-apply the log's erasures. Raises BackupError, leaving nothing behind.

    `tables` as for `backup`: the `Backup.COPY` ones are created and loaded from the
    backup, and if the restore has to be undone those and the `Backup.REBUILD` ones
    (derived by the restore) are emptied again."""
    declared = _declared(tables)
    copied = _copied(declared)
    by_name = {spec.name: spec for spec in copied}
    home = config.home
    if home.exists() and (not home.is_dir() or any(home.iterdir())):
        raise BackupError(f"{home} is not empty: restore only into a new, empty home folder")
    with ArchiveReader(archive, passphrase) as reader:
        staging = _stage_home(reader, home)
        staged = LedgerConfig(home=staging, database_url=config.database_url)
        loaded, events_table = False, ""
        try:
            events_table = _prepare_store(staged, copied)
            present = [by_name[n[3:-6]] for n in reader.names("db/") if n[3:-6] in by_name]
            if EVENTS not in {spec.name for spec in present}:
                raise BackupError("the backup holds no events")
            loaded = True
            load(staged, events_table, ((spec, _rows(reader, spec)) for spec in present))
            summary = _verify(staged, since or [])
            summary.erasures_reapplied, summary.keys_destroyed = _reapply_erasures(staged)
        except BaseException as error:
            if loaded and config.database_url is not None:
                restored = [spec for spec in declared if spec.backup is not Backup.OMIT]
                empty_postgres(config.database_url, events_table, restored)
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(error, (SnapshotError, psycopg.Error, sqlite3.Error)):
                raise BackupError(f"restore failed, nothing restored: {error}") from None
            raise
    if home.exists():
        home.rmdir()  # empty, checked above
    os.rename(staging, home)
    summary.store = config.describe_store()
    return summary


def _stage_home(reader: ArchiveReader, home: Path) -> Path:
    """The home folder's files, written beside it (private until moved into place)."""
    home.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=home.parent, prefix=f".{home.name}.restore-"))
    try:
        for relative, data in reader.secrets().items():
            _write_private(staging, relative, data)
        for name in PUBLIC_FILES:
            if reader.has(f"home/{name}"):
                (staging / name).write_bytes(reader.read(f"home/{name}"))
        for name in reader.names("evidence/blobs/"):
            try:
                sha = check_sha256(name.rsplit("/", 1)[1])
            except EvidenceError:
                raise BackupError(
                    f"the backup names a blob that is not a SHA-256: {name}"
                ) from None
            target = staging / "evidence" / storage_key(sha)
            target.parent.mkdir(parents=True, exist_ok=True)
            with reader.open(name) as source, target.open("wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
            target.chmod(0o400)  # as the local store keeps them: their owner's only
        _check_log_key(staging, reader.manifest.get("origin"))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def _write_private(root: Path, relative: str, data: bytes) -> None:
    target = (root / relative).resolve()
    if not target.is_relative_to(root.resolve()) or relative.split("/")[0] not in SECRET_FOLDERS:
        raise BackupError(f"the backup names a key file outside the home folder: {relative!r}")
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())  # a key lost to a crash after restore cannot be re-derived


def _check_log_key(staging: Path, origin: Any) -> None:
    """The restored log key must be the one log.vkey publishes: same key, same origin, so
    checkpoints signed before the backup verify, and new ones continue the same log."""
    config = LedgerConfig(home=staging)
    if not config.log_key_path.exists() or not config.log_vkey_path.exists():
        raise BackupError("the backup holds no log key or no log.vkey")
    try:
        signer = NoteSigner(str(origin), KeyPair.read(config.log_key_path))
        published = home_keys(config)[0]
    except (NoteError, ValueError) as error:
        raise BackupError(f"the backup's log key is unusable: {error}") from None
    if signer.verifier != published:
        raise BackupError("the backup's log key is not the key its log.vkey publishes")


def _prepare_store(staged: LedgerConfig, tables: Sequence[TableSpec]) -> str:
    """Create the tables (empty) and check the store holds nothing yet."""
    with Ledger(staged) as ledger:  # creates the event store and the ledger's own tables
        events_table = ledger.events_table
        with ledger.database.transaction() as cursor:
            for spec in tables:
                for statement in spec.create_statements(postgres=staged.uses_postgres):
                    cursor.execute(statement)
    if not is_empty(staged, events_table):
        raise BackupError(
            f"{staged.describe_store()} already holds a ledger: restore only into an empty database"
        )
    return events_table


def _rows(reader: ArchiveReader, spec: TableSpec) -> Iterator[tuple[Any, ...]]:
    for line in reader.lines(f"db/{spec.name}.jsonl"):
        try:
            values = json.loads(line)
        except ValueError:
            raise SnapshotError(f"a {spec.name} row is not JSON") from None
        yield decode_row(spec, values)


def _verify(staged: LedgerConfig, since: list[str]) -> RestoreSummary:
    """Rebuild the tree from the restored events, then verify everything."""
    summary = RestoreSummary()
    with Ledger(staged) as ledger:
        ledger.integrate()
        try:
            keys = LogKeys(home_keys(staged), rotation_notes(ledger.tables))
        except (NoteError, ValueError) as error:
            raise BackupError(f"the restored log keys are unusable: {error}") from None
        report = verify_ledger(ledger, keys)
        if not report.ok:
            raise RestoreVerificationFailed(
                f"the restored ledger does not verify ({len(report.problems)} problem(s)); "
                f"first: {report.first_problem()}"
            )
        for note in since:
            try:
                checkpoint = keys.verify_checkpoint(note)
            except NoteError as error:
                raise BackupError(f"a saved checkpoint cannot be checked: {error}") from None
            size = ledger.tree_size()
            if checkpoint.size > size or ledger.root_hash(checkpoint.size) != checkpoint.root_hash:
                raise RestoreVerificationFailed(
                    f"the restored log is not consistent with the checkpoint of size "
                    f"{checkpoint.size} saved earlier: its history differs"
                )
            summary.since_checked.append(checkpoint.size)
        summary.entries = report.entries
        summary.checkpoints_verified = report.checkpoints_verified
        summary.signatures_verified = report.signatures_verified
        summary.uncovered_entries = report.uncovered_entries
        summary.log_key = keys.current.encode()
    return summary


def _reapply_erasures(staged: LedgerConfig) -> tuple[int, int]:
    """Destroy again the data key of every blob the restored log erased, wherever a key
    may be: the database's table (encrypted S3) and the home's folder (the local backend,
    and S3 keys from before the table). (Erased blobs, destroyed keys.)"""
    evidence = _Evidence()
    with Ledger(staged) as ledger:
        for leaf_index, state in ledger.entries():
            evidence.see(leaf_index, state)
        folder = FileKeyStore(staged.home / LEGACY_FOLDER)
        table = TableKeyStore(ledger.tables)
        destroyed = 0
        for sha in sorted(evidence.erased):
            if table.get(sha) is not None or folder.get(sha) is not None:
                destroyed += 1
            table.erase(sha)
            folder.erase(sha)  # the tombstone too: the local store reads it there
    return len(evidence.erased), destroyed


def read_passphrase(passphrase_file: str | None) -> bytes:
    """From --passphrase-file (mode 0600, first line) or INQUIRY_LEDGER_BACKUP_PASSPHRASE."""
    if passphrase_file:
        path = Path(passphrase_file)
        try:
            mode = path.stat().st_mode & 0o777
            text = path.read_text()
        except OSError as error:
            raise BackupError(f"cannot read {path}: {error.strerror}") from None
        if mode & 0o077:
            raise BackupError(f"{path} is readable by others (mode {mode:o}); chmod 600 {path}")
        return text.splitlines()[0].encode() if text else b""
    value = os.environ.get(PASSPHRASE_ENV)
    if not value:
        raise BackupError(
            f"backups encrypt the key material: set {PASSPHRASE_ENV} or pass --passphrase-file"
        )
    return value.encode()


__all__ = ["BackupError", "backup", "history_path", "read_passphrase", "restore"]
