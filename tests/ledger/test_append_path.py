"""Ledger.append's fast path, on both backends: signatures verified on worker processes
while rules are checked, entry bytes made once, the recorded page integrated without
reading it back, the tree's commit not waiting for the disk. Each test pins the
invariant that must survive the speed-up."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from domain import Action, NotPermitted, action_aggregate_id
from ledger.auditor.entry import EventBody, SignedEntry, entry_bytes_from_body
from ledger.errors import SignatureRejected
from ledger.keys import KeyPair
from ledger.service import Ledger
from ledger.verify import verify_ledger
from tests.support.world import World, make_world

# -- the entry bytes the ledger stores ------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"kind": "comment", "text": "plain"},
        {"kind": "comment", "text": 'caf\u00e9 ,"timestamp":" \u2014 "quoted"'},
        {"timestamp": "2020-01-01", "nested": {"a": [1, {"timestamp": "x"}]}, "z": None},
        {"\u00e9t\u00e9": "non-ASCII member name", "n": 2**53 - 1},
    ],
)
def test_entry_bytes_from_the_body_equal_the_canonical_entry(payload: dict[str, object]) -> None:
    key = KeyPair.generate()
    body = EventBody(
        "action.comment_added", uuid4(), 3, datetime.now(UTC), "jo", key.key_id, payload, "o"
    )
    entry = SignedEntry.sign(body, key)
    assert entry_bytes_from_body(body.signing_bytes(), entry.signature) == entry.entry_bytes()


# -- the append path ------------------------------------------------------------------------


@pytest.fixture
def world(config, clock) -> World:
    w = make_world(config, clock)
    w.add_action("R1.1")
    yield w
    w.ledger.close()


def _comments(world: World, count: int) -> list[SignedEntry]:
    signer = world.signer("council.officer")
    aggregate = action_aggregate_id("R1.1")
    start = world.ledger.version_of(aggregate) + 1
    return [
        signer.sign(Action.CommentAdded.TYPE, aggregate, v, {"kind": "comment", "text": f"n{v}"})
        for v in range(start, start + count)
    ]


def test_a_large_batch_with_one_bad_signature_stores_nothing_and_names_it(world: World) -> None:
    count = 3 * Ledger.PARALLEL_SIGNATURES
    entries = _comments(world, count)
    bad = entries[100]
    entries[100] = dataclasses.replace(bad, signature=bytes(64))
    size = world.ledger.tree_size()
    with pytest.raises(SignatureRejected) as refused:
        world.ledger.append(entries)
    assert str(refused.value) == (
        f"signature by council.officer (key {bad.body.key_id}) on action.comment_added "
        f"v{bad.body.version} does not verify"
    )
    assert world.ledger.tree_size() == size
    assert world.ledger.version_of(action_aggregate_id("R1.1")) == 1
    results = world.ledger.append(_comments(world, count))  # the same ledger goes on
    assert [r.leaf_index for r in results] == list(range(size, size + count))


def test_a_bad_signature_is_reported_before_a_later_rule_fault(world: World) -> None:
    entries = _comments(world, 2 * Ledger.PARALLEL_SIGNATURES)
    entries[10] = dataclasses.replace(entries[10], signature=bytes(64))
    late = entries[-1].body
    entries[-1] = SignedEntry.sign(
        dataclasses.replace(late, version=late.version + 5), world.keys["council.officer"]
    )
    with pytest.raises(SignatureRejected, match=f"v{entries[10].body.version} does not"):
        world.ledger.append(entries)


def test_the_stored_rows_are_the_canonical_entries_and_verify_on_the_pool(world: World) -> None:
    entries = _comments(world, 2 * Ledger.PARALLEL_SIGNATURES)
    results = world.ledger.append(entries)
    stored = dict(world.ledger.entries(results[0].leaf_index))
    for result, entry in zip(results, entries, strict=True):
        assert stored[result.leaf_index] == entry.entry_bytes()
    world.checkpoint()
    report = verify_ledger(world.ledger, world.vkey, workers=2)
    assert report.ok, report.problems
    assert report.signatures_verified == report.entries


def test_integration_commits_leave_the_durability_of_events_as_it_was(world: World) -> None:
    """The tree's own commit does not wait for the disk; nothing else may inherit that."""
    world.ledger.append(_comments(world, 3))
    datastore = world.ledger.app.factory.datastore  # type: ignore[attr-defined]
    if world.ledger.tables.postgres:
        with world.ledger.tables.reading() as cursor:
            for _ in range(3):  # whichever pooled connection the integration used
                cursor.execute("SHOW synchronous_commit")
                assert cursor.fetchone()["synchronous_commit"] == "on"
    else:
        with datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            cursor.execute("PRAGMA synchronous")
            assert int(cursor.fetchone()[0]) == 2  # FULL, SQLite's default


