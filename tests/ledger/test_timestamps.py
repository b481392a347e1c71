"""Entry timestamps (issue 13, item 8): a small forward bound, a larger backward one, and
no future-dated entry can block anyone else's entries on that aggregate. On SQLite and
PostgreSQL, with the simulated clock."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain import Action, action_aggregate_id
from ledger.auditor.entry import SignedEntry
from ledger.config import DEFAULT_BACKWARD_SKEW, DEFAULT_FORWARD_SKEW, ConfigError, LedgerConfig
from ledger.errors import ClockSkew, FutureFloor
from ledger.keys import KeyPair
from ledger.signer import FLOOR_AHEAD, Signer
from ledger.timestamps import STEP
from tests.support.clock import Clock
from tests.support.world import ORIGIN, World, make_world

R1_1 = action_aggregate_id("R1.1")
FORWARD = DEFAULT_FORWARD_SKEW


class StoppedClock(Clock):
    """The simulated clock, stopped: every reading is the same moment until advanced."""

    def __call__(self) -> datetime:
        return self.now


def _dated(world: World, user: str, at: Callable[[], datetime]) -> Signer:
    return dataclasses.replace(world.signer(user), clock=at)


def _comment(world: World, signer: Signer, text: str, *, floor: bool = True) -> SignedEntry:
    """The next comment on R1.1; `floor=False` dates it by the signer's clock alone."""
    following = world.ledger.next_entry(R1_1)
    return signer.sign(
        Action.CommentAdded.TYPE,
        R1_1,
        following.version,
        {"kind": "comment", "text": text},
        not_before=following.not_before if floor else None,
    )


def _at_the_ledgers_next_reading(world: World, offset: timedelta) -> Callable[[], datetime]:
    """A signer's clock that reads `offset` from what the ledger's simulated clock will
    read when it checks the entry (it ticks once per append)."""
    return lambda: world.clock.now + timedelta(seconds=1) + offset


def test_an_entry_dated_at_the_forward_bound_blocks_nobody(world: World) -> None:
    """The attack: an officer dates an entry as far ahead as the ledger allows; the
    chair's and the implementation group's entries right after still go in, each dated
    just after the one before it."""
    officer = _dated(world, "council.officer", _at_the_ledgers_next_reading(world, FORWARD))
    ahead = _comment(world, officer, "dated ahead")
    world.ledger.append([ahead])
    assert ahead.body.timestamp == world.clock.now + FORWARD  # exactly at the bound

    chair = world.client("chair").comment("R1.1", "right after")
    sig = world.client("sig").comment("R1.1", "and again")
    assert (chair.version, sig.version) == (ahead.body.version + 1, ahead.body.version + 2)
    stamps = [e.timestamp for e in world.ledger.aggregate_events(R1_1)[-3:]]
    assert stamps == [ahead.body.timestamp, ahead.body.timestamp + STEP, stamps[1] + STEP]
    assert stamps[2] > world.clock.now  # still ahead of the clock: no one had to wait


def test_successors_on_a_stopped_clock_are_accepted_past_the_bound(config: Any) -> None:
    """Each successor is dated one microsecond after the last, so a run of them on a
    clock that does not move goes past now + forward: the floor itself is accepted."""
    clock = StoppedClock()
    world = make_world(config, clock)
    try:
        world.add_action("R1.1")
        ahead = _comment(world, _dated(world, "council.officer", lambda: clock.now + FORWARD), "x")
        world.ledger.append([ahead])
        for user in ("chair", "sig", "council.lead", "chair"):
            world.client(user).comment("R1.1", f"{user} after")
        last = world.ledger.aggregate_events(R1_1)[-1].timestamp
        assert last == ahead.body.timestamp + 4 * STEP > clock.now + FORWARD
        # Only the floor itself: no one gains a later date by riding on it.
        beyond = _comment(world, _dated(world, "sig", lambda: last + 2 * STEP), "later")
        with pytest.raises(ClockSkew, match=r"too far in the future.*or exactly"):
            world.ledger.append([beyond])
    finally:
        world.ledger.close()


