"""Tampering with the database directly: `verify` must catch each edit and name the entry.

Each test builds a small verified history, changes the stored events the way an operator
with database access could, and checks that verification fails and points at the first
entry that was touched. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from api.cli.main import main
from domain import Action, action_aggregate_id
from ledger.keys import KeyPair
from ledger.signer import Signer
from ledger.verify import VerificationReport, verify_ledger
from tests.support.histories import agency_signed_off, review_notes
from tests.support.rawdb import RawEvents
from tests.support.world import World


@pytest.fixture
def world(world: World) -> World:
    """The shared world's R1.1 signed off by council, then three review notes; a
    checkpoint, and all of it verified."""
    agency_signed_off(world, b"minutes")
    review_notes(world, 3)
    world.checkpoint()
    assert verify_ledger(world.ledger, world.vkey, workers=1).ok
    return world


def _verify(world: World) -> VerificationReport:
    # A fresh ledger object: nothing cached from before the edit.
    from ledger.service import Ledger

    with Ledger(world.config) as ledger:
        return verify_ledger(ledger, world.vkey, workers=1)


def _position_of(raw: RawEvents, row_id: int) -> int:
    return [r[0] for r in raw.rows()].index(row_id)


def _target(raw: RawEvents, topic: str) -> tuple[int, bytes]:
    row = next(r for r in raw.rows() if r[3] == topic)
    return row[0], row[4]


def test_a_changed_payload_byte_is_caught(world: World) -> None:
    raw = RawEvents(world.config)
    row_id, state = _target(raw, Action.SignedOff.TYPE)
    position = _position_of(raw, row_id)
    raw.set_state(row_id, state.replace(b"complete", b"c0mplete"))
    report = _verify(world)
    assert not report.ok
    first = report.first_problem()
    assert first is not None and first.leaf_index == position
    assert {p.what for p in report.problems if p.leaf_index == position} >= {
        "altered entry",
        "bad signature",
    }


def test_a_changed_timestamp_is_caught(world: World) -> None:
    raw = RawEvents(world.config)
    row_id, state = _target(raw, Action.EvidenceAttached.TYPE)
    position = _position_of(raw, row_id)
    stamp = state.split(b'"timestamp":"')[1][:27]  # YYYY-MM-DDTHH:MM:SS.ffffffZ
    raw.set_state(row_id, state.replace(stamp, b"2022-12-25T00:00:00.000000Z"))
    report = _verify(world)
    assert not report.ok and report.first_problem().leaf_index == position  # type: ignore[union-attr]
    assert "bad signature" in {p.what for p in report.problems}


def test_a_deleted_event_is_caught(world: World) -> None:
    raw = RawEvents(world.config)
    row_id, _ = _target(raw, Action.StatusChanged.TYPE)
    position = _position_of(raw, row_id)
    raw.delete(row_id)
    report = _verify(world)
    assert not report.ok
    assert report.first_problem().leaf_index == position  # type: ignore[union-attr]
    whats = {p.what for p in report.problems}
    assert "log order" in whats and "version sequence" in whats


def test_an_inserted_event_is_caught(world: World) -> None:
    """An operator forges a sign-off by the chair with a key of their own making."""
    raw = RawEvents(world.config)
    last_id = raw.rows()[-1][0]
    version = world.ledger.version_of(action_aggregate_id("R1.1")) + 1
    forger = Signer("chair", KeyPair.generate(), world.ledger.origin(), clock=world.clock)
    forged = forger.sign(
        Action.RagRated.TYPE,
        action_aggregate_id("R1.1"),
        version,
        {"scope": "review", "rating": "green", "reason": "all good"},
    )
    raw.insert(
        last_id + 1,
        action_aggregate_id("R1.1"),
        version,
        Action.RagRated.TYPE,
        forged.entry_bytes(),
    )
    report = _verify(world)
    assert not report.ok
    first = report.first_problem()
    assert first is not None and first.leaf_index == len(raw.rows()) - 1
    assert first.what == "unknown signer" and "not registered" in first.detail


def test_an_inserted_copy_in_the_middle_is_caught(world: World) -> None:
    raw = RawEvents(world.config)
    rows = raw.rows()
    # Make room in the middle, then insert a copy of an earlier entry there.
    middle = rows[len(rows) // 2]
    for row in reversed(rows[len(rows) // 2 :]):
        raw.move(row[0], row[0] + 1000)
    copy = rows[2]
    raw.insert(middle[0], copy[1], copy[2] + 50, copy[3], copy[4])
    report = _verify(world)
    assert not report.ok
    assert report.first_problem().leaf_index == len(rows) // 2  # type: ignore[union-attr]


def test_two_swapped_events_are_caught(world: World) -> None:
    raw = RawEvents(world.config)
    rows = raw.rows()
    a, b = rows[-3], rows[-1]  # two of the reviewer's comments on the same action
    raw.move(a[0], 10**6)
    raw.move(b[0], a[0])
    raw.move(10**6, b[0])
    report = _verify(world)
    assert not report.ok
    assert report.first_problem().leaf_index == len(rows) - 3  # type: ignore[union-attr]
    assert "version sequence" in {p.what for p in report.problems}


def test_the_cli_exits_non_zero_and_names_the_entry(world: World, capsys) -> None:
    raw = RawEvents(world.config)
    row_id, state = _target(raw, Action.SignedOff.TYPE)
    position = _position_of(raw, row_id)
    raw.set_state(row_id, state.replace(b"complete", b"c0mplete"))
    world.config.log_vkey_path.write_text(world.vkey.encode() + "\n")
    env_home = str(world.config.home)
    import os

    old = os.environ.get("INQUIRY_LEDGER_DATABASE_URL")
    if world.config.database_url:
        os.environ["INQUIRY_LEDGER_DATABASE_URL"] = world.config.database_url
    try:
        code = main(["--home", env_home, "verify", "--workers", "1"])
    finally:
        if old is None:
            os.environ.pop("INQUIRY_LEDGER_DATABASE_URL", None)
        else:
            os.environ["INQUIRY_LEDGER_DATABASE_URL"] = old
    assert code == 1
    err = capsys.readouterr().err
    assert f"first bad: entry {position}:" in err


def test_altered_stored_merkle_nodes_are_caught(world: World) -> None:
    """The nodes that inclusion and consistency proofs are built from must give the
    signed roots, or every proof served would fail for its reader."""
    raw = RawEvents(world.config)
    level = 1 if world.ledger.tree_size() >= 2 else 0
    p = "%s" if world.config.database_url else "?"
    raw.execute(
        f"UPDATE ledger_merkle_nodes SET hash={p} WHERE level={p} AND idx=0",
        (bytes(32), level),
    )
    report = _verify(world)
    assert not report.ok
    assert {p.what for p in report.problems} == {"stored tree"}
    assert report.first_problem().leaf_index == 0  # type: ignore[union-attr]
