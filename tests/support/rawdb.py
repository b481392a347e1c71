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
