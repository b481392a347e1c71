"""The log key over time: rotating it, and verifying checkpoints across rotations.

Why a rotation statement rather than a ledger event: the log key is the server's key,
not an actor's, and what it signs (checkpoints) lives outside the entries; an event would
need an actor's signature and a domain rule for something no actor decides alone. So a
rotation is recorded the way checkpoints are, as a C2SP signed note::

    inquiry-ledger/log-key-rotation/v1
    <origin>
    <size>                 the handover checkpoint: the old key's last, the new key's first
    <base64 root>          the root of the tree at that size
    old <verifier key>
    new <verifier key>

signed by BOTH keys: the old key's signature says "my successor is this key, from this
tree", the new key's proves it exists and saw the same tree. The statements are kept in
the ledger's metadata (and so in backups and bundles), and every verifier key ever used is
listed in HOME/log.vkey.history beside log.vkey, so old checkpoints still verify.

A verifier trusts only keys it pinned. A statement signed by a pinned old key does not
make its new key trusted (the old key may be the one that was stolen): the verifier is
told that the log key was rotated, at which size, and to which key, and is asked to pin
the new key after obtaining it independently. Each key is valid only for checkpoint sizes
up to its retirement; a checkpoint of a larger size signed by a retired key (what a thief
of the old key would make) is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.config import LedgerConfig
from ledger.keys import KeyPair
from ledger.note import Checkpoint, NoteError, NoteSigner, VerifierKey, open_note, sign_note

ROTATION_FORMAT = "inquiry-ledger/log-key-rotation/v1"
META_ROTATIONS = "log_key_rotations"  # JSON list of signed rotation notes, oldest first
META_VKEY = "log_vkey"


class LogKeyError(ValueError):
    """A rotation cannot be made, or a rotation statement is malformed or unsigned."""


def history_path(config: LedgerConfig) -> Path:
    return config.home / "log.vkey.history"


def next_key_path(config: LedgerConfig) -> Path:
    return config.keys_dir / "log.key.next"


@dataclass(frozen=True)
class Rotation:
    origin: str
    size: int
    root_hash: bytes
    old: VerifierKey
    new: VerifierKey
    note: str

    @staticmethod
    def body(origin: str, size: int, root: bytes, old: VerifierKey, new: VerifierKey) -> str:
        return (
            f"{ROTATION_FORMAT}\n{origin}\n{size}\n{base64.b64encode(root).decode()}\n"
            f"old {old.encode()}\nnew {new.encode()}\n"
        )

    @classmethod
    def parse(cls, note: str) -> Rotation:
        """Parse a rotation statement; it must carry valid signatures by both keys."""
        text, separator, _ = note.rpartition("\n\n")
        lines = text.split("\n")
        if not separator or len(lines) != 6 or lines[0] != ROTATION_FORMAT:
            raise LogKeyError("not a log-key rotation statement")
        origin, size_text, root_text, old_line, new_line = lines[1:]
        if not size_text.isdigit() or not old_line.startswith("old "):
            raise LogKeyError("a rotation statement's size or old key is malformed")
        if not new_line.startswith("new "):
            raise LogKeyError("a rotation statement's new key is malformed")
        try:
            root = base64.b64decode(root_text, validate=True)
            old = VerifierKey.parse(old_line[4:])
            new = VerifierKey.parse(new_line[4:])
            for key in (old, new):
                open_note(note, key)
        except (binascii.Error, NoteError) as error:
            raise LogKeyError(f"rotation statement: {error}") from None
        if len(root) != 32 or old.name != origin or new.name != origin:
            raise LogKeyError("a rotation statement's root or key names are malformed")
        return cls(origin, int(size_text), root, old, new, note)


@dataclass(frozen=True)
class KeyPeriod:
    """A log key and the checkpoint sizes it may sign: first..last (None: still current)."""

    key: VerifierKey
    first: int
    last: int | None
    pinned: bool

    def covers(self, size: int) -> bool:
        return self.first <= size and (self.last is None or size <= self.last)


class LogKeys:
    """The keys a verifier pinned, placed in time by the log's rotation statements."""

    def __init__(self, pinned: Sequence[VerifierKey], rotation_notes: Sequence[str] = ()):
        if not pinned:
            raise LogKeyError("no log verifier key to check checkpoints with")
        self.pinned = list(dict.fromkeys(pinned))
        self.rotations = [Rotation.parse(note) for note in rotation_notes]
        for before, after in zip(self.rotations, self.rotations[1:], strict=False):
            if after.old != before.new or after.size < before.size:
                raise LogKeyError("the log's rotation statements do not form one chain")
        if not self.rotations:
            self.periods = [KeyPeriod(key, 0, None, True) for key in self.pinned]
            return
        chain = [self.rotations[0].old] + [r.new for r in self.rotations]
        bounds = [0] + [r.size for r in self.rotations]
        self.periods = [
            KeyPeriod(key, bounds[i], bounds[i + 1] if i + 1 < len(bounds) else None, key in pinned)
            for i, key in enumerate(chain)
        ]

    @property
    def current(self) -> VerifierKey:
        return self.periods[-1].key if self.rotations else self.pinned[0]

    def verify_checkpoint(self, note: str) -> Checkpoint:
        """The checkpoint in `note`, if a pinned key signed it within that key's period."""
        for period in self.periods:
            if not period.pinned:
                continue
            try:
                checkpoint = Checkpoint.verify(note, period.key)
            except NoteError:
                continue
            if not period.covers(checkpoint.size):
                raise NoteError(
                    f"checkpoint of size {checkpoint.size} is signed by log key "
                    f"{_short(period.key)}, which was retired at size {period.last}: only its "
                    "successor may sign later checkpoints (was the retired key stolen?)"
                )
            return checkpoint
        for period in self.periods:
            if period.pinned:
                continue
            try:
                checkpoint = Checkpoint.verify(note, period.key)
            except NoteError:
                continue
            raise NoteError(
                f"checkpoint of size {checkpoint.size} is signed by log key {_short(period.key)}, "
                f"which took over at size {period.first} in a rotation signed by the key you "
                "pinned; you have not pinned it: obtain it independently and pin it too "
                f"(verifier key {period.key.encode()})"
            )
        names = ", ".join(_short(key) for key in self.pinned)
        raise NoteError(f"the checkpoint carries no valid signature by a pinned log key ({names})")


def _short(key: VerifierKey) -> str:
    return f"{key.name}+{key.key_hash.hex()}"


def verify_checkpoint(note: str, keys: VerifierKey | LogKeys) -> Checkpoint:
    """Checkpoint.verify for one key, or for a key history."""
    if isinstance(keys, LogKeys):
        return keys.verify_checkpoint(note)
    return Checkpoint.verify(note, keys)


def parse_verifier_keys(text: str) -> list[VerifierKey]:
    """One verifier key a line (a pinned file may hold the old keys and the new)."""
    keys = [VerifierKey.parse(line) for line in text.splitlines() if line.strip()]
    if not keys:
        raise NoteError("no verifier key in the file")
    return keys


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
    """The old key's last checkpoint, at the size the rotation names (reused if present)."""
    from datetime import UTC, datetime

    from ledger.storage import StoredCheckpoint

    latest = ledger.tables.latest_checkpoint()
    if latest is not None and latest.tree_size == size:
        return
    stored = StoredCheckpoint(
        size, root, Checkpoint(signer.name, size, root).sign(signer), datetime.now(UTC).isoformat()
    )
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
