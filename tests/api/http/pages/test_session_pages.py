"""The sessions pages (/sessions, /sessions/{id}): the list with each session's minutes
state and open actions arising, the minutes inside the site's layout with links to the
circulated document, and the actions arising with owner, due date, what done means and
state; read by those who hold the agencies to account, refused (with a page saying why)
to an agency's officers and leads, who are not offered the nav link either."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.application.minutes import approve, close_arising, record_arising
from domain.session import session_aggregate_id
from ledger.config import LedgerConfig
from projections.minutes_render import minutes_sha256
from tests.support.clock import Clock
from tests.support.web import sign_in, web_client
from tests.support.world import World, clear_store_settings, make_world


def _held(world: World, session_id: str, day: str, start: str = "00:00") -> None:
    payload = {
        "session_id": session_id, "body": "SIG", "date": day, "started_at": start,
        "ended_at": "23:59", "chair": "scrutiny", "recommendations": [1],
        "attendees": [{"role": "Director of Children's Services", "agency": "council",
                       "label": "DCS"}],
    }  # fmt: skip
    world.client("sig").submit("session.held", session_aggregate_id(session_id), payload)


@pytest.fixture
def w(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    clear_store_settings(monkeypatch)
    world = make_world(
        LedgerConfig(home=tmp_path / "home"), Clock(datetime(2024, 3, 1, 10, tzinfo=UTC))
    )
    world.add_action("R1.1", "council")
    _held(world, "sig-1", "2024-03-01")
    world.client("scrutiny").raise_challenge("C1", "R1.1", "council", "Does the board meet?")
    world.client("council.officer").answer_challenge("C1", "Monthly since March")
    for text, due in (("Share the board's minutes", "2024-02-28"), ("Name a lead", "2024-05-01")):
        record_arising(
            world.ledger, world.client("scrutiny"), "sig-1", recommendation=1,
            owner={"agency": "council"}, due_date=due, done_means=f"{text}: done", text=text,
        )  # fmt: skip
    approve(world.ledger, world.client("scrutiny"), "sig-1", minutes_sha256)
    _held(world, "sig-2", "2024-03-01", "05:00")
    close_arising(world.ledger, world.client("scrutiny"), "sig-1.2", "A lead was named", None)
    yield world
    world.ledger.close()


def test_the_list_and_one_session(w: World) -> None:
    with web_client(w) as http:
        sign_in(http, "scrutiny")
        home = http.get("/").text
        assert '<a href="/sessions"' in home  # the nav link
        page = http.get("/sessions").text
        assert '<a href="/sessions/sig-1">sig-1</a>' in page
        rows = page.split('<a href="/sessions/sig-1">sig-1</a>')[1].split("</tr>")[0]
        assert "<td>approved</td>" in rows and "<td>1</td>" in rows  # one still open
        assert "<td>draft</td>" in page.split('<a href="/sessions/sig-2">sig-2</a>')[1]
        arising = page.split('id="s-arising"')[1]
        assert arising.index("sig-1.1") < arising.index("sig-1.2")  # open first
        assert "open (overdue)" in arising and "closed 2024-03-01" in arising

        one = http.get("/sessions/sig-1").text
        assert "Does the board meet?" in one and "Monthly since March" in one
        assert 'id="minutes-state">approved by scrutiny' in one
        assert 'href="/v1/sessions/sig-1/minutes?format=pdf"' in one
        assert 'href="/v1/sessions/sig-1/minutes?format=html"' in one
        table = one.split('id="m-arising"')[1]
        for said in ("Share the board&#39;s minutes: done", "<td>Council</td>", "2024-02-28"):
            assert said in table, said
        assert "closed 2024-03-01: A lead was named" in table  # as it stands now
        later = http.get("/sessions/sig-2").text
        carried = later.split('id="m-carried"')[1]
        assert "sig-1.2" in carried and "closed at this session: A lead was named" in carried
        assert http.get("/sessions/sig-9").status_code == 404


@pytest.mark.parametrize("user", ["council.officer", "council.lead"])
def test_an_agencys_people_are_told_why_not(w: World, user: str) -> None:
    with web_client(w) as http:
        sign_in(http, user)
        assert '<a href="/sessions"' not in http.get("/").text
        for path in ("/sessions", "/sessions/sig-1"):
            refused = http.get(path)
            assert refused.status_code == 403, path
            assert "read by the chair, scrutiny, the implementation group" in refused.text
            assert "Does the board meet?" not in refused.text
