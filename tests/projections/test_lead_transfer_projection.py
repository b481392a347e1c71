"""A transferred action in the projections and before the auditor: status rows name its
lead at the cut (as of a date before the transfer, the old lead; after, the new), the
per-agency counts follow it, its timeline shows the transfer with its reason and its lead
history, the full replay and the indexed as-of projection agree, and the public tracker
shows the transfer (agency id and reason). The standalone auditor follows the transfer:
it accepts the new agency's officer's entries and refuses the old agency's officer's.

On a real ledger (SQLite, and PostgreSQL where the suite has one) with a controlled clock,
so the dates are those of the real case: the Home Office led fire until MHCLG took it
over in April 2025 (here: council, then police).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from domain import Status
from ledger.auditor import audit
from ledger.bundle import replay_rules
from ledger.config import LedgerConfig
from ledger.signer import Signer
from projections.asof import status_as_of
from projections.public import PUBLIC_MEMBERS, recommendation_view
from projections.status import Replay, status_from
from projections.timeline import action_timeline, render_timeline
from tests.support.bundles import append_crafted, export, problems
from tests.support.clock import Clock
from tests.support.web import sign_in, web_client
from tests.support.world import ORIGIN, World, clear_store_settings, make_world

REASON = "Machinery of government change: responsibility moved to the police"
BEFORE = datetime(2025, 3, 31, 23, 59, 59, tzinfo=UTC)  # the end of the day before
AFTER = datetime(2025, 4, 30, 23, 59, 59, tzinfo=UTC)


@pytest.fixture
def world(config: LedgerConfig, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """R1.1 led by council from January 2025, in progress with evidence, transferred to
    the police on 1 April 2025; then the police's officer submits it."""
    clear_store_settings(monkeypatch)
    built = make_world(config, Clock(datetime(2025, 1, 6, 9, 0, tzinfo=UTC)))
    try:
        built.add_action("R1.1")
        built.add_action("R1.2")
        built.client("council.officer").change_status("R1.1", Status.IN_PROGRESS)
        built.evidence("R1.1", b"council minutes")
        built.clock.now = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)
        built.client("sig").transfer_lead("R1.1", "police", REASON)
        built.client("police.officer").change_status("R1.1", Status.EVIDENCE_SUBMITTED)
        yield built
    finally:
        built.ledger.close()


def _row(status: Any, action_id: str = "R1.1") -> Any:
    return next(a for a in status.actions if a.action_id == action_id)


def test_the_status_names_the_lead_at_the_cut(world: World) -> None:
    now = status_as_of(world.ledger)
    assert _row(now).lead_agency == "police" and _row(now).status == "evidence_submitted"
    assert now.by_agency == {"council": {"not_started": 1}, "police": {"evidence_submitted": 1}}
    before = status_as_of(world.ledger, as_of=BEFORE)
    assert _row(before).lead_agency == "council" and _row(before).status == "in_progress"
    assert before.by_agency == {"council": {"in_progress": 1, "not_started": 1}}
    after = status_as_of(world.ledger, as_of=AFTER)
    assert _row(after).lead_agency == "police"


def test_the_full_replay_and_the_projection_agree(world: World) -> None:
    replay = Replay().feed(world.ledger.entries())
    today = datetime.now(UTC).date()
    assert status_from(replay, as_of="now", today=today).actions == (
        status_as_of(world.ledger, today=today).actions
    )
    early = Replay().feed(world.ledger.entries(), until_time=BEFORE)
    assert status_from(early, as_of="then", today=today).by_agency == (
        status_as_of(world.ledger, as_of=BEFORE, today=today).by_agency
    )


def test_the_timeline_shows_the_transfer_and_who_led_it_when(world: World) -> None:
    timeline = action_timeline(world.ledger, "R1.1")
    [entry] = [e for e in timeline.entries if e.type == "action.lead_agency_transferred"]
    assert entry.details == {"to_agency": "police", "reason": REASON}
    assert entry.actor == "sig" and entry.timestamp.startswith("2025-04-01T09:00")
    council, police = timeline.state["lead_history"]
    assert (council["agency"], council["until"][:10]) == ("council", "2025-04-01")
    assert council["since"][:10] == "2025-01-06"
    assert (police["agency"], police["since"], police["until"]) == (
        "police",
        council["until"],
        None,
    )
    assert police["reason"] == REASON
    text = render_timeline(timeline.to_json())
    assert "R1.1: led by police since 2025-04-01 (before: council until 2025-04-01)" in text
    then = action_timeline(world.ledger, "R1.1", as_of=BEFORE)
    assert [lead["agency"] for lead in then.state["lead_history"]] == ["council"]
    assert then.state["lead_agency"] == "council"


def test_the_public_tracker_shows_the_transfer_without_a_person(world: World) -> None:
    assert PUBLIC_MEMBERS["action.lead_agency_transferred"] == ("to_agency", "reason")
    size = world.ledger.tree_size()
    view = recommendation_view(
        world.ledger, 1, size, lambda user, at: ("implementation_group", None)
    )
    [shown] = [e for e in view.entries if e.type == "action.lead_agency_transferred"]
    assert shown.shown == {"to_agency": "police", "reason": REASON}
    assert (shown.subject, shown.by_role, shown.by_agency) == ("R1.1", "implementation_group", None)
    assert next(a for a in view.actions if a.action_id == "R1.1").lead_agency == "police"


def test_the_auditor_follows_the_transfer(world: World, tmp_path: Path) -> None:
    bundle = export(world, tmp_path / "bundle")
    report = audit(bundle, log_key=world.vkey.encode(), trust=world.trust)
    assert report.ok, report.problems
    action = world.ledger.action("R1.1")
    assert action is not None
    stamp = lambda: datetime(2025, 4, 2, 9, 0, tzinfo=UTC)  # noqa: E731
    # The old agency's officer, after the transfer: the ledger would refuse it; the
    # auditor, handed it in a bundle, names it.
    old = Signer("council.officer", world.keys["council.officer"], ORIGIN, clock=stamp)
    crafted = old.sign(
        "action.comment_added", action.id, action.version + 1, {"kind": "comment", "text": "x"}
    )
    leaf = append_crafted(world, bundle, crafted)
    report = audit(bundle, log_key=world.vkey.encode(), trust=world.trust)
    assert problems(report) == {leaf: {"not authorised"}}
    [problem] = report.problems
    assert "council.officer (officer of council)" in problem.detail
    assert "for an action led by police" in problem.detail


def test_the_auditor_and_the_rules_replay_accept_the_new_agencys_officer(
    world: World, tmp_path: Path
) -> None:
    world.client("police.officer").comment("R1.1", "the police's note")
    bundle = export(world, tmp_path / "bundle")
    report = audit(bundle, log_key=world.vkey.encode(), trust=world.trust)
    replay_rules(bundle, report)
    assert report.ok, report.problems


def test_the_action_page_says_who_led_it_since_when(world: World) -> None:
    with web_client(world) as http:
        sign_in(http, "police.officer")
        page = http.get("/actions/R1.1").text
        assert "Led by Police since" in page and ">2025-04-01</time>" in page
        assert "(before: Council until" in page
        assert "Why: Machinery of government change" in page
        assert "action.lead_agency_transferred" in page or "lead agency transferred" in page
        sign_in(http, "council.officer")
        assert http.get("/actions/R1.1").status_code == 403  # the council reads it no more
