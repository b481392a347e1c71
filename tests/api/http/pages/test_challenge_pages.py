"""The challenges pages (/challenges, /challenges/{id}) and the /v1/challenges routes: the
list with its labelled filters and per-agency counts, a thread with its answers and
state; an officer sees only their own agency's and is never offered to raise one (nor,
on the action page, a challenge of their own agency's action); scrutiny is."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.config import LedgerConfig
from tests.support.clock import Clock
from tests.support.web import sign_in, web_client
from tests.support.world import World, clear_store_settings, make_world


@pytest.fixture
def w(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    clear_store_settings(monkeypatch)
    world = make_world(
        LedgerConfig(home=tmp_path / "home"), Clock(datetime(2024, 3, 1, tzinfo=UTC))
    )
    world.add_action("R1.1", "council")
    world.add_action("R2.1", "police")
    scrutiny = world.client("scrutiny")
    scrutiny.raise_challenge("C1", "R1.1", "council", "When will the group meet?")
    world.client("council.officer").answer_challenge("C1", "It met on 2 March.")
    scrutiny.raise_challenge("C2", "R2.1", "police", "Where is the data?")
    scrutiny.close_challenge("C1", "not_satisfied", "No minutes were shared")
    yield world
    world.ledger.close()


def test_the_list_and_the_thread(w: World) -> None:
    with web_client(w) as http:
        sign_in(http, "scrutiny")
        page = http.get("/challenges?as_of=2024-03-31").text
        for control in ("ch-agency", "ch-state", "ch-open", "ch-as-of"):
            assert re.search(rf'<label for="{control}">', page), control
        assert "challenge raise R1.1" in page  # scrutiny may raise: told how
        rows = re.findall(r'<a href="/challenges/(C\d)">', page)
        assert rows == ["C2", "C1"]  # the open one first
        assert "<td>closed: not satisfied</td>" in page and "<td>30</td>" in page
        only = http.get("/challenges?open=1").text
        assert re.findall(r'<a href="/challenges/(C\d)">', only) == ["C2"]
        thread = http.get("/challenges/C1").text
        assert "It met on 2 March." in thread and "No minutes were shared" in thread
        assert 'id="challenge-state">closed: not satisfied' in thread
        assert http.get("/challenges/C9").status_code == 404
        assert http.get("/challenges?as_of=soon").status_code == 400


def test_an_officer_reads_only_their_agencys_and_is_not_offered_to_challenge(w: World) -> None:
    with web_client(w) as http:
        sign_in(http, "council.officer")
        page = http.get("/challenges").text
        assert re.findall(r'<a href="/challenges/(C\d)">', page) == ["C1"]
        assert "challenge raise" not in page
        assert http.get("/challenges/C2").status_code == 403
        assert http.get("/challenges?agency=police").status_code == 403
        action = http.get("/actions/R1.1").text
        assert 'data-command="challenge"' not in action and 'data-command="comment"' in action
        assert '<a href="/challenges/C1">C1</a>: closed (not satisfied)' in action
        sign_in(http, "police.officer")
        thread = http.get("/challenges/C2").text
        assert "challenge answer C2" in thread  # the addressed agency is asked to answer


def test_the_json_routes(w: World) -> None:
    with web_client(w) as http:

        def get(user: str, path: str) -> Any:
            return http.get(path, headers={"Authorization": f"Bearer {http.tokens[user]}"})

        found = get("sig", "/v1/challenges?as_of=2024-03-31").json()
        assert [c["challenge_id"] for c in found["challenges"]] == ["C2", "C1"]
        assert found["by_agency"]["police"] == {"unresolved": 1, "oldest_days": 30, "total": 1}
        closed = get("sig", "/v1/challenges?state=closed").json()["challenges"]
        assert [(c["challenge_id"], c["outcome"]) for c in closed] == [("C1", "not_satisfied")]
        mine = get("council.lead", "/v1/challenges").json()["challenges"]
        assert [c["challenge_id"] for c in mine] == ["C1"]
        assert get("council.lead", "/v1/challenges?agency=police").status_code == 403
        assert get("council.lead", "/v1/challenges/C2").status_code == 403
        one = get("chair", "/v1/challenges/C1").json()
        assert [a["by"] for a in one["answers"]] == ["council.officer"] and one["state"] == "closed"
        assert get("chair", "/v1/challenges/C7").status_code == 404
        assert get("chair", "/v1/challenges?as_of=tomorrow").status_code == 422
        assert get("chair", "/v1/challenges?state=lost").status_code == 422
        spec = http.get("/openapi.json").json()["paths"]["/v1/challenges"]["get"]["responses"]
        assert {"401", "403", "422"} <= set(spec)
