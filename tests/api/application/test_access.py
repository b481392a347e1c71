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
    may_read_user,
    require_auditor,
    require_readable_action,
    require_readable_evidence,
    require_session_reader,
)
from domain import Actor, Role

OFFICER = Actor("jo", Role.OFFICER, "council")
LEAD = Actor("lee", Role.AGENCY_LEAD, "council")
GROUP = Actor("sig", Role.IMPLEMENTATION_GROUP, None)
CHAIR = Actor("chair", Role.CHAIR, None)
SCRUTINY = Actor("scrutiny", Role.SCRUTINY, None)
ADMIN = Actor("admin", Role.ADMIN, None)
CONSULTEE = Actor("consultee", Role.LIVED_EXPERIENCE, None)
EVERYONE = (OFFICER, LEAD, GROUP, CHAIR, SCRUTINY, ADMIN, CONSULTEE)
#: Who reads no evidence file at all (lived-experience consultees: the files can hold
#: personal data about children; they judge the actions, not the files).
NO_FILES = {CONSULTEE}

# actor: (auditor, witness, scoped to an agency)
TABLE = {
    OFFICER: (False, False, True),
    LEAD: (False, False, True),
    GROUP: (True, False, False),
    CHAIR: (True, True, False),
    SCRUTINY: (True, True, False),
    ADMIN: (True, False, False),
    CONSULTEE: (False, False, False),
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
    files = actor not in NO_FILES
    assert may_read_evidence(actor, ["council"]) is files
    assert may_read_evidence(actor, ["police", "council"]) is files
    assert may_read_evidence(actor, ["police"]) is (files and not scoped)
    assert may_read_evidence(actor, []) is (files and not scoped)


@pytest.mark.parametrize("actor", EVERYONE, ids=lambda a: a.role.value)
def test_the_requirements_raise_exactly_when_the_predicates_say_no(actor: Actor) -> None:
    auditor, _, scoped = TABLE[actor]
    checks: list[tuple[Callable[[], object], bool, str]] = [
        (lambda: require_auditor(actor, "read the whole log"), auditor, "may not read the whole"),
        (lambda: require_readable_action(actor, "police"), not scoped, "reads only council's"),
        (
            lambda: require_readable_evidence(actor, {"police"}),
            not scoped and actor not in NO_FILES,
            "reads no evidence files" if actor in NO_FILES else "council's evidence",
        ),
        (
            lambda: require_session_reader(actor, "read the sessions"),
            auditor or actor is CONSULTEE,
            "may not read the sessions",
        ),
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


def test_a_consultee_is_seen_only_by_auditors_and_other_consultees() -> None:
    """A lived-experience consultee may be a survivor: agencies' people never list them,
    and they list only the bodies agencies answer to and one another."""
    for reader in EVERYONE:
        expected = reader.role in AUDITORS or reader is CONSULTEE
        assert may_read_user(reader, Role.LIVED_EXPERIENCE, None) is expected, reader
    assert may_read_user(CONSULTEE, Role.CHAIR, None)
    assert may_read_user(CONSULTEE, Role.SCRUTINY, None)
    assert not may_read_user(CONSULTEE, Role.OFFICER, "council")
    assert not may_read_user(CONSULTEE, Role.AGENCY_LEAD, "council")
    assert not may_read_user(CONSULTEE, Role.ADMIN, None)
