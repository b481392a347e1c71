"""The read-access policy (api/application/access.py): its whole truth table."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from api.application.access import (
    AUDITORS,
    AccessDenied,
    acts_for_agency,
    agency_scope,
    is_auditor,
    is_witness,
    may_read_action,
    may_read_evidence,
    require_auditor,
    require_readable_action,
    require_readable_evidence,
)
from domain import Actor, Role

OFFICER = Actor("jo", Role.OFFICER, "council")
LEAD = Actor("lee", Role.AGENCY_LEAD, "council")
GROUP = Actor("sig", Role.IMPLEMENTATION_GROUP, None)
CHAIR = Actor("chair", Role.CHAIR, None)
SCRUTINY = Actor("scrutiny", Role.SCRUTINY, None)
ADMIN = Actor("admin", Role.ADMIN, None)
EVERYONE = (OFFICER, LEAD, GROUP, CHAIR, SCRUTINY, ADMIN)

# actor: (auditor, witness, scoped to an agency)
TABLE = {
    OFFICER: (False, False, True),
    LEAD: (False, False, True),
    GROUP: (True, False, False),
    CHAIR: (True, True, False),
    SCRUTINY: (True, True, False),
    ADMIN: (True, False, False),
}


def test_the_roles_cover_every_role_once() -> None:
    assert {a.role for a in EVERYONE} == set(Role)
    assert frozenset({Role.CHAIR, Role.SCRUTINY, Role.IMPLEMENTATION_GROUP, Role.ADMIN}) == AUDITORS


@pytest.mark.parametrize("actor", EVERYONE, ids=lambda a: a.role.value)
def test_truth_table(actor: Actor) -> None:
    auditor, witness, scoped = TABLE[actor]
    assert is_auditor(actor) is auditor
    assert is_witness(actor) is witness
    assert acts_for_agency(actor) is scoped
    assert agency_scope(actor) == ("council" if scoped else None)
    assert may_read_action(actor, "council") is True
    assert may_read_action(actor, "police") is (not scoped)
    assert may_read_action(actor, None) is (not scoped)
    assert may_read_evidence(actor, ["council"]) is True
    assert may_read_evidence(actor, ["police", "council"]) is True
    assert may_read_evidence(actor, ["police"]) is (not scoped)
    assert may_read_evidence(actor, []) is (not scoped)


@pytest.mark.parametrize("actor", EVERYONE, ids=lambda a: a.role.value)
def test_the_requirements_raise_exactly_when_the_predicates_say_no(actor: Actor) -> None:
    auditor, _, scoped = TABLE[actor]
    checks: list[tuple[Callable[[], object], bool, str]] = [
        (lambda: require_auditor(actor, "read the whole log"), auditor, "may not read the whole"),
        (lambda: require_readable_action(actor, "police"), not scoped, "reads only council's"),
        (lambda: require_readable_evidence(actor, {"police"}), not scoped, "council's evidence"),
    ]
    for check, allowed, words in checks:
        if allowed:
            check()
        else:
            with pytest.raises(AccessDenied, match=words) as refused:
                check()
            assert refused.value.code == "forbidden"
            assert actor.describe() in str(refused.value)


def test_evidence_agencies_are_only_looked_up_for_a_scoped_actor() -> None:
    def lookups() -> object:
        raise AssertionError("looked up")
        yield  # pragma: no cover

    assert may_read_evidence(CHAIR, lookups())  # type: ignore[arg-type]
    with pytest.raises(AssertionError):
        may_read_evidence(OFFICER, lookups())  # type: ignore[arg-type]
