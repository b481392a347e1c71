"""The progress report's "Actions arising" (issue 15): each one recorded up to the
report's moment with its session, recommendation, owner, due date and what done means,
open and overdue first; one recorded later is not in it, and a closure signed after the
report's moment shows the action arising open."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.application.minutes import close_arising, record_arising
from domain.session import session_aggregate_id
from ledger.config import LedgerConfig
from projections.report import build_report, checkpoint_info
from projections.report_render import render_html
from tests.support.clock import Clock
from tests.support.report_html import ReportPage
from tests.support.world import World, make_world


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    world = make_world(
        LedgerConfig(home=tmp_path / "home"), Clock(datetime(2024, 3, 1, 10, tzinfo=UTC))
    )
    world.add_action("R1.1", "council")
    yield world
    world.ledger.close()


def _arising(w: World, text: str, due: str, owner: str = "council") -> None:
    record_arising(
        w.ledger, w.client("scrutiny"), "sig-1", recommendation=1, owner={"agency": owner},
        due_date=due, done_means=f"{text} done", text=text,
    )  # fmt: skip


def test_the_report_lists_each_action_arising_open_and_overdue_first(w: World) -> None:
    payload = {
        "session_id": "sig-1", "body": "SIG", "date": "2024-03-01", "started_at": "09:00",
        "ended_at": "12:00", "chair": "scrutiny", "recommendations": [1],
        "attendees": [{"role": "Chair", "label": "Chair"}],
    }  # fmt: skip
    w.client("sig").submit("session.held", session_aggregate_id("sig-1"), payload)
    _arising(w, "Closed one", "2024-03-10")
    _arising(w, "Due later", "2024-06-01", owner="police")
    _arising(w, "Overdue one", "2024-03-15")
    _arising(w, "Closed after", "2024-03-12")
    w.clock.now = datetime(2024, 3, 9, 10, tzinfo=UTC)
    close_arising(w.ledger, w.client("scrutiny"), "sig-1.1", "Shared on 9 March", None)
    w.clock.now = datetime(2024, 4, 5, 10, tzinfo=UTC)
    close_arising(w.ledger, w.client("scrutiny"), "sig-1.4", "Too late for the report", None)
    _arising(w, "After the report", "2024-05-01")
    checkpoint = w.checkpoint()
    info = checkpoint_info(checkpoint.note, w.ledger.tree_size(), w.vkey)
    report = build_report(w.ledger, info, as_of=datetime(2024, 3, 31, 23, 59, tzinfo=UTC))
    assert [a.arising_id for a in report.arisings] == ["sig-1.4", "sig-1.3", "sig-1.2", "sig-1.1"]
    rows = ReportPage(render_html(report)).body_rows("arising-table")
    assert rows[0] == [
        "sig-1.4", "SIG, 2024-03-01", "1", "Closed after", "Council", "2024-03-12",
        "Closed after done", "open, overdue",
    ]  # fmt: skip
    assert rows[1][7] == "open, overdue" and rows[2][4:6] == ["Police", "2024-06-01"]
    assert rows[2][7] == "open"
    assert rows[3][7] == "closed on 2024-03-09: Shared on 9 March"


def test_a_report_with_no_action_arising_says_so(w: World) -> None:
    checkpoint = w.checkpoint()
    info = checkpoint_info(checkpoint.note, w.ledger.tree_size(), w.vkey)
    report = build_report(w.ledger, info, as_of=datetime(2024, 3, 31, 23, 59, tzinfo=UTC))
    rows = ReportPage(render_html(report)).body_rows("arising-table")
    assert rows == [["No action arising has been recorded."]]
