"""Keeps the as-of projection (projections/store.py) up to date with the log.

The projector reads the log from its own high-water mark, in log order, a page at a
time: each entry is applied to its aggregate with the domain's own `mutate` (the same
code the full replay runs), the shown part of the aggregate is serialised
(`projections.status.action_snapshot` / `plan_snapshot`), and a snapshot row is written
only if that text changed; an entry that changes an evidence item (it names the blob by
`sha256`: attached, withdrawn, erased, published, unpublished) also writes that item's
row (`projections.status.evidence_snapshot`), with the leaf of the entry that attached
the item and, while it is published, of the entry that published it (carried forward
from the item's previous row). The page's rows commit together with the
mark's move, so a crash loses at most an uncommitted page and a second projector
(another API worker) that raced us simply finds the mark moved and continues from there.

Aggregates are kept in memory between catch-ups (keyed by version, so a copy that
another process has overtaken is never used); after a restart each aggregate is
rebuilt once from the event store.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain import Action, Directory, Plan, Reminders
from ledger.auditor.entry import SignedEntry
from ledger.entry import to_domain_event
from projections.status import (
    PlanStatus,
    action_snapshot,
    evidence_snapshot,
    plan_snapshot,
    status_from_snapshots,
)
from projections.store import (
    AtCut,
    Batch,
    Change,
    EvidenceRow,
    NewAggregate,
    ProjectionTables,
    from_micros,
    to_micros,
)

if TYPE_CHECKING:
    from projections.port import LogReader

PAGE = 2000
log = logging.getLogger("inquiry_ledger.projections")


class ProjectionError(RuntimeError):
    """The log and the projection disagree in a way that catching up cannot repair."""


@dataclass
class _Shown:
    """The snapshot an aggregate's latest projected change points to."""

    version: int
    leaf: int | None
    text: str | None


