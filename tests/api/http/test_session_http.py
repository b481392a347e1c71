"""Sessions over HTTP (issue 15), on SQLite and PostgreSQL: `GET /v1/sessions` and the
minutes (`GET /v1/sessions/{id}/minutes`, HTML and PDF) for those who hold the agencies
to account, refused to the agencies' own people; the minutes hold the challenge and its
answer made in the session's window, and the action arising; `X-Minutes-SHA256` is the
hash the chair's approval must name (the application refuses another), and an approval
posted with another hash through POST /v1/entries is shown as not of these minutes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from api.application.minutes import approve, minutes_of, record_arising
from domain import InvalidInput
from domain.session import session_aggregate_id
from projections.minutes_render import approval_matches, minutes_sha256
from tests.support.tagged_pdf import structure_of
from tests.support.web import web_client
from tests.support.world import World


def _held(world: World, session_id: str, chair: str = "scrutiny") -> None:
    day = world.clock.now.date().isoformat()
    payload = {
        "session_id": session_id, "body": "SIG", "date": day, "started_at": "00:00",
        "ended_at": "23:59", "chair": chair, "recommendations": [1],
        "attendees": [{"role": "Director of Children's Services", "agency": "council",
                       "label": "DCS"}],
    }  # fmt: skip
    world.client("sig").submit("session.held", session_aggregate_id(session_id), payload)


@pytest.fixture
def session_world(world: World) -> Iterator[World]:
    _held(world, "sig-1")
    world.client("scrutiny").raise_challenge("C1", "R1.1", "council", "Does the board meet?")
    world.client("council.officer").answer_challenge("C1", "Monthly since March")
    record_arising(
        world.ledger, world.client("scrutiny"), "sig-1", recommendation=1,
        owner={"agency": "council"}, due_date="2023-02-28", done_means="minutes shared",
        text="Share the board's minutes",
    )  # fmt: skip
    yield world


def _get(http: Any, user: str, path: str) -> Any:
    return http.get(path, headers={"Authorization": f"Bearer {http.tokens[user]}"})


def test_the_minutes_for_those_who_hold_to_account(session_world: World) -> None:
    world = session_world
    with web_client(world) as http:
        for user in ("council.officer", "council.lead"):
            assert _get(http, user, "/v1/sessions").status_code == 403
            assert _get(http, user, "/v1/sessions/sig-1/minutes").status_code == 403
        listed = _get(http, "sig", "/v1/sessions").json()
        assert [s["session_id"] for s in listed["sessions"]] == ["sig-1"]
        assert listed["sessions"][0]["approved_leaf"] is None
        assert [a["arising_id"] for a in listed["arisings"]] == ["sig-1.1"]
        assert _get(http, "sig", "/v1/sessions/nothing/minutes").status_code == 404

        html = _get(http, "chair", "/v1/sessions/sig-1/minutes")
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        text = html.text
        assert "Does the board meet?" in text and "Monthly since March" in text
        assert "Share the board&#39;s minutes" in text and "minutes shared" in text
        assert "DCS" in text and "Draft: not approved" in text
        sha = html.headers["x-minutes-sha256"]
        assert sha == minutes_sha256(minutes_of(world.ledger, "sig-1"))

        with pytest.raises(InvalidInput, match="read them again"):
            approve(world.ledger, world.client("scrutiny"), "sig-1", minutes_sha256, "f" * 64)
        approve(world.ledger, world.client("scrutiny"), "sig-1", minutes_sha256, sha)
        approved = _get(http, "scrutiny", "/v1/sessions/sig-1/minutes").text
        assert (
            "Approved by the chair, scrutiny" in approved and "not of these minutes" not in approved
        )

        pdf = _get(http, "scrutiny", "/v1/sessions/sig-1/minutes?format=pdf")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 1000
        tagged = structure_of(pdf.content)  # PDF/UA-1: what a clerk circulates, accessible
        assert tagged["H1"] == 1 and tagged["P"] >= 1


def test_an_approval_of_other_minutes_is_shown_as_such(session_world: World) -> None:
    """The rule cannot read the log; an approval signed elsewhere with another hash is
    accepted as an entry, and the minutes say it is not of them."""
    world = session_world
    entries = minutes_of(world.ledger, "sig-1").entries
    payload = {"minutes_sha256": "0" * 64, "entries": entries}
    world.client("scrutiny").submit(
        "session.minutes_approved", session_aggregate_id("sig-1"), payload
    )
    minutes = minutes_of(world.ledger, "sig-1")
    assert minutes.approval is not None and approval_matches(minutes) is False
    with web_client(world) as http:
        text = _get(http, "sig", "/v1/sessions/sig-1/minutes").text
    assert "The approval is not of these minutes" in text


def test_an_action_arising_is_carried_to_the_next_session_of_the_body(world: World) -> None:
    _held(world, "sig-1")
    record_arising(
        world.ledger, world.client("sig"), "sig-1", recommendation=1,
        owner={"user": "council.lead"}, due_date="2023-02-28", done_means="d", text="first",
    )  # fmt: skip
    world.clock.advance(days=1)
    _held(world, "sig-2")
    carried = minutes_of(world.ledger, "sig-2").carried
    assert [(a.arising_id, a.state, a.owner_agency) for a in carried] == [
        ("sig-1.1", "open", "council")
    ]
    assert minutes_of(world.ledger, "sig-1").carried == []


def test_approved_minutes_stay_as_approved_when_the_plan_moves_on(session_world: World) -> None:
    """A title amended after the approval is not in the approved minutes, so their hash
    is still the one the chair signed."""
    world = session_world
    approve(world.ledger, world.client("scrutiny"), "sig-1", minutes_sha256)
    world.client("sig").amend_recommendation(1, {"title": "A clearer title"}, "clearer")
    minutes = minutes_of(world.ledger, "sig-1")
    assert approval_matches(minutes) is True
    assert "A clearer title" not in minutes.covered[0].title
