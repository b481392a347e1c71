"""A consistent copy of the event store and the ledger's tables, and loading one back.

Reading, while writers run:

- SQLite: the online backup API copies the database in one step (one read transaction)
  into a private temporary file, which is then read at leisure; writers are not blocked
  for longer than the page copy.
- PostgreSQL: one REPEATABLE READ, READ ONLY transaction (one snapshot for every table),
  each table streamed with COPY ... TO STDOUT. No pg_dump binary is needed, so the
  backup works wherever the ledger does, and the copy is in the same backend-neutral
  rows as SQLite's: a SQLite backup restores into PostgreSQL and back.

What is copied: exactly the tables the caller names, those of them that exist (each
table is declared by the code that owns it, see `ledger.storage.TableSpec`; the
application assembles the list, so this module knows nothing of the API's tables). The
event store's table goes under its logical name `events`, with the notification ids, so
the log order is exactly kept. Backups leave the Merkle tree tables out
(`Backup.REBUILD`): they are derived from the events, and restore rebuilds them and
checks the rebuilt roots against the signed checkpoints, which is a stronger statement
than copying them.

Loading writes every table in one transaction into an empty store, so a failed load
leaves nothing behind.
"""

from __future__ import annotations

import base64
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from psycopg import IsolationLevel, sql

from ledger.config import LedgerConfig
from ledger.storage import EVENTS, LEDGER_TABLES, TableSpec

Row = tuple[Any, ...]
PG_TYPES = {"int": "int8", "text": "text", "bytes": "bytea", "uuid": "uuid"}


class SnapshotError(Exception):
    pass


# -- rows to JSON lines and back ----------------------------------------------------------


def encode_row(spec: TableSpec, row: Row) -> list[Any]:
    out: list[Any] = []
    for (_, kind), value in zip(spec.columns, row, strict=True):
        if value is None:
            out.append(None)
        elif kind == "bytes":
            out.append(base64.b64encode(bytes(value)).decode())
        elif kind == "uuid":
            out.append(str(value if isinstance(value, UUID) else UUID(str(value))))
        else:
            out.append(value)
    return out


def decode_row(spec: TableSpec, values: Any) -> Row:
    """A row read back from a backup; SnapshotError if it does not fit the table."""
    if not isinstance(values, list) or len(values) != len(spec.columns):
        raise SnapshotError(f"a {spec.name} row has the wrong number of columns")
    out: list[Any] = []
    for (name, kind), value in zip(spec.columns, values, strict=True):
        try:
            if value is None:
                out.append(None)
            elif (kind == "int" and type(value) is int) or (
                kind == "text" and isinstance(value, str)
            ):
                out.append(value)
            elif kind == "bytes" and isinstance(value, str):
                out.append(base64.b64decode(value, validate=True))
            elif kind == "uuid" and isinstance(value, str):
                out.append(UUID(value))
            else:
                raise ValueError(f"not a {kind}")
        except ValueError as error:
            raise SnapshotError(f"{spec.name}.{name}: {error}") from None
    return tuple(out)


# -- reading a consistent snapshot ---------------------------------------------------------


class Snapshot:
    """Rows of every backed-up table as they stood at one moment."""

    def __init__(self, present: list[TableSpec], reader: Callable[[TableSpec], Iterator[Row]]):
        self.tables = present
        self._reader = reader

    def rows(self, spec: TableSpec) -> Iterator[Row]:
        return self._reader(spec)


@contextmanager
def snapshot(
    config: LedgerConfig, events_table: str, tables: Sequence[TableSpec]
) -> Iterator[Snapshot]:
    """The rows of `tables` (those that exist, in the order given) at one moment."""
    if config.database_url is None:
        with _sqlite_snapshot(config.sqlite_path, events_table, tables) as taken:
            yield taken
    else:
        with _postgres_snapshot(config.database_url, events_table, tables) as taken:
            yield taken


def _physical(spec: TableSpec, events_table: str) -> str:
    return events_table if spec.name == EVENTS else spec.name


