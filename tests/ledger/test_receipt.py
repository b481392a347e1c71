"""Receipts: the format (ledger/auditor/receipt.py), issuing them for a batch with one
checkpoint signature (ledger/receipt.py), and what their verification refuses."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import pytest

from domain import Action, action_aggregate_id
from ledger import merkle
from ledger.auditor.merkle import ProofError
from ledger.auditor.note import NoteSigner
from ledger.auditor.receipt import (
    RECEIPT_FORMAT,
    Receipt,
    ReceiptError,
    check_inclusion,
    verify_receipt,
)
from ledger.keys import KeyPair
from ledger.receipt import issue_receipts, with_receipts
from tests.support.world import ORIGIN, World


def _comments(world: World, n: int) -> list[Any]:
    """Append n comments as ONE batch; return the Appended results."""
    officer = world.signer("council.officer")
    aggregate = action_aggregate_id("R1.1")
    version = world.ledger.version_of(aggregate)
    entries = [
        officer.sign(
            Action.CommentAdded.TYPE,
            aggregate,
            version + 1 + i,
            {"kind": "comment", "text": f"note {i}"},
        )
        for i in range(n)
    ]
    return world.ledger.append(entries)


def _entry_bytes(world: World, leaf: int) -> bytes:
    return world.ledger.leaf_entries(leaf, leaf + 1)[0][1]


def test_a_batch_gets_one_checkpoint_and_every_receipt_verifies(world: World) -> None:
    appended = _comments(world, 5)
    stored_before = len(world.ledger.tables.checkpoints())
    receipts = issue_receipts(world.ledger, world.log_signer, [a.leaf_index for a in appended])
    assert len({r.checkpoint for r in receipts}) == 1  # one signature for the batch
    for a, receipt in zip(appended, receipts, strict=True):
        checkpoint = verify_receipt(receipt, world.vkey, _entry_bytes(world, a.leaf_index))
        assert checkpoint.origin == ORIGIN
        assert checkpoint.size >= receipt.leaf_index + 1
        assert checkpoint.size == world.ledger.tree_size()
        assert checkpoint.root_hash == world.ledger.root_hash()
    # not stored: one checkpoint per request would bloat the table (ledger/receipt.py)
    assert len(world.ledger.tables.checkpoints()) == stored_before


def test_a_stored_checkpoint_of_exactly_this_tree_is_reused(world: World) -> None:
    appended = _comments(world, 2)
    stored = world.checkpoint()
    receipts = with_receipts(world.ledger, world.log_signer, appended)
    assert [r.receipt.checkpoint for r in receipts] == [stored.note, stored.note]  # type: ignore[union-attr]
    assert [r.leaf_index for r in receipts] == [a.leaf_index for a in appended]


def test_an_older_leaf_is_proven_in_the_current_tree(world: World) -> None:
    first = _comments(world, 1)[0]
    _comments(world, 6)
    (receipt,) = issue_receipts(world.ledger, world.log_signer, [first.leaf_index])
    checkpoint = verify_receipt(receipt, world.vkey, _entry_bytes(world, first.leaf_index))
    assert checkpoint.size == world.ledger.tree_size() > first.leaf_index + 1


def test_a_leaf_not_in_the_tree_yet_gets_no_receipt(world: World) -> None:
    with pytest.raises(ProofError):
        issue_receipts(world.ledger, world.log_signer, [world.ledger.tree_size()])
    assert issue_receipts(world.ledger, world.log_signer, []) == []


def test_a_key_other_than_the_logs_signs_no_receipt(world: World) -> None:
    leaf = _comments(world, 1)[0].leaf_index
    with pytest.raises(ValueError, match="the log is"):
        issue_receipts(world.ledger, NoteSigner("other.example/log", KeyPair.generate()), [leaf])
    from ledger.errors import WrongLogKey

    with pytest.raises(WrongLogKey):
        issue_receipts(world.ledger, NoteSigner(ORIGIN, KeyPair.generate()), [leaf])


def test_the_json_form_round_trips_and_is_strict(world: World) -> None:
    leaf = _comments(world, 1)[0].leaf_index
    (receipt,) = issue_receipts(world.ledger, world.log_signer, [leaf])
    obj = receipt.to_json()
    assert obj["format"] == RECEIPT_FORMAT
    assert Receipt.from_json(json.loads(json.dumps(obj))) == receipt
    bad_cases: list[dict[str, Any]] = [
        {**obj, "extra": 1},
        {k: v for k, v in obj.items() if k != "leaf_hash"},
        {**obj, "format": "inquiry-ledger/receipt/v0"},
        {**obj, "leaf_index": -1},
        {**obj, "leaf_index": True},
        {**obj, "leaf_index": "3"},
        {**obj, "leaf_hash": obj["leaf_hash"].rstrip("=")},  # not canonical base64
        {**obj, "leaf_hash": base64.b64encode(b"short").decode()},
        {**obj, "inclusion_proof": "not a list"},
        {**obj, "inclusion_proof": [1]},
        {**obj, "checkpoint": 5},
    ]
    for bad in bad_cases:
        with pytest.raises(ReceiptError):
            Receipt.from_json(bad)
    with pytest.raises(ReceiptError):
        Receipt.from_json([obj])


def test_verification_refuses_what_does_not_prove_the_leaf(world: World) -> None:
    appended = _comments(world, 3)
    receipts = issue_receipts(world.ledger, world.log_signer, [a.leaf_index for a in appended])
    receipt, entry = receipts[1], _entry_bytes(world, appended[1].leaf_index)
    verify_receipt(receipt, world.vkey, entry)
    other_log_key = NoteSigner(ORIGIN, KeyPair.generate()).verifier
    with pytest.raises(ReceiptError, match="does not verify"):
        verify_receipt(receipt, other_log_key)
    with pytest.raises(ReceiptError, match="not for this entry"):
        check_inclusion(receipt, entry + b" ")
    moved = dataclasses.replace(receipt, leaf_index=receipt.leaf_index + 1)
    with pytest.raises(ReceiptError, match="inclusion proof"):
        verify_receipt(moved, world.vkey)
    forged = dataclasses.replace(receipt, inclusion_proof=(bytes(32), *receipt.inclusion_proof[1:]))
    with pytest.raises(ReceiptError, match="inclusion proof"):
        verify_receipt(forged, world.vkey)
    unsigned = dataclasses.replace(receipt, checkpoint=receipt.checkpoint.split("\n\n")[0] + "\n")
    with pytest.raises(ReceiptError):
        verify_receipt(unsigned, world.vkey)


def test_proven_leaves_read_once_and_match_one_proof_at_a_time(world: World) -> None:
    _comments(world, 20)
    size = world.ledger.tree_size()
    reads: list[int] = []

    class Counting:
        def read_hashes(self, nodes: Any) -> list[bytes]:
            reads.append(len(nodes))
            return world.ledger.tables.read_hashes(nodes)

    indexes = [0, 1, size // 2, size - 2, size - 1]
    root, proven = merkle.proven_leaves(indexes, size, Counting())
    assert len(reads) == 1
    assert root == world.ledger.root_hash(size)
    for index, (leaf, proof) in zip(indexes, proven, strict=True):
        assert leaf == world.ledger.tables.read_hashes([(0, index)])[0]
        assert proof == world.ledger.inclusion_proof(index, size)
