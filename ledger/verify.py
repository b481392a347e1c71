"""Full verification of a ledger: every entry, signature, rule, leaf and checkpoint.

It trusts nothing the operator stores except as something to check: entries are read
from the event store itself, re-parsed in strict canonical form, re-hashed into a fresh
Merkle tree and compared with the stored tree and with every checkpoint signed by the
pinned log key (and, since the log's post-quantum key was added, by that key too, as the
statement the pinned log key signed names it: ledger/pqkeys.py). Signers are resolved
against the directory as it stood at that point of the log (replayed from the log), and
every rule is checked again for the signer's registered role and agency. Signature
checks go to the shared pool of worker processes
(ledger/sigpool.py), a chunk at a time, while this process reads, parses, hashes and
replays the rules of the entries that follow: they are the cost that dominates (see
bench/verify.py). The signed message is cut out of the stored line (`signed_message`)
once the line is proven canonical, instead of canonicalising again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from domain import Actor, Directory, DomainError, Plan, Role, RuleContext
from domain.ids import DIRECTORY_ID, PLAN_ID, action_aggregate_id
from domain.plan_changes import open_actions_among
from ledger.auditor.ed25519 import decode_public_key
from ledger.auditor.entry import EntryFormatError, SignedEntry, signed_message
from ledger.auditor.errors import FormatError
from ledger.auditor.merkle import CompactRange, leaf_hash
from ledger.auditor.mldsa import open_pq_note
from ledger.auditor.note import NoteError, VerifierKey
from ledger.auditor.pqkey import PQBinding, binding_problem
from ledger.auditor.rotation import LogKeys, verify_checkpoint
from ledger.entry import to_domain_event
from ledger.pqkeys import pq_binding
from ledger.service import CHARTER_TYPE, GENESIS_TYPE, Ledger
from ledger.sigpool import SignatureBatch, cores, shared_pool

PAGE = 1000
#: Signatures per chunk sent to a worker (~170 kB), and chunks in flight at most: enough
#: to keep every worker busy while this process reads on, within what the workers' pipes
#: hold (so sending never blocks), few enough that memory stays flat.
SIGNATURE_CHUNK = 256
SIGNATURES_IN_FLIGHT = 8


@dataclass(frozen=True)
class Problem:
    leaf_index: int | None
    what: str
    detail: str

    def __str__(self) -> str:
        where = f"entry {self.leaf_index}" if self.leaf_index is not None else "log"
        return f"{where}: {self.what}: {self.detail}"


@dataclass
class VerificationReport:
    entries: int = 0
    signatures_verified: int = 0
    rules_checked: int = 0
    tree_size: int = 0
    checkpoints_verified: int = 0
    #: Checkpoints carrying a valid signature by the log's post-quantum key (pqkeys.py).
    pq_checkpoints_verified: int = 0
    latest_checkpoint_size: int | None = None
    uncovered_entries: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def first_problem(self) -> Problem | None:
        return min(
            self.problems,
            key=lambda p: (p.leaf_index is None, p.leaf_index or 0),
            default=None,
        )


class _Verifier:
    def __init__(
        self, ledger: Ledger, log_key: VerifierKey | LogKeys, workers: int, limit: int
    ) -> None:
        self.ledger = ledger
        self.log_key = log_key
        self.limit = limit
        self.report = VerificationReport()
        pool = shared_pool() if workers > 1 else None
        self.signatures = SignatureBatch(
            pool, chunk=SIGNATURE_CHUNK, in_flight=SIGNATURES_IN_FLIGHT
        )
        self.state: dict[UUID, Any] = {}
        self.last_time: dict[UUID, datetime] = {}
        self.tree = CompactRange()
        self.checkpoint_roots: dict[int, bytes] = {}
        self.recomputed: list[tuple[int, int, bytes]] = []
        self.stored_tree = CompactRange()

    def problem(self, leaf_index: int | None, what: str, detail: str) -> None:
        if len(self.report.problems) < self.limit:
            self.report.problems.append(Problem(leaf_index, what, detail))

    def run(self) -> VerificationReport:
        self._read_checkpoints()
        stored = self._stored_leaves()
        for position, notification in enumerate(self._notifications()):
            self.report.entries += 1
            data = bytes(notification.state)
            leaf = leaf_hash(data)
            stored_leaf = next(stored, None)
            self._check_leaf(position, notification.id, leaf, stored_leaf)
            self.tree.append(leaf)
            if stored_leaf is not None:
                # Interior nodes recomputed from the *stored* leaves: a mismatch is then the
                # stored tree's own fault, not the consequence of an altered entry.
                self.recomputed.extend(self.stored_tree.append(stored_leaf[2])[1:])
                if len(self.recomputed) >= 2 * PAGE:
                    self._check_nodes()
            self._check_root(self.tree.size)
            self._check_entry(position, notification, data)
        self._check_nodes()
        remaining = sum(1 for _ in stored)
        if remaining:
            self.problem(
                self.report.entries,
                "missing entries",
                f"the tree records {remaining} more leaves than the event store holds "
                "(entries were deleted)",
            )
        for position in self.signatures.failures():
            self.problem(position, "bad signature", "the signature does not verify")
        self.report.signatures_verified = self.signatures.count
        self.report.tree_size = self.ledger.tree_size()
        self._check_coverage()
        self.report.problems.sort(key=lambda p: (p.leaf_index is None, p.leaf_index or 0))
        return self.report

    def _notifications(self) -> Iterator[Any]:
        start: int | None = None
        while True:
            page = self.ledger.app.recorder.select_notifications(start=start, limit=PAGE)
            if not page:
                return
            yield from page
            start = page[-1].id + 1

    def _stored_leaves(self) -> Iterator[tuple[int, int, bytes]]:
        start = 0
        while True:
            page = self.ledger.tables.leaves(start, PAGE)
            if not page:
                return
            yield from page
            start = page[-1][0] + 1

    def _read_checkpoints(self) -> None:
        pq = self._pq_binding()
        for stored in self.ledger.tables.checkpoints():
            try:
                checkpoint = verify_checkpoint(stored.note, self.log_key)
            except NoteError as error:
                self.problem(None, "bad checkpoint", f"size {stored.tree_size}: {error}")
                continue
            if checkpoint.size != stored.tree_size or checkpoint.root_hash != stored.root_hash:
                self.problem(
                    None, "bad checkpoint", f"size {stored.tree_size}: note and row differ"
                )
                continue
            if pq is not None and pq.requires(checkpoint.size):
                try:
                    open_pq_note(stored.note, pq.pq)
                except NoteError as error:
                    self.problem(
                        None,
                        "bad checkpoint",
                        f"size {stored.tree_size}: {error} (the log's post-quantum key)",
                    )
                    continue
                self.report.pq_checkpoints_verified += 1
            self.checkpoint_roots[checkpoint.size] = checkpoint.root_hash
            self.report.checkpoints_verified += 1
            self.report.latest_checkpoint_size = checkpoint.size
        if pq is not None:
            signed = self.checkpoint_roots.setdefault(pq.size, pq.root_hash)
            if signed != pq.root_hash:
                self.problem(
                    None,
                    "bad checkpoint",
                    f"the post-quantum key statement names another root for size {pq.size} "
                    "than the checkpoint of that size",
                )
        if 0 in self.checkpoint_roots:
            self._check_root(0)

    def _pq_binding(self) -> PQBinding | None:
        """The log's post-quantum key, if it has one and the statement binding it is the
        word of the pinned log key (ledger/auditor/pqkey.py); else None (and a problem if
        the statement is not)."""
        try:
            binding = pq_binding(self.ledger.tables)
        except FormatError as error:
            self.problem(None, "post-quantum key", str(error))
            return None
        if binding is None:
            return None
        keys = self.log_key if isinstance(self.log_key, LogKeys) else LogKeys([self.log_key])
        why = binding_problem(binding, keys)
        if why is not None:
            self.problem(None, "post-quantum key", why)
            return None
        return binding

    def _check_leaf(
        self,
        position: int,
        notification_id: int,
        leaf: bytes,
        stored: tuple[int, int, bytes] | None,
    ) -> None:
        if stored is None:
            return  # not integrated yet; reported as uncovered if no checkpoint covers it
        _, stored_id, stored_hash = stored
        if stored_id != notification_id:
            self.problem(
                position,
                "log order",
                f"the tree's leaf {position} is notification {stored_id}, but the event store "
                f"has notification {notification_id} there (an entry was deleted, inserted "
                "or moved)",
            )
        elif stored_hash != leaf:
            self.problem(
                position,
                "altered entry",
                "the stored bytes no longer hash to the leaf recorded in the tree",
            )

    def _check_nodes(self) -> None:
        """Every interior node the tree stores (proofs are built from them) must equal the
        one recomputed from the stored leaves; a page at a time, a range query a level."""
        by_level: dict[int, list[tuple[int, bytes]]] = {}
        for level, index, value in self.recomputed:
            by_level.setdefault(level, []).append((index, value))
        self.recomputed = []
        for level, nodes in by_level.items():
            stored = self.ledger.tables.nodes_in_range(level, nodes[0][0], nodes[-1][0])
            for index, value in nodes:
                found = stored.get(index)
                if found is None:
                    continue  # not integrated yet: the leaves decide what is missing
                if found != value:
                    first_leaf = index << level
                    self.problem(
                        first_leaf,
                        "stored tree",
                        f"stored Merkle node (level {level}, index {index}) differs from the "
                        "one recomputed from the stored leaves: proofs from it would fail",
                    )

    def _check_root(self, size: int) -> None:
        expected = self.checkpoint_roots.get(size)
        if expected is not None and self.tree.root() != expected:
            self.problem(
                size - 1 if size else None,
                "checkpoint mismatch",
                f"the entries up to {size} do not hash to the root signed in checkpoint {size}",
            )

    def _check_coverage(self) -> None:
        latest = self.report.latest_checkpoint_size
        if latest is None:
            self.problem(None, "no checkpoint", "the log has no signed checkpoint")
            return
        if latest > self.report.entries:
            self.problem(
                self.report.entries,
                "missing entries",
                f"checkpoint {latest} covers more entries than the log holds "
                f"({self.report.entries})",
            )
        self.report.uncovered_entries = max(0, self.report.entries - latest)

    def _check_entry(self, position: int, notification: Any, data: bytes) -> None:
        try:
            entry = SignedEntry.from_entry_bytes(data)
            event = to_domain_event(entry)
        except (EntryFormatError, TypeError) as error:
            self.problem(position, "malformed entry", str(error))
            return
        body = entry.body
        if (
            notification.originator_id != body.aggregate_id
            or notification.originator_version != body.version
            or notification.topic != body.type
        ):
            self.problem(
                position,
                "altered columns",
                "the stored aggregate id, version or type disagree with the signed entry",
            )
        state = self.state.get(body.aggregate_id)
        version = 0 if state is None else state.version
        if body.version != version + 1:
            self.problem(
                position,
                "version sequence",
                f"aggregate {body.aggregate_id} goes from version {version} to {body.version} "
                "(an entry is missing, duplicated or out of order)",
            )
            return
        last = self.last_time.get(body.aggregate_id)
        if last is not None and body.timestamp < last:
            self.problem(
                position,
                "timestamp order",
                f"{body.timestamp.isoformat()} is earlier than {last.isoformat()}",
            )
        self.last_time[body.aggregate_id] = body.timestamp
        directory: Directory | None = self.state.get(DIRECTORY_ID)
        try:
            actor, public_key = self._signer(
                position, body.type, body.actor, body.key_id, body.payload, directory
            )
        except (DomainError, ValueError) as error:
            self.problem(position, "unknown signer", str(error))
            actor, public_key = None, None
        if public_key is not None:
            self.signatures.add(public_key, entry.signature, signed_message(data, entry), position)
        if actor is not None:
            plan: Plan | None = self.state.get(PLAN_ID)
            try:
                found = self.state.values()
                ctx = RuleContext(
                    actor,
                    directory,
                    plan,
                    lambda numbers: open_actions_among(found, numbers),
                    lambda action_id: self.state.get(action_aggregate_id(action_id)),
                )
                event.check(state, ctx)
                self.report.rules_checked += 1
            except DomainError as error:
                self.problem(position, "rule broken", f"{body.type} by {body.actor}: {error}")
        try:
            self.state[body.aggregate_id] = event.mutate(state)
        except Exception as error:  # an altered entry can make apply() fail in any way
            self.problem(position, "cannot apply", f"{body.type}: {error}")

    @staticmethod
    def _signer(
        position: int,
        type_name: str,
        user_id: str,
        key_id: str,
        payload: dict[str, Any],
        directory: Directory | None,
    ) -> tuple[Actor, bytes]:
        if type_name == GENESIS_TYPE:
            if position != 0:
                raise ValueError("a genesis entry appears after the start of the log")
            return Actor(user_id, Role.ADMIN, None), decode_public_key(str(payload["public_key"]))
        if directory is None:
            raise ValueError("the log does not start with a genesis entry")
        if type_name == CHARTER_TYPE:  # self-signed; its rule checks the key it names
            return Actor(user_id, Role.CHAIR, None), decode_public_key(str(payload["public_key"]))
        actor, key = directory.resolve(user_id, key_id)
        return actor, decode_public_key(key.public_key)


def verify_ledger(
    ledger: Ledger,
    log_key: VerifierKey | LogKeys,
    *,
    workers: int | None = None,
    max_problems: int = 100,
) -> VerificationReport:
    """Check everything; return a report whose `problems` name each bad entry.

    `log_key` is the pinned key, or the pinned keys placed by the log's rotations.
    `workers` > 1 (the default on a multi-core machine) verifies signatures on the
    process-wide pool of one worker process per core; 1 verifies them in this process."""
    if workers is None:
        workers = cores()
    return _Verifier(ledger, log_key, workers, max_problems).run()
