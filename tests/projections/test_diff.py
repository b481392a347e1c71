"""Diff between two dates: what changed, who decided, with the entries that did it; later
corrections never leak backwards. CLI and API share `projections.diff`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.application.tokens import TokenStore
from api.http.app import create_app
from domain import Status
from projections.asof import parse_as_of
from projections.diff import plan_diff
from tests.support.world import World, make_world

DAY = datetime(2023, 1, 2, tzinfo=UTC)


@pytest.fixture
def world(config: Any, clock: Any) -> Any:
    """Day 0: R1.1 added and started. Day 10: evidence, submitted, agency sign-off.
    Day 12: R2.1 added. Day 20: the implementation group returns R1.1 with reasons."""
    clock.now = DAY
    w = make_world(config, clock)
    w.add_action("R1.1")
    officer = w.client("council.officer")
    officer.change_status("R1.1", Status.IN_PROGRESS)
    clock.now = DAY + timedelta(days=10)
    w.evidence("R1.1", b"board minutes")
    officer.change_status("R1.1", Status.EVIDENCE_SUBMITTED)
    w.client("council.lead").sign_off("R1.1", "complete")
    clock.now = DAY + timedelta(days=12)
    w.add_action("R2.1", lead="police")
    clock.now = DAY + timedelta(days=20)
    w.client("sig").return_action("R1.1", ["the minutes do not show a decision"])
    yield w
    w.ledger.close()


def _at(days: int) -> datetime:
    return DAY + timedelta(days=days)


def test_changes_and_decisions_between_two_dates(world: World) -> None:
    diff = plan_diff(world.ledger.entries, _at(5), _at(15))
    assert diff.added == ["R2.1"]
    changed = {(c.action_id, c.field): (c.before, c.after) for c in diff.changes}
    assert changed[("R1.1", "status")] == ("in_progress", "agency_signed_off")
    assert changed[("R1.1", "evidence")] == (0, 1)
    assert changed[("R1.1", "signed_by")] == ({}, {"agency": "council.lead"})
    kinds = [(d.type, d.actor) for d in diff.decisions if d.action_id == "R1.1"]
    assert kinds == [
        ("action.evidence_attached", "council.officer"),
        ("action.status_changed", "council.officer"),
        ("action.signed_off", "council.lead"),
    ]
    # The return on day 20 is a later correction: it must not leak into this window.
    assert all(d.type != "action.returned" for d in diff.decisions)
    positions = [d.leaf_index for d in diff.decisions]
    assert positions == sorted(positions)
    entries = dict(world.ledger.entries())
    signed_off = next(d for d in diff.decisions if d.type == "action.signed_off")
    assert b'"action.signed_off"' in entries[signed_off.leaf_index]
    assert signed_off.summary["statement"] == "complete"


def test_a_later_window_shows_the_correction_with_its_reasons(world: World) -> None:
    diff = plan_diff(world.ledger.entries, _at(15), _at(25))
    changed = {(c.action_id, c.field): (c.before, c.after) for c in diff.changes}
    assert changed[("R1.1", "status")] == ("agency_signed_off", "in_progress")
    [returned] = diff.decisions
    assert (returned.type, returned.actor) == ("action.returned", "sig")
    assert returned.summary["reasons"] == ["the minutes do not show a decision"]
    assert diff.added == []
    assert diff.summary_before["actions"] == diff.summary_after["actions"] == 2


def test_nothing_changed_in_a_quiet_window(world: World) -> None:
    diff = plan_diff(world.ledger.entries, _at(13), _at(19))
    assert diff.changes == [] and diff.decisions == [] and diff.added == []


def test_a_backwards_window_is_refused(world: World) -> None:
    with pytest.raises(ValueError, match="after its start"):
        plan_diff(world.ledger.entries, _at(15), _at(5))


def test_the_cli_prints_and_refuses_clearly(world: World, cli: Any) -> None:
    code, out, _ = cli("diff", "--from", "2023-01-07", "--to", "2023-01-17")
    assert code == 0
    assert "R1.1     status: in_progress -> agency_signed_off" in out
    assert "action.signed_off by council.lead" in out and "actions added: R2.1" in out
    code, _, err = cli("diff", "--from", "2023-01-17", "--to", "2023-01-07")
    assert code == 2 and "--to must be after --from" in err
    code, _, err = cli("diff", "--from", "last week", "--to", "2023-01-07")
    assert code == 2 and "not a date" in err


def test_the_api_answers_the_same(world: World) -> None:
    with TestClient(create_app(world.config, world.ledger)) as http:
        token = TokenStore(world.ledger.tables).create(
            "scrutiny", timedelta(days=1), now=world.clock.now
        )
        headers = {"Authorization": f"Bearer {token}"}
        found = http.get("/v1/diff?from=2023-01-07&to=2023-01-17", headers=headers)
        assert found.status_code == 200
        same = plan_diff(world.ledger.entries, parse_as_of("2023-01-07"), parse_as_of("2023-01-17"))
        assert found.json() == same.to_json()
        bad = http.get("/v1/diff?from=2023-01-17&to=2023-01-07", headers=headers)
        assert bad.status_code == 422 and "after" in bad.json()["detail"]
        assert http.get("/v1/diff?from=2023-01-07&to=2023-01-17").status_code == 401
