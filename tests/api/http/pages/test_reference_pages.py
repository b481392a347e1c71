"""A recommendation's page is found by the inquiry's reference (issue 14): the pages
show the reference and its group, /recommendations/REF leads to the page by number, and
a reference no recommendation has is a 404 with a reason."""

from __future__ import annotations

from typing import Any

import pytest

from domain import PLAN_ID, Plan
from tests.support.pages import page_client, sign_in
from tests.support.world import World


@pytest.fixture
def http(world: World) -> Any:
    with page_client(world) as client:
        yield client


def test_pages_by_reference(http: Any, world: World) -> None:
    payload = {"number": 1, "reference": "33.22(a)", "group": "Phase 2", "reason": "as written"}
    world.client("sig").submit(Plan.RecommendationReferenced.TYPE, PLAN_ID, payload)
    sign_in(http, "chair")
    moved = http.get("/recommendations/33.22(a)", follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (302, "/recommendations/1")
    page = http.get("/recommendations/1").text
    assert "Recommendation 33.22(a):" in page and "Phase 2" in page
    assert "<td>33.22(a)</td>" in http.get("/").text
    missing = http.get("/recommendations/Z9")
    assert missing.status_code == 404 and "There is no recommendation Z9" in missing.text
