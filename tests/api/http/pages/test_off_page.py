"""Signing on one's own machine through the pages, with no JavaScript at all: the action
page's forms post, the page offers the exact body and the command, and the pasted
signature is recorded as a browser-made one would be. A role the charter requires to
sign off the page is offered nothing else, and the browser-signing endpoint refuses it."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from domain import Status
from ledger.auditor.entry import EventBody
from tests.support.web import field, hidden, require_off_page, sign_in, web_client
from tests.support.world import World, clear_store_settings, make_world


@pytest.fixture
def world(config: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    clear_store_settings(monkeypatch)
    w = make_world(config, clock)
    w.add_action("R1.1")
    w.add_action("R1.2", lead="police")
    yield w
    w.ledger.close()


@pytest.fixture
def http(world: World) -> Any:
    with web_client(world) as client:
        yield client


def ready_for_the_agency(world: World) -> str:
    world.client("council.officer").change_status("R1.1", Status.IN_PROGRESS)
    sha = world.evidence("R1.1", b"minutes of the meeting")
    world.client("council.officer").change_status("R1.1", Status.EVIDENCE_SUBMITTED)
    return sha


def form_of(page: str, command: str) -> str:
    found = re.search(rf'<form [^>]*data-command="{command}".*?</form>', page, re.S)
    assert found, f"no {command} form"
    return found.group(0)


def test_without_javascript_a_form_post_prepares_and_a_pasted_signature_records(
    http: Any, world: World
) -> None:
    sha = ready_for_the_agency(world)
    csrf = sign_in(http, "council.lead")
    page = http.get("/actions/R1.1").text
    form = form_of(page, "sign_off")
    # A plain form: no script is needed to send it, and it says how it will be signed.
    assert 'method="post" action="/web/off-page"' in form
    assert 'name="how" value="off-page"' in form and "Sign on my own machine" in form
    assert re.search(r'data-sign="browser" hidden>Sign off…', form)  # shown by the script
    key = world.keys["council.lead"]
    assert hidden(form, "key_id") == key.key_id

    sent = {"csrf": csrf, "action_id": "R1.1", "command": "sign_off", "key_id": key.key_id}
    prepared = http.post("/web/off-page", data={**sent, "statement": "Complete ✓", "how": "x"})
    assert prepared.status_code == 200, prepared.text
    text = prepared.text
    body_b64 = hidden(text, "body")
    data = base64.b64decode(body_b64)
    body = EventBody.from_json(json.loads(data))
    assert body.payload == {"level": "agency", "evidence": [sha], "statement": "Complete ✓"}
    assert body.actor == "council.lead" and body.key_id == key.key_id
    name = "action.signed_off-R1.1-v5.json"
    assert f"inquiry-ledger sign {name} --key YOUR-KEY-FILE" in text
    assert "Complete ✓" in text and "R1.1" in text
    # The exact bytes, as a file with that name.
    download = http.post(
        "/web/off-page/body", data={"csrf": csrf, "action_id": "R1.1", "body": body_b64}
    )
    assert download.status_code == 200 and download.content == data
    assert download.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert download.headers["content-type"].startswith("application/json")

    # Signed elsewhere (here, with the user's key), pasted back with line breaks around it.
    signature = base64.b64encode(key.sign(data)).decode()
    form_back = {"csrf": csrf, "action_id": "R1.1", "body": body_b64}
    recorded = http.post(
        "/web/off-page/record",
        data={**form_back, "signature": f"\n {signature}\r\n"},
        follow_redirects=False,
    )
    assert recorded.status_code == 303, recorded.text
    leaf = int(field(recorded.headers["location"], r"recorded=(\d+)"))
    action = world.ledger.action("R1.1")
    assert action.status is Status.AGENCY_SIGNED_OFF
    stored = world.ledger.aggregate_events(action.id)[-1]
    assert stored.signature == signature  # the very signature made off the page
    shown = http.get(recorded.headers["location"]).text
    assert f"recorded at log position {leaf}" in shown


def test_the_paste_back_refuses_what_is_not_the_users_signed_statement(
    http: Any, world: World
) -> None:
    csrf = sign_in(http, "council.officer")
    key = world.keys["council.officer"]
    sent = {"csrf": csrf, "action_id": "R1.1", "command": "start", "key_id": key.key_id}
    body_b64 = hidden(http.post("/web/off-page", data=sent).text, "body")
    data = base64.b64decode(body_b64)
    back = {"csrf": csrf, "action_id": "R1.1", "body": body_b64}

    def record(**changes: str) -> Any:
        return http.post("/web/off-page/record", data={**back, **changes}, follow_redirects=False)

    good = base64.b64encode(key.sign(data)).decode()
    for signature, status, said in (
        ("", 422, "Paste the signature"),
        ("not base64!", 422, "not a signature"),
        (base64.b64encode(b"x" * 63).decode(), 422, "not a signature"),
        (base64.b64encode(world.keys["council.lead"].sign(data)).decode(), 403, "not verify"),
        (base64.b64encode(key.sign(data + b" ")).decode(), 403, "not verify"),
    ):
        refused = record(signature=signature)
        assert refused.status_code == status, (signature, refused.text)
        assert said in refused.text and hidden(refused.text, "body") == body_b64
    # The form's statement is re-read strictly: canonical, this user's, this action's.
    spaced = base64.b64encode(data.replace(b",", b", ", 1)).decode()
    assert record(body=spaced, signature=good).status_code == 422
    assert record(body="%%%", signature=good).status_code == 422
    assert record(action_id="R1.2", signature=good).status_code == 403  # not readable
    world.add_action("R1.3")
    assert record(action_id="R1.3", signature=good).status_code == 422  # another action
    csrf = sign_in(http, "council.lead")
    theirs = record(csrf=csrf, signature=good)
    assert theirs.status_code == 403 and "signed as yourself" in theirs.text
    csrf = sign_in(http, "council.officer")
    assert record(csrf="x" * 40, signature=good).status_code == 403  # CSRF
    assert world.ledger.action("R1.1").status is Status.NOT_STARTED
    assert record(csrf=csrf, signature=good).status_code == 303
    assert world.ledger.action("R1.1").status is Status.IN_PROGRESS
    # Prepared, then someone else moved the action on: a clear refusal, nothing recorded.
    sent["csrf"] = csrf
    sent["command"] = "block"
    stale = hidden(http.post("/web/off-page", data={**sent, "reason": "Waiting"}).text, "body")
    world.client("council.lead").comment("R1.1", "meanwhile")
    stale_data = base64.b64decode(stale)
    late = http.post(
        "/web/off-page/record",
        data={
            "csrf": csrf,
            "action_id": "R1.1",
            "body": stale,
            "signature": base64.b64encode(key.sign(stale_data)).decode(),
        },
    )
    assert late.status_code == 409 and "prepare it again" in late.text


def test_the_off_page_prepare_refuses_what_the_ledger_would(http: Any, world: World) -> None:
    csrf = sign_in(http, "council.officer")
    sent = {"csrf": csrf, "action_id": "R1.1", "command": "sign_off", "key_id": ""}
    refused = http.post("/web/off-page", data=sent)
    assert refused.status_code in (403, 409, 422) and "action.sign_off" in refused.text
    wrong_key = http.post("/web/off-page", data={**sent, "command": "start", "key_id": "0" * 16})
    assert wrong_key.status_code == 403 and "signature.unknown_key" in wrong_key.text
    assert http.post("/web/off-page", data={**sent, "command": "attach"}).status_code == 422
    assert http.post("/web/off-page", data={**sent, "command": "delete"}).status_code == 422
    assert http.post("/web/off-page", data={**sent, "csrf": ""}).status_code == 403
    assert http.post("/web/off-page", data={**sent, "action_id": "R1.2"}).status_code == 403


def test_a_role_the_charter_names_is_offered_only_signing_on_its_own_machine(
    http: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready_for_the_agency(world)
    world.client("council.lead").sign_off("R1.1", "Complete")
    world.client("sig").sign_off("R1.1", "Accepted")
    csrf = sign_in(http, "chair")
    before = http.get("/actions/R1.1").text
    assert 'data-sign="browser"' in before and 'id="review"' in before  # no charter yet
    require_off_page(monkeypatch, world, {"chair"})

    page = http.get("/actions/R1.1").text
    form = form_of(page, "sign_off")
    assert 'data-browser-signing="0"' in page and 'id="off-page-only"' in page
    assert 'data-sign="browser"' not in page and 'id="review"' not in page
    assert "Sign off: sign on my own machine…" in form
    keys_page = http.get("/keys").text
    assert 'id="keys-app"' not in keys_page and "Make my signing key" not in keys_page
    assert "inquiry-ledger keys new --out chair.key" in keys_page
    # The browser-signing path is refused on the server too, not only left off the page.
    key = world.keys["chair"]
    ask = {"action_id": "R1.1", "command": "sign_off", "key_id": key.key_id, "inputs": {}}
    refused = http.post("/web/prepare", json=ask, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 403 and refused.json()["error"] == "off_page_only"
    # Off the page it works, and is recorded.
    sent = {"csrf": csrf, "action_id": "R1.1", "command": "sign_off", "key_id": key.key_id}
    body_b64 = hidden(
        http.post("/web/off-page", data={**sent, "statement": "Verified"}).text, "body"
    )
    data = base64.b64decode(body_b64)
    recorded = http.post(
        "/web/off-page/record",
        data={
            "csrf": csrf,
            "action_id": "R1.1",
            "body": body_b64,
            "signature": base64.b64encode(key.sign(data)).decode(),
        },
        follow_redirects=False,
    )
    assert recorded.status_code == 303, recorded.text
    assert world.ledger.action("R1.1").status is Status.VERIFIED
    # Other roles keep browser signing.
    csrf = sign_in(http, "council.officer")
    page = http.get("/actions/R1.1").text
    assert 'data-browser-signing="1"' in page and 'id="off-page-only"' not in page
    key_id = world.keys["council.officer"].key_id
    ask = {"action_id": "R1.1", "command": "comment", "key_id": key_id, "inputs": {"text": "hi"}}
    assert http.post("/web/prepare", json=ask, headers={"X-CSRF-Token": csrf}).status_code == 200
