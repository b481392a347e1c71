"""An eventsourcing Mapper whose stored state is the signed entry, byte for byte.

eventsourcing's default mapper transcodes an event's attributes to JSON of its own
shape. Here the stored ``state`` is instead the canonical signed entry, and the stored
``topic`` is the stable event type name, so what the database holds is exactly what
the actor signed and what the Merkle leaf hashes: an auditor can check a row with
nothing but the entry format, without this code.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent, Transcoder

from domain.events import SignedEvent
from ledger.auditor.entry import SignedEntry
from ledger.entry import from_domain_event, to_domain_event


class _NoTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:
        raise NotImplementedError("signed entries are encoded by the entry format")

    def decode(self, data: bytes) -> Any:
        raise NotImplementedError("signed entries are decoded by the entry format")


class SignedEntryMapper(Mapper[UUID]):
    def __init__(self) -> None:
        super().__init__(transcoder=_NoTranscoder())
        self._prepared: dict[int, tuple[SignedEvent, bytes]] = {}

    @contextmanager
    def prepared(self, pairs: Iterable[tuple[SignedEvent, bytes]]) -> Iterator[None]:
        """Within the block, store these very event objects as these entry bytes.

        The ledger has already made each event's canonical entry (from the bytes whose
        signature it verified); making it again here was a tenth of an append. Matched
        by object identity, so any other event is still encoded from its fields."""
        self._prepared = {id(event): (event, data) for event, data in pairs}
        try:
            yield
        finally:
            self._prepared = {}

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if not isinstance(domain_event, SignedEvent):
            raise TypeError(f"only signed events are stored, not {type(domain_event).__name__}")
        known = self._prepared.get(id(domain_event))
        if known is not None and known[0] is domain_event:
            return StoredEvent(
                originator_id=domain_event.originator_id,
                originator_version=domain_event.originator_version,
                topic=type(domain_event).TYPE,
                state=known[1],
            )
        entry = from_domain_event(domain_event)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=entry.body.type,
            state=entry.entry_bytes(),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return to_domain_event(SignedEntry.from_entry_bytes(bytes(stored_event.state)))
