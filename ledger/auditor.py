"""The standalone auditor: verify an exported bundle without trusting whoever exported it.

This module depends only on the Python standard library and `cryptography`, and imports
nothing else from this project, so an auditor can read it end to end and run it on a
machine of their own. It re-derives everything from the signed entries:

1. every entry is canonical JSON (RFC 8785 for the values entries use: strings, integers,
   booleans, null, arrays, objects) in the documented format, and its Ed25519 signature
   verifies over the canonical body, with the key that was registered to its actor and
   not revoked *at that point in the log* (keys are replayed from the directory events);
2. the signer's role, and for officers and agency leads their agency, may sign that kind
   of event (the authority table below: who may sign what, never what state it leaves);
3. per aggregate, versions run 1, 2, 3... and timestamps never go backwards;
4. the RFC 9162 Merkle root of the first n entries equals the root in every signed
   checkpoint of size n; the latest checkpoint covers every entry; two checkpoints of the
   same size with different roots (a split view) are reported;
5. with a checkpoint the auditor saved on an earlier visit (`since`), the first n entries
   of today's log still hash to that root: nothing was rewritten since, even if the
   operator re-signed a rewritten history with the log key;
6. the evidence manifest names exactly the blobs the entries attach, and (with
   `evidence=True`) each blob in the bundle re-hashes to its SHA-256 and size;
7. cosignatures by the witnesses the auditor pins (C2SP tlog-cosignature) verify, and
   two saved checkpoints of one size with different roots are reported as a split view.

The lifecycle rules (which status may follow which) are the project's domain code, which
`inquiry-ledger verify-bundle --rules` replays on top of this when the project is installed;
this file stays small enough to read in an hour.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import html
import json
import os
import re
import zipfile
import zlib
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

BUNDLE_FORMAT = "inquiry-ledger/bundle/v1"
ENTRY_FORMAT = "inquiry-ledger/event/v1"
ENTRY_MEMBERS = {
    "actor",
    "aggregate_id",
    "format",
    "key_id",
    "payload",
    "signature",
    "timestamp",
    "type",
    "version",
}
GENESIS = "ledger.created"
EM_DASH = "\u2014 "
ALL_ROLES = {"officer", "agency_lead", "implementation_group", "chair", "scrutiny", "admin"}
AGENCY_ROLES = {"officer", "agency_lead"}

#: Who may sign each kind of event. Officers and agency leads may sign an action's events
#: only when the action is led by their own agency. `None` marks types decided by a payload
#: member (see `_allowed_roles`).
AUTHORITY: dict[str, set[str] | None] = {
    "directory.user_registered": {"admin"},
    "directory.key_rotated": None,  # the user themself, or an admin
    "directory.key_revoked": None,  # the user themself, or an admin
    "plan.imported": {"admin"},
    "plan.recommendation_added": {"admin"},
    "action.added": {"admin", "implementation_group"},
    "action.amended": {"admin", "implementation_group"},
    "action.merged": {"admin", "implementation_group"},
    "action.withdrawn": {"admin", "implementation_group"},
    "action.officer_assigned": {"agency_lead", "admin"},
    "action.status_changed": {"officer", "agency_lead", "implementation_group", "chair"},
    "action.evidence_attached": {"officer", "agency_lead"},
    "action.evidence_withdrawn": {"officer", "agency_lead"},
    "action.evidence_erased": {"admin"},
    "action.signed_off": None,  # by level: agency lead, implementation group, chair
    "action.sign_off_revoked": None,
    "action.returned": {"agency_lead", "implementation_group", "chair"},
    "action.rag_rated": {"agency_lead", "implementation_group", "chair"},
    "action.comment_added": ALL_ROLES - {"scrutiny"},
    "reminder.digest_sent": {"admin", "implementation_group"},
}
SIGN_OFF_ROLE = {"agency": "agency_lead", "implementation_group": "implementation_group"}
SIGN_OFF_ROLE["chair"] = "chair"


# -- reporting -------------------------------------------------------------------------


@dataclass
class Finding:
    leaf_index: int | None
    check: str
    detail: str


@dataclass
class AuditReport:
    bundle: str
    origin: str = ""
    log_key: str = ""
    log_key_source: str = ""
    entries: int = 0
    signatures_verified: int = 0
    authority_checked: int = 0
    checkpoints_verified: int = 0
    latest_checkpoint: int | None = None
    since_checkpoint: int | None = None
    witnessed: dict[str, int] = field(default_factory=dict)
    evidence_listed: int = 0
    evidence_rehashed: int = 0
    checks: list[str] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "bundle": self.bundle,
            "origin": self.origin,
            "log_key": self.log_key,
            "log_key_source": self.log_key_source,
            "counts": {
                "entries": self.entries,
                "signatures_verified": self.signatures_verified,
                "authority_checked": self.authority_checked,
                "checkpoints_verified": self.checkpoints_verified,
                "evidence_listed": self.evidence_listed,
                "evidence_rehashed": self.evidence_rehashed,
            },
            "latest_checkpoint": self.latest_checkpoint,
            "since_checkpoint": self.since_checkpoint,
            "witnessed": self.witnessed,
            "checks": self.checks,
            "problems": [vars(p) for p in self.problems],
        }

    def to_html(self) -> str:
        e = html.escape
        verdict = "VERIFIED" if self.ok else f"FAILED ({len(self.problems)} problems)"
        counts = self.to_json()["counts"]
        rows = "".join(
            f"<tr><td>{'' if p.leaf_index is None else p.leaf_index}</td>"
            f"<td>{e(p.check)}</td><td>{e(p.detail)}</td></tr>"
            for p in self.problems
        )
        return (
            "<!doctype html><html lang=en><meta charset=utf-8>"
            f"<title>Verification report: {e(self.origin)}</title>"
            "<style>body{font:15px system-ui;margin:2em;max-width:70em}"
            "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3em .6em;"
            "text-align:left;vertical-align:top}.ok{color:#060}.bad{color:#a00}</style>"
            f"<h1>Verification report</h1><p>Log <b>{e(self.origin)}</b>, bundle "
            f"<code>{e(self.bundle)}</code></p>"
            f"<p class={'ok' if self.ok else 'bad'}><b>{e(verdict)}</b></p>"
            f"<p>Log key <code>{e(self.log_key)}</code> ({e(self.log_key_source)}). Latest "
            f"signed checkpoint: {self.latest_checkpoint}. Saved checkpoint checked: "
            f"{self.since_checkpoint if self.since_checkpoint is not None else 'none given'}. "
            f"Largest checkpoint cosigned by each pinned witness: "
            f"{e(json.dumps(self.witnessed)) if self.witnessed else 'none pinned'}.</p>"
            "<h2>Counts</h2><table>"
            + "".join(f"<tr><th>{e(k)}</th><td>{v}</td></tr>" for k, v in counts.items())
            + "</table><h2>What was checked</h2><ul>"
            + "".join(f"<li>{e(c)}</li>" for c in self.checks)
            + "</ul><h2>Problems</h2>"
            + (
                "<table><tr><th>leaf</th><th>check</th><th>detail</th></tr>" + rows + "</table>"
                if rows
                else "<p>None.</p>"
            )
            + "</html>\n"
        )


# -- canonical JSON and formats ----------------------------------------------------------


class FormatError(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise FormatError(f"duplicate member {name!r}")
        result[name] = value
    return result


def _refuse(literal: str) -> Any:
    raise FormatError(f"{literal} is not allowed in an entry (integers only)")


def parse_json(data: bytes) -> Any:
    try:
        return json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_float=_refuse,
            parse_constant=_refuse,
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FormatError(f"not JSON: {error}") from None


def canonical(value: Any) -> bytes:
    """RFC 8785 for strings, integers, booleans, null, arrays and objects: members sorted
    by UTF-16 code units, no whitespace, ECMAScript string escaping."""
    return _canonical(value).encode("utf-8")


def _canonical(value: Any) -> str:
    if isinstance(value, dict):
        names = sorted(value, key=lambda name: name.encode("utf-16-be"))
        return "{" + ",".join(_string(n) + ":" + _canonical(value[n]) for n in names) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    if isinstance(value, str):
        return _string(value)
    if value is True or value is False or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        if abs(value) > 2**53 - 1:
            raise FormatError("integer outside the I-JSON range")
        return str(value)
    raise FormatError(f"{type(value).__name__} is not allowed in an entry")


_LONG_NUMBER = re.compile(rb"\d{16,}")


def is_canonical(value: Any, line: bytes) -> bool:
    """Whether `line` is the RFC 8785 form of `value` (parsed from it).

    Fast path: for an all-ASCII line with no 16-digit run, the standard library's C
    encoder with sorted keys produces exactly RFC 8785 (code-point order equals UTF-16
    order for ASCII names; with ensure_ascii=False an escaped non-ASCII character such as
    \\u00e9 comes out literally, so such a line does not match). Anything else takes the
    exact slow path."""
    if line.isascii() and not _LONG_NUMBER.search(line):
        fast = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        return fast.encode() == line
    try:
        return canonical(value) == line
    except UnicodeEncodeError:  # a lone surrogate: never canonical UTF-8
        return False


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def key_id_of(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:16]


def _b64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise FormatError(f"{what} must be base64 text")
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise FormatError(f"{what} is not valid base64") from None
    return raw


@functools.lru_cache(maxsize=4096)
def _public_key(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)  # loaded once per key, not per entry


def _verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        _public_key(public_key).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


def signing_bytes(line: bytes, signature_text: str) -> bytes:
    """The signed body of a canonical entry line: the line without its signature member.

    Members are sorted, so the top-level "signature" member is the one directly before
    "timestamp" and after the payload's closing brace: the last such occurrence. (Only
    valid for a line already checked to be canonical; saves canonicalising twice.)"""
    member = b',"signature":"' + signature_text.encode() + b'"'
    at = line.rfind(member + b',"timestamp":"')
    if at < 0:
        raise FormatError("the signature member is not where the canonical form puts it")
    return line[:at] + line[at + len(member) :]


# -- signed notes (C2SP signed-note, tlog-checkpoint) ----------------------------------


@dataclass(frozen=True)
class LogKey:
    name: str
    public_key: bytes
    key_hash: bytes

    @classmethod
    def parse(cls, text: str) -> LogKey:
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise FormatError("a verifier key is NAME+KEYHASH+BASE64KEY")
        name, hash_hex, blob = parts
        raw = _b64(blob, "verifier key")
        if len(raw) != 33 or raw[0] != 0x01:
            raise FormatError("only Ed25519 verifier keys are supported")
        key_hash = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
        if key_hash.hex() != hash_hex:
            raise FormatError("verifier key hash does not match its name and key")
        return cls(name, raw[1:], key_hash)


@dataclass(frozen=True)
class WitnessKey:
    """A witness's cosignature/v1 key: NAME+KEYHASH+base64(0x04 || Ed25519 key)."""

    name: str
    public_key: bytes
    key_hash: bytes

    @classmethod
    def parse(cls, text: str) -> WitnessKey:
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise FormatError("a witness key is NAME+KEYHASH+BASE64KEY")
        name, hash_hex, blob = parts
        raw = _b64(blob, "witness key")
        if len(raw) != 33 or raw[0] != 0x04:
            raise FormatError("a witness key must be an Ed25519 cosignature/v1 key (0x04)")
        key_hash = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
        if key_hash.hex() != hash_hex:
            raise FormatError("witness key hash does not match its name and key")
        return cls(name, raw[1:], key_hash)


