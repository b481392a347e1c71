"""The ledger: verify a signed entry, check its rule, append it, integrate it into the tree.

Appending is one critical section under a global append lock:

1. integrate anything recorded but not yet in the Merkle tree (after a crash);
2. for each entry: parse it strictly, check the clock, resolve the signer's key in
   the directory *as it stands now*, queue its Ed25519 signature check (worker
   processes verify while this process goes on, ledger/sigpool.py), check the domain
   rule for the signer's registered role and agency, and apply it; then wait for
   every signature verdict (the first bad one refuses the whole batch);
3. record all entries in one eventsourcing transaction (in the order given);
4. integrate them: each recorded event, in notification order, becomes the next
   leaf (dense leaf indexes; PostgreSQL notification ids may have gaps).

The lock makes "checked against the directory" and "recorded after it in the log"
the same moment, so a key revoked by a concurrent writer can never be accepted after
its revocation in log order; eventsourcing's (originator_id, version) uniqueness is
still the last word on concurrent writes to one aggregate.

Longer than 500 lines because the append path, crash recovery of the tree, checkpoints and
proofs share one lock, one directory cache and one tree cache that must be dropped
together when another writer moves the tree; split across modules, "forget every cache
when the tree moved" would have to be kept in step by hand. What does not share them
lives elsewhere (storage.py, merkle.py, sigpool.py, auditor/).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Mapper, Notification, Recording

from domain import (
    DIRECTORY_ID,
    PLAN_ID,
    Action,
    Actor,
    Challenge,
    Directory,
    DomainError,
    Plan,
    Role,
    RuleContext,
    action_aggregate_id,
    challenge_aggregate_id,
)
from domain.events import SignedEvent
from domain.plan_changes import open_actions_among
from ledger import merkle
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.dating import GRACE
from ledger.auditor.ed25519 import decode_public_key
from ledger.auditor.entry import EntryFormatError, EventBody, SignedEntry, entry_bytes_from_body
from ledger.auditor.limits import MAX_LINE
from ledger.auditor.merkle import CompactRange, ProofError, leaf_hash
from ledger.auditor.note import NoteSigner
from ledger.auditor.pqkey import PQBinding
from ledger.config import LedgerConfig
from ledger.entry import to_domain_event
from ledger.errors import (
    ClockSkew,
    CosignedTooLate,
    InvalidEntry,
    LedgerError,
    MissingEvidence,
    NotInitialised,
    SignatureRejected,
    VersionConflict,
    WrongLogKey,
)
from ledger.group_commit import GroupCommit, Pending
from ledger.locks import FileAppendLock, PostgresAppendLock
from ledger.mapper import SignedEntryMapper
from ledger.pqkeys import HeldPQKey, pq_binding
from ledger.sigpool import SignatureBatch, cores, shared_pool
from ledger.storage import LedgerTables, StoredCheckpoint
from ledger.timestamps import NextEntry, TimestampRule, floor, witness_floor, witnessed_moment

GENESIS_TYPE = Directory.Created.TYPE
CHARTER_TYPE = Directory.CharterAdopted.TYPE
INTEGRATION_PAGE = 1000

#: A registered key's raw bytes, decoded once per key rather than once per entry.
_raw_public_key = functools.lru_cache(maxsize=4096)(decode_public_key)


def utc_now() -> datetime:
    return datetime.now(UTC)


def next_entry_of(aggregate: Any | None, witnessed: datetime | None) -> NextEntry:
    """What the entry after `aggregate` as it stands must say (ledger/timestamps.py)."""
    if aggregate is None:
        return NextEntry(1, None, witnessed)
    previous: datetime = aggregate.modified_on
    return NextEntry(int(aggregate.version) + 1, previous, floor(previous, witnessed))


def _moment_or_none(seconds: int | None) -> datetime | None:
    return None if seconds is None else witnessed_moment(seconds)


class BlobIndex(Protocol):
    """What the ledger asks of an evidence store: is this blob there, and how big is it."""

    def blob_size(self, sha256: str) -> int | None: ...


class LedgerApplication(Application[UUID]):
    """eventsourcing application whose stored events are signed entries."""

    name = "InquiryLedger"

    def construct_mapper(self) -> Mapper[UUID]:
        return SignedEntryMapper()

    def record(
        self, events: Sequence[SignedEvent], stored: Sequence[bytes]
    ) -> list[Recording[UUID]]:
        """Record checked events in one transaction, with the entry bytes already made.

        What `save()` does for events (no snapshots, no cache writes with fast-forward),
        without its per-object runtime-Protocol check (27 us an event, a tenth of an
        append) and without re-canonicalising each entry in the mapper: `stored[i]` is
        the canonical entry of `events[i]`, made from the very bytes whose signature
        was verified."""
        mapper = cast(SignedEntryMapper, self.mapper)
        with mapper.prepared(zip(events, stored, strict=True)):
            return self.events.put(events)


@dataclass(frozen=True)
class Appended:
    leaf_index: int
    notification_id: int
    type: str
    aggregate_id: UUID
    version: int


@dataclass
class GroupSignatures:
    """The signatures of a whole group in one batch, and the entry of each, in order."""

    batch: SignatureBatch
    signed: list[SignedEntry]

    def failed_in(self, ranges: Sequence[range]) -> bool:
        """Wait for every verdict: does any signature in these positions fail?"""
        try:
            failed = self.batch.failures()
        except BaseException:
            self.batch.abandon()
            raise
        return any(tag in span for tag in failed for span in ranges)


def _appended(recording: Recording[UUID], leaves: dict[int, int]) -> Appended:
    event = cast(SignedEvent, recording.domain_event)
    return Appended(
        leaves[recording.notification.id],
        recording.notification.id,
        type(event).TYPE,
        event.originator_id,
        event.originator_version,
    )


class Ledger:
    def __init__(
        self,
        config: LedgerConfig,
        *,
        clock: Callable[[], datetime] = utc_now,
        evidence: BlobIndex | None = None,
    ) -> None:
        self.config = config
        self.evidence = evidence
        self.clock = clock
        self.timestamps = TimestampRule(config.max_forward_skew, config.max_backward_skew)
        if not config.uses_postgres:
            # Only its owner reads the ledger's folder and database: they hold every
            # entry, and the folder the log key (issue 17).
            config.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock: FileAppendLock | PostgresAppendLock
        if config.database_url is not None:
            self._lock = PostgresAppendLock(config.database_url, config.db_timeouts)
        else:
            self._lock = FileAppendLock(config.home / "append.lock")
        # Under the append lock: processes starting together on one new database
        # (`serve --workers N`) would otherwise race to create the event store's table.
        with self._lock.hold():
            self.app = LedgerApplication(env=config.eventsourcing_env())
            datastore = cast(Any, self.app.factory).datastore
            self.tables = LedgerTables(datastore, postgres=config.uses_postgres)
            self.tables.create()
        if not config.uses_postgres and config.sqlite_path.exists():
            config.sqlite_path.chmod(0o600)  # SQLite gives its -wal and -shm files this mode
        self._compact: CompactRange | None = None
        self._tree_state: tuple[int, int] | None = None
        # Aggregates as they stand at the last integrated entry, kept between appends so a
        # batch does not re-read and re-parse what this process just wrote. Touched only
        # under the append lock; any entry integrated from another writer evicts its
        # aggregate, so a stale copy can never be used.
        self._fresh: dict[UUID, Any] = {}
        self._origin: str | None = None
        self._directory: Directory | None = None  # see `directory`
        self._pq_binding: PQBinding | None = None  # see `checkpoint_signer`
        self._pq_key = HeldPQKey(config)
        # The newest time a witness cosigned a checkpoint at: no entry appended from now
        # on may be dated before it. Re-read with the tree state before every batch, so
        # the append path asks nothing more per entry (ledger/timestamps.py).
        self._witnessed = _moment_or_none(self.tables.log_state()[2])
        self._finish: Callable[[list[list[Appended]]], list[list[Appended]]] | None = None
        self._group: GroupCommit[list[SignedEntry], list[Appended]] = GroupCommit(
            self._append_group,
            max_items=len,
            max_group_items=self.GROUP_ENTRIES,
            after=self._finish_group,
        )

    @property
    def witnessed(self) -> datetime | None:
        """The newest time a witness cosigned a checkpoint of this log at, if any."""
        return self._witnessed

    @property
    def max_clock_skew(self) -> timedelta:
        """How long a prepared body stays recordable: the backward bound (the off-page
        signing window shown to users)."""
        return self.timestamps.backward

    def close(self) -> None:
        if isinstance(self._lock, PostgresAppendLock):
            self._lock.close()
        self.app.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append_lock(self) -> AbstractContextManager[None]:
        return self._lock.hold()

    # -- reading aggregates ------------------------------------------------------------

    def get(self, aggregate_id: UUID) -> Any | None:
        try:
            return self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def directory(self) -> Directory | None:
        """The directory as it stands, shared read-only between callers: rebuilt from
        its events only when its version moved. Every request asks for it (who is the
        token's user, with which role), and rebuilding it each time cost more than the
        append itself, growing with the users registered (issue 18); its version is one
        indexed read of its latest event. Never change the object returned."""
        latest = self.app.recorder.select_events(DIRECTORY_ID, desc=True, limit=1)
        if not latest:
            return None
        cached = self._directory
        if cached is not None and cached.version == latest[0].originator_version:
            return cached
        found = cast(Directory | None, self.get(DIRECTORY_ID))
        self._directory = found
        return found

    def plan(self) -> Plan | None:
        return cast(Plan | None, self.get(PLAN_ID))

    def action(self, action_id: str) -> Action | None:
        return cast(Action | None, self.get(action_aggregate_id(action_id)))

    def version_of(self, aggregate_id: UUID) -> int:
        aggregate = self.get(aggregate_id)
        return 0 if aggregate is None else int(aggregate.version)

    def next_entry(self, aggregate_id: UUID) -> NextEntry:
        """The next entry's version and the earliest timestamp it may carry: a signer
        dates it max(now, not_before), which this ledger accepts however far the
        previous entry was dated ahead (ledger/timestamps.py)."""
        return next_entry_of(self.get(aggregate_id), witness_floor(self._witnessed))

    def require_directory(self) -> Directory:
        directory = self.directory()
        if directory is None:
            raise NotInitialised("this ledger has not been initialised; run: inquiry-ledger init")
        return directory

    def role_of(self, user_id: str) -> Role | None:
        directory = self.directory()
        user = directory.users.get(user_id) if directory else None
        return None if user is None else user.role

    def origin(self) -> str:
        """The log's origin, which its genesis entry fixes for good: read once, as reading
        the directory copies it whole (a receipt would otherwise spend most of its time)."""
        if self._origin is None:
            self._origin = self.require_directory().origin
        return self._origin

    def aggregate_events(self, aggregate_id: UUID) -> list[SignedEvent]:
        return list(self.events_of(aggregate_id))

    def events_of(
        self, aggregate_id: UUID, *, first_version: int = 1, last_version: int | None = None
    ) -> Iterator[SignedEvent]:
        """The aggregate's events first_version..last_version (to its latest if None), in
        version order: one query, each event parsed as it is iterated."""
        events = self.app.events.get(
            aggregate_id, gt=first_version - 1 if first_version > 1 else None, lte=last_version
        )
        return cast(Iterator[SignedEvent], events)

    # -- appending ---------------------------------------------------------------------

    def append(self, entries: Sequence[SignedEntry]) -> list[Appended]:
        """Verify and append signed entries atomically, in the order given.

        Concurrent calls are written together (ledger/group_commit.py): one lock hold and
        one transaction for every request queued at that moment, each request checked
        against the state the accepted ones before it leave, and answered (or refused)
        on its own."""
        if not entries:
            return []
        # Outside the lock: a stored blob is never removed by the product (and Object
        # Lock stops everyone else), so a blob present now is present at append, and
        # the store's network round trip does not serialise every other writer.
        for entry in entries:
            if entry.body.type == Action.EvidenceAttached.TYPE:
                self._check_blob(entry.body.payload)
        return self._group.submit(list(entries))

    def finish_each_group(
        self, finish: Callable[[list[list[Appended]]], list[list[Appended]]] | None
    ) -> None:
        """Have `finish` turn the results of each group of appends (one list per accepted
        request, in order) into what `append` returns to each (a subclass of Appended),
        before its requests are answered: outside the append lock, while the next group
        is written, by the thread that wrote it. The HTTP server's receipts (api/
        application/checkpoints.py `ServerReceipts.attach`): one batch for a whole group,
        signed before its waiters wake, rather than each waiter waking to queue for one
        again (a second hand-off between threads per request, issue 18). If `finish`
        raises, the results are returned as they are. None: no longer."""
        self._finish = finish

    def _finish_group(self, group: Sequence[Pending[list[SignedEntry], list[Appended]]]) -> None:
        finish = self._finish
        accepted = [p for p in group if p.error is None and p.result is not None]
        if finish is None or not accepted:
            return
        try:
            finished = finish([cast(list[Appended], p.result) for p in accepted])
        except Exception:  # appended all the same: the caller has its plain results
            return
        if len(finished) == len(accepted):
            for pending, results in zip(accepted, finished, strict=True):
                pending.result = results

    def _append_group(self, group: Sequence[Pending[list[SignedEntry], list[Appended]]]) -> None:
        """Write one group (see `append`); settle every request in it."""
        with self.append_lock():
            retry_alone = self._write_group(group)
        for pending in retry_alone:  # outside the lock: each takes it again
            self._append_group([pending])

    def _group_signatures(
        self, group: Sequence[Pending[list[SignedEntry], list[Appended]]]
    ) -> GroupSignatures | None:
        """One batch for the signatures of a group of several requests, when they are
        enough to be worth the process pool: small requests (one entry each, as most
        are) then use the other cores too, instead of being verified one by one here."""
        total = sum(len(pending.item) for pending in group)
        if len(group) < 2 or total < self.PARALLEL_SIGNATURES or shared_pool() is None:
            return None
        return GroupSignatures(self._signature_batch(total), [])

    def _write_group(
        self, group: Sequence[Pending[list[SignedEntry], list[Appended]]]
    ) -> list[Pending[list[SignedEntry], list[Appended]]]:
        """Check, record and integrate the group under the append lock; return the
        requests to write again one by one (a group whose insert hit a conflict)."""
        self._integrate()
        state: dict[UUID, Any] = {}  # aggregates as the accepted requests leave them
        accepted: list[tuple[Pending[list[SignedEntry], list[Appended]], int]] = []
        events: list[SignedEvent] = []
        stored: list[bytes] = []
        signatures = self._group_signatures(group)
        trusted: list[range] = []  # the signatures the accepted requests stand on
        for pending in group:
            start = len(signatures.signed) if signatures is not None else 0
            try:
                checked, made, touched = self._check_all(pending.item, state, signatures)
            except Exception as error:  # this request's own refusal; its neighbours go on
                pending.fail(error)
                continue
            state.update(touched)
            accepted.append((pending, len(checked)))
            trusted.append(range(start, start + len(checked)))
            events.extend(checked)
            stored.extend(made)
        if signatures is not None and signatures.failed_in(trusted):
            # A request was accepted on a signature that does not verify, and those after
            # it were checked against the state it left: nothing is recorded, and each
            # request is checked again alone (its own signatures, its own answer).
            self._fresh.clear()
            for pending in group:
                pending.reopen()
            return list(group)
        if not accepted:
            self._remember(state)
            return []
        try:
            recordings = self.app.record(events, stored)
        except IntegrityError:
            # A writer outside this lock took a version first. Nothing of the group was
            # written (one transaction); alone, each request gets its own answer.
            self._fresh.clear()
            if len(accepted) > 1:
                return [pending for pending, _ in accepted]
            body = accepted[0][0].item[0].body
            accepted[0][0].fail(
                VersionConflict(
                    body.aggregate_id,
                    self.version_of(body.aggregate_id),
                    "another entry was appended to the same aggregate first; re-read and re-sign",
                )
            )
            return []
        own = {recording.notification.id for recording in recordings}
        # Still under the lock that the first _integrate() ran under: the tree state it
        # left is current, so it need not be read back from the database.
        recorded = [recording.notification for recording in recordings]
        leaves = dict(self._integrate(own, state_is_current=True, recorded=recorded))
        self._remember(state)
        at = 0
        for pending, count in accepted:
            pending.succeed([_appended(r, leaves) for r in recordings[at : at + count]])
            at += count
        return []

    FRESH_LIMIT = 10_000
    #: A group's bound in entries: a large import still goes in alone, as one batch.
    GROUP_ENTRIES = 4096

    def _remember(self, aggregates: dict[UUID, Any]) -> None:
        for aggregate_id, aggregate in aggregates.items():
            self._fresh.pop(aggregate_id, None)
            if aggregate is not None:
                self._fresh[aggregate_id] = aggregate
        while len(self._fresh) > self.FRESH_LIMIT:
            self._fresh.pop(next(iter(self._fresh)))

    def _check_all(
        self,
        entries: Sequence[SignedEntry],
        base: dict[UUID, Any] | None = None,
        group: GroupSignatures | None = None,
    ) -> tuple[list[SignedEvent], list[bytes], dict[UUID, Any]]:
        """Check every entry against the state the entries before it leave behind.

        Returns the events, each one's canonical entry bytes (what will be stored), and
        every aggregate the batch touched, as the batch leaves them (a refused batch
        leaves nothing changed that anyone else can see). Signatures are verified by
        worker processes, a chunk at a time, while this process checks the rules of the
        entries that follow; nothing is returned before every verdict is in.

        `base` holds the aggregates as the requests accepted before this one in a group
        leave them: read, never changed (an aggregate this batch changes is copied from
        it first), so a refused batch leaves the group's state as it was.

        With `group`, the signatures go to the group's one batch and are not waited for
        here (unless the batch is refused: its own are checked first); the group's
        writer waits for every verdict before anything is recorded."""
        state: dict[UUID, Any] = {}
        shared = base if base is not None else {}

        def current(aggregate_id: UUID) -> Any:
            if aggregate_id in state:
                return state[aggregate_id]
            if aggregate_id in shared:
                return shared[aggregate_id]
            # Taken out of the fresh cache while the batch changes it: if the batch is
            # refused, it is simply not put back (and is re-read from the store later).
            fresh = self._fresh.pop(aggregate_id, None)
            state[aggregate_id] = fresh if fresh is not None else self.get(aggregate_id)
            return state[aggregate_id]

        def writable(aggregate_id: UUID) -> Any:
            if aggregate_id not in state and shared.get(aggregate_id) is not None:
                state[aggregate_id] = copy.deepcopy(shared[aggregate_id])  # copy on write
            return current(aggregate_id)

        def open_actions(numbers: Collection[int]) -> list[str]:
            """The open actions of these recommendations: every action stored, and any
            this batch or its group has added (only a recommendation's withdrawal or
            merge asks, so reading every action is rare)."""
            ids = set(self._action_ids()) | set(state) | set(shared)
            found = (state.get(i) or shared.get(i) or self.get(i) for i in ids)
            return open_actions_among(found, numbers)

        now = self.clock()
        events: list[SignedEvent] = []
        stored: list[bytes] = []
        if group is not None:
            signatures, signed = group.batch, group.signed
        else:
            signatures = self._signature_batch(len(entries))
            signed = []  # the entry of each signature, in order
        first = len(signed)  # this batch's signatures are signed[first:]
        try:
            for entry in entries:
                event, message = self._check_one(
                    entry, now, current, writable, state, signatures, signed, open_actions
                )
                made = entry_bytes_from_body(message, entry.signature)
                if len(made) > MAX_LINE:  # what the auditor reads as one bundle line
                    raise InvalidEntry(
                        f"the entry is {len(made)} bytes; at most {MAX_LINE} are accepted"
                    )
                events.append(event)
                stored.append(made)
        except (DomainError, LedgerError):
            # Report a bad signature before any other fault of the entries up to here,
            # so an unsigned entry is never answered with a rule evaluation.
            self._require_signatures(signatures, signed, since=first)
            raise
        except BaseException:
            if group is None:  # a group's batch is its writer's to abandon
                signatures.abandon()
            raise
        if group is None:
            self._require_signatures(signatures, signed)
        return events, stored, state

    def _signature_batch(self, entries: int) -> SignatureBatch:
        """A batch for `entries` signatures: on the process pool when there are enough
        to be worth a round trip, with chunks small enough that the workers start while
        this process is still checking rules, large enough that a round trip (~0.3 ms)
        stays cheap."""
        pool = shared_pool() if entries >= self.PARALLEL_SIGNATURES else None
        chunk = max(self.SIGNATURE_CHUNK, -(-entries // (2 * cores())))
        return SignatureBatch(pool, chunk=chunk if pool is not None else entries, expected=entries)

    def _check_one(
        self,
        entry: SignedEntry,
        now: datetime,
        current: Callable[[UUID], Any],
        writable: Callable[[UUID], Any],
        state: dict[UUID, Any],
        signatures: SignatureBatch,
        signed: list[SignedEntry],
        open_actions: Callable[[Collection[int]], list[str]] | None = None,
    ) -> tuple[SignedEvent, bytes]:
        """Check one entry (its signature is queued, not yet verified); return its event
        and the canonical bytes of its body (the signed message)."""
        body = entry.body
        try:
            event = to_domain_event(entry)
        except EntryFormatError as error:
            raise InvalidEntry(str(error)) from None
        except TypeError as error:
            raise InvalidEntry(f"{body.type}: {error}") from None
        self._check_origin(body, current(DIRECTORY_ID))
        aggregate = current(body.aggregate_id)
        current_version = 0 if aggregate is None else aggregate.version
        if body.version != current_version + 1:
            raise VersionConflict(body.aggregate_id, current_version)
        previous = None if aggregate is None else aggregate.modified_on
        self.timestamps.check(body.timestamp, now, previous, witness_floor(self._witnessed))
        directory = current(DIRECTORY_ID)
        actor, public_key = self._signer(entry, directory)
        try:
            message = body.signing_bytes()
        except EntryFormatError as error:
            raise InvalidEntry(str(error)) from None
        signatures.add(public_key, entry.signature, message)
        signed.append(entry)
        if isinstance(event, Directory.Event):
            self._check_public_keys(body.type, body.payload)
        ctx = RuleContext(
            actor=actor,
            directory=directory,
            plan=current(PLAN_ID),
            open_actions=open_actions,
            action=lambda action_id: current(action_aggregate_id(action_id)),
        )
        event.check(aggregate, ctx)
        self._check_aggregate_type(body.aggregate_id, event)
        state[body.aggregate_id] = event.mutate(writable(body.aggregate_id))
        return event, message

    def _action_ids(self) -> list[UUID]:
        """Every action's aggregate id, from the event store (each action's first entry)."""
        recorder = cast(Any, self.app.recorder)
        table = recorder.events_table_name
        if self.tables.postgres:
            schema = recorder.datastore.schema
            statement = f'SELECT originator_id FROM "{schema}"."{table}" WHERE topic = %s'
        else:
            statement = f"SELECT originator_id FROM {table} WHERE topic = ?"
        with self.tables.reading() as cursor:
            cursor.execute(statement, (Action.Added.TYPE,))
            rows = cursor.fetchall()
        return [UUID(str(row["originator_id"])) for row in rows]

    #: Payload members of the directory's events that carry a public key (genesis,
    #: charter, registration: public_key; rotation: new_public_key).
    KEY_MEMBERS = ("public_key", "new_public_key")

    @classmethod
    def _check_public_keys(cls, type_name: str, payload: dict[str, Any]) -> None:
        """Every key a directory event introduces is one the auditor accepts: canonical
        base64 of a canonical point, not of small order (ledger/auditor/ed25519.py; the
        identity key would let anyone sign as its holder). The domain, which cannot
        import the trusted base, checks only its length."""
        for name in cls.KEY_MEMBERS:
            if name in payload:
                try:
                    decode_public_key(payload[name])
                except ValueError as error:
                    raise InvalidEntry(f"{type_name} {name}: {error}") from None

    #: Batches at least this large verify their signatures on the process pool; below
    #: it a round trip to the workers costs more than it saves (one entry: ~60 us).
    PARALLEL_SIGNATURES = 64
    SIGNATURE_CHUNK = 16

    def _require_signatures(
        self, signatures: SignatureBatch, signed: list[SignedEntry], *, since: int = 0
    ) -> None:
        """Wait for every queued verdict; raise for the first entry from `since` on whose
        signature fails (those before it are another request's, in a group)."""
        failures = [tag for tag in signatures.failures() if tag >= since]
        if failures:
            body = signed[failures[0]].body
            raise SignatureRejected(
                f"signature by {body.actor} (key {body.key_id}) on {body.type} "
                f"v{body.version} does not verify"
            )

    @staticmethod
    def _check_origin(body: EventBody, directory: Directory | None) -> None:
        """An entry names the log it was signed for: this one (the genesis names the
        origin it founds). One signed for a training copy is refused here."""
        origin = directory.origin if directory is not None else body.payload.get("origin")
        if body.origin != origin:
            raise InvalidEntry(
                f"the entry was signed for the log {body.origin!r}, not this one ({origin!r})"
            )

    def _signer(self, entry: SignedEntry, directory: Directory | None) -> tuple[Actor, bytes]:
        body = entry.body
        if body.type == GENESIS_TYPE:
            if directory is not None or self.tables.tree_state()[0] != 0:
                raise InvalidEntry("only the first entry of an empty log may be the genesis")
            try:
                public_key = decode_public_key(str(body.payload.get("public_key")))
            except ValueError as error:
                raise InvalidEntry(f"genesis public key: {error}") from None
            return Actor(body.actor, Role.ADMIN, None), public_key
        if directory is None:
            raise NotInitialised("the ledger has no genesis entry yet; run: inquiry-ledger init")
        if body.type == CHARTER_TYPE:  # self-signed like the genesis; its rule checks the key
            try:
                public_key = decode_public_key(str(body.payload.get("public_key")))
            except ValueError as error:
                raise InvalidEntry(f"charter public key: {error}") from None
            return Actor(body.actor, Role.CHAIR, None), public_key
        actor, key = directory.resolve(body.actor, body.key_id)
        return actor, _raw_public_key(key.public_key)

    def _check_blob(self, payload: dict[str, Any]) -> None:
        """An evidence event may only name a blob that is stored, with the size it states:
        upload first, then append, so there is never an event without its blob."""
        if self.evidence is None:
            raise MissingEvidence("this ledger has no evidence store; evidence cannot be attached")
        sha256, size = payload.get("sha256"), payload.get("size")
        if not isinstance(sha256, str) or len(sha256) != 64:
            raise InvalidEntry("evidence_attached needs a sha256 of 64 hex digits")
        try:
            stored = self.evidence.blob_size(sha256)
        except ValueError as error:
            raise InvalidEntry(f"evidence_attached: {error}") from None
        if stored is None:
            raise MissingEvidence(
                f"evidence {sha256} is not in the evidence store; upload it first"
            )
        if stored != size:
            raise MissingEvidence(f"evidence {sha256} is {stored} bytes in the store, not {size}")

    @staticmethod
    def _check_aggregate_type(aggregate_id: UUID, event: SignedEvent) -> None:
        """Singletons live at their fixed ids; an action lives at the id of its name."""
        owner = type(event).__qualname__.split(".")[0]
        expected = {"Directory": DIRECTORY_ID, "Plan": PLAN_ID}.get(owner)
        if expected is not None and aggregate_id != expected:
            raise InvalidEntry(f"{type(event).TYPE} belongs to aggregate {expected}")
        if isinstance(event, Action.Added) and aggregate_id != action_aggregate_id(event.action_id):
            raise InvalidEntry(f"action {event.action_id} must use its derived aggregate id")
        if isinstance(event, Challenge.Raised) and aggregate_id != challenge_aggregate_id(
            event.challenge_id
        ):
            raise InvalidEntry(f"challenge {event.challenge_id} must use its derived aggregate id")
        if owner == "Action" and aggregate_id in (DIRECTORY_ID, PLAN_ID):
            raise InvalidEntry("an action event cannot target the directory or the plan")

    # -- the Merkle tree ---------------------------------------------------------------

    def integrate(self) -> int:
        """Bring the tree up to date with the event store; return the tree size."""
        with self.append_lock():
            self._integrate()
            return self.tree_size()

    def _integrate(
        self,
        own: set[int] | frozenset[int] = frozenset(),
        *,
        state_is_current: bool = False,
        recorded: Sequence[Notification] = (),
    ) -> list[tuple[int, int]]:
        """Append every recorded but unintegrated event to the tree, in notification order.

        Returns (notification id, leaf index) for each. Events not in `own` were written
        by another writer (or before a crash): their aggregates leave the fresh cache.
        `state_is_current` says the caller has held the append lock since this process
        last integrated, so the remembered tree state is the stored one (one round trip
        fewer per append; any other writer integrates under the same lock).

        `recorded` are the notifications this process has just recorded, with the bytes
        it stored. If their ids are exactly the ones after the last leaf, they *are* the
        next page of the log and it need not be read back (a tenth of an append); any
        gap (another writer, ids a rolled-back insert consumed) means reading it."""
        integrated: list[tuple[int, int]] = []
        if state_is_current and self._tree_state is not None:
            size, last_notification = self._tree_state
        else:
            size, last_notification, witnessed = self.tables.log_state()
            self._witnessed = _moment_or_none(witnessed)
            if (size, last_notification) != self._tree_state:
                # Another writer appended and integrated since this process last did: the
                # loop below never sees its entries (see `_forget_integrated_elsewhere`).
                self._forget_integrated_elsewhere(self._tree_state, (size, last_notification))
        compact = self._compact
        if compact is None or compact.size != size:
            compact = merkle.load_compact_range(size, self.tables)
        next_page: Sequence[Notification] | None = None
        if state_is_current and recorded:
            ids = [notification.id for notification in recorded]
            if ids == list(range(last_notification + 1, last_notification + 1 + len(ids))):
                next_page = recorded
        while True:
            page: Sequence[Notification]
            if next_page is not None:
                page, next_page = next_page, None
            else:
                page = self.app.recorder.select_notifications(
                    start=last_notification + 1, limit=INTEGRATION_PAGE
                )
            if not page:
                break
            leaves: list[tuple[int, int]] = []
            nodes: list[tuple[int, int, bytes]] = []
            for notification in page:
                leaves.append((compact.size, notification.id))
                integrated.append((notification.id, compact.size))
                nodes.extend(compact.append(leaf_hash(bytes(notification.state))))
                if notification.id not in own:
                    self._fresh.pop(cast(UUID, notification.originator_id), None)
            self.tables.store_integration(size, leaves, nodes)
            size = compact.size
            last_notification = page[-1].id
            if len(page) < INTEGRATION_PAGE:
                break  # a short page is the end of the log: no need to ask again
        self._compact = compact
        self._tree_state = (size, last_notification)
        return integrated

    def _forget_integrated_elsewhere(
        self, known: tuple[int, int] | None, stored: tuple[int, int]
    ) -> None:
        """Evict from the fresh cache every aggregate that an entry another writer recorded
        and integrated since this process's tree state `known` touched: the entries with
        notification ids after the last one this process integrated, up to the last leaf's
        in the `stored` tree state (a key it revoked would otherwise still sign here; tests/
        reliability/test_key_drill.py). Any gap in what can be read (a tree that is not
        an extension of `known`, more entries than a page) clears the whole cache.

        Only those, not the whole cache: with `serve --workers N` every group of one
        worker follows one of another's, and re-reading every aggregate it touched (the
        directory with all its history first) was a third of an HTTP append (issue 18)."""
        if not self._fresh:
            return
        if known is None or stored[0] <= known[0] or stored[1] <= known[1]:
            self._fresh.clear()
            return
        foreign = self.app.recorder.select_notifications(
            start=known[1] + 1, stop=stored[1], limit=INTEGRATION_PAGE
        )
        if len(foreign) >= INTEGRATION_PAGE or len(foreign) < stored[0] - known[0]:
            self._fresh.clear()
            return
        for notification in foreign:
            self._fresh.pop(cast(UUID, notification.originator_id), None)

    def tree_size(self) -> int:
        return self.tables.tree_state()[0]

    def root_hash(self, size: int | None = None) -> bytes:
        size = self.tree_size() if size is None else size
        return merkle.tree_hash(size, self.tables)

    def inclusion_proof(self, leaf_index: int, tree_size: int) -> list[bytes]:
        self._require_size(tree_size)
        return merkle.inclusion_proof(leaf_index, tree_size, self.tables)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        self._require_size(new_size)
        return merkle.consistency_proof(old_size, new_size, self.tables)

    def _require_size(self, size: int) -> None:
        if size > self.tree_size():
            raise ProofError(f"the tree has {self.tree_size()} leaves, not {size}")

    def entries(self, start: int = 0, page_size: int = 1000) -> Iterator[tuple[int, bytes]]:
        """(leaf index, stored entry bytes) in log order, from the event store itself."""
        leaf_index = 0
        next_id: int | None = None
        while True:
            page = self.app.recorder.select_notifications(start=next_id, limit=page_size)
            if not page:
                return
            for notification in page:
                if leaf_index >= start:
                    yield leaf_index, bytes(notification.state)
                leaf_index += 1
            next_id = page[-1].id + 1

    def leaf_entries(self, start: int, end: int) -> list[tuple[int, bytes]]:
        """(leaf index, stored entry bytes) of the integrated leaves start..end-1, in order:
        the leaf table maps each leaf to its notification id, and the event store is read
        by that id range (two indexed reads, whatever the log's length). Stops short at
        the first leaf that is missing or whose event is not the one the tree names."""
        leaves = self.tables.leaf_notifications(start, end)
        if not leaves:
            return []
        notifications = self.app.recorder.select_notifications(
            start=leaves[0][1], limit=len(leaves), stop=leaves[-1][1]
        )
        found: list[tuple[int, bytes]] = []
        for (leaf, notification_id), notification in zip(leaves, notifications, strict=False):
            if leaf != start + len(found) or notification.id != notification_id:
                break
            found.append((leaf, bytes(notification.state)))
        return found

    @property
    def database(self) -> LedgerTables:
        """The log's database, for tables kept beside the log (projections.port): its
        dialect, `reading()` and `transaction()`. Not the Ledger itself, so a holder of
        it (a projector, cached per Ledger) does not keep the Ledger alive."""
        return self.tables

    @property
    def events_table(self) -> str:
        """The event store's table (eventsourcing names it per backend and application)."""
        return str(cast(Any, self.app.recorder).events_table_name)

    # -- checkpoints -------------------------------------------------------------------

    def sign_checkpoint(self, signer: NoteSigner) -> StoredCheckpoint:
        """Sign (origin, size, root) for the current tree; reuse one already made for that size."""
        with self.append_lock():
            self._integrate()
            size = self.tree_size()
            latest = self.tables.latest_checkpoint()
            if latest is not None and latest.tree_size == size:
                return latest
            origin = self.require_log_signer(signer)
            assert self._compact is not None
            root = self._compact.root()
            note = Checkpoint(origin, size, root).sign(self.checkpoint_signer(signer))
            stored = StoredCheckpoint(size, root, note, self.clock().isoformat())
            self.tables.insert_checkpoint(stored)
            return stored

    def require_log_signer(self, signer: NoteSigner) -> str:
        """The log's origin, if `signer` is the log key this ledger names: never another
        log's key, nor one a rotation retired (ledger/logkeys.py). Checkpoints that are
        not stored (receipts, ledger/receipt.py) are held to the same rule."""
        origin = self.origin()
        if signer.name != origin:
            raise ValueError(f"the log key is named {signer.name}, the log is {origin}")
        named = self.tables.get_meta("log_vkey")
        if named is not None and named.strip() != signer.verifier.encode():
            raise WrongLogKey(
                "this is not the log key the ledger names (was it rotated? see "
                "inquiry-ledger log-key rotate); no checkpoint signed"
            )
        return origin

    def checkpoint_signer(self, signer: NoteSigner) -> NoteSigner:
        """`signer` (the Ed25519 log key) with the post-quantum log key's line added when
        the ledger has one (ledger/pqkeys.py): every checkpoint it signs, stored or in a
        receipt, then carries both. WrongLogKey if the ledger has one and this side cannot
        read it, rather than sign with Ed25519 alone.

        The statement naming the key is read until found, then kept: once recorded it is
        never replaced. A statement recorded meanwhile by another process names a tree no
        smaller than any this one read before (it is made under the append lock), and only
        checkpoints larger than it must carry the line (ledger/auditor/pqkey.py)."""
        if self._pq_binding is None:
            self._pq_binding = pq_binding(self.tables)
        if self._pq_binding is None:
            return signer
        return replace(signer, also=(self._pq_key.signer(self._pq_binding),))

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        return self.tables.latest_checkpoint()

    def record_cosignature(self, tree_size: int, witness_key: str, line: str, at: int) -> None:
        """Store a witness's cosignature (already verified) of the checkpoint of
        `tree_size`, made at `at` (seconds, the witness's clock).

        From then on no entry may be dated before `at` (ledger/timestamps.py), and the
        auditor reports any entry at or after a witnessed checkpoint that is
        (ledger/auditor/dating.py). So it is refused if it would make either untrue or
        block the log: a time beyond the forward bound of the ledger's clock (every
        signer would have to wait for it), or a checkpoint the log has since grown past
        with an entry dated before `at` (cosign a checkpoint that covers it)."""
        moment = witnessed_moment(at)
        with self.append_lock():
            self._integrate()
            now = self.clock()
            if moment > now + self.timestamps.forward:
                raise ClockSkew(
                    f"the cosignature's time {moment.isoformat()} is ahead of the ledger's "
                    f"clock {now.isoformat()} by more than {self.timestamps.forward}: "
                    "check the witness's clock"
                )
            earliest = witness_floor(moment)
            assert earliest is not None
            for leaf_index, stamp in self._timestamps_from(tree_size):
                if stamp < earliest:
                    raise CosignedTooLate(
                        f"entry {leaf_index}, after the checkpoint of size {tree_size}, is "
                        f"dated {stamp.isoformat()}, more than {GRACE} before this "
                        f"cosignature's time {moment.isoformat()}: cosign a checkpoint that "
                        "covers it (an administrator signs a new one)"
                    )
            self.tables.insert_cosignature(tree_size, witness_key, line, at)
            if self._witnessed is None or moment > self._witnessed:
                self._witnessed = moment

    def _timestamps_from(self, start: int) -> Iterator[tuple[int, datetime]]:
        """(leaf index, timestamp) of every integrated entry from `start` on, a page at a
        time (stops being read as soon as the caller stops)."""
        size = self.tree_size()
        while start < size:
            page = self.leaf_entries(start, min(size, start + INTEGRATION_PAGE))
            if not page:
                return
            for leaf_index, data in page:
                yield leaf_index, SignedEntry.from_entry_bytes(data).body.timestamp
            start = page[-1][0] + 1
