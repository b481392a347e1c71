"""Valid time beside record time (domain/backfill.py, projections/asof.py): a status as
of a date answers what the record said then (`recorded`) or what had happened by then as
the record stands now (`occurred`); backfilled facts count at their dates, live entries
at their timestamps, the plan's own definition always; the full replay and the indexed
projection agree on the recorded answer, and an `occurred` answer dated after everything
is the status now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import Action, DomainError, Status, action_aggregate_id
from projections.asof import OCCURRED, parse_as_of, replay_status, status_as_of
from tests.support.world import World

SOURCE = "Report to Full Council, 10 November 2022"


def backfill(world: World, action_id: str, status: str, on: str) -> None:
    fact = {"status": status, "occurred_on": on, "source": SOURCE, "note": ""}
    world.client("sig").submit(Action.Backfilled.TYPE, action_aggregate_id(action_id), fact)


def statuses(world: World, day: str, basis: str = "recorded") -> dict[str, str]:
    found = status_as_of(world.ledger, as_of=parse_as_of(day), basis=basis)
    return {a.action_id: a.status for a in found.actions}


def test_the_two_questions_have_different_answers(world: World) -> None:
    """Recording begins on 2 January 2023 (the test clock); the past goes back to 2022."""
    backfill(world, "R1.1", "in_progress", "2022-11-10")
    backfill(world, "R1.1", "blocked", "2022-12-01")
    world.clock.advance(days=1)
    world.client("council.officer").change_status("R1.1", Status.IN_PROGRESS, "guidance out")
    world.clock.advance(days=1)
    world.add_action("R1.2", lead="police")  # recorded later: still in the plan's past

    assert statuses(world, "2022-12-31") == {}
    assert statuses(world, "2022-11-09", OCCURRED) == {"R1.1": "not_started", "R1.2": "not_started"}
    assert statuses(world, "2022-11-30", OCCURRED)["R1.1"] == "in_progress"
    assert statuses(world, "2022-12-31", OCCURRED)["R1.1"] == "blocked"
    assert statuses(world, "2023-01-03", OCCURRED)["R1.1"] == "in_progress"
    assert statuses(world, "2023-01-02") == {"R1.1": "blocked"}  # as recorded that day
    later = status_as_of(world.ledger, as_of=parse_as_of("2030-01-01"), basis=OCCURRED)
    now = status_as_of(world.ledger)
    assert [vars(a) | {"overdue": None} for a in later.actions] == [
        vars(a) | {"overdue": None} for a in now.actions
    ]
    assert (later.basis, now.basis) == ("occurred", "recorded")


def test_the_status_says_where_it_comes_from(world: World) -> None:
    backfill(world, "R1.1", "blocked", "2022-12-01")
    [row] = status_as_of(world.ledger).actions
    assert (row.status, row.backfilled_on, row.backfill_source) == ("blocked", "2022-12-01", SOURCE)
    world.client("council.officer").change_status("R1.1", Status.IN_PROGRESS, "unblocked")
    [row] = status_as_of(world.ledger).actions
    assert (row.status, row.backfilled_on) == ("in_progress", None)
    for day in ("2023-01-01", "2023-01-02", "2023-06-01"):
        moment = parse_as_of(day)
        assert status_as_of(world.ledger, as_of=moment) == replay_status(world.ledger, as_of=moment)


@pytest.mark.parametrize(
    ("status", "on", "refusal"),
    [
        ("accepted", "2022-11-10", "cannot be backfilled"),
        ("verified", "2022-11-10", "cannot be backfilled"),
        ("in_progress", "2023-01-09", "after the day it is recorded"),
        ("in_progress", "10/11/2022", "must be a date"),
        ("started", "2022-11-10", "unknown status"),
    ],
)
def test_what_cannot_be_backfilled(world: World, status: str, on: str, refusal: str) -> None:
    with pytest.raises(DomainError, match=refusal):
        backfill(world, "R1.1", status, on)


def test_the_past_goes_oldest_first_and_ends_where_live_recording_began(world: World) -> None:
    backfill(world, "R1.1", "in_progress", "2022-11-10")
    with pytest.raises(DomainError, match="oldest first"):
        backfill(world, "R1.1", "not_started", "2022-10-01")
    world.clock.now = datetime(2023, 2, 1, 9, tzinfo=UTC)
    world.client("council.officer").change_status("R1.1", Status.BLOCKED, "waiting")
    world.clock.advance(days=3)
    with pytest.raises(DomainError, match="recorded live since 2023-02-01"):
        backfill(world, "R1.1", "in_progress", "2023-02-01")
    backfill(world, "R1.1", "evidence_submitted", "2023-01-31")  # history: status stays
    [row] = status_as_of(world.ledger).actions
    assert (row.status, row.backfilled_on) == ("blocked", None)
    assert statuses(world, "2023-01-31", OCCURRED)["R1.1"] == "evidence_submitted"
    with pytest.raises(DomainError, match="record an action's past"):
        world.client("council.lead").submit(
            Action.Backfilled.TYPE,
            action_aggregate_id("R1.1"),
            {"status": "in_progress", "occurred_on": "2023-01-31", "source": SOURCE, "note": ""},
        )
    assert timedelta(0) < world.clock.now - datetime(2023, 2, 1, tzinfo=UTC)


def test_the_timeless_and_dated_types_are_registered_types() -> None:
    """A misspelt type here would silently cut the plan's own definition out of every
    "as occurred" view."""
    from domain.backfill import DATED_BY_PAYLOAD, TIMELESS_TYPES
    from domain.events import event_types

    known = set(event_types())
    assert known >= TIMELESS_TYPES
    assert set(DATED_BY_PAYLOAD) <= known
    for kind, member in DATED_BY_PAYLOAD.items():
        assert member in event_types()[kind].payload_fields()
