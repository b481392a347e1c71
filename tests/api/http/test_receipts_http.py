"""Receipts over HTTP, checkpoints on request and on a schedule: in-process, and a real
server driven by the CLI in client mode, where an operator who drops the last entries and
re-signs is caught by `receipts check --server`."""

from __future__ import annotations

import base64
import dataclasses
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.application.tokens import TokenStore
from api.http.app import create_app
from domain import Action, action_aggregate_id
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.receipt import Receipt, verify_receipt
from ledger.service import Ledger
from tests.support.rawdb import drop_last_entries
from tests.support.server import running_server
from tests.support.world import World, make_world


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def world(config: Any) -> Iterator[World]:
    w = make_world(config, _now)
    w.add_action("R1.1")
    yield w
    w.ledger.close()


def _tokens(world: World) -> dict[str, str]:
    store = TokenStore(world.ledger.tables)
    return {user: store.create(user, timedelta(days=1)) for user in world.keys}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _comments(world: World, n: int) -> list[dict[str, Any]]:
    officer = world.signer("council.officer")
    aggregate = action_aggregate_id("R1.1")
    version = world.ledger.version_of(aggregate)
    wire = []
    for i in range(n):
        obj = officer.sign(
            Action.CommentAdded.TYPE,
            aggregate,
            version + 1 + i,
            {"kind": "comment", "text": str(i)},
        ).to_json()
        wire.append({"signature": obj.pop("signature"), "body": obj})
    return wire


def _no_regular(world: World) -> Any:
    return dataclasses.replace(world.config, checkpoint_interval=timedelta(0))


def test_an_append_answers_with_receipts_under_one_checkpoint(world: World) -> None:
    tokens = _tokens(world)
    stored = len(world.ledger.tables.checkpoints())
    with TestClient(create_app(_no_regular(world), world.ledger)) as http:
        request = {"entries": _comments(world, 3), "command_id": "receipts-test-1"}
        response = http.post(
            "/v1/entries", json=request, headers=_bearer(tokens["council.officer"])
        )
        assert response.status_code == 200, response.text
        appended = response.json()["appended"]
        receipts = [Receipt.from_json(a["receipt"]) for a in appended]
        assert len({r.checkpoint for r in receipts}) == 1
        for a, receipt in zip(appended, receipts, strict=True):
            entry = world.ledger.leaf_entries(a["leaf_index"], a["leaf_index"] + 1)[0][1]
            assert verify_receipt(receipt, world.vkey, entry).size == world.ledger.tree_size()
            leaf = http.get(f"/v1/entries/{a['leaf_index']}").json()["leaf_hash"]
            assert base64.b64decode(leaf) == receipt.leaf_hash
        replay = http.post("/v1/entries", json=request, headers=_bearer(tokens["council.officer"]))
        assert replay.json()["replayed"] is True
        assert [a["receipt"] for a in replay.json()["appended"]] == [a["receipt"] for a in appended]
    assert len(world.ledger.tables.checkpoints()) == stored  # receipts' checkpoints: not stored


def test_the_chair_and_the_implementation_group_may_ask_for_a_checkpoint(world: World) -> None:
    tokens = _tokens(world)
    with TestClient(create_app(_no_regular(world), world.ledger)) as http:
        for user in ("chair", "sig", "admin"):
            world.client("council.officer").comment("R1.1", f"before {user} asks")
            response = http.post("/v1/checkpoint", headers=_bearer(tokens[user]))
            assert response.status_code == 200, (user, response.text)
            assert Checkpoint.verify(response.text, world.vkey).size == world.ledger.tree_size()
        for user in ("scrutiny", "council.officer", "council.lead"):
            response = http.post("/v1/checkpoint", headers=_bearer(tokens[user]))
            assert response.status_code == 403, user


def test_the_server_signs_regular_checkpoints_while_it_runs(world: World) -> None:
    config = dataclasses.replace(world.config, checkpoint_interval=timedelta(seconds=0.05))
    with TestClient(create_app(config, world.ledger)):
        world.client("council.officer").comment("R1.1", "grown")
        size = world.ledger.tree_size()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            latest = world.ledger.latest_checkpoint()
            if latest is not None and latest.tree_size == size:
                break
            time.sleep(0.02)
        assert latest is not None and latest.tree_size == size
    world.client("council.officer").comment("R1.1", "after the app stopped")
    time.sleep(0.2)
    assert world.ledger.latest_checkpoint().tree_size == size  # type: ignore[union-attr]


