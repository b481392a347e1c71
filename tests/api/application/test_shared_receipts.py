"""Receipts of concurrent requests share one signed checkpoint (api/application/checkpoints.py
`ServerReceipts`), and each is the receipt `server_receipts` would have issued: it
verifies under the log key, for its own entry, at its own leaf."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from typing import Any, cast

import pytest

import api.application.checkpoints as checkpoints
from api.application.checkpoints import ServerReceipts, server_receipts
from ledger.auditor.receipt import verify_receipt
from ledger.config import LedgerConfig
from ledger.receipt import Receipted
from ledger.service import Appended, Ledger
from tests.support.world import World


def _appended(world: World, n: int) -> list[Appended]:
    return [world.client("council.officer").comment("R1.1", f"note {i}") for i in range(n)]


def _verified(world: World, results: Sequence[Receipted], appended: Sequence[Appended]) -> str:
    """The one checkpoint the results' receipts share, each checked for its own entry."""
    assert [r.leaf_index for r in results] == [a.leaf_index for a in appended]
    notes = set()
    for result in results:
        assert result.receipt is not None
        entry = world.ledger.leaf_entries(result.leaf_index, result.leaf_index + 1)[0][1]
        checkpoint = verify_receipt(result.receipt, world.vkey, entry)
        assert checkpoint.size > result.leaf_index
        notes.add(result.receipt.checkpoint)
    assert len(notes) == 1
    return notes.pop()


def _ed25519_only(result: Receipted) -> Receipted:
    """The result with its receipt's checkpoint cut to the log key's own line."""
    assert result.receipt is not None
    text, _, block = result.receipt.checkpoint.rpartition("\n\n")
    note = f"{text}\n\n{block.splitlines()[0]}\n"
    return dataclasses.replace(result, receipt=dataclasses.replace(result.receipt, checkpoint=note))


def test_one_request_alone_gets_what_server_receipts_gives(world: World) -> None:
    appended = _appended(world, 3)
    shared = ServerReceipts(world.ledger).issue(world.config, appended)
    alone = server_receipts(world.ledger, world.config, appended)
    # Ed25519 is deterministic: the same note, but for its ML-DSA-44 line (hedged: each
    # signature of a checkpoint differs; both verify, ledger/auditor/mldsa.py)
    assert [_ed25519_only(r) for r in shared] == [_ed25519_only(r) for r in alone]
    _verified(world, shared, appended)
    assert ServerReceipts(world.ledger).issue(world.config, []) == []


def test_requests_waiting_meanwhile_share_one_signature(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    appended = _appended(world, 6)
    receipts = ServerReceipts(world.ledger)
    entered, release = threading.Event(), threading.Event()
    groups: list[int] = []

    def slow_first(
        ledger: Ledger, config: LedgerConfig, batch: Sequence[Appended], recent: Any = None
    ) -> Any:
        groups.append(len(batch))
        if len(groups) == 1:
            entered.set()
            assert release.wait(10)
        return server_receipts(ledger, config, batch, recent)

    monkeypatch.setattr(checkpoints, "server_receipts", slow_first)
    answers: dict[int, list[Receipted]] = {}

    def ask(i: int, batch: list[Appended]) -> None:
        answers[i] = receipts.issue(world.config, batch)

    first = threading.Thread(target=ask, args=(0, appended[:1]))
    first.start()
    assert entered.wait(10)  # the first request is signing: the rest queue behind it
    rest = [
        threading.Thread(target=ask, args=(i, appended[i : i + 2] if i == 1 else [appended[i]]))
        for i in (1, 3, 4, 5)
    ]
    for thread in rest:
        thread.start()
    deadline = time.monotonic() + 10
    while len(receipts._group._queue) < len(rest):  # all four are waiting
        assert time.monotonic() < deadline
        time.sleep(0.01)
    release.set()
    for thread in [first, *rest]:
        thread.join(10)
    assert groups == [1, 5]  # two signatures for five requests, not five
    _verified(world, answers[0], appended[:1])
    shared = {
        _verified(world, answers[i], appended[i : i + 2] if i == 1 else [appended[i]])
        for i in (1, 3, 4, 5)
    }
    assert len(shared) == 1  # each request its own receipts, all under the one checkpoint


def test_a_later_batch_the_last_tree_holds_is_answered_under_its_checkpoint(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The requests of one group of appends reach the receipts in several batches: a
    batch whose leaves the tree of the previous one holds reuses its checkpoint (no new
    signature); one with a leaf beyond it gets a checkpoint of the current tree."""
    appended = _appended(world, 3)
    receipts = ServerReceipts(world.ledger)
    signed: list[int] = []
    original = Ledger.checkpoint_signer

    def counted(ledger: Ledger, signer: Any) -> Any:
        signed.append(ledger.tree_size())
        return original(ledger, signer)

    monkeypatch.setattr(Ledger, "checkpoint_signer", counted)
    first = receipts.issue(world.config, appended[:1])
    later = receipts.issue(world.config, appended[1:])
    assert len(signed) == 1
    assert _verified(world, first, appended[:1]) == _verified(world, later, appended[1:])
    beyond = _appended(world, 1)
    newer = receipts.issue(world.config, beyond)
    assert len(signed) == 2
    assert _verified(world, newer, beyond) != _verified(world, later, appended[1:])


def test_attached_each_group_of_appends_carries_its_receipts(world: World) -> None:
    """Attached (as the HTTP app is), the ledger's appends come back with their receipts,
    one checkpoint per group, and `issue` answers with them as they are."""
    receipts = ServerReceipts(world.ledger)
    receipts.attach(world.config)
    try:
        appended = _appended(world, 2)
        assert all(isinstance(a, Receipted) for a in appended)
        for one in appended:
            assert receipts.issue(world.config, [one]) == [one]
            _verified(world, [cast(Receipted, one)], [one])
    finally:
        receipts.detach()
    (plain,) = _appended(world, 1)
    assert type(plain) is Appended


def test_without_the_log_key_every_request_is_answered_without_receipts(world: World) -> None:
    appended = _appended(world, 2)
    world.config.log_key_path.unlink()
    results = ServerReceipts(world.ledger).issue(world.config, appended)
    assert [r.receipt for r in results] == [None, None]
    assert [r.leaf_index for r in results] == [a.leaf_index for a in appended]
