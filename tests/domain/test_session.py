"""Sessions and actions arising (domain/session.py), from the specification: the
secretariat (implementation group) and the chair record a session; it has a chair who is
a reviewer (never an agency's officer or lead, nor an administrator), attendees by role,
the recommendations of the plan it covered, once each, in order, within one UTC day;
only the session's chair approves its minutes, once, naming a hash and the leaf indices
in log order; an action arising names one of the session's recommendations, an owner
(an agency of the plan or a registered user), a due date and what "done" means, and is
not added once the minutes are approved; it is closed once, with a reason.

The world is the domain's own events in memory (tests/support/domain_world.py)."""

from __future__ import annotations

from typing import Any

import pytest

from domain import (
    Actor,
    Directory,
    DomainError,
    InvalidInput,
    InvalidTransition,
    NotPermitted,
    Plan,
    Role,
    RuleContext,
)
from domain.charter import DEFAULT_APPOINTERS
from domain.session import Session, session_aggregate_id
from tests.support.domain_world import Cast, DomainWorld

USERS: dict[str, Actor] = {
    "admin": Actor("admin", Role.ADMIN, None),
    "chair": Actor("chair", Role.CHAIR, None),
    "ig": Actor("ig", Role.IMPLEMENTATION_GROUP, None),
    "police.lead": Actor("police.lead", Role.AGENCY_LEAD, "police"),
    "pcc": Actor("pcc", Role.SCRUTINY, None),
    "scrutiny": Actor("scrutiny", Role.SCRUTINY, None),
}
CAST = Cast(USERS)
event = CAST.signed


class World(DomainWorld):
    users = USERS


def _world() -> World:
    directory = CAST.genesis()
    charter = event(
        Directory.CharterAdopted, directory, "chair", chair_id="chair", name="Chair",
        public_key=CAST.keys["chair"], title="T", appointers=dict(DEFAULT_APPOINTERS),
        off_page_roles=[],
    )  # fmt: skip
    charter.check(directory, RuleContext(USERS["chair"], directory, None))
    world = World(charter.mutate(directory), None)
    plan: Plan = CAST.plan_imported("ig", recommendations_expected=3).mutate(None)
    for number in (1, 29, 31):
        added = event(
            Plan.RecommendationAdded, plan, "ig", number=number, title=f"R{number}",
            text="", lead_agencies=["police"],
        )  # fmt: skip
        plan = added.mutate(plan)
    world.plan = plan
    for user_id in ("ig", "police.lead", "pcc", "scrutiny"):
        user = USERS[user_id]
        world.append(
            event(
                Directory.UserRegistered, world.directory, "chair", user_id=user_id,
                name=user_id.title(), role=user.role.value, agency=user.agency,
                public_key=CAST.keys[user_id],
            ),
            "chair",
        )  # fmt: skip
    return world


WORLD = _world()
HELD: dict[str, Any] = {
    "session_id": "pcc-aa-2023-03",
    "body": "PCC Assurance & Accountability",
    "date": "2023-03-13",
    "started_at": "10:00",
    "ended_at": "12:30",
    "chair": "pcc",
    "attendees": [
        {"role": "Police and Crime Commissioner", "label": "PCC"},
        {"role": "Temporary Deputy Chief Constable", "agency": "police", "label": "T/DCC"},
    ],
    "recommendations": [1, 29, 31],
}
ARISING: dict[str, Any] = {
    "arising_id": "pcc-aa-2023-03.1",
    "session_id": "pcc-aa-2023-03",
    "recommendation": 29,
    "owner": {"agency": "police"},
    "due_date": "2023-04-30",
    "done_means": "the OPCC knows when the mobile operations run and how often",
    "text": "For the T/DCC to share the extent of the mobile operations",
}


def held(by: str = "ig", **over: Any) -> Any:
    ev = CAST.created(
        Session.Held, session_aggregate_id(over.get("session_id", HELD["session_id"])),
        "domain.session:Session", by, **(HELD | over),
    )  # fmt: skip
    return ev


def session(**over: Any) -> Session:
    ev = held(**over)
    ev.check(None, WORLD.ctx("ig"))
    made: Session = ev.mutate(None)
    return made


