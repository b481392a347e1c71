"""The ledger's own tables beside eventsourcing's: Merkle nodes, leaves, checkpoints.

They live in the same database as the events (one SQLite file, or one PostgreSQL
database) and are written only by the integrator, under the append lock. Every
completed perfect subtree is stored as (level, index) -> hash, so any inclusion or
consistency proof is assembled from O(log n) rows without rereading the log (the
layout of Go's sumdb/tlog "stored hashes", kept as explicit columns).

Every table in this database is declared by the code that owns it, as a `TableSpec`
(columns, DDL, what a backup does with it): the ledger's own are `LEDGER_TABLES` here,
the API's and the projection's beside their code; api/application/tables.py lists them
all for backup and restore (ledger/snapshot.py copies the ones it is given).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal, Protocol, cast

log = logging.getLogger("inquiry_ledger.ledger")


class Cursor(Protocol):
    def execute(self, statement: Any, params: Any = ...) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...


class Datastore(Protocol):
    def transaction(self, *, commit: bool) -> Any: ...


@dataclass(frozen=True)
class StoredCheckpoint:
    tree_size: int
    root_hash: bytes
    note: str
    created_at: str


class Backup(Enum):
    """What a backup does with a table (ledger/snapshot.py, api/application/backup.py)."""

    #: Its rows are copied into a backup and loaded back on restore.
    COPY = "copy"
    #: Derived from the events: restore rebuilds it (and empties it if it has to undo).
    REBUILD = "rebuild"
    #: Left out on purpose (web sessions must not be revived; projections are rebuilt on
    #: demand by their owner).
    OMIT = "omit"


@dataclass(frozen=True)
class TableSpec:
    """A table of the ledger's database, declared by the code that owns it.

    `columns` are (name, kind), kind one of int/text/bytes/uuid: the rows a backup holds,
    in a form that restores into SQLite or PostgreSQL alike. `ddl` creates the table (and
    its indexes) if absent, ``{blob}`` standing for the binary type; the event store's
    table has none (eventsourcing creates it). `order_by` is the key a copy is read in."""

    name: str
    columns: tuple[tuple[str, str], ...]
    order_by: str
    ddl: tuple[str, ...] = ()
    backup: Backup = Backup.COPY

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def create_statements(self, *, postgres: bool) -> list[str]:
        blob = "BYTEA" if postgres else "BLOB"
        return [statement.replace("{blob}", blob) for statement in self.ddl]


#: The advisory lock creators of tables take turns on (`LedgerTables.create_tables`).
CREATE_LOCK_KEY = 0x1A9D_C7EA

EVENTS = "events"  # the logical name of the event store's table (its real name: events_table)

#: The event store: eventsourcing's table, read and written by notification id.
EVENTS_SPEC = TableSpec(
    EVENTS,
    (
        ("notification_id", "int"),
        ("originator_id", "uuid"),
        ("originator_version", "int"),
        ("topic", "text"),
        ("state", "bytes"),
    ),
    "notification_id",
)
CHECKPOINTS = TableSpec(
    "ledger_checkpoints",
    (("tree_size", "int"), ("root_hash", "bytes"), ("note", "text"), ("created_at", "text")),
    "tree_size",
    (
        """CREATE TABLE IF NOT EXISTS ledger_checkpoints (
        tree_size BIGINT PRIMARY KEY, root_hash {blob} NOT NULL, note TEXT NOT NULL,
        created_at TEXT NOT NULL)""",
    ),
)
COSIGNATURES = TableSpec(
    "ledger_cosignatures",
    (("tree_size", "int"), ("witness_key", "text"), ("line", "text"), ("cosigned_at", "int")),
    "tree_size, witness_key",
    (
        """CREATE TABLE IF NOT EXISTS ledger_cosignatures (
        tree_size BIGINT NOT NULL, witness_key TEXT NOT NULL, line TEXT NOT NULL,
        cosigned_at BIGINT NOT NULL, PRIMARY KEY (tree_size, witness_key))""",
        "CREATE INDEX IF NOT EXISTS ledger_cosignatures_time ON ledger_cosignatures (cosigned_at)",
    ),
)
META = TableSpec(
    "ledger_meta",
    (("key", "text"), ("value", "text")),
    "key",
    ("""CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",),
)
MERKLE_NODES = TableSpec(
    "ledger_merkle_nodes",
    (("level", "int"), ("idx", "int"), ("hash", "bytes")),
    "level, idx",
    (
        """CREATE TABLE IF NOT EXISTS ledger_merkle_nodes (
        level INTEGER NOT NULL, idx BIGINT NOT NULL, hash {blob} NOT NULL,
        PRIMARY KEY (level, idx))""",
    ),
    Backup.REBUILD,
)
LEAVES = TableSpec(
    "ledger_leaves",
    (("leaf_index", "int"), ("notification_id", "int")),
    "leaf_index",
    (
        """CREATE TABLE IF NOT EXISTS ledger_leaves (
        leaf_index BIGINT PRIMARY KEY, notification_id BIGINT NOT NULL UNIQUE)""",
    ),
    Backup.REBUILD,
)
#: The tree's size and last notification, and the newest witnessed time (its index above).
LOG_STATE = (
    "SELECT (SELECT MAX(leaf_index) FROM ledger_leaves) AS leaf_index, (SELECT notification_id"
    " FROM ledger_leaves ORDER BY leaf_index DESC LIMIT 1) AS notification_id,"
    " (SELECT MAX(cosigned_at) FROM ledger_cosignatures) AS witnessed"
)
#: Every table of the ledger's own, the event store's first.
LEDGER_TABLES = (EVENTS_SPEC, CHECKPOINTS, COSIGNATURES, META, MERKLE_NODES, LEAVES)


