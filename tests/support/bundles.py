"""Exported bundles and what an operator holding the log key can do to them: rewrite the
entries, then sign a checkpoint over whatever they now are (tests/ledger/test_bundle.py
has its own copies of these, with the tamper matrix)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.merkle import CompactRange, leaf_hash
from ledger.bundle import export_bundle
from tests.support.world import World


def export(world: World, out: Path) -> Path:
    world.checkpoint()
    export_bundle(world.ledger, world.vkey.encode(), out)
    return out


def lines(bundle: Path) -> list[bytes]:
    return (bundle / "entries.jsonl").read_bytes().splitlines()


def write_lines(bundle: Path, entries: list[bytes]) -> None:
    (bundle / "entries.jsonl").write_bytes(b"".join(line + b"\n" for line in entries))


def resign(world: World, bundle: Path) -> None:
    """Sign a checkpoint over the entries as they now are and make bundle.json agree."""
    tree = CompactRange()
    for line in lines(bundle):
        tree.append(leaf_hash(line))
    note = Checkpoint(world.ledger.origin(), tree.size, tree.root()).sign(world.log_signer)
    with (bundle / "checkpoints.jsonl").open("a") as handle:
        handle.write(json.dumps({"tree_size": tree.size, "note": note}) + "\n")
    meta = json.loads((bundle / "bundle.json").read_text())
    meta["tree_size"] = tree.size
    (bundle / "bundle.json").write_text(json.dumps(meta))


def append_lines(world: World, bundle: Path, *extra: bytes) -> int:
    """Append raw lines to the bundle's entries and re-sign; the first one's leaf index."""
    before = lines(bundle)
    write_lines(bundle, [*before, *extra])
    resign(world, bundle)
    return len(before)


def append_crafted(world: World, bundle: Path, *entries: Any) -> int:
    return append_lines(world, bundle, *(entry.entry_bytes() for entry in entries))


def problems(report: Any) -> dict[int | None, set[str]]:
    found: dict[int | None, set[str]] = {}
    for problem in report.problems:
        found.setdefault(problem.leaf_index, set()).add(problem.check)
    return found
