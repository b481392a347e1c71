"""Witness cosigning: C2SP cosignatures, the witness's consistency and split-view checks,
the API that publishes cosignatures, and `inquiry-ledger witness cosign` against a real
server."""

from __future__ import annotations

import base64
import json
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from api.application.tokens import TokenStore
from ledger.auditor import audit
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.cosignature import (
    Cosigner,
    CosignerKey,
    cosigned_by,
    note_body,
    open_cosignature,
)
from ledger.auditor.note import NoteError
from ledger.bundle import export_bundle
from ledger.config import LedgerConfig
from ledger.keys import KeyPair
from ledger.witness import SplitView, WitnessError, WitnessState, check_extends
from tests.support.histories import under_a_checkpoint
from tests.support.server import running_server
from tests.support.web import web_client
from tests.support.world import World, make_world


@pytest.fixture
def world(world: World) -> World:
    """The shared world (tests/conftest.py), a comment on R1.1 and a checkpoint to cosign."""
    return under_a_checkpoint(world, "first")


def _chair() -> Cosigner:
    return Cosigner("chair.inquiry.example", KeyPair.generate())


# -- the cosignature format ---------------------------------------------------------------


def test_a_cosignature_round_trips_and_binds_key_time_and_checkpoint(world: World) -> None:
    note = world.ledger.tables.latest_checkpoint().note  # type: ignore[union-attr]
    chair = _chair()
    line = chair.cosign(note_body(note), 1_700_000_000)
    assert line.startswith("\u2014 chair.inquiry.example ")
    assert len(base64.b64decode(line.split(" ")[-1])) == 4 + 8 + 64
    key = CosignerKey.parse(chair.public.encode())
    assert open_cosignature(note_body(note), line, key) == 1_700_000_000
    # The standalone auditor's independent implementation agrees.
    assert cosigned_by(note + line + "\n", CosignerKey.parse(key.encode())) is True
    other = Checkpoint("test.example/ledger", 99, b"\x01" * 32).body()
    with pytest.raises(NoteError, match="does not verify"):
        open_cosignature(other, line, key)
    with pytest.raises(NoteError):
        open_cosignature(note_body(note), line, _chair().public)
    prefix, blob = line.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1  # one bit of the signature
    forged = f"{prefix} {base64.b64encode(bytes(raw)).decode()}"
    assert cosigned_by(note + forged + "\n", CosignerKey.parse(key.encode())) is False


def test_a_witness_key_is_type_0x04_and_not_a_log_key(world: World) -> None:
    with pytest.raises(NoteError, match="0x04"):
        CosignerKey.parse(world.vkey.encode())
    key = _chair().public
    assert CosignerKey.parse(key.encode()) == key


# -- what a witness accepts ---------------------------------------------------------------


def test_a_witness_accepts_only_checkpoints_that_extend_what_it_saw(world: World) -> None:
    first = world.ledger.tables.latest_checkpoint().note  # type: ignore[union-attr]
    accepted = check_extends(first, None, world.vkey, world.ledger.consistency_proof)
    assert accepted.size == world.ledger.tree_size()
    for i in range(3):
        world.client("council.officer").comment("R1.1", f"more {i}")
    second = world.checkpoint().note
    grown = check_extends(second, first, world.vkey, world.ledger.consistency_proof)
    assert grown.size == world.ledger.tree_size()
    assert check_extends(second, second, world.vkey, world.ledger.consistency_proof)
    with pytest.raises(WitnessError, match="rollback"):
        check_extends(first, second, world.vkey, world.ledger.consistency_proof)


def test_a_fork_of_the_same_size_is_a_split_view(world: World) -> None:
    seen = world.ledger.tables.latest_checkpoint().note  # type: ignore[union-attr]
    size = world.ledger.tree_size()
    forked = Checkpoint(world.ledger.origin(), size, b"\x09" * 32).sign(world.log_signer)
    with pytest.raises(SplitView, match="SPLIT VIEW") as caught:
        check_extends(forked, seen, world.vkey, world.ledger.consistency_proof)
    assert caught.value.seen == seen and caught.value.shown == forked


def test_a_larger_checkpoint_of_a_rewritten_history_is_a_split_view(world: World) -> None:
    seen = world.ledger.tables.latest_checkpoint().note  # type: ignore[union-attr]
    world.client("council.officer").comment("R1.1", "later")
    honest = world.checkpoint()
    # The operator signs a checkpoint of a different history of the same new size; no
    # consistency proof can connect it to what the witness saw.
    rewritten = Checkpoint(world.ledger.origin(), honest.tree_size, b"\x05" * 32)
    shown = rewritten.sign(world.log_signer)
    with pytest.raises(SplitView, match="consistency proof fails"):
        check_extends(shown, seen, world.vkey, world.ledger.consistency_proof)


