"""Export the whole log as a self-describing bundle an auditor verifies on their own machine.

Layout (a folder, or the same names inside a .zip)::

    bundle.json             format, origin, tree size, the log's verifier key, export time
    entries.jsonl           every entry, in log order: the exact stored bytes the Merkle
                            leaf hashes (canonical JSON, so never a raw newline), one a line
    checkpoints.jsonl       every signed checkpoint: {"tree_size": N, "note": "..."}
    keys.json               every user and key with the leaf that registered, rotated or
                            revoked it (an index for people; the auditor re-derives it
                            from the entries and reports any difference)
    evidence/manifest.jsonl one line per attached blob: sha256, size, media type, action,
                            the leaf that attached it, and whether it was later erased
    evidence/blobs/SHA256   with --evidence: each blob's content (never an erased one)
    log-pq-key.txt          if the log has a post-quantum key: the statement binding it to
                            the log key (ledger/auditor/pqkey.py); bundle.json names it
    README.md               this format, for the auditor

The exporter is run by the operator, who is not trusted: nothing here is taken on faith by
`ledger.auditor`, which recomputes every fact from the signed entries.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any, Protocol

from ledger.auditor.bundle import BUNDLE_FORMAT, Bundle
from ledger.auditor.entry import SignedEntry
from ledger.auditor.errors import FormatError
from ledger.auditor.findings import Finding
from ledger.auditor.keyindex import KEYS_FILE, KeyIndex
from ledger.auditor.limits import BundleTooLarge
from ledger.auditor.pqkey import BUNDLE_FILE as PQ_BUNDLE_FILE
from ledger.auditor.pqkey import PQBinding
from ledger.service import Ledger

#: Reads a blob's verified content in chunks (the evidence store's `read`).
BlobReader = Callable[[str], Iterable[bytes]]

AUDITOR_README = """\
# Audit bundle of an inquiry-ledger log

Verify it with `inquiry-ledger verify-bundle THIS_BUNDLE --log-key LOG_VKEY_FILE
--trust ROOTS_FILE [--since SAVED_CHECKPOINT] [--evidence]`, or read `ledger/auditor/`
(standard library and `cryptography` only) and run it yourself:
`python -m ledger.auditor THIS_BUNDLE --log-key LOG_VKEY_FILE --trust ROOTS_FILE`.
Pin the log key and the roots of authority (the chair's public key, one base64 key a
line) you obtained independently (not the ones in `bundle.json` or `keys.json`), and
keep the latest checkpoint from `checkpoints.jsonl`: on your next visit, `--since` that
file proves nothing before it was rewritten.

