"""The headline figures (domain/figures.py) against hand-computed cases, and through the
ledger: the report's and pages' "agencies report N complete", "the implementation group
has accepted N" and "verified N" count what stands now."""

from __future__ import annotations

from domain import Status
from domain.figures import ActionFacts, HeadlineFigures, verdict_applies
from projections.asof import status_as_of
from tests.support.world import World

S = Status


def facts(status: Status, *levels: str, overdue: bool = False) -> ActionFacts:
    return ActionFacts(status, frozenset(levels), overdue)


def test_hand_computed_cases() -> None:
    plan = [
        facts(S.AGENCY_SIGNED_OFF, "agency"),  # a claim that stands
        facts(S.IN_PROGRESS),  # claimed, then returned: the return cleared the sign-off
        facts(S.ACCEPTED, "agency", "implementation_group"),  # claimed and accepted
        facts(S.VERIFIED, "agency", "implementation_group", "chair"),  # all three
        facts(S.NOT_IMPLEMENTABLE),  # the chair's outcome, never accepted by the group
        facts(S.SUPERSEDED, "agency", "implementation_group"),  # accepted, then superseded
        facts(S.IN_PROGRESS, "agency", "implementation_group"),  # reopened by the chair
        facts(S.MERGED, "agency"),  # out of the plan
        facts(S.WITHDRAWN),  # out of the plan
        facts(S.BLOCKED, overdue=True),
    ]
    found = HeadlineFigures.of(plan)
    assert found.as_dict() == {
        "actions": 8,
        "agency_claims_complete": 4,  # rows 1, 3, 4, 6
        "accepted_or_beyond": 3,  # rows 3, 4, 6
        "chair_verified": 1,
        "chair_not_implementable": 1,
        "chair_superseded": 1,
        "overdue": 1,
    }


def test_a_return_stops_applying_once_the_agency_claims_again() -> None:
    assert verdict_applies("returned", facts(S.IN_PROGRESS)) == "returned"
    assert verdict_applies("returned", facts(S.AGENCY_SIGNED_OFF, "agency")) is None
    assert verdict_applies("verified", facts(S.VERIFIED, "agency", "chair")) == "verified"
    assert verdict_applies(None, facts(S.NOT_STARTED)) is None


def test_through_the_ledger_returns_and_chair_outcomes(world: World) -> None:
    """R1.1: claimed, accepted by nobody, returned by the group, then claimed again;
    R1.2: the chair's outcome with no acceptance; R1.3: merged into R1.1."""
    world.add_action("R1.2")
    world.add_action("R1.3")
    officer, lead, sig = (world.client(u) for u in ("council.officer", "council.lead", "sig"))
    officer.change_status("R1.1", S.IN_PROGRESS, "")
    world.evidence("R1.1", b"minutes")
    officer.change_status("R1.1", S.EVIDENCE_SUBMITTED, "")
    lead.sign_off("R1.1", "done")
    before_return = status_as_of(world.ledger).claims_and_verdicts()
    sig.return_action("R1.1", ["the minutes are unsigned"])
    after_return = status_as_of(world.ledger).claims_and_verdicts()
    world.client("chair").change_status("R1.2", S.NOT_IMPLEMENTABLE, "no local power")
    sig.merge("R1.3", "R1.1", "the same work")
    final = status_as_of(world.ledger).claims_and_verdicts()
    assert before_return["agency_claims_complete"] == 1
    assert after_return["agency_claims_complete"] == 0  # the old count said 1
    assert final["accepted_or_beyond"] == 0  # the old count said 1 (the chair's outcome)
    assert final["chair_not_implementable"] == 1
    assert final["actions"] == 2  # R1.3 merged away


def test_an_old_return_is_not_shown_beside_a_new_claim(world: World) -> None:
    officer, lead, chair = (world.client(u) for u in ("council.officer", "council.lead", "chair"))
    officer.change_status("R1.1", S.IN_PROGRESS, "")
    world.evidence("R1.1", b"minutes")
    officer.change_status("R1.1", S.EVIDENCE_SUBMITTED, "")
    lead.sign_off("R1.1", "done")
    chair.return_action("R1.1", ["the minutes are unsigned"])
    row = next(a for a in status_as_of(world.ledger).actions if a.action_id == "R1.1")
    assert row.verdict == "returned"  # it applies: the agency has not answered it
    officer.change_status("R1.1", S.EVIDENCE_SUBMITTED, "signed minutes attached")
    lead.sign_off("R1.1", "done again")
    row = next(a for a in status_as_of(world.ledger).actions if a.action_id == "R1.1")
    assert row.verdict is None and row.agency_claim == "complete"
