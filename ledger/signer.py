"""The actor's side: build an event body, sign it with the actor's private key.

Nothing here needs the ledger's trust: the signer reads the aggregate's current
version (to say which version it is writing) and the earliest timestamp its next entry
may carry, and the ledger re-checks everything. It dates an entry max(now, not_before):
if someone dated the previous entry ahead of the clock, the next one is dated just after
it rather than refused for going backwards (ledger/timestamps.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from ledger.auditor.entry import EventBody, SignedEntry, format_timestamp
from ledger.errors import FutureFloor
from ledger.keys import KeyPair
from ledger.timestamps import date_entry

#: How far ahead of this machine's clock a signer follows the ledger's floor. An honest
#: floor is within the ledger's forward bound (seconds) of the ledger's clock; the rest is
#: room for two clocks that disagree. Beyond it an entry was future-dated, and following
#: it would date this one in that future too.
FLOOR_AHEAD = timedelta(minutes=1)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Signer:
    user_id: str
    key: KeyPair
    origin: str  # the log this signer signs for: it is inside every signed body
    clock: Callable[[], datetime] = field(default=_utc_now)

    def sign(
        self,
        type_name: str,
        aggregate_id: UUID,
        version: int,
        payload: dict[str, Any],
        *,
        not_before: datetime | None = None,
    ) -> SignedEntry:
        """Sign the entry `version` of `aggregate_id`, dated max(now, not_before)
        (`not_before`: Ledger.next_entry, or GET /v1/aggregates/{id}/version)."""
        now = self.clock()
        if not_before is not None and not_before > now + FLOOR_AHEAD:
            raise FutureFloor(
                f"the ledger asks to date this entry {format_timestamp(not_before)}, more than "
                f"{FLOOR_AHEAD} ahead of this machine's clock ({format_timestamp(now)}): an "
                "entry on it is dated in the future (report it: the audit names it) or this "
                "clock is wrong; nothing was signed"
            )
        body = EventBody(
            type=type_name,
            aggregate_id=aggregate_id,
            version=version,
            timestamp=date_entry(now, not_before),
            actor=self.user_id,
            key_id=self.key.key_id,
            payload=payload,
            origin=self.origin,
        )
        return SignedEntry.sign(body, self.key)