def cosigned_by(note: str, key: WitnessKey) -> bool | None:
    """True if `note` carries a valid cosignature by `key`, False if it carries an invalid
    one, None if none. The cosigned message is "cosignature/v1", "time T", then the body."""
    text, _, signatures = note.rpartition("\n\n")
    for line in signatures.rstrip("\n").split("\n"):
        name, _, blob = line[len(EM_DASH) :].partition(" ")
        if not line.startswith(EM_DASH) or name != key.name:
            continue
        try:
            raw = _b64(blob, "cosignature")
        except FormatError:
            return False
        if len(raw) != 76 or raw[:4] != key.key_hash:
            continue
        timestamp = int.from_bytes(raw[4:12], "big")
        message = f"cosignature/v1\ntime {timestamp}\n{text}\n".encode()
        return _verify(key.public_key, raw[12:], message)
    return None


@dataclass(frozen=True)
class SignedCheckpoint:
    origin: str
    size: int
    root: bytes


def open_checkpoint(note: str, key: LogKey) -> SignedCheckpoint:
    """The checkpoint in `note` if `key` signed it (other signature lines are ignored)."""
    text = _signed_text(note, key)
    lines = text.split("\n")
    if len(lines) < 4 or not lines[1].isdigit():
        raise FormatError("a checkpoint is origin, size and root hash, one per line")
    root = _b64(lines[2], "checkpoint root")
    if len(root) != 32:
        raise FormatError("a checkpoint root is 32 bytes")
    return SignedCheckpoint(lines[0], int(lines[1]), root)


