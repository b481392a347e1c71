"""A controllable clock for the ledger and its signers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """A controllable clock for the ledger and its signers."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2023, 1, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)