def test_an_entry_beyond_the_forward_bound_is_refused(world: World) -> None:
    late = STEP  # one microsecond too far
    signer = _dated(world, "council.officer", _at_the_ledgers_next_reading(world, FORWARD + late))
    entry = _comment(world, signer, "too far ahead")
    with pytest.raises(ClockSkew, match=r"too far in the future.*at most 5 s ahead"):
        world.ledger.append([entry])


def test_the_backward_bound_is_larger_and_still_ordered(world: World) -> None:
    """A body prepared a few minutes ago is still accepted; one older than the bound is not,
    and none may go before its aggregate's previous entry."""
    back = DEFAULT_BACKWARD_SKEW
    slow = _dated(world, "chair", _at_the_ledgers_next_reading(world, -back + timedelta(seconds=1)))
    with pytest.raises(ClockSkew, match="earlier than the aggregate's last entry"):
        world.ledger.append([_comment(world, slow, "before the previous entry", floor=False)])
    world.clock.advance(minutes=10)
    world.ledger.append([_comment(world, slow, "prepared minutes ago")])
    world.clock.advance(minutes=10)
    stale = _dated(world, "chair", _at_the_ledgers_next_reading(world, -back - STEP))
    with pytest.raises(ClockSkew, match="behind the ledger's clock"):
        world.ledger.append([_comment(world, stale, "too old", floor=False)])


def test_the_bounds_come_from_the_environment(tmp_path: Any) -> None:
    env = {"INQUIRY_LEDGER_HOME": str(tmp_path)}
    config = LedgerConfig.from_env(env)
    assert (config.max_forward_skew, config.max_backward_skew) == (FORWARD, DEFAULT_BACKWARD_SKEW)
    config = LedgerConfig.from_env(
        {
            **env,
            "INQUIRY_LEDGER_MAX_FORWARD_SKEW": "2.5",
            "INQUIRY_LEDGER_MAX_BACKWARD_SKEW": "900",
        }
    )
    assert config.max_forward_skew == timedelta(seconds=2.5)
    assert config.max_backward_skew == timedelta(minutes=15)
    for bad in ("soon", "-1", "nan", "1e9"):
        with pytest.raises(ConfigError, match="INQUIRY_LEDGER_MAX_FORWARD_SKEW"):
            LedgerConfig.from_env({**env, "INQUIRY_LEDGER_MAX_FORWARD_SKEW": bad})


def test_a_configured_forward_bound_is_the_ledgers(config: LedgerConfig, clock: Clock) -> None:
    world = make_world(dataclasses.replace(config, max_forward_skew=timedelta(seconds=1)), clock)
    try:
        world.add_action("R1.1")
        two = _at_the_ledgers_next_reading(world, timedelta(seconds=2))
        with pytest.raises(ClockSkew, match="at most 1 s ahead"):
            world.ledger.append([_comment(world, _dated(world, "chair", two), "2 s ahead")])
    finally:
        world.ledger.close()


def test_a_signer_does_not_follow_a_floor_far_in_the_future() -> None:
    # An operator who future-dates one entry on an action (by the database or the clock)
    # must not drag every later entry on it into that future, where answers "as of" the
    # dates between would not see them: the signer refuses, and signs nothing.
    now = datetime(2023, 1, 2, 9, 0, tzinfo=UTC)
    signer = Signer("chair", KeyPair.generate(), ORIGIN, clock=lambda: now)
    aggregate = action_aggregate_id("R1.1")
    close = signer.sign("action.comment_added", aggregate, 3, {}, not_before=now + FLOOR_AHEAD)
    assert close.body.timestamp == now + FLOOR_AHEAD  # two clocks may disagree a little
    with pytest.raises(FutureFloor, match="nothing was signed"):
        signer.sign(
            "action.comment_added", aggregate, 3, {}, not_before=datetime(2031, 1, 1, tzinfo=UTC)
        )
