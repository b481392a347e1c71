"""The projections read the log only through `projections.port.LogReader`, which the
Ledger implements: they import nothing of eventsourcing or of the ledger's storage."""

from __future__ import annotations

import ast
import gc
import weakref
from pathlib import Path
from typing import Any

import projections
from domain import PLAN_ID, action_aggregate_id
from projections.port import LogReader
from projections.projector import projector_for
from tests.support.world import make_world

FORBIDDEN = ("eventsourcing", "ledger.service", "ledger.storage", "ledger.mapper")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_projections_import_no_eventsourcing_and_no_ledger_storage() -> None:
    folder = Path(projections.__file__).parent
    modules = sorted(folder.rglob("*.py"))
    assert modules
    for path in modules:
        bad = {
            name
            for name in _imports(path)
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
        }
        assert not bad, f"{path.name} imports {sorted(bad)}"
        text = path.read_text()
        for reach in ("ledger.app", "ledger.tables", ".datastore"):
            assert reach not in text, f"{path.name} reaches into {reach}"


def test_the_ledger_implements_the_port(config: Any, clock: Any) -> None:
    world = make_world(config, clock)
    try:
        world.add_action("R1.1")
        for i in range(4):
            world.client("sig").comment("R1.1", f"note {i}")
        ledger = world.ledger
        reader: LogReader = ledger  # checked by mypy: the Ledger has every method
        size = reader.tree_size()
        everything = list(reader.entries())
        assert len(everything) == size
        assert reader.leaf_entries(0, size) == everything
        assert reader.leaf_entries(2, 5) == everything[2:5]
        assert reader.leaf_entries(size - 2, size + 10) == everything[-2:]  # stops short
        assert reader.leaf_entries(size, size + 1) == []

        action = action_aggregate_id("R1.1")
        versions = [e.originator_version for e in ledger.aggregate_events(action)]
        assert versions == list(range(1, len(versions) + 1))
        assert [e.originator_version for e in reader.events_of(action, first_version=2)] == (
            versions[1:]
        )
        middle = reader.events_of(action, first_version=2, last_version=3)
        assert [e.originator_version for e in middle] == [2, 3]
        assert [e.originator_version for e in reader.events_of(PLAN_ID, last_version=1)] == [1]
        assert reader.plan() is not None and reader.directory() is not None

        assert reader.database.sql_dialect == ("postgresql" if config.uses_postgres else "sqlite")
        with reader.database.transaction() as cursor:
            cursor.execute("CREATE TABLE port_probe (n BIGINT)")
            cursor.execute("INSERT INTO port_probe VALUES (1)")
            assert cursor.rowcount == 1
        with reader.database.reading() as cursor:
            cursor.execute("SELECT n FROM port_probe")
            assert [row["n"] for row in cursor.fetchall()] == [1]
    finally:
        world.ledger.close()


def test_a_projector_does_not_keep_its_ledger_alive(config: Any, clock: Any) -> None:
    """The projector is cached per Ledger object in a weak mapping: what it holds (the
    log's database) must not refer back to the Ledger, or no Ledger would ever be freed."""
    world = make_world(config, clock)
    projector_for(world.ledger).catch_up(world.ledger)
    world.ledger.close()
    ref = weakref.ref(world.ledger)
    del world
    gc.collect()
    assert ref() is None
