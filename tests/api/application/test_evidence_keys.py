"""The evidence data keys in the ledger's database (issue 18: several API machines against
one PostgreSQL and one bucket): the key store's contract on both backends, the import of
a home's old key folder, and backup and restore of the table on a real S3 server."""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import psycopg
import pytest

from api.application.backup import backup, restore
from api.application.erasure import erase
from api.application.evidence import ConfiguredEvidence, verify_evidence
from api.application.evidence_keys import TableKeyStore, import_key_folder
from domain import Status
from evidence_store.base import BlobStatus, ErasedBlob, EvidenceError
from evidence_store.config import EvidenceConfig, open_store
from evidence_store.crypto import FileKeyStore
from ledger.backup_archive import ArchiveReader
from ledger.config import LedgerConfig
from ledger.service import Ledger
from tests.support.world import World, clear_store_settings

A, B, C = ("a" * 64), ("b" * 64), ("c" * 64)
PASSPHRASE = b"correct horse battery staple"


def _row(world: World, sha256: str) -> tuple[Any, Any]:
    """The table's row as stored: (wrapped key, erased at)."""
    tables = world.ledger.tables
    with tables.reading() as cursor:
        cursor.execute(
            tables.sql("SELECT wrapped_key, erased_at FROM evidence_data_keys WHERE sha256=?"),
            (sha256,),
        )
        row = cursor.fetchone()
    return row["wrapped_key"], row["erased_at"]


# -- the KeyStore contract, on SQLite and PostgreSQL ---------------------------------------


def test_put_get_erase_and_is_erased(world: World) -> None:
    keys = TableKeyStore(world.ledger.tables)
    assert keys.get(A) is None and not keys.is_erased(A)
    keys.put(A, b"first wrapped key")
    keys.put(A, b"wrapped key of a retried upload")  # replaced, as the folder's was
    assert keys.get(A) == b"wrapped key of a retried upload"
    keys.erase(A)
    assert keys.get(A) is None and keys.is_erased(A)
    wrapped, erased_at = _row(world, A)
    assert wrapped is None and erased_at  # the key gone and the tombstone, in one row
    keys.erase(A)  # idempotent: a retry completes a crash, and keeps the first time
    assert _row(world, A) == (None, erased_at)
    with pytest.raises(ErasedBlob):
        keys.put(A, b"the same content, stored again")
    assert keys.get(A) is None
    keys.erase(B)  # never stored here (a plain blob, or a key lost): still a tombstone
    assert keys.is_erased(B) and not keys.is_erased(C)
    assert keys.erased() == {A, B}


def test_a_second_machine_sees_the_first_machines_keys_and_erasures(world: World) -> None:
    first = TableKeyStore(world.ledger.tables)
    with Ledger(world.config) as elsewhere:  # its own connections to the same database
        second = TableKeyStore(elsewhere.tables)
        first.put(A, b"wrapped on the first machine")
        assert second.get(A) == b"wrapped on the first machine"
        second.erase(A)
        assert first.get(A) is None and first.is_erased(A)