def _signed_text(note: str, key: LogKey) -> str:
    """The text of a signed note if `key` signed it; FormatError otherwise."""
    text, separator, signatures = note.rpartition("\n\n")
    if not separator or not signatures.endswith("\n"):
        raise FormatError("a signed note is text, a blank line, then signature lines")
    text += "\n"
    verdict: bool | None = None
    for line in signatures[:-1].split("\n"):
        if not line.startswith(EM_DASH):
            raise FormatError(f"malformed signature line {line[:60]!r}")
        name, _, blob = line[len(EM_DASH) :].partition(" ")
        raw = _b64(blob, "note signature")
        if name == key.name and len(raw) == 68 and raw[:4] == key.key_hash:
            verdict = _verify(key.public_key, raw[4:], text.encode())
            break
    if verdict is None:
        raise FormatError(f"the note carries no signature by {key.name}")
    if not verdict:
        raise FormatError(f"the signature by {key.name} does not verify")
    return text


# -- log-key rotations (format: ledger/logkeys.py) -------------------------------------

ROTATION_FORMAT = "inquiry-ledger/log-key-rotation/v1"


@dataclass(frozen=True)
class Rotation:
    size: int
    old: LogKey
    new: LogKey


def open_rotation(note: str) -> Rotation:
    """A rotation statement: the old key hands over to the new one at a tree size. It must
    be signed by both keys; it makes neither trusted (only pinning does)."""
    text, _, _ = note.rpartition("\n\n")
    lines = text.split("\n")
    if len(lines) != 6 or lines[0] != ROTATION_FORMAT or not lines[2].isdigit():
        raise FormatError("not a log-key rotation statement")
    if not lines[4].startswith("old ") or not lines[5].startswith("new "):
        raise FormatError("a rotation statement names an old and a new key")
    old, new = LogKey.parse(lines[4][4:]), LogKey.parse(lines[5][4:])
    _signed_text(note, old)
    _signed_text(note, new)
    return Rotation(int(lines[2]), old, new)


