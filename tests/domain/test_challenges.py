"""Challenges as threads with state (domain/challenge.py), on a real ledger (SQLite): who
may raise, answer, close and escalate, each refusal with its rule and a message a user can
act on; the state machine; the projection (age, per agency, as of a day); and the auditor
(ledger/auditor/signers.py) scoping answers to the addressed agency and closing to the
challenger."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from domain import DomainError, challenge_aggregate_id
from ledger.config import LedgerConfig
from projections.challenges import by_agency, challenges, next_challenge_id
from tests.support.clock import Clock
from tests.support.world import World, make_world


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    world = make_world(LedgerConfig(home=tmp_path / "home"), Clock())
    world.add_action("R1.1", lead="council")
    world.add_action("R2.1", lead="police")
    yield world
    world.ledger.close()


def _get(w: World, challenge_id: str) -> Any:
    found = w.ledger.get(challenge_aggregate_id(challenge_id))
    assert found is not None, challenge_id
    return found


def refused(call: object, rule: str, words: str) -> None:
    with pytest.raises(DomainError) as raised:
        call()  # type: ignore[operator]
    assert raised.value.rule == rule, raised.value
    assert words in raised.value.message, raised.value.message


def _raise(
    w: World, by: str, cid: str = "C1", subject: str = "R1.1", agency: str = "council"
) -> Callable[[], Any]:
    return lambda: w.client(by).raise_challenge(cid, subject, agency, "Why is this late?")


@pytest.mark.parametrize("by", ["scrutiny", "sig", "chair"])
def test_the_overseers_may_raise(w: World, by: str) -> None:
    _raise(w, by)()
    challenge = _get(w, "C1")
    assert challenge.state == "open" and challenge.raised_by == by
    assert challenge.agency == "council" and challenge.subject == "R1.1"


@pytest.mark.parametrize("by", ["council.officer", "council.lead", "police.officer", "police.lead"])
def test_no_officer_or_agency_lead_raises_not_even_against_another_agency(
    w: World, by: str
) -> None:
    refused(_raise(w, by), "challenge.raise", "officers and agency leads answer challenges")


def test_an_administrator_may_not_raise(w: World) -> None:
    refused(_raise(w, "admin"), "challenge.raise", "may not raise a challenge")


def test_the_agency_addressed_must_lead_the_subject(w: World) -> None:
    refused(_raise(w, "scrutiny", agency="police"), "challenge.raise", "led by council, not police")
    refused(
        _raise(w, "scrutiny", subject="R2", agency="council"),
        "challenge.raise",
        "recommendation 2 is led by police, not council",
    )
    refused(_raise(w, "scrutiny", subject="R9.1"), "challenge.raise", "no action R9.1")
    refused(_raise(w, "scrutiny", subject="R9"), "challenge.raise", "no recommendation 9")
    refused(_raise(w, "scrutiny", agency="nobody"), "challenge.raise", "no agency 'nobody'")
    refused(_raise(w, "scrutiny", subject="10.1"), "challenge.raise", "subject must be")
    refused(_raise(w, "scrutiny", cid="x1"), "challenge.raise", "must look like C1")
    _raise(w, "scrutiny", subject="R1", agency="police")()  # R1 is led by both


def test_the_same_id_is_not_raised_twice(w: World) -> None:
    _raise(w, "scrutiny")()
    refused(_raise(w, "chair"), "challenge.raise", "challenge C1 already exists")


def test_only_the_addressed_agency_answers(w: World) -> None:
    _raise(w, "scrutiny")()
    for by in ("police.officer", "police.lead", "sig", "chair", "scrutiny"):
        refused(
            lambda by=by: w.client(by).answer_challenge("C1", "Because."),
            "challenge.answer",
            "only officers and the agency lead of council",
        )
    w.client("council.officer").answer_challenge("C1", "The budget was approved in May.")
    w.client("council.lead").answer_challenge("C1", "And the board has signed it.")
    challenge = _get(w, "C1")
    assert challenge.state == "answered"
    assert [a.by for a in challenge.answers] == ["council.officer", "council.lead"]


def test_an_answer_cites_only_the_actions_current_evidence(w: World) -> None:
    _raise(w, "scrutiny")()
    officer = w.client("council.officer")
    refused(
        lambda: officer.answer_challenge("C1", "See the minutes", ["ab" * 32]),
        "challenge.answer",
        "is not current evidence of R1.1",
    )
    refused(
        lambda: officer.answer_challenge("C1", "See", ["not-a-hash"]),
        "challenge.answer",
        "evidence must be a list of sha256",
    )
    from domain import Status

    officer.change_status("R1.1", Status.IN_PROGRESS)
    sha = w.evidence("R1.1", b"minutes of May")
    officer.answer_challenge("C1", "See the minutes", [sha])
    assert _get(w, "C1").answers[0].evidence == [sha]


def test_a_challenge_on_a_recommendation_is_answered_in_text(w: World) -> None:
    _raise(w, "sig", subject="R2", agency="police")()
    refused(
        lambda: w.client("police.lead").answer_challenge("C1", "See", ["ab" * 32]),
        "challenge.answer",
        "answer it in text",
    )
    w.client("police.lead").answer_challenge("C1", "We have a plan.")


def test_only_the_challenger_closes_or_escalates(w: World) -> None:
    _raise(w, "scrutiny")()
    for by in ("chair", "sig", "council.lead"):
        refused(
            lambda by=by: w.client(by).close_challenge("C1", "satisfied", "fine"),
            "challenge.close",
            "only its challenger, scrutiny, may",
        )
        refused(
            lambda by=by: w.client(by).escalate_challenge("C1", "chair", "no answer"),
            "challenge.escalate",
            "only its challenger, scrutiny, may",
        )


def test_the_state_machine(w: World) -> None:
    _raise(w, "scrutiny")()
    scrutiny = w.client("scrutiny")
    refused(lambda: scrutiny.close_challenge("C1", "maybe", "x"), "challenge.close", "outcome")
    refused(lambda: scrutiny.close_challenge("C1", "satisfied", " "), "challenge.close", "reason")
    refused(lambda: scrutiny.escalate_challenge("C1", "cabinet", "x"), "challenge.escalate", "to")
    w.client("council.officer").answer_challenge("C1", "Because.")
    scrutiny.escalate_challenge("C1", "implementation_group", "the answer does not say when")
    refused(
        lambda: scrutiny.escalate_challenge("C1", "implementation_group", "again"),
        "challenge.escalate",
        "already escalated to implementation_group",
    )
    w.client("council.lead").answer_challenge("C1", "By September.")  # escalated: still owed
    challenge = _get(w, "C1")
    assert challenge.state == "escalated" and challenge.escalated_to == "implementation_group"
    scrutiny.escalate_challenge("C1", "chair", "still no date")
    scrutiny.close_challenge("C1", "not_satisfied", "no date was ever given")
    challenge = _get(w, "C1")
    assert challenge.state == "closed" and challenge.outcome == "not_satisfied"
    refused(
        lambda: w.client("council.lead").answer_challenge("C1", "Late answer"),
        "challenge.answer",
        "is closed (not_satisfied)",
    )
    refused(
        lambda: scrutiny.close_challenge("C1", "satisfied", "changed my mind"),
        "challenge.close",
        "already closed",
    )
    refused(lambda: scrutiny.escalate_challenge("C1", "chair", "x"), "challenge.escalate", "closed")


def test_no_one_escalates_to_their_own_body(w: World) -> None:
    _raise(w, "chair")()
    refused(
        lambda: w.client("chair").escalate_challenge("C1", "chair", "x"),
        "challenge.escalate",
        "to their own body",
    )
    w.client("chair").escalate_challenge("C1", "implementation_group", "the group to act")


def test_scrutiny_still_may_not_comment(w: World) -> None:
    refused(lambda: w.client("scrutiny").comment("R1.1", "a note"), "action.comment", "comment")


def test_the_projection_counts_unresolved_challenges_per_agency_with_their_age(
    w: World,
) -> None:
    w.clock.now = datetime(2024, 3, 1, 10, tzinfo=UTC)
    _raise(w, "scrutiny")()
    w.clock.now = datetime(2024, 3, 11, 10, tzinfo=UTC)
    _raise(w, "sig", cid="C2", subject="R2.1", agency="police")()
    _raise(w, "chair", cid="C3")()
    w.client("chair").close_challenge("C3", "satisfied", "answered at the meeting")
    assert next_challenge_id(w.ledger.entries(0)) == "C4"
    views = challenges(w.ledger.entries(0), as_of=date(2024, 3, 31))
    assert [(v.challenge_id, v.state, v.age_days) for v in views] == [
        ("C1", "open", 30),
        ("C2", "open", 20),
        ("C3", "closed", None),
    ]
    assert by_agency(views) == {
        "council": {"unresolved": 1, "oldest_days": 30, "total": 2},
        "police": {"unresolved": 1, "oldest_days": 20, "total": 1},
    }
    earlier = challenges(w.ledger.entries(0), as_of=date(2024, 3, 5))
    assert [(v.challenge_id, v.age_days) for v in earlier] == [("C1", 4)]
    only = challenges(w.ledger.entries(0), as_of=date(2024, 3, 31), agency="police")
    assert [v.challenge_id for v in only] == ["C2"]
    still = challenges(w.ledger.entries(0), as_of=date(2024, 3, 31), unresolved_only=True)
    assert [v.challenge_id for v in still] == ["C1", "C2"]


def test_the_progress_report_lists_each_challenge_with_its_answers_and_state(w: World) -> None:
    from projections.report import build_report, checkpoint_info
    from projections.report_render import render_html
    from tests.support.report_html import ReportPage

    w.clock.now = datetime(2024, 3, 1, 10, tzinfo=UTC)
    _raise(w, "scrutiny")()
    w.client("council.officer").answer_challenge("C1", "It met in February.")
    w.client("scrutiny").close_challenge("C1", "not_satisfied", "No minutes")
    w.clock.now = datetime(2024, 3, 21, 10, tzinfo=UTC)
    _raise(w, "sig", cid="C2", subject="R2.1", agency="police")()
    w.clock.now = datetime(2024, 4, 20, 10, tzinfo=UTC)
    _raise(w, "chair", cid="C3")()  # after the report's date: not in it
    checkpoint = w.checkpoint()
    info = checkpoint_info(checkpoint.note, w.ledger.tree_size(), w.vkey)
    report = build_report(w.ledger, info, as_of=datetime(2024, 3, 31, 23, 59, tzinfo=UTC))
    assert [c.challenge_id for c in report.challenges] == ["C2", "C1"]  # open ones first
    rows = ReportPage(render_html(report)).body_rows("challenge-table")
    assert [row[:5] for row in rows] == [
        ["C2", "R2.1", "Police", "open", "10"],
        ["C1", "R1.1", "Council", "closed", "—"],
    ]
    assert "It met in February." in rows[1][6] and "not satisfied. No minutes" in rows[1][7]
    assert rows[0][6] == "None yet."


def test_a_challenger_moved_to_an_agency_role_no_longer_closes(w: World) -> None:
    """Scrutiny raises C1 to the council, then the chair makes that user the council's
    agency lead: the challenge is not theirs to close as satisfied now (nor does the
    auditor accept it: its table lets only overseers close; review of issue 15)."""
    _raise(w, "scrutiny")()
    w.client("chair").change_role("scrutiny", "agency_lead", "council", "seconded")
    refused(
        lambda: w.client("scrutiny").close_challenge("C1", "satisfied", "all fine"),
        "challenge.close",
        "close a challenge",
    )
