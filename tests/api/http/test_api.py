"""The HTTP API in-process (FastAPI's TestClient), on both event stores."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.application.tokens import TokenStore
from api.http.app import create_app
from domain import DIRECTORY_ID, Action, Directory, Status, action_aggregate_id
from domain.charter import DEFAULT_APPOINTERS
from ledger.auditor.ed25519 import encode_public_key
from ledger.auditor.entry import SignedEntry
from ledger.keys import KeyPair
from ledger.signer import Signer
from tests.support.world import ORIGIN, World, clear_store_settings, make_world


@pytest.fixture
def world(config, clock, monkeypatch: pytest.MonkeyPatch) -> World:

    clear_store_settings(monkeypatch)
    w = make_world(config, clock)
    w.add_action("R1.1")
    w.add_action("R1.2", lead="police")
    yield w
    w.ledger.close()


@pytest.fixture
def http(world: World) -> Any:
    with TestClient(create_app(world.config, world.ledger, json_limit=64 * 1024)) as client:
        tokens = TokenStore(world.ledger.tables)
        client.tokens = {
            user: tokens.create(user, timedelta(days=1), now=world.clock.now) for user in world.keys
        }
        yield client


def auth(http: Any, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {http.tokens[user]}"}


def wire(entry: SignedEntry) -> dict[str, Any]:
    obj = entry.to_json()
    signature = obj.pop("signature")
    return {"body": obj, "signature": signature}


def signed(
    world: World,
    user: str,
    type_name: str,
    action_id: str,
    payload: dict[str, Any],
    version: int | None = None,
) -> SignedEntry:
    aggregate = action_aggregate_id(action_id)
    version = version or world.ledger.version_of(aggregate) + 1
    return world.signer(user).sign(type_name, aggregate, version, payload)


START = {"from_status": "not_started", "to_status": "in_progress", "reason": ""}


def test_reads_need_a_valid_token(http: Any, world: World) -> None:
    assert http.get("/v1/me").status_code == 401
    response = http.get("/v1/me", headers={"Authorization": "Bearer il_nope_nope"})
    assert response.status_code == 401 and response.json()["error"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    me = http.get("/v1/me", headers=auth(http, "council.officer")).json()
    assert me["role"] == "officer" and me["agency"] == "council"
    token_id = http.tokens["council.officer"].split("_")[1]
    TokenStore(world.ledger.tables).revoke(token_id)
    response = http.get("/v1/me", headers=auth(http, "council.officer"))
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_expired_tokens_are_refused(world: World) -> None:
    tokens = TokenStore(world.ledger.tables)
    token = tokens.create("chair", timedelta(seconds=1), now=world.clock.now - timedelta(days=1))
    with TestClient(create_app(world.config, world.ledger)) as http:
        response = http.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_tokens_are_stored_only_as_hashes(http: Any, world: World) -> None:
    secret = http.tokens["chair"].split("_", 2)[2]
    with world.ledger.tables.datastore.transaction(commit=False) as cursor:
        cursor.execute("SELECT * FROM api_tokens")
        rows = [dict(row) for row in cursor.fetchall()]
    assert rows and not any(secret in str(row) for row in rows)


def test_a_signed_entry_is_appended_and_the_history_shows_it(http: Any, world: World) -> None:
    entry = signed(world, "council.officer", Action.StatusChanged.TYPE, "R1.1", START)
    response = http.post(
        "/v1/entries", json={"entries": [wire(entry)]}, headers=auth(http, "council.officer")
    )
    assert response.status_code == 200, response.text
    appended = response.json()["appended"][0]
    assert appended["version"] == 2 and appended["leaf_index"] == world.ledger.tree_size() - 1
    detail = http.get("/v1/actions/R1.1", headers=auth(http, "council.officer")).json()
    assert detail["action"]["status"] == "in_progress"
    assert detail["history"][-1]["signature"] == base64.b64encode(entry.signature).decode()


def test_a_token_cannot_write_without_its_users_signature(http: Any, world: World) -> None:
    entry = signed(world, "council.officer", Action.StatusChanged.TYPE, "R1.1", START)
    forged = wire(entry)
    forged["signature"] = base64.b64encode(bytes(64)).decode()
    response = http.post(
        "/v1/entries", json={"entries": [forged]}, headers=auth(http, "council.officer")
    )
    assert response.status_code == 403 and response.json()["error"] == "bad_signature"
    # ... nor submit someone else's properly signed entry
    response = http.post(
        "/v1/entries", json={"entries": [wire(entry)]}, headers=auth(http, "council.lead")
    )
    assert response.status_code == 403 and response.json()["error"] == "not_your_entry"
    assert world.ledger.action("R1.1").status is Status.NOT_STARTED  # type: ignore[union-attr]


def test_a_signature_in_non_canonical_base64_is_refused_as_the_auditor_refuses_it(
    http: Any, world: World
) -> None:
    """The server parses entries with the entry format's own parser: a signature whose
    base64 decodes but does not re-encode to the same text (unused pad bits set) is refused
    here too, not accepted and stored re-encoded."""
    entry = signed(world, "council.officer", Action.StatusChanged.TYPE, "R1.1", START)
    sent = wire(entry)
    text = sent["signature"]
    assert text.endswith("==")
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".index(text[-3])
    sent["signature"] = (
        text[:-3] + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[last | 1] + "=="
    )
    assert base64.b64decode(sent["signature"]) == entry.signature  # same bytes, other text
    response = http.post(
        "/v1/entries", json={"entries": [sent]}, headers=auth(http, "council.officer")
    )
    assert response.status_code == 422, response.text
    assert response.json() == {
        "error": "invalid_entry",
        "detail": "signature is not in canonical base64",
    }
    sent["body"] = {**sent["body"], "signature": text}
    response = http.post(
        "/v1/entries", json={"entries": [sent]}, headers=auth(http, "council.officer")
    )
    assert response.status_code == 422 and response.json()["error"] == "invalid_entry"
    assert world.ledger.action("R1.1").status is Status.NOT_STARTED  # type: ignore[union-attr]


def test_role_and_agency_refusals_are_403_with_the_rule(http: Any, world: World) -> None:
    entry = signed(world, "council.officer", Action.StatusChanged.TYPE, "R1.2", START)
    response = http.post(
        "/v1/entries", json={"entries": [wire(entry)]}, headers=auth(http, "council.officer")
    )
    body = response.json()
    assert response.status_code == 403 and body["error"] == "not_permitted"
    assert body["rule"] == "action.start" and "police" in body["detail"]
    entry = signed(
        world, "scrutiny", Action.CommentAdded.TYPE, "R1.1", {"kind": "comment", "text": "hello"}
    )
    response = http.post(
        "/v1/entries", json={"entries": [wire(entry)]}, headers=auth(http, "scrutiny")
    )
    assert response.status_code == 403


def test_conflicting_updates_get_409_with_the_current_version(http: Any, world: World) -> None:
    first = signed(
        world,
        "council.officer",
        Action.CommentAdded.TYPE,
        "R1.1",
        {"kind": "comment", "text": "first"},
    )
    second = signed(
        world,
        "council.lead",
        Action.CommentAdded.TYPE,
        "R1.1",
        {"kind": "comment", "text": "second"},
        version=first.body.version,
    )
    assert (
        http.post(
            "/v1/entries", json={"entries": [wire(first)]}, headers=auth(http, "council.officer")
        ).status_code
        == 200
    )
    response = http.post(
        "/v1/entries", json={"entries": [wire(second)]}, headers=auth(http, "council.lead")
    )
    assert response.status_code == 409
    assert response.json()["current_version"] == first.body.version


def test_a_retried_command_is_stored_once(http: Any, world: World) -> None:
    entry = signed(
        world,
        "council.officer",
        Action.CommentAdded.TYPE,
        "R1.1",
        {"kind": "comment", "text": "only once"},
    )
    request = {"entries": [wire(entry)], "command_id": "cmd-0001-retry"}
    first = http.post("/v1/entries", json=request, headers=auth(http, "council.officer"))
    size = world.ledger.tree_size()
    again = http.post("/v1/entries", json=request, headers=auth(http, "council.officer"))
    assert first.status_code == again.status_code == 200
    assert again.json()["replayed"] and again.json()["appended"] == first.json()["appended"]
    assert world.ledger.tree_size() == size
    other = signed(
        world,
        "council.officer",
        Action.CommentAdded.TYPE,
        "R1.1",
        {"kind": "comment", "text": "different"},
    )
    response = http.post(
        "/v1/entries",
        json={"entries": [wire(other)], "command_id": "cmd-0001-retry"},
        headers=auth(http, "council.officer"),
    )
    assert response.status_code == 409 and response.json()["error"] == "command_id_reused"


def test_malformed_requests_are_422_json(http: Any) -> None:
    headers = auth(http, "council.officer")
    for payload in (
        {},
        {"entries": []},
        {"entries": [{"body": {}, "signature": "x"}]},
        {"entries": [{"body": {"type": "x"}, "signature": "AAAA"}]},
    ):
        response = http.post("/v1/entries", json=payload, headers=headers)
        assert response.status_code == 422, payload
        assert set(response.json()) >= {"error", "detail"}
    response = http.post(
        "/v1/entries", content=b"{not json", headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 422


def test_oversized_bodies_are_refused_with_413(http: Any) -> None:
    response = http.post(
        "/v1/entries",
        content=b"x" * (65 * 1024),
        headers={**auth(http, "council.officer"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413 and response.json()["error"] == "request_too_large"


def test_evidence_upload_attach_and_download(http: Any, world: World) -> None:
    officer = auth(http, "council.officer")
    data = b"%PDF-1.4\n%minutes of the group\n" + b"z" * 3000
    sha = hashlib.sha256(data).hexdigest()
    response = http.post(
        "/v1/evidence", files={"file": ("minutes.doc", data)}, data={"sha256": sha}, headers=officer
    )
    assert response.status_code == 201, response.text
    stored = response.json()
    assert stored["sha256"] == sha and stored["media_type"] == "application/pdf"
    wrong = http.post(
        "/v1/evidence", files={"file": ("x.txt", b"abc")}, data={"sha256": sha}, headers=officer
    )
    assert wrong.status_code == 422 and wrong.json()["error"] == "hash_mismatch"
    assert (
        http.post(
            "/v1/evidence", files={"file": ("x.txt", b"abc")}, headers=auth(http, "scrutiny")
        ).status_code
        == 403
    )
    for entry in (
        signed(world, "council.officer", Action.StatusChanged.TYPE, "R1.1", START),
        signed(
            world,
            "council.officer",
            Action.EvidenceAttached.TYPE,
            "R1.1",
            {
                "sha256": sha,
                "size": len(data),
                "media_type": stored["media_type"],
                "original_name": "minutes.doc",
                "description": "Minutes",
                "storage_key": stored["storage_key"],
                "effective_date": "2023-02-01",
            },
            version=3,
        ),
    ):
        assert (
            http.post("/v1/entries", json={"entries": [wire(entry)]}, headers=officer).status_code
            == 200
        )
    download = http.get(f"/v1/evidence/{sha}", headers=auth(http, "chair"))
    assert download.status_code == 200 and download.content == data
    assert download.headers["X-Content-SHA256"] == sha
    assert http.get(f"/v1/evidence/{sha}", headers=auth(http, "police.officer")).status_code == 403
    assert http.get("/v1/evidence/" + "f" * 64, headers=auth(http, "chair")).status_code == 404


def test_agency_roles_read_only_their_own_actions(http: Any) -> None:
    assert http.get("/v1/actions/R1.2", headers=auth(http, "council.officer")).status_code == 403
    assert http.get("/v1/actions/R1.2", headers=auth(http, "scrutiny")).status_code == 200
    assert http.get("/v1/actions/R9.9", headers=auth(http, "chair")).status_code == 404


def test_status_now_and_as_of(http: Any, world: World) -> None:
    headers = auth(http, "scrutiny")
    now = http.get("/v1/status", headers=headers).json()
    assert {a["action_id"] for a in now["actions"]} == {"R1.1", "R1.2"}
    before = http.get("/v1/status", params={"as_of": "2000-01-01"}, headers=headers).json()
    assert before["actions"] == [] and before["log_size"] == 0
    assert http.get("/v1/status", params={"as_of": "soon"}, headers=headers).status_code == 422
    version = http.get(
        f"/v1/aggregates/{action_aggregate_id('R1.1')}/version", headers=headers
    ).json()
    assert version["version"] == 1


def test_the_openapi_schema_documents_every_endpoint(http: Any) -> None:
    spec = http.get("/openapi.json").json()
    assert {"/v1/entries", "/v1/evidence", "/v1/status", "/v1/me"} <= set(spec["paths"])
    assert "409" in spec["paths"]["/v1/entries"]["post"]["responses"]


def test_access_logs_are_json_and_never_hold_tokens_or_bodies(
    http: Any, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    import json
    import logging

    caplog.set_level(logging.INFO, logger="inquiry_ledger.access")
    secret_text = "a comment that must not reach the log"
    entry = signed(
        world,
        "council.officer",
        Action.CommentAdded.TYPE,
        "R1.1",
        {"kind": "comment", "text": secret_text},
    )
    http.post("/v1/entries", json={"entries": [wire(entry)]}, headers=auth(http, "council.officer"))
    http.get("/v1/me", headers={"Authorization": "Bearer il_bad_token"})
    lines = [r.getMessage() for r in caplog.records if r.name == "inquiry_ledger.access"]
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    assert records[0] | {"ms": 0} == {
        "method": "POST",
        "path": "/v1/entries",
        "status": 200,
        "user": "council.officer",
        "ms": 0,
    }
    assert records[1]["status"] == 401 and records[1]["user"] is None
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert secret_text not in text and "il_" not in text and "Bearer" not in text


def test_only_an_administrators_token_carries_a_chairs_charter(http: Any, world: World) -> None:
    # The chair has no token before the charter registers them, so an administrator's
    # token may carry their self-signed charter; nobody else's token carries another's entry.
    new_chair = KeyPair.generate()
    payload = {
        "chair_id": "chair2",
        "name": "Another chair",
        "public_key": encode_public_key(new_chair.public_key),
        "title": "Inquiry",
        "appointers": dict(DEFAULT_APPOINTERS),
        "off_page_roles": [],
    }
    version = world.ledger.version_of(DIRECTORY_ID) + 1
    charter = Signer("chair2", new_chair, ORIGIN, clock=world.clock).sign(
        Directory.CharterAdopted.TYPE, DIRECTORY_ID, version, payload
    )
    refused = http.post("/v1/entries", json={"entries": [wire(charter)]}, headers=auth(http, "sig"))
    assert refused.status_code == 403 and refused.json()["error"] == "not_your_entry"
    # Carried by the administrator, it reaches the ledger, whose rule decides: this ledger
    # already has its charter, so the second one is refused, by rule, not by the token.
    carried = http.post(
        "/v1/entries", json={"entries": [wire(charter)]}, headers=auth(http, "admin")
    )
    assert carried.status_code == 409, carried.text
    assert carried.json()["rule"] == "directory.charter"


def test_unknown_routes_and_methods_answer_in_the_documented_error_shape(http: Any) -> None:
    missing = http.get("/v1/no-such-thing", headers=auth(http, "chair"))
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "detail": "Not Found"}
    wrong = http.delete("/v1/entries", headers=auth(http, "chair"))
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"
    assert "POST" in wrong.headers["allow"]