def test_a_checkpoint_not_signed_by_the_pinned_log_key_is_refused(world: World) -> None:
    from ledger.auditor.note import NoteSigner

    impostor = NoteSigner(world.ledger.origin(), KeyPair.generate())
    fake = Checkpoint(world.ledger.origin(), 3, b"\x01" * 32).sign(impostor)
    with pytest.raises(WitnessError, match="does not verify"):
        check_extends(fake, None, world.vkey, world.ledger.consistency_proof)


def test_two_witnesses_shown_different_views_are_caught_by_the_auditor(
    world: World, tmp_path: Path
) -> None:
    # The log shows the chair the honest checkpoint and scrutiny a forked one of the same
    # size; each witness saved what it was shown. Side by side, the fork is proven.
    chair_saw = world.ledger.tables.latest_checkpoint().note  # type: ignore[union-attr]
    size = world.ledger.tree_size()
    scrutiny_saw = Checkpoint(world.ledger.origin(), size, b"\x03" * 32).sign(world.log_signer)
    export_bundle(world.ledger, world.vkey.encode(), tmp_path / "b")
    report = audit(
        tmp_path / "b",
        log_key=world.vkey.encode(),
        trust=world.trust,
        since=[chair_saw, scrutiny_saw],
    )
    checks = {p.check for p in report.problems}
    assert "split view" in checks and "history rewritten" in checks


# -- the API that publishes cosignatures --------------------------------------------------


@pytest.fixture
def http(world: World) -> Any:
    """A TestClient on the world's ledger; `http.tokens[user]` is an API token."""
    with web_client(world) as client:
        yield client


