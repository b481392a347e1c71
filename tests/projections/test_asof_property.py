"""Property: over random valid histories (corrections, returns, revocations, merges,
withdrawals, chair outcomes, evidence withdrawn and erased, formal responses and changes
of their vocabulary), the projection caught up
incrementally at random moments holds exactly the rows a rebuild from scratch writes,
and its answer at random positions and moments is the full replay's answer.

Hypothesis runs on SQLite (a fresh ledger per example); the same generator drives a
seeded history on both SQLite and PostgreSQL below.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.auditor.entry import SignedEntry
from ledger.config import LedgerConfig
from projections.asof import replay_status, status_as_of
from projections.projector import Projector, projector_for
from tests.support import asof_history
from tests.support.clock import Clock
from tests.support.world import World, make_world

CORRECTIONS = (
    "returned",
    "sign_off_revoked",
    "merged",
    "withdrawn",
    "amended",
    "evidence_withdrawn",
    "evidence_erased",
    "rag_rated",
)

STEP = st.tuples(
    st.integers(0, len(asof_history.SCHEDULE) - 1),
    st.integers(0, len(asof_history.ACTIONS) - 1),
    st.sampled_from([0, 0, 1, 5, 30]),
)


def _check(world: World, steps: list[tuple[int, int, int]], catch_up_every: int, rng: Any) -> None:
    ledger = world.ledger
    projector = projector_for(ledger)
    for start in range(0, len(steps), catch_up_every):
        asof_history.run(world, steps[start : start + catch_up_every])
        projector.catch_up(ledger)
    scratch = Projector(ledger, prefix="scratch", page=rng.choice([1, 3, 50]))
    scratch.rebuild(ledger)
    assert projector.tables.dump() == scratch.tables.dump()
    size = ledger.tree_size()
    positions = {0, size, size + 1, *(rng.randrange(size + 1) for _ in range(4))}
    for position in sorted(positions):
        assert status_as_of(ledger, position=position) == replay_status(
            ledger, position=position
        ), position
    moments = asof_history.cuts_in_time(world)
    for moment in rng.sample(moments, min(6, len(moments))):
        assert status_as_of(ledger, as_of=moment) == replay_status(ledger, as_of=moment), moment


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    steps=st.lists(STEP, min_size=1, max_size=40),
    catch_up_every=st.integers(1, 15),
    seed=st.integers(0, 2**32 - 1),
)
def test_incremental_equals_rebuild_and_replay_on_random_histories(
    steps: list[tuple[int, int, int]], catch_up_every: int, seed: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        world = make_world(LedgerConfig(home=Path(folder) / "home"), Clock())
        try:
            asof_history.add_actions(world)
            _check(world, steps, catch_up_every, random.Random(seed))
        finally:
            world.ledger.close()


def test_a_long_seeded_history_on_both_backends(config: Any, clock: Any) -> None:
    rng = random.Random(20230301)  # a seed whose history has every kind of entry below
    world = make_world(config, clock)
    try:
        asof_history.add_actions(world)
        # Random lifecycle steps (no merge or withdrawal: they end an action for good),
        # then a merge and a withdrawal, then more random steps on what is left open.
        lasting = [
            i for i, op in enumerate(asof_history.SCHEDULE) if op not in ("merge", "withdraw")
        ]

        def steps(n: int) -> list[tuple[int, int, int]]:
            return [
                (rng.choice(lasting), rng.randrange(5), rng.choice([0, 2, 9])) for _ in range(n)
            ]

        projector = projector_for(world.ledger)
        asof_history.run(world, steps(150))
        projector.catch_up(world.ledger)
        for operation in ("merge", "withdraw"):  # on the first action still open
            assert any(
                asof_history.apply(world, operation, action_id, 0)
                for action_id in asof_history.ACTIONS
            ), operation
        _check(world, steps(50), 17, rng)
        # Every kind of correction happened, so the comparison means something.
        types = {SignedEntry.from_entry_bytes(data).body.type for _, data in world.ledger.entries()}
        for kind in CORRECTIONS:
            assert f"action.{kind}" in types, kind
        responses = {"action.response_recorded", "plan.response_recorded"}
        assert responses | {"plan.response_vocabulary_set"} <= types
    finally:
        world.ledger.close()
