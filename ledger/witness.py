"""Witness cosigning (C2SP tlog-cosignature, Ed25519 cosignature/v1).

A witness (the inquiry chair, a scrutiny committee) keeps the last checkpoint it cosigned.
Each visit it fetches the log's latest checkpoint, checks the log key's signature, and
accepts it only if it extends what the witness saw before: a consistency proof from the
old size to the new one must verify. A smaller size is a rollback; the same size with
another root, or a proof that fails, is a split view (the log has shown two histories).
Only then does it cosign: a statement that, as of its timestamp, this is the largest
consistent tree the witness has seen. Cosignatures are published beside the checkpoint,
so a reader can require a quorum of independent witnesses before trusting a checkpoint.

The cosignature format is ledger/auditor/cosignature.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.merkle import verify_consistency
from ledger.auditor.note import NoteError, VerifierKey
from ledger.auditor.rotation import LogKeys, verify_checkpoint


class WitnessError(Exception):
    """The log's checkpoint cannot be cosigned."""


class SplitView(WitnessError):
    """Two signed checkpoints that cannot both be true: the log forked its history."""

    def __init__(self, message: str, seen: str, shown: str) -> None:
        super().__init__(message)
        self.seen = seen
        self.shown = shown


def check_extends(
    shown_note: str,
    seen_note: str | None,
    log_key: VerifierKey | LogKeys,
    consistency_proof: Callable[[int, int], Sequence[bytes]],
) -> Checkpoint:
    """The checkpoint in `shown_note` if it may be cosigned after `seen_note`.

    `log_key` is the pinned key, or after a rotation the pinned keys (ledger/auditor/rotation.py).
    Raises SplitView for the same size with another root or a failing consistency proof,
    WitnessError for a rollback, another origin or a note the log key did not sign."""
    try:
        shown = verify_checkpoint(shown_note, log_key)
    except NoteError as error:
        raise WitnessError(f"the log's checkpoint does not verify: {error}") from None
    if seen_note is None:
        return shown  # trust on first use: the witness has no history yet
    seen = verify_checkpoint(seen_note, log_key)
    if shown.origin != seen.origin:
        raise WitnessError(f"checkpoint for {shown.origin}, this witness follows {seen.origin}")
    if shown.size < seen.size:
        raise WitnessError(
            f"rollback: the log shows size {shown.size}, this witness already cosigned {seen.size}"
        )
    if shown.size == seen.size:
        if shown.root_hash != seen.root_hash:
            raise SplitView(
                f"SPLIT VIEW: two signed checkpoints of size {shown.size} with different roots",
                seen_note,
                shown_note,
            )
        return shown
    proof = consistency_proof(seen.size, shown.size)
    if not verify_consistency(seen.size, shown.size, seen.root_hash, shown.root_hash, proof):
        raise SplitView(
            f"SPLIT VIEW: checkpoint {shown.size} does not extend checkpoint {seen.size} "
            "(the consistency proof fails: history before it was changed)",
            seen_note,
            shown_note,
        )
    return shown


class WitnessState:
    """The witness's memory, on its own machine: the last checkpoint it cosigned, and any
    split view it has caught (kept as evidence: both notes are signed by the log key)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def latest_path(self) -> Path:
        return self.folder / "latest-cosigned.note"

    def latest(self) -> str | None:
        return self.latest_path.read_text() if self.latest_path.exists() else None

    def save(self, note: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.latest_path.with_suffix(".tmp")
        temporary.write_text(note)
        temporary.replace(self.latest_path)

    def record_split_view(self, error: SplitView) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = self.folder / f"split-view-{stamp}.txt"
        self.folder.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"{error}\n\n--- cosigned earlier ---\n{error.seen}\n--- shown now ---\n{error.shown}"
        )
        return path
