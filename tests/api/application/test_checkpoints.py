"""What the log key signs beyond `checkpoint`: the newest checkpoint on demand (report),
the server's receipts, and its regular checkpoints (api/application/checkpoints.py)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from api.application.checkpoints import (
    RegularCheckpoints,
    held_log_signer,
    newest_checkpoint,
    server_receipts,
)
from api.application.reports import progress_report
from ledger.auditor.receipt import verify_receipt
from ledger.logkeys import home_keys, ledger_keys, rotate_log_key
from tests.support.world import World

AS_OF = datetime(2030, 1, 1, tzinfo=UTC)


def _grow(world: World, n: int = 1) -> None:
    for i in range(n):
        world.client("council.officer").comment("R1.1", f"note {i}")


def test_the_newest_checkpoint_is_signed_when_the_log_has_grown(world: World) -> None:
    stored = world.checkpoint()
    assert newest_checkpoint(world.ledger, world.log_signer) == stored  # nothing new
    _grow(world)
    assert newest_checkpoint(world.ledger, None) == stored  # no key: the latest, as it is
    fresh = newest_checkpoint(world.ledger, world.log_signer)
    assert fresh is not None and fresh.tree_size == world.ledger.tree_size() > stored.tree_size


def test_the_report_is_built_from_a_fresh_checkpoint_where_the_key_is(world: World) -> None:
    world.checkpoint()
    _grow(world, 2)
    old = progress_report(world.ledger, world.config, as_of=AS_OF)
    assert old.checkpoint.size == world.ledger.tree_size() - 2  # says the log has grown
    signer = held_log_signer(world.ledger, world.config)
    assert signer is not None
    built = progress_report(world.ledger, world.config, as_of=AS_OF, signer=signer)
    assert built.checkpoint.size == built.checkpoint.log_size == world.ledger.tree_size()


def test_no_log_key_no_signer(world: World) -> None:
    world.config.log_key_path.rename(world.config.log_key_path.with_suffix(".away"))
    assert held_log_signer(world.ledger, world.config) is None


def test_server_receipts_survive_a_log_key_rotation(world: World) -> None:
    appended = [world.client("council.officer").comment("R1.1", "appended, then rotated")]
    rotate_log_key(world.config, world.ledger)  # the key file now holds the new key
    keys = ledger_keys(world.ledger.tables, home_keys(world.config))
    (result,) = server_receipts(world.ledger, world.config, appended)
    receipt = result.receipt  # type: ignore[attr-defined]
    assert receipt is not None  # under the handover checkpoint, the old key's last
    assert verify_receipt(receipt, keys).size == world.ledger.tree_size()
    appended = [world.client("council.officer").comment("R1.1", "after the rotation")]
    (result,) = server_receipts(world.ledger, world.config, appended)
    assert verify_receipt(result.receipt, world.log_signer.verifier)  # type: ignore[attr-defined]
    world.config.log_key_path.unlink()
    (bare,) = server_receipts(world.ledger, world.config, appended)
    assert bare.receipt is None  # type: ignore[attr-defined]
    assert bare.leaf_index == appended[0].leaf_index  # the append still stands


def test_a_tick_signs_only_when_the_log_has_grown(world: World) -> None:
    regular = RegularCheckpoints(world.ledger, world.config, 60)
    signed = regular.tick()
    assert signed is not None and signed.tree_size == world.ledger.tree_size()
    assert regular.tick() is None
    _grow(world)
    seen: list[Any] = []
    regular.on_signed = seen.append
    again = regular.tick()
    assert again is not None and seen == [again]


def test_the_thread_signs_within_the_interval_and_stops(world: World) -> None:
    size = world.ledger.tree_size()
    regular = RegularCheckpoints(world.ledger, world.config, 0.05).start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            latest = world.ledger.latest_checkpoint()
            if latest is not None and latest.tree_size == size:
                break
            time.sleep(0.02)
        assert latest is not None and latest.tree_size == size
    finally:
        started = time.monotonic()
        regular.stop()
    assert time.monotonic() - started < 5
    _grow(world)
    time.sleep(0.2)
    assert world.ledger.latest_checkpoint().tree_size == size  # type: ignore[union-attr]