def _key_name(key: LogKey) -> str:
    return f"{key.name}+{key.key_hash.hex()}"


class LogKeys:
    """The pinned log keys, each valid for the checkpoint sizes the rotations give it: the
    first key up to the first rotation's size, each successor from there to the next."""

    def __init__(self, pinned: list[LogKey], rotations: list[Rotation]) -> None:
        self.pinned = pinned
        self.rotations = rotations
        chain = [rotations[0].old, *(r.new for r in rotations)] if rotations else pinned
        bounds = [0, *(r.size for r in rotations)]
        self.periods = [
            (key, bounds[i] if rotations else 0, bounds[i + 1] if i + 1 < len(bounds) else None)
            for i, key in enumerate(chain)
        ]

    def open(self, note: str) -> SignedCheckpoint:
        for key, first, last in self.periods:
            if key not in self.pinned:
                continue
            try:
                checkpoint = open_checkpoint(note, key)
            except FormatError:
                continue
            if checkpoint.size < first or (last is not None and checkpoint.size > last):
                raise FormatError(
                    f"checkpoint {checkpoint.size} is signed by log key {_key_name(key)}, valid "
                    f"only for sizes {first} to {last}: a key used after its retirement"
                )
            return checkpoint
        for key, first, _ in self.periods:
            try:
                checkpoint = open_checkpoint(note, key)
            except FormatError:
                continue
            raise FormatError(
                f"checkpoint {checkpoint.size} is signed by log key {_key_name(key)}, which took "
                f"over at size {first} in a rotation; you have not pinned it"
            )
        pinned = ", ".join(_key_name(key) for key in self.pinned)
        raise FormatError(f"the checkpoint carries no valid signature by a pinned key ({pinned})")


