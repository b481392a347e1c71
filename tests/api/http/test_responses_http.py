"""The response axis on the HTTP front door (issue 14), on both event stores: signed
responses arrive through POST /v1/entries and are refused there by rule for a signer who
may not; /v1/status carries each row's current response, /v1/plan each recommendation's
responses and the vocabulary, /v1/actions/{id} an action's own; the dashboard, the
recommendation page and the action page show "Accepted in principle (Home Office,
2023-03-01)" beside the status and the verdict."""

from __future__ import annotations

from html import escape
from typing import Any

import pytest

from domain import PLAN_ID, Plan, Status
from tests.support.api_calls import auth, wire
from tests.support.web import sign_in, web_client
from tests.support.world import World, clear_store_settings, make_world

PRINCIPLE = "Accepted in principle (Home Office, 2023-03-01)"


@pytest.fixture
def world(config: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Recommendation 1 accepted in principle by the Home Office; R1.1 (council) with the
    council's own response; R1.2 (police) with none; the vocabulary changed since."""
    clear_store_settings(monkeypatch)
    clock.advance(days=60)  # March 2023
    w = make_world(config, clock)
    w.add_action("R1.1")
    w.add_action("R1.2", lead="police")
    sig = w.client("sig")
    sig.respond(1, "under_consideration", "2023-01-10", "Home Office", reasons="Reviewing")
    sig.respond(
        1, "accepted_in_principle", "2023-03-01", "Home Office",
        reasons="Subject to <funding> & review", source="https://example.gov.uk/response",
    )  # fmt: skip
    w.client("council.officer").change_status("R1.1", Status.IN_PROGRESS)
    w.client("council.lead").respond_to_action(
        "R1.1", "partially_accepted", "2023-02-20", "Telford & Wrekin Council",
        reasons="A board, not a committee",
    )  # fmt: skip
    sig.set_response_vocabulary([("adopted", "Adopted"), ("not_adopted", "Not adopted")])
    yield w
    w.ledger.close()


@pytest.fixture
def http(world: World) -> Any:
    with web_client(world) as client:
        yield client


def test_the_json_api_carries_the_responses(http: Any, world: World) -> None:
    # Every signed-in user reads the tracker's table, the formal response included.
    status = http.get("/v1/status", headers=auth(http, "police.officer")).json()
    [one, two] = status["recommendations"]
    assert (one["response"], one["response_label"], one["responder"]) == (
        "accepted_in_principle",
        "Accepted in principle",
        "Home Office",
    )
    assert one["response_source"] == "https://example.gov.uk/response"
    assert two["response"] is None and two["response_label"] is None
    actions = {a["action_id"]: a for a in status["actions"]}
    assert actions["R1.1"]["response_label"] == "Partially accepted"
    assert actions["R1.1"]["responded_on"] == "2023-02-20"
    assert actions["R1.2"]["response"] is None

    plan = http.get("/v1/plan", headers=auth(http, "council.officer")).json()
    assert plan["response_vocabulary"] == [
        {"id": "adopted", "label": "Adopted"},
        {"id": "not_adopted", "label": "Not adopted"},
    ]
    history = plan["recommendations"][0]["responses"]
    assert [r["response"] for r in history] == ["under_consideration", "accepted_in_principle"]
    assert [r["label"] for r in history] == ["Under consideration", "Accepted in principle"]
    assert history[-1]["recorded_by"] == "sig" and history[-1]["reasons"].startswith("Subject")
    assert plan["recommendations"][1]["responses"] == []

    action = http.get("/v1/actions/R1.1", headers=auth(http, "council.officer")).json()["action"]
    [own] = action["responses"]
    assert (own["response"], own["label"], own["recorded_by"]) == (
        "partially_accepted",
        "Partially accepted",
        "council.lead",
    )


def test_a_response_arrives_through_post_entries_and_is_refused_by_rule(
    http: Any, world: World
) -> None:
    payload = {
        "number": 2,
        "response": "adopted",
        "responded_on": "2023-03-01",
        "responder": "West Mercia Police",
        "reasons": "",
        "source": "",
    }
    version = world.ledger.version_of(PLAN_ID) + 1
    lead = world.signer("council.lead").sign(Plan.ResponseRecorded.TYPE, PLAN_ID, version, payload)
    refused = http.post(
        "/v1/entries", json={"entries": [wire(lead)]}, headers=auth(http, "council.lead")
    )
    assert refused.status_code == 403 and refused.json()["rule"] == "plan.record_response"
    stale = world.signer("sig").sign(
        Plan.ResponseRecorded.TYPE, PLAN_ID, version, {**payload, "response": "accepted"}
    )
    refused = http.post("/v1/entries", json={"entries": [wire(stale)]}, headers=auth(http, "sig"))
    assert refused.status_code == 422 and "not a term" in refused.json()["detail"]
    entry = world.signer("sig").sign(Plan.ResponseRecorded.TYPE, PLAN_ID, version, payload)
    answered = http.post("/v1/entries", json={"entries": [wire(entry)]}, headers=auth(http, "sig"))
    assert answered.status_code == 200, answered.text
    status = http.get("/v1/status", headers=auth(http, "sig")).json()
    assert status["recommendations"][1]["response_label"] == "Adopted"


def test_the_pages_show_the_response_beside_status_and_verdict(http: Any) -> None:
    sign_in(http, "police.officer")
    home = http.get("/").text
    assert '<th scope="col">Response</th>' in home
    assert PRINCIPLE in home  # the recommendation's, in the table by recommendation
    council = escape("Partially accepted (Telford & Wrekin Council, 2023-02-20)", quote=False)
    assert council in home  # R1.1's own, in the table of actions
    page = http.get("/recommendations/1").text
    assert f"<dt>Response</dt><dd>{PRINCIPLE}</dd>" in page
    assert escape("Subject to <funding> & review", quote=False) in page  # escaped
    assert "https://example.gov.uk/response" in page
    assert "<dt>Response</dt><dd>none recorded</dd>" in http.get("/recommendations/2").text

    sign_in(http, "council.officer")
    action = http.get("/actions/R1.1").text
    assert "<dt>Agency's formal response</dt>" in action
    assert council + ": A board, not a committee" in action
