"""A living plan (issue 14): agencies added and renamed, recommendations amended,
withdrawn, merged and renumbered, each with its reason, each refusal with a message the
user can act on; and what status shows before and after each change.

Through a real ledger (tests/support/world.py: recommendations 1 and 2, agencies council
and police, action R1.1 of recommendation 1 led by council), so every rule is the one
the ledger applies on append, with the open actions it finds in the event store.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain import PLAN_ID, InvalidInput, InvalidTransition, NotPermitted, Plan, Status
from domain.errors import DomainError
from domain.figures import ActionFacts, HeadlineFigures, RecommendationFigures
from projections.asof import replay_status, status_as_of
from tests.support.world import World


def change(world: World, type_name: str, by: str = "sig", **payload: Any) -> None:
    world.client(by).submit(type_name, PLAN_ID, payload)


def refused(world: World, kind: type[DomainError], type_name: str, **payload: Any) -> str:
    with pytest.raises(kind) as caught:
        change(world, type_name, **payload)
    return caught.value.message


# -- agencies ---------------------------------------------------------------------------


def test_an_agency_added_after_the_import_leads_and_shows(world: World) -> None:
    change(world, Plan.AgencyAdded.TYPE, id="ofsted", name="Ofsted", reason="newly responsible")
    assert world.ledger.plan().agencies["ofsted"] == "Ofsted"  # type: ignore[union-attr]
    world.add_action("R2.1", lead="ofsted")
    status = status_as_of(world.ledger)
    assert status.agencies["ofsted"] == "Ofsted"
    assert status.by_agency["ofsted"] == {"not_started": 1}


def test_a_user_of_an_agency_not_yet_in_the_plan_is_told_how_to_add_it(world: World) -> None:
    from ledger.keys import KeyPair

    key = KeyPair.generate().public_key
    chair = world.client("chair")
    with pytest.raises(InvalidInput) as caught:
        chair.register_user("ofsted.lead", "Lead", "agency_lead", "ofsted", key)
    assert caught.value.message == (
        "unknown agency 'ofsted' (known: council, police); add it with `plan agency add`"
    )
    change(world, Plan.AgencyAdded.TYPE, id="ofsted", name="Ofsted", reason="newly responsible")
    chair.register_user("ofsted.lead", "Lead", "agency_lead", "ofsted", key)


def test_adding_an_agency_is_refused_when(world: World) -> None:
    add = Plan.AgencyAdded.TYPE
    message = refused(world, InvalidTransition, add, id="council", name="C2", reason="r")
    assert message == "agency 'council' is already in the plan (Council)"
    message = refused(world, InvalidInput, add, id="council2", name=" council ", reason="r")
    assert message == "' council ' is already the name of agency 'council'"
    message = refused(world, InvalidInput, add, id="Ofsted!", name="Ofsted", reason="r")
    assert message.startswith("agency id must be 1-64 characters")
    message = refused(world, InvalidInput, add, id="ofsted", name="Ofsted", reason=" ")
    assert message == "reason must be a non-empty string"
    with pytest.raises(NotPermitted):
        change(world, add, by="chair", id="ofsted", name="Ofsted", reason="r")


def test_a_renamed_agency_keeps_its_id_and_the_old_name_stays_as_of_before(world: World) -> None:
    before = world.ledger.tree_size()
    change(world, Plan.AgencyRenamed.TYPE, id="council", name="City Council", reason="renamed")
    assert status_as_of(world.ledger).agencies["council"] == "City Council"
    assert status_as_of(world.ledger, position=before).agencies["council"] == "Council"
    row = next(a for a in status_as_of(world.ledger).actions if a.action_id == "R1.1")
    assert row.lead_agency == "council"  # the id never changes
    world.client("council.officer").change_status("R1.1", Status.IN_PROGRESS)  # users too


def test_renaming_an_agency_is_refused_when(world: World) -> None:
    rename = Plan.AgencyRenamed.TYPE
    message = refused(world, InvalidInput, rename, id="ofsted", name="Ofsted", reason="r")
    assert message == (
        "no agency 'ofsted' in the plan (known: council, police); add it with `plan agency add`"
    )
    message = refused(world, InvalidTransition, rename, id="council", name="Council", reason="r")
    assert message == "agency 'council' is already named 'Council'"
    message = refused(world, InvalidInput, rename, id="council", name="POLICE", reason="r")
    assert message == "'POLICE' is already the name of agency 'police'"


# -- amending ---------------------------------------------------------------------------


def test_an_amended_recommendation_shows_its_new_title_and_leads(world: World) -> None:
    before = world.ledger.tree_size()
    changes = {"title": "First, clearer", "lead_agencies": ["council"]}
    change(world, Plan.RecommendationAmended.TYPE, number=1, changes=changes, reason="typo")
    now = status_as_of(world.ledger).recommendation(1)
    then = status_as_of(world.ledger, position=before).recommendation(1)
    assert now is not None and then is not None
    assert (now.title, now.lead_agencies) == ("First, clearer", ["council"])
    assert (then.title, then.lead_agencies) == ("First", ["council", "police"])
    assert world.ledger.plan().recommendations[1].text == ""  # type: ignore[union-attr]


def test_amending_is_refused_when(world: World) -> None:
    amend = Plan.RecommendationAmended.TYPE
    message = refused(world, InvalidInput, amend, number=1, changes={"number": 3}, reason="r")
    assert message.startswith("cannot amend number: only title, text and lead_agencies")
    message = refused(
        world, InvalidInput, amend, number=1, changes={"lead_agencies": ["ofsted"]}, reason="r"
    )
    assert message == (
        "unknown lead agencies: ofsted; add an agency to the plan with `plan agency add`"
    )
    message = refused(
        world, InvalidTransition, amend, number=1, changes={"title": "First"}, reason="r"
    )
    assert message == "the changes leave recommendation 1 as it is"
    message = refused(world, InvalidInput, amend, number=7, changes={"title": "X"}, reason="r")
    assert message == "no recommendation 7 in the plan"
    message = refused(world, InvalidInput, amend, number=1, changes={"title": "X"}, reason="")
    assert message == "reason must be a non-empty string"
    message = refused(world, InvalidInput, amend, number=1, changes={}, reason="r")
    assert message == "changes must name at least one of title, text, lead_agencies"


# -- withdrawing and merging --------------------------------------------------------------


def test_a_recommendation_with_open_actions_is_not_withdrawn_or_merged(world: World) -> None:
    world.add_action("R1.2")
    message = refused(world, InvalidTransition, Plan.RecommendationWithdrawn.TYPE, number=1,
                      reason="dropped")  # fmt: skip
    assert message == (
        "recommendation 1 has open actions (R1.1, R1.2): withdraw or merge them first "
        "(`act R1.1 withdraw --reason ...` or `act R1.1 merge INTO --reason ...`), so none "
        "is left open once it is withdrawn"
    )
    message = refused(
        world, InvalidTransition, Plan.RecommendationMerged.TYPE, number=1, into=2, reason="r"
    )
    assert "open actions (R1.1, R1.2)" in message and message.endswith("once it is merged")


def test_a_withdrawn_recommendation_is_shown_so_and_counts_as_nothing(world: World) -> None:
    sig = world.client("sig")
    world.add_action("R2.1", lead="police")
    sig.withdraw("R1.1", "the recommendation is dropped")
    before = world.ledger.tree_size()
    change(world, Plan.RecommendationWithdrawn.TYPE, number=1, reason="dropped by the inquiry")
    status = status_as_of(world.ledger)
    row = status.recommendation(1)
    assert row is not None and (row.status, row.closed_reason) == (
        "withdrawn",
        "dropped by the inquiry",
    )
    assert status.recommendation_figures() == {
        "recommendations": 1,
        "outstanding": 1,  # recommendation 2, not started
        "withdrawn": 1,
        "merged": 0,
    }
    then = status_as_of(world.ledger, position=before)
    assert then.recommendation(1).status == "no_actions"  # type: ignore[union-attr]
    assert then.recommendation_figures()["outstanding"] == 2
    assert replay_status(world.ledger).recommendations == status.recommendations
    message = refused(world, InvalidTransition, Plan.RecommendationWithdrawn.TYPE, number=1,
                      reason="again")  # fmt: skip
    assert message == "recommendation 1 is withdrawn"
    with pytest.raises(InvalidTransition) as caught:
        world.add_action("R1.3")
    assert caught.value.message == "recommendation 1 is withdrawn"


def test_a_merged_recommendation_names_where_its_work_went(world: World) -> None:
    chair = world.client("chair")
    chair.change_status("R1.1", Status.NOT_IMPLEMENTABLE, "no local power")  # closed: may stay
    message = refused(
        world, InvalidInput, Plan.RecommendationMerged.TYPE, number=1, into=1, reason="r"
    )
    assert message == "a recommendation cannot be merged into itself"
    message = refused(
        world, InvalidInput, Plan.RecommendationMerged.TYPE, number=1, into=9, reason="r"
    )
    assert message == "no recommendation 9 in the plan"
    assert status_as_of(world.ledger).claims_and_verdicts()["chair_not_implementable"] == 1
    change(world, Plan.RecommendationMerged.TYPE, number=1, into=2, reason="the same work")
    status = status_as_of(world.ledger)
    row = status.recommendation(1)
    assert row is not None and (row.status, row.merged_into) == ("merged", 2)
    summary = status.claims_and_verdicts()
    assert summary["actions"] == 0 and summary["chair_not_implementable"] == 0
    assert status.recommendation_figures() == {
        "recommendations": 1,
        "outstanding": 1,
        "withdrawn": 0,
        "merged": 1,
    }
    message = refused(
        world, InvalidTransition, Plan.RecommendationMerged.TYPE, number=2, into=1, reason="r"
    )
    assert message == "recommendation 1 is merged into recommendation 2"


# -- renumbering ------------------------------------------------------------------------


def test_a_renumbered_recommendation_keeps_its_actions_and_its_old_number(world: World) -> None:
    sig = world.client("sig")
    sig.respond(1, "accepted", "2023-01-01", "Council")
    before = world.ledger.tree_size()
    change(world, Plan.RecommendationRenumbered.TYPE, number=1, new_number=11, reason="report 2")
    status = status_as_of(world.ledger)
    assert [r.number for r in status.recommendations] == [2, 11]
    row = status.recommendation(1)  # the old number finds it
    assert row is not None and (row.number, row.former_numbers) == (11, [1])
    assert row.actions == 1 and row.response == "accepted"  # its actions and response follow
    action = next(a for a in status.actions if a.action_id == "R1.1")
    assert action.recommendation == 11  # the id stays R1.1
    assert status_as_of(world.ledger, position=before).recommendation(1).number == 1  # type: ignore[union-attr]
    assert replay_status(world.ledger).recommendations == status.recommendations
    world.add_action("R11.1")  # a new action uses the new number
    with pytest.raises(InvalidInput) as caught:
        world.add_action("R1.2")
    assert caught.value.message == "recommendation 1 is now recommendation 11"
    world.client("council.officer").change_status("R1.1", Status.IN_PROGRESS)  # still works
    add = {"title": "Again", "text": "", "lead_agencies": ["council"]}
    message = refused(world, InvalidTransition, Plan.RecommendationAdded.TYPE, number=1, **add)
    assert message.startswith("1 was recommendation 11's number and stays findable by it")
    renumber = Plan.RecommendationRenumbered.TYPE
    message = refused(world, InvalidTransition, renumber, number=11, new_number=2, reason="r")
    assert message == "recommendation 2 already exists; choose a free number"
    message = refused(world, InvalidInput, renumber, number=1, new_number=5, reason="r")
    assert message == "recommendation 1 is now recommendation 11"
    message = refused(world, InvalidInput, renumber, number=11, new_number=1000, reason="r")
    assert message == "new_number must be a whole number 1-999: 1000"
    change(world, renumber, number=11, new_number=21, reason="report 3")
    row = status_as_of(world.ledger).recommendation(1)
    assert row is not None and (row.number, row.former_numbers) == (21, [1, 11])


def test_as_of_a_moment_before_the_changes_shows_the_plan_as_it_was(world: World) -> None:
    moment = world.clock.now
    world.clock.advance(days=1)
    world.client("sig").withdraw("R1.1", "dropped")
    change(world, Plan.AgencyRenamed.TYPE, id="council", name="City Council", reason="renamed")
    change(world, Plan.RecommendationRenumbered.TYPE, number=2, new_number=12, reason="report 2")
    change(world, Plan.RecommendationWithdrawn.TYPE, number=1, reason="dropped by the inquiry")
    then = status_as_of(world.ledger, as_of=moment)
    assert then.agencies["council"] == "Council"
    assert [(r.number, r.status) for r in then.recommendations] == [
        (1, "not_started"),
        (2, "no_actions"),
    ]
    now = status_as_of(world.ledger)
    assert now.agencies["council"] == "City Council"
    assert [(r.number, r.status) for r in now.recommendations] == [
        (1, "withdrawn"),
        (12, "no_actions"),
    ]
    message = refused(
        world, InvalidInput, Plan.ResponseRecorded.TYPE, number=2, response="accepted",
        responded_on="2023-01-01", responder="Police", reasons="", source="",
    )  # fmt: skip
    assert message == "recommendation 2 is now recommendation 12"


def test_withdrawing_a_renumbered_recommendation_finds_its_old_numbered_actions(
    world: World,
) -> None:
    change(world, Plan.RecommendationRenumbered.TYPE, number=1, new_number=11, reason="report 2")
    message = refused(world, InvalidTransition, Plan.RecommendationWithdrawn.TYPE, number=11,
                      reason="dropped")  # fmt: skip
    assert message.startswith("recommendation 11 has open actions (R1.1)")


def test_verify_replays_the_plan_changes(world: World) -> None:
    """The rules replay (verify) sees the same open actions the ledger did."""
    from ledger.verify import verify_ledger

    world.client("sig").withdraw("R1.1", "dropped")
    change(world, Plan.RecommendationWithdrawn.TYPE, number=1, reason="dropped by the inquiry")
    change(world, Plan.AgencyRenamed.TYPE, id="police", name="Constabulary", reason="renamed")
    report = verify_ledger(world.ledger, world.vkey)
    assert report.ok, report.problems


# -- the figures, by hand -----------------------------------------------------------------


def test_recommendation_figures_by_hand() -> None:
    found = RecommendationFigures.of(
        [
            "not_started",  # outstanding
            "no_actions",  # outstanding: nothing is being done about it
            "accepted",  # outstanding: the chair has not verified it
            "verified",
            "not_implementable",
            "superseded",
            "withdrawn",  # out of the plan
            "merged",  # out of the plan
            "blocked",  # outstanding
        ]
    )
    assert found.as_dict() == {"recommendations": 7, "outstanding": 4, "withdrawn": 1, "merged": 1}


def test_actions_of_a_recommendation_out_of_the_plan_count_nowhere() -> None:
    plan = [
        ActionFacts(Status.VERIFIED, frozenset({"agency", "implementation_group", "chair"})),
        ActionFacts(Status.VERIFIED, frozenset({"agency", "implementation_group"}), in_plan=False),
        ActionFacts(Status.SUPERSEDED, frozenset(), in_plan=False),
        ActionFacts(Status.IN_PROGRESS, frozenset(), overdue=True),
    ]
    assert HeadlineFigures.of(plan).as_dict() == {
        "actions": 2,
        "agency_claims_complete": 1,
        "accepted_or_beyond": 1,
        "chair_verified": 1,
        "chair_not_implementable": 0,
        "chair_superseded": 0,
        "overdue": 1,
    }


def test_an_action_of_a_withdrawn_recommendation_is_not_reopened(world: World) -> None:
    """The chair's not_implementable outcome closes R1.1; the group withdraws its
    recommendation; neither the chair's reopening nor a revoked verification may set it
    working again towards nothing (review of issue 14)."""
    chair = world.client("chair")
    chair.change_status("R1.1", Status.NOT_IMPLEMENTABLE, "depends on national law")
    change(world, Plan.RecommendationWithdrawn.TYPE, number=1, reason="dropped")
    with pytest.raises(InvalidTransition) as caught:
        chair.change_status("R1.1", Status.IN_PROGRESS, "reopened")
    assert caught.value.message == "recommendation 1 is withdrawn: its actions are not reopened"


def test_a_number_is_never_another_recommendations_reference(world: World) -> None:
    """Recommendation 1 is written "7" by the inquiry; recommendation 2 may not become 7,
    nor a new recommendation be 7: a reader typing 7 would find either."""
    change(world, Plan.RecommendationReferenced.TYPE, number=1, reference="7", group="",
           reason="as written")  # fmt: skip
    message = refused(world, InvalidTransition, Plan.RecommendationRenumbered.TYPE, number=2,
                      new_number=7, reason="r")  # fmt: skip
    assert "7 is recommendation 1's reference ('7')" in message
    message = refused(world, InvalidTransition, Plan.RecommendationAdded.TYPE, number=7,
                      title="T", text="", lead_agencies=["council"])  # fmt: skip
    assert "recommendation 1's reference" in message
    change(world, Plan.RecommendationRenumbered.TYPE, number=1, new_number=7, reason="its own")
