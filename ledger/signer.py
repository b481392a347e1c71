"""The actor's side: build an event body, sign it with the actor's private key.

Nothing here needs the ledger's trust: the signer reads the aggregate's current
version (to say which version it is writing), and the ledger re-checks everything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from ledger.auditor.entry import EventBody, SignedEntry
from ledger.keys import KeyPair


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Signer:
    user_id: str
    key: KeyPair
    clock: Callable[[], datetime] = field(default=_utc_now)

    def sign(
        self, type_name: str, aggregate_id: UUID, version: int, payload: dict[str, Any]
    ) -> SignedEntry:
        body = EventBody(
            type=type_name,
            aggregate_id=aggregate_id,
            version=version,
            timestamp=self.clock(),
            actor=self.user_id,
            key_id=self.key.key_id,
            payload=payload,
        )
        return SignedEntry.sign(body, self.key)
