"""Transferring an action's lead agency (`action.lead_agency_transferred`; the real case:
responsibility for fire moved from the Home Office to MHCLG in April 2025).

Written from the specification: only the implementation group transfers, to another
agency of the plan, with a reason, never a closed action; the action keeps each agency
that led it with from/until times; officers (named and assigned) are cleared; the old
agency's entries, evidence and sign-offs stay, its standing agency-level sign-off is set
aside (the status moves back a step, nothing is deleted); and from the transfer on the
new agency's officers and lead sign for the action and the old agency's may not.

The world is the domain's own events in memory (tests/support/domain_world.py).
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest

from domain import (
    Action,
    Actor,
    Directory,
    DomainError,
    InvalidInput,
    InvalidTransition,
    NotPermitted,
    Plan,
    Role,
    RuleContext,
    SignOffLevel,
    Status,
)
from domain.charter import DEFAULT_APPOINTERS
from tests.support.domain_world import Cast, DomainWorld

USERS: dict[str, Actor] = {
    "admin": Actor("admin", Role.ADMIN, None),
    "chair": Actor("chair", Role.CHAIR, None),
    "ig": Actor("ig", Role.IMPLEMENTATION_GROUP, None),
    "council.lead": Actor("council.lead", Role.AGENCY_LEAD, "council"),
    "council.officer": Actor("council.officer", Role.OFFICER, "council"),
    "police.lead": Actor("police.lead", Role.AGENCY_LEAD, "police"),
    "police.officer": Actor("police.officer", Role.OFFICER, "police"),
    "scrutiny": Actor("scrutiny", Role.SCRUTINY, None),
}
CAST = Cast(USERS)
event = CAST.signed
#: Who may transfer an action: the plan's editors only.
MAY = {"ig"}
REASON = "Machinery of government change: fire moved to the police (April 2025)"


class World(DomainWorld):
    users = USERS


def _world() -> World:
    directory = CAST.genesis()
    charter = event(
        Directory.CharterAdopted,
        directory,
        "chair",
        chair_id="chair",
        name="Chair",
        public_key=CAST.keys["chair"],
        title="Test inquiry",
        appointers=dict(DEFAULT_APPOINTERS),
        off_page_roles=[],
    )
    charter.check(directory, RuleContext(USERS["chair"], directory, None))
    world = World(charter.mutate(directory), None)
    _register(world, "ig", "chair")
    created = CAST.plan_imported("ig", recommendations_expected=1)
    plan: Plan = created.mutate(None)
    added = event(
        Plan.RecommendationAdded,
        plan,
        "ig",
        number=1,
        title="First",
        text="",
        lead_agencies=["council", "police"],
    )
    world.plan = added.mutate(plan)
    for user_id in ("council.lead", "police.lead", "scrutiny"):
        _register(world, user_id, "chair")
    for user_id in ("council.officer", "police.officer"):
        _register(world, user_id, f"{USERS[user_id].agency}.lead")
    return world


def _register(world: World, user_id: str, by: str) -> None:
    user = USERS[user_id]
    ev = event(
        Directory.UserRegistered,
        world.directory,
        by,
        user_id=user_id,
        name=user_id.title(),
        role=user.role.value,
        agency=user.agency,
        public_key=CAST.keys[user_id],
    )
    world.append(ev, by)


WORLD = _world()
E1 = hashlib.sha256(b"minutes").hexdigest()


def transfer(a: Action, by: str = "ig", **over: Any) -> Any:
    return event(
        Action.LeadAgencyTransferred, a, by, **({"to_agency": "police", "reason": REASON} | over)
    )


def moved(a: Action) -> Action:
    """`a` transferred to the police, as a copy (applying an event changes its aggregate)."""
    a = copy.deepcopy(a)
    result: Action = WORLD.apply(a, transfer(a), "ig")
    return result


def new_action() -> Action:
    added = CAST.action_added("ig")
    added.check(None, WORLD.ctx("ig"))
    result: Action = added.mutate(None)
    return result


def change(a: Action, to: str, by: str, reason: str = "") -> Action:
    ev = event(Action.StatusChanged, a, by, from_status=a.status.value, to_status=to, reason=reason)
    result: Action = WORLD.apply(a, ev, by)
    return result


def attach(a: Action, by: str = "council.officer", digest: str = E1) -> Action:
    payload = {
        "sha256": digest,
        "size": 10,
        "media_type": "application/pdf",
        "original_name": "minutes.pdf",
        "description": "Board minutes",
        "storage_key": f"sha256/{digest}",
        "effective_date": "2024-01-01",
    }
    result: Action = WORLD.apply(a, event(Action.EvidenceAttached, a, by, **payload), by)
    return result


def sign(a: Action, by: str) -> Action:
    ev = event(
        Action.SignedOff, a, by, level=_level(by), evidence=a.current_evidence(), statement="s"
    )
    result: Action = WORLD.apply(a, ev, by)
    return result


def _level(by: str) -> str:
    role = USERS[by].role
    if role is Role.AGENCY_LEAD:
        return SignOffLevel.AGENCY.value
    return SignOffLevel.IMPLEMENTATION_GROUP.value if role is Role.IMPLEMENTATION_GROUP else "chair"


def in_progress() -> Action:
    return change(new_action(), "in_progress", "council.officer")


def submitted() -> Action:
    return change(attach(in_progress()), "evidence_submitted", "council.officer")


def assign(a: Action, officer: str, by: str) -> Action:
    result: Action = WORLD.apply(a, event(Action.OfficerAssigned, a, by, officer=officer), by)
    return result


# -- who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize("user", sorted(USERS))
def test_only_the_implementation_group_transfers_an_action(user: str) -> None:
    a = in_progress()
    ev = transfer(a, user)
    if user in MAY:
        ev.check(a, WORLD.ctx(user))
        return
    with pytest.raises(NotPermitted) as refused:
        ev.check(a, WORLD.ctx(user))
    assert refused.value.rule == "action.transfer_lead"
    assert "transfer an action to another agency" in str(refused.value)


# -- what it records --------------------------------------------------------------------------


def test_a_transfer_keeps_who_led_it_when() -> None:
    a = in_progress()
    added_at = a.created_on
    ev = transfer(a)
    after = WORLD.apply(copy.deepcopy(a), ev, "ig")
    assert after.lead_agency == "police" and a.lead_agency == "council"
    first, now = after.lead_history
    assert (first.agency, first.since, first.until) == ("council", added_at, ev.timestamp)
    assert (now.agency, now.since, now.until, now.reason) == ("police", ev.timestamp, None, REASON)
    assert first.since < ev.timestamp
    back = event(
        Action.LeadAgencyTransferred, after, "ig", to_agency="council", reason="moved back"
    )
    again = WORLD.apply(after, back, "ig")
    assert [lead.agency for lead in again.lead_history] == ["council", "police", "council"]
    assert again.lead_history[1].until == back.timestamp and again.lead_history[2].until is None


def test_a_new_action_has_led_since_it_was_added() -> None:
    added = CAST.action_added("ig")
    a: Action = added.mutate(None)
    [lead] = a.lead_history
    assert (lead.agency, lead.since, lead.until, lead.reason) == (
        "council",
        added.timestamp,
        None,
        "",
    )


def test_an_amended_lead_agency_is_recorded_as_a_change_of_lead_too() -> None:
    a = in_progress()
    ev = event(Action.Amended, a, "ig", changes={"lead_agency": "police"}, reason="corrected")
    after = WORLD.apply(a, ev, "ig")
    assert [(lead.agency, lead.reason) for lead in after.lead_history] == [
        ("council", ""),
        ("police", "corrected"),
    ]
    title = event(Action.Amended, after, "ig", changes={"title": "Clearer"}, reason="clearer")
    assert len(WORLD.apply(after, title, "ig").lead_history) == 2  # no change of lead


def test_the_old_agencys_officers_are_cleared_and_the_new_lead_assigns_its_own() -> None:
    a = assign(in_progress(), "council.officer", "council.lead")
    assert a.assigned_officers == ["council.officer"] and a.lead_officers == ["Jo Bloggs"]
    after = moved(a)
    assert after.assigned_officers == [] and after.lead_officers == []
    with pytest.raises(NotPermitted):
        event(Action.OfficerAssigned, after, "council.lead", officer="council.officer").check(
            after, WORLD.ctx("council.lead")
        )
    with pytest.raises(InvalidInput, match="not an officer of police"):
        event(Action.OfficerAssigned, after, "police.lead", officer="council.officer").check(
            after, WORLD.ctx("police.lead")
        )
    assert assign(after, "police.officer", "police.lead").assigned_officers == ["police.officer"]


def test_the_old_agencys_evidence_stays_attached_and_attributed() -> None:
    a = attach(in_progress())
    after = moved(a)
    assert after.current_evidence() == [E1]
    assert after.evidence[E1].attached_by == "council.officer"


def test_a_standing_agency_sign_off_is_set_aside_and_the_new_lead_signs_again() -> None:
    signed = sign(submitted(), "council.lead")
    assert signed.status is Status.AGENCY_SIGNED_OFF
    after = moved(signed)
    assert after.status is Status.EVIDENCE_SUBMITTED  # moved back a step, by the transfer
    assert SignOffLevel.AGENCY not in after.sign_offs
    assert after.agency_claim is not None and after.agency_claim.by == "council.lead"  # kept
    with pytest.raises(NotPermitted):
        sign(after, "council.lead")
    again = sign(after, "police.lead")
    assert again.status is Status.AGENCY_SIGNED_OFF
    assert again.sign_offs[SignOffLevel.AGENCY].by == "police.lead"


def test_the_groups_acceptance_stands_through_a_transfer() -> None:
    accepted = sign(sign(submitted(), "council.lead"), "ig")
    assert accepted.status is Status.ACCEPTED
    after = moved(accepted)
    assert after.status is Status.ACCEPTED and after is not accepted
    assert set(after.sign_offs) == set(accepted.sign_offs) == {"agency", "implementation_group"}


def test_other_statuses_stay_as_they_are() -> None:
    blocked = change(in_progress(), "blocked", "council.officer", "no budget")
    after = moved(blocked)
    assert after.status is Status.BLOCKED and after.blocked_reason == "no budget"
    assert moved(submitted()).status is Status.EVIDENCE_SUBMITTED


# -- refusals ---------------------------------------------------------------------------------


def test_an_agency_outside_the_plan_is_refused_naming_the_plans_agencies() -> None:
    a = in_progress()
    with pytest.raises(InvalidInput) as refused:
        transfer(a, to_agency="mhclg").check(a, WORLD.ctx("ig"))
    assert refused.value.rule == "action.transfer_lead"
    assert "no agency 'mhclg' in the plan (its agencies: council, police)" in str(refused.value)


@pytest.mark.parametrize("bad", ["", "Police", 3, None])
def test_a_malformed_agency_id_is_refused(bad: Any) -> None:
    a = in_progress()
    with pytest.raises(InvalidInput, match="to_agency"):
        transfer(a, to_agency=bad).check(a, WORLD.ctx("ig"))


def test_a_transfer_to_the_agency_leading_it_is_refused() -> None:
    a = in_progress()
    with pytest.raises(InvalidTransition, match=r"R1\.1 is already led by council"):
        transfer(a, to_agency="council").check(a, WORLD.ctx("ig"))


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_transfer_needs_a_reason(reason: Any) -> None:
    a = in_progress()
    with pytest.raises(InvalidInput, match="reason"):
        transfer(a, reason=reason).check(a, WORLD.ctx("ig"))


def _closed(how: str) -> Action:
    a = in_progress()
    if how == "verified":
        return sign(
            sign(
                sign(change(attach(a), "evidence_submitted", "council.officer"), "council.lead"),
                "ig",
            ),
            "chair",
        )
    if how == "not_implementable":
        return change(a, "not_implementable", "chair", "outside local powers")
    if how == "withdrawn":
        return WORLD.apply(a, event(Action.Withdrawn, a, "ig", reason="not needed"), "ig")  # type: ignore[no-any-return]
    return WORLD.apply(a, event(Action.Merged, a, "ig", into="R1.2", reason="duplicate"), "ig")  # type: ignore[no-any-return]


@pytest.mark.parametrize("how", ["verified", "not_implementable", "withdrawn", "merged"])
def test_a_closed_action_keeps_the_lead_it_closed_under(how: str) -> None:
    a = _closed(how)
    assert a.status.value == how
    with pytest.raises(InvalidTransition) as refused:
        transfer(a).check(a, WORLD.ctx("ig"))
    assert refused.value.rule == "action.transfer_lead"
    assert f"action R1.1 is {how}: a closed action keeps the lead it closed under (council)" in str(
        refused.value
    )


# -- authority follows the lead ---------------------------------------------------------------


def _may(ev: Any, state: Action, user: str) -> bool:
    try:
        ev.check(state, WORLD.ctx(user))
    except NotPermitted:
        return False
    return True


def _actions_of(state: Action, user: str) -> list[Any]:
    """Entries an agency's officer or lead signs on an action in progress with evidence."""
    evs = [
        event(
            Action.StatusChanged,
            state,
            user,
            from_status="in_progress",
            to_status="evidence_submitted",
            reason="",
        ),
        event(Action.EvidenceWithdrawn, state, user, sha256=E1, reason="wrong file"),
        event(Action.CommentAdded, state, user, kind="comment", text="note"),
    ]
    if USERS[user].role is Role.AGENCY_LEAD:
        evs.append(
            event(Action.RagRated, state, user, scope="agency", rating="green", reason="on track")
        )
        evs.append(
            event(Action.EvidencePublished, state, user, sha256=E1, statement="no personal data")
        )
    return evs


@pytest.mark.parametrize("role", ["officer", "lead"])
def test_before_a_transfer_only_the_old_agency_signs_and_after_only_the_new(role: str) -> None:
    before = attach(in_progress())
    after = moved(before)
    old, new = f"council.{role}", f"police.{role}"
    for ev in _actions_of(before, old):
        assert _may(ev, before, old), ev.TYPE
    for ev in _actions_of(before, new):
        assert not _may(ev, before, new), ev.TYPE
    for ev in _actions_of(after, new):
        assert _may(ev, after, new), ev.TYPE
    for ev in _actions_of(after, old):
        with pytest.raises(NotPermitted, match="for an action led by police"):
            ev.check(after, WORLD.ctx(old))


def test_after_a_transfer_the_new_agencys_officer_works_the_action_through() -> None:
    after = moved(in_progress())
    with_evidence = attach(after, "police.officer")
    assert with_evidence.evidence[E1].attached_by == "police.officer"
    done = change(with_evidence, "evidence_submitted", "police.officer")
    assert sign(done, "police.lead").status is Status.AGENCY_SIGNED_OFF
    with pytest.raises(DomainError):
        attach(after, "council.officer")
