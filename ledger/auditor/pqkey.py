"""The log's post-quantum key: the statement that binds it to the log key, and the audit of
the ML-DSA-44 lines on a bundle's checkpoints (the signature format: mldsa.py).

The post-quantum key is added by whoever holds the Ed25519 log key (`init`, or `log-key
add-pq` for an existing ledger: ledger/pqkeys.py), and recorded as a C2SP signed note::

    inquiry-ledger/log-pq-key/v1
    <origin>
    <size>                 the tree when the key was added
    <base64 root>          its root
    log <Ed25519 verifier key>
    pq <ML-DSA-44 verifier key>

signed by BOTH keys, as a log-key rotation is (rotation.py): the Ed25519 log key's
signature says "every checkpoint I sign of a tree larger than this one also carries this
key's signature", the ML-DSA key's proves it exists and signs the same tree. So nobody
swaps in another post-quantum key unseen: a key the server publishes or a bundle carries
is the log key's word, checked against the log key the verifier pinned. Checkpoints of
that size or smaller predate the key and carry the Ed25519 line only; the statement itself
is a statement of the tree at its size by both keys, which an audit that pins the key
checks against the entries like a checkpoint (a different root there is a split view), so
the history before the key is vouched for by it too. The ledger records one such key and
never replaces it (a second `add-pq` is refused).

The audit: with ``--pq-log-key FILE`` (the ML-DSA-44 verifier key the auditor obtained
independently) every checkpoint in the bundle larger than the statement's size must carry
a valid line by that key, each one missing or bad a finding that names the checkpoint. The
size comes from the bundle's statement only if it verifies under the pinned keys and names
the pinned post-quantum key; otherwise every checkpoint must carry the line. Without the
option the report says the post-quantum signatures were not checked (the verdict is as
without them: the Ed25519 log key is what the witness network and every verifier pin).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from ledger.auditor.bundle import Bundle
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.errors import FormatError
from ledger.auditor.findings import AuditReport, ProblemSink
from ledger.auditor.limits import MAX_META
from ledger.auditor.mldsa import (
    ALGORITHM,
    PQVerifierKey,
    mldsa_supported,
    open_pq_note,
    parse_pq_key_file,
    pq_signed,
)
from ledger.auditor.note import (
    NoteError,
    VerifierKey,
    decode_canonical_base64,
    open_note,
    parse_note_integer,
)
from ledger.auditor.rotation import LogKeys

PQ_KEY_FORMAT = "inquiry-ledger/log-pq-key/v1"
#: The bundle's copy of the statement (ledger/bundle.py writes it when the log has one).
BUNDLE_FILE = "log-pq-key.txt"
CHECK = "post-quantum signature"


class PQKeyError(FormatError):
    """A post-quantum key statement that is malformed or not signed by both its keys."""


@dataclass(frozen=True)
class PQBinding:
    origin: str
    size: int
    root_hash: bytes
    log: VerifierKey
    pq: PQVerifierKey
    note: str

    @staticmethod
    def body(origin: str, size: int, root: bytes, log: VerifierKey, pq: PQVerifierKey) -> str:
        return (
            f"{PQ_KEY_FORMAT}\n{origin}\n{size}\n{base64.b64encode(root).decode()}\n"
            f"log {log.encode()}\npq {pq.encode()}\n"
        )

    @classmethod
    def parse(cls, note: str) -> PQBinding:
        """Parse a statement; it must carry valid signatures by both keys it names."""
        text, separator, _ = note.rpartition("\n\n")
        lines = text.split("\n")
        if not separator or len(lines) != 6 or lines[0] != PQ_KEY_FORMAT:
            raise PQKeyError("not a post-quantum log key statement")
        origin, size_text, root_text, log_line, pq_line = lines[1:]
        if not log_line.startswith("log ") or not pq_line.startswith("pq "):
            raise PQKeyError("a post-quantum key statement names the log key and the pq key")
        try:
            size = parse_note_integer(size_text, "a post-quantum key statement's size")
            root = decode_canonical_base64(root_text, "a post-quantum key statement's root")
            log = VerifierKey.parse(log_line[4:])
            pq = PQVerifierKey.parse(pq_line[3:])
            open_note(note, log)
            open_pq_note(note, pq)
        except NoteError as error:
            raise PQKeyError(f"post-quantum key statement: {error}") from None
        if len(root) != 32 or not origin or log.name != origin or pq.name != origin:
            raise PQKeyError("a post-quantum key statement's root or key names are malformed")
        return cls(origin, size, root, log, pq, note)

    def requires(self, size: int) -> bool:
        """Must a checkpoint of this size carry the post-quantum line? (Larger than the
        tree the key was added at; those up to it predate the key.)"""
        return size > self.size


def binding_problem(binding: PQBinding, keys: LogKeys) -> str | None:
    """Why the statement is not the word of a log key the verifier pinned, valid at its
    size (None when it is). The same rule as checkpoints: a key only while it is valid,
    and only a pinned one (rotation.py)."""
    for period in keys.periods:
        if period.key != binding.log:
            continue
        if not period.pinned:
            return (
                f"the post-quantum key statement is signed by log key {binding.log.label}, "
                "which you have not pinned"
            )
        if not period.covers(binding.size):
            return (
                f"the post-quantum key statement of size {binding.size} is signed by log key "
                f"{binding.log.label}, valid only for sizes {period.first} to {period.last}"
            )
        return None
    return (
        f"the post-quantum key statement is signed by {binding.log.label}, not by a log key "
        "you pinned"
    )


class PQSignatures:
    """The audit of the post-quantum lines on the bundle's checkpoints (module docstring).

    `check` is called with each checkpoint the Ed25519 log key verified (checkpoint_roots)."""

    def __init__(
        self,
        pinned: PQVerifierKey | None,
        binding: PQBinding | None,
        report: AuditReport,
        problem: ProblemSink,
    ) -> None:
        self.pinned = pinned
        self.binding = binding
        self.report = report
        self.problem = problem

    def check(self, note: str, checkpoint: Checkpoint) -> None:
        """A checkpoint since the key was added must carry its valid line; one from
        before need not, but a line by the key that it does carry must verify."""
        if self.pinned is None:
            return
        required = self.binding is None or self.binding.requires(checkpoint.size)
        try:
            signed = pq_signed(note, self.pinned)
        except NoteError as error:
            signed, why = False, str(error)
        else:
            why = f"the {ALGORITHM} signature by {self.pinned.label} does not verify"
        if signed:
            self.report.pq_checkpoints_verified += 1
            return
        if signed is None and not required:
            self.report.pq_predating += 1
            return
        if signed is None:
            why = f"it carries no {ALGORITHM} signature by {self.pinned.label}"
        self.problem(
            None,
            CHECK,
            f"checkpoint {checkpoint.size}: {why} (the post-quantum log key you pinned with "
            "--pq-log-key)",
        )

    def roots(self) -> list[Checkpoint]:
        """The tree the statement names, to be checked against the entries when the key
        is pinned: then the statement, which the ML-DSA key signed too, vouches for the
        history before the key as well (unpinned, it is only the log key's word, like
        any checkpoint, and dropping it from the bundle would hide nothing)."""
        if self.binding is None or self.pinned is None:
            return []
        binding = self.binding
        return [Checkpoint(binding.origin, binding.size, binding.root_hash)]


def pq_signatures(
    bundle: Bundle,
    meta: dict[str, object],
    pinned_text: str | None,
    keys: LogKeys,
    report: AuditReport,
    problem: ProblemSink,
) -> PQSignatures:
    """Read the bundle's statement (if any) and the pinned key (if any); report what the
    audit will check of the post-quantum signatures.

    A statement that is malformed, unsigned, for another log or not the word of a pinned
    log key is a finding (and its size is not used); so is one naming another key than
    the pinned one, or a bundle.json that names another key than the statement. Where
    this `cryptography` has no ML-DSA-44, nothing of it can be checked: pinning a key is
    then an error, and otherwise the report says so."""
    if not mldsa_supported():
        if pinned_text is not None:
            raise FormatError(f"--pq-log-key: this cryptography (its OpenSSL) has no {ALGORITHM}")
        report.pq_log_key_source = f"not checked: this cryptography has no {ALGORITHM}"
        return PQSignatures(None, None, report, problem)
    binding = _bundle_binding(bundle, keys, report, problem)
    named = meta.get("pq_log_key")
    if binding is not None and named is not None and named != binding.pq.encode():
        problem(None, CHECK, "bundle.json names another post-quantum key than its statement")
    if binding is not None:
        report.pq_log_key = f"{binding.pq.label}+..."
    if pinned_text is None:
        named_by = f"; the bundle names {binding.pq.label}" if binding is not None else ""
        report.pq_log_key_source = (
            f"not checked: the {ALGORITHM} signatures were not verified (pass --pq-log-key "
            f"FILE{named_by})"
        )
        return PQSignatures(None, binding, report, problem)
    try:
        pinned = parse_pq_key_file(pinned_text)
    except NoteError as error:
        raise FormatError(f"--pq-log-key: {error}") from None
    report.pq_log_key = f"{pinned.label}+..."
    if pinned.name != report.origin:
        problem(
            None,
            CHECK,
            f"the pinned post-quantum key is named {pinned.name!r}, not this log "
            f"({report.origin!r}): a log's keys bear its origin",
        )
    if binding is not None and binding.pq != pinned:
        problem(
            None,
            CHECK,
            f"the bundle's post-quantum key statement names {binding.pq.label}, not the key "
            f"you pinned ({pinned.label})",
        )
        binding = None
    if binding is None:
        report.pq_log_key_source = (
            f"pinned by the auditor: every checkpoint must carry its {ALGORITHM} signature "
            "(no valid statement in the bundle says since which size)"
        )
    else:
        report.pq_log_key_source = (
            f"pinned by the auditor: every checkpoint after size {binding.size} (when the "
            f"log key added it) must carry its {ALGORITHM} signature"
        )
    report.checks.append(
        f"every checkpoint since the post-quantum key was added carries a valid {ALGORITHM} "
        "signature by the key pinned with --pq-log-key"
    )
    return PQSignatures(pinned, binding, report, problem)


def _bundle_binding(
    bundle: Bundle, keys: LogKeys, report: AuditReport, problem: ProblemSink
) -> PQBinding | None:
    if not bundle.exists(BUNDLE_FILE):
        return None
    try:
        binding = PQBinding.parse(bundle.read(BUNDLE_FILE, MAX_META).decode())
    except (FormatError, UnicodeDecodeError) as error:
        problem(None, CHECK, f"{BUNDLE_FILE}: {error}")
        return None
    why = binding_problem(binding, keys)
    if binding.origin != report.origin:
        why = f"the post-quantum key statement is of the log {binding.origin!r}"
    if why is not None:
        problem(None, CHECK, why)
        return None
    return binding