class LedgerTables:
    """SQL for both backends; only the placeholder and the blob type differ."""

    def __init__(self, datastore: Datastore, *, postgres: bool) -> None:
        self.datastore = datastore
        self.postgres = postgres
        self.p = "%s" if postgres else "?"

    def sql(self, statement: str) -> str:
        """`statement` with each `?` as this backend's placeholder (SQLite `?`, psycopg `%s`):
        one spelling of the SQL for both, for the ledger's tables and their owners'."""
        return statement.replace("?", self.p)

    @property
    def sql_dialect(self) -> Literal["sqlite", "postgresql"]:
        return "postgresql" if self.postgres else "sqlite"

    @contextmanager
    def reading(self) -> Iterator[Any]:
        """A cursor for reads (and single-statement writes, each atomic on its own).

        On PostgreSQL a pooled connection in autocommit mode: each single-statement read
        is one round trip instead of three (BEGIN, SELECT, ROLLBACK), which is most of an
        append's cost on a loopback connection. A read that needs a consistent snapshot
        of several statements must use `datastore.transaction()` instead."""
        if self.postgres:
            with cast(Any, self.datastore).get_connection() as conn, conn.cursor() as cursor:
                yield cursor
        else:
            with self.datastore.transaction(commit=False) as cursor:
                yield getattr(cursor, "sqlite_cursor", cursor)  # the driver's own cursor

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A cursor inside one transaction, committed when the block ends without error.

        The driver's own cursor (sqlite3 or psycopg; rows readable by column name), so
        `rowcount` and `executemany` work the same on both backends."""
        with self.datastore.transaction(commit=True) as cursor:
            yield getattr(cursor, "sqlite_cursor", cursor)  # eventsourcing wraps SQLite's

    def create(self) -> None:
        self.create_tables(LEDGER_TABLES)

    def create_tables(self, specs: Sequence[TableSpec]) -> None:
        """Create the tables (and their indexes) if absent, in one transaction.

        Processes starting together on one PostgreSQL database (`serve --workers N`,
        several API machines) would race on CREATE TABLE IF NOT EXISTS: the loser's
        insert into the catalogue is a unique violation (pg_type), and that worker dies
        at start. So creators take turns, holding a transaction-level advisory lock;
        the second then finds the tables there."""
        with self.datastore.transaction(commit=True) as cursor:
            if self.postgres:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (CREATE_LOCK_KEY,))
            for spec in specs:
                for statement in spec.create_statements(postgres=self.postgres):
                    cursor.execute(statement)

    def get_meta(self, key: str) -> str | None:
        with self.reading() as cursor:
            cursor.execute(self.sql("SELECT value FROM ledger_meta WHERE key=?"), (key,))
            row = cursor.fetchone()
        return None if row is None else str(row["value"])

    def set_meta(self, key: str, value: str) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self.sql("DELETE FROM ledger_meta WHERE key=?"), (key,))
            cursor.execute(self.sql("INSERT INTO ledger_meta VALUES (?, ?)"), (key, value))

    # -- the tree --------------------------------------------------------------------

    def tree_state(self) -> tuple[int, int]:
        """(tree size, notification id of the last leaf, or 0)."""
        size, last_notification, _ = self.log_state()
        return size, last_notification

    def log_state(self) -> tuple[int, int, int | None]:
        """`tree_state()` and the newest time (seconds) of any stored cosignature, in one
        round trip: the append path reads both before every batch, so a cosignature
        stored by another process is never missed (ledger/timestamps.py)."""
        with self.reading() as cursor:
            cursor.execute(LOG_STATE)
            row = cursor.fetchone()
        witnessed = None if row["witnessed"] is None else int(row["witnessed"])
        size = 0 if row["leaf_index"] is None else int(row["leaf_index"]) + 1
        return size, int(row["notification_id"] or 0), witnessed

    def read_hashes(self, nodes: Sequence[tuple[int, int]]) -> list[bytes]:
        """Hashes of stored perfect subtrees, in the order asked; KeyError if one is absent."""
        if not nodes:
            return []
        found: dict[tuple[int, int], bytes] = {}
        unique = list(dict.fromkeys(nodes))
        for start in range(0, len(unique), 200):
            chunk = unique[start : start + 200]
            condition = " OR ".join(["(level=? AND idx=?)"] * len(chunk))
            params = [value for node in chunk for value in node]
            with self.reading() as cursor:
                cursor.execute(
                    self.sql(f"SELECT level, idx, hash FROM ledger_merkle_nodes WHERE {condition}"),
                    params,
                )
                for row in cursor.fetchall():
                    found[(int(row["level"]), int(row["idx"]))] = bytes(row["hash"])
        missing = [node for node in unique if node not in found]
        if missing:
            raise KeyError(f"Merkle nodes missing from storage: {missing[:5]}")
        return [found[node] for node in nodes]

    def nodes_in_range(self, level: int, first: int, last: int) -> dict[int, bytes]:
        """Stored hashes of one level with index in [first, last], by index."""
        with self.reading() as cursor:
            cursor.execute(
                self.sql(
                    "SELECT idx, hash FROM ledger_merkle_nodes WHERE level=? AND idx>=? AND idx<=?"
                ),
                (level, first, last),
            )
            return {int(row["idx"]): bytes(row["hash"]) for row in cursor.fetchall()}

    def store_integration(
        self,
        old_size: int,
        leaves: Sequence[tuple[int, int]],
        nodes: Sequence[tuple[int, int, bytes]],
    ) -> None:
        """Record new leaves (leaf index, notification id) and the subtrees they complete.

        One transaction; the leaf table's primary key makes a concurrent integrator that
        raced us fail instead of writing a second, different tree.

        The commit does not wait for the disk (PostgreSQL `synchronous_commit = off` for
        this transaction only; SQLite `synchronous = NORMAL` for it, in WAL mode). The
        tree is derived data: every leaf and node is a function of the events, which
        are committed durably first, and after a crash the next append re-integrates
        whatever the tree lacks, to the same hashes and leaf indexes. Durability and
        order are kept where they matter: both logs are sequential, so the next durable
        commit (a checkpoint, the next batch of events) makes this one durable too, and a
        signed checkpoint can never outlive the tree it covers. Waiting for a second
        flush per append was a tenth to a fifth of an append's time."""
        if leaves and leaves[0][0] != old_size:
            raise ValueError("leaves must continue the tree")
        leaf_sql = self.sql("INSERT INTO ledger_leaves VALUES (?, ?)")
        node_sql = self.sql("INSERT INTO ledger_merkle_nodes VALUES (?, ?, ?)")
        if self.postgres:
            # One statement (atomic on its own, in autocommit): one round trip, where a
            # BEGIN/INSERT/INSERT/COMMIT transaction costs four (measured 0.55 ms vs
            # 1.7 ms per integration on loopback; psycopg's pipeline mode was 2.7 ms).
            # set_config(..., true) applies to this statement's own transaction, and
            # PostgreSQL reads synchronous_commit when the transaction commits. The
            # arrays go in binary (%b): the server then parses no hex text for the
            # hashes (1.4 ms -> 0.8 ms a batch of 100 leaves).
            with self.reading() as cursor:
                cursor.execute(
                    "WITH new_leaves AS (INSERT INTO ledger_leaves "
                    "SELECT * FROM unnest(%b::bigint[], %b::bigint[])), "
                    "new_nodes AS (INSERT INTO ledger_merkle_nodes "
                    "SELECT * FROM unnest(%b::int[], %b::bigint[], %b::bytea[])) "
                    "SELECT set_config('synchronous_commit', 'off', true)",
                    (
                        [leaf for leaf, _ in leaves],
                        [notification for _, notification in leaves],
                        [level for level, _, _ in nodes],
                        [index for _, index, _ in nodes],
                        [hash_ for _, _, hash_ in nodes],
                    ),
                )
            return
        datastore = cast(Any, self.datastore)
        with datastore.get_connection(commit=True) as conn:  # the writer, ours until put back
            pragma = conn.cursor()
            pragma.execute("PRAGMA synchronous")
            previous = int(pragma.fetchone()[0])
            pragma.execute("PRAGMA synchronous=NORMAL")
            try:
                with conn.transaction(commit=True) as cursor:
                    cursor.executemany(leaf_sql, leaves)
                    cursor.executemany(node_sql, nodes)
            finally:
                pragma.execute(f"PRAGMA synchronous={previous:d}")

    def leaves(self, start: int, limit: int) -> list[tuple[int, int, bytes]]:
        """(leaf index, notification id, leaf hash) from `start`, in order, at most `limit`.

        Leaf indexes are dense, so the page is first asked for as the key range
        [start, start + limit) on both tables: two index range scans. Asked only as
        ">= start ... LIMIT", PostgreSQL hash-joined every remaining leaf for each page,
        which made reading the tree quadratic in its size (85 ms a page at 100,000
        leaves). A short answer (the end of the tree, or rows missing from either table)
        is asked again the open-ended way, so a gap is stepped over exactly as before."""
        ranged = self._leaves(
            "WHERE l.leaf_index >= ? AND l.leaf_index < ? AND n.idx >= ? AND n.idx < ? "
            "ORDER BY l.leaf_index",
            (start, start + limit, start, start + limit),
        )
        if len(ranged) == limit:
            return ranged
        return self._leaves("WHERE l.leaf_index >= ? ORDER BY l.leaf_index LIMIT ?", (start, limit))

    def _leaves(self, condition: str, params: tuple[int, ...]) -> list[tuple[int, int, bytes]]:
        with self.reading() as cursor:
            cursor.execute(
                self.sql(
                    "SELECT l.leaf_index, l.notification_id, n.hash FROM ledger_leaves l "
                    "JOIN ledger_merkle_nodes n ON n.level = 0 AND n.idx = l.leaf_index "
                    + condition
                ),
                params,
            )
            return [
                (int(r["leaf_index"]), int(r["notification_id"]), bytes(r["hash"]))
                for r in cursor.fetchall()
            ]

    def leaf_notifications(self, start: int, end: int) -> list[tuple[int, int]]:
        """(leaf index, notification id) of the stored leaves in [start, end), in order."""
        with self.reading() as cursor:
            cursor.execute(
                self.sql(
                    "SELECT leaf_index, notification_id FROM ledger_leaves "
                    "WHERE leaf_index >= ? AND leaf_index < ? ORDER BY leaf_index"
                ),
                (start, end),
            )
            return [(int(r["leaf_index"]), int(r["notification_id"])) for r in cursor.fetchall()]

    def leaf_index_of(self, notification_id: int) -> int | None:
        with self.reading() as cursor:
            cursor.execute(
                self.sql("SELECT leaf_index FROM ledger_leaves WHERE notification_id=?"),
                (notification_id,),
            )
            row = cursor.fetchone()
        return None if row is None else int(row["leaf_index"])

    # -- checkpoints -----------------------------------------------------------------

    def insert_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self.sql("INSERT INTO ledger_checkpoints VALUES (?, ?, ?, ?)"),
                (
                    checkpoint.tree_size,
                    checkpoint.root_hash,
                    checkpoint.note,
                    checkpoint.created_at,
                ),
            )

    def checkpoints(self) -> list[StoredCheckpoint]:
        with self.reading() as cursor:
            cursor.execute("SELECT * FROM ledger_checkpoints ORDER BY tree_size")
            return [_checkpoint(row) for row in cursor.fetchall()]

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        with self.reading() as cursor:
            cursor.execute("SELECT * FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1")
            row = cursor.fetchone()
        return None if row is None else _checkpoint(row)

    # -- witness cosignatures (verified by the API before they are stored) ----------

    def insert_cosignature(self, tree_size: int, witness_key: str, line: str, at: int) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self.sql("DELETE FROM ledger_cosignatures WHERE tree_size=? AND witness_key=?"),
                (tree_size, witness_key),
            )
            cursor.execute(
                self.sql("INSERT INTO ledger_cosignatures VALUES (?, ?, ?, ?)"),
                (tree_size, witness_key, line, at),
            )

    def cosignatures(self, tree_size: int | None = None) -> list[tuple[int, str, str]]:
        """(tree size, witness key, signature line), by size then witness."""
        with self.reading() as cursor:
            if tree_size is None:
                cursor.execute("SELECT * FROM ledger_cosignatures ORDER BY tree_size, witness_key")
            else:
                cursor.execute(
                    self.sql(
                        "SELECT * FROM ledger_cosignatures WHERE tree_size=? ORDER BY witness_key"
                    ),
                    (tree_size,),
                )
            return [
                (int(r["tree_size"]), str(r["witness_key"]), str(r["line"]))
                for r in cursor.fetchall()
            ]


def _checkpoint(row: Any) -> StoredCheckpoint:
    return StoredCheckpoint(
        int(row["tree_size"]), bytes(row["root_hash"]), str(row["note"]), str(row["created_at"])
    )
