"""The client's receipts: where they are kept, and checking that the log still holds them.

Where: ``$INQUIRY_LEDGER_RECEIPTS`` names the file if set (one file, whatever the log);
otherwise ``HOME/receipts/<origin>.jsonl``, the origin with every character but letters,
digits, ``.``, ``_`` and ``-`` replaced by ``_`` (``council.example/cse-inquiry`` ->
``council.example_cse-inquiry.jsonl``). One file per log, because a receipt is only
checked against its own log, and on the client's side (HOME is the caller's folder, in
client mode too): the point of a receipt is that the operator does not hold it.

Each line is one JSON object: the receipt (ledger/auditor/receipt.py) and what was
appended (type, aggregate, version), so `receipts list` can say what each one is for.
Lines are appended with one write and fsync'd; nothing ever rewrites the file.

Checking (`receipts check`) is, for each receipt: the log key signed its checkpoint and
the inclusion proof places the leaf in it; then the log's newest checkpoint must extend
the receipt's (an RFC 9162 consistency proof from the receipt's size to it). Together
these prove the leaf is still at its index in the newest signed tree. A receipt whose
checkpoint is newer than the newest stored one (the log signs its regular checkpoint
within seconds, but not at once) is checked the other way, from the newest checkpoint up
to the receipt's tree, and reported as pending; it fails if the log no longer has that
tree. Checking signs nothing: it is a reader's command.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.errors import FormatError
from ledger.auditor.merkle import verify_consistency
from ledger.auditor.note import NoteError, VerifierKey
from ledger.auditor.receipt import Receipt, ReceiptError, verify_receipt
from ledger.auditor.rotation import LogKeys, verify_checkpoint
from ledger.errors import LedgerError

RECEIPTS_ENV = "INQUIRY_LEDGER_RECEIPTS"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def receipts_path(home: Path, origin: str, environ: Mapping[str, str] | None = None) -> Path:
    """The receipts file for the log `origin` (see the module's docstring)."""
    env = os.environ if environ is None else environ
    if env.get(RECEIPTS_ENV):
        return Path(env[RECEIPTS_ENV])
    name = _UNSAFE.sub("_", origin).lstrip(".") or "log"
    return home / "receipts" / f"{name}.jsonl"


@dataclass(frozen=True)
class Kept:
    """A receipt as kept: its line in the file and what the append was."""

    line: int
    receipt: Receipt
    type: str
    aggregate_id: str
    version: int


class ReceiptBook:
    """The receipts file: appended to by every command that appends, read by `receipts`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def keep(self, results: Sequence[Any]) -> int:
        """Append the receipt of every result that has one; return how many."""
        lines = [
            json.dumps(
                {
                    "receipt": r.receipt.to_json(),
                    "type": r.type,
                    "aggregate_id": str(r.aggregate_id),
                    "version": r.version,
                },
                sort_keys=True,
            )
            + "\n"
            for r in results
            if getattr(r, "receipt", None) is not None
        ]
        if not lines:
            return 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        with os.fdopen(fd, "a") as handle:
            handle.write("".join(lines))  # one write: concurrent CLIs never interleave lines
            handle.flush()
            os.fsync(handle.fileno())
        return len(lines)

    def read(self) -> tuple[list[Kept], list[str]]:
        """Every receipt kept, and a problem for every line that is not one."""
        if not self.path.exists():
            return [], []
        kept: list[Kept] = []
        problems: list[str] = []
        for number, text in enumerate(self.path.read_text().splitlines(), start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
                kept.append(
                    Kept(
                        number,
                        Receipt.from_json(obj["receipt"]),
                        str(obj["type"]),
                        str(obj["aggregate_id"]),
                        int(obj["version"]),
                    )
                )
            except (ValueError, KeyError, TypeError, FormatError) as error:
                problems.append(f"{self.path}:{number}: not a receipt: {error}")
        return kept, problems


class CheckedLog(Protocol):
    """What a check asks of the log: a Ledger (through `LedgerLog`) or a RemoteLedger."""

    def latest_checkpoint_note(self) -> str: ...
    def consistency_proof(self, old_size: int, new_size: int) -> Sequence[bytes]: ...


class LedgerLog:
    """The local ledger as a `CheckedLog`."""

    def __init__(self, ledger: Any) -> None:
        self.ledger = ledger

    def latest_checkpoint_note(self) -> str:
        latest = self.ledger.latest_checkpoint()
        if latest is None:
            raise ReceiptError("the log has no signed checkpoint")
        return str(latest.note)

    def consistency_proof(self, old_size: int, new_size: int) -> Sequence[bytes]:
        return list(self.ledger.consistency_proof(old_size, new_size))


@dataclass
class ReceiptCheck:
    checked: int = 0
    newest: Checkpoint | None = None
    pending: int = 0  # newer than the newest checkpoint, and consistent with it
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        size = self.newest.size if self.newest is not None else "?"
        if not self.ok:
            return (
                f"{self.checked} receipts checked: {len(self.problems)} problem(s); "
                f"newest checkpoint {size}"
            )
        if self.pending:
            return (
                f"{self.checked} receipts checked: all still in the log; {self.pending} "
                f"newer than checkpoint {size}, which their trees extend (check again "
                "after the next checkpoint)"
            )
        return f"{self.checked} receipts checked: all still in the log under checkpoint {size}"


def check_receipts(
    kept: Sequence[Kept], log_keys: VerifierKey | LogKeys, log: CheckedLog
) -> ReceiptCheck:
    """Check every receipt against the pinned log keys and the log's newest checkpoint."""
    result = ReceiptCheck(checked=len(kept))
    if not kept:
        return result
    try:
        newest = verify_checkpoint(log.latest_checkpoint_note(), log_keys)
    except (NoteError, ReceiptError, LedgerError) as error:
        result.problems.append(f"the log's newest checkpoint does not verify: {error}")
        return result
    result.newest = newest
    verdicts: dict[tuple[int, bytes], str | None] = {}  # one proof per receipt checkpoint
    for item in kept:
        try:
            checkpoint = verify_receipt(item.receipt, log_keys)
        except ReceiptError as error:
            result.problems.append(_name(item, f"the receipt does not verify: {error}"))
            continue
        if checkpoint.origin != newest.origin:
            result.problems.append(_name(item, f"the receipt is for the log {checkpoint.origin}"))
            continue
        key = (checkpoint.size, checkpoint.root_hash)
        if key not in verdicts:
            verdicts[key] = _extends(log, checkpoint, newest)
        problem = verdicts[key]
        if problem is not None:
            result.problems.append(_name(item, problem))
        elif checkpoint.size > newest.size:
            result.pending += 1
    return result


def _extends(log: CheckedLog, receipt: Checkpoint, newest: Checkpoint) -> str | None:
    """None if one of the two trees extends the other (proof from the log), else why not."""
    old, new = (receipt, newest) if receipt.size <= newest.size else (newest, receipt)
    try:
        proof = log.consistency_proof(old.size, new.size) if old.size < new.size else []
    except Exception as error:  # the log cannot prove it: a smaller tree, a refusal
        return (
            f"NO LONGER IN THE LOG AT ITS PLACE: the log cannot prove its tree still extends "
            f"to size {receipt.size}, which this receipt's checkpoint signs (newest "
            f"checkpoint {newest.size}): {error}"
        )
    if verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof):
        return None
    return (
        f"NO LONGER IN THE LOG AT ITS PLACE: the newest checkpoint ({newest.size}) is not "
        f"consistent with this receipt's checkpoint ({receipt.size}); the log was rewritten"
    )


def _name(item: Kept, problem: str) -> str:
    return f"receipt for leaf {item.receipt.leaf_index} ({item.type} v{item.version}): {problem}"
