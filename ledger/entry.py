"""Signed entries as domain events, and back (the entry format itself: ledger/auditor/entry.py).

An entry states a domain event: its type names the event class, its payload the event's
fields. This is the only place the ledger turns one into the other, so the auditor's
format code never needs the domain package.
"""

from __future__ import annotations

import base64
from typing import Any, cast

from domain.events import SignedEvent, event_class
from ledger.auditor.entry import EntryFormatError, EventBody, SignedEntry


def to_domain_event(entry: SignedEntry) -> SignedEvent:
    """Build the domain event object a signed entry states (no rule is checked here)."""
    body = entry.body
    try:
        cls = event_class(body.type)
    except KeyError:
        raise EntryFormatError(f"unknown event type {body.type!r}") from None
    expected = set(cls.payload_fields())
    if set(body.payload) != expected:
        missing = sorted(expected - set(body.payload))
        extra = sorted(set(body.payload) - expected)
        raise EntryFormatError(
            f"{body.type} payload fields: missing {missing or 'none'}, unexpected {extra or 'none'}"
        )
    kwargs: dict[str, Any] = dict(body.payload)
    if "originator_topic" in cls.__dataclass_fields__:
        kwargs["originator_topic"] = _aggregate_topic(cls)
    constructor: Any = cls  # eventsourcing makes event classes dataclasses at run time
    return cast(
        SignedEvent,
        constructor(
            originator_id=body.aggregate_id,
            originator_version=body.version,
            timestamp=body.timestamp,
            actor=body.actor,
            key_id=body.key_id,
            signature=base64.b64encode(entry.signature).decode("ascii"),
            log_origin=body.origin,
            **kwargs,
        ),
    )


def from_domain_event(event: SignedEvent) -> SignedEntry:
    body = EventBody(
        type=type(event).TYPE,
        aggregate_id=event.originator_id,
        version=event.originator_version,
        timestamp=event.timestamp,
        actor=event.actor,
        key_id=event.key_id,
        payload=event.payload(),
        origin=event.log_origin,
    )
    return SignedEntry(body, base64.b64decode(event.signature))


def _aggregate_topic(cls: type[SignedEvent]) -> str:
    """The eventsourcing topic of the aggregate a creation event belongs to."""
    owner = cls.__qualname__.rsplit(".", 1)[0]
    return f"{cls.__module__}:{owner}"