@contextmanager
def _sqlite_snapshot(
    path: Path, events_table: str, tables: Sequence[TableSpec]
) -> Iterator[Snapshot]:
    if not path.exists():
        raise SnapshotError(f"no SQLite ledger at {path}")
    folder = Path(tempfile.mkdtemp(prefix="inquiry-ledger-snapshot-"))  # mode 0700
    try:
        source = sqlite3.connect(path, timeout=30)
        copy = sqlite3.connect(folder / "copy.sqlite3")
        try:
            source.backup(copy)  # every page in one step: one consistent read
        finally:
            source.close()
        existing = {row[0] for row in copy.execute("SELECT name FROM sqlite_master")}

        def rows(spec: TableSpec) -> Iterator[Row]:
            if spec.name == EVENTS:
                query = (
                    "SELECT rowid, originator_id, originator_version, topic, state "
                    f'FROM "{events_table}" ORDER BY rowid'
                )
                for nid, originator, version, topic, state in copy.execute(query):
                    yield nid, UUID(hex=originator), version, topic, state
                return
            columns = ", ".join(spec.column_names)
            yield from copy.execute(f"SELECT {columns} FROM {spec.name} ORDER BY {spec.order_by}")

        present = [spec for spec in tables if _physical(spec, events_table) in existing]
        try:
            yield Snapshot(present, rows)
        finally:
            copy.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _postgres_snapshot(
    url: str, events_table: str, tables: Sequence[TableSpec]
) -> Iterator[Snapshot]:
    with psycopg.connect(url) as conn:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            present = [
                spec
                for spec in tables
                if conn.execute(
                    "SELECT to_regclass(%s)", (_physical(spec, events_table),)
                ).fetchone()
                != (None,)
            ]

            def rows(spec: TableSpec) -> Iterator[Row]:
                table = _physical(spec, events_table)
                query = sql.SQL("COPY (SELECT {} FROM {} ORDER BY {}) TO STDOUT").format(
                    sql.SQL(", ").join(sql.Identifier(c) for c in spec.column_names),
                    sql.Identifier(table),
                    sql.SQL(spec.order_by),
                )
                with conn.cursor() as cursor, cursor.copy(query) as copy:
                    copy.set_types([PG_TYPES[kind] for _, kind in spec.columns])
                    yield from copy.rows()

            yield Snapshot(present, rows)


# -- loading into an empty store -----------------------------------------------------------


def is_empty(config: LedgerConfig, events_table: str) -> bool:
    """True when none of the ledger's own tables holds a row (the tables may exist)."""
    names = [_physical(spec, events_table) for spec in LEDGER_TABLES]
    if config.database_url is None:
        if not config.sqlite_path.exists():
            return True
        with sqlite3.connect(config.sqlite_path, timeout=30) as conn:
            existing = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            return not any(
                conn.execute(f'SELECT 1 FROM "{name}" LIMIT 1').fetchone()
                for name in names
                if name in existing
            )
    with psycopg.connect(config.database_url, autocommit=True) as pg:
        for name in names:
            if pg.execute("SELECT to_regclass(%s)", (name,)).fetchone() == (None,):
                continue
            query = sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.Identifier(name))
            if pg.execute(query).fetchone():
                return False
    return True


def load(
    config: LedgerConfig,
    events_table: str,
    tables: Iterable[tuple[TableSpec, Iterable[Row]]],
) -> None:
    """Write every table's rows in one transaction (the tables must exist and be empty)."""
    if config.database_url is None:
        _load_sqlite(config.sqlite_path, events_table, tables)
    else:
        _load_postgres(config.database_url, events_table, tables)


def _load_sqlite(
    path: Path, events_table: str, tables: Iterable[tuple[TableSpec, Iterable[Row]]]
) -> None:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for spec, rows in tables:
                if spec.name == EVENTS:
                    conn.executemany(
                        f'INSERT INTO "{events_table}" (rowid, originator_id, '
                        "originator_version, topic, state) VALUES (?, ?, ?, ?, ?)",
                        ((n, o.hex, v, t, s) for n, o, v, t, s in rows),
                    )
                    continue
                marks = ", ".join("?" * len(spec.columns))
                conn.executemany(
                    f"INSERT INTO {spec.name} ({', '.join(spec.column_names)}) VALUES ({marks})",
                    rows,
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()


def _load_postgres(
    url: str, events_table: str, tables: Iterable[tuple[TableSpec, Iterable[Row]]]
) -> None:
    with psycopg.connect(url) as conn, conn.transaction(), conn.cursor() as cursor:
        for spec, rows in tables:
            table = _physical(spec, events_table)
            query = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table),
                sql.SQL(", ").join(sql.Identifier(c) for c in spec.column_names),
            )
            with cursor.copy(query) as copy:
                copy.set_types([PG_TYPES[kind] for _, kind in spec.columns])
                for row in rows:
                    copy.write_row(row)
            if spec.name == EVENTS:
                # The next event appended must get a notification id after the restored ones.
                cursor.execute(
                    sql.SQL(
                        "SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), "
                        "COALESCE((SELECT MAX(notification_id) FROM {}), 1), "
                        "(SELECT COUNT(*) > 0 FROM {}))"
                    ).format(sql.Identifier(table), sql.Identifier(table)),
                    (table,),
                )


def empty_postgres(url: str, events_table: str, tables: Sequence[TableSpec]) -> None:
    """Undo a restore that failed its verification: every row of `tables` (the restored
    ones and those the restore derived from them) goes."""
    with psycopg.connect(url) as conn, conn.transaction():
        names = [_physical(spec, events_table) for spec in tables]
        present = [
            name
            for name in names
            if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() != (None,)
        ]
        if present:
            conn.execute(
                sql.SQL("TRUNCATE {}").format(
                    sql.SQL(", ").join(sql.Identifier(n) for n in present)
                )
            )
