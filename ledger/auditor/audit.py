"""The audit: every check of a bundle, streaming its entries (see ledger/auditor/__init__.py).

This module is the order of the checks and the one pass over the entries they share; the
checks themselves live in modules named for them: pins.py (the log key and the roots of
authority the auditor pinned), checkpoint_roots.py (the roots each tree size must hash to,
and split views), witnesses.py (cosignatures, k of n), signers.py (each entry's key and
authority, replayed from the directory), evidence.py (the manifest and the blobs) and
keyindex.py (keys.json).

Signatures of entries whose effects later checks rely on are checked at once; all others
go to worker processes in batches while this process reads on. Two saved checkpoints, or
two in the bundle, of one size with different roots are a split view.

A bundle that holds more than a genuine one could, or more than the auditor will read
(limits.py), ends the audit with one finding, "bundle too large/hostile", as does running
out of the memory the command line allows it: never a crash, never a swapping machine.
"""

from __future__ import annotations

import zipfile
import zlib
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from ledger.auditor.authority import CHARTER_TYPE
from ledger.auditor.bundle import BUNDLE_FORMAT, Bundle
from ledger.auditor.canonical import parse_json
from ledger.auditor.checkpoint_roots import (
    pq_statement_roots,
    rotation_roots,
    saved_roots,
    signed_roots,
)
from ledger.auditor.cosignature import CosignerKey
from ledger.auditor.ed25519 import verify_signature
from ledger.auditor.entry import (
    GENESIS_TYPE,
    EventBody,
    SignedEntry,
    format_timestamp,
    signed_message,
)
from ledger.auditor.errors import FormatError
from ledger.auditor.evidence import Evidence
from ledger.auditor.findings import AuditReport, Finding
from ledger.auditor.keyindex import keys_file_problems
from ledger.auditor.limits import EXTRA_LINES, HOSTILE, MAX_META, BundleTooLarge, Repeats
from ledger.auditor.merkle import CompactRange, leaf_hash
from ledger.auditor.pins import log_keys, pinned_roots, report_unpinned
from ledger.auditor.pqkey import pq_signatures
from ledger.auditor.roots import Roots
from ledger.auditor.rotation import LogKeyError
from ledger.auditor.signatures import SignatureChecks
from ledger.auditor.signers import Signers
from ledger.auditor.witnesses import Witnesses

#: Entries whose effects later checks rely on (keys, users, lead agencies, challengers,
#: session chairs, evidence):
#: their signatures are checked before they take effect. All others are checked in
#: batches by worker processes while the main process reads on.
CHECKED_AT_ONCE = {
    GENESIS_TYPE,
    CHARTER_TYPE,
    "directory.user_registered",
    "directory.key_rotated",
    "directory.key_revoked",
    "directory.key_added",
    "directory.user_role_changed",
    "directory.user_deactivated",
    "directory.user_reactivated",
    "action.added",
    "action.amended",
    "action.lead_agency_transferred",
    "action.evidence_attached",
    "action.evidence_erased",
    "challenge.raised",
    "session.held",
}


