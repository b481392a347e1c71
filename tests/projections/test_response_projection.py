"""The response axis in the projections (issue 14), on SQLite and PostgreSQL: each
recommendation's and each action's current formal response in the status rows, beside
status and verdict; the indexed as-of projection and the full replay agree at every
position and moment; a projection of the previous format (snapshots without responses)
is rebuilt when it is opened; a recommendation's timeline shows its responses; the
status export has the response columns (its own, else its recommendation's) by both
paths; the report lists them; a diff names the change."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from domain import Status
from projections.asof import replay_status, status_as_of
from projections.diff import diff_as_of
from projections.projector import Projector, projector_for
from projections.report import build_report, checkpoint_info
from projections.report_render import render_html
from projections.report_sheets import (
    ACTION_COLUMNS,
    RESPONSE_COLUMNS,
    status_export,
    status_export_as_of,
)
from projections.status import response_summary
from projections.store import FORMAT
from projections.timeline import recommendation_timeline
from tests.support import asof_history
from tests.support.report_html import ReportPage
from tests.support.world import World, make_world

DAY0 = datetime(2022, 11, 1, 9, 0, tzinfo=UTC)
IICSA = [("adopted", "Adopted"), ("not_adopted_as_proposed", "Not adopted as proposed")]
#: The fields each status row gained, as another front door (the public pages) reads them.
ROW_FIELDS = (
    "response",
    "response_label",
    "responded_on",
    "responder",
    "response_reasons",
    "response_source",
)


@pytest.fixture
def world(config: Any, clock: Any) -> Any:
    clock.now = DAY0
    w = make_world(config, clock)
    asof_history.add_actions(w)  # R1.1, R1.3 (council); R1.2, R2.1, R2.2 (police)
    yield w
    w.ledger.close()


def history(w: World) -> dict[str, int]:
    """Responses to recommendations and actions, superseded, across a change of
    vocabulary, between status changes; returns the leaf of each step."""
    sig, clock = w.client("sig"), w.clock
    leaf: dict[str, int] = {}
    clock.advance(days=9)  # 10 November 2022
    leaf["considering"] = sig.respond(
        1, "under_consideration", "2022-11-10", "Telford & Wrekin Council",
        reasons="Awaiting the Home Office", source="Full Council, 10 November 2022",
    ).leaf_index  # fmt: skip
    clock.advance(days=30)
    w.client("council.officer").change_status("R1.1", Status.IN_PROGRESS)
    leaf["police"] = w.client("police.lead").respond_to_action(
        "R1.2", "partially_accepted", "2022-12-09", "West Mercia Police",
        reasons="Data sharing only", source="",
    ).leaf_index  # fmt: skip
    clock.advance(days=90)  # March 2023
    leaf["principle"] = sig.respond(
        1, "accepted_in_principle", "2023-03-01", "Home Office",
        reasons="Subject to the spending review", source="Government response, March 2023",
    ).leaf_index  # fmt: skip
    leaf["full"] = sig.respond(2, "accepted", "2023-03-02", "West Mercia Police").leaf_index
    clock.advance(days=10)
    leaf["vocabulary"] = sig.set_response_vocabulary(IICSA).leaf_index
    clock.advance(days=1)
    leaf["council"] = w.client("council.lead").respond_to_action(
        "R1.1", "not_adopted_as_proposed", "2023-03-12", "Telford & Wrekin Council",
        reasons="A regional board instead",
    ).leaf_index  # fmt: skip
    w.client("chair").change_status("R1.2", Status.NOT_IMPLEMENTABLE, "national policy")
    return leaf


def test_the_rows_carry_the_current_response_beside_status_and_verdict(world: World) -> None:
    history(world)
    status = status_as_of(world.ledger)
    recs = {r.number: r for r in status.recommendations}
    one = recs[1]
    assert {name: getattr(one, name) for name in ROW_FIELDS} == {
        "response": "accepted_in_principle",  # superseded "under_consideration"
        "response_label": "Accepted in principle",  # a term of the old vocabulary keeps it
        "responded_on": "2023-03-01",
        "responder": "Home Office",
        "response_reasons": "Subject to the spending review",
        "response_source": "Government response, March 2023",
    }
    assert response_summary(one) == "Accepted in principle (Home Office, 2023-03-01)"
    assert (recs[2].response, recs[2].response_reasons) == ("accepted", "")
    actions = {a.action_id: a for a in status.actions}
    assert (actions["R1.1"].response_label, actions["R1.1"].responder) == (
        "Not adopted as proposed",
        "Telford & Wrekin Council",
    )
    assert actions["R1.1"].status == "in_progress"  # the axes are apart
    police = actions["R1.2"]
    assert (police.response, police.status, police.verdict) == (
        "partially_accepted",
        "not_implementable",
        "not_implementable",
    )
    assert all(getattr(actions["R2.1"], name) is None for name in ROW_FIELDS)
    # As JSON (the API's /v1/status) and back.
    obj = status.to_json()
    assert obj["recommendations"][0]["response_label"] == "Accepted in principle"
    assert type(status).from_json(json.loads(json.dumps(obj))).actions == status.actions


def test_the_projection_equals_a_full_replay_at_every_cut(world: World) -> None:
    leaf = history(world)
    ledger = world.ledger
    for position in range(ledger.tree_size() + 2):
        assert status_as_of(ledger, position=position) == replay_status(
            ledger, position=position
        ), position
    for moment in asof_history.cuts_in_time(world):
        assert status_as_of(ledger, as_of=moment) == replay_status(ledger, as_of=moment), moment
    # Before the second response the first stood; before the vocabulary changed, so did
    # the default labels.
    before = status_as_of(ledger, position=leaf["principle"])
    assert before.recommendations[0].response_label == "Under consideration"
    scratch = Projector(ledger, prefix="scratch", page=2)
    scratch.rebuild(ledger)
    assert scratch.tables.dump() == projector_for(ledger).tables.dump()


def test_a_projection_of_the_previous_format_is_rebuilt_when_opened(world: World) -> None:
    """Snapshots written before responses (no `response` members) are not read as they
    are: the tables are of another format, so they are dropped and made again."""
    history(world)
    ledger = world.ledger
    legacy = Projector(ledger, prefix="legacy")
    legacy.catch_up(ledger)
    tables, p = legacy.tables, legacy.tables.p
    with ledger.database.transaction() as cursor:
        cursor.execute("SELECT agg, leaf, state FROM legacy_snapshots")
        for row in cursor.fetchall():
            state = json.loads(row["state"])
            for name in ("response", "responses", "response_labels"):
                state.pop(name, None)
            cursor.execute(
                f"UPDATE legacy_snapshots SET state={p} WHERE agg={p} AND leaf={p}",
                (json.dumps(state), row["agg"], row["leaf"]),
            )
        cursor.execute(f"UPDATE legacy_state SET high_water={p} WHERE key='format'", (FORMAT - 1,))
    reopened = Projector(ledger, prefix="legacy")
    assert reopened.tables.high_water() == 0
    today = date(2024, 1, 1)
    found = reopened.status(ledger, as_of=None, position=None, today=today, label="now")
    assert found == replay_status(ledger, today=today)
    assert found.recommendations[0].response == "accepted_in_principle"
    scratch = Projector(ledger, prefix="scratch")
    scratch.rebuild(ledger)
    assert tables.dump() == scratch.tables.dump()


def test_a_recommendations_timeline_shows_its_responses(world: World) -> None:
    leaf = history(world)
    timeline = recommendation_timeline(world.ledger, 1)
    responses = [e for e in timeline.entries if e.type == "plan.response_recorded"]
    assert [e.leaf_index for e in responses] == [leaf["considering"], leaf["principle"]]
    assert responses[-1].details["responder"] == "Home Office"
    assert timeline.state["recommendation"]["response"] == "accepted_in_principle"
    two = recommendation_timeline(world.ledger, 2)
    assert [e.details["number"] for e in two.entries if e.action_id is None] == [2, 2]


def test_the_export_has_the_response_columns_by_both_paths(world: World) -> None:
    history(world)
    ledger = world.ledger
    found = status_export_as_of(ledger, as_of=None)
    assert found == status_export(ledger.entries(), as_of=None)
    assert set(RESPONSE_COLUMNS) <= set(ACTION_COLUMNS)
    rows = {row["action_id"]: row for row in found.actions}
    assert {c: rows["R1.3"][c] for c in RESPONSE_COLUMNS} == {
        "response": "Accepted in principle",  # no response of its own: its recommendation's
        "response_for": "recommendation",
        "responded_on": "2023-03-01",
        "responder": "Home Office",
        "response_reasons": "Subject to the spending review",
        "response_source": "Government response, March 2023",
    }
    assert (rows["R1.2"]["response"], rows["R1.2"]["response_for"]) == (
        "Partially accepted",
        "action",
    )
    assert rows["R2.1"]["response_for"] == "recommendation"
    before = status_export_as_of(ledger, as_of=datetime(2022, 11, 5, tzinfo=UTC))
    assert all(row["response"] == "" for row in before.actions)


def test_the_report_shows_the_responses(world: World) -> None:
    history(world)
    checkpoint = world.checkpoint()  # it covers the whole history
    info = checkpoint_info(checkpoint.note, world.ledger.tree_size(), world.vkey)
    as_of = datetime(2023, 6, 30, 23, 59, tzinfo=UTC)
    report = build_report(world.ledger, info, as_of=as_of, since=DAY0)
    page = ReportPage(render_html(report))
    recs = {row[0]: row for row in page.body_rows("recommendation-table")}
    assert recs["1"][4] == "Accepted in principle (Home Office, 2023-03-01)"
    assert recs["2"][4] == "Accepted (West Mercia Police, 2023-03-02)"
    assert page.body_rows("response-table") == [
        [
            "Recommendation 1",
            "Accepted in principle",
            "2023-03-01",
            "Home Office",
            "Subject to the spending review",
            "Government response, March 2023",
        ],
        ["Recommendation 2", "Accepted", "2023-03-02", "West Mercia Police", "—", "—"],
        [
            "R1.1",
            "Not adopted as proposed",
            "2023-03-12",
            "Telford & Wrekin Council",
            "A regional board instead",
            "—",
        ],
        [
            "R1.2",
            "Partially accepted",
            "2022-12-09",
            "West Mercia Police",
            "Data sharing only",
            "—",
        ],
    ]
    decided = [row for row in page.body_rows("decision-table") if "formal response" in row[3]]
    assert [(row[2], row[5]) for row in decided] == [
        ("R1.2", "Data sharing only"),
        ("R1.1", "A regional board instead"),
    ]


def test_a_diff_names_a_changed_response(world: World) -> None:
    history(world)
    found = diff_as_of(world.ledger, datetime(2022, 11, 5, tzinfo=UTC), datetime.now(UTC))
    changed = {(c.action_id, c.field): (c.before, c.after) for c in found.changes}
    assert changed[("R1.2", "response")] == (None, "partially_accepted")
    kinds = [d.type for d in found.decisions if d.type == "action.response_recorded"]
    assert len(kinds) == 2
