"""The progress report's "Narrative updates since the last report" (issue 15): each
update signed in (since, as_of], by action in the plan's order, with its period, done,
next, risks, who signed it (role and agency) and when; one signed before `since` or after
the report's moment is not in it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger.config import LedgerConfig
from projections.report import build_report, checkpoint_info
from projections.report_render import render_html
from tests.support.clock import Clock
from tests.support.report_html import ReportPage
from tests.support.world import World, make_world


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    world = make_world(
        LedgerConfig(home=tmp_path / "home"), Clock(datetime(2024, 1, 2, 10, tzinfo=UTC))
    )
    world.add_action("R2.1", "police")
    world.add_action("R1.1", "council")
    yield world
    world.ledger.close()


def _update(w: World, by: str, action_id: str, period: str, at: datetime, **parts: str) -> None:
    w.clock.now = at
    w.client(by).narrative_update(action_id, period, **parts)


def test_the_report_lists_the_updates_of_its_window_by_action(w: World) -> None:
    _update(w, "council.officer", "R1.1", "2023-H2", datetime(2024, 1, 5, tzinfo=UTC), done="Old")
    _update(w, "police.lead", "R2.1", "2024-Q1", datetime(2024, 2, 1, tzinfo=UTC), next="Pilot")
    _update(
        w, "council.lead", "R1.1", "2024-Q1", datetime(2024, 3, 1, tzinfo=UTC),
        done="Trained staff", next="Audit", risks="Recruitment",
    )  # fmt: skip
    _update(w, "council.officer", "R1.1", "2024-Q2", datetime(2024, 4, 2, tzinfo=UTC), done="Late")
    info = checkpoint_info(w.checkpoint().note, w.ledger.tree_size(), w.vkey)
    report = build_report(
        w.ledger,
        info,
        as_of=datetime(2024, 3, 31, 23, 59, tzinfo=UTC),
        since=datetime(2024, 1, 10, tzinfo=UTC),
    )
    assert [(n.action_id, n.period) for n in report.narratives] == [
        ("R1.1", "2024-Q1"),
        ("R2.1", "2024-Q1"),
    ]
    rows = ReportPage(render_html(report)).body_rows("narrative-table")
    assert rows[0][:6] == [
        "R1.1",
        "2024-Q1",
        "Trained staff",
        "Audit",
        "Recruitment",
        "agency lead, Council",
    ]
    assert rows[0][6].startswith("2024-03-01")
    assert rows[1][:6] == ["R2.1", "2024-Q1", "—", "Pilot", "—", "agency lead, Police"]


def test_a_report_with_no_update_says_so(w: World) -> None:
    info = checkpoint_info(w.checkpoint().note, w.ledger.tree_size(), w.vkey)
    report = build_report(w.ledger, info, as_of=datetime(2024, 3, 31, 23, 59, tzinfo=UTC))
    rows = ReportPage(render_html(report)).body_rows("narrative-table")
    assert rows == [["No narrative update was signed in this period."]]
