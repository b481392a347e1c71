"""The roots the entries must hash to, by tree size: from the bundle's signed checkpoints,
from the log-key rotation statements, and from the checkpoints the auditor saved earlier.

Each is signed by the log key, so one size with two different roots is a split view: the
log showed different histories to different readers. The audit then streams the entries
once, comparing the Merkle root at each size with these (audit.py).
"""

from __future__ import annotations

from ledger.auditor.bundle import Bundle
from ledger.auditor.canonical import parse_json
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.errors import FormatError
from ledger.auditor.findings import AuditReport, ProblemSink
from ledger.auditor.limits import Repeats
from ledger.auditor.pqkey import PQSignatures
from ledger.auditor.rotation import LogKeys
from ledger.auditor.witnesses import Witnesses


def remember_root(
    roots: dict[int, bytes], checkpoint: Checkpoint, split_view: str, problem: ProblemSink
) -> None:
    """Record a verified checkpoint's root by size; a second, different root for one
    size is a split view, reported with `split_view`."""
    seen = roots.get(checkpoint.size)
    if seen is not None and seen != checkpoint.root_hash:
        problem(None, "split view", split_view)
    roots[checkpoint.size] = checkpoint.root_hash


def signed_roots(
    bundle: Bundle,
    key: LogKeys,
    witnesses: Witnesses,
    report: AuditReport,
    problem: ProblemSink,
    pq: PQSignatures | None = None,
) -> dict[int, bytes]:
    """The roots of the bundle's checkpoints.jsonl, each note verified with the log key
    valid at its size and for this log's origin; the pinned witnesses' cosignatures on
    it, and its post-quantum line (`pq`, pqkey.py), are checked as it is read."""
    report.checks.append("every checkpoint note is signed by the log key")
    report.checks += witnesses.checks
    roots: dict[int, bytes] = {}
    if not bundle.exists("checkpoints.jsonl"):
        problem(None, "checkpoint", "the bundle has no checkpoints.jsonl")
        return roots
    repeats = Repeats("checkpoints.jsonl")  # an export writes each checkpoint once
    for line in bundle.lines("checkpoints.jsonl"):
        repeats.see(line)
        try:
            record = parse_json(line)
            checkpoint = key.verify_checkpoint(str(record["note"]))
        except (FormatError, KeyError, TypeError) as error:
            problem(None, "checkpoint", str(error))
            continue
        if checkpoint.origin != report.origin:
            problem(None, "another log", _another_log("checkpoint", checkpoint, report))
            continue
        remember_root(
            roots,
            checkpoint,
            f"two signed checkpoints of size {checkpoint.size} with different roots: "
            "the log has shown different histories to different readers",
            problem,
        )
        report.checkpoints_verified += 1
        witnesses.cosigned(str(record["note"]), checkpoint)
        if pq is not None:
            pq.check(str(record["note"]), checkpoint)
    report.latest_checkpoint = max(roots) if roots else None
    return roots


def _another_log(what: str, checkpoint: Checkpoint, report: AuditReport) -> str:
    return (
        f"{what} {checkpoint.size} is of the log {checkpoint.origin!r}, but the log key "
        f"that signed it is that of {report.origin!r} (a log key signs for its own log only)"
    )


def rotation_roots(
    key: LogKeys, roots: dict[int, bytes], report: AuditReport, problem: ProblemSink
) -> None:
    """A rotation statement names the tree it hands over at: the entries must hash to
    its root at its size, like any checkpoint's (else the handover was made on a
    history this bundle does not hold). It must be of this log."""
    for rotation in key.rotations:
        if rotation.origin != report.origin:
            problem(
                None,
                "another log",
                f"the log key rotation at size {rotation.size} is of the log "
                f"{rotation.origin!r}, not of {report.origin!r}",
            )
            continue
        handover = Checkpoint(rotation.origin, rotation.size, rotation.root_hash)
        remember_root(
            roots,
            handover,
            f"the log key rotation at size {rotation.size} names a root that differs "
            "from the signed checkpoint of that size",
            problem,
        )


def pq_statement_roots(pq: PQSignatures, roots: dict[int, bytes], problem: ProblemSink) -> None:
    """The post-quantum key statement names the tree it was made at: the entries must
    hash to its root at its size, like any checkpoint's (pqkey.py)."""
    for statement in pq.roots():
        remember_root(
            roots,
            statement,
            f"the post-quantum key statement at size {statement.size} names a root that "
            "differs from the signed checkpoint of that size",
            problem,
        )


def saved_roots(
    notes: list[str],
    key: LogKeys,
    witnesses: Witnesses,
    report: AuditReport,
    problem: ProblemSink,
) -> dict[int, bytes]:
    """Sizes and roots of the checkpoints the auditor (or witnesses) saved earlier.

    Two saved checkpoints of one size with different roots, both signed by the log
    key, prove the log showed different histories to different readers. A pinned
    witness's cosignature on a saved checkpoint counts and dates the history as one in
    the bundle does (Witnesses.saved): the operator cannot drop it from the bundle."""
    saved: dict[int, bytes] = {}
    for note in notes:
        try:
            checkpoint = key.verify_checkpoint(note)
        except FormatError as error:
            problem(None, "saved checkpoint", f"cannot be checked: {error}")
            continue
        if checkpoint.origin != report.origin:
            problem(None, "another log", _another_log("saved checkpoint", checkpoint, report))
            continue
        witnesses.saved(note, checkpoint)
        remember_root(
            saved,
            checkpoint,
            f"two saved checkpoints of size {checkpoint.size}, both signed by the log "
            "key, have different roots: the log showed two histories",
            problem,
        )
    if saved:
        report.since_checkpoint = max(saved)
        report.checks.append(
            "the log still hashes to the root of every checkpoint saved earlier "
            "(consistency: nothing before them was rewritten)"
        )
    return saved