- `entries.jsonl`: one entry a line, in log order. Each is RFC 8785 canonical JSON with
  members actor, aggregate_id, format ("inquiry-ledger/event/v2"), key_id, origin (the
  log's name: an entry for another log is refused), payload, signature, timestamp, type,
  version. The signature is Ed25519 (base64) over the same
  object without `signature`, canonicalised. key_id is the first 16 hex digits of the
  SHA-256 of the raw 32-byte public key.
- The Merkle tree is RFC 9162: leaf = SHA-256(0x00 || line bytes), node =
  SHA-256(0x01 || left || right).
- `checkpoints.jsonl`: C2SP tlog-checkpoint signed notes (origin, size, base64 root),
  signed by the log key (C2SP signed-note, Ed25519), followed by any witness cosignature
  lines (C2SP tlog-cosignature, cosignature/v1); pass `--witness-key` to check them.
- Keys come from the entries themselves: `ledger.created` (the first entry, self-signed by
  the first administrator), `directory.user_registered`, `directory.key_rotated` (revokes
  every active key of that user), `directory.key_added` (a further active key beside the
  user's others), `directory.key_revoked` (that one key), `directory.user_deactivated`
  (revokes every key of that user; none is added until `directory.user_reactivated`).
  A key signs only while valid. `directory.user_role_changed` gives a user another role
  or agency from that entry on: each entry is checked against the role its signer held
  at it. keys.json lists each user's role at the end, their `role_changes` and whether
  they are deactivated.
- `evidence/manifest.jsonl` lists every blob an `action.evidence_attached` entry names;
  `evidence/blobs/<sha256>` holds the content when exported with --evidence. A blob erased
  by a signed `action.evidence_erased` entry (lawful erasure) is listed but absent.
- `log-key-rotations.jsonl` (only if the log key was ever rotated): signed notes
  "inquiry-ledger/log-key-rotation/v1", origin, size, root, `old KEY`, `new KEY`, signed by
  both keys. The old key signs checkpoints up to that size, the new one from it on. Pin
  every key you trust (one per line in the --log-key file); a rotation never makes an
  unpinned key trusted.
- `log-pq-key.txt` (only if the log has a post-quantum key; bundle.json's `pq_log_key`
  names it): the signed note "inquiry-ledger/log-pq-key/v1", origin, size, root, `log
  KEY`, `pq KEY`, signed by the Ed25519 log key and by the ML-DSA-44 key. Every
  checkpoint of a larger tree carries a second signature line by that key: signature
  type 0xff followed by the ASCII bytes "inquiry-ledger/ml-dsa-44/v1" (C2SP has no
  ML-DSA byte; 0xff is its private-use escape), key ID = SHA-256(name || 0x0A || type ||
  1,312-byte public key)[:4], signature = ML-DSA-44 (FIPS 204, empty context) over the
  note text, 2,420 bytes. Pin the key with `--pq-log-key FILE` to require it; verifiers
  that do not know it ignore its line.
- Limits the auditor holds a bundle to (ledger/auditor/limits.py): no line over 4 MiB,
  bundle.json under 1 MiB, at most 1000 lines of entries.jsonl or of checkpoints.jsonl
  that repeat an earlier one, at most 1000 entries past what bundle.json and the
  checkpoints claim. A bundle past them fails as "bundle too large/hostile".
"""


class ExportError(Exception):
    pass


@dataclass
class ExportSummary:
    path: Path
    entries: int
    checkpoints: int
    evidence_listed: int
    evidence_blobs: int


class LogSource(Protocol):
    """Where an export reads the log from: the ledger's own database, or its HTTP API."""

    def origin(self) -> str: ...
    def tree_size(self) -> int: ...
    def entries(self) -> Iterator[tuple[int, bytes]]: ...
    def checkpoint_notes(self) -> list[tuple[int, str]]: ...


class LedgerSource:
    """The ledger's own database (the operator's export)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def origin(self) -> str:
        return self.ledger.origin()

    def tree_size(self) -> int:
        return self.ledger.integrate()

    def entries(self) -> Iterator[tuple[int, bytes]]:
        return self.ledger.entries()

    def checkpoint_notes(self) -> list[tuple[int, str]]:
        """Each checkpoint's note with every witness cosignature appended (C2SP)."""
        cosigned: dict[int, list[str]] = {}
        for tree_size, _key, line in self.ledger.tables.cosignatures():
            cosigned.setdefault(tree_size, []).append(line + "\n")
        return [
            (c.tree_size, c.note + "".join(cosigned.get(c.tree_size, [])))
            for c in self.ledger.tables.checkpoints()
        ]

    def log_key_rotations(self) -> list[str]:
        """The log-key rotation statements, oldest first (ledger/logkeys.py)."""
        from ledger.logkeys import rotation_notes

        return rotation_notes(self.ledger.tables)

    def log_pq_statement(self) -> str | None:
        """The statement binding the log's post-quantum key, if any (ledger/pqkeys.py)."""
        from ledger.pqkeys import pq_statement

        return pq_statement(self.ledger.tables)


def export_bundle(
    source: Ledger | LogSource,
    log_vkey: str,
    out: Path,
    *,
    blobs: BlobReader | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sign_checkpoint: Callable[[], object] | None = None,
) -> ExportSummary:
    """Write the bundle to `out` (a folder, or a .zip when the name ends in .zip).

    Written beside the destination and moved into place at the end, so a failed export
    never leaves a partial bundle that could be mistaken for a whole one. A bundle ends
    at its newest checkpoint, which must cover the whole log: when the log has grown past
    it, `sign_checkpoint` (given by a caller that holds the log key, or may ask the server
    for a checkpoint) signs a fresh one first; without it, or if the log grew again in
    between, the export refuses rather than ship entries no checkpoint covers."""
    log = LedgerSource(source) if isinstance(source, Ledger) else source
    if out.exists():
        raise ExportError(f"{out} already exists; choose a new name")
    size = log.tree_size()
    checkpoints = log.checkpoint_notes()
    if (not checkpoints or checkpoints[-1][0] != size) and sign_checkpoint is not None:
        sign_checkpoint()
        size = log.tree_size()
        checkpoints = log.checkpoint_notes()
    if not checkpoints or checkpoints[-1][0] != size:
        raise ExportError(
            f"the latest signed checkpoint does not cover all {size} entries; "
            "run: inquiry-ledger checkpoint (a server signs one by itself within its "
            "checkpoint interval)"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        summary = _write(log, log_vkey, staging, size, checkpoints, blobs, now())
        if out.suffix == ".zip":
            archive = staging.with_suffix(".zip.part")
            _zip(staging, archive)
            os.replace(archive, out)
        else:
            os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    summary.path = out
    return summary


def _write(
    log: LogSource,
    log_vkey: str,
    folder: Path,
    size: int,
    checkpoints: list[tuple[int, str]],
    blobs: BlobReader | None,
    exported_at: datetime,
) -> ExportSummary:
    keys = KeyIndex()
    evidence: dict[str, dict[str, Any]] = {}
    count = 0
    with (folder / "entries.jsonl").open("wb") as handle:
        for leaf_index, data in log.entries():
            if leaf_index >= size:
                break
            handle.write(data + b"\n")
            count += 1
            entry = SignedEntry.from_entry_bytes(data)
            keys.see(leaf_index, entry.body)
            _see_evidence(leaf_index, entry, evidence)
    if count != size:
        raise ExportError(f"the tree has {size} leaves but the log gave {count} entries")
    with (folder / "checkpoints.jsonl").open("w") as handle:
        for tree_size, note in checkpoints:
            handle.write(json.dumps({"tree_size": tree_size, "note": note}, sort_keys=True) + "\n")
    (folder / KEYS_FILE).write_text(json.dumps(keys.users, indent=2, sort_keys=True) + "\n")
    rotations_of = getattr(log, "log_key_rotations", None)  # optional in a LogSource
    rotations: list[str] = rotations_of() if rotations_of is not None else []
    if rotations:  # log-key rotations, signed by the old and the new key (auditor/rotation.py)
        with (folder / "log-key-rotations.jsonl").open("w") as handle:
            for note in rotations:
                handle.write(json.dumps({"note": note}) + "\n")
    pq_of = getattr(log, "log_pq_statement", None)  # optional in a LogSource too
    pq_note: str | None = pq_of() if pq_of is not None else None
    if pq_note is not None:  # the post-quantum key, bound to the log key (auditor/pqkey.py)
        (folder / PQ_BUNDLE_FILE).write_text(pq_note)
    (folder / "evidence").mkdir()
    blob_count = 0
    with (folder / "evidence" / "manifest.jsonl").open("w") as handle:
        for sha, record in evidence.items():
            handle.write(json.dumps(record, sort_keys=True) + "\n")
            if blobs is not None and not record["erased"]:
                _copy_blob(blobs, sha, folder / "evidence" / "blobs" / sha)
                blob_count += 1
    meta = {
        "format": BUNDLE_FORMAT,
        "origin": log.origin(),
        "tree_size": size,
        "log_key": log_vkey.strip(),
        "exported_at": exported_at.isoformat(),
        "evidence_blobs": blobs is not None,
    }
    if pq_note is not None:
        meta["pq_log_key"] = PQBinding.parse(pq_note).pq.encode()
    (folder / "bundle.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    (folder / "README.md").write_text(AUDITOR_README)
    return ExportSummary(folder, count, len(checkpoints), len(evidence), blob_count)


def _see_evidence(leaf_index: int, entry: SignedEntry, evidence: dict[str, dict[str, Any]]) -> None:
    body, payload = entry.body, entry.body.payload
    if body.type == "action.evidence_attached" and payload["sha256"] not in evidence:
        evidence[payload["sha256"]] = {
            "sha256": payload["sha256"],
            "size": payload["size"],
            "media_type": payload["media_type"],
            "aggregate_id": str(body.aggregate_id),
            "attached_at_leaf": leaf_index,
            "erased": False,
        }
    elif body.type == "action.evidence_erased" and payload["sha256"] in evidence:
        evidence[payload["sha256"]]["erased"] = True


def _copy_blob(blobs: BlobReader, sha256: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        for chunk in blobs(sha256):  # the store re-verifies the hash while reading
            handle.write(chunk)


def _zip(folder: Path, archive: Path) -> None:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as bundle:
        for path in sorted(_files(folder)):
            bundle.write(path, path.relative_to(folder).as_posix())


def _files(folder: Path) -> Iterator[Path]:
    for root, _dirs, names in os.walk(folder):
        for name in names:
            yield Path(root) / name


#: The auditor's findings that mean an entry takes no effect (ledger/auditor/audit.py and
#: signers.py):
#: the rules replay does not apply it either, and says so.
REJECTED_BY_AUDIT = frozenset({"malformed entry", "unknown signer", "revoked key", "bad signature"})


def replay_rules(path: Path, report: Any) -> None:
    """Replay the project's own lifecycle rules over the bundle's entries, adding each
    broken rule to `report` (an `auditor.AuditReport`).

    The standalone auditor checks who may sign what; this adds what state each entry may
    follow (a sign-off before evidence was submitted, a return from the wrong status...).
    It fails closed: every entry is parsed, mapped to its domain event, its signer found
    in the directory replayed so far and its rule checked, and any entry for which one of
    these cannot be done is a problem at its leaf ("not replayed"), as is an entry the
    auditor rejected (it takes no effect here either). The check line says how many
    entries of how many were replayed, so a skipped entry can never pass unseen."""
    rejected: dict[int, str] = {}
    for problem in report.problems:
        if problem.leaf_index is not None and problem.check in REJECTED_BY_AUDIT:
            rejected.setdefault(problem.leaf_index, problem.check)
    replay = _RulesReplay(report, rejected)
    try:
        bundle = Bundle(path)
        try:
            # As many entries as the audit read (it stops at a hostile bundle's limits);
            # without an audit before (a report that read none), all of them.
            lines = islice(bundle.lines("entries.jsonl"), report.entries or None)
            for position, line in enumerate(lines):
                replay.entry(position, line)
        finally:
            bundle.close()
    except (
        OSError,
        KeyError,
        EOFError,
        ValueError,
        zipfile.BadZipFile,
        zlib.error,
        BundleTooLarge,
    ) as error:
        report.problems.append(
            Finding(None, "not replayed", f"entries.jsonl cannot be read to the end: {error}")
        )
    report.checks.append(
        f"the lifecycle rules hold for every entry (replayed {replay.replayed} of {replay.total})"
    )
    report.problems.sort(key=lambda p: (p.leaf_index is None, p.leaf_index or 0))


class _RulesReplay:
    """The state of the domain's aggregates, entry by entry (`replay_rules`)."""

    def __init__(self, report: Any, rejected: dict[int, str]) -> None:
        self.report = report
        self.rejected = rejected
        self.state: dict[Any, Any] = {}
        self.total = 0
        self.replayed = 0

    def problem(self, position: int, check: str, detail: str) -> None:
        self.report.problems.append(Finding(position, check, detail))

    def entry(self, position: int, line: bytes) -> None:
        from domain import DomainError, RuleContext
        from domain.ids import DIRECTORY_ID, PLAN_ID, action_aggregate_id
        from domain.plan_changes import open_actions_among
        from ledger.entry import to_domain_event

        self.total += 1
        if position in self.rejected:
            why = self.rejected[position]
            self.problem(position, "not replayed", f"the audit found a {why}: it takes no effect")
            return
        try:
            entry = SignedEntry.from_entry_bytes(line)
            event = to_domain_event(entry)
        except FormatError as error:
            self.problem(position, "not replayed", f"cannot be parsed as an event: {error}")
            return
        except TypeError as error:
            self.problem(position, "not replayed", f"not a domain event: {error}")
            return
        body = entry.body
        aggregate = self.state.get(body.aggregate_id)
        directory = self.state.get(DIRECTORY_ID)
        try:
            actor = self._actor(body, directory)
        except (DomainError, LookupError) as error:
            self.problem(position, "not replayed", f"{body.type}: unknown signer: {error}")
            return
        try:
            found = self.state.values()
            ctx = RuleContext(
                actor,
                directory,
                self.state.get(PLAN_ID),
                lambda numbers: open_actions_among(found, numbers),
                lambda action_id: self.state.get(action_aggregate_id(action_id)),
            )
            event.check(aggregate, ctx)
        except DomainError as error:
            self.problem(position, "rule broken", f"{body.type} by {body.actor}: {error}")
        except Exception as error:  # an entry no rule can evaluate is not a rule that holds
            self.problem(
                position, "not replayed", f"{body.type}: the rule cannot be checked: {error!r}"
            )
            return
        try:
            self.state[body.aggregate_id] = event.mutate(aggregate)
        except Exception as error:  # an entry the rules refused may not apply at all
            self.problem(position, "cannot apply", f"{body.type}: {error}")
            return
        self.replayed += 1

    @staticmethod
    def _actor(body: Any, directory: Any) -> Any:
        """Who signed, as the directory replayed so far knows them: the self-signed genesis
        and charter name their signer (their rules check the key), every other entry's
        key must be registered to its actor and not revoked (Directory.resolve)."""
        from domain import Actor, Role
        from ledger.service import CHARTER_TYPE, GENESIS_TYPE

        if body.type == GENESIS_TYPE:
            return Actor(body.actor, Role.ADMIN, None)
        if directory is None:
            raise LookupError("the log has no genesis entry before it")
        if body.type == CHARTER_TYPE:
            return Actor(body.actor, Role.CHAIR, None)
        actor, _key = directory.resolve(body.actor, body.key_id)
        return actor
