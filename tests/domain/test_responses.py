"""The response axis (issue 14): a recommendation's formal response, recorded by the plan's
editors; an action's, where its agency responds for itself, by the lead agency's lead (or
the editors); each in the plan's vocabulary (the trackers' terms by default, the ledger's
own once the editors sign one), with a date not after it is recorded, a responder, and
reasons unless the term is the vocabulary's first; a later response supersedes the
earlier, and the state keeps both.

The world is the domain's own events in memory (tests/support/domain_world.py); the tables
of who may are written here from the specification, not from the modules.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain import (
    Action,
    DomainError,
    InvalidInput,
    InvalidTransition,
    NotPermitted,
    Plan,
)
from domain.response import DEFAULT_TERMS, ResponseTerm
from tests.support.plan_world import CAST, USERS, World, event, plan_of, world

#: Who may record a recommendation's response: the plan's editors.
MAY_FOR_RECOMMENDATION = {"ig"}
#: Who may record R1.1's (led by council): its lead agency's lead, or the plan's editors.
MAY_FOR_ACTION = {"council.lead", "ig"}
RESPONSE: dict[str, Any] = {
    "response": "accepted_in_principle",
    "responded_on": "2023-03-01",
    "responder": "Home Office",
    "reasons": "Subject to the spending review.",
    "source": "Government response to the inquiry, March 2023",
}
#: IICSA's words: a vocabulary of the ledger's own.
IICSA = [
    {"id": "adopted", "label": "Adopted"},
    {"id": "adopted_in_part", "label": "Adopted in part"},
    {"id": "not_adopted_as_proposed", "label": "Not adopted as proposed"},
]


def respond(w: World, by: str = "ig", number: Any = 1, **over: Any) -> Any:
    return event(Plan.ResponseRecorded, plan_of(w), by, number=number, **(RESPONSE | over))


def vocabulary(w: World, terms: Any, by: str = "ig") -> Any:
    return event(Plan.ResponseVocabularySet, plan_of(w), by, terms=terms)


def action_of(w: World) -> Action:
    added = CAST.action_added("ig")
    added.check(None, w.ctx("ig"))
    action: Action = added.mutate(None)
    return action


def respond_to(action: Action, by: str = "council.lead", **over: Any) -> Any:
    return event(Action.ResponseRecorded, action, by, **(RESPONSE | over))


# -- who ------------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", USERS)
def test_only_the_plan_editors_record_a_recommendations_response(actor: str) -> None:
    w = world()
    ev = respond(w, actor)
    if actor not in MAY_FOR_RECOMMENDATION:
        with pytest.raises(NotPermitted) as refused:
            ev.check(w.plan, w.ctx(actor))
        assert refused.value.rule == "plan.record_response"
        return
    plan = w.apply(w.plan, ev, actor)
    current = plan.current_response(1)
    assert current is not None and current.term == "accepted_in_principle"
    assert (current.responded_on, current.responder) == ("2023-03-01", "Home Office")
    assert (current.recorded_by, current.recorded_at) == (actor, ev.timestamp)
    assert current.source == RESPONSE["source"]


@pytest.mark.parametrize("actor", USERS)
def test_an_actions_response_is_its_lead_agencys_lead_or_the_editors(actor: str) -> None:
    w = world()
    action = action_of(w)
    ev = respond_to(action, actor)
    if actor not in MAY_FOR_ACTION:
        with pytest.raises(NotPermitted) as refused:
            ev.check(action, w.ctx(actor))
        assert refused.value.rule == "action.record_response"
        return
    after = w.apply(action, ev, actor)
    [response] = after.responses
    assert (response.term, response.responder, response.recorded_by) == (
        "accepted_in_principle",
        "Home Office",
        actor,
    )
    assert after.status.value == "not_started"  # the response axis changes no status


def test_no_response_to_an_action_out_of_the_plan() -> None:
    w = world()
    action = action_of(w)
    action = w.apply(action, event(Action.Withdrawn, action, "ig", reason="not needed"), "ig")
    with pytest.raises(InvalidTransition, match="withdrawn"):
        respond_to(action).check(action, w.ctx("council.lead"))


# -- what -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("over", "said"),
    [
        ({"response": "rejected"}, "not a term of the response vocabulary"),
        ({"response": "Accepted"}, "response must be"),
        ({"response": 3}, "response must be"),
        ({"responded_on": "1 March 2023"}, "responded_on must be a date"),
        ({"responded_on": "2023-3-1"}, "responded_on must be a date"),
        ({"responded_on": None}, "responded_on must be a date"),
        ({"responded_on": "2030-01-01"}, "after the day it is recorded"),
        ({"responder": "  "}, "responder must be a non-empty string"),
        ({"responder": "x" * 201}, "responder is longer than 200"),
        ({"reasons": ""}, "must give its reasons"),
        ({"reasons": "   "}, "must give its reasons"),
        ({"reasons": None}, "reasons must be a string"),
        ({"source": None}, "source must be a string"),
        ({"source": "x" * 2001}, "source is longer than 2000"),
    ],
)
def test_a_bad_response_is_refused(over: dict[str, Any], said: str) -> None:
    w = world()
    action = action_of(w)
    for ev, state, rule in (
        (respond(w, **over), w.plan, "plan.record_response"),
        (respond_to(action, **over), action, "action.record_response"),
    ):
        with pytest.raises(InvalidInput, match=said) as refused:
            ev.check(state, w.ctx("ig"))
        assert refused.value.rule == rule


@pytest.mark.parametrize("number", [2, 0, "1", True, None])
def test_a_response_names_a_recommendation_of_the_plan(number: Any) -> None:
    w = world()
    with pytest.raises(InvalidInput, match="no recommendation"):
        respond(w, number=number).check(w.plan, w.ctx("ig"))


def test_the_first_term_needs_no_reasons_nor_a_source_and_a_date_may_be_long_past() -> None:
    w = world()
    ev = respond(w, response="accepted", reasons="", source="", responded_on="1999-12-31")
    plan = w.apply(w.plan, ev, "ig")
    current = plan.current_response(1)
    assert current is not None and (current.term, current.reasons) == ("accepted", "")
    # A day's grace for time zones: signed on 2024-01-01 (UTC), dated the 2nd, is fine.
    ahead = respond(w, responded_on=ev.timestamp.date().replace(day=2).isoformat())
    w.apply(plan, ahead, "ig")


def test_a_later_response_supersedes_the_earlier_and_both_are_kept() -> None:
    w = world()
    first = respond(w, response="under_consideration", responded_on="2022-11-10")
    plan = w.apply(w.plan, first, "ig")
    second = respond(w, responded_on="2023-03-01")
    plan = w.apply(plan, second, "ig")
    assert [r.term for r in plan.responses[1]] == ["under_consideration", "accepted_in_principle"]
    current = plan.current_response(1)
    assert current is not None and current.term == "accepted_in_principle"
    with pytest.raises(InvalidTransition, match="already the current one"):
        respond(w).check(plan, w.ctx("ig"))  # the same response again
    plan = w.apply(plan, respond(w, response="accepted", reasons=""), "ig")
    assert len(plan.responses[1]) == 3 and plan.current_response(2) is None

    action = action_of(w)
    action = w.apply(action, respond_to(action), "council.lead")
    with pytest.raises(InvalidTransition, match="already the current one"):
        respond_to(action).check(action, w.ctx("council.lead"))
    action = w.apply(action, respond_to(action, reasons="Now funded."), "council.lead")
    assert [r.reasons for r in action.responses] == [RESPONSE["reasons"], "Now funded."]


# -- the vocabulary -------------------------------------------------------------------------


def test_the_vocabulary_starts_from_the_trackers_terms() -> None:
    plan = plan_of(world())
    assert [t.id for t in plan.response_terms] == [
        "accepted",
        "accepted_in_principle",
        "partially_accepted",
        "under_consideration",
        "not_accepted",
    ]
    assert plan.response_terms == list(DEFAULT_TERMS)
    assert plan.response_labels["accepted_in_principle"] == "Accepted in principle"


@pytest.mark.parametrize("actor", USERS)
def test_only_the_plan_editors_set_the_vocabulary(actor: str) -> None:
    w = world()
    ev = vocabulary(w, IICSA, actor)
    if actor != "ig":
        with pytest.raises(NotPermitted) as refused:
            ev.check(w.plan, w.ctx(actor))
        assert refused.value.rule == "plan.set_response_vocabulary"
        return
    plan = w.apply(w.plan, ev, actor)
    assert plan.response_terms == [ResponseTerm(t["id"], t["label"]) for t in IICSA]


def test_a_new_vocabulary_binds_new_responses_and_old_ones_keep_their_terms() -> None:
    w = world()
    action = action_of(w)
    plan = w.apply(w.plan, respond(w), "ig")
    action = w.apply(action, respond_to(action), "council.lead")
    plan = w.apply(plan, vocabulary(w, IICSA), "ig")

    current = plan.current_response(1)
    assert current is not None and current.term == "accepted_in_principle"  # kept
    assert action.responses[-1].term == "accepted_in_principle"
    # The old term's label is still known, for showing the responses recorded in it.
    assert plan.response_labels["accepted_in_principle"] == "Accepted in principle"
    assert plan.response_labels["not_adopted_as_proposed"] == "Not adopted as proposed"

    for ev, state in (
        (respond(w, reasons="x"), plan),
        (respond_to(action, reasons="x"), action),
    ):
        with pytest.raises(InvalidInput, match="adopted, adopted_in_part"):
            ev.check(state, w.ctx("ig"))
    # Now the new vocabulary's first term is the one that needs no reasons.
    with pytest.raises(InvalidInput, match="must give its reasons"):
        respond(w, response="not_adopted_as_proposed", reasons="").check(plan, w.ctx("ig"))
    w.apply(plan, respond(w, response="adopted", reasons=""), "ig")
    w.apply(action, respond_to(action, response="not_adopted_as_proposed"), "council.lead")
    assert [r.term for r in action.responses] == [
        "accepted_in_principle",
        "not_adopted_as_proposed",
    ]

    # A label may change; the id is what responses sign.
    relabelled = [{"id": "adopted", "label": "Adopted in full"}, *IICSA[1:]]
    plan = w.apply(plan, vocabulary(w, relabelled), "ig")
    assert plan.response_labels["adopted"] == "Adopted in full"


@pytest.mark.parametrize(
    ("terms", "said"),
    [
        ([], "at least one term"),
        (None, "at least one term"),
        ([{"id": "a", "label": "A"}] * 2, "listed twice"),
        ([{"id": "Adopted", "label": "A"}], "term id must be"),
        ([{"id": "a b", "label": "A"}], "term id must be"),
        ([{"id": "a", "label": " "}], "term label must be"),
        ([{"id": "a", "label": "x" * 201}], "term label is longer"),
        ([{"id": "a"}], "each term is"),
        ([{"id": "a", "label": "A", "reasons": False}], "each term is"),
        (["accepted"], "each term is"),
        ([{"id": f"t{n}", "label": "T"} for n in range(51)], "at most 50"),
    ],
)
def test_a_bad_vocabulary_is_refused(terms: Any, said: str) -> None:
    w = world()
    with pytest.raises(InvalidInput, match=said):
        vocabulary(w, terms).check(w.plan, w.ctx("ig"))


def test_the_same_vocabulary_again_is_refused() -> None:
    w = world()
    same = [{"id": t.id, "label": t.label} for t in DEFAULT_TERMS]
    with pytest.raises(InvalidTransition, match="already these terms"):
        vocabulary(w, same).check(w.plan, w.ctx("ig"))
    # The same terms in another order is another vocabulary (its first term differs).
    w.apply(w.plan, vocabulary(w, same[::-1]), "ig")


def test_every_refusal_names_its_rule() -> None:
    w = world()
    for ev, state in ((respond(w, response="x"), w.plan), (vocabulary(w, []), w.plan)):
        with pytest.raises(DomainError) as refused:
            ev.check(state, w.ctx("ig"))
        assert refused.value.rule in str(refused.value)
