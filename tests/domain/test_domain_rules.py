"""Domain rules: every allowed and every refused transition per role and agency.

The world is built in memory from the domain's own events (no ledger, no I/O). The
EXPECTED table below is written from the specification of the plan's rules, not from
the module's tables (STATUS_CHANGES, SIGN_OFFS, RETURNS, ...), so that a wrong entry
in those tables shows up as a failing case here.
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
    Directory,
    DomainError,
    InvalidInput,
    InvalidTransition,
    NotPermitted,
    Plan,
    Role,
    RuleContext,
)
from domain.charter import DEFAULT_APPOINTERS
from domain.lifecycle import Status
from domain.progress import recommendation_status
from tests.support.domain_world import Cast, DomainWorld, key_id, public_key

# --------------------------------------------------------------------------------------
# The world: a plan with two agencies, one user per role, and action R1.1 led by council.
# It is made of the domain's own events, in memory (tests/support/domain_world.py).

ADMIN = Actor("admin", Role.ADMIN, None)
USERS: dict[str, Actor] = {
    "council.officer": Actor("council.officer", Role.OFFICER, "council"),
    "council.lead": Actor("council.lead", Role.AGENCY_LEAD, "council"),
    "police.officer": Actor("police.officer", Role.OFFICER, "police"),
    "police.lead": Actor("police.lead", Role.AGENCY_LEAD, "police"),
    "ig": Actor("ig", Role.IMPLEMENTATION_GROUP, None),
    "chair": Actor("chair", Role.CHAIR, None),
    "scrutiny": Actor("scrutiny", Role.SCRUTINY, None),
    "admin": ADMIN,
}
CAST = Cast(USERS)
KEYS = CAST.keys
event = CAST.signed  # event(cls, state, actor, **payload): signed by actor with their key


class World(DomainWorld):
    users = USERS


def new_directory() -> Directory:
    return CAST.genesis()


def new_plan(directory: Directory) -> Plan:
    created = CAST.plan_imported("ig", recommendations_expected=2)
    created.check(None, RuleContext(USERS["ig"], directory, None))
    plan: Plan = created.mutate(None)
    added = event(
        Plan.RecommendationAdded,
        plan,
        "ig",
        number=1,
        title="First recommendation",
        text="Do the first thing.",
        lead_agencies=["council", "police"],
    )
    added.check(plan, RuleContext(USERS["ig"], directory, plan))
    return added.mutate(plan)


def appointer(user: Actor) -> str:
    return f"{user.agency}.lead" if user.role is Role.OFFICER else "chair"


def register(world: World, user: Actor, by: str | None = None) -> None:
    by = by or appointer(user)
    ev = event(
        Directory.UserRegistered,
        world.directory,
        by,
        user_id=user.user_id,
        name=user.user_id.title(),
        role=user.role.value,
        agency=user.agency,
        public_key=KEYS[user.user_id],
    )
    world.directory = world.apply(world.directory, ev, by)


def adopt_charter(directory: Directory) -> Directory:
    ev = event(
        Directory.CharterAdopted,
        directory,
        "chair",
        chair_id="chair",
        name="Chair",
        public_key=KEYS["chair"],
        title="Test inquiry",
        appointers=dict(DEFAULT_APPOINTERS),
        off_page_roles=[],
    )
    ev.check(directory, RuleContext(USERS["chair"], directory, None))
    return ev.mutate(directory)  # type: ignore[no-any-return]


def chartered_world() -> World:
    """The admin (genesis), the chair (charter), the implementation group the chair
    appointed and the plan it imported: nobody else registered yet."""
    directory = adopt_charter(new_directory())
    world = World(directory, None)
    register(world, USERS["ig"])
    world.plan = new_plan(world.directory)
    return world


def new_world() -> World:
    world = chartered_world()
    for user in USERS.values():
        if user.user_id not in ("admin", "chair", "ig"):
            register(world, user)
    return world


WORLD = new_world()  # the directory and plan are only read by action rules


def sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


E1 = sha("evidence one")


def evidence_payload(digest: str) -> dict[str, Any]:
    return {
        "sha256": digest,
        "size": 1234,
        "media_type": "application/pdf",
        "original_name": "minutes.pdf",
        "description": "Minutes of the board meeting",
        "storage_key": f"sha256/{digest}",
        "effective_date": "2024-01-01",
    }


def new_action(world: World = WORLD, *, with_evidence: bool = True) -> Action:
    added = CAST.action_added("ig")
    added.check(None, world.ctx("ig"))
    action: Action = added.mutate(None)
    if with_evidence:
        action = attach(world, action, E1)
    return action


# --------------------------------------------------------------------------------------
# Legal steps, used to drive an action into each status.


def attach(world: World, a: Action, digest: str, by: str = "council.officer") -> Action:
    return world.apply(a, event(Action.EvidenceAttached, a, by, **evidence_payload(digest)), by)


def change(world: World, a: Action, to: str, by: str, reason: str = "") -> Action:
    ev = event(Action.StatusChanged, a, by, from_status=a.status.value, to_status=to, reason=reason)
    return world.apply(a, ev, by)


def sign_off(world: World, a: Action, level: str, by: str) -> Action:
    ev = event(
        Action.SignedOff,
        a,
        by,
        level=level,
        evidence=a.current_evidence(),
        statement=f"{level} is satisfied",
    )
    return world.apply(a, ev, by)


def give_return(world: World, a: Action, level: str, by: str) -> Action:
    ev = event(Action.Returned, a, by, level=level, reasons=["minutes are missing"])
    return world.apply(a, ev, by)


def start(w: World, a: Action) -> Action:
    return change(w, a, "in_progress", "council.officer")


def submit(w: World, a: Action) -> Action:
    return change(w, start(w, a), "evidence_submitted", "council.officer")


def agency_signed(w: World, a: Action) -> Action:
    return sign_off(w, submit(w, a), "agency", "council.lead")


def accepted(w: World, a: Action) -> Action:
    return sign_off(w, agency_signed(w, a), "implementation_group", "ig")


def verified(w: World, a: Action) -> Action:
    return sign_off(w, accepted(w, a), "chair", "chair")


PATHS: dict[str, Callable[[World, Action], Action]] = {
    "not_started": lambda w, a: a,
    "in_progress": start,
    "blocked": lambda w, a: change(w, start(w, a), "blocked", "council.officer", "no budget"),
    "evidence_submitted": submit,
    "agency_signed_off": agency_signed,
    "accepted": accepted,
    "verified": verified,
    "not_implementable": lambda w, a: change(
        w, start(w, a), "not_implementable", "chair", "the service no longer exists"
    ),
    "superseded": lambda w, a: change(
        w, submit(w, a), "superseded", "chair", "replaced by national guidance"
    ),
    "merged": lambda w, a: world_merge(w, start(w, a)),
    "withdrawn": lambda w, a: world_withdraw(w, a),
}


def world_merge(w: World, a: Action) -> Action:
    ev = event(Action.Merged, a, "ig", into="R1.2", reason="duplicate of R1.2")
    return w.apply(a, ev, "ig")


def world_withdraw(w: World, a: Action) -> Action:
    return w.apply(a, event(Action.Withdrawn, a, "ig", reason="no longer needed"), "ig")


STATUSES = list(PATHS)


def drive(status: str, world: World = WORLD) -> Action:
    action = PATHS[status](world, new_action(world))
    assert action.status.value == status
    return action


@pytest.mark.parametrize("status", STATUSES)
def test_every_status_is_reachable_through_legal_events(status: str) -> None:
    action = drive(status)
    assert action.status.value == status
    assert action.current_evidence() == [E1]


def test_the_status_list_covers_every_status_of_the_module() -> None:
    assert {s.value for s in Status} == set(STATUSES)


# --------------------------------------------------------------------------------------
# The EXPECTED table, written from the specification.

ACTORS = [
    "council.officer",
    "council.lead",
    "police.officer",
    "police.lead",
    "ig",
    "chair",
    "scrutiny",
    "admin",
]
LEAD_WORKERS = {"council.officer", "council.lead"}  # officer / agency lead of the lead agency
CLOSED = {"verified", "not_implementable", "superseded", "merged", "withdrawn"}
AGENCY_WORKING = {"not_started", "in_progress", "blocked", "evidence_submitted"}
OUTCOME_FROM = {
    "not_started",
    "in_progress",
    "blocked",
    "evidence_submitted",
    "agency_signed_off",
    "accepted",
}
OWN_LEVEL = {"council.lead": "agency", "police.lead": "agency", "ig": "implementation_group"}
OWN_LEVEL["chair"] = "chair"


def spec_status_change(actor: str, before: str, after: str, reason: str) -> bool:
    """May `actor` move R1.1 (led by council) from `before` to `after` with `reason`?"""
    if (before, after) == ("not_started", "in_progress"):  # start
        return actor in LEAD_WORKERS
    if (before, after) == ("in_progress", "evidence_submitted"):  # submit (evidence exists)
        return actor in LEAD_WORKERS
    if before in ("not_started", "in_progress") and after == "blocked":  # block
        return bool(reason) and actor in LEAD_WORKERS | {"ig"}
    if (before, after) == ("blocked", "in_progress"):  # unblock
        return bool(reason) and actor in LEAD_WORKERS | {"ig"}
    if after in ("not_implementable", "superseded") and before in OUTCOME_FROM:
        return bool(reason) and actor == "chair"
    if before in ("not_implementable", "superseded") and after == "in_progress":  # reopen
        return bool(reason) and actor == "chair"
    return False


# command -> (target status, reason) for the commands that are plain status changes
STATUS_COMMANDS = {
    "start": ("in_progress", ""),
    "submit": ("evidence_submitted", ""),
    "block": ("blocked", "waiting for funding"),
    "unblock": ("in_progress", "funding agreed"),
    "outcome_not_implementable": ("not_implementable", "the service was abolished"),
    "outcome_superseded": ("superseded", "replaced by national guidance"),
    "reopen": ("in_progress", "the service was re-established"),
}
SIGN_OFF_SPEC = {  # level -> (who, from status, resulting status)
    "agency": ("council.lead", "evidence_submitted", "agency_signed_off"),
    "implementation_group": ("ig", "agency_signed_off", "accepted"),
    "chair": ("chair", "accepted", "verified"),
}
RETURN_SPEC = {
    "council.lead": {"evidence_submitted"},
    "ig": {"evidence_submitted", "agency_signed_off"},
    "chair": {"evidence_submitted", "agency_signed_off", "accepted"},
}
COMMANDS = [
    *STATUS_COMMANDS,
    "sign_off_agency",
    "sign_off_implementation_group",
    "sign_off_chair",
    "revoke_agency",
    "revoke_implementation_group",
    "revoke_chair",
    "return",
    "rag",
    "comment",
    "challenge",
    "attach_evidence",
    "withdraw_evidence",
    "assign_officer",
    "amend",
    "merge",
    "withdraw",
]


def expected(status: str, command: str, actor: str) -> bool:
    if command in STATUS_COMMANDS:
        to, reason = STATUS_COMMANDS[command]
        return spec_status_change(actor, status, to, reason)
    if command.startswith("sign_off_"):
        who, before, _ = SIGN_OFF_SPEC[command.removeprefix("sign_off_")]
        return actor == who and status == before
    if command.startswith("revoke_"):
        who, _, after = SIGN_OFF_SPEC[command.removeprefix("revoke_")]
        return actor == who and status == after
    if command == "return":
        return status in RETURN_SPEC.get(actor, set())
    if command == "rag":
        return actor in {"council.lead", "ig", "chair"}
    if command in ("comment", "challenge"):
        return actor in {"council.officer", "council.lead", "ig", "chair", "admin"}
    if command in ("attach_evidence", "withdraw_evidence"):
        return actor in LEAD_WORKERS and status in AGENCY_WORKING
    if command == "assign_officer":  # the lead agency's lead decides who signs for it
        return actor == "council.lead" and status not in CLOSED
    if command in ("amend", "merge", "withdraw"):  # the implementation group owns the plan
        return actor == "ig" and status not in CLOSED
    raise AssertionError(command)


def expected_status_after(status: str, command: str) -> str:
    """The status an allowed command leaves the action in."""
    if command in STATUS_COMMANDS:
        return STATUS_COMMANDS[command][0]
    if command.startswith("sign_off_"):
        return SIGN_OFF_SPEC[command.removeprefix("sign_off_")][2]
    if command.startswith("revoke_"):
        return SIGN_OFF_SPEC[command.removeprefix("revoke_")][1]
    return {"return": "in_progress", "merge": "merged", "withdraw": "withdrawn"}.get(
        command, status
    )


def build(command: str, a: Action, actor: str) -> Any:
    if command in STATUS_COMMANDS:
        to, reason = STATUS_COMMANDS[command]
        return event(
            Action.StatusChanged, a, actor, from_status=a.status.value, to_status=to, reason=reason
        )
    if command.startswith("sign_off_"):
        level = command.removeprefix("sign_off_")
        return event(
            Action.SignedOff, a, actor, level=level, evidence=a.current_evidence(), statement="ok"
        )
    if command.startswith("revoke_"):
        level = command.removeprefix("revoke_")
        return event(Action.SignOffRevoked, a, actor, level=level, reason="signed too early")
    if command == "return":
        level = OWN_LEVEL.get(actor, "agency")
        return event(Action.Returned, a, actor, level=level, reasons=["minutes missing"])
    if command == "rag":
        scope = "agency" if USERS[actor].role is Role.AGENCY_LEAD else "review"
        return event(Action.RagRated, a, actor, scope=scope, rating="amber", reason="slipping")
    if command in ("comment", "challenge"):
        return event(Action.CommentAdded, a, actor, kind=command, text="Why the delay?")
    if command == "attach_evidence":
        return event(Action.EvidenceAttached, a, actor, **evidence_payload(sha("two")))
    if command == "withdraw_evidence":
        return event(Action.EvidenceWithdrawn, a, actor, sha256=E1, reason="wrong file")
    if command == "assign_officer":
        return event(Action.OfficerAssigned, a, actor, officer="council.officer")
    if command == "amend":
        return event(
            Action.Amended, a, actor, changes={"title": "A new title"}, reason="plan refresh"
        )
    if command == "merge":
        return event(Action.Merged, a, actor, into="R1.2", reason="duplicate")
    if command == "withdraw":
        return event(Action.Withdrawn, a, actor, reason="no longer needed")
    raise AssertionError(command)


def never_allowed(actor: str, command: str) -> bool:
    return not any(expected(status, command, actor) for status in STATUSES)


def someone_may(status: str, command: str) -> bool:
    return any(expected(status, command, actor) for actor in ACTORS)


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("status", STATUSES)
def test_rule_matrix(status: str, command: str, actor: str) -> None:
    action = drive(status)
    ev = build(command, action, actor)
    ctx = WORLD.ctx(actor)
    if expected(status, command, actor):
        ev.check(action, ctx)
        after = ev.mutate(action)
        assert after.status.value == expected_status_after(status, command)
        return
    with pytest.raises(DomainError) as refused:
        ev.check(action, ctx)
    error = refused.value
    assert isinstance(error.rule, str) and error.rule.strip()
    if isinstance(error, NotPermitted):
        assert actor in error.message
    if never_allowed(actor, command) and someone_may(status, command):
        # The state allows the command, only this actor may not: a permission refusal
        # that says who was refused.
        assert isinstance(error, NotPermitted), error
        assert actor in str(error)


def test_the_matrix_is_not_vacuous() -> None:
    allowed = sum(expected(s, c, a) for s in STATUSES for c in COMMANDS for a in ACTORS)
    assert 100 < allowed < len(STATUSES) * len(COMMANDS) * len(ACTORS) // 2
    for actor in ("scrutiny", "police.officer", "police.lead"):
        assert not any(expected(s, c, actor) for s in STATUSES for c in COMMANDS)


# --------------------------------------------------------------------------------------
# Exhaustive status changes: every (from, to) pair for every actor, with and without a
# reason, catches a transition the module allows that the specification does not.

ALL_STATUSES = [s.value for s in Status]


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("to", ALL_STATUSES)
@pytest.mark.parametrize("status", STATUSES)
def test_every_status_change_pair(status: str, to: str, actor: str) -> None:
    for reason in ("", "a reason"):
        action = drive(status)
        ev = event(
            Action.StatusChanged,
            action,
            actor,
            from_status=status,
            to_status=to,
            reason=reason,
        )
        if spec_status_change(actor, status, to, reason):
            ev.check(action, WORLD.ctx(actor))
            assert ev.mutate(action).status.value == to
        else:
            with pytest.raises(DomainError) as refused:
                ev.check(action, WORLD.ctx(actor))
            assert refused.value.rule


def test_a_stale_from_status_is_refused() -> None:
    action = drive("in_progress")
    ev = event(
        Action.StatusChanged,
        action,
        "council.officer",
        from_status="not_started",
        to_status="in_progress",
        reason="",
    )
    with pytest.raises(InvalidTransition):
        ev.check(action, WORLD.ctx("council.officer"))


def test_submit_needs_current_evidence() -> None:
    action = start(WORLD, new_action(with_evidence=False))
    ev = event(
        Action.StatusChanged,
        action,
        "council.officer",
        from_status="in_progress",
        to_status="evidence_submitted",
        reason="",
    )
    with pytest.raises(InvalidTransition) as refused:
        ev.check(action, WORLD.ctx("council.officer"))
    assert refused.value.rule == "action.submit_needs_evidence"
    # withdrawn evidence is not current evidence either
    action = start(WORLD, new_action())
    withdraw = event(Action.EvidenceWithdrawn, action, "council.officer", sha256=E1, reason="x")
    action = WORLD.apply(action, withdraw, "council.officer")
    ev = event(
        Action.StatusChanged,
        action,
        "council.officer",
        from_status="in_progress",
        to_status="evidence_submitted",
        reason="",
    )
    with pytest.raises(InvalidTransition):
        ev.check(action, WORLD.ctx("council.officer"))


@pytest.mark.parametrize(
    ("status", "to", "actor"),
    [
        ("not_started", "blocked", "council.officer"),
        ("in_progress", "blocked", "ig"),
        ("blocked", "in_progress", "council.lead"),
        ("in_progress", "not_implementable", "chair"),
        ("accepted", "superseded", "chair"),
        ("not_implementable", "in_progress", "chair"),
    ],
)
@pytest.mark.parametrize("reason", ["", "   "])
def test_reasons_are_required(status: str, to: str, actor: str, reason: str) -> None:
    action = drive(status)
    ev = event(Action.StatusChanged, action, actor, from_status=status, to_status=to, reason=reason)
    with pytest.raises(InvalidInput):
        ev.check(action, WORLD.ctx(actor))


# --------------------------------------------------------------------------------------
# Sign-offs, revocations and returns in detail.


@pytest.mark.parametrize(
    ("status", "level", "actor"),
    [
        ("evidence_submitted", "agency", "council.lead"),
        ("agency_signed_off", "implementation_group", "ig"),
        ("accepted", "chair", "chair"),
    ],
)
def test_a_sign_off_must_name_exactly_the_current_evidence(
    status: str, level: str, actor: str
) -> None:
    action = drive(status)
    if status == "evidence_submitted":
        action = attach(WORLD, action, sha("another"))
    current = action.current_evidence()
    assert current == sorted(current)
    other = sha("not attached")
    wrong_lists: list[Any] = [
        [],
        [*current, other],
        [other],
        current[:-1],
        current + current[-1:],
        "".join(current),
    ]
    if len(current) > 1:
        wrong_lists.append(list(reversed(current)))
    for wrong in wrong_lists:
        ev = event(Action.SignedOff, action, actor, level=level, evidence=wrong, statement="ok")
        with pytest.raises(InvalidTransition) as refused:
            ev.check(action, WORLD.ctx(actor))
        assert refused.value.rule == "action.sign_off.evidence_mismatch"
    ev = event(Action.SignedOff, action, actor, level=level, evidence=current, statement="ok")
    ev.check(action, WORLD.ctx(actor))
    after = ev.mutate(action)
    assert after.sign_offs[level].evidence == current  # type: ignore[index]


@pytest.mark.parametrize(
    ("status", "level", "actor", "back_to"),
    [
        ("agency_signed_off", "agency", "council.lead", "evidence_submitted"),
        ("accepted", "implementation_group", "ig", "agency_signed_off"),
        ("verified", "chair", "chair", "accepted"),
    ],
)
def test_revoking_a_sign_off_steps_back_one_status(
    status: str, level: str, actor: str, back_to: str
) -> None:
    action = drive(status)
    ev = event(Action.SignOffRevoked, action, actor, level=level, reason="signed in error")
    action = WORLD.apply(action, ev, actor)
    assert action.status.value == back_to
    assert level not in {lvl.value for lvl in action.sign_offs}
    empty = event(Action.SignOffRevoked, drive(status), actor, level=level, reason="")
    with pytest.raises(InvalidInput):
        empty.check(drive(status), WORLD.ctx(actor))


def test_only_the_latest_sign_off_can_be_revoked() -> None:
    action = drive("verified")
    for level, actor in (("agency", "council.lead"), ("implementation_group", "ig")):
        ev = event(Action.SignOffRevoked, action, actor, level=level, reason="x")
        with pytest.raises(InvalidTransition):
            ev.check(action, WORLD.ctx(actor))


@pytest.mark.parametrize(
    ("actor", "wrong_level"),
    [
        ("council.lead", "implementation_group"),
        ("council.lead", "chair"),
        ("ig", "agency"),
        ("ig", "chair"),
        ("chair", "agency"),
        ("chair", "implementation_group"),
    ],
)
def test_a_return_must_be_made_at_the_actors_own_level(actor: str, wrong_level: str) -> None:
    action = drive("evidence_submitted")
    ev = event(Action.Returned, action, actor, level=wrong_level, reasons=["no"])
    with pytest.raises(DomainError) as refused:
        ev.check(action, WORLD.ctx(actor))
    assert refused.value.rule


@pytest.mark.parametrize("actor", ["council.lead", "ig", "chair"])
@pytest.mark.parametrize("reasons", [[], [""], ["  "], "not a list", None])
def test_a_return_needs_reasons(actor: str, reasons: Any) -> None:
    action = drive("evidence_submitted")
    ev = event(Action.Returned, action, actor, level=OWN_LEVEL[actor], reasons=reasons)
    with pytest.raises(InvalidInput):
        ev.check(action, WORLD.ctx(actor))


@pytest.mark.parametrize(
    ("actor", "wrong_scope"),
    [("council.lead", "review"), ("ig", "agency"), ("chair", "agency"), ("chair", "other")],
)
def test_a_rag_rating_has_the_actors_scope(actor: str, wrong_scope: str) -> None:
    action = drive("in_progress")
    ev = event(Action.RagRated, action, actor, scope=wrong_scope, rating="red", reason="late")
    with pytest.raises(InvalidInput):
        ev.check(action, WORLD.ctx(actor))


def test_agency_and_review_ratings_are_kept_apart() -> None:
    action = drive("in_progress")
    for actor, scope, rating in (("council.lead", "agency", "green"), ("ig", "review", "red")):
        ev = event(Action.RagRated, action, actor, scope=scope, rating=rating, reason="r")
        action = WORLD.apply(action, ev, actor)
    assert action.agency_rag is not None and action.agency_rag.value == "green"
    assert action.review_rag is not None and action.review_rag.value == "red"


@pytest.mark.parametrize(
    "officer", ["police.officer", "council.lead", "ig", "nobody", "council.officer2"]
)
def test_only_an_officer_of_the_lead_agency_can_be_assigned(officer: str) -> None:
    action = drive("in_progress")
    ev = event(Action.OfficerAssigned, action, "council.lead", officer=officer)
    with pytest.raises(DomainError):
        ev.check(action, WORLD.ctx("council.lead"))


def test_an_officer_is_assigned_once() -> None:
    action = drive("in_progress")
    ev = event(Action.OfficerAssigned, action, "council.lead", officer="council.officer")
    action = WORLD.apply(action, ev, "council.lead")
    assert action.assigned_officers == ["council.officer"]
    again = event(Action.OfficerAssigned, action, "council.lead", officer="council.officer")
    with pytest.raises(InvalidTransition):
        again.check(action, WORLD.ctx("council.lead"))


# --------------------------------------------------------------------------------------
# The agency's claim and the chair's verdict are separate.


def test_agency_claim_survives_a_chair_return_and_the_verdict_says_returned() -> None:
    action = drive("agency_signed_off")
    assert action.agency_claim is not None and action.agency_claim.value == "complete"
    assert action.agency_claim.by == "council.lead"
    assert action.verdict is None
    action = give_return(WORLD, action, "chair", "chair")
    assert action.status.value == "in_progress"
    assert action.agency_claim is not None and action.agency_claim.value == "complete"
    assert action.verdict is not None and action.verdict.value == "returned"
    assert action.verdict.by == "chair"


def test_chair_verification_is_the_verdict() -> None:
    action = drive("verified")
    assert action.verdict is not None and action.verdict.value == "verified"
    assert action.verdict.by == "chair"
    assert action.agency_claim is not None and action.agency_claim.value == "complete"


@pytest.mark.parametrize("status", ["evidence_submitted", "agency_signed_off"])
def test_an_implementation_group_return_leaves_the_verdict_unchanged(status: str) -> None:
    # First give the action a verdict (a chair return), then take it round again.
    action = give_return(WORLD, drive("accepted"), "chair", "chair")
    verdict = action.verdict
    assert verdict is not None and verdict.value == "returned"
    action = change(WORLD, action, "evidence_submitted", "council.officer")
    if status == "agency_signed_off":
        action = sign_off(WORLD, action, "agency", "council.lead")
    claim = action.agency_claim
    action = give_return(WORLD, action, "implementation_group", "ig")
    assert action.status.value == "in_progress"
    assert action.verdict == verdict
    assert action.agency_claim == claim
    assert action.last_return is not None and action.last_return.by == "ig"


def test_an_implementation_group_return_without_a_prior_verdict_leaves_none() -> None:
    action = give_return(WORLD, drive("agency_signed_off"), "implementation_group", "ig")
    assert action.verdict is None
    assert action.agency_claim is not None and action.agency_claim.value == "complete"


def test_chair_outcome_and_reopen_are_verdicts() -> None:
    action = drive("not_implementable")
    assert action.verdict is not None and action.verdict.value == "not_implementable"
    action = change(WORLD, action, "in_progress", "chair", "service restored")
    assert action.verdict is not None and action.verdict.value == "reopened"


# --------------------------------------------------------------------------------------
# Directory rules.


def fresh_world() -> World:
    return chartered_world()


def registration(world: World, by: str, **overrides: Any) -> Any:
    payload = {
        "user_id": "new.user",
        "name": "New User",
        "role": "officer",
        "agency": "council",
        "public_key": public_key(200),
    }
    payload.update(overrides)
    return event(Directory.UserRegistered, world.directory, by, **payload)


# (role, agency) of a new user -> the one actor who may register them under the default
# charter: the chair appoints the implementation group, scrutiny and agency leads; an
# agency's lead its officers; administrators their fellow administrators; and nobody a
# chair (the charter itself appoints the chair).
REGISTRAR = {
    ("officer", "council"): "council.lead",
    ("officer", "police"): "police.lead",
    ("agency_lead", "council"): "chair",
    ("agency_lead", "police"): "chair",
    ("implementation_group", None): "chair",
    ("scrutiny", None): "chair",
    ("admin", None): "admin",
    ("chair", None): None,
}


@pytest.mark.parametrize("by", ACTORS)
@pytest.mark.parametrize(("role", "agency"), list(REGISTRAR))
def test_only_the_charters_appointer_registers_users(
    role: str, agency: str | None, by: str
) -> None:
    world = new_world()
    ev = registration(world, by, role=role, agency=agency)
    if by == REGISTRAR[(role, agency)]:
        world.directory = world.apply(world.directory, ev, by)
        user = world.directory.users["new.user"]
        assert (user.role.value, user.agency, user.appointed_by) == (role, agency, by)
        return
    with pytest.raises(NotPermitted) as refused:
        ev.check(world.directory, world.ctx(by))
    assert refused.value.rule == "directory.register_user"
    if role not in ("admin", "chair"):  # those two refusals name the rule, not the signer
        assert by in refused.value.message


@pytest.mark.parametrize("role", ["officer", "agency_lead"])
@pytest.mark.parametrize("agency", [None, "", "fire", "Council"])
def test_agency_roles_need_a_known_agency(role: str, agency: str | None) -> None:
    world = fresh_world()
    # An officer's registrar is a lead of the same agency, so to reach the agency rule
    # the officer is registered by a lead who claims that (unknown or missing) agency.
    by = Actor(f"{agency}.lead", Role.AGENCY_LEAD, agency) if role == "officer" else "chair"
    signer = by.user_id if isinstance(by, Actor) else by
    ev = registration(world, signer, role=role, agency=agency)
    with pytest.raises(InvalidInput) as refused:
        ev.check(world.directory, world.ctx(by))
    assert refused.value.rule == "directory.register_user"
    if role == "officer":  # ...while a real lead of another agency is refused outright
        with pytest.raises(NotPermitted):
            registration(world, "council.lead", role=role, agency=agency).check(
                world.directory, world.ctx("council.lead")
            )


@pytest.mark.parametrize(("role", "by"), [("officer", "council.lead"), ("agency_lead", "chair")])
def test_agency_roles_need_an_imported_plan(role: str, by: str) -> None:
    directory = adopt_charter(new_directory())
    world = World(directory, None)
    ev = registration(world, by, role=role, agency="council")
    with pytest.raises(InvalidInput) as refused:
        ev.check(directory, RuleContext(USERS[by], directory, None))
    assert "import the plan" in refused.value.message


@pytest.mark.parametrize(
    ("role", "by"), [("implementation_group", "chair"), ("scrutiny", "chair"), ("admin", "admin")]
)
@pytest.mark.parametrize("agency", ["council", "police", ""])
def test_non_agency_roles_have_no_agency(role: str, by: str, agency: str) -> None:
    world = fresh_world()
    ev = registration(world, by, role=role, agency=agency)
    with pytest.raises(InvalidInput):
        ev.check(world.directory, world.ctx(by))
    ok = registration(world, by, role=role, agency=None)
    ok.check(world.directory, world.ctx(by))


@pytest.mark.parametrize("by", ACTORS)
@pytest.mark.parametrize("agency", [None, "council"])
def test_nobody_registers_a_chair(by: str, agency: str | None) -> None:
    world = new_world()
    ev = registration(world, by, role="chair", agency=agency)
    with pytest.raises(NotPermitted) as refused:
        ev.check(world.directory, world.ctx(by))
    assert refused.value.rule == "directory.register_user"
    assert "charter" in refused.value.message


@pytest.mark.parametrize("by", ["admin", "chair"])
def test_unknown_role_is_refused(by: str) -> None:
    world = fresh_world()
    with pytest.raises(InvalidInput):
        registration(world, by, role="mayor", agency=None).check(world.directory, world.ctx(by))


def test_duplicate_user_or_key_is_refused() -> None:
    world = new_world()
    duplicate_user = registration(world, "council.lead", user_id="council.officer")
    with pytest.raises(InvalidTransition):
        duplicate_user.check(world.directory, world.ctx("council.lead"))
    for taken in (KEYS["council.lead"], KEYS["admin"], KEYS["chair"]):
        duplicate_key = registration(world, "council.lead", public_key=taken)
        with pytest.raises(InvalidInput):
            duplicate_key.check(world.directory, world.ctx("council.lead"))


def rotation(world: World, by: str, user: str, new_key: str) -> Any:
    return event(
        Directory.KeyRotated,
        world.directory,
        by,
        user_id=user,
        new_public_key=new_key,
        reason="new laptop",
    )


def revocation(world: World, by: str, user: str, revoked: str | None = None) -> Any:
    return event(
        Directory.KeyRevoked,
        world.directory,
        by,
        user_id=user,
        revoked_key_id=revoked or key_id(KEYS[user]),
        reason="lost device",
    )


@pytest.mark.parametrize("user", [a for a in ACTORS if a != "admin"])
def test_a_user_may_rotate_and_revoke_their_own_key(user: str) -> None:
    world = new_world()
    world.directory = world.apply(
        world.directory, rotation(world, user, user, public_key(201)), user
    )
    old = key_id(KEYS[user])
    new = key_id(public_key(201))
    record = world.directory.users[user].keys
    assert record[old].revoked_at is not None and record[new].active
    if user == "chair":  # the chair's last key is never revoked (test_charter_rules.py)
        return
    world.directory = world.apply(world.directory, revocation(world, user, user, new), user)
    assert not world.directory.users[user].active_keys()


@pytest.mark.parametrize("by", [a for a in ACTORS if a not in ("council.lead", "council.officer")])
def test_others_need_the_appointer_to_rotate_or_revoke(by: str) -> None:
    """A lost officer's key is replaced by the lead of the officer's agency (the role that
    appoints officers), not by the administrator or anyone else."""
    world = new_world()
    with pytest.raises(NotPermitted) as refused:
        rotation(world, by, "council.officer", public_key(202)).check(
            world.directory, world.ctx(by)
        )
    assert by in refused.value.message
    assert refused.value.rule == "directory.rotate_key"
    with pytest.raises(NotPermitted) as refused:
        revocation(world, by, "council.officer").check(world.directory, world.ctx(by))
    assert by in refused.value.message
    assert refused.value.rule == "directory.revoke_key"
    rotation(world, "council.lead", "council.officer", public_key(202)).check(
        world.directory, world.ctx("council.lead")
    )
    revocation(world, "council.lead", "council.officer").check(
        world.directory, world.ctx("council.lead")
    )


def test_rotation_to_a_registered_key_is_refused() -> None:
    world = new_world()
    with pytest.raises(InvalidInput):
        rotation(world, "council.officer", "council.officer", KEYS["chair"]).check(
            world.directory, world.ctx("council.officer")
        )


def test_revoking_the_last_admins_last_key_is_refused() -> None:
    world = new_world()
    ev = revocation(world, "admin", "admin")
    with pytest.raises(InvalidTransition) as refused:
        ev.check(world.directory, world.ctx(ADMIN))
    assert refused.value.rule == "directory.last_admin_key"
    # With a second administrator holding a key, the first may revoke theirs.
    second = Actor("admin2", Role.ADMIN, None)
    KEYS["admin2"] = public_key(203)
    try:
        ev = registration(
            world, "admin", user_id="admin2", role="admin", agency=None, public_key=KEYS["admin2"]
        )
        world.directory = world.apply(world.directory, ev, ADMIN)
        world.directory = world.apply(world.directory, revocation(world, "admin", "admin"), ADMIN)
        # ...and now admin2 is the last administrator with a key.
        last = revocation(world, "admin2", "admin2")
        with pytest.raises(InvalidTransition):
            last.check(world.directory, world.ctx(second))
    finally:
        del KEYS["admin2"]


def test_revoking_an_unknown_or_revoked_key_is_refused() -> None:
    world = new_world()
    with pytest.raises(InvalidTransition):
        revocation(world, "chair", "ig", "0" * 16).check(world.directory, world.ctx("chair"))
    world.directory = world.apply(world.directory, revocation(world, "chair", "ig"), "chair")
    with pytest.raises(InvalidTransition):
        revocation(world, "chair", "ig").check(world.directory, world.ctx("chair"))


def test_resolve_refuses_unknown_user_unknown_key_and_revoked_key() -> None:
    world = new_world()
    actor, record = world.directory.resolve("council.lead", key_id(KEYS["council.lead"]))
    assert actor == USERS["council.lead"]
    assert record.public_key == KEYS["council.lead"]
    with pytest.raises(NotPermitted) as refused:
        world.directory.resolve("nobody", key_id(KEYS["council.lead"]))
    assert refused.value.rule == "signature.unknown_user"
    with pytest.raises(NotPermitted) as refused:
        world.directory.resolve("council.lead", key_id(KEYS["chair"]))  # someone else's key
    assert refused.value.rule == "signature.unknown_key"
    world.directory = world.apply(
        world.directory, revocation(world, "council.lead", "council.lead"), "council.lead"
    )
    with pytest.raises(NotPermitted) as refused:
        world.directory.resolve("council.lead", key_id(KEYS["council.lead"]))
    assert refused.value.rule == "signature.revoked_key"


# --------------------------------------------------------------------------------------
# Plan rules.


@pytest.mark.parametrize("by", [a for a in ACTORS if a != "ig"])
def test_only_the_implementation_group_imports_the_plan_and_adds_recommendations(
    by: str,
) -> None:
    directory = adopt_charter(new_directory())
    created = CAST.created(
        Plan.Created,
        PLAN_ID,
        "domain.plan:Plan",
        by,
        title="Plan",
        source="Report",
        agencies=[{"id": "council", "name": "Council"}],
        recommendations_expected=1,
    )
    with pytest.raises(NotPermitted) as refused:
        created.check(None, RuleContext(USERS[by], directory, None))
    assert by in refused.value.message
    assert refused.value.rule == "plan.import"
    plan = new_plan(directory)
    added = event(
        Plan.RecommendationAdded,
        plan,
        by,
        number=2,
        title="Second",
        text="",
        lead_agencies=["police"],
    )
    with pytest.raises(NotPermitted) as refused:
        added.check(plan, RuleContext(USERS[by], directory, plan))
    assert by in refused.value.message
    assert refused.value.rule == "plan.add_recommendation"
    added.check(plan, RuleContext(USERS["ig"], directory, plan))


def test_the_plan_is_imported_once() -> None:
    directory = new_directory()
    plan = new_plan(directory)
    again = CAST.created(
        Plan.Created,
        PLAN_ID,
        "domain.plan:Plan",
        "ig",
        title="Plan",
        source="Report",
        agencies=[{"id": "council", "name": "Council"}],
        recommendations_expected=1,
    )
    with pytest.raises(InvalidTransition):
        again.check(plan, RuleContext(USERS["ig"], directory, plan))


@pytest.mark.parametrize("leads", [["fire"], ["council", "fire"], [], ["Council"]])
def test_recommendation_lead_agencies_must_exist(leads: list[str]) -> None:
    plan = WORLD.plan
    ev = event(
        Plan.RecommendationAdded, plan, "ig", number=5, title="T", text="", lead_agencies=leads
    )
    with pytest.raises(InvalidInput):
        ev.check(plan, WORLD.ctx("ig"))


def test_duplicate_recommendation_is_refused() -> None:
    plan = WORLD.plan
    ev = event(
        Plan.RecommendationAdded,
        plan,
        "ig",
        number=1,
        title="Again",
        text="",
        lead_agencies=["council"],
    )
    with pytest.raises(InvalidTransition):
        ev.check(plan, WORLD.ctx("ig"))


# --------------------------------------------------------------------------------------
# Derived recommendation status.

S = Status


@pytest.mark.parametrize(
    ("statuses", "want"),
    [
        ([S.VERIFIED, S.VERIFIED], "verified"),
        ([S.VERIFIED], "verified"),
        ([S.NOT_IMPLEMENTABLE, S.VERIFIED, S.SUPERSEDED], "not_implementable"),
        ([S.VERIFIED, S.NOT_IMPLEMENTABLE], "not_implementable"),
        ([S.NOT_IMPLEMENTABLE, S.IN_PROGRESS], "in_progress"),
        ([S.SUPERSEDED, S.SUPERSEDED], "superseded"),
        ([S.VERIFIED, S.SUPERSEDED], "verified"),
        ([S.ACCEPTED, S.NOT_STARTED, S.ACCEPTED], "in_progress"),
        ([S.NOT_STARTED, S.NOT_STARTED], "not_started"),
        ([S.NOT_STARTED], "not_started"),
        ([S.NOT_STARTED, S.MERGED, S.WITHDRAWN], "not_started"),
        ([S.VERIFIED, S.MERGED], "verified"),
        ([S.VERIFIED, S.WITHDRAWN, S.MERGED, S.VERIFIED], "verified"),
        ([S.ACCEPTED, S.EVIDENCE_SUBMITTED], "evidence_submitted"),
        ([S.ACCEPTED, S.AGENCY_SIGNED_OFF, S.VERIFIED], "agency_signed_off"),
        ([S.ACCEPTED, S.VERIFIED], "accepted"),
        ([S.IN_PROGRESS, S.ACCEPTED], "in_progress"),
        ([S.MERGED, S.WITHDRAWN], "no_actions"),
        ([], "no_actions"),
    ],
)
def test_recommendation_status(statuses: list[Status], want: str) -> None:
    assert recommendation_status(statuses) == want
    assert recommendation_status(reversed(statuses)) == want
