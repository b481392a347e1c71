"""History dated against witnesses (issue 13): an entry at or after a checkpoint a witness
cosigned at time T cannot claim a timestamp more than GRACE (five minutes) before T, and
an entry inside it none more than GRACE after T (ledger/auditor/dating.py). The ledger
refuses the first on append (on SQLite and PostgreSQL, and across processes), refuses
cosignatures that would break the rule or block the log, and the auditor reports a
bundle that breaks either."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.application.tokens import TokenStore
from api.http.app import create_app
from domain import Action, action_aggregate_id
from evidence_store.local import LocalEvidenceStore
from ledger.auditor import audit
from ledger.auditor.cosignature import Cosigner, note_body
from ledger.auditor.dating import GRACE, WitnessDating
from ledger.auditor.entry import SignedEntry
from ledger.bundle import export_bundle
from ledger.config import DEFAULT_FORWARD_SKEW
from ledger.errors import ClockSkew, CosignedTooLate
from ledger.keys import KeyPair
from ledger.service import Ledger
from tests.support.histories import under_a_checkpoint
from tests.support.world import World

R1_1 = action_aggregate_id("R1.1")


@pytest.fixture
def world(world: World) -> World:
    """The shared world (tests/conftest.py), a comment on R1.1 and a checkpoint to cosign."""
    return under_a_checkpoint(world, "before the witness looked")


def _witness(name: str = "chair.inquiry.example") -> Cosigner:
    return Cosigner(name, KeyPair.generate())


def _cosign(world: World, witness: Cosigner, at: datetime, *, direct: bool = False) -> int:
    """Cosign the latest checkpoint at `at` and store it (through the ledger's checks, or
    `direct`ly in its table, as a database the operator edited could hold it)."""
    stored = world.ledger.latest_checkpoint()
    assert stored is not None
    seconds = int(at.timestamp())
    line = witness.cosign(note_body(stored.note), seconds)
    key = witness.public.encode()
    if direct:
        world.ledger.tables.insert_cosignature(stored.tree_size, key, line, seconds)
    else:
        world.ledger.record_cosignature(stored.tree_size, key, line, seconds)
    return stored.tree_size


def _backdated(world: World, user: str, at: datetime) -> SignedEntry:
    """A comment on R1.1 dated `at`, whatever the ledger says the floor is."""
    signer = dataclasses.replace(world.signer(user), clock=lambda: at)
    version = world.ledger.next_entry(R1_1).version
    return signer.sign(Action.CommentAdded.TYPE, R1_1, version, {"kind": "comment", "text": "x"})


def _second(moment: datetime) -> datetime:
    """`moment` as a cosignature can state it: in whole seconds, none earlier."""
    return datetime.fromtimestamp(int(moment.timestamp()) + 1, UTC)


# -- the ledger -------------------------------------------------------------------------------


def test_the_ledger_refuses_an_entry_dated_before_a_cosigned_checkpoint(world: World) -> None:
    world.clock.advance(minutes=10)  # R1.1's last entry is well before the witness's look
    witnessed = _second(world.clock.now + timedelta(seconds=2))  # its clock runs ahead a bit
    _cosign(world, _witness(), witnessed)
    with pytest.raises(ClockSkew, match=r"more than 5 minutes before .* when a witness cosigned"):
        world.ledger.append([_backdated(world, "chair", witnessed - GRACE - timedelta(seconds=1))])
    # Signers learn the witnessed time, less GRACE, as the floor and date at or after it.
    assert world.ledger.next_entry(R1_1).not_before == witnessed - GRACE
    # Just inside GRACE is accepted (GRACE is also the ledger's backward bound, so an entry
    # that old is accepted just after the witness looked: the ledger's clock is set there).
    world.clock.now = witnessed - timedelta(seconds=3)
    inside = witnessed - GRACE + timedelta(seconds=1)
    world.ledger.append([_backdated(world, "chair", inside)])
    assert world.ledger.aggregate_events(R1_1)[-1].timestamp == inside
    world.client("chair").comment("R1.1", "after the witness looked")
    world.add_action("R2.1", lead="police")  # a new aggregate too
    for aggregate in (R1_1, action_aggregate_id("R2.1")):
        assert world.ledger.aggregate_events(aggregate)[-1].timestamp >= witnessed - GRACE


def test_a_cosignature_stored_by_another_process_holds_there_too(world: World) -> None:
    """The newest witnessed time is kept in memory, and re-read with the tree state at
    the start of every append: a ledger process that was already running obeys it."""
    other = Ledger(
        world.config, clock=world.clock, evidence=LocalEvidenceStore(world.config.evidence_dir)
    )
    try:
        assert other.witnessed is None
        world.clock.advance(minutes=10)  # R1.1's last entry is well before the witness's look
        witnessed = _second(world.clock.now + timedelta(seconds=2))
        before = witnessed - GRACE - timedelta(seconds=1)
        _cosign(world, _witness(), witnessed)
        with pytest.raises(ClockSkew, match="witness cosigned"):
            other.append([_backdated(world, "chair", before)])
        assert other.witnessed == world.ledger.witnessed
    finally:
        other.close()
    reopened = Ledger(world.config, clock=world.clock)
    try:
        assert reopened.witnessed == world.ledger.witnessed  # read back at start-up
    finally:
        reopened.close()


def test_a_cosignature_that_would_block_or_contradict_the_log_is_refused(world: World) -> None:
    with pytest.raises(ClockSkew, match="ahead of the ledger's clock"):
        _cosign(world, _witness(), world.clock.now + DEFAULT_FORWARD_SKEW + timedelta(seconds=5))
    assert world.ledger.witnessed is None
    # The log grew past the checkpoint with an entry dated more than GRACE before the
    # witness's time (the witness looked late at an old checkpoint): the witness must
    # cosign a checkpoint that covers it.
    world.client("chair").comment("R1.1", "after the checkpoint, before the witness")
    stamp = world.ledger.aggregate_events(R1_1)[-1].timestamp
    world.clock.advance(minutes=6)
    late = _second(stamp + GRACE)  # the entry is dated (just) more than GRACE before it
    with pytest.raises(CosignedTooLate, match="cosign a checkpoint that covers it"):
        _cosign(world, _witness(), late)
    assert world.ledger.tables.cosignatures() == []
    _cosign(world, _witness(), late - timedelta(seconds=1))  # within GRACE of it: fine
    world.checkpoint()
    _cosign(world, _witness(), world.clock.now + timedelta(seconds=1))


def test_the_cosign_route_answers_a_refusal_as_json(world: World) -> None:
    witness = _witness()
    stored = world.ledger.latest_checkpoint()
    assert stored is not None
    world.client("chair").comment("R1.1", "after the checkpoint")
    world.clock.advance(minutes=6)  # the witness looks more than GRACE after that entry
    with TestClient(create_app(world.config, world.ledger)) as http:
        token = TokenStore(world.ledger.tables).create(
            "chair", timedelta(days=1), now=world.clock.now
        )
        headers = {"Authorization": f"Bearer {token}"}
        url = f"/v1/checkpoints/{stored.tree_size}/cosignatures"
        for at, status, code in (
            (world.clock.now + timedelta(seconds=2), 409, "cosigned_too_late"),
            (world.clock.now + timedelta(hours=1), 422, "clock_skew"),
        ):
            line = witness.cosign(note_body(stored.note), int(at.timestamp()))
            body = {"witness_key": witness.public.encode(), "line": line}
            response = http.post(url, json=body, headers=headers)
            assert (response.status_code, response.json()["error"]) == (status, code)
            assert response.json()["detail"]


# -- the auditor ------------------------------------------------------------------------------


def _dating_problems(report: Any) -> dict[int | None, str]:
    return {p.leaf_index: p.detail for p in report.problems if p.check == "dated before a witness"}


def test_the_auditor_reports_an_entry_dated_before_a_witnessed_checkpoint(
    world: World, tmp_path: Path
) -> None:
    """An operator's database holds a cosignature whose time is more than GRACE after an
    entry recorded after that checkpoint (the ledger would have refused to store it): the
    auditor, pinning the witness, names the entry. A witness that looked within GRACE of
    the entry's time is no sign of backdating; unpinned witnesses' times are not trusted."""
    witness, near = _witness(), _witness("near.example")
    world.client("chair").comment("R1.1", "recorded after the checkpoint")
    leaf = world.ledger.tree_size() - 1
    stamp = world.ledger.aggregate_events(R1_1)[-1].timestamp
    # The entry is dated 1 to 2 s more than GRACE before the one look, 1 to 2 s less
    # than GRACE before the other.
    size = _cosign(world, witness, _second(stamp + GRACE) + timedelta(seconds=1), direct=True)
    assert size == leaf  # the entry is the first after the witnessed checkpoint
    _cosign(world, near, _second(stamp + GRACE) - timedelta(seconds=2), direct=True)
    world.checkpoint()
    bundle = tmp_path / "bundle"
    export_bundle(world.ledger, world.vkey.encode(), bundle)

    pinned = audit(bundle, log_key=world.vkey.encode(), witness_keys=[witness.public.encode()])
    found = _dating_problems(pinned)
    assert list(found) == [leaf]
    assert "more than 5 minutes before" in found[leaf]
    assert "chair.inquiry.example cosigned the checkpoint of size" in found[leaf]
    assert "backdated" in found[leaf]
    within = audit(bundle, log_key=world.vkey.encode(), witness_keys=[near.public.encode()])
    assert _dating_problems(within) == {}
    unpinned = audit(bundle, log_key=world.vkey.encode())
    assert _dating_problems(unpinned) == {}
    stranger = audit(bundle, log_key=world.vkey.encode(), witness_keys=[_witness().public.encode()])
    assert _dating_problems(stranger) == {}


def test_the_auditor_accepts_history_dated_after_its_witnesses(
    world: World, tmp_path: Path
) -> None:
    witness = _witness()
    _cosign(world, witness, world.clock.now + timedelta(seconds=2))
    world.client("chair").comment("R1.1", "after the witness looked")
    world.checkpoint()
    _cosign(world, witness, world.clock.now)
    bundle = tmp_path / "bundle"
    export_bundle(world.ledger, world.vkey.encode(), bundle)
    report = audit(bundle, log_key=world.vkey.encode(), witness_keys=[witness.public.encode()])
    assert _dating_problems(report) == {}
    assert any("dated before it" in check for check in report.checks)


def test_the_auditor_reports_an_entry_dated_after_a_witness_saw_it(
    world: World, tmp_path: Path
) -> None:
    """A checkpoint cosigned at T holds an entry dated more than GRACE after T: the
    witness saw it at T, so it was future-dated (the operator's database, or a clock the
    ledger trusted). Within GRACE of T it is not; unpinned witnesses are not trusted."""
    world.client("chair").comment("R1.1", "recorded, then witnessed")
    leaf = world.ledger.tree_size() - 1
    stamp = world.ledger.aggregate_events(R1_1)[-1].timestamp
    world.checkpoint()  # holds the entry
    early, near = _witness(), _witness("near.example")
    # The entry is dated 1 to 2 s more than GRACE after the one look, within it of the other.
    _cosign(world, early, _second(stamp - GRACE) - timedelta(seconds=2), direct=True)
    _cosign(world, near, _second(stamp - GRACE), direct=True)
    bundle = tmp_path / "bundle"
    export_bundle(world.ledger, world.vkey.encode(), bundle)

    pinned = audit(bundle, log_key=world.vkey.encode(), witness_keys=[early.public.encode()])
    found = _dating_problems(pinned)
    assert list(found) == [leaf]
    assert "more than 5 minutes after" in found[leaf] and "(future-dated)" in found[leaf]
    assert "chair.inquiry.example cosigned the checkpoint of size" in found[leaf]
    within = audit(bundle, log_key=world.vkey.encode(), witness_keys=[near.public.encode()])
    assert _dating_problems(within) == {}
    assert _dating_problems(audit(bundle, log_key=world.vkey.encode())) == {}


def test_witness_dating_bounds_each_leaf_by_the_witnesses_looks() -> None:
    """From below: the latest time among the cosigned checkpoints a leaf comes at or
    after, less GRACE. From above: the earliest among those that hold it, plus GRACE."""

    def at(seconds: int) -> datetime:
        return datetime.fromtimestamp(seconds, UTC)

    grace = int(GRACE.total_seconds())
    dating = WitnessDating()
    dating.witnessed(10, 2_950, "late-clock")  # a later look, by a clock 50 s behind
    dating.witnessed(5, 3_000, "early")
    dating.witnessed(20, 2**62, "far-future")  # past any date: everything after is late
    assert dating.check(0, at(0)) is None  # before every witnessed checkpoint
    found = dating.check(4, at(2_950 + grace + 1))  # held by all: the earliest look bounds
    assert found is not None and "late-clock cosigned the checkpoint of size 10" in found
    assert "(future-dated)" in found
    assert dating.check(4, at(2_950 + grace)) is None
    found = dating.check(5, at(3_000 - grace - 1))
    assert found is not None and "early cosigned the checkpoint of size 5" in found
    assert "(backdated)" in found
    assert dating.check(5, at(3_000 - grace)) is None
    assert dating.check(6, at(2_950 + grace + 1)) is not None  # still held by size 10
    assert dating.check(9, at(2_950 + grace)) is None
    found = dating.check(12, at(3_000 - grace - 1))  # the floor stays the latest time (3000)
    assert found is not None and "early cosigned the checkpoint of size 5" in found
    assert dating.check(12, at(10**9)) is None  # held by a look in year 9999 or later only
    assert dating.check(20, at(10**9)) is not None