def snapshot_text(aggregate: Any) -> tuple[str, str, str | None]:
    """(kind, name, snapshot JSON or None) of an aggregate."""
    if isinstance(aggregate, Action):
        return "action", aggregate.action_id, _dumps(action_snapshot(aggregate))
    if isinstance(aggregate, Plan):
        return "plan", "plan", _dumps(plan_snapshot(aggregate))
    if isinstance(aggregate, Directory):
        return "directory", "directory", None
    if isinstance(aggregate, Reminders):  # reminder records: no status of their own
        return "reminders", aggregate.agency, None
    # An aggregate type this version does not show: its entries still count in log sizes.
    return "other", type(aggregate).__name__, None


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class Projector:
    """One per Ledger object (see `projector_for`); safe to share between threads."""

    def __init__(self, ledger: LogReader, *, prefix: str = "asof", page: int = PAGE) -> None:
        self.tables = ProjectionTables(ledger.database, prefix=prefix)
        self.tables.create()
        self.page = page
        self._lock = threading.Lock()
        self._aggregates: dict[UUID, Any] = {}
        self._shown: dict[UUID, _Shown] = {}
        self._numbers: dict[str, tuple[int, str, str]] = {}

    # -- catching up ------------------------------------------------------------------

    def catch_up(self, ledger: LogReader, *, stop: threading.Event | None = None) -> int:
        """Project every integrated entry beyond the mark; return the new mark.

        One page per turn of the lock, so threads of one process share a long catch-up
        page by page; `stop` (checked between pages) ends a background catch-up early."""
        while True:
            with self._lock:
                mark = self.tables.high_water()
                size = ledger.tree_size()
                if mark >= size or (stop is not None and stop.is_set()):
                    return mark
                end = min(size, mark + self.page)
                try:
                    batch = self._project(ledger, mark, end)
                    committed = self.tables.commit(batch)
                except BaseException:
                    self._forget()  # memory may be ahead of the stored mark
                    raise
                if not committed:
                    # Another projector moved the mark first: what we hold in memory
                    # may be ahead of it. Start again from the stored state.
                    self._forget()

    def catch_up_in_background(self, ledger: LogReader) -> tuple[threading.Thread, threading.Event]:
        """Start catching up on a daemon thread (e.g. when a server starts, so the first
        request does not wait for a long log); set the event and join the thread to stop.
        Errors are logged, not raised: any query catches up again by itself."""
        stop = threading.Event()

        def run() -> None:
            try:
                self.catch_up(ledger, stop=stop)
            except Exception:
                log.exception("as-of projection: background catch-up failed")

        thread = threading.Thread(target=run, name="asof-catch-up", daemon=True)
        thread.start()
        return thread, stop

    def rebuild(self, ledger: LogReader) -> int:
        """Forget the projection and build it again from the first entry."""
        with self._lock:
            self.tables.reset()
            self._forget()
        return self.catch_up(ledger)

    def _forget(self) -> None:
        self._aggregates.clear()
        self._shown.clear()
        self._numbers.clear()

    def _project(self, ledger: LogReader, start: int, end: int) -> Batch:
        if not self._numbers:
            self._numbers = self.tables.aggregates()
        aggregates: list[NewAggregate] = []
        changes: list[Change] = []
        snapshots: list[tuple[int, int, str]] = []
        evidence: list[EvidenceRow] = []
        items: dict[tuple[str, int], tuple[int | None, int | None]] = {}  # this page's
        for leaf, data in _integrated_entries(ledger, start, end):
            event = to_domain_event(SignedEntry.from_entry_bytes(data))
            aggregate_id = event.originator_id
            key = str(aggregate_id)
            version = event.originator_version
            before = self._aggregate_before(ledger, aggregate_id, version)
            aggregate = event.mutate(before)
            self._aggregates[aggregate_id] = aggregate
            kind, name, text = snapshot_text(aggregate)
            if version == 1:
                agg = leaf
                self._numbers[key] = (agg, kind, name)
                aggregates.append(NewAggregate(agg, key, kind, name))
            else:
                agg = self._number(key)
            shown = self._shown_before(aggregate_id, agg, version)
            if text is not None and text != shown.text:
                snapshots.append((agg, leaf, text))
                shown = _Shown(version, leaf, text)
            else:
                shown = _Shown(version, shown.leaf, shown.text)
            self._shown[aggregate_id] = shown
            ts = to_micros(event.timestamp)
            changes.append(Change(agg, leaf, ts, version, shown.leaf))
            item = _evidence_item(aggregate, event)
            if item is not None:
                sha256: str = item["sha256"]
                before = items.get((sha256, agg))
                if before is None and not isinstance(event, Action.EvidenceAttached):
                    before = self.tables.item_leaves(sha256, agg, bound=start)
                attached, published = _item_leaves(event, leaf, item, before)
                items[(sha256, agg)] = (attached, published)
                row = EvidenceRow(sha256, agg, leaf, ts, _dumps(item), attached, published)
                evidence.append(row)
        return Batch(start, end, aggregates, changes, snapshots, evidence)

    def _aggregate_before(self, ledger: LogReader, aggregate_id: UUID, version: int) -> Any:
        """The aggregate at `version - 1` (None before its first entry)."""
        if version == 1:
            return None
        cached = self._aggregates.get(aggregate_id)
        if cached is not None and cached.version == version - 1:
            return cached
        aggregate: Any = None
        for stored in ledger.events_of(aggregate_id, last_version=version - 1):
            aggregate = stored.mutate(aggregate)
        if aggregate is None or aggregate.version != version - 1:
            raise ProjectionError(f"aggregate {aggregate_id} has no version {version - 1}")
        return aggregate

    def _number(self, key: str) -> int:
        found = self._numbers.get(key)
        if found is None:  # created by another projector since we last looked
            self._numbers = self.tables.aggregates()
            found = self._numbers.get(key)
        if found is None:
            raise ProjectionError(f"aggregate {key} is not in the projection")
        return found[0]

    def _shown_before(self, aggregate_id: UUID, agg: int, version: int) -> _Shown:
        if version == 1:
            return _Shown(0, None, None)
        cached = self._shown.get(aggregate_id)
        if cached is not None and cached.version == version - 1:
            return cached
        stored = self.tables.latest_snapshot(agg)
        if stored is None:
            return _Shown(version - 1, None, None)
        return _Shown(version - 1, stored[0], stored[1])

    # -- answering ----------------------------------------------------------------------

    def cut(
        self, ledger: LogReader, *, as_of: datetime | None, position: int | None
    ) -> tuple[int, list[AtCut]]:
        """(bound, every aggregate inside the cut), after catching up."""
        mark = self.catch_up(ledger)
        bound = mark if position is None else min(position, mark)
        ts = None if as_of is None else to_micros(as_of)
        return bound, self.tables.at_cut(bound=bound, ts=ts)

    def status(
        self,
        ledger: LogReader,
        *,
        as_of: datetime | None,
        position: int | None,
        today: date,
        label: str,
    ) -> PlanStatus:
        _, rows = self.cut(ledger, as_of=as_of, position=position)
        return status_of_cut(rows, today=today, label=label)


