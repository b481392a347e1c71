"""The ledger's words on the web pages and the public tracker (issue 14), on both event
stores: with no `plan.wording_set` entry every page names the report, the levels and the
bodies generically (no council's wording anywhere); once the implementation group signs
its words, every page uses them; the as-of page before the change keeps the old; and the
public tracker carries the words' entry with its proof, which the reader's check accepts."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.application.tokens import TokenStore
from api.http.app import create_app
from domain import Status
from ledger.auditor.public_check import check_public
from tests.support.pages import sign_in
from tests.support.world import World, clear_store_settings, make_world

TELFORD = (
    "Council progress report",
    "Strategic Implementation Group",
    "implementable locally",
    "Independent Inquiry",
)
BOARD = {
    "report_title": "Recovery board report",
    "level_agency": "Service sign-off",
    "body_chair": "Independent Reviewer",
    "body_implementation_group": "Recovery Board",
    "not_implementable": "Out of local reach",
}
PAGES = ("/", "/actions/R1.1", "/recommendations/1")
PUBLIC = ("/public", "/public/recommendations/1", "/public/agencies/council")


@pytest.fixture
def world(config: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    clear_store_settings(monkeypatch)
    w = make_world(config, clock)
    w.add_action("R1.1")
    w.add_action("R1.2", lead="police")
    officer = w.client("council.officer")
    officer.change_status("R1.1", Status.IN_PROGRESS, "Started")
    w.evidence("R1.1", b"the minutes")
    officer.change_status("R1.1", Status.EVIDENCE_SUBMITTED, "Minutes attached")
    w.client("council.lead").sign_off("R1.1", "The group met.")
    w.checkpoint()
    yield w
    w.ledger.close()


@pytest.fixture
def http(world: World) -> Iterator[Any]:
    config = dataclasses.replace(world.config, public=True)
    with TestClient(create_app(config, world.ledger)) as client:
        tokens = TokenStore(world.ledger.tables)
        client.tokens = {
            user: tokens.create(user, timedelta(days=1), now=world.clock.now) for user in world.keys
        }
        yield client


def text(page: Any) -> str:
    assert page.status_code == 200, page.text
    body = page.text.split("<body", 1)[1]
    body = re.sub(r"<script.*?</script>", " ", body, flags=re.DOTALL)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def test_no_words_signed_every_page_is_generic_then_the_ledgers_own(
    world: World, http: Any
) -> None:
    sign_in(http, "chair")  # an auditor: the report's link is in the menu
    before_change = world.clock.now
    seen = {path: text(http.get(path)) for path in PAGES + PUBLIC}
    for path, said in seen.items():
        assert not [w for w in TELFORD if w in said], path
    assert "Progress report" in seen["/"]  # the menu's and the dashboard's report link
    assert "Verified by the independent chair" in seen["/"]
    assert "Independent chair's verdict" in seen["/"]
    assert "Agency sign-off" in seen["/actions/R1.1"]  # the sign-offs table's level
    assert "Accepted by the implementation group or beyond" in seen["/public"]

    world.clock.advance(minutes=2)
    world.client("sig").set_wording(BOARD, "the board renamed itself")
    world.clock.advance(minutes=2)
    world.client("chair").rate("R1.2", "red", "no progress")  # a later entry, then a checkpoint
    world.checkpoint()

    seen = {path: text(http.get(path)) for path in PAGES + PUBLIC}
    assert "Recovery board report" in seen["/"]
    assert "Verified by the Independent Reviewer" in seen["/"]
    assert "Independent Reviewer's verdict" in seen["/"]
    assert "Out of local reach" in seen["/"]
    assert "Service sign-off" in seen["/actions/R1.1"]
    assert "Independent Reviewer's verdict" in seen["/recommendations/1"]
    assert "Accepted by the Recovery Board or beyond" in seen["/public"]
    assert "Verified by the Independent Reviewer" in seen["/public"]
    assert "The Independent Reviewer's verdict" in seen["/public/recommendations/1"]
    # Agencies by their names, not their ids, on the public pages.
    assert "Council, Police" in seen["/public"]

    # As of a date before the change: the words that stood then.
    day, moment = before_change.date().isoformat(), before_change.strftime("%H:%M:%S")
    then = text(http.get("/as-of", params={"date": day, "time": moment}))
    assert "Progress report as of" in then and "Recovery board report as of" not in then
    assert "Verified by the independent chair" in then
    assert "Verified by the Independent Reviewer" not in then


def test_the_words_entry_is_public_and_proven(world: World, http: Any) -> None:
    world.client("sig").set_wording(BOARD, "the board renamed itself")
    world.checkpoint()
    found = http.get("/public/v1/plan").json()
    assert found["view"]["wording"]["report_title"] == "Recovery board report"
    [entry] = [e for e in found["view"]["entries"] if e["type"] == "plan.wording_set"]
    assert entry["shown"] == {"words": BOARD, "reason": "the board renamed itself"}
    assert entry["by_role"] == "implementation_group"
    assert check_public(found, world.vkey, []).facts == len(found["view"]["entries"])
