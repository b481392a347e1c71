"""Publishing evidence (issue 16): only the action's agency lead, only a file attached to
the action now (not withdrawn, not erased, not already published), with a statement;
unpublishing by the same role, with a reason; withdrawal and erasure end a publication,
so erased evidence is never public.

The world is the domain's own events in memory (tests/support/domain_world.py), as in
tests/domain/test_domain_rules.py; the table of who may is written here from the
specification, not from the module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from domain import (
    PLAN_ID,
    Action,
    Actor,
    DomainError,
    InvalidInput,
    InvalidTransition,
    NotPermitted,
    Plan,
    Role,
    RuleContext,
)
from tests.support.domain_world import Cast, DomainWorld

USERS: dict[str, Actor] = {
    "admin": Actor("admin", Role.ADMIN, None),
    "council.officer": Actor("council.officer", Role.OFFICER, "council"),
    "council.lead": Actor("council.lead", Role.AGENCY_LEAD, "council"),
    "police.officer": Actor("police.officer", Role.OFFICER, "police"),
    "police.lead": Actor("police.lead", Role.AGENCY_LEAD, "police"),
    "ig": Actor("ig", Role.IMPLEMENTATION_GROUP, None),
    "chair": Actor("chair", Role.CHAIR, None),
    "scrutiny": Actor("scrutiny", Role.SCRUTINY, None),
}
CAST = Cast(USERS)
event = CAST.signed
#: Who may publish and unpublish R1.1's evidence (R1.1 is led by council): its lead only.
MAY = {"council.lead"}
STATEMENT = "I have read this file: it holds no personal data and may be published."


class World(DomainWorld):
    users = USERS


def _world() -> World:
    world = World(CAST.genesis(), None)
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
    assert world.plan is not None and world.plan.id == PLAN_ID
    return world


WORLD = _world()


def sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


E1, E2 = sha("minutes"), sha("terms of reference")


def attach(a: Action, digest: str = E1) -> Action:
    payload = {
        "sha256": digest,
        "size": 10,
        "media_type": "application/pdf",
        "original_name": "minutes.pdf",
        "description": "Board minutes",
        "storage_key": f"sha256/{digest}",
        "effective_date": "2024-01-01",
    }
    return WORLD.apply(
        a, event(Action.EvidenceAttached, a, "council.officer", **payload), "council.officer"
    )


def change(a: Action, to: str, by: str, reason: str = "") -> Action:
    ev = event(Action.StatusChanged, a, by, from_status=a.status.value, to_status=to, reason=reason)
    return WORLD.apply(a, ev, by)


def sign(a: Action, level: str, by: str) -> Action:
    ev = event(Action.SignedOff, a, by, level=level, evidence=a.current_evidence(), statement="s")
    return WORLD.apply(a, ev, by)


def publish(a: Action, by: str = "council.lead", digest: str = E1, **over: Any) -> Any:
    return event(
        Action.EvidencePublished, a, by, **({"sha256": digest, "statement": STATEMENT} | over)
    )


def unpublish(a: Action, by: str = "council.lead", digest: str = E1, **over: Any) -> Any:
    return event(
        Action.EvidenceUnpublished, a, by, **({"sha256": digest, "reason": "in error"} | over)
    )


def withdraw(a: Action, digest: str = E1) -> Action:
    ev = event(Action.EvidenceWithdrawn, a, "council.officer", sha256=digest, reason="wrong file")
    return WORLD.apply(a, ev, "council.officer")


def erase(a: Action, digest: str = E1) -> Action:
    return WORLD.apply(
        a, event(Action.EvidenceErased, a, "admin", sha256=digest, reason="law"), "admin"
    )


def new_action() -> Action:
    added = CAST.action_added("ig")
    added.check(None, WORLD.ctx("ig"))
    return attach(added.mutate(None))


def in_progress() -> Action:
    return change(new_action(), "in_progress", "council.officer")


def verified() -> Action:
    a = change(in_progress(), "evidence_submitted", "council.officer")
    for level, by in (
        ("agency", "council.lead"),
        ("implementation_group", "ig"),
        ("chair", "chair"),
    ):
        a = sign(a, level, by)
    return a


#: Actions in statuses a publication may follow: any, closed ones included.
STATES: dict[str, Callable[[], Action]] = {
    "not_started": new_action,
    "in_progress": in_progress,
    "evidence_submitted": lambda: change(in_progress(), "evidence_submitted", "council.officer"),
    "verified": verified,
    "not_implementable": lambda: change(in_progress(), "not_implementable", "chair", "abolished"),
    "withdrawn": lambda: WORLD.apply(
        a := in_progress(), event(Action.Withdrawn, a, "ig", reason="no longer needed"), "ig"
    ),
}


def published(a: Action | None = None) -> Action:
    a = a if a is not None else in_progress()
    return WORLD.apply(a, publish(a), "council.lead")


@pytest.mark.parametrize("actor", USERS)
@pytest.mark.parametrize("status", STATES)
def test_only_the_lead_agencys_lead_publishes_in_any_status(status: str, actor: str) -> None:
    action = STATES[status]()
    assert action.status.value == status
    ev = publish(action, actor)
    if actor in MAY:
        ev.check(action, WORLD.ctx(actor))
        after = ev.mutate(action)
        item = after.evidence[E1]
        assert (item.published_at, item.published_by) == (ev.timestamp, actor)
        assert item.published_statement == STATEMENT and after.published_evidence() == [E1]
        assert after.status.value == status  # publishing changes nothing else
        return
    with pytest.raises(NotPermitted) as refused:
        ev.check(action, WORLD.ctx(actor))
    assert refused.value.rule == "action.publish_evidence" and actor in str(refused.value)


@pytest.mark.parametrize("actor", USERS)
def test_only_the_lead_agencys_lead_unpublishes(actor: str) -> None:
    action = published()
    ev = unpublish(action, actor)
    if actor in MAY:
        after = WORLD.apply(action, ev, actor)
        item = after.evidence[E1]
        assert (item.published_at, item.published_by, item.published_statement) == (None,) * 3
        assert after.published_evidence() == [] and after.current_evidence() == [E1]
        return
    with pytest.raises(NotPermitted) as refused:
        ev.check(action, WORLD.ctx(actor))
    assert refused.value.rule == "action.unpublish_evidence"


def _refusal(action: Action, ev: Any) -> DomainError:
    with pytest.raises(DomainError) as refused:
        ev.check(action, WORLD.ctx("council.lead"))
    return refused.value


def test_only_evidence_attached_to_the_action_is_published() -> None:
    action = in_progress()
    error = _refusal(action, publish(action, digest=E2))  # never attached here
    assert isinstance(error, InvalidTransition) and "no such evidence" in str(error)
    error = _refusal(action, publish(action, digest="not a hash"))
    assert isinstance(error, InvalidInput) and "sha256" in str(error)


def test_withdrawn_evidence_is_not_published_until_attached_again() -> None:
    action = withdraw(in_progress())
    error = _refusal(action, publish(action))
    assert isinstance(error, InvalidTransition) and "withdrawn" in str(error)
    again = attach(action)  # attached again: a fresh item, which may be published
    assert again.evidence[E1].published_at is None
    assert published(again).published_evidence() == [E1]


def test_erased_evidence_is_never_published() -> None:
    for action in (erase(in_progress()), erase(withdraw(in_progress()))):
        error = _refusal(action, publish(action))
        assert isinstance(error, InvalidTransition) and "erased" in str(error)


def test_publishing_twice_is_refused_but_after_an_unpublication_it_may_be_again() -> None:
    action = published()
    error = _refusal(action, publish(action))
    assert isinstance(error, InvalidTransition) and "already published" in str(error)
    stopped = WORLD.apply(action, unpublish(action), "council.lead")
    error = _refusal(stopped, unpublish(stopped))
    assert isinstance(error, InvalidTransition) and "no such evidence is published" in str(error)
    again = WORLD.apply(stopped, publish(stopped, statement="Checked again."), "council.lead")
    assert again.evidence[E1].published_statement == "Checked again."


def test_only_published_evidence_is_unpublished() -> None:
    action = in_progress()
    for digest in (E1, E2, "not a hash"):
        error = _refusal(action, unpublish(action, digest=digest))
        assert isinstance(error, InvalidTransition) and error.rule == "action.unpublish_evidence"


@pytest.mark.parametrize("blank", ["", "   ", None, 3])
def test_a_statement_and_a_reason_are_required(blank: Any) -> None:
    action = in_progress()
    error = _refusal(action, publish(action, statement=blank))
    assert isinstance(error, InvalidInput) and "statement" in str(error)
    action = published()
    error = _refusal(action, unpublish(action, reason=blank))
    assert isinstance(error, InvalidInput) and "reason" in str(error)


def test_withdrawal_and_erasure_end_a_publication() -> None:
    withdrawn = withdraw(published())
    assert withdrawn.evidence[E1].published_at is None and withdrawn.published_evidence() == []
    assert withdrawn.evidence[E1].published_statement is None
    erased = erase(published())
    item = erased.evidence[E1]
    assert (item.published_at, item.published_by, item.published_statement) == (None,) * 3
    assert erased.published_evidence() == []
    error = _refusal(erased, unpublish(erased))  # nothing left to unpublish
    assert isinstance(error, InvalidTransition)


def test_a_publication_is_per_file() -> None:
    action = attach(in_progress(), E2)
    action = published(action)
    assert action.published_evidence() == [E1]
    assert action.evidence[E2].published_at is None
    action = withdraw(action, E2)  # another file's withdrawal leaves it published
    assert action.published_evidence() == [E1]


def test_the_lead_of_the_agency_leading_it_now_decides() -> None:
    action = published()
    ev = event(Action.Amended, action, "ig", changes={"lead_agency": "police"}, reason="moved")
    moved = WORLD.apply(action, ev, "ig")
    assert moved.lead_agency == "police" and moved.published_evidence() == [E1]
    with pytest.raises(NotPermitted):
        unpublish(moved).check(moved, WORLD.ctx("council.lead"))
    stopped = WORLD.apply(moved, unpublish(moved, "police.lead"), "police.lead")
    assert stopped.published_evidence() == []


def test_the_rules_read_the_signers_role_not_a_claim() -> None:
    action = in_progress()
    as_if_lead = RuleContext(Actor("council.officer", Role.OFFICER, "council"), None, WORLD.plan)
    with pytest.raises(NotPermitted):
        publish(action, "council.officer").check(action, as_if_lead)
