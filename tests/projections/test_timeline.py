"""Timelines of an action and of a recommendation: every decision with who, when, its
log position and its reasons; cut as of a moment or position; scoped per agency in the
API; the same through the CLI (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.application.tokens import TokenStore
from api.http.app import create_app
from domain import Status
from ledger.auditor.entry import SignedEntry
from projections.timeline import UnknownSubject, action_timeline, recommendation_timeline
from tests.support.world import World, make_world

DAY = datetime(2023, 1, 2, tzinfo=UTC)


def _at(days: int) -> datetime:
    return DAY + timedelta(days=days)


@pytest.fixture
def world(config: Any, clock: Any) -> Any:
    """Day 0: R1.1 (council) and R1.2 (police) added, R1.1 started. Day 3: evidence,
    submitted, agency sign-off. Day 5: the group returns it. Day 6: the first evidence
    withdrawn, new evidence, signed off again. Day 7: police rate R1.2."""
    clock.now = DAY
    w = make_world(config, clock)
    w.add_action("R1.1")
    w.add_action("R1.2", lead="police")
    officer, lead = w.client("council.officer"), w.client("council.lead")
    officer.change_status("R1.1", Status.IN_PROGRESS)
    clock.now = _at(3)
    w.first = w.evidence("R1.1", b"draft terms")  # type: ignore[attr-defined]
    officer.change_status("R1.1", Status.EVIDENCE_SUBMITTED)
    lead.sign_off("R1.1", "complete")
    clock.now = _at(5)
    w.client("sig").return_action("R1.1", ["terms not approved", "no minutes"])
    clock.now = _at(6)
    officer.withdraw_evidence("R1.1", w.first, "superseded")  # type: ignore[attr-defined]
    w.second = w.evidence("R1.1", b"approved terms")  # type: ignore[attr-defined]
    officer.change_status("R1.1", Status.EVIDENCE_SUBMITTED)
    lead.sign_off("R1.1", "complete, approved terms attached")
    clock.now = _at(7)
    w.client("police.lead").rate("R1.2", "amber", "data sharing pending")
    yield w
    w.ledger.close()


def test_an_action_timeline_names_every_decision_and_its_log_position(world: Any) -> None:
    timeline = action_timeline(world.ledger, "R1.1")
    types = [e.type.removeprefix("action.") for e in timeline.entries]
    assert types == [
        "added",
        "status_changed",
        "evidence_attached",
        "status_changed",
        "signed_off",
        "returned",
        "evidence_withdrawn",
        "evidence_attached",
        "status_changed",
        "signed_off",
    ]
    assert [e.version for e in timeline.entries] == list(range(1, 11))
    stored = dict(world.ledger.entries())
    for entry in timeline.entries:  # each leaf index is the entry itself
        body = SignedEntry.from_entry_bytes(stored[entry.leaf_index]).body
        assert (body.type, body.version, body.actor) == (entry.type, entry.version, entry.actor)
    returned = timeline.entries[5]
    assert returned.actor == "sig" and returned.status_after == "in_progress"
    assert returned.details == {
        "level": "implementation_group",
        "reasons": [
            "terms not approved",
            "no minutes",
        ],
    }
    signed = timeline.entries[-1]
    assert signed.details["evidence"] == [world.second]
    assert signed.details["statement"] == "complete, approved terms attached"
    attached = timeline.entries[2]
    assert attached.details["sha256"] == world.first
    assert "original_name" not in attached.details and "storage_key" not in attached.details
    assert timeline.state["status"] == "agency_signed_off"
    assert timeline.state["evidence"] == [world.second]
    [sign_off] = timeline.state["sign_offs"]
    assert (sign_off["by"], sign_off["evidence"]) == ("council.lead", [world.second])


def test_a_cut_timeline_shows_the_action_as_it_stood(world: Any) -> None:
    before_return = action_timeline(world.ledger, "R1.1", as_of=_at(4))
    assert before_return.entries[-1].type == "action.signed_off"
    assert before_return.state["evidence"] == [world.first]
    assert before_return.state["sign_offs"][0]["evidence"] == [world.first]
    by_position = action_timeline(
        world.ledger, "R1.1", position=before_return.entries[-1].leaf_index + 1
    )
    assert by_position.entries == before_return.entries
    assert by_position.state == before_return.state
    with pytest.raises(UnknownSubject):
        action_timeline(world.ledger, "R1.1", as_of=_at(-1))
    with pytest.raises(UnknownSubject):
        action_timeline(world.ledger, "R9.9")


def test_a_recommendation_timeline_interleaves_its_actions(world: Any) -> None:
    timeline = recommendation_timeline(world.ledger, 1)
    assert timeline.entries[0].type == "plan.recommendation_added"
    positions = [e.leaf_index for e in timeline.entries]
    assert positions == sorted(positions)
    assert {e.action_id for e in timeline.entries[1:]} == {"R1.1", "R1.2"}
    assert timeline.state["recommendation"]["status"] == "in_progress"
    assert set(timeline.state["actions"]) == {"R1.1", "R1.2"}
    council_only = recommendation_timeline(
        world.ledger, 1, readable=lambda action_id: action_id == "R1.1"
    )
    assert {e.action_id for e in council_only.entries[1:]} == {"R1.1"}
    early = recommendation_timeline(world.ledger, 1, as_of=_at(2))
    assert all(e.timestamp <= _at(2).isoformat() for e in early.entries)
    with pytest.raises(UnknownSubject):
        recommendation_timeline(world.ledger, 7)


def _token(world: World, user: str) -> dict[str, str]:
    token = TokenStore(world.ledger.tables).create(user, timedelta(days=1), now=world.clock.now)
    return {"Authorization": f"Bearer {token}"}


def test_the_api_serves_timelines_within_the_callers_agency(world: Any) -> None:
    with TestClient(create_app(world.config, world.ledger)) as http:
        council, police = _token(world, "council.officer"), _token(world, "police.officer")
        found = http.get("/v1/actions/R1.1/timeline", headers=council)
        assert found.status_code == 200
        assert found.json() == action_timeline(world.ledger, "R1.1").to_json()
        cut = http.get("/v1/actions/R1.1/timeline?as_of=2023-01-05", headers=council).json()
        assert cut["entries"][-1]["type"] == "action.signed_off"
        refused = http.get("/v1/actions/R1.1/timeline", headers=police)
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
        assert http.get("/v1/actions/R9.9/timeline", headers=council).status_code == 404
        early = http.get("/v1/actions/R1.1/timeline?as_of=2022-12-01", headers=council)
        assert early.status_code == 404 and "as of" in early.json()["detail"]
        bad = http.get("/v1/actions/R1.1/timeline?as_of=soon", headers=council)
        assert bad.status_code == 422
        rec = http.get("/v1/recommendations/1/timeline", headers=police).json()
        assert {e["action_id"] for e in rec["entries"][1:]} == {"R1.2"}
        assert set(rec["state"]["actions"]) == {"R1.2"}
        everyone = http.get("/v1/recommendations/1/timeline", headers=_token(world, "scrutiny"))
        assert {e["action_id"] for e in everyone.json()["entries"][1:]} == {"R1.1", "R1.2"}
        assert http.get("/v1/recommendations/7/timeline", headers=police).status_code == 404
        assert http.get("/v1/recommendations/0/timeline", headers=police).status_code == 422
        assert http.get("/v1/recommendations/1/timeline").status_code == 401
        short = http.get("/v1/actions/R1.1/timeline?limit=2", headers=council).json()
        assert len(short["entries"]) == 2 and short["total"] == 10 and short["truncated"]
        too_many = http.get("/v1/actions/R1.1/timeline?limit=10001", headers=council)
        assert too_many.status_code == 422


def test_the_cli_prints_a_readable_timeline(world: Any, cli: Any) -> None:
    code, out, err = cli("timeline", "R1.1")
    assert code == 0, err
    assert "R1.1 — as of now — 10 entries" in out
    assert "action.returned by sig" in out and "reasons: terms not approved; no minutes" in out
    assert "signed at agency level by council.lead" in out and world.second in out
    code, out, _ = cli("timeline", "R1.1", "--as-of", "2023-01-05", "--json")
    assert code == 0 and json.loads(out)["entries"][-1]["type"] == "action.signed_off"
    code, out, _ = cli("timeline", "--recommendation", "1", "--json")
    assert code == 0 and json.loads(out)["entries"][0]["type"] == "plan.recommendation_added"
    code, _, err = cli("timeline")
    assert code == 2 and "--recommendation" in err
    code, _, err = cli("timeline", "R1.1", "--recommendation", "1")
    assert code == 2
    code, _, err = cli("timeline", "R9.9")
    assert code == 2 and "no action R9.9" in err
    code, _, err = cli("timeline", "R1.1", "--position", "-2")
    assert code == 2 and "--position" in err
    code, out, _ = cli("timeline", "R1.1", "--limit", "2")
    assert code == 0 and "R1.1 — as of now — latest 2 of 10 entries" in out
    code, _, err = cli("timeline", "R1.1", "--limit", "-1")
    assert code == 2 and "--limit" in err


def test_limits_keep_the_latest_entries_and_the_state(world: Any) -> None:
    full = action_timeline(world.ledger, "R1.1")
    latest = action_timeline(world.ledger, "R1.1", limit=3)
    assert latest.entries == full.entries[-3:] and latest.total == full.total == 10
    assert latest.to_json()["truncated"] and not full.to_json()["truncated"]
    assert latest.state == full.state
    nothing = action_timeline(world.ledger, "R1.1", limit=0)
    assert nothing.entries == [] and nothing.state == full.state
    rec = recommendation_timeline(world.ledger, 1)
    assert recommendation_timeline(world.ledger, 1, limit=4).entries == rec.entries[-4:]
    with pytest.raises(ValueError):
        action_timeline(world.ledger, "R1.1", limit=-1)


def test_timelines_agree_with_the_aggregates_on_random_histories(config: Any, clock: Any) -> None:
    """What the projection says after each entry is what the domain aggregate says."""
    import random

    from domain import action_aggregate_id
    from projections.status import action_snapshot
    from tests.support import asof_history

    rng = random.Random(7)
    w = make_world(config, clock)
    try:
        asof_history.add_actions(w)
        steps = [
            (rng.randrange(len(asof_history.SCHEDULE)), rng.randrange(5), rng.choice([0, 3]))
            for _ in range(80)
        ]
        asof_history.run(w, steps)
        for action_id in asof_history.ACTIONS:
            timeline = action_timeline(w.ledger, action_id)
            action: Any = None
            for event, entry in zip(
                w.ledger.aggregate_events(action_aggregate_id(action_id)),
                timeline.entries,
                strict=True,
            ):
                action = event.mutate(action)
                assert entry.status_after == action.status.value
            assert timeline.state == action_snapshot(action)
            middle = timeline.entries[len(timeline.entries) // 2]
            cut = action_timeline(w.ledger, action_id, position=middle.leaf_index + 1)
            assert cut.entries[-1] == middle and cut.state["status"] == middle.status_after
    finally:
        w.ledger.close()


def test_scoping_follows_the_actions_lead_agency_now(world: Any) -> None:
    world.client("sig").amend("R1.1", {"lead_agency": "police"}, "moved to the police")
    with TestClient(create_app(world.config, world.ledger)) as http:
        council, police = _token(world, "council.officer"), _token(world, "police.officer")
        assert http.get("/v1/actions/R1.1/timeline", headers=council).status_code == 403
        moved = http.get("/v1/actions/R1.1/timeline", headers=police)
        assert moved.status_code == 200 and moved.json()["state"]["lead_agency"] == "police"
        rec = http.get("/v1/recommendations/1/timeline", headers=council).json()
        assert {e["action_id"] for e in rec["entries"][1:]} == set()