def status_of_cut(rows: list[AtCut], *, today: date, label: str) -> PlanStatus:
    """The status from the aggregates inside a cut (`Projector.cut`)."""
    plan: dict[str, Any] | None = None
    actions: list[tuple[dict[str, Any], str]] = []
    size = 0
    for row in rows:
        size += row.version
        if row.state is None:
            continue
        if row.kind == "plan":
            plan = json.loads(row.state)
        elif row.kind == "action":
            actions.append((json.loads(row.state), from_micros(row.ts).isoformat()))
    return status_from_snapshots(plan, actions, log_size=size, as_of=label, today=today)


def _evidence_item(aggregate: Any, event: Any) -> dict[str, Any] | None:
    """The evidence item an action's entry changed, as it stands after it, or None.

    Every action event that changes an item names its blob by `sha256` (attached,
    withdrawn, erased); a sign-off names a list of hashes and changes no item."""
    named = getattr(event, "sha256", None)
    if not isinstance(aggregate, Action) or not isinstance(named, str):
        return None
    found = aggregate.evidence.get(named)
    return None if found is None else evidence_snapshot(found)


def _item_leaves(
    event: Any, leaf: int, item: dict[str, Any], before: tuple[int | None, int | None] | None
) -> tuple[int | None, int | None]:
    """(attached, published) of an evidence item after the entry at `leaf`: an attachment
    starts the item afresh, a publication records its own leaf, and any other entry keeps
    what the item's previous row (`before`) held, the publication only while it lasts."""
    if isinstance(event, Action.EvidenceAttached):
        return leaf, None
    attached, published = before if before is not None else (None, None)
    if item["published_at"] is None:
        return attached, None
    return attached, leaf if isinstance(event, Action.EvidencePublished) else published


def _integrated_entries(ledger: LogReader, start: int, end: int) -> list[tuple[int, bytes]]:
    """(leaf index, entry bytes) for leaves start..end-1, read by leaf position (the log
    maps each leaf to its stored entry) rather than by counting from the start."""
    found = ledger.leaf_entries(start, end)
    if [leaf for leaf, _ in found] != list(range(start, end)):
        raise ProjectionError(
            f"leaves {start}..{end - 1} are not all in the Merkle tree and the event store"
        )
    return found


_PROJECTORS: weakref.WeakKeyDictionary[Any, Projector] = weakref.WeakKeyDictionary()
_PROJECTORS_LOCK = threading.Lock()


def projector_for(ledger: LogReader) -> Projector:
    """The projector of this Ledger object (created, with its tables, on first use)."""
    with _PROJECTORS_LOCK:
        found = _PROJECTORS.get(ledger)
        if found is None:
            found = Projector(ledger)
            _PROJECTORS[ledger] = found
        return found