def arising(state: Session, by: str = "ig", **over: Any) -> Any:
    return event(Session.ArisingRecorded, state, by, **(ARISING | over))


def approval(state: Session, by: str = "pcc", **over: Any) -> Any:
    payload = {"minutes_sha256": "ab" * 32, "entries": [3, 7, 9]} | over
    return event(Session.MinutesApproved, state, by, **payload)


@pytest.mark.parametrize("by", ["ig", "chair"])
def test_the_secretariat_and_the_chair_record_a_session(by: str) -> None:
    ev = held(by)
    ev.check(None, WORLD.ctx(by))
    state: Session = ev.mutate(None)
    assert state.recommendations == [1, 29, 31] and state.chair == "pcc"
    assert [a.label for a in state.attendees] == ["PCC", "T/DCC"]
    assert state.attendees[1].agency == "police"


@pytest.mark.parametrize("by", ["scrutiny", "pcc", "police.lead", "admin"])
def test_nobody_else_records_one(by: str) -> None:
    with pytest.raises(NotPermitted, match="record a session"):
        held(by).check(None, WORLD.ctx(by))


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"chair": "police.lead"}, "may not chair a session"),
        ({"chair": "admin"}, "may not chair a session"),
        ({"chair": "nobody"}, "registered user"),
        ({"date": "13/03/2023"}, "YYYY-MM-DD"),
        ({"started_at": "9:00"}, "HH:MM"),
        ({"ended_at": "24:00"}, "HH:MM"),
        ({"started_at": "12:30", "ended_at": "10:00"}, "ends after it starts"),
        ({"attendees": []}, "attendees"),
        ({"attendees": [{"role": "PCC"}]}, "label"),
        ({"attendees": [{"role": "PCC", "label": "PCC", "name": "J"}]}, "role, agency"),
        ({"attendees": [{"role": "CC", "agency": "fire", "label": "CC"}]}, "not in the plan"),
        ({"recommendations": []}, "recommendations"),
        ({"recommendations": [1, 1]}, "once"),
        ({"recommendations": [2]}, "no recommendation 2"),
        ({"recommendations": ["1"]}, "numbers"),
        ({"body": ""}, "body"),
        ({"session_id": "PCC March"}, "session_id"),
    ],
)
def test_a_session_says_what_it_must(over: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        held(**over).check(None, WORLD.ctx("ig"))


def test_a_session_is_recorded_once_at_its_own_id() -> None:
    with pytest.raises(InvalidTransition, match="already recorded"):
        held().check(session(), WORLD.ctx("ig"))
    moved = CAST.created(
        Session.Held, session_aggregate_id("other"), "domain.session:Session", "ig", **HELD
    )
    with pytest.raises(InvalidInput, match="its own id"):
        moved.check(None, WORLD.ctx("ig"))


def test_only_the_sessions_chair_approves_its_minutes_once() -> None:
    state = session()
    for by in ("ig", "chair", "scrutiny"):
        with pytest.raises(NotPermitted, match="only its chair, pcc"):
            approval(state, by).check(state, WORLD.ctx(by))
    state = WORLD.apply(state, approval(state), "pcc")
    assert state.approval is not None and state.approval.entries == [3, 7, 9]
    with pytest.raises(InvalidTransition, match="already approved"):
        approval(state).check(state, WORLD.ctx("pcc"))


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"minutes_sha256": "AB" * 32}, "64 lowercase hex"),
        ({"minutes_sha256": "ab"}, "64 lowercase hex"),
        ({"entries": [7, 3]}, "in log order"),
        ({"entries": [3, 3]}, "distinct"),
        ({"entries": [-1]}, "leaf indices"),
        ({"entries": "3,7"}, "leaf indices"),
    ],
)
def test_an_approval_names_a_hash_and_leaf_indices(over: dict[str, Any], message: str) -> None:
    state = session()
    with pytest.raises(InvalidInput, match=message):
        approval(state, **over).check(state, WORLD.ctx("pcc"))


@pytest.mark.parametrize("by", ["ig", "chair", "pcc"])
def test_the_secretariat_the_chair_and_the_sessions_chair_record_actions_arising(by: str) -> None:
    state = session()
    state = WORLD.apply(state, arising(state, by), by)
    found = state.arisings["pcc-aa-2023-03.1"]
    assert found.open and found.owner == {"agency": "police"} and found.recommendation == 29


