"""The ledger's append path on both backends: what it accepts and what it refuses."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest

from domain import Action, NotPermitted, Status, action_aggregate_id
from ledger.auditor import merkle
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.entry import SignedEntry
from ledger.errors import ClockSkew, InvalidEntry, SignatureRejected, VersionConflict
from ledger.keys import KeyPair
from ledger.service import Ledger
from ledger.signer import Signer
from ledger.verify import verify_ledger
from tests.support.world import World, make_world


@pytest.fixture
def world(config, clock) -> World:
    w = make_world(config, clock)
    w.add_action("R1.1")
    yield w
    w.ledger.close()


def test_a_full_lifecycle_is_appended_integrated_and_verifies(world: World) -> None:
    world.client("council.officer").change_status("R1.1", Status.IN_PROGRESS)
    sha = world.evidence("R1.1", b"minutes of the meeting")
    world.client("council.officer").change_status("R1.1", Status.EVIDENCE_SUBMITTED)
    world.client("council.lead").sign_off("R1.1", "complete")
    world.client("sig").sign_off("R1.1", "accepted")
    world.client("chair").sign_off("R1.1", "verified")
    action = world.ledger.action("R1.1")
    assert action is not None and action.status is Status.VERIFIED
    assert action.sign_offs and all(s.evidence == [sha] for s in action.sign_offs.values())
    world.checkpoint()
    report = verify_ledger(world.ledger, world.vkey, workers=1)
    assert report.ok, report.problems
    assert report.entries == world.ledger.tree_size() == report.signatures_verified


def test_leaf_indexes_are_dense_and_in_log_order(world: World) -> None:
    results = world.ledger.append(
        [
            world.signer("council.officer").sign(
                Action.CommentAdded.TYPE,
                action_aggregate_id("R1.1"),
                v,
                {"kind": "comment", "text": f"note {v}"},
            )
            for v in (2, 3, 4)
        ]
    )
    size = world.ledger.tree_size()
    assert [r.leaf_index for r in results] == [size - 3, size - 2, size - 1]
    assert [r.version for r in results] == [2, 3, 4]


def test_inclusion_and_consistency_proofs_verify_against_signed_checkpoints(world: World) -> None:
    first = Checkpoint.verify(world.checkpoint().note, world.vkey)
    for i in range(5):
        world.client("council.officer").comment("R1.1", f"comment {i}")
    second = Checkpoint.verify(world.checkpoint().note, world.vkey)
    assert second.size == first.size + 5
    proof = world.ledger.consistency_proof(first.size, second.size)
    assert merkle.verify_consistency(
        first.size, second.size, first.root_hash, second.root_hash, proof
    )
    for index, data in world.ledger.entries():
        path = world.ledger.inclusion_proof(index, second.size)
        assert merkle.verify_inclusion(
            index, second.size, merkle.leaf_hash(data), path, second.root_hash
        )
    assert world.ledger.root_hash(second.size) == second.root_hash


def test_a_checkpoint_is_not_signed_twice_for_one_size(world: World) -> None:
    assert world.checkpoint() == world.checkpoint()


def test_a_wrong_signature_is_refused_and_nothing_is_appended(world: World) -> None:
    size = world.ledger.tree_size()
    entry = world.client("council.officer").entry(
        Action.CommentAdded.TYPE, action_aggregate_id("R1.1"), {"kind": "comment", "text": "x"}
    )
    forged = dataclasses.replace(entry, signature=bytes(64))
    with pytest.raises(SignatureRejected, match="does not verify"):
        world.ledger.append([forged])
    tampered_body = dataclasses.replace(
        entry, body=dataclasses.replace(entry.body, payload={"kind": "comment", "text": "y"})
    )
    with pytest.raises(SignatureRejected):
        world.ledger.append([tampered_body])
    assert world.ledger.tree_size() == size


def test_an_unknown_key_is_refused(world: World) -> None:
    stranger = Signer(
        "council.officer", KeyPair.generate(), world.ledger.origin(), clock=world.clock
    )
    entry = stranger.sign(
        Action.CommentAdded.TYPE,
        action_aggregate_id("R1.1"),
        2,
        {"kind": "comment", "text": "hello"},
    )
    with pytest.raises(NotPermitted) as refused:
        world.ledger.append([entry])
    assert refused.value.rule == "signature.unknown_key"


def test_an_unknown_user_is_refused(world: World) -> None:
    stranger = Signer("mallory", KeyPair.generate(), world.ledger.origin(), clock=world.clock)
    entry = stranger.sign(
        Action.CommentAdded.TYPE,
        action_aggregate_id("R1.1"),
        2,
        {"kind": "comment", "text": "hello"},
    )
    with pytest.raises(NotPermitted) as refused:
        world.ledger.append([entry])
    assert refused.value.rule == "signature.unknown_user"


def test_a_revoked_key_is_refused_after_revocation_and_old_entries_still_verify(
    world: World,
) -> None:
    world.client("council.officer").comment("R1.1", "before revocation")
    key_id = world.keys["council.officer"].key_id
    world.client("council.lead").revoke_key("council.officer", key_id, "laptop lost")
    with pytest.raises(NotPermitted) as refused:
        world.client("council.officer").comment("R1.1", "after revocation")
    assert refused.value.rule == "signature.revoked_key"
    new_key = KeyPair.generate()
    world.client("council.lead").rotate_key("council.officer", new_key.public_key, "replacement")
    world.keys["council.officer"] = new_key
    world.client("council.officer").comment("R1.1", "with the new key")
    world.checkpoint()
    assert verify_ledger(world.ledger, world.vkey, workers=1).ok


def test_a_role_that_may_not_act_is_refused_with_the_rule_named(world: World) -> None:
    world.client("council.officer").change_status("R1.1", Status.IN_PROGRESS)
    with pytest.raises(NotPermitted, match=r"rule: action\.block"):
        world.client("police.officer").change_status("R1.1", Status.BLOCKED, "not ours")
    with pytest.raises(NotPermitted, match=r"rule: action\.comment"):
        world.client("scrutiny").comment("R1.1", "scrutiny only reads")


def test_unsigned_or_malformed_entries_are_refused(world: World) -> None:
    entry = world.client("council.officer").entry(
        Action.CommentAdded.TYPE, action_aggregate_id("R1.1"), {"kind": "comment", "text": "x"}
    )
    wrong_payload = dataclasses.replace(
        entry, body=dataclasses.replace(entry.body, payload={"kind": "comment"})
    )
    with pytest.raises(InvalidEntry, match="missing"):
        world.ledger.append([wrong_payload])
    unknown_type = dataclasses.replace(
        entry, body=dataclasses.replace(entry.body, type="action.deleted")
    )
    with pytest.raises(InvalidEntry, match="unknown event type"):
        world.ledger.append([unknown_type])


def test_a_timestamp_far_from_the_ledger_clock_is_refused(world: World) -> None:
    signer = world.signer("council.officer")
    signer.clock = lambda: world.clock.now + timedelta(hours=1)
    entry = signer.sign(
        Action.CommentAdded.TYPE,
        action_aggregate_id("R1.1"),
        2,
        {"kind": "comment", "text": "from the future"},
    )
    with pytest.raises(ClockSkew):
        world.ledger.append([entry])


def test_a_stale_version_is_a_conflict(world: World) -> None:
    a = world.client("council.officer").entry(
        Action.CommentAdded.TYPE, action_aggregate_id("R1.1"), {"kind": "comment", "text": "a"}
    )
    b = world.client("council.lead").entry(
        Action.CommentAdded.TYPE, action_aggregate_id("R1.1"), {"kind": "comment", "text": "b"}
    )
    world.ledger.append([a])
    with pytest.raises(VersionConflict) as conflict:
        world.ledger.append([b])
    assert conflict.value.current_version == a.body.version


def test_a_batch_is_all_or_nothing(world: World) -> None:
    size = world.ledger.tree_size()
    good = world.client("council.officer").entry(
        Action.CommentAdded.TYPE, action_aggregate_id("R1.1"), {"kind": "comment", "text": "ok"}
    )
    bad = world.signer("scrutiny").sign(
        Action.CommentAdded.TYPE,
        action_aggregate_id("R1.1"),
        good.body.version + 1,
        {"kind": "comment", "text": "refused"},
    )
    with pytest.raises(NotPermitted):
        world.ledger.append([good, bad])
    assert world.ledger.tree_size() == size
    assert world.ledger.version_of(action_aggregate_id("R1.1")) == good.body.version - 1


def test_the_genesis_entry_cannot_be_replayed(world: World) -> None:
    _, genesis_bytes = next(world.ledger.entries())
    genesis = SignedEntry.from_entry_bytes(genesis_bytes)
    with pytest.raises((InvalidEntry, VersionConflict)):
        world.ledger.append([genesis])


def test_concurrent_writers_from_two_ledger_instances_never_fork_the_log(world: World) -> None:
    """Two processes' worth of Ledger objects on one store: one writer wins each version,
    the other gets a conflict, and the tree stays exactly the notification log."""
    other = Ledger(world.config, clock=world.clock)
    outcomes: list[str] = []

    def write(ledger: Ledger, user: str, n: int) -> None:
        signer = world.signer(user)
        for i in range(n):
            try:
                version = ledger.version_of(action_aggregate_id("R1.1")) + 1
                ledger.append(
                    [
                        signer.sign(
                            Action.CommentAdded.TYPE,
                            action_aggregate_id("R1.1"),
                            version,
                            {"kind": "comment", "text": f"{user} {i}"},
                        )
                    ]
                )
                outcomes.append("ok")
            except VersionConflict:
                outcomes.append("conflict")

    threads = [
        threading.Thread(target=write, args=(world.ledger, "council.officer", 15)),
        threading.Thread(target=write, args=(other, "council.lead", 15)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    assert outcomes.count("ok") >= 15
    world.checkpoint()
    report = verify_ledger(world.ledger, world.vkey, workers=1)
    assert report.ok, report.problems
    assert report.entries == world.ledger.tree_size()
