"""A small world of the domain's own events in memory (tests/support/domain_world.py):
one user per role of two agencies and a plan with recommendation 1 led by both. Shared
by the domain tests of the response axis and of the ledger's words."""

from __future__ import annotations

from domain import PLAN_ID, Actor, Plan, Role
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


class World(DomainWorld):
    users = USERS


def world() -> World:
    """A fresh world (events mutate their aggregate): the plan with recommendation 1."""
    made = World(CAST.genesis(), None)
    plan: Plan = CAST.plan_imported("ig", recommendations_expected=2).mutate(None)
    added = event(
        Plan.RecommendationAdded,
        plan,
        "ig",
        number=1,
        title="First",
        text="",
        lead_agencies=["council", "police"],
    )
    made.plan = added.mutate(plan)
    assert made.plan is not None and made.plan.id == PLAN_ID
    return made


def plan_of(w: World) -> Plan:
    assert w.plan is not None
    return w.plan
