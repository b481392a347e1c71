"""A recommendation's timeline reads the projection in a constant number of statements,
however many actions it has, and answers exactly as before (issue 18, item 3).

Reproduced before the fix: `recommendation_timeline` ran one `history` query per action
on the as-of projection (and read the aggregate table whole), so a recommendation of
12 actions cost 10 more statements than one of 2, and each of those queries brought up
to `limit` rows with their snapshots into Python. Now one statement
(`ProjectionTables.latest_of`) reads the rows of all the actions together; only the
event store is still read once per action shown (the signed payloads are only there).
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest

from projections.timeline import Timeline, action_timeline, recommendation_timeline
from tests.support.world import World, make_world

LIMITS = (0, 1, 2, 3, 4, 5, 8, 13, 21, 34, None)


class _CountingCursor:
    """A cursor that counts the statements run through it."""

    def __init__(self, cursor: Any, counts: list[str]) -> None:
        self._cursor, self._counts = cursor, counts

    def execute(self, statement: Any, *params: Any) -> Any:
        self._counts.append(str(statement))
        return self._cursor.execute(statement, *params)

    def executemany(self, statement: Any, *params: Any) -> Any:
        self._counts.append(str(statement))
        return self._cursor.executemany(statement, *params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def counting(monkeypatch: pytest.MonkeyPatch, world: World) -> list[str]:
    """Every statement later run on the log's database through its tables (what the
    projection reads and writes with), recorded in the list returned."""
    statements: list[str] = []
    tables = world.ledger.tables
    for name in ("reading", "transaction"):
        opened = getattr(tables, name)

        @contextmanager
        def wrapped(opened: Any = opened) -> Iterator[Any]:
            with opened() as cursor:
                yield _CountingCursor(cursor, statements)

        monkeypatch.setattr(tables, name, wrapped)
    return statements


def add_actions(world: World, first: int, last: int) -> None:
    """Actions R1.first .. R1.last, each with two comments."""
    for i in range(first, last + 1):
        world.add_action(f"R1.{i}")
        for n in range(2):
            world.client("council.officer").comment(f"R1.{i}", f"note {n}")


@pytest.fixture
def world(config: Any, clock: Any) -> Iterator[World]:
    w = make_world(config, clock)
    yield w
    w.ledger.close()


def test_the_statements_do_not_grow_with_the_actions(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    events_read: list[Any] = []
    events_of = world.ledger.events_of

    def counted_events_of(aggregate_id: Any, **kwargs: Any) -> Any:
        events_read.append(aggregate_id)
        return events_of(aggregate_id, **kwargs)

    monkeypatch.setattr(world.ledger, "events_of", counted_events_of)
    costs = []
    for first, actions in ((1, 2), (3, 12)):
        add_actions(world, first, actions)
        for limit in (None, 5):
            recommendation_timeline(world.ledger, 1, limit=limit)  # caught up first
            statements = counting(monkeypatch, world)
            events_read.clear()
            timeline = recommendation_timeline(world.ledger, 1, limit=limit)
            assert timeline.total == 1 + 3 * actions
            shown = {e.action_id for e in timeline.entries} - {None}
            assert len(events_read) == 1 + len(shown)  # the plan's, then one per action
            costs.append(len(statements))
            monkeypatch.undo()
            monkeypatch.setattr(world.ledger, "events_of", counted_events_of)
    assert costs[0] == costs[1] == costs[2] == costs[3], costs
    assert costs[0] <= 8, costs  # catch-up checks, the plan, the cut, the actions' rows


def _expected(full: Timeline, limit: int | None) -> list[Any]:
    if limit is None:
        return full.entries
    return full.entries[-limit:] if limit else []


def _check(world: World, **cut: Any) -> None:
    """Every limit against the full timeline, and the full one against its actions'."""
    for readable in (lambda _: True, lambda action_id: action_id != "R1.1"):
        full = recommendation_timeline(world.ledger, 1, readable=readable, **cut)
        merged = [e for e in full.entries if e.action_id is None]
        for action_id, state in full.state["actions"].items():
            alone = action_timeline(world.ledger, action_id, **cut)
            assert alone.state == state
            merged += alone.entries
        assert sorted(merged, key=lambda e: e.leaf_index) == full.entries
        assert full.total == len(full.entries)
        for limit in LIMITS:
            latest = recommendation_timeline(world.ledger, 1, readable=readable, limit=limit, **cut)
            assert latest.entries == _expected(full, limit), (cut, limit)
            assert (latest.state, latest.total) == (full.state, full.total)
            if "R1.1" in full.state["actions"]:
                one = action_timeline(world.ledger, "R1.1", limit=limit, **cut)
                every = action_timeline(world.ledger, "R1.1", **cut)
                assert one.entries == _expected(every, limit)
                assert (one.state, one.total) == (every.state, every.total)


def test_latest_entries_are_the_same_however_they_are_spread(world: World) -> None:
    """One action with most of the entries, then all of them taking turns: each floor of
    `latest_of` (the skewed one and the even one) is the one that bites somewhere, and
    neither may cut off an entry that the full timeline shows."""
    for i in range(1, 5):
        world.add_action(f"R1.{i}")
    officer = world.client("council.officer")
    for n in range(30):  # skewed: R1.1 has nearly all of them
        world.clock.advance(minutes=7)
        officer.comment("R1.1" if n % 10 else f"R1.{2 + n // 10}", f"skewed {n}")
    for n in range(24):  # even: round robin
        world.clock.advance(minutes=5)
        officer.comment(f"R1.{1 + n % 4}", f"even {n}")
    size = world.ledger.tree_size()
    entries = recommendation_timeline(world.ledger, 1).entries
    added = entries[0].leaf_index  # the plan's entry adding recommendation 1
    for position in [*range(added + 1, size + 1, 4), size]:
        _check(world, position=position)
    for moment in [e.timestamp for e in entries[1:]][::5]:
        as_of = world.clock.now.fromisoformat(moment)
        _check(world, as_of=as_of)
        _check(world, as_of=as_of - timedelta(microseconds=1))
