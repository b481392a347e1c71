"""The witnesses the auditor pinned: their cosignatures, k of n, and the times they state.

The log key is the operator's, so a checkpoint it signs proves only that the operator
showed that tree to someone. A witness (C2SP tlog-cosignature) is a party the operator
does not control: its cosignature says it saw that tree, and when. The audit therefore
checks every cosignature by a pinned witness, requires that enough of them cosigned
(all, or k of n with ``--witnesses K``), and feeds their times to the dating check
(dating.py) so that no entry after a witnessed checkpoint claims to be older than it.
"""

from __future__ import annotations

from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.cosignature import (
    CosignerKey,
    cosigned_by,
    cosigned_time,
    note_body,
    open_cosignature,
)
from ledger.auditor.dating import GRACE, WitnessDating
from ledger.auditor.findings import AuditReport, ProblemSink
from ledger.auditor.note import SIGNATURE_PREFIX, NoteError


class Witnesses:
    """The pinned witnesses' tally: the largest checkpoint each validly cosigned, kept in
    `report.witnessed` as the checkpoints are read, and the dating their times imply."""

    def __init__(self, keys: list[CosignerKey], report: AuditReport, problem: ProblemSink):
        self.keys = keys
        self.report = report
        self.problem = problem
        self.dating = WitnessDating()  # fed the pinned witnesses' times, then each entry
        report.witnessed = {key.name: 0 for key in keys}

    @property
    def checks(self) -> list[str]:
        """What is checked of them; nothing when no witness is pinned."""
        if not self.keys:
            return []
        grace = f"{int(GRACE.total_seconds() // 60)} minutes"
        return [
            "every cosignature by a pinned witness verifies",
            "no entry after a checkpoint a pinned witness cosigned (in the bundle or in a "
            f"checkpoint saved earlier) is dated before it, by more than {grace}, and none "
            f"it holds after it, by more than {grace}",
        ]

    def cosigned(self, note: str, checkpoint: Checkpoint) -> None:
        """Check each pinned witness's cosignature on a verified checkpoint's `note`: one
        that does not verify is a problem; a valid one counts and dates the history."""
        for witness in self.keys:
            verdict = cosigned_by(note, witness)
            if verdict is False:
                self.problem(
                    None,
                    "bad cosignature",
                    f"checkpoint {checkpoint.size}: the cosignature by {witness.name} "
                    "does not verify",
                )
            elif verdict:
                at = cosigned_time(note, witness)
                if at is not None:
                    self._count(checkpoint, at, witness)

    def saved(self, note: str, checkpoint: Checkpoint) -> None:
        """The same for a checkpoint saved earlier (``--since``), verified by the log key:
        a witness's saved note carries its own cosignature line, which counts and dates
        the history whether or not the operator kept it in the bundle (so dropping it
        from checkpoints.jsonl moves no floor). Each line by a pinned witness's name is
        opened with that witness's key; one by its key that does not verify is a problem."""
        body = note_body(note)
        lines = note.rpartition("\n\n")[2].splitlines()
        for witness in self.keys:
            for line in lines:
                if not line.startswith(f"{SIGNATURE_PREFIX}{witness.name} "):
                    continue
                try:
                    at = open_cosignature(body, line, witness)
                except NoteError:
                    if cosigned_by(f"{body}\n{line}\n", witness) is False:
                        self.problem(
                            None,
                            "bad cosignature",
                            f"saved checkpoint {checkpoint.size}: the cosignature by "
                            f"{witness.name} does not verify",
                        )
                    continue  # another key of that name's line: not this witness's
                self._count(checkpoint, at, witness)

    def _count(self, checkpoint: Checkpoint, at: int, witness: CosignerKey) -> None:
        """A valid cosignature by `witness` at time `at`: the largest checkpoint it
        cosigned, and the history dated by it (dating.py)."""
        best = max(self.report.witnessed[witness.name], checkpoint.size)
        self.report.witnessed[witness.name] = best
        self.dating.witnessed(checkpoint.size, at, witness.name)

    def quorum(self, required: int | None) -> None:
        """Each pinned witness must have cosigned, or at least `required` of them (k of n):
        a witness key that cosigned nothing proves nothing, so a bundle without its
        cosignature fails rather than passing quietly."""
        if not self.keys:
            if required is not None:
                self.problem(
                    None,
                    "witness",
                    f"--witnesses {required} asks for cosignatures by {required} pinned "
                    "witnesses, but no witness key is pinned (--witness-key)",
                )
            return
        needed = required or len(self.keys)
        if not 1 <= needed <= len(self.keys):
            self.problem(None, "witness", f"--witnesses {needed} of {len(self.keys)} pinned")
            return
        self.report.witnesses_required = needed
        sizes = sorted(self.report.witnessed.values(), reverse=True)
        self.report.witnessed_size = sizes[needed - 1] if sizes[needed - 1] > 0 else None
        missing = sorted(name for name, size in self.report.witnessed.items() if size == 0)
        if self.report.witnessed_size is None:
            self.problem(
                None,
                "not witnessed",
                f"{needed} of the {len(self.keys)} pinned witnesses must have cosigned a "
                f"checkpoint; no valid cosignature by {', '.join(missing)}",
            )
