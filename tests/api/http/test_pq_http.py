"""The server publishes the log's post-quantum key with the statement binding it to the log
key (`GET /v1/log-key/pq`), serves checkpoints carrying both signature lines, and an
export through the API carries the statement (api/cli/remote.py `RemoteSource`)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

import tests.support.world as world_module
from api.application.setup import initialise
from api.cli.remote import RemoteSource
from api.http.app import create_app
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.mldsa import PQVerifierKey, open_pq_note
from ledger.auditor.pqkey import PQBinding
from ledger.config import LedgerConfig
from tests.support.clock import Clock
from tests.support.world import World, make_world

pytestmark = pytest.mark.parametrize("config", ["sqlite"], indirect=True)


class _Remote:
    """What RemoteSource asks of a RemoteLedger: its HTTP client and its answer check."""

    def __init__(self, http: TestClient) -> None:
        self.http = http

    def _check(self, response: httpx.Response) -> Any:
        response.raise_for_status()
        return response.json()


def test_the_pq_key_is_published_with_its_statement(world: World) -> None:
    world.client("council.officer").comment("R1.1", "grows the log")
    world.checkpoint()
    with TestClient(create_app(world.config, world.ledger)) as http:
        answer = http.get("/v1/log-key/pq")
        assert answer.status_code == 200
        body = answer.json()
        binding = PQBinding.parse(body["statement"])
        assert binding.log == world.vkey  # the log key the auditor pinned signed it
        assert PQVerifierKey.parse(body["vkey"]) == binding.pq
        assert body["since"] == binding.size
        note = http.get("/v1/checkpoint").text
        assert Checkpoint.verify(note, world.vkey).size == world.ledger.tree_size()
        assert open_pq_note(note, binding.pq)
        assert RemoteSource(_Remote(http)).log_pq_statement() == body["statement"]  # type: ignore[arg-type]


@pytest.fixture
def old_world(config: LedgerConfig, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setattr(
        world_module, "initialise", functools.partial(initialise, post_quantum=False)
    )
    w = make_world(config, Clock())
    yield w
    w.ledger.close()


def test_a_log_without_a_pq_key_answers_404(old_world: World) -> None:
    with TestClient(create_app(old_world.config, old_world.ledger)) as http:
        answer = http.get("/v1/log-key/pq")
        assert answer.status_code == 404 and answer.json()["error"] == "no_pq_log_key"
        assert RemoteSource(_Remote(http)).log_pq_statement() is None  # type: ignore[arg-type]
