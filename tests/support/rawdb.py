"""Direct access to the event table behind the ledger's back, as an attacker would have."""

from __future__ import annotations

import sqlite3
from typing import Any
from uuid import UUID

import psycopg

from ledger.config import LedgerConfig


class RawEvents:
    """The events table in log order: (position, originator_id, version, topic, state)."""

    def __init__(self, config: LedgerConfig) -> None:
        self.config = config
        if config.database_url:
            self.table, self.id_column, self.p = "inquiryledger_events", "notification_id", "%s"
        else:
            self.table, self.id_column, self.p = "stored_events", "rowid", "?"

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        sql = sql.format(table=self.table, id=self.id_column).replace("?", self.p)
        if self.config.database_url:
            with psycopg.connect(self.config.database_url, autocommit=True) as conn:
                cursor = conn.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        with sqlite3.connect(self.config.sqlite_path) as conn:
            rows = conn.execute(sql, params).fetchall()
            conn.commit()
            return rows

    def rows(self) -> list[tuple[int, Any, int, str, bytes]]:
        return [
            (int(r[0]), r[1], int(r[2]), str(r[3]), bytes(r[4]))
            for r in self.execute(
                "SELECT {id}, originator_id, originator_version, topic, state FROM {table} "
                "ORDER BY {id}"
            )
        ]

    def set_state(self, row_id: int, state: bytes) -> None:
        self.execute("UPDATE {table} SET state=? WHERE {id}=?", (state, row_id))

    def delete(self, row_id: int) -> None:
        self.execute("DELETE FROM {table} WHERE {id}=?", (row_id,))

    def insert(
        self, row_id: int, originator_id: Any, version: int, topic: str, state: bytes
    ) -> None:
        if isinstance(originator_id, UUID) and not self.config.database_url:
            originator_id = originator_id.hex  # eventsourcing's SQLite stores UUIDs as hex text
        self.execute(
            "INSERT INTO {table} ({id}, originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?, ?)",
            (row_id, originator_id, version, topic, state),
        )

    def move(self, row_id: int, new_id: int) -> None:
        self.execute("UPDATE {table} SET {id}=? WHERE {id}=?", (new_id, row_id))


def drop_last_entries(config: LedgerConfig, keep: int) -> None:
    """What an operator with database access does to make the last entries vanish
    without `verify` noticing: delete every event after the first `keep`, the tree's
    leaves and nodes over them and every checkpoint (and cosignature) beyond, so the
    database is a consistent shorter log. Re-signing a checkpoint of it is the caller's
    (`Ledger(config).sign_checkpoint`): the operator holds the log key."""
    raw = RawEvents(config)
    rows = raw.rows()
    if len(rows) > keep:
        raw.execute("DELETE FROM {table} WHERE {id} >= ?", (rows[keep][0],))
    raw.execute("DELETE FROM ledger_leaves WHERE leaf_index >= ?", (keep,))
    for level in range(max(len(rows), 1).bit_length() + 1):
        # node (level, idx) covers leaves [idx * 2**level, (idx + 1) * 2**level)
        raw.execute(
            "DELETE FROM ledger_merkle_nodes WHERE level = ? AND idx >= ?",
            (level, keep >> level),
        )
    raw.execute("DELETE FROM ledger_checkpoints WHERE tree_size > ?", (keep,))
    raw.execute("DELETE FROM ledger_cosignatures WHERE tree_size > ?", (keep,))