class Auditor:
    def __init__(
        self,
        bundle: Bundle,
        *,
        log_key: str | None = None,
        since: list[str] | None = None,
        witness_keys: list[str] | None = None,
        evidence: bool = False,
        trust: str | None = None,
        witnesses_required: int | None = None,
        pq_log_key: str | None = None,
        limit: int = 1000,
    ) -> None:
        self.bundle = bundle
        self.report = AuditReport(str(bundle.path))
        self.pinned_key = log_key
        self.pinned_pq_key = pq_log_key
        self.since_notes = since or []
        self.witness_keys = witness_keys or []
        self.check_blobs = evidence
        self.trust_text = trust
        self.witnesses_required = witnesses_required
        self.limit = limit
        self.signers = Signers(Roots(None), self.problem)
        # aggregate -> (version, timestamp) of its latest entry
        self.versions: dict[UUID, tuple[int, datetime | None]] = {}
        self.evidence = Evidence()
        self.meta_tree_size: Any = None  # what bundle.json claims (limits.py)

    def problem(self, leaf_index: int | None, check: str, detail: str) -> None:
        """Every check reports through here (findings.ProblemSink), so the report keeps
        its first `limit` problems in the order they were found."""
        if len(self.report.problems) < self.limit:
            self.report.problems.append(Finding(leaf_index, check, detail))

    def run(self) -> AuditReport:
        try:
            meta = parse_json(self.bundle.read("bundle.json", MAX_META))
            if not isinstance(meta, dict) or meta.get("format") != BUNDLE_FORMAT:
                raise FormatError(f"bundle.json does not declare {BUNDLE_FORMAT}")
            key = log_keys(self.bundle, meta, self.pinned_key, self.report, self.problem)
            witness_keys = [CosignerKey.parse(text) for text in self.witness_keys]
            self.signers.roots = pinned_roots(self.trust_text, self.report)
        except LogKeyError as error:  # the rotation statements do not form one chain
            self.problem(None, "log key rotation", str(error))
            return self.report
        except (FormatError, OSError, KeyError) as error:
            self.problem(None, "bundle", str(error))
            return self.report
        self.meta_tree_size = meta.get("tree_size")
        self._origin(meta)
        try:
            pq = pq_signatures(
                self.bundle, meta, self.pinned_pq_key, key, self.report, self.problem
            )
        except FormatError as error:  # the pinned post-quantum key cannot be read
            self.problem(None, "post-quantum signature", str(error))
            return self.report
        self.witnesses = Witnesses(witness_keys, self.report, self.problem)
        roots = signed_roots(self.bundle, key, self.witnesses, self.report, self.problem, pq)
        rotation_roots(key, roots, self.report, self.problem)
        pq_statement_roots(pq, roots, self.problem)
        since = saved_roots(self.since_notes, key, self.witnesses, self.report, self.problem)
        self.signatures = SignatureChecks()
        self._entries(roots, since)
        for finding in self.signatures.finish():
            self.problem(finding.leaf_index, finding.check, finding.detail)
        self._coverage(meta)
        self.witnesses.quorum(self.witnesses_required)
        self.evidence.check(self.bundle, self.check_blobs, self.report, self.problem)
        report_unpinned(self.report, self.pinned_key, self.signers.roots)
        self.report.directory_changes = self.signers.roots.changes
        self._keys_file()
        self.report.problems.sort(key=lambda p: (p.leaf_index is None, p.leaf_index or 0))
        return self.report

    def _origin(self, meta: dict[str, Any]) -> None:
        """The log audited is the one the pinned log key is named for (report.origin,
        pins.log_origin); bundle.json, written by the operator, must name the same."""
        self.report.checks.append(
            f"the log is {self.report.origin}, the name of the log key: bundle.json, every "
            "checkpoint, the genesis and every entry name it"
        )
        named = meta.get("origin")
        if named != self.report.origin:
            self.problem(
                None,
                "another log",
                f"bundle.json names the log {named!r}, but the log key is that of "
                f"{self.report.origin!r}",
            )

    def _entries(self, roots: dict[int, bytes], since: dict[int, bytes]) -> None:
        """The one streaming pass: each entry hashed into the tree (checked against the
        signed and saved roots at every size they name), then checked itself."""
        self.report.checks += [
            "every entry is canonical JSON in the documented format",
            "every signature verifies with the actor's key valid at that point in the log",
            "every signer's role and agency may sign that kind of event",
            "per aggregate, versions are consecutive and timestamps never go backwards",
            "the Merkle root of the entries equals every signed checkpoint's root",
        ]
        tree = CompactRange()
        if 0 in roots and tree.root() != roots[0]:
            self.problem(None, "checkpoint mismatch", "the empty tree's root differs")
        if not self.bundle.exists("entries.jsonl"):
            self.problem(None, "bundle", "the bundle has no entries.jsonl")
            return
        # A bundle may hold a few entries more than it claims (bundle.json, its signed
        # checkpoints, the auditor's saved ones), to be reported; not any number more.
        told = self.meta_tree_size
        claimed = max([*roots, *since, told if type(told) is int else 0])
        repeats = Repeats("entries.jsonl")  # the ledger never stores one entry twice
        for position, line in enumerate(self.bundle.lines("entries.jsonl")):
            if position >= claimed + EXTRA_LINES:
                raise BundleTooLarge(
                    f"entries.jsonl holds more than {claimed + EXTRA_LINES} entries, "
                    f"{EXTRA_LINES} more than bundle.json and its checkpoints claim ({claimed})"
                )
            repeats.see(line)
            if len(self.report.problems) >= self.limit:
                self.report.problems.append(
                    Finding(
                        position,
                        "stopped",
                        f"{self.limit} problems by this entry: the entries from here on "
                        "were not read (the bundle fails whatever they hold)",
                    )
                )
                break
            self.report.entries += 1
            tree.append(leaf_hash(line))
            expected = roots.get(tree.size)
            if expected is not None and tree.root() != expected:
                self.problem(
                    position,
                    "checkpoint mismatch",
                    f"the entries up to {tree.size} do not hash to the root signed in "
                    f"checkpoint {tree.size} (an entry at or before this one was altered, "
                    "removed, inserted or moved)",
                )
            saved = since.get(tree.size)
            if saved is not None and tree.root() != saved:
                self.problem(
                    position,
                    "history rewritten",
                    f"the first {tree.size} entries no longer hash to the root of the "
                    "checkpoint you saved: history before it was changed and re-signed",
                )
            self._entry(position, line)
        for size in sorted(s for s in since if s > tree.size):
            self.problem(
                None,
                "history rewritten",
                f"your saved checkpoint covers {size} entries; the log now has {tree.size}",
            )

    def _entry(self, position: int, line: bytes) -> None:
        try:
            entry = SignedEntry.from_entry_bytes(line)
            message = signed_message(line, entry)
        except FormatError as error:
            self.problem(position, "malformed entry", str(error))
            return
        body = entry.body
        if body.origin != self.report.origin:
            self.problem(
                position,
                "another log",
                f"the entry was signed for the log {body.origin!r}, but the log key is that "
                f"of {self.report.origin!r}",
            )
            return
        if body.type == GENESIS_TYPE and body.payload.get("origin") != self.report.origin:
            self.problem(
                position,
                "another log",
                f"the genesis founds the log {body.payload.get('origin')!r}, but the log key "
                f"is that of {self.report.origin!r}",
            )
        self._sequence(position, body)
        backdated = self.witnesses.dating.check(position, body.timestamp)
        if backdated is not None:
            self.problem(position, "dated before a witness", backdated)
        public_key = self.signers.signing_key(position, body)
        if public_key is None:
            return  # reported; an entry nobody valid signed changes nothing (keys least)
        self.report.signatures_verified += 1
        what = (
            f"{body.type} v{body.version} signed as {body.actor} (key {body.key_id}) "
            "does not verify"
        )
        if body.type not in CHECKED_AT_ONCE:
            self.signatures.add(position, public_key, entry.signature, message, what)
        elif not verify_signature(public_key, entry.signature, message):
            self.problem(position, "bad signature", what)
            return
        if self.signers.authorised(position, body):
            self.report.authority_checked += 1
            self._apply(position, body)

    def _sequence(self, position: int, body: EventBody) -> None:
        aggregate, version, stamp = body.aggregate_id, body.version, body.timestamp
        last_version, last_stamp = self.versions.get(aggregate, (0, None))
        if version != last_version + 1:
            self.problem(
                position,
                "version sequence",
                f"aggregate {aggregate} goes from version {last_version} to {version} "
                "(an entry is missing, duplicated or out of order)",
            )
        if last_stamp is not None and stamp < last_stamp:
            self.problem(
                position,
                "timestamp order",
                f"{format_timestamp(stamp)} is earlier than {format_timestamp(last_stamp)}",
            )
            stamp = last_stamp
        self.versions[aggregate] = (version, stamp)

    def _apply(self, position: int, body: EventBody) -> None:
        """Keep the few facts the checks need: keys, users, lead agencies, evidence."""
        try:
            self.signers.apply(position, body)
            self.evidence.apply(position, body)
        except (KeyError, TypeError, AttributeError, FormatError) as error:
            self.problem(position, "malformed entry", f"{body.type}: missing or bad {error}")

    def _keys_file(self) -> None:
        """keys.json must be the directory this audit replayed (auditor/keyindex.py)."""
        self.report.checks.append("keys.json lists exactly the users and keys the log registers")
        keys = {key_id: (key.user, key.revoked_at) for key_id, key in self.signers.keys.items()}
        changes = self.signers.member_changes
        found = keys_file_problems(self.bundle, keys, self.report.entries, changes)
        for leaf_index, detail in found:
            self.problem(leaf_index, "keys.json", detail)

    def _coverage(self, meta: dict[str, Any]) -> None:
        """The latest signed checkpoint, and bundle.json, must cover every entry."""
        latest = self.report.latest_checkpoint
        if latest is None:
            self.problem(None, "no checkpoint", "no signed checkpoint covers this log")
        elif latest != self.report.entries:
            self.problem(
                min(latest, self.report.entries),
                "coverage",
                f"the latest signed checkpoint covers {latest} entries; the bundle has "
                f"{self.report.entries} (entries were removed, or added without a checkpoint)",
            )
        if meta.get("tree_size") != self.report.entries:
            self.problem(None, "coverage", "bundle.json's tree_size differs from the entries")


