"""The wrapped evidence data keys of a deployment, in the ledger's database (issue 18).

An encrypted S3 store keeps each blob's data key, wrapped by the key-encryption key (KEK),
apart from the bucket (evidence_store/crypto.py). Kept in a folder of the home
(HOME/evidence-keys), only the machine that stored a blob could read it: a second API
machine, with its own home, against the same database and bucket, answered
"the data key of evidence ... is missing", and an erasure on one machine left the key
alive on the other. Every machine of a deployment shares the ledger's database, so the
keys live there: one row a blob in `evidence_data_keys`, behind the store's `KeyStore`.

The rows hold only wrapped keys (RFC 3394, an authenticated wrap), useless without the KEK,
which neither the database nor the bucket ever sees. So a backup copies the table like any
other (`Backup.COPY`, its rows unsealed) and the KEK is what stays secret: it is sealed
under the backup passphrase, or kept out of the backup when it comes from the environment.

Erasure is one statement: the key is overwritten with NULL and the tombstone (`erased_at`)
recorded together, so a reader never finds an erased blob "missing", and a `put` (also one
statement) refuses a row that has a tombstone, so a racing upload cannot revive the key.
Crypto-shredding inside a database has a limit an operator must know: the old row version
holding the key is not destroyed by the statement. PostgreSQL keeps the dead tuple until
VACUUM (autovacuum) reclaims it and its space is reused (VACUUM FULL rewrites the table at
once), and the WAL, any WAL archive, replica or base backup keep it until they are
recycled or expire; SQLite zeroes the freed bytes (secure_delete, set
for the statement), but in WAL mode the old page stays in the database file until a
checkpoint copies the new one back, and in the WAL until its frames are reused. Backups made
by the product never carry a key the log erased (api/application/backup.py); the
database's own backups must be expired like any other copy (README, "Erasure").

Migration: a home that kept keys in the folder has each `*.key` and `*.erased` imported
when the store opens (`import_key_folder`, idempotent, every open: an older process still
running during an upgrade may add files). The files are kept: nothing of this release
reads them, but going back to the previous release keeps the evidence it stored readable,
and no file is destroyed on the strength of an import into what might be the wrong
database. They are no longer a second live copy of erased keys: an erasure destroys the
folder's copy too, and each open destroys copies of keys erased on another machine. A
later release removes the folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evidence_store.base import ErasedBlob, EvidenceError, check_sha256
from evidence_store.crypto import FileKeyStore
from ledger.storage import LedgerTables, TableSpec

#: The folder the keys were kept in before (imported from, kept; see the docstring).
LEGACY_FOLDER = "evidence-keys"

EVIDENCE_DATA_KEYS = TableSpec(
    "evidence_data_keys",
    (("sha256", "text"), ("wrapped_key", "bytes"), ("erased_at", "text")),
    "sha256",
    (
        """CREATE TABLE IF NOT EXISTS evidence_data_keys (
    sha256 TEXT PRIMARY KEY, wrapped_key {blob}, erased_at TEXT,
    CHECK (wrapped_key IS NULL OR erased_at IS NULL))""",
    ),
)

_PUT = (
    "INSERT INTO evidence_data_keys VALUES (?, ?, NULL) ON CONFLICT (sha256) DO UPDATE "
    "SET wrapped_key = excluded.wrapped_key WHERE evidence_data_keys.erased_at IS NULL"
)
_ERASE = (
    "INSERT INTO evidence_data_keys VALUES (?, NULL, ?) ON CONFLICT (sha256) DO UPDATE "
    "SET wrapped_key = NULL, erased_at = COALESCE(evidence_data_keys.erased_at, excluded.erased_at)"
)
_IMPORT_KEY = "INSERT INTO evidence_data_keys VALUES (?, ?, NULL) ON CONFLICT (sha256) DO NOTHING"


class TableKeyStore:
    """A `KeyStore` (evidence_store/crypto.py) on the ledger's tables, for every machine.

    `legacy`, the folder the keys were kept in before, is only ever destroyed from: an
    erasure destroys its copy of the key first (the tombstone, in the table, comes last)."""

    def __init__(self, tables: LedgerTables, legacy: FileKeyStore | None = None) -> None:
        self.tables = tables
        self.legacy = legacy
        # Machines open their stores at once (each on its first request): safe.
        tables.create_tables([EVIDENCE_DATA_KEYS])

    def put(self, sha256: str, wrapped_key: bytes) -> None:
        """Store (or replace, as a retried upload must) the key; ErasedBlob after erasure."""
        with self.tables.transaction() as cursor:
            cursor.execute(self.tables.sql(_PUT), (check_sha256(sha256), wrapped_key))
            refused = cursor.rowcount == 0  # the row has a tombstone: the WHERE kept it
        if refused:
            raise ErasedBlob(f"evidence {sha256} was erased; it cannot be stored again")

    def get(self, sha256: str) -> bytes | None:
        row = self._row(sha256)
        return None if row is None or row["wrapped_key"] is None else bytes(row["wrapped_key"])

    def is_erased(self, sha256: str) -> bool:
        row = self._row(sha256)
        return row is not None and row["erased_at"] is not None

    def erase(self, sha256: str) -> None:
        """Destroy the key and record the tombstone, in one statement (idempotent)."""
        check_sha256(sha256)
        if self.legacy is not None and self.legacy.get(sha256) is not None:
            self.legacy.erase(sha256)
        with self._overwriting() as cursor:
            cursor.execute(self.tables.sql(_ERASE), (sha256, _now()))

    def any_key(self) -> bool:
        """Whether any blob has a key here (then a KEK must not be created afresh)."""
        with self.tables.reading() as cursor:
            cursor.execute("SELECT 1 FROM evidence_data_keys WHERE wrapped_key IS NOT NULL LIMIT 1")
            return cursor.fetchone() is not None

    def erased(self) -> set[str]:
        """Every blob erased here (few: erasure is a lawful, signed, rare act)."""
        with self.tables.reading() as cursor:
            cursor.execute("SELECT sha256 FROM evidence_data_keys WHERE erased_at IS NOT NULL")
            return {str(row["sha256"]) for row in cursor.fetchall()}

    def _row(self, sha256: str) -> Any:
        with self.tables.reading() as cursor:
            cursor.execute(
                self.tables.sql(
                    "SELECT wrapped_key, erased_at FROM evidence_data_keys WHERE sha256=?"
                ),
                (sha256,),
            )
            return cursor.fetchone()

    @contextmanager
    def _overwriting(self) -> Iterator[Any]:
        """A transaction whose overwritten bytes SQLite zeroes in the file (secure_delete,
        put back as it was afterwards: the pooled connection is shared). PostgreSQL has no
        such setting: its old row versions wait for VACUUM (module docstring)."""
        if self.tables.postgres:
            with self.tables.transaction() as cursor:
                yield cursor
            return
        with self.tables.transaction() as cursor:
            previous = int(cursor.execute("PRAGMA secure_delete").fetchone()[0])
            cursor.execute("PRAGMA secure_delete=ON")
            try:
                yield cursor
            finally:
                cursor.execute(f"PRAGMA secure_delete={previous:d}")


def import_key_folder(keys: TableKeyStore, folder: Path) -> tuple[int, int]:
    """Import the folder's `*.key` and `*.erased` into the table (module docstring);
    (keys, tombstones) imported. Idempotent: a key already in the table is kept (it was
    put later, by this release), a tombstone erases the row whatever it holds. Then the
    folder's copy of any key erased in the table, here or on another machine, is destroyed."""
    if not folder.is_dir():
        return 0, 0
    found_keys: list[tuple[str, bytes]] = []
    found_erased: list[tuple[str, str]] = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix not in (".key", ".erased"):
            continue  # a `.tmp<pid>` left by a crash, or anything else
        try:
            sha256 = check_sha256(path.stem)
        except EvidenceError:
            continue
        if path.suffix == ".key":
            found_keys.append((sha256, path.read_bytes()))
        else:
            at = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()
            found_erased.append((sha256, at))
    tables = keys.tables
    if found_keys:
        with tables.transaction() as cursor:
            cursor.executemany(tables.sql(_IMPORT_KEY), found_keys)
    if found_erased:
        with keys._overwriting() as cursor:
            cursor.executemany(tables.sql(_ERASE), found_erased)
    if found_keys:
        legacy = FileKeyStore(folder)
        for sha256 in sorted({sha256 for sha256, _ in found_keys} & keys.erased()):
            legacy.erase(sha256)  # a second live copy of a key the deployment erased
    return len(found_keys), len(found_erased)


def _now() -> str:
    return datetime.now(UTC).isoformat()
