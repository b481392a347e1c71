"""The audit: every check of a bundle, streaming its entries (see ledger/auditor/__init__.py).

Signatures of entries whose effects later checks rely on are checked at once; all others
go to worker processes in batches while this process reads on. Two saved checkpoints, or
two in the bundle, of one size with different roots are a split view.

Longer than 500 lines because every check shares the state of one streaming pass over
the entries (keys, roots of authority, lead agencies, evidence); the evidence and
witness checks are the next candidates to move out.
"""

from __future__ import annotations

import hashlib
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from ledger.auditor.authority import CHARTER_TYPE, SELF_SIGNED, allowed_roles, scoped_to_agency
from ledger.auditor.bundle import BUNDLE_FORMAT, Bundle
from ledger.auditor.canonical import parse_json
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.cosignature import CosignerKey, cosigned_by, cosigned_time
from ledger.auditor.dating import WitnessDating
from ledger.auditor.ed25519 import decode_public_key, key_id_for, verify_signature
from ledger.auditor.entry import (
    GENESIS_TYPE,
    EventBody,
    SignedEntry,
    format_timestamp,
    signed_message,
)
from ledger.auditor.errors import FormatError
from ledger.auditor.findings import AuditReport, Finding
from ledger.auditor.keyindex import keys_file_problems
from ledger.auditor.merkle import CompactRange, leaf_hash
from ledger.auditor.note import VerifierKey
from ledger.auditor.roots import Roots, parse_trust
from ledger.auditor.rotation import LogKeyError, LogKeys, Rotation, parse_verifier_keys
from ledger.auditor.signatures import SignatureChecks

#: Entries whose effects later checks rely on (keys, users, lead agencies, evidence):
#: their signatures are checked before they take effect. All others are checked in
#: batches by worker processes while the main process reads on.
CHECKED_AT_ONCE = {
    GENESIS_TYPE,
    CHARTER_TYPE,
    "directory.user_registered",
    "directory.key_rotated",
    "directory.key_revoked",
    "action.added",
    "action.amended",
    "action.evidence_attached",
    "action.evidence_erased",
}