# -- the Merkle tree (RFC 9162), one leaf at a time --------------------------------------


class MerkleRoot:
    """The roots of the maximal perfect subtrees so far: O(log n) memory for any n."""

    def __init__(self) -> None:
        self.size = 0
        self.stack: list[bytes] = []

    def append(self, entry: bytes) -> None:
        node = hashlib.sha256(b"\x00" + entry).digest()
        size = self.size
        while size & 1:
            node = hashlib.sha256(b"\x01" + self.stack.pop() + node).digest()
            size >>= 1
        self.stack.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self.stack:
            return hashlib.sha256(b"").digest()
        node = self.stack[-1]
        for left in reversed(self.stack[:-1]):
            node = hashlib.sha256(b"\x01" + left + node).digest()
        return node


# -- reading a bundle (a folder or a .zip) ---------------------------------------------


class Bundle:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip = zipfile.ZipFile(path) if path.is_file() else None

    def exists(self, name: str) -> bool:
        if self.zip is not None:
            return name in self.zip.namelist()
        return (self.path / name).is_file()

    def open(self, name: str) -> IO[bytes]:
        if self.zip is not None:
            return self.zip.open(name)
        return (self.path / name).open("rb")

    def lines(self, name: str) -> Iterator[bytes]:
        with self.open(name) as stream:
            for line in stream:
                yield line[:-1] if line.endswith(b"\n") else line

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()


# -- the audit ---------------------------------------------------------------------------


#: Entries whose effects later checks rely on (keys, users, lead agencies, evidence):
#: their signatures are checked before they take effect. All others are checked in
#: batches by worker processes while the main process reads on.
CHECKED_AT_ONCE = {
    GENESIS,
    "directory.user_registered",
    "directory.key_rotated",
    "directory.key_revoked",
    "action.added",
    "action.amended",
    "action.evidence_attached",
    "action.evidence_erased",
}


def _failed_signatures(batch: list[tuple[int, bytes, bytes, bytes, str]]) -> list[Finding]:
    return [
        Finding(position, "bad signature", what)
        for position, public_key, signature, message, what in batch
        if not _verify(public_key, signature, message)
    ]


