"""Backup and restore: SQLite and PostgreSQL, across the two, while writers run; refusal of
truncated, corrupted and tampered files with nothing half-restored; erasures re-applied;
the restored log consistent with a checkpoint saved before the backup."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import psycopg
import pytest

from api.cli.main import main
from domain import Status
from evidence_store.base import ErasedBlob
from evidence_store.crypto import FileKeyStore
from evidence_store.local import LocalEvidenceStore
from ledger.auditor import merkle
from ledger.backup_archive import MAC, MANIFEST, ArchiveReader, _derive
from ledger.config import LedgerConfig
from ledger.logkeys import home_keys, ledger_keys
from ledger.service import Ledger
from ledger.snapshot import is_empty
from ledger.verify import verify_ledger
from tests.support.world import ORIGIN, World, clear_store_settings, make_world

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local evidence store and the backup passphrase; no server, no S3."""
    monkeypatch.setenv("INQUIRY_LEDGER_BACKUP_PASSPHRASE", PASSPHRASE)
    clear_store_settings(monkeypatch)
    for name in ("INQUIRY_LEDGER_SERVER", "INQUIRY_LEDGER_USER", "INQUIRY_LEDGER_KEY"):
        monkeypatch.delenv(name, raising=False)


def run(config: LedgerConfig, *args: str, capsys: Any, monkeypatch: Any) -> tuple[int, str, str]:
    """The CLI against `config` (its home and its database)."""
    monkeypatch.setenv("INQUIRY_LEDGER_HOME", str(config.home))
    if config.database_url:
        monkeypatch.setenv("INQUIRY_LEDGER_DATABASE_URL", config.database_url)
    else:
        monkeypatch.delenv("INQUIRY_LEDGER_DATABASE_URL", raising=False)
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _encrypted_store(config: LedgerConfig) -> LocalEvidenceStore:
    kek_file = config.keys_dir / "evidence.kek"
    if not kek_file.exists():
        kek_file.parent.mkdir(parents=True, exist_ok=True)
        kek_file.write_text(base64.b64encode(b"k" * 32).decode() + "\n")
        kek_file.chmod(0o600)
    kek = base64.b64decode(kek_file.read_text().strip())
    return LocalEvidenceStore(
        config.evidence_dir, kek=kek, key_store=FileKeyStore(config.home / "evidence-keys")
    )


def _attach(world: World, store: LocalEvidenceStore, content: bytes) -> str:
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
    return blob.sha256


@pytest.fixture
def world(config: LedgerConfig, clock: Any) -> World:
    """A ledger with an action, encrypted evidence, comments and checkpoints."""
    w = make_world(config, clock)
    store = _encrypted_store(config)
    w.ledger.evidence = store
    w.add_action("R1.1")
    w.client("council.officer").change_status("R1.1", Status.IN_PROGRESS)
    _attach(w, store, b"minutes of the board, March")
    w.checkpoint()
    for i in range(5):
        w.client("sig").comment("R1.1", f"review note {i}")
    w.checkpoint()
    return w


def _verify_home(config: LedgerConfig) -> Any:
    with Ledger(config) as ledger:
        return verify_ledger(ledger, ledger_keys(ledger.tables, home_keys(config)))


def _state(config: LedgerConfig) -> list[bytes]:
    with Ledger(config) as ledger:
        return [entry for _, entry in ledger.entries()]


