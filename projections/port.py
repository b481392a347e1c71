"""What the projections need of the log: a small port, implemented by `ledger.service.Ledger`.

Projections read the log and keep their own indexed tables beside it; they know nothing
of how the log is stored (eventsourcing, the Merkle leaf table) and import none of it.
Everything they ask for is here:

* the log itself: its size (`tree_size`), its entries in log order a page at a time
  (`entries`), the entries at given leaf positions (`leaf_entries`, one page in two
  indexed reads whatever the log's length), and one aggregate's events over a range of
  versions (`events_of`), for the entries a timeline or a diff shows;
* the current directory and plan (`directory`, `plan`);
* the log's database (`database`), where the projection keeps its own tables beside
  the log's: its dialect, a cursor for single reads (`reading`) and a transaction
  (`transaction`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal, Protocol
from uuid import UUID

from domain import Directory, Plan
from domain.events import SignedEvent

Dialect = Literal["sqlite", "postgresql"]


class Cursor(Protocol):
    """A DB-API cursor whose rows are read by column name (``row["leaf"]``)."""

    @property
    def rowcount(self) -> int: ...
    def execute(self, statement: Any, params: Any = ..., /) -> Any: ...
    def executemany(self, statement: Any, params: Sequence[Any], /) -> Any: ...
    def fetchall(self) -> Sequence[Any]: ...
    def fetchone(self) -> Any: ...


class SqlDatabase(Protocol):
    """The database the projection keeps its tables in."""

    @property
    def sql_dialect(self) -> Dialect:
        """Which SQL: "sqlite" (placeholder ``?``) or "postgresql" (placeholder ``%s``)."""
        ...

    def reading(self) -> AbstractContextManager[Cursor]:
        """A cursor for reads needing no snapshot across statements (and single-statement
        writes, each atomic on its own)."""
        ...

    def transaction(self) -> AbstractContextManager[Cursor]:
        """A cursor in one transaction, committed when the block ends without error and
        rolled back when it raises."""
        ...


class LogReader(Protocol):
    """The log, as the projections read it."""

    @property
    def database(self) -> SqlDatabase:
        """The log's database, where the projection keeps its own tables."""
        ...

    def tree_size(self) -> int:
        """How many entries are integrated (leaves 0 .. size-1)."""
        ...

    def entries(self, start: int = 0, page_size: int = 1000) -> Iterator[tuple[int, bytes]]:
        """(leaf index, stored entry bytes) from `start` in log order, read a page at a time."""
        ...

    def leaf_entries(self, start: int, end: int) -> list[tuple[int, bytes]]:
        """(leaf index, stored entry bytes) of the integrated leaves start..end-1, in order.

        Stops short at the first leaf that is not integrated or whose entry the store does
        not hold where the tree says: the caller checks it got every leaf it asked for."""
        ...

    def events_of(
        self, aggregate_id: UUID, *, first_version: int = 1, last_version: int | None = None
    ) -> Iterator[SignedEvent]:
        """The aggregate's events with version first_version..last_version (to its latest
        if None), in version order, parsed as they are iterated."""
        ...

    def directory(self) -> Directory | None: ...

    def plan(self) -> Plan | None: ...
