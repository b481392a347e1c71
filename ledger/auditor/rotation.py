"""The log key over time: rotation statements, and checkpoints verified across them.

A rotation is recorded as a C2SP signed note (why not a ledger event: ledger/logkeys.py)::

    inquiry-ledger/log-key-rotation/v1
    <origin>
    <size>                 the handover checkpoint: the old key's last, the new key's first
    <base64 root>          the root of the tree at that size
    old <verifier key>
    new <verifier key>

signed by BOTH keys: the old key's signature says "my successor is this key, from this
tree", the new key's proves it exists and saw the same tree. The statements of one log
form one chain: the first hands over from the log's first key, and each later one from
the key the one before handed over to, at a size no smaller.

A verifier trusts only keys it pinned. A statement signed by a pinned old key does not
make its new key trusted (the old key may be the one that was stolen): the verifier is
told that the log key was rotated, at which size, and to which key, and is asked to pin
the new key after obtaining it independently. Each key is valid only for checkpoint sizes
up to its retirement; a checkpoint of a larger size signed by a retired key (what a thief
of the old key would make) is refused.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.errors import FormatError
from ledger.auditor.note import (
    NoteError,
    VerifierKey,
    decode_canonical_base64,
    open_note,
    parse_note_integer,
)

ROTATION_FORMAT = "inquiry-ledger/log-key-rotation/v1"


class LogKeyError(FormatError):
    """A rotation cannot be made, or rotation statements are malformed, unsigned or do not
    form one chain."""


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
        if not old_line.startswith("old ") or not new_line.startswith("new "):
            raise LogKeyError("a rotation statement names an old and a new key")
        try:
            size = parse_note_integer(size_text, "a rotation statement's size")
            root = decode_canonical_base64(root_text, "a rotation statement's root")
            old = VerifierKey.parse(old_line[4:])
            new = VerifierKey.parse(new_line[4:])
            for key in (old, new):
                open_note(note, key)
        except NoteError as error:
            raise LogKeyError(f"rotation statement: {error}") from None
        if len(root) != 32 or not origin or old.name != origin or new.name != origin:
            raise LogKeyError("a rotation statement's root or key names are malformed")
        if old == new:
            raise LogKeyError("a rotation statement hands over from a key to itself")
        return cls(origin, size, root, old, new, note)


def check_chain(rotations: Sequence[Rotation]) -> None:
    """Refuse statements that do not form one chain: each hands over from the key the one
    before handed over to, for the same log, at a size no smaller."""
    for before, after in itertools.pairwise(rotations):
        if after.old != before.new or after.size < before.size or after.origin != before.origin:
            raise LogKeyError(
                "the log's rotation statements do not form one chain: the rotation at size "
                f"{after.size} hands over from {after.old.label}, but the one before handed "
                f"over to {before.new.label} at size {before.size}"
            )


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
    """The keys a verifier pinned, placed in time by the log's rotation statements
    (parsed `Rotation`s or their signed notes, oldest first)."""

    def __init__(
        self, pinned: Sequence[VerifierKey], rotations: Sequence[Rotation | str] = ()
    ) -> None:
        if not pinned:
            raise LogKeyError("no log verifier key to check checkpoints with")
        self.pinned = list(dict.fromkeys(pinned))
        self.rotations = [r if isinstance(r, Rotation) else Rotation.parse(r) for r in rotations]
        check_chain(self.rotations)
        chain = [self.rotations[0].old] + [r.new for r in self.rotations] if self.rotations else []
        unbound = [key for key in self.pinned if key not in chain]
        if len(self.pinned) > 1 and unbound:
            # Two keys valid for every size would let a thief of the retired one sign
            # checkpoints of any size: each key's period comes only from the statements.
            raise LogKeyError(
                f"{len(self.pinned)} log keys are pinned, but no rotation statement binds "
                f"{', '.join(key.label for key in unbound)}: without the statements "
                "(log-key-rotations.jsonl) nothing says which key was valid for which sizes"
            )
        if not self.rotations:
            self.periods = [KeyPeriod(key, 0, None, True) for key in self.pinned]
            return
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
                    f"{period.key.label}, valid only for sizes {period.first} to {period.last}: "
                    f"it was retired at size {period.last}, and a key used after its "
                    "retirement is refused (only its successor may sign later checkpoints; "
                    "was the retired key stolen?)"
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
                f"checkpoint of size {checkpoint.size} is signed by log key {period.key.label}, "
                f"which took over at size {period.first} in a rotation signed by the key you "
                "pinned; you have not pinned it: obtain it independently and pin it too "
                f"(verifier key {period.key.encode()})"
            )
        names = ", ".join(key.label for key in self.pinned)
        raise NoteError(f"the checkpoint carries no valid signature by a pinned log key ({names})")


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
