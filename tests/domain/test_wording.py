"""The ledger's words (issue 14): the report's title, the sign-off levels' and the bodies'
names and the not_implementable outcome's label are signed by the plan's editors
(`plan.wording_set`), only keys the vocabulary defines, each one line of bounded length
without control characters; a key left out keeps its value; unset words read as the
generic defaults, never as any one council's.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain import InvalidInput, NotPermitted, Plan
from domain.wording import (
    DEFAULTS,
    WORDS,
    in_sentence,
    level_name,
    resolved,
    role_name,
    status_name,
)
from tests.support.plan_world import USERS, World, event, plan_of, world

TELFORDISH = ("Council", "Telford", "Strategic Implementation Group", "locally", "SIG")


def words_set(w: World, words: Any, by: str = "ig", reason: str = "the board's names") -> Any:
    return event(Plan.WordingSet, plan_of(w), by, words=words, reason=reason)


def test_the_generic_defaults_name_no_council() -> None:
    assert DEFAULTS == {
        "report_title": "Progress report",
        "level_agency": "Agency sign-off",
        "level_implementation_group": "Implementation group acceptance",
        "level_chair": "Independent verification",
        "body_implementation_group": "Implementation group",
        "body_chair": "Independent chair",
        "body_scrutiny": "Scrutiny",
        "not_implementable": "Not implementable",
    }
    said = " ".join(DEFAULTS.values())
    assert not [word for word in TELFORDISH if word in said]
    assert resolved(None) == DEFAULTS and resolved({}) == DEFAULTS


@pytest.mark.parametrize("actor", USERS)
def test_only_the_plan_editors_set_the_words(actor: str) -> None:
    w = world()
    ev = words_set(w, {"report_title": "Annual report to the board"})
    if actor != "ig":
        with pytest.raises(NotPermitted) as refused:
            ev.check(w.plan, w.ctx(actor))
        assert refused.value.rule == "plan.set_wording"
        return
    plan = w.apply(w.plan, ev, actor)
    assert plan.wording == {"report_title": "Annual report to the board"}


def test_a_key_left_out_keeps_its_value() -> None:
    w = world()
    assert plan_of(w).wording == {}
    first = {"report_title": "Council progress report", "body_chair": "Independent chair"}
    w.plan = w.apply(w.plan, words_set(w, first), "ig")
    w.plan = w.apply(w.plan, words_set(w, {"body_chair": "Inquiry chair"}), "ig")
    assert plan_of(w).wording == {
        "report_title": "Council progress report",
        "body_chair": "Inquiry chair",
    }
    shown = resolved(plan_of(w).wording)
    assert shown["level_agency"] == "Agency sign-off"  # never set: the default


@pytest.mark.parametrize(
    ("words", "said"),
    [
        ({}, "at least one key"),
        ("Progress report", "at least one key"),
        ({"report_titel": "x", "colour": "y"}, "unknown words: colour, report_titel"),
        ({"report_title": ""}, "report_title must be a non-empty string"),
        ({"report_title": "   "}, "report_title must be a non-empty string"),
        ({"body_chair": 7}, "body_chair must be a non-empty string"),
        ({"body_chair": " Chair"}, "body_chair has blanks at its start or end"),
        ({"report_title": "x" * 121}, "report_title is longer than 120 characters"),
        ({"body_chair": "x" * 81}, "body_chair is longer than 80 characters"),
        ({"body_chair": "Chair\nof the board"}, "control character or line break"),
        ({"body_chair": "Chair\x1b[31m"}, "control character or line break"),
        ({"body_chair": "Chair\u2028Board"}, "control character or line break"),
        ({"body_chair": "Chair\x00"}, "control character or line break"),
    ],
)
def test_bad_words_are_refused_by_name(words: Any, said: str) -> None:
    w = world()
    with pytest.raises(InvalidInput) as refused:
        words_set(w, words).check(w.plan, w.ctx("ig"))
    assert refused.value.rule == "plan.set_wording"
    assert said in refused.value.message


def test_every_change_has_a_reason() -> None:
    w = world()
    with pytest.raises(InvalidInput) as refused:
        words_set(w, {"report_title": "Annual report"}, reason="").check(w.plan, w.ctx("ig"))
    assert "reason" in refused.value.message


def test_the_longest_allowed_words_and_accents_pass() -> None:
    w = world()
    words = {key: "é" * word.max_length for key, word in WORDS.items()}
    w.plan = w.apply(w.plan, words_set(w, words), "ig")
    assert plan_of(w).wording == words


def test_names_in_sentences_and_tables() -> None:
    assert in_sentence("Independent chair") == "independent chair"
    assert in_sentence("Strategic Implementation Group") == "Strategic Implementation Group"
    assert in_sentence("SIG") == "SIG"
    assert in_sentence("Not implementable locally") == "not implementable locally"
    words = resolved({"level_chair": "Chair's verification", "not_implementable": "Out of scope"})
    assert level_name("chair", words) == "Chair's verification"
    assert level_name("agency", words) == "Agency sign-off"
    assert role_name("scrutiny", words) == "Scrutiny"
    assert role_name("agency_lead", words) == "agency lead"
    assert status_name("not_implementable", words) == "out of scope"
    assert status_name("agency_signed_off", words) == "agency signed off"
