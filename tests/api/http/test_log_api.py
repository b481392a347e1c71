"""The public transparency-log endpoints: in-process, and a real uvicorn on loopback."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from ledger.auditor import merkle
from ledger.auditor.checkpoint import Checkpoint
from tests.support.server import free_port, running_server
from tests.support.world import World, make_world


@pytest.fixture
def world(config, clock) -> World:
    w = make_world(config, clock)
    w.add_action("R1.1")
    yield w
    w.ledger.close()


def test_checkpoints_and_proofs_verify_offline(world: World) -> None:
    old = Checkpoint.verify(world.checkpoint().note, world.vkey)
    for i in range(7):
        world.client("council.officer").comment("R1.1", f"note {i}")
    world.checkpoint()
    with TestClient(create_app(world.config, world.ledger)) as http:
        assert http.get("/healthz").json()["tree_size"] == world.ledger.tree_size()
        note = http.get("/v1/checkpoint").text
        new = Checkpoint.verify(note, world.vkey)
        body = http.get(
            "/v1/proofs/consistency", params={"old_size": old.size, "new_size": new.size}
        ).json()
        proof = [base64.b64decode(h) for h in body["proof"]]
        assert merkle.verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)
        for index in (0, new.size // 2, new.size - 1):
            leaf = base64.b64decode(http.get(f"/v1/entries/{index}").json()["leaf_hash"])
            body = http.get(
                "/v1/proofs/inclusion", params={"leaf_index": index, "tree_size": new.size}
            ).json()
            path = [base64.b64decode(h) for h in body["proof"]]
            assert merkle.verify_inclusion(index, new.size, leaf, path, new.root_hash)
        assert len(http.get("/v1/checkpoints").json()) == 3  # init, old, new


def test_bad_requests_get_json_errors(world: World) -> None:
    world.checkpoint()
    with TestClient(create_app(world.config, world.ledger)) as http:
        size = world.ledger.tree_size()
        response = http.get("/v1/proofs/inclusion", params={"leaf_index": size, "tree_size": size})
        assert response.status_code == 400 and response.json()["error"] == "bad_proof_request"
        response = http.get("/v1/proofs/consistency", params={"old_size": 1, "new_size": size + 5})
        assert response.status_code == 400
        assert http.get("/v1/entries/999999").json()["error"] == "no_such_entry"
        assert (
            http.get("/v1/proofs/inclusion", params={"leaf_index": -1, "tree_size": 1}).status_code
            == 422
        )


def test_serve_runs_a_real_server(world: World) -> None:
    world.checkpoint()
    env = {"INQUIRY_LEDGER_HOME": str(world.config.home)}
    if world.config.database_url:
        env["INQUIRY_LEDGER_DATABASE_URL"] = world.config.database_url
    with running_server(env) as url, urllib.request.urlopen(f"{url}/v1/checkpoint") as response:
        body = response.read().decode()
    assert Checkpoint.verify(body, world.vkey).size == world.ledger.tree_size()


def test_serve_writes_one_json_access_line_per_request(world: World, tmp_path) -> None:

    env = {**os.environ, "INQUIRY_LEDGER_HOME": str(world.config.home)}
    if world.config.database_url:
        env["INQUIRY_LEDGER_DATABASE_URL"] = world.config.database_url
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--workers", "1", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=sink,
        )
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.1)
            try:
                urllib.request.urlopen(
                    urllib.request.Request(
                        f"http://127.0.0.1:{port}/v1/me",
                        headers={"Authorization": "Bearer il_secret_tokenvalue"},
                    ),
                    timeout=2,
                )
            except urllib.error.HTTPError as error:
                assert error.code == 401
        finally:
            process.terminate()
            process.wait(timeout=20)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert [(r["path"], r["status"]) for r in lines][-2:] == [("/healthz", 200), ("/v1/me", 401)]
    assert "il_secret_tokenvalue" not in log.read_text()
