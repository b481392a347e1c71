"""What `POST /v1/entries` no longer pays twice (issue 18), with the same answers and
refusals: the caller is authenticated once per request (HeaderAuth's result reused by the
route), the answer is encoded as FastAPI encoded it, and the receipts of concurrent
appends, sharing signatures, each verify."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.application.tokens import TokenStore
from api.http import deps
from api.http.app import create_app
from api.http.routes.entries import as_json
from api.http.routes.schemas import AppendedOut, AppendOut, ReceiptOut
from domain import Action
from ledger.auditor.receipt import Receipt, verify_receipt
from tests.support.api_calls import auth, signed, wire
from tests.support.world import World, make_world

ACTIONS = ("R1.1", "R1.2", "R1.3", "R1.4")


@pytest.fixture
def world(config: Any, clock: Any) -> Iterator[World]:
    w = make_world(config, clock)
    for action_id in ACTIONS:
        w.add_action(action_id)
    yield w
    w.ledger.close()


@pytest.fixture
def http(world: World) -> Iterator[Any]:
    with TestClient(create_app(world.config, world.ledger)) as client:
        tokens = TokenStore(world.ledger.tables)
        client.tokens = {  # type: ignore[attr-defined]
            user: tokens.create(user, timedelta(days=1), now=world.clock.now) for user in world.keys
        }
        yield client


def _comment(world: World, action_id: str, text: str) -> dict[str, Any]:
    entry = signed(
        world,
        "council.officer",
        Action.CommentAdded.TYPE,
        action_id,
        {"kind": "comment", "text": text},
    )
    return {"entries": [wire(entry)]}


@pytest.fixture
def authentications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The path of every request authenticated (HeaderAuth's or the route's)."""
    seen: list[str] = []
    original = deps.authenticate

    def counted(request: Any, svc: Any, authorization: str | None) -> Any:
        seen.append(request.url.path)
        return original(request, svc, authorization)

    monkeypatch.setattr(deps, "authenticate", counted)
    return seen


def test_an_append_is_authenticated_once(http: Any, world: World, authentications: list) -> None:
    response = http.post(
        "/v1/entries", json=_comment(world, "R1.1", "once"), headers=auth(http, "council.officer")
    )
    assert response.status_code == 200, response.text
    assert authentications == ["/v1/entries"]
    assert http.get("/v1/me", headers=auth(http, "council.officer")).status_code == 200
    assert authentications == ["/v1/entries", "/v1/me"]  # a read: by the route, once too


def test_the_refusals_are_unchanged(http: Any, world: World) -> None:
    body = _comment(world, "R1.1", "refused")
    for headers in ({}, {"Authorization": "Bearer il_nope_nope"}, {"Authorization": "Basic x"}):
        for response in (
            http.post("/v1/entries", json=body, headers=headers),
            http.get("/v1/me", headers=headers),
        ):
            assert response.status_code == 401, response.text
            assert response.json()["error"] == "unauthenticated"
            assert response.headers["WWW-Authenticate"] == "Bearer"
    chair = auth(http, "chair")  # authenticated, then refused by the route's own rule
    response = http.post("/v1/entries", json=body, headers=chair)
    assert response.status_code == 403 and response.json()["error"] == "not_your_entry"
    TokenStore(world.ledger.tables).revoke(http.tokens["council.officer"].split("_")[1])
    response = http.post("/v1/entries", json=body, headers=auth(http, "council.officer"))
    assert response.status_code == 401 and "revoked" in response.json()["detail"]
    assert http.get("/v1/me", headers=auth(http, "council.officer")).status_code == 401


def test_the_answer_is_encoded_as_fastapi_encodes_the_model() -> None:
    receipt = ReceiptOut(
        format="inquiry-ledger/receipt/v1",
        leaf_index=3,
        leaf_hash="QUJD",
        checkpoint="test.example/ledger é\n4\nQUJD\n\n\u2014 test.example/ledger x\n",
        inclusion_proof=["QUJD", "REVG"],
    )
    out = AppendOut(
        appended=[
            AppendedOut(
                leaf_index=3, notification_id=4, type="t", aggregate_id="a\u2028", version=2,
                receipt=receipt,
            ),
            AppendedOut(leaf_index=4, notification_id=5, type="t", aggregate_id="b", version=1),
        ],
        replayed=True,
    )  # fmt: skip
    app = FastAPI()
    # FastAPI's own encoding of the returned model, and the route's.
    app.add_api_route("/model", lambda: out, methods=["PUT"], response_model=AppendOut)
    app.add_api_route("/ours", lambda: as_json(out), methods=["PUT"], response_model=AppendOut)
    with TestClient(app) as client:
        theirs, ours = client.put("/model"), client.put("/ours")
    assert ours.content == theirs.content
    assert ours.headers == theirs.headers


def test_concurrent_appends_each_get_a_receipt_that_verifies(http: Any, world: World) -> None:
    headers = auth(http, "council.officer")
    answers: list[Any] = []
    lock = threading.Lock()

    def post(action_id: str) -> None:
        for i in range(3):
            body = _comment(world, action_id, f"{action_id} {i}")
            response = http.post("/v1/entries", json=body, headers=headers)
            assert response.status_code == 200, response.text
            with lock:
                answers.append(response.json()["appended"][0])

    threads = [threading.Thread(target=post, args=(a,)) for a in ACTIONS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(answers) == 3 * len(ACTIONS)
    for appended in answers:
        receipt = Receipt.from_json(appended["receipt"])
        index = appended["leaf_index"]
        entry = world.ledger.leaf_entries(index, index + 1)[0][1]
        assert receipt.leaf_index == index
        assert verify_receipt(receipt, world.vkey, entry).size > index