def test_the_report_signs_a_fresh_checkpoint_on_the_server(world: World) -> None:
    tokens = _tokens(world)
    world.checkpoint()
    world.client("council.officer").comment("R1.1", "after the checkpoint")
    with TestClient(create_app(_no_regular(world), world.ledger)) as http:
        response = http.get(
            "/v1/report", params={"as_of": "2099-01-01"}, headers=_bearer(tokens["chair"])
        )
        assert response.status_code == 200, response.text
        size = str(world.ledger.tree_size())
        assert response.headers["x-checkpoint-size"] == response.headers["x-log-size"] == size


def test_receipts_through_a_real_server_and_a_truncation_caught(
    world: World, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = world.config
    tokens = _tokens(world)
    world.keys["council.officer"].write(tmp_path / "officer.key")
    vkey = tmp_path / "pinned.vkey"
    vkey.write_text(config.log_vkey_path.read_text())
    env = {"INQUIRY_LEDGER_HOME": str(config.home), "INQUIRY_LEDGER_CHECKPOINT_INTERVAL": "0.2"}
    if config.database_url:
        env["INQUIRY_LEDGER_DATABASE_URL"] = config.database_url
    with running_server(env) as url:
        client_home = tmp_path / "client"
        monkeypatch.setenv("INQUIRY_LEDGER_HOME", str(client_home))
        monkeypatch.delenv("INQUIRY_LEDGER_DATABASE_URL", raising=False)
        officer = ["--server", url, "--token", tokens["council.officer"]]
        signing = [*officer, "--as", "council.officer", "--key", str(tmp_path / "officer.key")]
        code, out, err = cli(*signing, "act", "R1.1", "comment", "stays")
        assert code == 0, err
        book = client_home / "receipts" / "test.example_ledger.jsonl"
        assert f"kept in {book}" in out
        keep = world.ledger.tree_size()
        for text in ("will vanish", "will vanish too"):
            assert cli(*signing, "act", "R1.1", "comment", text)[0] == 0
        size = world.ledger.tree_size()
        deadline = time.monotonic() + 10  # the server's regular checkpoint covers them
        while world.ledger.latest_checkpoint().tree_size < size:  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no regular checkpoint"
            time.sleep(0.05)
        code, out, err = cli(*officer, "receipts", "check", "--log-key", str(vkey))
        assert code == 0, err
        assert out.strip() == f"3 receipts checked: all still in the log under checkpoint {size}"
        code, _, err = cli(*officer, "receipts", "check")
        assert code == 2 and "needs --log-key" in err

        drop_last_entries(config, keep)
        with Ledger(config) as shorter:
            shorter.sign_checkpoint(world.log_signer)
        code, out, err = cli(*officer, "receipts", "check", "--log-key", str(vkey))
        assert code == 1
        assert err.count("NO LONGER IN THE LOG AT ITS PLACE") == 2
        assert "3 receipts checked: 2 problem(s)" in out


def test_export_over_http_asks_for_a_fresh_checkpoint(
    world: World, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = world.config
    tokens = _tokens(world)
    world.checkpoint()
    world.client("council.officer").comment("R1.1", "after the checkpoint")
    vkey = tmp_path / "pinned.vkey"
    vkey.write_text(config.log_vkey_path.read_text())
    env = {"INQUIRY_LEDGER_HOME": str(config.home), "INQUIRY_LEDGER_CHECKPOINT_INTERVAL": "0"}
    if config.database_url:
        env["INQUIRY_LEDGER_DATABASE_URL"] = config.database_url
    with running_server(env) as url:
        monkeypatch.setenv("INQUIRY_LEDGER_HOME", str(tmp_path / "client"))
        monkeypatch.delenv("INQUIRY_LEDGER_DATABASE_URL", raising=False)
        out_dir = tmp_path / "scrutiny.zip"
        code, _, err = cli(
            "--server", url, "--token", tokens["scrutiny"], "export", "--out", str(out_dir),
            "--log-key", str(vkey),
        )  # fmt: skip
        assert code == 2 and "does not cover" in err  # scrutiny may not ask for one
        code, out, err = cli(
            "--server", url, "--token", tokens["chair"], "export", "--out", str(out_dir),
            "--log-key", str(vkey),
        )  # fmt: skip
        assert code == 0, err
        assert f"exported {world.ledger.tree_size()} entries" in out
