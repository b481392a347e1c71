"""The headline: an operator with every capability it has (the admin key, the log key, the
database, the clock) cannot make a bundle pass `verify-bundle --trust` carrying a chair act
the chair did not sign (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from domain import DIRECTORY_ID, Directory, action_aggregate_id
from domain.charter import DEFAULT_APPOINTERS
from ledger.auditor import audit
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.ed25519 import encode_public_key
from ledger.auditor.merkle import CompactRange, leaf_hash
from ledger.bundle import export_bundle
from ledger.keys import KeyPair
from ledger.signer import Signer
from tests.support.attacks import accept
from tests.support.world import ORIGIN, World, make_world

R1_1 = action_aggregate_id("R1.1")


@pytest.fixture
def world(world: World) -> World:
    """The shared world's R1.1 accepted by the implementation group, waiting for the
    chair; a checkpoint."""
    accept(world)
    world.checkpoint()
    return world


def _export(world: World, out: Path) -> Path:
    export_bundle(world.ledger, world.vkey.encode(), out)
    return out


def _append_and_resign(world: World, bundle: Path, lines: list[bytes]) -> None:
    """What the operator does with the database and the log key: add entries, sign a
    checkpoint over them, make bundle.json agree."""
    entries = (bundle / "entries.jsonl").read_bytes().splitlines() + lines
    (bundle / "entries.jsonl").write_bytes(b"".join(line + b"\n" for line in entries))
    tree = CompactRange()
    for line in entries:
        tree.append(leaf_hash(line))
    note = Checkpoint(ORIGIN, tree.size, tree.root()).sign(world.log_signer)
    with (bundle / "checkpoints.jsonl").open("a") as records:
        records.write(json.dumps({"tree_size": tree.size, "note": note}) + "\n")
    meta = json.loads((bundle / "bundle.json").read_text())
    meta["tree_size"] = tree.size
    (bundle / "bundle.json").write_text(json.dumps(meta))


def test_an_honest_bundle_verifies_against_the_chairs_key(world: World, tmp_path: Path) -> None:
    report = audit(_export(world, tmp_path / "b"), log_key=world.vkey.encode(), trust=world.trust)
    assert report.ok, report.problems
    assert any("adopted the charter" in change for change in report.directory_changes)


def test_without_trust_the_verdict_is_never_ok(world: World, tmp_path: Path) -> None:
    report = audit(_export(world, tmp_path / "b"), log_key=world.vkey.encode())
    assert not report.problems and not report.ok and report.unpinned


def test_a_chair_the_operator_registers_fails_the_audit(world: World, tmp_path: Path) -> None:
    """Attack 1: the admin signs a registration of its own chair (the domain refuses it, so
    the operator writes it straight into the log) and that chair's sign-off, dated 2023."""
    bundle = _export(world, tmp_path / "b")
    fake = KeyPair.generate()
    admin = world.signer("admin")
    registration = admin.sign(
        Directory.UserRegistered.TYPE,
        DIRECTORY_ID,
        world.ledger.version_of(DIRECTORY_ID) + 1,
        {
            "user_id": "chair2",
            "name": "Chair",
            "role": "chair",
            "agency": None,
            "public_key": encode_public_key(fake.public_key),
        },
    )
    action = world.ledger.action("R1.1")
    assert action is not None
    sign_off = Signer("chair2", fake, ORIGIN, clock=world.clock).sign(
        "action.signed_off", R1_1, action.version + 1, {"level": "chair", "note": "verified"}
    )
    _append_and_resign(world, bundle, [registration.entry_bytes(), sign_off.entry_bytes()])
    report = audit(bundle, log_key=world.vkey.encode(), trust=world.trust)
    assert not report.ok
    assert {p.check for p in report.problems} & {"not authorised", "unknown signer"}


def test_a_whole_log_the_operator_made_with_its_own_charter_fails(
    config: Any, clock: Any, world: World, tmp_path: Path
) -> None:
    """Attack 1, the strong form: the operator, holding everything, builds a complete,
    self-consistent ledger with a charter of its own chair key. Every signature, checkpoint
    and rule holds; only the root is not the chair's, and that is what --trust catches."""
    forged_home = tmp_path / "forged"
    from ledger.config import LedgerConfig

    forged = make_world(LedgerConfig(home=forged_home), clock)
    forged.add_action("R1.1")
    forged.client("chair").comment("R1.1", "verified")
    forged.checkpoint()
    bundle = _export(forged, tmp_path / "forged-bundle")
    forged.ledger.close()
    report = audit(bundle, log_key=forged.vkey.encode(), trust=world.trust)
    assert not report.ok
    assert "authority not rooted" in {p.check for p in report.problems}
    assert DEFAULT_APPOINTERS  # the forged charter used the same table: only the key differs