@pytest.mark.parametrize("config", ["postgres"], indirect=True)
def test_machines_opening_at_once_create_the_table_once(world: World) -> None:
    """Found by the two-machine test: concurrent CREATE TABLE IF NOT EXISTS collide in
    PostgreSQL's catalogue; the creators take turns."""
    ledgers = [Ledger(world.config) for _ in range(4)]
    errors: list[BaseException] = []

    def open_keys(ledger: Ledger, barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            TableKeyStore(ledger.tables)
        except BaseException as error:
            errors.append(error)

    try:
        for _ in range(5):
            with world.ledger.tables.transaction() as cursor:
                cursor.execute("DROP TABLE IF EXISTS evidence_data_keys")
            barrier = threading.Barrier(len(ledgers))
            threads = [threading.Thread(target=open_keys, args=(led, barrier)) for led in ledgers]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            assert not errors, errors[:1]
    finally:
        for ledger in ledgers:
            ledger.close()


# -- the home's old folder -----------------------------------------------------------------


def test_the_old_folder_is_imported_idempotently_and_kept(world: World, tmp_path: Path) -> None:
    folder = tmp_path / "evidence-keys"
    old = FileKeyStore(folder)
    old.put(A, b"key of A, kept in the folder")
    old.put(B, b"key of B, kept in the folder")
    old.erase(C)  # an erasure made by the previous release
    (folder / f"{A}.tmp4242").write_bytes(b"left by a crash")
    (folder / "notes.txt").write_text("not a key")
    keys = TableKeyStore(world.ledger.tables, legacy=old)
    keys.put(B, b"key of B, put since by this release")  # the table's is the newer
    assert import_key_folder(keys, folder) == (2, 1)
    assert import_key_folder(keys, folder) == (2, 1)  # every open: nothing changes
    assert keys.get(A) == b"key of A, kept in the folder"
    assert keys.get(B) == b"key of B, put since by this release"
    assert keys.is_erased(C) and keys.get(C) is None
    assert (folder / f"{A}.key").read_bytes() == b"key of A, kept in the folder"  # kept
    # An erasure destroys the folder's copy too: the folder is no live copy of the key.
    keys.erase(A)
    assert old.get(A) is None and old.is_erased(A)


def test_a_key_erased_on_another_machine_is_destroyed_from_the_folder(
    world: World, tmp_path: Path
) -> None:
    folder = tmp_path / "evidence-keys"
    FileKeyStore(folder).put(A, b"imported earlier")
    keys = TableKeyStore(world.ledger.tables)
    import_key_folder(keys, folder)
    keys.erase(A)  # elsewhere: this machine's folder is out of its reach
    assert (folder / f"{A}.key").exists()
    import_key_folder(keys, folder)  # the next open here
    assert not (folder / f"{A}.key").exists() and (folder / f"{A}.erased").exists()
    assert keys.is_erased(A)


# -- a deployment on S3 ----------------------------------------------------------------------


@pytest.fixture
def s3(world: World, ceph_s3: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConfiguredEvidence]:
    """R1.1 in progress; its ledger's evidence an encrypted bucket of the Ceph server,
    whose data keys are in the ledger's database."""
    clear_store_settings(monkeypatch)
    monkeypatch.setenv("INQUIRY_LEDGER_S3_BUCKET", f"keys-{uuid.uuid4().hex[:12]}")
    monkeypatch.setenv("INQUIRY_LEDGER_S3_ENDPOINT_URL", ceph_s3.endpoint_url)
    monkeypatch.setenv("INQUIRY_LEDGER_S3_ACCESS_KEY_ID", ceph_s3.access_key)
    monkeypatch.setenv("INQUIRY_LEDGER_S3_SECRET_ACCESS_KEY", ceph_s3.secret_key)
    monkeypatch.setenv("INQUIRY_LEDGER_S3_RETENTION_DAYS", "0")
    evidence = ConfiguredEvidence(world.config.home, world.ledger.tables)
    world.ledger.evidence = evidence
    world.client("council.officer").change_status("R1.1", Status.IN_PROGRESS)
    yield evidence


def _attach(world: World, store: Any, content: bytes) -> str:
    blob = store.put(BytesIO(content))
    world.client("council.officer").attach_evidence(
        "R1.1",
        {
            "sha256": blob.sha256,
            "size": blob.size,
            "media_type": "text/plain",
            "original_name": "minutes.txt",
            "description": "Minutes",
            "storage_key": blob.storage_key,
            "effective_date": "2023-01-01",
        },
    )
    return str(blob.sha256)


def test_keys_of_the_old_folder_stay_readable_and_reach_every_machine(
    world: World, s3: ConfiguredEvidence, tmp_path: Path
) -> None:
    """The previous release kept them in HOME/evidence-keys: after the upgrade nothing
    is unreadable, here or on a second machine, and old erasures stay erased."""
    home = world.config.home
    previous = open_store(EvidenceConfig.from_env(home))  # the folder's key store
    kept = previous.put(BytesIO(b"minutes stored before the upgrade")).sha256
    gone = previous.put(BytesIO(b"erased before the upgrade")).sha256
    previous.erase(gone)
    store = s3.store  # opens: imports the folder
    assert b"".join(store.read(kept)) == b"minutes stored before the upgrade"
    assert store.status(gone) is BlobStatus.ERASED
    with pytest.raises(ErasedBlob):
        store.put(BytesIO(b"erased before the upgrade"))
    assert (home / "evidence-keys" / f"{kept}.key").exists()  # kept for a rollback
    other_home = tmp_path / "machine-b"
    shutil.copytree(home / "keys", other_home / "keys")  # the KEK, provisioned
    with Ledger(world.config) as ledger:
        other = ConfiguredEvidence(other_home, ledger.tables).store
        assert b"".join(other.read(kept)) == b"minutes stored before the upgrade"
        other.erase(kept)
    assert store.status(kept) is BlobStatus.ERASED
    assert (home / "evidence-keys" / f"{kept}.key").exists()  # out of the other's reach
    _ = ConfiguredEvidence(home, world.ledger.tables).store  # this machine's next start
    assert not (home / "evidence-keys" / f"{kept}.key").exists()


def test_a_machine_without_the_kek_does_not_make_its_own(
    world: World, s3: ConfiguredEvidence, tmp_path: Path
) -> None:
    s3.store.put(BytesIO(b"wrapped under the deployment's key"))
    other_home = tmp_path / "machine-b"
    with pytest.raises(EvidenceError, match="same key"):
        _ = ConfiguredEvidence(other_home, world.ledger.tables).store
    assert not (other_home / "keys" / "evidence.kek").exists()


@pytest.fixture
def fresh_database(config: LedgerConfig) -> Iterator[str | None]:
    """For a restore: a new empty PostgreSQL database (dropped after), or None on SQLite."""
    if config.database_url is None:
        yield None
        return
    base, _, name = config.database_url.rpartition("/")
    fresh = f"{name}_r"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{fresh}"')
    try:
        yield f"{base}/{fresh}"
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')


def test_backup_and_restore_keep_evidence_readable_and_erased_evidence_erased(
    world: World, s3: ConfiguredEvidence, tmp_path: Path, fresh_database: str | None
) -> None:
    store = s3.store
    kept = _attach(world, store, b"minutes of the board")
    erased = _attach(world, store, b"a statement naming a victim")
    erase(world.client("admin"), store, "R1.1", erased, "lawful erasure request")
    # Erased in the log, but the key not yet destroyed (a crash between the two steps).
    pending = _attach(world, store, b"a second statement")
    world.client("admin").erase_evidence("R1.1", pending, "lawful erasure request")
    assert store.key_store.get(pending) is not None
    out = tmp_path / "ledger.backup"
    backup(world.config, out, PASSPHRASE)
    with ArchiveReader(out, PASSPHRASE) as reader:
        rows = {
            sha: key for sha, key, _ in map(json.loads, reader.lines("db/evidence_data_keys.jsonl"))
        }
        assert not any("evidence-keys" in name for name in reader.secrets())
    assert rows[kept] is not None
    assert rows[erased] is None and rows[pending] is None  # never a key the log erased
    target = LedgerConfig(tmp_path / "restored", fresh_database)
    summary = restore(target, out, PASSPHRASE)
    assert summary.erasures_reapplied == 2
    with Ledger(target) as restored:
        evidence = ConfiguredEvidence(target.home, restored.tables)
        restored.evidence = evidence
        again = evidence.store  # the same bucket; the KEK from the backup's secrets
        assert b"".join(again.read(kept)) == b"minutes of the board"
        for sha in (erased, pending):
            assert again.status(sha) is BlobStatus.ERASED
            with pytest.raises(ErasedBlob):
                b"".join(again.read(sha))
        assert verify_evidence(restored, again).ok
