"""Export ends at the newest checkpoint: given a way to sign one (the log key's holder),
it signs a fresh checkpoint when the log has grown instead of refusing (ledger/bundle.py)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.auditor import audit
from ledger.bundle import ExportError, export_bundle
from tests.support.world import World, make_world


@pytest.fixture
def world(config: Any, clock: Any) -> Iterator[World]:
    w = make_world(config, clock)
    w.add_action("R1.1")
    w.checkpoint()
    w.client("sig").comment("R1.1", "after the checkpoint")
    yield w
    w.ledger.close()


def test_export_signs_a_fresh_checkpoint_when_the_log_has_grown(
    world: World, tmp_path: Path
) -> None:
    vkey = world.config.log_vkey_path.read_text()
    sign = functools.partial(world.ledger.sign_checkpoint, world.log_signer)
    summary = export_bundle(world.ledger, vkey, tmp_path / "b", sign_checkpoint=sign)
    assert summary.entries == world.ledger.tree_size()
    assert world.ledger.latest_checkpoint().tree_size == summary.entries  # type: ignore[union-attr]
    report = audit(tmp_path / "b", log_key=vkey)
    assert not report.problems  # the latest checkpoint covers every entry


def test_export_still_refuses_when_no_fresh_checkpoint_comes(world: World, tmp_path: Path) -> None:
    vkey = world.config.log_vkey_path.read_text()
    asked: list[int] = []
    with pytest.raises(ExportError, match="does not cover"):
        export_bundle(world.ledger, vkey, tmp_path / "b", sign_checkpoint=lambda: asked.append(1))
    assert asked == [1] and not (tmp_path / "b").exists()