def _count_reads(world: World, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    recorder = world.ledger.app.recorder
    original = recorder.select_notifications
    pages: list[Any] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        page = original(*args, **kwargs)
        pages.append(page)
        return page

    monkeypatch.setattr(recorder, "select_notifications", counted)
    return pages


def test_the_page_just_recorded_is_integrated_without_reading_it_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.ledger.append(_comments(world, 2))  # the tree state is now this process's own
    pages = _count_reads(world, monkeypatch)
    size = world.ledger.tree_size()
    results = world.ledger.append(_comments(world, 5))
    assert [len(page) for page in pages] == [0], "only the check for others' entries"
    assert [r.leaf_index for r in results] == list(range(size, size + 5))
    world.checkpoint()
    assert verify_ledger(world.ledger, world.vkey, workers=1).ok


def test_an_entry_recorded_by_another_writer_in_between_is_read_and_integrated_first(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row that did not come through this Ledger (another process, a crash) and took a
    notification id before this batch's: the batch's ids are not the next ones, so the
    log is read back and every row becomes a leaf in notification order."""
    world.add_action("R1.2")
    world.ledger.append(_comments(world, 1))
    foreign = world.signer("council.officer").sign(
        Action.CommentAdded.TYPE, action_aggregate_id("R1.2"), 2, {"kind": "comment", "text": "f"}
    )
    app = world.ledger.app
    original = app.record

    def record_after_a_foreign_row(events: Any, stored: Any) -> Any:
        app.recorder.insert_events(
            [
                StoredEvent(
                    originator_id=foreign.body.aggregate_id,
                    originator_version=2,
                    topic=foreign.body.type,
                    state=foreign.entry_bytes(),
                )
            ]
        )
        return original(events, stored)

    monkeypatch.setattr(app, "record", record_after_a_foreign_row)
    size = world.ledger.tree_size()
    results = world.ledger.append(_comments(world, 3))
    assert [r.leaf_index for r in results] == [size + 1, size + 2, size + 3]
    assert dict(world.ledger.entries(size))[size] == foreign.entry_bytes()
    world.checkpoint()
    report = verify_ledger(world.ledger, world.vkey, workers=1)
    assert report.ok, report.problems


def test_a_second_writer_evicts_what_it_touched_and_only_that(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two ledgers on one database (two `serve` workers): what the other wrote and
    integrated is read again here, at its new version; an aggregate it did not touch is
    not; a key it revoked is refused here at once."""
    from api.application.commands import Client

    world.add_action("R1.2")
    r12 = action_aggregate_id("R1.2")
    world.ledger.append(_comments(world, 1))  # R1.1 and the directory are cached here
    with Ledger(world.config, clock=world.clock) as other:
        Client(other, world.signer("council.officer")).submit(
            Action.CommentAdded.TYPE, r12, {"kind": "comment", "text": "from the other"}
        )
    read: list[Any] = []
    original = world.ledger.get

    def counted(aggregate_id: Any) -> Any:
        read.append(aggregate_id)
        return original(aggregate_id)

    monkeypatch.setattr(world.ledger, "get", counted)
    version = world.ledger.version_of(r12)  # the other's comment is there: 3 (and a read)
    on_r12 = world.signer("council.officer").sign(
        Action.CommentAdded.TYPE, r12, version + 1, {"kind": "comment", "text": "here"}
    )
    entries = [*_comments(world, 1), on_r12]
    read.clear()
    world.ledger.append(entries)
    assert read == [r12], "R1.1 and the directory came from the cache; R1.2 was re-read"
    key_id = world.keys["council.officer"].key_id
    with Ledger(world.config, clock=world.clock) as other:
        Client(other, world.signer("council.lead")).revoke_key(
            "council.officer", key_id, "laptop lost"
        )
    with pytest.raises(NotPermitted) as refused:
        world.ledger.append(_comments(world, 1))
    assert refused.value.rule == "signature.revoked_key"


# -- full verification on the pool ------------------------------------------------------------


def _verify_fresh(world: World, workers: int) -> Any:
    with Ledger(world.config) as ledger:  # nothing cached from before the edit
        return verify_ledger(ledger, world.vkey, workers=workers)


def test_verification_on_the_pool_names_the_same_bad_entries_as_in_process(world: World) -> None:
    """Several chunks of signatures in flight; two entries in different chunks altered."""
    from tests.support.rawdb import RawEvents

    for _ in range(6):
        world.ledger.append(_comments(world, 100))
    world.checkpoint()
    raw = RawEvents(world.config)
    rows = raw.rows()
    altered = [40, len(rows) - 30]  # far apart: not in the same chunk of 256
    for position in altered:
        row_id, state = rows[position][0], rows[position][4]
        raw.set_state(row_id, state.replace(b'"text":"n', b'"text":"N', 1))
    in_process, on_pool = _verify_fresh(world, 1), _verify_fresh(world, 2)
    for report in (in_process, on_pool):
        bad = sorted(p.leaf_index for p in report.problems if p.what == "bad signature")
        assert bad == altered, report.problems
        assert report.signatures_verified == report.entries == len(rows)
    assert [str(p) for p in on_pool.problems] == [str(p) for p in in_process.problems]


def test_a_signature_spelled_in_other_base64_is_an_altered_row_not_a_bad_signature(
    world: World,
) -> None:
    """Spare bits in the last base64 character: the same 64 bytes, other stored bytes.
    The tree catches the edit; the signature still verifies (the signed message is then
    rebuilt from the body rather than cut out of the line), whichever way it is checked."""
    import base64

    from tests.support.rawdb import RawEvents

    world.ledger.append(_comments(world, 3))
    world.checkpoint()
    raw = RawEvents(world.config)
    rows = raw.rows()
    position = len(rows) - 2
    row_id, state = rows[position][0], rows[position][4]
    text = state.split(b'"signature":"')[1].split(b'"')[0]
    assert text.endswith(b"==")
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = text[-3:-2]
    other = bytes([alphabet[alphabet.index(last) ^ 1]])
    respelled = text[:-3] + other + b"=="
    assert base64.b64decode(respelled) == base64.b64decode(text) and respelled != text
    raw.set_state(row_id, state.replace(text, respelled))
    for workers in (1, 2):
        report = _verify_fresh(world, workers)
        whats = {p.what for p in report.problems if p.leaf_index == position}
        assert "altered entry" in whats and "bad signature" not in whats, report.problems


def test_a_small_batch_starts_no_worker_processes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A one-shot CLI command appending a few entries must not pay for starting workers."""
    from ledger import sigpool

    monkeypatch.setattr(sigpool, "_pool", None)
    world.ledger.append(_comments(world, Ledger.PARALLEL_SIGNATURES - 1))
    assert sigpool._pool is None


# -- reading the stored tree ------------------------------------------------------------------


def test_leaf_pages_are_key_ranges_and_a_missing_row_is_stepped_over(world: World) -> None:
    from tests.support.rawdb import RawEvents

    world.ledger.append(_comments(world, 20))
    tables = world.ledger.tables
    size = world.ledger.tree_size()
    whole = tables.leaves(0, size + 5)
    assert [leaf for leaf, _, _ in whole] == list(range(size))
    assert tables.leaves(3, 4) == whole[3:7]
    assert tables.leaves(size - 2, 10) == whole[-2:]
    RawEvents(world.config).execute("DELETE FROM ledger_leaves WHERE leaf_index = 5")
    assert [leaf for leaf, _, _ in tables.leaves(3, 4)] == [3, 4, 6, 7]
    assert [leaf for leaf, _, _ in tables.leaves(5, 1)] == [6]


def test_a_tree_commit_lost_in_a_crash_is_rebuilt_to_the_same_root(world: World) -> None:
    """What the non-durable tree commit relies on: the events are durable, and a tree
    that lost its newest leaves and nodes is re-integrated to exactly the same hashes."""
    from tests.support.rawdb import RawEvents

    world.ledger.append(_comments(world, 150))
    checkpoint = world.checkpoint()
    size = world.ledger.tree_size()
    lost = size - 50
    raw = RawEvents(world.config)
    raw.execute(f"DELETE FROM ledger_leaves WHERE leaf_index >= {lost}")
    for level in range(size.bit_length()):
        # every stored subtree that contains a lost leaf was written with it
        raw.execute(
            f"DELETE FROM ledger_merkle_nodes WHERE level = {level} "
            f"AND (idx + 1) * {1 << level} > {lost}"
        )
    with Ledger(world.config) as fresh:  # a restarted process
        assert fresh.tree_size() == lost
        assert fresh.integrate() == size
        assert fresh.root_hash(size) == checkpoint.root_hash
        report = verify_ledger(fresh, world.vkey, workers=2)
        assert report.ok, report.problems
