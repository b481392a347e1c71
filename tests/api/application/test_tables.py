"""Every table in a used ledger database is declared by its owner, and the one list the
application assembles says what a backup copies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from api.application.evidence_keys import TableKeyStore
from api.application.idempotency import CommandLog
from api.application.sessions import WebSessions
from api.application.tables import all_tables
from api.application.tokens import TokenStore
from api.application.uploads import EvidenceUploads
from ledger.storage import EVENTS, Backup
from projections.projector import projector_for
from tests.support.world import make_world


def _tables_in(world: Any) -> set[str]:
    with world.ledger.database.reading() as cursor:
        if world.ledger.database.sql_dialect == "postgresql":
            cursor.execute(
                "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
            )
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {str(row["name"]) for row in cursor.fetchall()}


def test_every_table_in_the_database_is_declared(config: Any, clock: Any) -> None:
    world = make_world(config, clock)
    try:
        world.add_action("R1.1")
        tokens = TokenStore(world.ledger.tables)
        token = tokens.create("chair", timedelta(days=1), now=clock.now)
        CommandLog(world.ledger.tables).remember("c-1", "chair", "hash", {"ok": True})
        WebSessions(world.ledger.tables).start(tokens, token, clock.now)
        EvidenceUploads(world.ledger.tables).record("ab" * 32, "council", "council.officer")
        TableKeyStore(world.ledger.tables).put("cd" * 32, b"wrapped" * 4)
        projector_for(world.ledger).catch_up(world.ledger)
        found = _tables_in(world)
        declared = {spec.name for spec in all_tables()}
        events_table = world.ledger.events_table
        assert events_table in found
        undeclared = found - declared - {events_table}
        assert not undeclared, f"tables no owner declares (a backup would miss them): {undeclared}"
    finally:
        world.ledger.close()


def test_the_list_says_what_a_backup_copies() -> None:
    tables = all_tables()
    names = [spec.name for spec in tables]
    assert len(names) == len(set(names))
    assert tables[0].name == EVENTS
    copied = [spec.name for spec in tables if spec.backup is Backup.COPY]
    assert copied == [
        EVENTS,
        "ledger_checkpoints",
        "ledger_cosignatures",
        "ledger_meta",
        "api_tokens",
        "api_commands",
        "evidence_uploads",
        "evidence_data_keys",
    ]
    omitted = {spec.name for spec in tables if spec.backup is Backup.OMIT}
    assert {"web_sessions", "asof_state", "asof_changes"} <= omitted
