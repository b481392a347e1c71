"""Entry timestamps through every signer: the HTTP API says how a refusal happened and what
the next entry's earliest timestamp is; the remote client, the page's prepared bodies and
the CLI date entries so that a future-dated predecessor blocks nobody."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.application.commands import Client
from api.application.prepare import prepare
from api.application.tokens import TokenStore
from api.cli.remote import RemoteLedger
from api.http.app import create_app
from domain import Action, action_aggregate_id
from ledger.auditor.entry import SignedEntry, format_timestamp
from ledger.config import DEFAULT_FORWARD_SKEW
from ledger.signer import Signer
from ledger.timestamps import STEP
from tests.support.clock import Clock
from tests.support.sample_plan import setup_plan
from tests.support.world import World, make_world

R1_1 = action_aggregate_id("R1.1")
FORWARD = DEFAULT_FORWARD_SKEW


class StoppedClock(Clock):
    """The simulated clock, stopped: an HTTP request reads it several times, and a stopped
    clock makes "dated ahead of it by exactly the bound" exact."""

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def http(world: World) -> Iterator[Any]:
    with TestClient(create_app(world.config, world.ledger)) as client:
        tokens = TokenStore(world.ledger.tables)
        client.tokens = {
            user: tokens.create(user, timedelta(days=1), now=world.clock.now) for user in world.keys
        }
        yield client


def _headers(http: Any, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {http.tokens[user]}"}


def _wire(entry: SignedEntry) -> dict[str, Any]:
    obj = entry.to_json()
    return {"signature": obj.pop("signature"), "body": obj}


def _ahead(world: World, user: str, offset: timedelta) -> SignedEntry:
    """A comment on R1.1 dated `offset` from the ledger's clock when it next reads it."""
    at = world.clock.now + timedelta(seconds=1) + offset
    signer = dataclasses.replace(world.signer(user), clock=lambda: at)
    version = world.ledger.next_entry(R1_1).version
    return signer.sign(Action.CommentAdded.TYPE, R1_1, version, {"kind": "comment", "text": "x"})


def test_an_entry_beyond_the_forward_bound_is_refused_with_a_json_reason(
    http: Any, world: World
) -> None:
    entry = _ahead(world, "council.officer", FORWARD + timedelta(minutes=1))
    response = http.post(
        "/v1/entries", json={"entries": [_wire(entry)]}, headers=_headers(http, "council.officer")
    )
    assert response.status_code == 422
    reason = response.json()
    assert reason["error"] == "clock_skew"
    assert "too far in the future" in reason["detail"] and "at most 5 s ahead" in reason["detail"]


def test_the_version_route_tells_the_next_entrys_earliest_timestamp(
    http: Any, world: World
) -> None:
    ahead = _ahead(world, "council.officer", FORWARD)
    world.ledger.append([ahead])
    found = http.get(f"/v1/aggregates/{R1_1}/version", headers=_headers(http, "chair")).json()
    assert found["version"] == ahead.body.version
    assert found["timestamp"] == format_timestamp(ahead.body.timestamp)
    assert found["not_before"] == format_timestamp(ahead.body.timestamp + STEP)
    fresh = http.get(
        f"/v1/aggregates/{action_aggregate_id('R9.9')}/version", headers=_headers(http, "chair")
    )
    assert fresh.json() == {
        "aggregate_id": str(action_aggregate_id("R9.9")),
        "version": 0,
        "timestamp": None,
        "not_before": None,
    }


def test_remote_clients_sign_after_a_future_dated_entry(config: Any) -> None:
    """The attack over HTTP, on a stopped clock: the chair's and the group's CLI clients
    learn the floor from the server and are accepted straight after an officer's entry
    at the forward bound, past it by a microsecond each."""
    clock = StoppedClock()
    world = make_world(config, clock)
    try:
        world.add_action("R1.1")
        world.ledger.append([_ahead(world, "council.officer", FORWARD - timedelta(seconds=1))])
        ahead = world.ledger.aggregate_events(R1_1)[-1].timestamp
        assert ahead == clock.now + FORWARD
        with TestClient(create_app(world.config, world.ledger)) as http:
            for user in ("chair", "sig"):
                token = TokenStore(world.ledger.tables).create(
                    user, timedelta(days=1), now=clock.now
                )
                remote = RemoteLedger("http://testserver", token, transport=http._transport)
                Client(remote, world.signer(user)).comment("R1.1", f"{user} right after")
        events = world.ledger.aggregate_events(R1_1)
        assert [e.actor for e in events[-3:]] == ["council.officer", "chair", "sig"]
        assert [e.timestamp for e in events[-2:]] == [ahead + STEP, ahead + 2 * STEP]
    finally:
        world.ledger.close()


def test_a_page_prepares_a_body_the_ledger_accepts_after_a_future_dated_entry(
    world: World,
) -> None:
    ahead = _ahead(world, "council.officer", FORWARD)
    world.ledger.append([ahead])
    key = world.keys["chair"]
    who, _ = world.ledger.require_directory().resolve("chair", key.key_id)
    body = prepare(world.ledger, who, key.key_id, "R1.1", "comment", {"text": "from the page"})
    assert body.timestamp == ahead.body.timestamp + STEP
    world.ledger.append([SignedEntry.sign(body, key)])


def test_the_cli_exits_3_naming_the_bound_when_its_clock_runs_ahead(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_plan(cli, tmp_path)
    jo = ["--as", "jo", "--key", str(tmp_path / "jo.key")]

    def fast(*args: Any, **kwargs: Any) -> Signer:  # this machine's clock is a minute fast
        signer = Signer(*args, **kwargs)
        return dataclasses.replace(signer, clock=lambda: datetime.now(UTC) + timedelta(minutes=1))

    monkeypatch.setattr("api.cli.common.Signer", fast)
    code, _, err = cli(*jo, "act", "R1.1", "start")
    assert code == 3
    assert "too far in the future" in err and "check this computer's clock" in err
