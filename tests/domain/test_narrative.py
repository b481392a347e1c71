"""Narrative updates (issue 15): an agency's signed account of an action for a period
(done, next, risks), by the lead agency's officers or lead only, not on a closed action;
a period of at most 40 characters, parts of at most 5,000, at least one part said; the
action keeps every update, oldest first.

The world is the domain's own events in memory (tests/support/plan_world.py); who may is
written here from the specification, not from the modules.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.utils import get_topic

from domain import Action, InvalidInput, InvalidTransition, NotPermitted, Reminders, RuleContext
from domain.reminders import reminders_aggregate_id
from ledger.config import LedgerConfig
from tests.support.clock import Clock
from tests.support.plan_world import CAST, USERS, World, event, world
from tests.support.world import World as LedgerWorld
from tests.support.world import make_world

#: R1.1 is led by council: its officers and lead write its updates, nobody else.
MAY = {"council.officer", "council.lead"}
UPDATE: dict[str, Any] = {
    "period": "2023-H1",
    "done": "Trained 40 staff.",
    "next": "Audit the first cases.",
    "risks": "Recruitment.",
}


def action_of(w: World) -> Action:
    added = CAST.action_added("ig")
    added.check(None, w.ctx("ig"))
    action: Action = added.mutate(None)
    return action


def update(action: Action, by: str = "council.officer", **over: Any) -> Any:
    return event(Action.NarrativeUpdated, action, by, **(UPDATE | over))


@pytest.mark.parametrize("actor", USERS)
def test_only_the_lead_agencys_people_write_updates(actor: str) -> None:
    w = world()
    action = action_of(w)
    ev = update(action, actor)
    if actor not in MAY:
        with pytest.raises(NotPermitted) as refused:
            ev.check(action, w.ctx(actor))
        assert refused.value.rule == "action.narrative_update"
        return
    after = w.apply(action, ev, actor)
    [kept] = after.narrative_updates
    assert (kept.period, kept.done, kept.next, kept.risks) == tuple(UPDATE.values())
    assert (kept.signed_by, kept.signed_at) == (actor, ev.timestamp)
    assert after.status.value == "not_started"  # an update changes no status


def test_updates_are_kept_oldest_first() -> None:
    w = world()
    action = action_of(w)
    action = w.apply(action, update(action), "council.officer")
    later = update(action, "council.lead", period="2023-H2", done="", risks="")
    action = w.apply(action, later, "council.lead")
    assert [u.period for u in action.narrative_updates] == ["2023-H1", "2023-H2"]


@pytest.mark.parametrize(
    ("over", "said"),
    [
        ({"period": ""}, "period must be a non-empty string"),
        ({"period": "x" * 41}, "period is longer than 40"),
        ({"period": None}, "period must be"),
        ({"done": "x" * 5001}, "done is longer than 5000"),
        ({"next": 3}, "next must be a string"),
        ({"done": " ", "next": "", "risks": "\n"}, "at least one"),
    ],
)
def test_what_an_update_says(over: dict[str, Any], said: str) -> None:
    w = world()
    action = action_of(w)
    with pytest.raises(InvalidInput, match=said) as refused:
        update(action, **over).check(action, w.ctx("council.officer"))
    assert refused.value.rule == "action.narrative_update"


def test_no_update_on_a_closed_action() -> None:
    w = world()
    action = action_of(w)
    action = w.apply(action, event(Action.Withdrawn, action, "ig", reason="not needed"), "ig")
    with pytest.raises(InvalidTransition, match="withdrawn"):
        update(action).check(action, w.ctx("council.officer"))


# -- the request for updates (domain/reminders.py) -------------------------------------------
# Its rule reads the directory's users: a ledger's, made once (tests/support/world.py);
# the rules are checked on it, nothing is appended.


@pytest.fixture(scope="module")
def ledger_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LedgerWorld]:
    home = tmp_path_factory.mktemp("narrative") / "home"
    made = make_world(LedgerConfig(home=home), Clock(datetime(2023, 7, 1, tzinfo=UTC)))
    yield made
    made.ledger.close()


REQUEST: dict[str, Any] = {
    "agency": "council",
    "as_of": "2023-07-01",
    "within_days": 30,
    "updated_since": "2023-07-01",
    "actions": [{"action_id": "R1.1", "due_date": "2023-07-20", "overdue": False}],
    "recipients": ["council.officer"],
    "unreachable": ["council.lead"],
    "message_id": "<updates@council.example>",
    "body_sha256": "ab" * 32,
}
#: Who the ledger world's users are (tests/support/world.py).
ROLES = ["admin", "sig", "chair", "scrutiny", "council.lead", "council.officer", "police.lead"]


def check_request(w: LedgerWorld, by: str, **over: Any) -> Reminders:
    payload = REQUEST | over
    aggregate = reminders_aggregate_id(payload["agency"])
    ev = CAST.created(Reminders.UpdateRequested, aggregate, get_topic(Reminders), by, **payload)
    directory = w.ledger.require_directory()
    actor = directory.users[by].actor()
    ev.check(None, RuleContext(actor, directory, w.ledger.plan()))
    made: Reminders = ev.mutate(None)
    return made


@pytest.mark.parametrize("actor", ROLES)
def test_only_the_group_and_administrators_record_a_request(
    ledger_world: LedgerWorld, actor: str
) -> None:
    if actor not in {"sig", "admin"}:
        with pytest.raises(NotPermitted):
            check_request(ledger_world, actor)
        return
    [kept] = check_request(ledger_world, actor).update_requests
    assert (kept.action_ids, kept.recipients, kept.updated_since) == (
        ("R1.1",),
        ("council.officer",),
        "2023-07-01",
    )


@pytest.mark.parametrize(
    ("over", "said"),
    [
        ({"recipients": ["police.lead"]}, r"police.lead \(agency_lead\) may not receive"),
        ({"recipients": ["chair"]}, r"chair \(chair\) may not receive"),  # escalates nothing
        ({"recipients": []}, "at least one recipient"),
        ({"updated_since": "2023-07-02"}, "updated_since must not be after as_of"),
        ({"actions": []}, "at least one action"),
        (
            {"actions": [{"action_id": "R1.1", "due_date": "2023-09-01", "overdue": False}]},
            "not due within 30 days",
        ),
        ({"actions": [{"action_id": "R1.1", "due_date": "2023-06-01"}]}, "each action is"),
        ({"message_id": "updates"}, "message_id must be"),
        ({"body_sha256": "x"}, "body_sha256 must be"),
    ],
)
def test_what_a_request_records(ledger_world: LedgerWorld, over: dict[str, Any], said: str) -> None:
    with pytest.raises(InvalidInput, match=said):
        check_request(ledger_world, "sig", **over)
