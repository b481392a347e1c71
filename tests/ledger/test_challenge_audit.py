"""The standalone auditor over challenges (domain/challenge.py): an honest thread passes
`verify-bundle --trust`; entries the operator writes straight into the log (the domain
would refuse them) fail it: an answer by an agency the challenge is not addressed to, a
closing or an escalation signed by anyone but the challenger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from domain import challenge_aggregate_id
from ledger.auditor import audit
from ledger.auditor.findings import AuditReport
from ledger.bundle import export_bundle
from ledger.signer import Signer
from tests.support.bundles import append_lines
from tests.support.world import ORIGIN, World

C1 = challenge_aggregate_id("C1")


def _thread(world: World) -> Path:
    world.client("scrutiny").raise_challenge("C1", "R1.1", "council", "When will it meet?")
    world.client("council.officer").answer_challenge("C1", "In May.")
    world.checkpoint()
    out = world.config.home.parent / "bundle"
    export_bundle(world.ledger, world.vkey.encode(), out)
    return out


def _audit(world: World, bundle: Path) -> AuditReport:
    return audit(bundle, log_key=world.vkey.encode(), trust=world.trust)


def _append_and_resign(world: World, bundle: Path, lines: list[bytes]) -> None:
    """What the operator can do with the database and the log key: add entries the ledger
    would refuse, sign a checkpoint over them (tests/support/bundles.py)."""
    append_lines(world, bundle, *lines)


def _signed(world: World, user: str, kind: str, payload: Any) -> bytes:
    version = world.ledger.version_of(C1) + 1
    signer = Signer(user, world.keys[user], ORIGIN, clock=world.clock)
    return signer.sign(kind, C1, version, payload).entry_bytes()


def test_an_honest_thread_passes_the_audit(world: World) -> None:
    bundle = _thread(world)
    report = _audit(world, bundle)
    assert report.ok, report.problems


def test_an_answer_by_another_agency_fails_the_audit(world: World) -> None:
    bundle = _thread(world)
    answer = {"text": "Not ours, but here goes", "evidence": []}
    _append_and_resign(
        world, bundle, [_signed(world, "police.officer", "challenge.answered", answer)]
    )
    [problem] = _audit(world, bundle).problems
    assert (
        problem.check == "not authorised" and "police.officer (officer of police)" in problem.detail
    )


def test_closing_or_escalating_by_another_than_the_challenger_fails_the_audit(
    world: World,
) -> None:
    _thread(world)
    for kind, payload in (
        ("challenge.closed", {"outcome": "satisfied", "reason": "fine by me"}),
        ("challenge.escalated", {"to": "implementation_group", "reason": "over to you"}),
    ):
        bundle = world.config.home.parent / f"bundle-{kind}"
        export_bundle(world.ledger, world.vkey.encode(), bundle)
        _append_and_resign(world, bundle, [_signed(world, "chair", kind, payload)])
        [problem] = _audit(world, bundle).problems
        assert problem.check == "not authorised", problem
        assert "challenge raised by scrutiny" in problem.detail, problem


def test_a_challenge_raised_on_an_actions_id_does_not_re_point_the_action(world: World) -> None:
    """The operator appends a `challenge.raised` signed by scrutiny onto R1.1's own
    aggregate, addressed to the police, then a police officer's entry on R1.1: the auditor
    must not take the challenge's agency for the action's lead (review of issue 15)."""
    from domain import action_aggregate_id

    world.checkpoint()
    bundle = world.ledger.config.home.parent / "bundle-misplaced"
    export_bundle(world.ledger, world.vkey.encode(), bundle)
    action = action_aggregate_id("R1.1")
    version = world.ledger.version_of(action)
    raised = {"challenge_id": "C1", "subject": "R1.1", "agency": "police", "text": "q"}
    scrutiny = Signer("scrutiny", world.keys["scrutiny"], ORIGIN, clock=world.clock)
    officer = Signer("police.officer", world.keys["police.officer"], ORIGIN, clock=world.clock)
    lines = [
        scrutiny.sign("challenge.raised", action, version + 1, raised).entry_bytes(),
        officer.sign(
            "action.status_changed", action, version + 2, {"to_status": "in_progress", "reason": ""}
        ).entry_bytes(),
    ]
    _append_and_resign(world, bundle, lines)
    report = _audit(world, bundle)
    checks = {p.check for p in report.problems}
    assert not report.ok
    assert "misplaced creation" in checks and "not authorised" in checks, report.problems
