"""Client-chosen command ids: a retried request is answered, not appended again."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ledger.storage import LedgerTables, TableSpec

#: Answered commands (backed up, so a retry after a restore is still answered, not appended).
API_COMMANDS = TableSpec(
    "api_commands",
    (
        ("command_id", "text"),
        ("user_id", "text"),
        ("request_hash", "text"),
        ("response", "text"),
        ("created_at", "text"),
    ),
    "command_id",
    (
        """CREATE TABLE IF NOT EXISTS api_commands (
    command_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, request_hash TEXT NOT NULL,
    response TEXT NOT NULL, created_at TEXT NOT NULL)""",
    ),
)


class CommandLog:
    def __init__(self, tables: LedgerTables) -> None:
        self.tables = tables
        tables.create_tables([API_COMMANDS])  # safe when several processes start at once

    def find(self, command_id: str) -> tuple[str, str, Any] | None:
        """(user id, request hash, stored response) for a command id already answered."""
        with self.tables.reading() as cursor:
            cursor.execute(
                "SELECT * FROM api_commands WHERE command_id=" + self.tables.p, (command_id,)
            )
            row = cursor.fetchone()
        if row is None:
            return None
        return str(row["user_id"]), str(row["request_hash"]), json.loads(row["response"])

    def remember(self, command_id: str, user_id: str, request_hash: str, response: Any) -> None:
        p = self.tables.p
        with self.tables.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"INSERT INTO api_commands VALUES ({p}, {p}, {p}, {p}, {p})",
                (
                    command_id,
                    user_id,
                    request_hash,
                    json.dumps(response),
                    datetime.now(UTC).isoformat(),
                ),
            )