def audit(
    path: Path,
    *,
    log_key: str | None = None,
    since: str | list[str] | None = None,
    witness_keys: list[str] | None = None,
    evidence: bool = False,
    trust: str | None = None,
    witnesses_required: int | None = None,
    pq_log_key: str | None = None,
) -> AuditReport:
    """Verify the bundle at `path` (a folder or a .zip) and return the report.

    `pq_log_key`: the text of the ML-DSA-44 verifier key file the auditor pinned
    (pqkey.py); without it the post-quantum signatures are not checked.

    A bundle that cannot be read (not a zip, a cut-off or corrupt member, a missing file)
    is a problem in the report like any other, never an exception."""
    try:
        bundle = Bundle(path)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as error:
        report = AuditReport(str(path))
        report.problems.append(Finding(None, "bundle", f"cannot be read: {error}"))
        return report
    saved = [since] if isinstance(since, str) else since
    auditor = Auditor(
        bundle,
        log_key=log_key,
        since=saved,
        witness_keys=witness_keys,
        evidence=evidence,
        trust=trust,
        witnesses_required=witnesses_required,
        pq_log_key=pq_log_key,
    )
    try:
        return auditor.run()
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as error:
        _abandon(auditor)
        auditor.problem(None, "bundle", f"cannot be read: {error}")
        return auditor.report
    except BundleTooLarge as error:
        _abandon(auditor)
        return _hostile(auditor.report, error.detail)
    except (MemoryError, RecursionError, BrokenProcessPool) as error:
        _abandon(auditor)
        why = {
            MemoryError: "the audit ran out of the memory it may use (--max-memory)",
            RecursionError: "its JSON nests too deep",
        }.get(type(error), f"a signature worker failed ({error})")
        return _hostile(auditor.report, why)
    finally:
        bundle.close()


def _abandon(auditor: Auditor) -> None:
    signatures = getattr(auditor, "signatures", None)
    if signatures is not None:
        signatures.abandon()


def _hostile(report: AuditReport, detail: str) -> AuditReport:
    """The report of an audit ended by a bundle too large or hostile: that one finding."""
    report.hostile = f"{HOSTILE}: {detail}"
    report.problems.append(Finding(None, HOSTILE, detail))
    return report