def test_backup_and_restore_round_trip_with_a_checkpoint_saved_before(
    world: World, tmp_path: Path, env: None, capsys: Any, monkeypatch: Any
) -> None:
    saved = tmp_path / "saved-checkpoint.txt"
    saved.write_text(world.checkpoint().note)
    saved_size = world.ledger.tree_size()
    world.client("sig").comment("R1.1", "after the saved checkpoint")
    world.checkpoint()
    out = tmp_path / "ledger.backup"
    code, text, err = run(
        world.config, "backup", "--out", str(out), capsys=capsys, monkeypatch=monkeypatch
    )
    assert code == 0, err
    assert out.stat().st_mode & 0o777 == 0o600
    assert "encrypted" in text
    target = LedgerConfig(tmp_path / "restored", world.config.database_url and _fresh_db(world))
    code, text, err = run(
        target, "restore", str(out), "--since", str(saved), capsys=capsys, monkeypatch=monkeypatch
    )
    assert code == 0, err
    assert f"consistent with the checkpoint of size {saved_size} saved earlier" in text
    assert _state(target) == _state(world.config)
    report = _verify_home(target)
    assert report.ok and report.checkpoints_verified >= 3
    # The same log: the same key and origin, and a consistency proof from the saved one.
    with Ledger(target) as restored:
        size = restored.tree_size()
        proof = restored.consistency_proof(saved_size, size)
        old_root = world.ledger.root_hash(saved_size)
        assert merkle.verify_consistency(
            saved_size, size, old_root, restored.root_hash(size), proof
        )
    assert (target.home / "log.vkey").read_text() == (world.config.home / "log.vkey").read_text()
    assert (target.log_key_path).stat().st_mode & 0o777 == 0o600
    # The restored ledger goes on: a new entry (after the restored notification ids) and a
    # checkpoint under the same key. Restored, it runs on the wall clock, and so does the
    # user who signs for it (the world's simulated clock is in 2023: ledger/timestamps.py).
    from api.application.commands import Client
    from ledger.signer import Signer

    with Ledger(target) as restored:
        assert restored.origin() == ORIGIN
        sig = Signer("sig", world.keys["sig"], ORIGIN)
        appended = Client(restored, sig).comment("R1.1", "restored")
        assert appended.leaf_index == len(_state(world.config))
    code, text, err = run(target, "checkpoint", capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err
    code, text, err = run(target, "verify", capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0 and "OK" in text, err


def _fresh_db(world: World) -> str | None:
    """A new empty PostgreSQL database beside the world's (dropped with the test server)."""
    url = world.config.database_url
    assert url is not None
    base, _, name = url.rpartition("/")
    fresh = f"{name}_r"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{fresh}"')
    _CREATED.append(f"{base}/postgres|{fresh}")
    return f"{base}/{fresh}"


_CREATED: list[str] = []


@pytest.fixture(autouse=True)
def _drop_created() -> Any:
    yield
    while _CREATED:
        admin_url, name = _CREATED.pop().split("|")
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("config", ["sqlite"], indirect=True)
def test_a_sqlite_backup_restores_into_postgresql_and_back(
    world: World,
    tmp_path: Path,
    env: None,
    capsys: Any,
    monkeypatch: Any,
    postgres_url: str,
) -> None:
    out = tmp_path / "sqlite.backup"
    assert (
        run(world.config, "backup", "--out", str(out), capsys=capsys, monkeypatch=monkeypatch)[0]
        == 0
    )
    on_pg = LedgerConfig(tmp_path / "pg-home", postgres_url)
    code, text, err = run(on_pg, "restore", str(out), capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err
    assert "PostgreSQL" in text
    assert _state(on_pg) == _state(world.config)
    assert _verify_home(on_pg).ok
    # and back: a PostgreSQL backup into a new SQLite home
    again = tmp_path / "pg.backup"
    assert run(on_pg, "backup", "--out", str(again), capsys=capsys, monkeypatch=monkeypatch)[0] == 0
    on_sqlite = LedgerConfig(tmp_path / "sqlite-again")
    code, _, err = run(on_sqlite, "restore", str(again), capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err
    assert _state(on_sqlite) == _state(world.config)


def test_a_backup_taken_while_writers_append_is_consistent(
    world: World, tmp_path: Path, env: None, capsys: Any, monkeypatch: Any
) -> None:
    stop = threading.Event()
    appended: list[int] = []

    def writer() -> None:
        client = world.client("sig")
        while not stop.is_set() and len(appended) < 200:
            client.comment("R1.1", f"concurrent {len(appended)}")
            appended.append(1)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(appended) < 5:
            thread.join(0.01)
        out = tmp_path / "busy.backup"
        code, _, err = run(
            world.config, "backup", "--out", str(out), capsys=capsys, monkeypatch=monkeypatch
        )
    finally:
        stop.set()
        thread.join()
    assert code == 0, err
    target = LedgerConfig(tmp_path / "busy", world.config.database_url and _fresh_db(world))
    code, _text, err = run(target, "restore", str(out), capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err
    restored = _state(target)
    # A prefix of the live log: nothing torn, nothing from after the snapshot.
    assert restored == _state(world.config)[: len(restored)]
    assert _verify_home(target).ok


def test_restore_reapplies_the_erasures_of_the_restored_log(
    world: World, tmp_path: Path, env: None, capsys: Any, monkeypatch: Any
) -> None:
    store = _encrypted_store(world.config)
    sha = _attach(world, store, b"a statement naming a victim")
    world.client("admin").erase_evidence("R1.1", sha, "lawful erasure request")
    # The backup is taken between the signed erasure and the destruction of the key, by a
    # copy that does not read the log (a file-level backup of HOME/evidence-keys).
    import api.application.backup

    original = api.application.backup._secret_files
    monkeypatch.setattr(
        api.application.backup, "_secret_files", lambda home, erased: original(home, set())
    )
    out = tmp_path / "with-key.backup"
    assert (
        run(world.config, "backup", "--out", str(out), capsys=capsys, monkeypatch=monkeypatch)[0]
        == 0
    )
    monkeypatch.setattr(api.application.backup, "_secret_files", original)
    store.erase(sha)
    with ArchiveReader(out, PASSPHRASE.encode()) as reader:
        assert f"evidence-keys/{sha}.key" in reader.secrets()  # the key is in the backup
    target = LedgerConfig(tmp_path / "restored", world.config.database_url and _fresh_db(world))
    code, text, err = run(target, "restore", str(out), capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err
    assert "re-applied 1 evidence erasure(s)" in text and "1 data key(s)" in text
    restored_store = _encrypted_store(target)
    with pytest.raises(ErasedBlob):
        b"".join(restored_store.read(sha))
    # A backup made by the product itself never carries the erased key at all.
    clean = tmp_path / "clean.backup"
    assert (
        run(world.config, "backup", "--out", str(clean), capsys=capsys, monkeypatch=monkeypatch)[0]
        == 0
    )
    with ArchiveReader(clean, PASSPHRASE.encode()) as reader:
        assert f"evidence-keys/{sha}.key" not in reader.secrets()
        manifest = [json.loads(line) for line in reader.lines("evidence/manifest.jsonl")]
    assert {(m["sha256"], m["erased"]) for m in manifest} >= {(sha, True)}


def test_evidence_blobs_are_included_on_request_and_restored_readable(
    world: World, tmp_path: Path, env: None, capsys: Any, monkeypatch: Any
) -> None:
    out = tmp_path / "evidence.backup"
    code, text, err = run(
        world.config,
        "backup",
        "--out",
        str(out),
        "--evidence",
        capsys=capsys,
        monkeypatch=monkeypatch,
    )
    assert code == 0 and "(1 blobs)" in text, err
    target = LedgerConfig(tmp_path / "restored", world.config.database_url and _fresh_db(world))
    assert run(target, "restore", str(out), capsys=capsys, monkeypatch=monkeypatch)[0] == 0
    restored = _encrypted_store(target)
    (sha,) = list(restored.stored_hashes())
    assert b"".join(restored.read(sha)) == b"minutes of the board, March"


def _rewrite(archive: Path, out: Path, change: Any, passphrase: str | None = None) -> None:
    """Copy a backup with `change(name, data) -> data` applied; with the passphrase, the
    manifest is recomputed and re-authenticated (an insider who knows it)."""
    with zipfile.ZipFile(archive) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    for name in list(parts):
        if name not in (MANIFEST, MAC):
            parts[name] = change(name, parts[name])
    manifest = json.loads(parts[MANIFEST])
    for name in manifest["parts"]:
        manifest["parts"][name] = {
            "sha256": hashlib.sha256(parts[name]).hexdigest(),
            "size": len(parts[name]),
        }
    parts[MANIFEST] = json.dumps(manifest, indent=1, sort_keys=True).encode()
    if passphrase is not None:
        kdf = manifest["kdf"]
        _, mac_key = _derive(
            passphrase.encode(), base64.b64decode(kdf["salt"]), kdf["n"], kdf["r"], kdf["p"]
        )
        parts[MAC] = hmac.new(mac_key, parts[MANIFEST], hashlib.sha256).hexdigest().encode()
    with zipfile.ZipFile(out, "w") as sink:
        for name, data in parts.items():
            sink.writestr(name, data)


def _alter_a_comment(name: str, data: bytes) -> bytes:
    if name != "db/events.jsonl":
        return data
    lines = data.splitlines()
    row = json.loads(lines[-1])
    state = base64.b64decode(row[4]).replace(b"review note", b"review NOTE")
    row[4] = base64.b64encode(state).decode()
    lines[-1] = json.dumps(row).encode()
    return b"\n".join(lines) + b"\n"


def _truncate(archive: Path, out: Path) -> None:
    out.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])


def _flip(archive: Path, out: Path) -> None:
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as source:
        info = source.getinfo("db/events.jsonl")
    data[info.header_offset + 30 + len(info.filename) + info.compress_size // 2] ^= 0x40
    out.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "message", "exit_code"),
    [
        (_truncate, "not a readable backup", 2),
        (_flip, "db/events.jsonl", 2),
        (lambda a, o: _rewrite(a, o, _alter_a_comment), "does not authenticate", 2),
        (lambda a, o: _rewrite(a, o, _alter_a_comment, PASSPHRASE), "does not verify", 1),
        (
            lambda a, o: _rewrite(a, o, lambda n, d: b"" if n == "secrets.enc" else d),
            "does not authenticate",
            2,
        ),
    ],
    ids=["truncated", "corrupted", "tampered", "tampered-with-passphrase", "secrets-removed"],
)
def test_a_damaged_backup_is_refused_and_nothing_is_restored(
    world: World,
    tmp_path: Path,
    env: None,
    capsys: Any,
    monkeypatch: Any,
    damage: Any,
    message: str,
    exit_code: int,
) -> None:
    good = tmp_path / "good.backup"
    assert (
        run(world.config, "backup", "--out", str(good), capsys=capsys, monkeypatch=monkeypatch)[0]
        == 0
    )
    bad = tmp_path / "bad.backup"
    damage(good, bad)
    target = LedgerConfig(tmp_path / "restored", world.config.database_url and _fresh_db(world))
    code, _, err = run(target, "restore", str(bad), capsys=capsys, monkeypatch=monkeypatch)
    assert code == exit_code, err
    assert message in err and "Traceback" not in err
    assert not target.home.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".restored")] == []
    if target.database_url:
        with Ledger(target) as ledger:
            events_table = ledger.app.recorder.events_table_name
        assert is_empty(target, events_table)
    # The good file still restores into the same (still empty) place.
    code, _, err = run(target, "restore", str(good), capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err


def test_a_wrong_passphrase_is_refused(
    world: World, tmp_path: Path, env: None, capsys: Any, monkeypatch: Any
) -> None:
    out = tmp_path / "b.backup"
    assert (
        run(world.config, "backup", "--out", str(out), capsys=capsys, monkeypatch=monkeypatch)[0]
        == 0
    )
    monkeypatch.setenv("INQUIRY_LEDGER_BACKUP_PASSPHRASE", "not the passphrase at all")
    target = LedgerConfig(tmp_path / "restored")
    code, _, err = run(target, "restore", str(out), capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2 and "wrong passphrase" in err
    assert not target.home.exists()


def test_restore_refuses_a_home_or_database_that_is_not_empty(
    world: World, tmp_path: Path, env: None, capsys: Any, monkeypatch: Any
) -> None:
    out = tmp_path / "b.backup"
    assert (
        run(world.config, "backup", "--out", str(out), capsys=capsys, monkeypatch=monkeypatch)[0]
        == 0
    )
    before = _state(world.config)
    code, _, err = run(world.config, "restore", str(out), capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2 and "not empty" in err
    if world.config.database_url:
        # An empty home, but the database already holds this ledger.
        elsewhere = LedgerConfig(tmp_path / "new-home", world.config.database_url)
        code, _, err = run(elsewhere, "restore", str(out), capsys=capsys, monkeypatch=monkeypatch)
        assert code == 2 and "already holds a ledger" in err
        assert not elsewhere.home.exists()
    assert _state(world.config) == before


def test_backup_refuses_bad_requests_clearly(
    world: World, tmp_path: Path, env: None, capsys: Any, monkeypatch: Any
) -> None:
    out = tmp_path / "b.backup"
    monkeypatch.setenv("INQUIRY_LEDGER_SERVER", "http://127.0.0.1:9")
    monkeypatch.setenv("INQUIRY_LEDGER_TOKEN", "il_x_y")
    code, _, err = run(
        world.config, "backup", "--out", str(out), capsys=capsys, monkeypatch=monkeypatch
    )
    assert code == 2 and "not in client mode" in err
    code, _, err = run(world.config, "restore", str(out), capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2 and "not in client mode" in err
    monkeypatch.delenv("INQUIRY_LEDGER_SERVER")
    monkeypatch.delenv("INQUIRY_LEDGER_BACKUP_PASSPHRASE")
    code, _, err = run(
        world.config, "backup", "--out", str(out), capsys=capsys, monkeypatch=monkeypatch
    )
    assert code == 2 and "INQUIRY_LEDGER_BACKUP_PASSPHRASE" in err
    monkeypatch.setenv("INQUIRY_LEDGER_BACKUP_PASSPHRASE", "short")
    code, _, err = run(
        world.config, "backup", "--out", str(out), capsys=capsys, monkeypatch=monkeypatch
    )
    assert code == 2 and "at least 12" in err
    assert not out.exists()
    out.write_text("someone else's file")
    monkeypatch.setenv("INQUIRY_LEDGER_BACKUP_PASSPHRASE", PASSPHRASE)
    code, _, err = run(
        world.config, "backup", "--out", str(out), capsys=capsys, monkeypatch=monkeypatch
    )
    assert code == 2 and "already exists" in err
    assert out.read_text() == "someone else's file"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_restore_refuses_a_log_that_differs_from_a_checkpoint_saved_before(
    world: World, tmp_path: Path, env: None, capsys: Any, monkeypatch: Any
) -> None:
    from ledger.auditor.checkpoint import Checkpoint

    # What an auditor would hold if the operator had shown them another history.
    other = Checkpoint(world.log_signer.name, 3, hashlib.sha256(b"another history").digest())
    saved = tmp_path / "saved.txt"
    saved.write_text(other.sign(world.log_signer))
    out = tmp_path / "b.backup"
    assert (
        run(world.config, "backup", "--out", str(out), capsys=capsys, monkeypatch=monkeypatch)[0]
        == 0
    )
    target = LedgerConfig(tmp_path / "restored", world.config.database_url and _fresh_db(world))
    code, _, err = run(
        target, "restore", str(out), "--since", str(saved), capsys=capsys, monkeypatch=monkeypatch
    )
    assert code == 1 and "not consistent with the checkpoint of size 3" in err
    assert not target.home.exists()