def _auth(http: Any, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {http.tokens[user]}"}


def test_witnesses_publish_verified_cosignatures(http: Any, world: World) -> None:
    stored = world.ledger.tables.latest_checkpoint()
    assert stored is not None
    chair = _chair()
    at = int(world.clock.now.timestamp())  # a witness's time is within the ledger's clock
    line = chair.cosign(note_body(stored.note), at)
    body = {"witness_key": chair.public.encode(), "line": line}
    url = f"/v1/checkpoints/{stored.tree_size}/cosignatures"

    response = http.post(url, json=body, headers=_auth(http, "council.officer"))
    assert response.status_code == 403
    response = http.post(url, json=body, headers=_auth(http, "chair"))
    assert response.status_code == 201, response.text
    assert response.json() == {
        "tree_size": stored.tree_size,
        "witness": "chair.inquiry.example",
        "timestamp": at,
    }
    cosigned = http.get(f"/v1/checkpoints/{stored.tree_size}/cosigned").text
    assert cosigned == stored.note + line + "\n"
    assert Checkpoint.verify(cosigned, world.vkey).size == stored.tree_size  # still valid
    listed = http.get("/v1/checkpoints").json()[-1]["cosignatures"]
    assert listed == [{"witness_key": chair.public.encode(), "line": line}]

    forged = {"witness_key": _chair().public.encode(), "line": line}
    response = http.post(url, json=forged, headers=_auth(http, "scrutiny"))
    assert response.status_code == 422 and response.json()["error"] == "bad_cosignature"
    response = http.post(
        "/v1/checkpoints/999/cosignatures", json=body, headers=_auth(http, "chair")
    )
    assert response.status_code == 404
    assert http.get("/v1/checkpoints/999/cosigned").status_code == 404


def test_auditors_page_through_the_whole_log(http: Any, world: World) -> None:
    response = http.get("/v1/log/entries", headers=_auth(http, "council.officer"))
    assert response.status_code == 403
    stored = [data for _, data in world.ledger.entries()]
    first = http.get("/v1/log/entries?start=0&limit=3", headers=_auth(http, "scrutiny")).json()
    rest = http.get("/v1/log/entries?start=3&limit=5000", headers=_auth(http, "chair")).json()
    pages = first["entries"] + rest["entries"]
    assert [base64.b64decode(e) for e in pages] == stored
    assert first["tree_size"] == len(stored)
    response = http.get("/v1/log/entries?limit=5001", headers=_auth(http, "chair"))
    assert response.status_code == 422
    beyond = http.get(f"/v1/log/entries?start={len(stored)}", headers=_auth(http, "chair"))
    assert beyond.json()["entries"] == []
    middle = http.get("/v1/log/entries?start=2&limit=2", headers=_auth(http, "chair")).json()
    assert [base64.b64decode(e) for e in middle["entries"]] == stored[2:4]


# -- the witness command against a real server ----------------------------------------------


def test_the_chair_cosigns_over_http_and_an_auditor_checks_it(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.cli.main import main

    for name in ("INQUIRY_LEDGER_DATABASE_URL", "INQUIRY_LEDGER_SERVER", "INQUIRY_LEDGER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    config = LedgerConfig(home=tmp_path / "home")
    from datetime import UTC, datetime

    world = make_world(config, lambda: datetime.now(UTC))
    world.add_action("R1.1")
    world.checkpoint()
    token = TokenStore(world.ledger.tables).create("chair", timedelta(hours=1))
    vkey = tmp_path / "log.vkey"
    vkey.write_text(world.vkey.encode())
    key_file, state = tmp_path / "chair-witness.key", tmp_path / "witness-state"
    assert main(["witness", "new-key", "--name", "chair.example", "--out", str(key_file)]) == 0
    witness_key = capsys.readouterr().out.split("readers pin it): ")[1].strip()
    (tmp_path / "chair.wkey").write_text(witness_key)
    cosign = [
        "witness", "cosign", "--name", "chair.example", "--key", str(key_file),
        "--log-key", str(vkey), "--state", str(state),
    ]  # fmt: skip

    with running_server({"INQUIRY_LEDGER_HOME": str(config.home)}) as url:
        remote = ["--server", url, "--token", token]
        assert main([*remote, *cosign]) == 0
        first_size = world.ledger.tree_size()
        assert f"at size {first_size}" in capsys.readouterr().out
        world.client("council.officer").comment("R1.1", "between visits")
        world.checkpoint()
        assert main([*remote, *cosign]) == 0  # checked with a consistency proof first
        assert f"at size {world.ledger.tree_size()}" in capsys.readouterr().out

        # Had the log earlier shown the chair a fork of today's size, today's honest
        # checkpoint is the split view: the command fails and keeps both notes.
        honest = (state / "latest-cosigned.note").read_text()
        forked = Checkpoint(world.ledger.origin(), world.ledger.tree_size(), b"\x02" * 32)
        (state / "latest-cosigned.note").write_text(forked.sign(world.log_signer))
        assert main([*remote, *cosign]) == 1
        assert "SPLIT VIEW" in capsys.readouterr().err
        assert len(list(state.glob("split-view-*.txt"))) == 1
        (state / "latest-cosigned.note").write_text(honest)

        # The chair needs no shell on the server: the same bundle, exported over HTTP.
        online = tmp_path / "online.zip"
        assert main([*remote, "export", "--out", str(online), "--log-key", str(vkey)]) == 0
        assert "exported" in capsys.readouterr().out

    report = audit(
        online, log_key=world.vkey.encode(), trust=world.trust, witness_keys=[witness_key]
    )
    assert report.ok, report.problems
    assert report.witnessed == {"chair.example": world.ledger.tree_size()}
    export_bundle(world.ledger, world.vkey.encode(), tmp_path / "bundle")
    assert (tmp_path / "bundle" / "entries.jsonl").read_bytes() == zipfile.ZipFile(online).read(
        "entries.jsonl"
    )
    report = audit(
        tmp_path / "bundle",
        log_key=world.vkey.encode(),
        trust=world.trust,
        witness_keys=[witness_key],
    )
    assert report.ok, report.problems
    assert report.witnessed == {"chair.example": world.ledger.tree_size()}
    assert (state / "latest-cosigned.note").exists()
    trust = tmp_path / "trust.keys"
    trust.write_text(world.trust)
    code = main(
        [
            "verify-bundle", str(tmp_path / "bundle"), "--log-key", str(vkey),
            "--trust", str(trust),
            "--witness-key", str(tmp_path / "chair.wkey"), "--report", str(tmp_path / "r"),
        ]
    )  # fmt: skip
    assert code == 0
    saved = json.loads((tmp_path / "r" / "verification-report.json").read_text())
    assert saved["witnessed"] == {"chair.example": world.ledger.tree_size()}
    world.ledger.close()


def test_a_split_view_is_kept_as_evidence(world: World, tmp_path: Path) -> None:
    state = WitnessState(tmp_path / "state")
    seen = world.ledger.tables.latest_checkpoint().note  # type: ignore[union-attr]
    state.save(seen)
    forked = Checkpoint(world.ledger.origin(), world.ledger.tree_size(), b"\x08" * 32)
    shown = forked.sign(world.log_signer)
    with pytest.raises(SplitView) as caught:
        check_extends(shown, state.latest(), world.vkey, world.ledger.consistency_proof)
    evidence = state.record_split_view(caught.value)
    text = evidence.read_text()
    assert seen in text and shown in text
    assert state.latest() == seen  # what the witness cosigned is unchanged
