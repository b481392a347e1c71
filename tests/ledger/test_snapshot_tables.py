"""The snapshot copies exactly the tables it is given (those that exist) and nothing else,
and loads exactly those back: it knows no table but the ones its caller names."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.config import LedgerConfig
from ledger.service import Ledger
from ledger.snapshot import empty_postgres, load, snapshot
from ledger.storage import EVENTS_SPEC, LEDGER_TABLES, META, Backup, TableSpec

GIVEN = TableSpec(
    "test_given",
    (("id", "int"), ("label", "text"), ("blob", "bytes")),
    "id",
    (
        "CREATE TABLE IF NOT EXISTS test_given "
        "(id BIGINT PRIMARY KEY, label TEXT, blob {blob} NOT NULL)",
    ),
)
NOT_GIVEN = TableSpec(
    "test_not_given", (("id", "int"),), "id", ("CREATE TABLE test_not_given (id BIGINT)",)
)
ABSENT = TableSpec("test_absent", (("id", "int"),), "id", ("CREATE TABLE test_absent (id BIGINT)",))
GIVEN_ROWS = [(1, "one", b"\x00\x01"), (2, None, b""), (3, "three", b"\xff" * 40)]


def _create(ledger: Ledger, *tables: TableSpec) -> None:
    with ledger.database.transaction() as cursor:
        for spec in tables:
            for statement in spec.create_statements(postgres=ledger.config.uses_postgres):
                cursor.execute(statement)


def _fill(ledger: Ledger) -> str:
    """The ledger's tables, GIVEN and NOT_GIVEN, with rows; returns the events table."""
    _create(ledger, GIVEN, NOT_GIVEN)
    p = "%s" if ledger.config.uses_postgres else "?"
    with ledger.database.transaction() as cursor:
        cursor.executemany(f"INSERT INTO test_given VALUES ({p}, {p}, {p})", GIVEN_ROWS)
        cursor.executemany(f"INSERT INTO test_not_given VALUES ({p})", [(7,), (8,)])
    ledger.tables.set_meta("colour", "green")
    return ledger.events_table


def test_the_snapshot_copies_exactly_the_tables_it_is_given(config: LedgerConfig) -> None:
    with Ledger(config) as ledger:
        events_table = _fill(ledger)
    given = [GIVEN, META, ABSENT]
    with snapshot(config, events_table, given) as snap:
        assert snap.tables == [GIVEN, META]  # in the order given; the absent one left out
        assert [tuple(row) for row in snap.rows(GIVEN)] == GIVEN_ROWS
        assert ("colour", "green") in [tuple(row) for row in snap.rows(META)]
    with snapshot(config, events_table, []) as snap:
        assert snap.tables == []
    with snapshot(config, events_table, [EVENTS_SPEC, NOT_GIVEN]) as snap:
        assert snap.tables == [EVENTS_SPEC, NOT_GIVEN]  # the event store, by its logical name
        assert list(snap.rows(EVENTS_SPEC)) == []
        assert [tuple(row) for row in snap.rows(NOT_GIVEN)] == [(7,), (8,)]


def test_load_writes_the_tables_it_is_given_and_undo_empties_only_those(
    config: LedgerConfig, tmp_path: Path
) -> None:
    with Ledger(config) as ledger:
        events_table = _fill(ledger)
        with snapshot(config, events_table, [GIVEN]) as snap:
            rows = [tuple(row) for row in snap.rows(GIVEN)]
        with ledger.database.transaction() as cursor:
            cursor.execute("DELETE FROM test_given")
        load(config, events_table, [(GIVEN, rows)])
        with ledger.database.reading() as cursor:
            cursor.execute("SELECT id, label, blob FROM test_given ORDER BY id")
            assert [(r["id"], r["label"], bytes(r["blob"])) for r in cursor.fetchall()] == rows
        if config.database_url is None:
            return
        empty_postgres(config.database_url, events_table, [GIVEN, ABSENT])
        with ledger.database.reading() as cursor:
            cursor.execute("SELECT count(*) AS n FROM test_given")
            assert cursor.fetchone()["n"] == 0
            cursor.execute("SELECT count(*) AS n FROM test_not_given")
            assert cursor.fetchone()["n"] == 2  # not given: untouched
        assert ledger.tables.get_meta("colour") == "green"


def test_the_ledger_declares_each_of_its_tables_once() -> None:
    names = [spec.name for spec in LEDGER_TABLES]
    assert len(names) == len(set(names))
    assert LEDGER_TABLES[0] is EVENTS_SPEC
    rebuilt = {spec.name for spec in LEDGER_TABLES if spec.backup is Backup.REBUILD}
    assert rebuilt == {"ledger_leaves", "ledger_merkle_nodes"}
    for spec in LEDGER_TABLES[1:]:
        statement, *indexes = spec.ddl
        assert f"CREATE TABLE IF NOT EXISTS {spec.name} " in statement
        assert all(f"ON {spec.name} " in index for index in indexes)
        for column in spec.column_names:
            assert column in statement


@pytest.mark.parametrize("postgres", [False, True])
def test_a_declared_table_is_created_with_the_backend_s_binary_type(postgres: bool) -> None:
    (statement,) = GIVEN.create_statements(postgres=postgres)
    assert ("BYTEA" if postgres else "BLOB") in statement and "{blob}" not in statement