class _Signatures:
    """Ed25519 checks in worker processes, a batch at a time, while the main process reads
    and checks the entries that follow: on two cores the audit then costs about what the
    signatures alone cost. At most a few batches are in flight, so memory stays flat."""

    BATCH = 1024

    def __init__(self) -> None:
        workers = os.cpu_count() or 1
        self.pool: ProcessPoolExecutor | None = (
            ProcessPoolExecutor(max_workers=workers) if workers > 1 else None
        )
        self.in_flight = 2 * workers
        self.batch: list[tuple[int, bytes, bytes, bytes, str]] = []
        self.pending: list[Future[list[Finding]]] = []
        self.failed: list[Finding] = []

    def add(
        self, position: int, public_key: bytes, signature: bytes, message: bytes, what: str
    ) -> None:
        self.batch.append((position, public_key, signature, message, what))
        if len(self.batch) >= self.BATCH:
            self._flush()

    def _flush(self) -> None:
        batch, self.batch = self.batch, []
        if self.pool is None:
            self.failed.extend(_failed_signatures(batch))
            return
        if batch:
            self.pending.append(self.pool.submit(_failed_signatures, batch))
        while len(self.pending) > self.in_flight:
            self.failed.extend(self.pending.pop(0).result())

    def finish(self) -> list[Finding]:
        self._flush()
        for future in self.pending:
            self.failed.extend(future.result())
        if self.pool is not None:
            self.pool.shutdown()
        return self.failed


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
        limit: int = 1000,
    ) -> None:
        self.bundle = bundle
        self.report = AuditReport(str(bundle.path))
        self.pinned_key = log_key
        self.since_notes = since or []
        self.witness_keys = witness_keys or []
        self.check_blobs = evidence
        self.limit = limit
        self.keys: dict[str, _Key] = {}
        self.users: dict[str, tuple[str, str | None]] = {}  # user -> (role, agency)
        self.lead_agency: dict[str, str] = {}  # action aggregate id -> agency
        self.versions: dict[str, tuple[int, str]] = {}  # aggregate -> (version, timestamp)
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
            witnesses = [WitnessKey.parse(text) for text in self.witness_keys]
        except (FormatError, OSError, KeyError) as error:
            self.problem(None, "bundle", str(error))
            return self.report
        self.report.origin = str(meta.get("origin", ""))
        roots = self._checkpoints(key, witnesses)
        since = self._since(key)
        self.signatures = _Signatures()
        self._entries(roots, since)
        for finding in self.signatures.finish():
            self.problem(finding.leaf_index, finding.check, finding.detail)
        self._coverage(roots, meta)
        self._evidence()
        self.report.problems.sort(key=lambda p: (p.leaf_index is None, p.leaf_index or 0))
        return self.report

    def _log_key(self, meta: dict[str, Any]) -> LogKeys:
        """The pinned keys (one a line; old and new after a rotation), placed in time by
        the bundle's rotation statements."""
        rotations = []
        if self.bundle.exists("log-key-rotations.jsonl"):
            for line in self.bundle.lines("log-key-rotations.jsonl"):
                try:
                    rotations.append(open_rotation(str(parse_json(line)["note"])))
                except (FormatError, KeyError, TypeError) as error:
                    self.problem(None, "log key rotation", str(error))
        # bundle.json names the log's key (an export through the API: the keys its
        # exporter pinned, one a line)
        named = [line.strip() for line in str(meta.get("log_key", "")).splitlines()]
        if self.pinned_key is not None:
            pinned = [LogKey.parse(line) for line in self.pinned_key.splitlines() if line.strip()]
            if not pinned:
                raise FormatError("the pinned log key file holds no key")
            self.report.log_key_source = "pinned by the auditor"
            lines = {line.strip() for line in self.pinned_key.splitlines()}
            if not named or not set(filter(None, named)) <= lines:
                self.problem(None, "log key", self._unpinned(pinned, rotations))
        else:
            pinned = [LogKey.parse(line) for line in named if line] or [LogKey.parse("")]
            pinned += [r.old for r in rotations]
            self.report.log_key_source = "taken from the bundle (not pinned: pass --log-key)"
        self.report.log_key = ", ".join(f"{_key_name(key)}+..." for key in pinned)
        return LogKeys(pinned, rotations)

    @staticmethod
    def _unpinned(pinned: list[LogKey], rotations: list[Rotation]) -> str:
        for rotation in rotations:
            if rotation.old in pinned and rotation.new not in pinned:
                return (
                    f"the log key was rotated at size {rotation.size} from your pinned key "
                    f"{_key_name(rotation.old)} to {_key_name(rotation.new)} (a statement "
                    "signed by both); checkpoints after it are signed by a key you have not "
                    "pinned: obtain the new key independently and add it to your --log-key file"
                )
        return "the bundle names a different log key"

    def _checkpoints(self, key: LogKeys, witnesses: list[WitnessKey]) -> dict[int, bytes]:
        self.report.checks.append("every checkpoint note is signed by the log key")
        if witnesses:
            self.report.checks.append("every cosignature by a pinned witness verifies")
        self.report.witnessed = {w.name: 0 for w in witnesses}
        roots: dict[int, bytes] = {}
        if not self.bundle.exists("checkpoints.jsonl"):
            self.problem(None, "checkpoint", "the bundle has no checkpoints.jsonl")
            return roots
        for line in self.bundle.lines("checkpoints.jsonl"):
            try:
                record = parse_json(line)
                checkpoint = key.open(str(record["note"]))
            except (FormatError, KeyError, TypeError) as error:
                self.problem(None, "checkpoint", str(error))
                continue
            if checkpoint.origin != self.report.origin:
                self.problem(None, "checkpoint", f"checkpoint for another log {checkpoint.origin}")
                continue
            seen = roots.get(checkpoint.size)
            if seen is not None and seen != checkpoint.root:
                self.problem(
                    None,
                    "split view",
                    f"two signed checkpoints of size {checkpoint.size} with different roots: "
                    "the log has shown different histories to different readers",
                )
            roots[checkpoint.size] = checkpoint.root
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
        self.report.latest_checkpoint = max(roots) if roots else None
        return roots

    def _since(self, key: LogKeys) -> dict[int, bytes]:
        """Sizes and roots of the checkpoints the auditor (or witnesses) saved earlier.

        Two saved checkpoints of one size with different roots, both signed by the log
        key, prove the log showed different histories to different readers."""
        saved: dict[int, bytes] = {}
        for note in self.since_notes:
            try:
                checkpoint = key.open(note)
            except FormatError as error:
                self.problem(None, "saved checkpoint", f"cannot be checked: {error}")
                continue
            seen = saved.get(checkpoint.size)
            if seen is not None and seen != checkpoint.root:
                self.problem(
                    None,
                    "split view",
                    f"two saved checkpoints of size {checkpoint.size}, both signed by the log "
                    "key, have different roots: the log showed two histories",
                )
            saved[checkpoint.size] = checkpoint.root
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
        tree = MerkleRoot()
        if 0 in roots and tree.root() != roots[0]:
            self.problem(None, "checkpoint mismatch", "the empty tree's root differs")
        if not self.bundle.exists("entries.jsonl"):
            self.problem(None, "bundle", "the bundle has no entries.jsonl")
            return
        for position, line in enumerate(self.bundle.lines("entries.jsonl")):
            self.report.entries += 1
            tree.append(line)
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
            entry = parse_json(line)
            if not isinstance(entry, dict) or set(entry) != ENTRY_MEMBERS:
                raise FormatError("an entry has exactly the documented members")
            if not is_canonical(entry, line):
                raise FormatError("the entry is not in canonical form")
            if entry["format"] != ENTRY_FORMAT:
                raise FormatError(f"unknown entry format {entry['format']!r}")
            for name in ("actor", "aggregate_id", "key_id", "signature", "timestamp", "type"):
                if not isinstance(entry[name], str):
                    raise FormatError(f"{name} must be a string")
            if not isinstance(entry["payload"], dict):
                raise FormatError("payload must be an object")
            if type(entry["version"]) is not int or entry["version"] < 1:
                raise FormatError("version must be a positive integer")
            signature_text = entry.pop("signature")
            signature = _b64(signature_text, "signature")
            message = signing_bytes(line, signature_text)
        except FormatError as error:
            self.problem(position, "malformed entry", str(error))
            return
        kind, actor, payload = entry["type"], entry["actor"], entry["payload"]
        if not isinstance(payload, dict) or not isinstance(actor, str):
            self.problem(position, "malformed entry", "actor or payload has the wrong type")
            return
        self._sequence(position, entry)
        public_key = self._signing_key(position, entry)
        if public_key is None:
            return  # reported; an entry nobody valid signed changes nothing (keys least)
        self.report.signatures_verified += 1
        what = (
            f"{kind} v{entry['version']} signed as {actor} (key {entry['key_id']}) does not verify"
        )
        if kind not in CHECKED_AT_ONCE:
            self.signatures.add(position, public_key, signature, message, what)
        elif not _verify(public_key, signature, message):
            self.problem(position, "bad signature", what)
            return
        if self._authority(position, entry):
            self._apply(position, entry)

    def _sequence(self, position: int, entry: dict[str, Any]) -> None:
        aggregate, version, stamp = entry["aggregate_id"], entry["version"], entry["timestamp"]
        last_version, last_stamp = self.versions.get(aggregate, (0, ""))
        if version != last_version + 1:
            self.problem(
                position,
                "version sequence",
                f"aggregate {aggregate} goes from version {last_version} to {version} "
                "(an entry is missing, duplicated or out of order)",
            )
        if not isinstance(stamp, str) or stamp < last_stamp:
            self.problem(position, "timestamp order", f"{stamp} is earlier than {last_stamp}")
        self.versions[aggregate] = (version, stamp if isinstance(stamp, str) else last_stamp)

    def _signing_key(self, position: int, entry: dict[str, Any]) -> bytes | None:
        actor, key_id = entry["actor"], entry["key_id"]
        if entry["type"] == GENESIS:
            if position != 0:
                self.problem(position, "unknown signer", "a genesis entry after the first")
                return None
            try:
                public_key = _b64(entry["payload"].get("public_key"), "genesis key")
            except FormatError as error:
                self.problem(position, "unknown signer", str(error))
                return None
            if key_id != key_id_of(public_key) or actor != entry["payload"].get("admin_id"):
                self.problem(position, "unknown signer", "the genesis is not self-signed")
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

    def _authority(self, position: int, entry: dict[str, Any]) -> bool:
        kind, actor, payload = entry["type"], entry["actor"], entry["payload"]
        if kind == GENESIS:
            self.report.authority_checked += 1
            return True
        role, agency = self.users.get(actor, ("", None))
        allowed = self._allowed_roles(kind, actor, payload)
        if role not in allowed:
            self.problem(
                position,
                "not authorised",
                f"{actor} ({role}) may not sign {kind}; allowed: {', '.join(sorted(allowed))}",
            )
            return False
        lead = self.lead_agency.get(entry["aggregate_id"])
        scoped = kind.startswith("action.") and kind != "action.added" and role in AGENCY_ROLES
        if scoped and lead != agency:
            self.problem(
                position,
                "not authorised",
                f"{actor} ({role} of {agency}) signed {kind} for an action led by {lead}",
            )
            return False
        self.report.authority_checked += 1
        return True

    @staticmethod
    def _allowed_roles(kind: str, actor: str, payload: dict[str, Any]) -> set[str]:
        fixed = AUTHORITY.get(kind, set())
        if fixed is not None:
            return fixed
        if kind in ("directory.key_rotated", "directory.key_revoked"):
            return ALL_ROLES if payload.get("user_id") == actor else {"admin"}
        return {SIGN_OFF_ROLE.get(str(payload.get("level")), "unknown level")}

    def _apply(self, position: int, entry: dict[str, Any]) -> None:
        """Keep the few facts the checks need: keys, users, lead agencies, evidence."""
        kind, payload, aggregate = entry["type"], entry["payload"], entry["aggregate_id"]
        try:
            if kind == GENESIS:
                self._add_key(payload["admin_id"], payload["public_key"])
                self.users[payload["admin_id"]] = ("admin", None)
            elif kind == "directory.user_registered":
                self._add_key(payload["user_id"], payload["public_key"])
                self.users[payload["user_id"]] = (payload["role"], payload.get("agency"))
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
        public_key = _b64(public_key_text, "public key")
        self.keys[key_id_of(public_key)] = _Key(user, public_key)

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
        bundle, log_key=log_key, since=saved, witness_keys=witness_keys, evidence=evidence
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
