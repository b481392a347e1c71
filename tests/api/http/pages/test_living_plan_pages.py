"""A living plan on the web pages and the public tracker (issue 14), on both event
stores: an agency's new name shows; an amended title is the one shown, tied to the
amendment's own entry (so the reader's check compares it with what was signed); a
withdrawn recommendation shows as such; a renumbered one is found by its old number,
which redirects to its new one on /recommendations, /public/recommendations and
/public/v1/recommendations; every public JSON's facts pass the auditor's check."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.application.tokens import TokenStore
from api.http.app import create_app
from domain import PLAN_ID, Plan
from ledger.auditor.public_check import check_public
from tests.support.pages import sign_in
from tests.support.public_tracker import decoded_entries, proofs_in
from tests.support.world import World, clear_store_settings, make_world


@pytest.fixture
def world(config: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    clear_store_settings(monkeypatch)
    w = make_world(config, clock)
    w.add_action("R1.1")
    sig = w.client("sig")
    sig.rename_agency("police", "West Mercia Police", "the force's full name")
    sig.amend_recommendation(1, {"title": "A clearer first"}, "the follow-up report")
    sig.renumber_recommendation(2, 12, "renumbered in the follow-up report")
    sig.add_agency("ofsted", "Ofsted", "inspects the homes")
    w.client("sig").submit(
        Plan.RecommendationAdded.TYPE,
        PLAN_ID,
        {"number": 3, "title": "Third", "text": "", "lead_agencies": ["ofsted"]},
    )
    sig.withdraw_recommendation(3, "imported in error")
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


def checked_fields(page: str) -> list[tuple[str, str]]:
    """(shown text, signed value) of every element the reader's check ties to a member
    of an entry (`data-leaf` with `data-field`, and `data-key` inside an object)."""
    found = proofs_in(page)
    entries = {e["leaf_index"]: p for e, p in zip(found["proofs"]["entries"],
                                                  decoded_entries(found), strict=True)}  # fmt: skip
    pairs = []
    pattern = r'data-leaf="(\d+)" data-field="(\w+)"(?: data-key="(\w+)")?>([^<]*)<'
    for leaf, name, key, shown in re.findall(pattern, page):
        value = entries[int(leaf)]["payload"][name]
        pairs.append((html.unescape(shown).strip(), value[key] if key else value))
    return pairs


def test_the_pages_follow_the_plans_changes(world: World, http: Any) -> None:
    sign_in(http, "chair")
    moved = http.get("/recommendations/2", follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (302, "/recommendations/12")
    page = http.get("/recommendations/12").text
    assert "Formerly" in page and "recommendation 2" in page
    assert "A clearer first" in http.get("/recommendations/1").text
    withdrawn = http.get("/recommendations/3").text
    assert "imported in error" in withdrawn
    assert "West Mercia Police" in http.get("/").text


def test_the_public_tracker_follows_them_and_checks_what_it_shows(world: World, http: Any) -> None:
    for path in ("/public/recommendations", "/public/v1/recommendations"):
        moved = http.get(f"{path}/2", follow_redirects=False)
        assert (moved.status_code, moved.headers["location"]) == (302, f"{path}/12")
    plan = http.get("/public")
    assert plan.status_code == 200
    assert "West Mercia Police" in plan.text and "(was 2)" in plan.text
    pairs = checked_fields(plan.text)
    assert ("A clearer first", "A clearer first") in pairs  # tied to the amendment
    assert all(shown == signed for shown, signed in pairs), pairs
    one = http.get("/public/recommendations/1").text
    assert all(shown == signed for shown, signed in checked_fields(one))
    for path in (
        "/public/v1/plan",
        "/public/v1/recommendations/12",
        "/public/v1/recommendations/3",
    ):
        found = http.get(path).json()
        assert check_public(found, world.vkey, []).facts == len(found["view"]["entries"]), path
    three = http.get("/public/v1/recommendations/3").json()["view"]
    assert (three["status"], three["closed_reason"]) == ("withdrawn", "imported in error")
    kinds = {e["type"] for e in http.get("/public/v1/plan").json()["view"]["entries"]}
    assert {"plan.agency_renamed", "plan.recommendation_renumbered"} <= kinds
    assert json.dumps(three)  # plain JSON
