"""The reference replay: aggregates rebuilt from log entries through the domain, in log
order, applying events without re-checking rules (the ledger checked them on append and
`verify` checks them again). Every status the indexed projection answers must equal the
status built from this; an "as occurred" view (domain/backfill.py) is built from it
directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.backfill import valid_time
from domain.events import SignedEvent
from ledger.auditor.entry import SignedEntry
from ledger.entry import to_domain_event


class Replay:
    """Aggregates rebuilt from log entries, in log order."""

    def __init__(self) -> None:
        self.aggregates: dict[UUID, Any] = {}
        self.size = 0
        self.last_timestamp: datetime | None = None
        self._left_out: set[UUID] = set()  # aggregates whose creation a cut left out

    def feed(
        self,
        entries: Iterable[tuple[int, bytes]],
        *,
        until_position: int | None = None,
        until_time: datetime | None = None,
        occurred_by: datetime | None = None,
    ) -> Replay:
        """Apply the entries recorded before `until_position` and at or before
        `until_time` (a record-time cut: a prefix of every aggregate's history); with
        `occurred_by`, only those whose valid time (domain/backfill.py) is at or before
        it, what had happened by then as the record now tells it."""
        for position, data in entries:
            if until_position is not None and position >= until_position:
                break
            event = to_domain_event(SignedEntry.from_entry_bytes(data))
            if until_time is not None and event.timestamp > until_time:
                continue
            if occurred_by is not None:
                happened = valid_time(event.TYPE, event.payload(), event.timestamp)
                if happened is not None and happened > occurred_by:
                    self._leave_out(event)
                    continue
            self.apply(event)
        return self

    def _leave_out(self, event: SignedEvent) -> None:
        """A valid-time cut is not a prefix of an aggregate's history (a fact backfilled
        later may predate a live entry recorded earlier), so an entry it leaves out still
        takes its place in the aggregate's sequence: the entries after it apply in turn."""
        current = self.aggregates.get(event.originator_id)
        if current is None:
            self._left_out.add(event.originator_id)
        else:
            current.version = event.originator_version

    def apply(self, event: SignedEvent) -> None:
        if event.originator_id in self._left_out:
            return
        current = self.aggregates.get(event.originator_id)
        self.aggregates[event.originator_id] = event.mutate(current)
        self.size += 1
        self.last_timestamp = event.timestamp

    def of_type(self, cls: type[Any]) -> list[Any]:
        return [a for a in self.aggregates.values() if isinstance(a, cls)]
