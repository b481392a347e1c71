"""Rotating the log key, and the ledger's record of its rotations.

Why a rotation statement rather than a ledger event: the log key is the server's key,
not an actor's, and what it signs (checkpoints) lives outside the entries; an event would
need an actor's signature and a domain rule for something no actor decides alone. So a
rotation is recorded the way checkpoints are, as a C2SP signed note signed by BOTH keys
(the format, and how verifiers place each key in time: ledger/auditor/rotation.py). The
statements are kept in the ledger's metadata (and so in backups and bundles), and every
verifier key ever used is listed in HOME/log.vkey.history beside log.vkey, so old
checkpoints still verify.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.note import NoteSigner, VerifierKey, sign_note
from ledger.auditor.rotation import LogKeyError, LogKeys, Rotation, parse_verifier_keys
from ledger.config import LedgerConfig
from ledger.keys import KeyPair

META_ROTATIONS = "log_key_rotations"  # JSON list of signed rotation notes, oldest first
META_VKEY = "log_vkey"


def history_path(config: LedgerConfig) -> Path:
    return config.home / "log.vkey.history"


def next_key_path(config: LedgerConfig) -> Path:
    return config.keys_dir / "log.key.next"


def rotation_notes(tables: Any) -> list[str]:
    """The rotation statements a ledger recorded (its `LedgerTables`)."""
    raw = tables.get_meta(META_ROTATIONS)
    if raw is None:
        return []
    notes = json.loads(raw)
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise LogKeyError("the ledger's log-key rotation record is malformed")
    return notes


def home_keys(config: LedgerConfig) -> list[VerifierKey]:
    """The verifier keys the home folder knows: log.vkey, then every retired key."""
    keys = parse_verifier_keys(config.log_vkey_path.read_text())
    path = history_path(config)
    if path.exists():
        keys += parse_verifier_keys(path.read_text())
    return keys


def ledger_keys(tables: Any, pinned: Sequence[VerifierKey]) -> LogKeys:
    return LogKeys(pinned, rotation_notes(tables))


@dataclass(frozen=True)
class RotationResult:
    rotation: Rotation
    handover_size: int


def rotate_log_key(config: LedgerConfig, ledger: Any) -> RotationResult:
    """Retire the log key: sign a handover checkpoint with it, record a statement signed
    by the old and the new key, and from then on sign checkpoints with the new key only.

    Runs under the append lock, so no checkpoint is signed by another process between
    the handover and the switch (the ledger also refuses to sign with a key other than the
    one its metadata names). Safe to re-run after a crash part-way: a new key already
    generated is reused, and a rotation already recorded only has its files finished."""
    origin = ledger.origin()
    ledger.integrate()
    next_path = next_key_path(config)
    with ledger.append_lock():
        current = ledger.tables.get_meta(META_VKEY)
        if next_path.exists():
            new_key = KeyPair.read(next_path)
            new_vkey = NoteSigner(origin, new_key).verifier
            if current is not None and current.strip() == new_vkey.encode():
                rotation = Rotation.parse(rotation_notes(ledger.tables)[-1])
                _finish_files(config, rotation)
                return RotationResult(rotation, rotation.size)
        else:
            new_key = KeyPair.generate()
            new_key.write(next_path)
        old_signer = NoteSigner(origin, KeyPair.read(config.log_key_path))
        new_signer = NoteSigner(origin, new_key)
        if current is None or current.strip() != old_signer.verifier.encode():
            raise LogKeyError(
                f"{config.log_key_path} is not the log key the ledger names; nothing rotated"
            )
        size = ledger.tree_size()
        root = ledger.root_hash(size)
        _handover_checkpoint(ledger, old_signer, size, root)
        body = Rotation.body(origin, size, root, old_signer.verifier, new_signer.verifier)
        note = sign_note(body, old_signer) + new_signer.signature_line(body)
        rotation = Rotation.parse(note)
        notes = [*rotation_notes(ledger.tables), note]
        p = ledger.tables.p
        with ledger.tables.datastore.transaction(commit=True) as cursor:
            for key, value in ((META_ROTATIONS, json.dumps(notes)), (META_VKEY, new_vkey_of(note))):
                cursor.execute(f"DELETE FROM ledger_meta WHERE key={p}", (key,))
                cursor.execute(f"INSERT INTO ledger_meta VALUES ({p}, {p})", (key, value))
        _finish_files(config, rotation)
    return RotationResult(rotation, size)


def new_vkey_of(note: str) -> str:
    return Rotation.parse(note).new.encode()


def _handover_checkpoint(ledger: Any, signer: NoteSigner, size: int, root: bytes) -> None:
    """The old key's last checkpoint, at the size the rotation names (reused if present),
    with the post-quantum line too when the ledger has that key (ledger/pqkeys.py)."""
    from datetime import UTC, datetime

    from ledger.storage import StoredCheckpoint

    latest = ledger.tables.latest_checkpoint()
    if latest is not None and latest.tree_size == size:
        return
    note = Checkpoint(signer.name, size, root).sign(ledger.checkpoint_signer(signer))
    stored = StoredCheckpoint(size, root, note, datetime.now(UTC).isoformat())
    ledger.tables.insert_checkpoint(stored)


def _finish_files(config: LedgerConfig, rotation: Rotation) -> None:
    """Keep the old verifier key in the history, publish the new one, retire the old
    private key (overwritten, then removed) and put the new one in its place."""
    history = history_path(config)
    known = history.read_text().split() if history.exists() else []
    if rotation.old.encode() not in known:
        with history.open("a") as handle:
            handle.write(rotation.old.encode() + "\n")
    _write_atomic(config.log_vkey_path, rotation.new.encode() + "\n", 0o644)
    next_path = next_key_path(config)
    if not next_path.exists():
        return
    retired = config.keys_dir / "log.key.retired"
    if config.log_key_path.exists():
        os.replace(config.log_key_path, retired)
    os.replace(next_path, config.log_key_path)
    if retired.exists():
        size = retired.stat().st_size
        with open(retired, "r+b") as handle:
            handle.write(os.urandom(size))
            handle.flush()
            os.fsync(handle.fileno())
        retired.unlink()


def _write_atomic(path: Path, text: str, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
