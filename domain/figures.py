"""The headline figures, each defined once: what "agencies report N complete", "the
implementation group has accepted N" and "the chair has verified N" count.

Why here: these sentences open every report, page and export, and a scrutiny committee
quotes them. Each counts what *stands*, never what was once said: an agency's claim that
an action is complete stands while its agency-level sign-off does (a return clears every
sign-off, and a reopened action must be signed off again); the implementation group's
acceptance stands while its sign-off does, whatever the chair then found; the chair's
outcomes are the action's status. Merged and withdrawn actions are out of the plan and
counted nowhere; so are the actions of a withdrawn or merged recommendation (none of them
is open: domain/plan_changes.py refuses the change until each is closed), and such a
recommendation is never outstanding (`RecommendationFigures`). tests/domain/test_figures.py
holds each count to hand-computed cases.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from domain.lifecycle import CHAIR_OUTCOMES, REMOVED_FROM_PLAN, SignOffLevel, Status

#: A recommendation's status once it has left the plan (projections/status.py shows it).
WITHDRAWN = "withdrawn"
MERGED = "merged"
OUT_OF_PLAN = frozenset({WITHDRAWN, MERGED})
#: A recommendation's delivery statuses that leave nothing outstanding (domain/progress.py).
DONE = frozenset({Status.VERIFIED.value} | {s.value for s in CHAIR_OUTCOMES})

#: Where an agency's standing sign-off leaves an action: it and every later stage.
CLAIMED = frozenset(
    {Status.AGENCY_SIGNED_OFF, Status.ACCEPTED, Status.VERIFIED} | set(CHAIR_OUTCOMES)
)
#: Where the implementation group's standing acceptance leaves an action.
ACCEPTED = frozenset({Status.ACCEPTED, Status.VERIFIED} | set(CHAIR_OUTCOMES))
#: Verdicts that stop applying once the agency signs off again after them.
ANSWERED_BY_A_NEW_CLAIM = frozenset({"returned"})


@dataclass(frozen=True)
class ActionFacts:
    """What the figures read of one action: its status, the levels whose sign-offs stand
    (a return clears them all), and whether it is overdue."""

    status: Status
    standing_sign_offs: Collection[str]
    overdue: bool = False
    #: False once its recommendation is withdrawn or merged: counted nowhere then.
    in_plan: bool = True


@dataclass(frozen=True)
class HeadlineFigures:
    actions: int
    agency_claims_complete: int
    accepted_or_beyond: int
    chair_verified: int
    chair_not_implementable: int
    chair_superseded: int
    overdue: int

    @classmethod
    def of(cls, actions: Iterable[ActionFacts]) -> HeadlineFigures:
        live = [a for a in actions if a.in_plan and a.status not in REMOVED_FROM_PLAN]
        return cls(
            actions=len(live),
            agency_claims_complete=sum(1 for a in live if claim_stands(a)),
            accepted_or_beyond=sum(1 for a in live if acceptance_stands(a)),
            chair_verified=sum(1 for a in live if a.status is Status.VERIFIED),
            chair_not_implementable=sum(1 for a in live if a.status is Status.NOT_IMPLEMENTABLE),
            chair_superseded=sum(1 for a in live if a.status is Status.SUPERSEDED),
            overdue=sum(1 for a in live if a.overdue),
        )

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


@dataclass(frozen=True)
class RecommendationFigures:
    """The recommendations in the plan, and those outstanding: in the plan, and not yet
    verified or closed by the chair's outcome. Withdrawn and merged ones are counted
    apart, never as outstanding."""

    recommendations: int
    outstanding: int
    withdrawn: int
    merged: int

    @classmethod
    def of(cls, statuses: Iterable[str]) -> RecommendationFigures:
        """From each recommendation's status (domain/progress.py, or WITHDRAWN, MERGED)."""
        found = list(statuses)
        in_plan = [s for s in found if s not in OUT_OF_PLAN]
        return cls(
            recommendations=len(in_plan),
            outstanding=sum(1 for s in in_plan if s not in DONE),
            withdrawn=found.count(WITHDRAWN),
            merged=found.count(MERGED),
        )

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


def claim_stands(action: ActionFacts) -> bool:
    """The agency's claim that the action is complete stands now."""
    return action.status in CLAIMED and SignOffLevel.AGENCY.value in action.standing_sign_offs


def acceptance_stands(action: ActionFacts) -> bool:
    """The implementation group's acceptance stands now."""
    return (
        action.status in ACCEPTED
        and SignOffLevel.IMPLEMENTATION_GROUP.value in action.standing_sign_offs
    )


def verdict_applies(verdict: str | None, action: ActionFacts) -> str | None:
    """The chair's verdict while it applies: a return stops applying once the agency has
    signed off again since (its standing sign-off post-dates the return, which cleared
    every sign-off), so an old return is never shown beside a new claim."""
    if verdict in ANSWERED_BY_A_NEW_CLAIM and claim_stands(action):
        return None
    return verdict
