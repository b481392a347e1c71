"""Short histories that ledger tests write into the small world (tests/support/world.py,
the `world` fixture of tests/conftest.py: action R1.1, led by council, not started)."""

from __future__ import annotations

from domain import Status
from tests.support.world import World


def agency_signed_off(world: World, *evidence: bytes, action_id: str = "R1.1") -> list[str]:
    """Take the action (led by council, not started) to `agency_signed_off`: council's
    officer starts it, attaches each piece of `evidence` and submits it, and council's lead
    signs it off. Returns the evidence's SHA-256 hashes."""
    officer = world.client("council.officer")
    officer.change_status(action_id, Status.IN_PROGRESS)
    hashes = [world.evidence(action_id, content) for content in evidence]
    officer.change_status(action_id, Status.EVIDENCE_SUBMITTED)
    world.client("council.lead").sign_off(action_id, "complete")
    return hashes


def review_notes(world: World, count: int, action_id: str = "R1.1") -> None:
    """`count` comments of the implementation group on the action: "review note 0", ..."""
    for i in range(count):
        world.client("sig").comment(action_id, f"review note {i}")


def under_a_checkpoint(world: World, note: str) -> World:
    """`world` with a `note` of council's officer on R1.1 and a checkpoint over the log:
    a checkpoint for a witness to cosign, and a first entry after the action's."""
    world.client("council.officer").comment("R1.1", note)
    world.checkpoint()
    return world