@pytest.mark.parametrize("by", ["scrutiny", "police.lead", "admin"])
def test_nobody_else_records_or_closes_one(by: str) -> None:
    state = session()
    with pytest.raises(NotPermitted, match="or its chair pcc"):
        arising(state, by).check(state, WORLD.ctx(by))
    state = WORLD.apply(state, arising(state), "ig")
    close = event(Session.ArisingClosed, state, by, arising_id=ARISING["arising_id"],
                  reason="shared", evidence=None)  # fmt: skip
    with pytest.raises(NotPermitted):
        close.check(state, WORLD.ctx(by))


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"recommendation": 31 + 1}, "did not cover recommendation 32"),
        ({"owner": {"agency": "fire"}}, "no agency 'fire'"),
        ({"owner": {"user": "nobody"}}, "no registered user"),
        ({"owner": {"agency": "police", "user": "pcc"}}, "owner must be"),
        ({"owner": "police"}, "owner must be"),
        ({"due_date": "end of April"}, "YYYY-MM-DD"),
        ({"done_means": " "}, "done_means"),
        ({"text": ""}, "text"),
        ({"arising_id": "other.1"}, "pcc-aa-2023-03.N"),
        ({"session_id": "other"}, "session pcc-aa-2023-03's entry"),
    ],
)
def test_an_action_arising_says_what_it_must(over: dict[str, Any], message: str) -> None:
    state = session()
    with pytest.raises(DomainError, match=message):
        arising(state, **over).check(state, WORLD.ctx("ig"))


def test_an_action_arising_is_recorded_once_and_not_after_the_minutes_are_approved() -> None:
    state = session()
    state = WORLD.apply(state, arising(state, owner={"user": "police.lead"}), "ig")
    with pytest.raises(InvalidTransition, match="exists"):
        arising(state).check(state, WORLD.ctx("ig"))
    state = WORLD.apply(state, approval(state), "pcc")
    with pytest.raises(InvalidTransition, match="next session"):
        arising(state, arising_id="pcc-aa-2023-03.2").check(state, WORLD.ctx("ig"))


def test_an_action_arising_is_closed_once_with_a_reason_even_after_approval() -> None:
    state = session()
    state = WORLD.apply(state, arising(state), "ig")
    state = WORLD.apply(state, approval(state), "pcc")

    def close(**over: Any) -> Any:
        payload = {"arising_id": ARISING["arising_id"], "reason": "figures shared"}
        return event(Session.ArisingClosed, state, "pcc", **(payload | {"evidence": None} | over))

    with pytest.raises(InvalidInput, match="reason"):
        close(reason="").check(state, WORLD.ctx("pcc"))
    with pytest.raises(InvalidInput, match="no action arising"):
        close(arising_id="pcc-aa-2023-03.9").check(state, WORLD.ctx("pcc"))
    state = WORLD.apply(state, close(evidence="OPCC letter of 2023-04-20"), "pcc")
    found = state.arisings[ARISING["arising_id"]]
    assert not found.open and found.closed_by == "pcc" and str(found.evidence).startswith("OPCC")
    with pytest.raises(InvalidTransition, match="is closed"):
        close().check(state, WORLD.ctx("pcc"))


def test_an_event_for_a_session_that_does_not_exist_is_refused() -> None:
    state = session()
    with pytest.raises(InvalidTransition, match="names no existing session"):
        arising(state).check(None, WORLD.ctx("ig"))


def test_a_session_chair_since_moved_to_an_agency_role_does_not_approve() -> None:
    """The session's chair is checked by user id and by the role they hold when signing:
    once an agency's lead, they no longer approve (nor does the auditor accept it)."""
    from domain.rules import RuleContext

    state = session()
    moved = Actor("pcc", Role.AGENCY_LEAD, "police")
    context = RuleContext(moved, WORLD.ctx("pcc").directory, WORLD.ctx("pcc").plan)
    with pytest.raises(NotPermitted, match="approve a session's minutes"):
        approval(state).check(state, context)
