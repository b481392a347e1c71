"""C2SP tlog-checkpoint: the log's signed statement of its origin, size and root hash.

A checkpoint body is three lines (then optional extension lines): the log's origin, the
tree size in decimal, and the base64 root hash; it is signed as a C2SP signed note by the
log key (ledger/auditor/note.py). Which key may sign which sizes, across rotations of the
log key, is ledger/auditor/rotation.py.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from ledger.auditor.note import (
    NoteError,
    NoteSigner,
    VerifierKey,
    decode_canonical_base64,
    open_note,
    parse_note_integer,
    sign_note,
)


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root_hash).decode()}\n"

    def sign(self, signer: NoteSigner) -> str:
        return sign_note(self.body(), signer)

    @classmethod
    def parse_body(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint body is origin, size and root hash, one per line")
        origin, size_text, root_text = lines[0], lines[1], lines[2]
        if not origin:
            raise NoteError("a checkpoint's origin may not be empty")
        size = parse_note_integer(size_text, "a checkpoint's size")
        root = decode_canonical_base64(root_text, "checkpoint root hash")
        if len(root) != 32:
            raise NoteError("checkpoint root hash must be 32 bytes")
        return cls(origin, size, root)

    @classmethod
    def verify(cls, note: str, verifier: VerifierKey) -> Checkpoint:
        """Parse a signed checkpoint, requiring a valid signature by `verifier`."""
        return cls.parse_body(open_note(note, verifier))
