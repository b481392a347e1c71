"""The as-of page answers both questions and says which (issue 14): what the record said
on a date, and what had happened by then as the record stands now, with backfilled
statuses marked and their source named; the JSON API's `basis` is the same answer."""

from __future__ import annotations

from typing import Any

import pytest

from domain import Action, action_aggregate_id
from tests.support.pages import page_client, sign_in
from tests.support.world import World, clear_store_settings, make_world

SOURCE = "Report to Full Council, 10 November 2022"


@pytest.fixture
def world(config: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Recording begins on 2 January 2023 (the test clock); the group backfills R1.1's
    status as the council reported it on 10 November 2022."""
    clear_store_settings(monkeypatch)
    w = make_world(config, clock)
    w.add_action("R1.1")
    w.add_action("R1.2", lead="police")
    fact = {"status": "in_progress", "occurred_on": "2022-11-10", "source": SOURCE, "note": ""}
    w.client("sig").submit(Action.Backfilled.TYPE, action_aggregate_id("R1.1"), fact)
    yield w
    w.ledger.close()


@pytest.fixture
def http(world: World) -> Any:
    with page_client(world) as client:
        yield client


def test_the_as_of_page_says_which_question_it_answers(http: Any) -> None:
    sign_in(http, "chair")
    recorded = http.get("/as-of", params={"date": "2022-12-31"})
    assert recorded.status_code == 200
    assert "This shows what the record said on 2022-12-31." in recorded.text
    assert "R1.1" not in recorded.text  # the record began in 2023
    occurred = http.get("/as-of", params={"date": "2022-12-31", "basis": "occurred"})
    assert occurred.status_code == 200
    text = occurred.text
    assert "what had happened by 2022-12-31, as the record stands now" in text
    assert f"backfilled: as at 2022-11-10, per {SOURCE}" in text
    assert 'value="occurred" checked' in text
    bad = http.get("/as-of", params={"date": "2022-12-31", "basis": "guessed"})
    assert bad.status_code == 400 and "basis is recorded or occurred" in bad.text


def test_the_api_gives_the_same_answer(http: Any) -> None:
    auth = {"Authorization": f"Bearer {http.tokens['chair']}"}
    found = http.get(
        "/v1/status", params={"as_of": "2022-12-31", "basis": "occurred"}, headers=auth
    ).json()
    assert found["basis"] == "occurred"
    rows = {a["action_id"]: a for a in found["actions"]}
    assert (rows["R1.1"]["status"], rows["R1.1"]["backfilled_on"]) == ("in_progress", "2022-11-10")
    assert (rows["R1.2"]["status"], rows["R1.2"]["backfilled_on"]) == ("not_started", None)
    said = http.get("/v1/status", params={"as_of": "2022-12-31"}, headers=auth).json()
    assert (said["basis"], said["actions"]) == ("recorded", [])
    wrong = http.get("/v1/status", params={"basis": "guessed"}, headers=auth)
    assert wrong.status_code == 422
