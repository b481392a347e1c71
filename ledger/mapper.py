"""An eventsourcing Mapper whose stored state is the signed entry, byte for byte.

eventsourcing's default mapper transcodes an event's attributes to JSON of its own
shape. Here the stored ``state`` is instead the canonical signed entry, and the stored
``topic`` is the stable event type name, so what the database holds is exactly what
the actor signed and what the Merkle leaf hashes: an auditor can check a row with
nothing but the entry format, without this code.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent, Transcoder

from domain.events import SignedEvent
from ledger.entry import SignedEntry, from_domain_event, to_domain_event


class _NoTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:
        raise NotImplementedError("signed entries are encoded by the entry format")

    def decode(self, data: bytes) -> Any:
        raise NotImplementedError("signed entries are decoded by the entry format")


class SignedEntryMapper(Mapper[UUID]):
    def __init__(self) -> None:
        super().__init__(transcoder=_NoTranscoder())

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if not isinstance(domain_event, SignedEvent):
            raise TypeError(f"only signed events are stored, not {type(domain_event).__name__}")
        entry = from_domain_event(domain_event)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=entry.body.type,
            state=entry.entry_bytes(),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return to_domain_event(SignedEntry.from_entry_bytes(bytes(stored_event.state)))