@dataclass
class _Key:
    user: str
    public_key: bytes
    revoked_at: int | None = None


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
        limit: int = 1000,
    ) -> None:
        self.bundle = bundle
        self.report = AuditReport(str(bundle.path))
        self.pinned_key = log_key
        self.since_notes = since or []
        self.witness_keys = witness_keys or []
        self.check_blobs = evidence
        self.trust_text = trust
        self.witnesses_required = witnesses_required
        self.limit = limit
        self.keys: dict[str, _Key] = {}
        self.roots = Roots(None)
        self.lead_agency: dict[UUID, str] = {}  # action aggregate id -> agency
        # aggregate -> (version, timestamp) of its latest entry
        self.versions: dict[UUID, tuple[int, datetime | None]] = {}
        self.attached: dict[str, int] = {}  # sha256 -> leaf index of its attachment
        self.erased: set[str] = set()

    def problem(self, leaf_index: int | None, check: str, detail: str) -> None:
        if len(self.report.problems) < self.limit:
            self.report.problems.append(Finding(leaf_index, check, detail))

    def run(self) -> AuditReport:
        try:
            meta = parse_json(self.bundle.open("bundle.json").read())
            if not isinstance(meta, dict) or meta.get("format") != BUNDLE_FORMAT:
                raise FormatError(f"bundle.json does not declare {BUNDLE_FORMAT}")
            key = self._log_key(meta)
            witnesses = [CosignerKey.parse(text) for text in self.witness_keys]
            if self.trust_text is not None:
                self.roots = Roots(parse_trust(self.trust_text))
                count = len(self.roots.trusted or ())
                self.report.trust_source = f"{count} root key(s) pinned by the auditor"
        except LogKeyError as error:  # the rotation statements do not form one chain
            self.problem(None, "log key rotation", str(error))
            return self.report
        except (FormatError, OSError, KeyError) as error:
            self.problem(None, "bundle", str(error))
            return self.report
        self.report.origin = str(meta.get("origin", ""))
        roots = self._checkpoints(key, witnesses)
        self._rotation_roots(key, roots)
        since = self._since(key)
        self.signatures = SignatureChecks()
        self._entries(roots, since)
        for finding in self.signatures.finish():
            self.problem(finding.leaf_index, finding.check, finding.detail)
        self._coverage(roots, meta)
        self._witnessed(witnesses)
        self._evidence()
        self._pins()
        self.report.directory_changes = self.roots.changes
        self._keys_file()
        self.report.problems.sort(key=lambda p: (p.leaf_index is None, p.leaf_index or 0))
        return self.report

    def _log_key(self, meta: dict[str, Any]) -> LogKeys:
        """The pinned keys (one a line; old and new after a rotation), placed in time by
        the bundle's rotation statements."""
        rotations: list[Rotation] = []
        if self.bundle.exists("log-key-rotations.jsonl"):
            for line in self.bundle.lines("log-key-rotations.jsonl"):
                try:
                    rotations.append(Rotation.parse(str(parse_json(line)["note"])))
                except (FormatError, KeyError, TypeError) as error:
                    self.problem(None, "log key rotation", str(error))
        # bundle.json names the log's key (an export through the API: the keys its
        # exporter pinned, one a line)
        named = [line.strip() for line in str(meta.get("log_key", "")).splitlines()]
        if self.pinned_key is not None:
            pinned = parse_verifier_keys(self.pinned_key)
            self.report.log_key_source = "pinned by the auditor"
            lines = {line.strip() for line in self.pinned_key.splitlines()}
            if not named or not set(filter(None, named)) <= lines:
                self.problem(None, "log key", self._unpinned(pinned, rotations))
        else:
            pinned = [VerifierKey.parse(line) for line in named if line] or [VerifierKey.parse("")]
            pinned += [r.old for r in rotations]
            self.report.log_key_source = "taken from the bundle (not pinned: pass --log-key)"
        self.report.log_key = ", ".join(f"{key.label}+..." for key in pinned)
        return LogKeys(pinned, rotations)

    @staticmethod
    def _unpinned(pinned: list[VerifierKey], rotations: list[Rotation]) -> str:
        for rotation in rotations:
            if rotation.old in pinned and rotation.new not in pinned:
                return (
                    f"the log key was rotated at size {rotation.size} from your pinned key "
                    f"{rotation.old.label} to {rotation.new.label} (a statement "
                    "signed by both); checkpoints after it are signed by a key you have not "
                    "pinned: obtain the new key independently and add it to your --log-key file"
                )
        return "the bundle names a different log key"

    def _checkpoints(self, key: LogKeys, witnesses: list[CosignerKey]) -> dict[int, bytes]:
        self.report.checks.append("every checkpoint note is signed by the log key")
        self.dating = WitnessDating()  # fed the pinned witnesses' times, then each entry
        if witnesses:
            self.report.checks.append("every cosignature by a pinned witness verifies")
            self.report.checks.append(
                "no entry after a checkpoint a pinned witness cosigned is dated before it"
            )
        self.report.witnessed = {w.name: 0 for w in witnesses}
        roots: dict[int, bytes] = {}
        if not self.bundle.exists("checkpoints.jsonl"):
            self.problem(None, "checkpoint", "the bundle has no checkpoints.jsonl")
            return roots
        for line in self.bundle.lines("checkpoints.jsonl"):
            try:
                record = parse_json(line)
                checkpoint = key.verify_checkpoint(str(record["note"]))
            except (FormatError, KeyError, TypeError) as error:
                self.problem(None, "checkpoint", str(error))
                continue
            if checkpoint.origin != self.report.origin:
                self.problem(None, "checkpoint", f"checkpoint for another log {checkpoint.origin}")
                continue
            self._remember_root(
                roots,
                checkpoint,
                f"two signed checkpoints of size {checkpoint.size} with different roots: "
                "the log has shown different histories to different readers",
            )
            self.report.checkpoints_verified += 1
            for witness in witnesses:
                verdict = cosigned_by(str(record["note"]), witness)
                if verdict is False:
                    self.problem(
                        None,
                        "bad cosignature",
                        f"checkpoint {checkpoint.size}: the cosignature by {witness.name} "
                        "does not verify",
                    )
                elif verdict:
                    best = max(self.report.witnessed[witness.name], checkpoint.size)
                    self.report.witnessed[witness.name] = best
                    at = cosigned_time(str(record["note"]), witness)
                    if at is not None:
                        self.dating.witnessed(checkpoint.size, at, witness.name)
        self.report.latest_checkpoint = max(roots) if roots else None
        return roots

    def _rotation_roots(self, key: LogKeys, roots: dict[int, bytes]) -> None:
        """A rotation statement names the tree it hands over at: the entries must hash to
        its root at its size, like any checkpoint's (else the handover was made on a
        history this bundle does not hold)."""
        for rotation in key.rotations:
            handover = Checkpoint(rotation.origin, rotation.size, rotation.root_hash)
            self._remember_root(
                roots,
                handover,
                f"the log key rotation at size {rotation.size} names a root that differs "
                "from the signed checkpoint of that size",
            )

    def _witnessed(self, witnesses: list[CosignerKey]) -> None:
        """Each pinned witness must have cosigned, or at least `witnesses_required` of
        them (k of n): a witness key that cosigned nothing proves nothing, so a bundle
        without its cosignature fails rather than passing quietly."""
        if not witnesses:
            return
        needed = self.witnesses_required or len(witnesses)
        if not 1 <= needed <= len(witnesses):
            self.problem(None, "witness", f"--witnesses {needed} of {len(witnesses)} pinned")
            return
        self.report.witnesses_required = needed
        sizes = sorted(self.report.witnessed.values(), reverse=True)
        self.report.witnessed_size = sizes[needed - 1] if sizes[needed - 1] > 0 else None
        missing = sorted(name for name, size in self.report.witnessed.items() if size == 0)
        if self.report.witnessed_size is None:
            self.problem(
                None,
                "not witnessed",
                f"{needed} of the {len(witnesses)} pinned witnesses must have cosigned a "
                f"checkpoint; no valid cosignature by {', '.join(missing)}",
            )

    def _pins(self) -> None:
        """What the auditor did not pin: without it the verdict is never a bare OK."""
        if self.pinned_key is None:
            self.report.unpinned.append(
                "the log key (--log-key): the checkpoints could be signed by anyone"
            )
        if not self.roots.pinned:
            self.report.unpinned.append(
                "the roots of authority (--trust): a chair the operator registered would pass"
            )

    def _remember_root(
        self, roots: dict[int, bytes], checkpoint: Checkpoint, split_view: str
    ) -> None:
        """Record a verified checkpoint's root by size; a second, different root for one
        size is a split view, reported with `split_view`."""
        seen = roots.get(checkpoint.size)
        if seen is not None and seen != checkpoint.root_hash:
            self.problem(None, "split view", split_view)
        roots[checkpoint.size] = checkpoint.root_hash

    def _since(self, key: LogKeys) -> dict[int, bytes]:
        """Sizes and roots of the checkpoints the auditor (or witnesses) saved earlier.

        Two saved checkpoints of one size with different roots, both signed by the log
        key, prove the log showed different histories to different readers."""
        saved: dict[int, bytes] = {}
        for note in self.since_notes:
            try:
                checkpoint = key.verify_checkpoint(note)
            except FormatError as error:
                self.problem(None, "saved checkpoint", f"cannot be checked: {error}")
                continue
            self._remember_root(
                saved,
                checkpoint,
                f"two saved checkpoints of size {checkpoint.size}, both signed by the log "
                "key, have different roots: the log showed two histories",
            )
        if saved:
            self.report.since_checkpoint = max(saved)
            self.report.checks.append(
                "the log still hashes to the root of every checkpoint saved earlier "
                "(consistency: nothing before them was rewritten)"
            )
        return saved

    def _entries(self, roots: dict[int, bytes], since: dict[int, bytes]) -> None:
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
        for position, line in enumerate(self.bundle.lines("entries.jsonl")):
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
                f"the entry was signed for the log {body.origin!r}, not {self.report.origin!r}",
            )
            return
        self._sequence(position, body)
        backdated = self.dating.check(position, body.timestamp)
        if backdated is not None:
            self.problem(position, "dated before a witness", backdated)
        public_key = self._signing_key(position, body)
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
        if self._authority(position, body):
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

    def _signing_key(self, position: int, body: EventBody) -> bytes | None:
        actor, key_id = body.actor, body.key_id
        if body.type in SELF_SIGNED:
            what = "genesis" if body.type == GENESIS_TYPE else "charter"
            if (body.type == GENESIS_TYPE) != (position == 0):
                self.problem(position, "unknown signer", "the genesis is the first entry only")
                return None
            if body.type == CHARTER_TYPE and self.roots.appointers is not None:
                self.problem(position, "unknown signer", "a second charter")
                return None
            try:
                public_key = decode_public_key(body.payload.get("public_key"))
            except FormatError as error:
                self.problem(position, "unknown signer", f"{what} key: {error}")
                return None
            named = body.payload.get("admin_id" if what == "genesis" else "chair_id")
            if key_id != key_id_for(public_key) or actor != named:
                self.problem(position, "unknown signer", f"the {what} is not self-signed")
                return None
            return public_key
        key = self.keys.get(key_id)
        if key is None or key.user != actor:
            self.problem(position, "unknown signer", f"key {key_id} is not registered to {actor}")
            return None
        if key.revoked_at is not None:
            self.problem(
                position,
                "revoked key",
                f"{actor} signed with key {key_id}, revoked at leaf {key.revoked_at}",
            )
            return None
        return key.public_key

    def _authority(self, position: int, body: EventBody) -> bool:
        kind, actor = body.type, body.actor
        unrooted = self.roots.unrooted(body)
        if unrooted is not None:
            self.problem(position, "authority not rooted", unrooted)
            return False
        if kind in SELF_SIGNED:
            self.report.authority_checked += 1
            return True
        role, agency = self.roots.role_of(actor)
        allowed = allowed_roles(
            kind,
            actor,
            body.payload,
            appointers=self.roots.appointers,
            subject_role=self.roots.subject_role(body),
        )
        if role not in allowed:
            self.problem(
                position,
                "not authorised",
                f"{actor} ({role}) may not sign {kind}; allowed: {', '.join(sorted(allowed))}",
            )
            return False
        if role == "agency_lead" and kind.startswith("directory.") and actor != body.payload.get(
            "user_id"
        ):
            subject_agency = self._subject_agency(body)
            if subject_agency != agency:
                self.problem(
                    position,
                    "not authorised",
                    f"{actor} (agency lead of {agency}) signed {kind} for {subject_agency}",
                )
                return False
        lead = self.lead_agency.get(body.aggregate_id)
        if scoped_to_agency(kind, role) and lead != agency:
            self.problem(
                position,
                "not authorised",
                f"{actor} ({role} of {agency}) signed {kind} for an action led by {lead}",
            )
            return False
        self.report.authority_checked += 1
        return True

    def _subject_agency(self, body: EventBody) -> str | None:
        """The agency of the user a directory entry registers or changes the key of."""
        if body.type == "directory.user_registered":
            agency = body.payload.get("agency")
            return agency if isinstance(agency, str) else None
        return self.roots.role_of(str(body.payload.get("user_id")))[1]

    def _apply(self, position: int, body: EventBody) -> None:
        """Keep the few facts the checks need: keys, users, lead agencies, evidence."""
        kind, payload, aggregate = body.type, body.payload, body.aggregate_id
        try:
            if kind.startswith("directory.") or kind == GENESIS_TYPE:
                self.roots.apply(position, body)
            if kind == GENESIS_TYPE:
                self._add_key(payload["admin_id"], payload["public_key"])
            elif kind == CHARTER_TYPE:
                self._add_key(payload["chair_id"], payload["public_key"])
            elif kind == "directory.user_registered":
                self._add_key(payload["user_id"], payload["public_key"])
            elif kind == "directory.key_rotated":
                for key in self.keys.values():
                    if key.user == payload["user_id"] and key.revoked_at is None:
                        key.revoked_at = position
                self._add_key(payload["user_id"], payload["new_public_key"])
            elif kind == "directory.key_revoked":
                self.keys[payload["revoked_key_id"]].revoked_at = position
            elif kind == "action.added":
                self.lead_agency[aggregate] = payload["lead_agency"]
            elif kind == "action.amended" and "lead_agency" in payload.get("changes", {}):
                self.lead_agency[aggregate] = payload["changes"]["lead_agency"]
            elif kind == "action.evidence_attached":
                self.attached.setdefault(payload["sha256"], position)
            elif kind == "action.evidence_erased":
                self.erased.add(payload["sha256"])
        except (KeyError, TypeError, AttributeError, FormatError) as error:
            self.problem(position, "malformed entry", f"{kind}: missing or bad {error}")

    def _add_key(self, user: str, public_key_text: str) -> None:
        public_key = decode_public_key(public_key_text)
        self.keys[key_id_for(public_key)] = _Key(user, public_key)

    def _keys_file(self) -> None:
        """keys.json must be the directory this audit replayed (auditor/keyindex.py)."""
        self.report.checks.append("keys.json lists exactly the users and keys the log registers")
        keys = {key_id: (key.user, key.revoked_at) for key_id, key in self.keys.items()}
        for leaf_index, detail in keys_file_problems(self.bundle, keys):
            self.problem(leaf_index, "keys.json", detail)

    def _coverage(self, roots: dict[int, bytes], meta: dict[str, Any]) -> None:
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

    def _evidence(self) -> None:
        self.report.checks.append("the evidence manifest lists exactly the attached blobs")
        listed: dict[str, dict[str, Any]] = {}
        if self.bundle.exists("evidence/manifest.jsonl"):
            for line in self.bundle.lines("evidence/manifest.jsonl"):
                try:
                    record = parse_json(line)
                    listed[str(record["sha256"])] = record
                except (FormatError, KeyError, TypeError) as error:
                    self.problem(None, "evidence manifest", str(error))
        self.report.evidence_listed = len(listed)
        for sha in sorted(set(self.attached) - set(listed)):
            self.problem(self.attached[sha], "evidence manifest", f"{sha} is attached, not listed")
        for sha in sorted(set(listed) - set(self.attached)):
            self.problem(None, "evidence manifest", f"{sha} is listed but never attached")
        if not self.check_blobs:
            return
        self.report.checks.append("every evidence blob re-hashes to its SHA-256 and size")
        for sha, record in sorted(listed.items()):
            if sha in self.erased:
                continue  # lawfully erased: its hash stays in the log, its content is gone
            name = f"evidence/blobs/{sha}"
            position = self.attached.get(sha)
            if not self.bundle.exists(name):
                self.problem(position, "evidence missing", f"{sha} is not in the bundle")
                continue
            digest, size = hashlib.sha256(), 0
            with self.bundle.open(name) as stream:
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
            self.report.evidence_rehashed += 1
            if digest.hexdigest() != sha or size != record.get("size"):
                self.problem(
                    position,
                    "evidence altered",
                    f"the blob stored for {sha} hashes to {digest.hexdigest()} "
                    f"({size} bytes): it is not the file that was signed for",
                )


def audit(
    path: Path,
    *,
    log_key: str | None = None,
    since: str | list[str] | None = None,
    witness_keys: list[str] | None = None,
    evidence: bool = False,
    trust: str | None = None,
    witnesses_required: int | None = None,
) -> AuditReport:
    """Verify the bundle at `path` (a folder or a .zip) and return the report.

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
    )
    try:
        return auditor.run()
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as error:
        signatures = getattr(auditor, "signatures", None)
        if signatures is not None and signatures.pool is not None:
            signatures.pool.shutdown(cancel_futures=True)
        auditor.problem(None, "bundle", f"cannot be read: {error}")
        return auditor.report
    finally:
        bundle.close()
