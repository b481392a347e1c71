"""The directory's changes after registration (issue 14): a further key for a user, a move
to another role or agency, deactivation and reactivation. Pure domain, no ledger.

What is expected is written from the rule, not read from the code: a key is added by its
holder or their appointer; a role change is signed by one who could register the user
in their old role (of the old agency) AND in the new one; nobody moves anyone into or
out of the chair or administration; a deactivated user signs nothing and is given no key
until reactivated; the chair is never deactivated.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain import (
    Actor,
    Directory,
    InvalidInput,
    InvalidTransition,
    NotPermitted,
    Plan,
    Role,
    RuleContext,
)
from domain.charter import DEFAULT_APPOINTERS
from domain.directory import MAX_ACTIVE_KEYS
from tests.support.domain_world import Cast, DomainWorld, key_id, now, public_key

USERS: dict[str, Actor] = {
    "admin": Actor("admin", Role.ADMIN, None),
    "admin2": Actor("admin2", Role.ADMIN, None),
    "chair": Actor("chair", Role.CHAIR, None),
    "ig": Actor("ig", Role.IMPLEMENTATION_GROUP, None),
    "scrutiny": Actor("scrutiny", Role.SCRUTINY, None),
    "council.lead": Actor("council.lead", Role.AGENCY_LEAD, "council"),
    "police.lead": Actor("police.lead", Role.AGENCY_LEAD, "police"),
    "council.officer": Actor("council.officer", Role.OFFICER, "council"),
    "police.officer": Actor("police.officer", Role.OFFICER, "police"),
}
CAST = Cast(USERS)
KEYS = CAST.keys
signed = CAST.signed
#: Who registers each user (the default charter; administrators by administrators).
REGISTRAR = {
    "admin2": "admin",
    "ig": "chair",
    "scrutiny": "chair",
    "council.lead": "chair",
    "police.lead": "chair",
    "council.officer": "council.lead",
    "police.officer": "police.lead",
}


class World(DomainWorld):
    users = USERS

    def actor(self, user: str) -> Actor:
        """`user` as the directory knows them now (their role may have changed)."""
        return self.directory.users[user].actor()

    def do(self, cls: type[Any], by: str, **payload: Any) -> None:
        """Append `by`'s event of `cls`, signed as the directory knows `by` now."""
        self.append(signed(cls, self.directory, by, **payload), self.actor(by))

    def refused(self, cls: type[Any], by: str, **payload: Any) -> Any:
        """The DomainError `by`'s event of `cls` is refused with (it must be)."""
        event = signed(cls, self.directory, by, **payload)
        with pytest.raises((NotPermitted, InvalidInput, InvalidTransition)) as refusal:
            event.check(self.directory, self.ctx(self.actor(by)))
        return refusal.value


def world(appointers: dict[str, str] | None = None) -> World:
    """Genesis, the chair's charter, the plan (council and police), everyone registered."""
    adopted: Any = Directory.CharterAdopted
    w = World(CAST.genesis())
    charter = signed(
        adopted,
        w.directory,
        "chair",
        chair_id="chair",
        name="Chair",
        public_key=KEYS["chair"],
        title="Test inquiry",
        appointers=dict(appointers or DEFAULT_APPOINTERS),
        off_page_roles=[],
    )
    w.append(charter, USERS["chair"])
    imported = CAST.plan_imported("ig", recommendations_expected=1)
    w.plan = imported.mutate(None)
    table = dict(appointers or DEFAULT_APPOINTERS)
    for user, by in REGISTRAR.items():
        actor = USERS[user]
        if by == "chair" and table[actor.role.value] == "implementation_group":
            by = "ig"
        w.do(
            Directory.UserRegistered,
            by,
            user_id=user,
            name=user.title(),
            role=actor.role.value,
            agency=actor.agency,
            public_key=KEYS[user],
        )
    return w


def resolves(w: World, user: str, public: str) -> Actor:
    actor, _ = w.directory.resolve(user, key_id(public))
    return actor


# -- a further key -------------------------------------------------------------------------


def test_a_user_adds_a_second_key_and_signs_with_either() -> None:
    w = world()
    browser = public_key(50)
    w.do(Directory.KeyAdded, "council.officer", user_id="council.officer",
         public_key=browser, reason="the browser on my desk")  # fmt: skip
    user = w.directory.users["council.officer"]
    assert sorted(k.key_id for k in user.active_keys()) == sorted(
        [key_id(KEYS["council.officer"]), key_id(browser)]
    )
    for key in (KEYS["council.officer"], browser):
        assert resolves(w, "council.officer", key) == USERS["council.officer"]
    assert w.directory.key_owner[key_id(browser)] == "council.officer"


def test_the_holder_adds_keys_and_the_appointer_only_when_they_hold_none() -> None:
    """A key the appointer put beside the holder's would sign as them unnoticed (an
    agency lead's sign-off made by the chair): the appointer rotates a lost key (the
    holder's stop working, so they see it), or adds one to a user who holds none."""
    w = world()
    refusal = w.refused(Directory.KeyAdded, "council.lead", user_id="council.officer",
                        public_key=public_key(51), reason="a new laptop")  # fmt: skip
    assert isinstance(refusal, NotPermitted) and "beside council.officer's own" in refusal.message
    w.do(Directory.KeyAdded, "council.officer", user_id="council.officer",
         public_key=public_key(51), reason="a new laptop")  # fmt: skip
    for held in [k.key_id for k in w.directory.users["council.officer"].active_keys()]:
        w.do(Directory.KeyRevoked, "council.officer", user_id="council.officer",
             revoked_key_id=held, reason="both lost")  # fmt: skip
    w.do(Directory.KeyAdded, "council.lead", user_id="council.officer",
         public_key=public_key(54), reason="a key after both were lost")  # fmt: skip
    for by in ("police.lead", "admin", "ig", "council.officer"):
        if by == "council.officer":
            continue  # the user themself may (above)
        refusal = w.refused(Directory.KeyAdded, by, user_id="council.officer",
                            public_key=public_key(52), reason="sneaking in")  # fmt: skip
        assert isinstance(refusal, NotPermitted) and refusal.rule == "directory.add_key"
    refusal = w.refused(Directory.KeyAdded, "admin", user_id="chair",
                        public_key=public_key(52), reason="a key for the chair")  # fmt: skip
    assert refusal.rule == "directory.add_key" and "only the chair" in refusal.message
    w.do(Directory.KeyAdded, "chair", user_id="chair", public_key=public_key(53), reason="spare")


@pytest.mark.parametrize("taken", ["council.officer", "police.lead", "chair"])
def test_a_key_already_registered_to_anyone_is_refused(taken: str) -> None:
    w = world()
    refusal = w.refused(Directory.KeyAdded, "council.officer", user_id="council.officer",
                        public_key=KEYS[taken], reason="mine")  # fmt: skip
    assert isinstance(refusal, InvalidInput) and "already registered" in refusal.message


def test_a_user_holds_at_most_the_cap_of_active_keys() -> None:
    w = world()
    for n in range(MAX_ACTIVE_KEYS - 1):
        w.do(Directory.KeyAdded, "ig", user_id="ig", public_key=public_key(60 + n), reason="k")
    assert len(w.directory.users["ig"].active_keys()) == MAX_ACTIVE_KEYS
    refusal = w.refused(Directory.KeyAdded, "ig", user_id="ig", public_key=public_key(70),
                        reason="one more")  # fmt: skip
    assert refusal.rule == "directory.key_limit" and "revoke one first" in refusal.message
    w.do(Directory.KeyRevoked, "ig", user_id="ig", revoked_key_id=key_id(public_key(60)),
         reason="old laptop")  # fmt: skip
    w.do(Directory.KeyAdded, "ig", user_id="ig", public_key=public_key(70), reason="k")


def test_revoking_one_key_leaves_the_others_and_the_last_may_go_too() -> None:
    w = world()
    second = public_key(80)
    w.do(Directory.KeyAdded, "council.officer", user_id="council.officer",
         public_key=second, reason="browser")  # fmt: skip
    w.do(Directory.KeyRevoked, "council.officer", user_id="council.officer",
         revoked_key_id=key_id(KEYS["council.officer"]), reason="laptop stolen")  # fmt: skip
    with pytest.raises(NotPermitted) as revoked:
        resolves(w, "council.officer", KEYS["council.officer"])
    assert revoked.value.rule == "signature.revoked_key"
    assert resolves(w, "council.officer", second) == USERS["council.officer"]
    # Signed with the remaining key: the officer revokes their last one.
    w.do(Directory.KeyRevoked, "council.officer", user_id="council.officer",
         revoked_key_id=key_id(second), reason="leaving for a month")  # fmt: skip
    assert w.directory.users["council.officer"].active_keys() == []


# -- a change of role or agency --------------------------------------------------------------


def test_the_chair_moves_an_agency_lead_to_another_agency_from_then_on() -> None:
    w = world()
    w.do(Directory.UserRoleChanged, "chair", user_id="council.lead", role="agency_lead",
         agency="police", reason="seconded to the police")  # fmt: skip
    moved = resolves(w, "council.lead", KEYS["council.lead"])
    assert (moved.role, moved.agency) == (Role.AGENCY_LEAD, "police")
    assert w.directory.users["council.lead"].appointed_by == "chair"
    # From then on they appoint police officers, not council ones.
    w.do(Directory.UserRegistered, "council.lead", user_id="new.officer", name="New",
         role="officer", agency="police", public_key=public_key(90))  # fmt: skip
    refusal = w.refused(Directory.UserRegistered, "council.lead", user_id="other", name="O",
                        role="officer", agency="council", public_key=public_key(91))  # fmt: skip
    assert isinstance(refusal, NotPermitted)


def test_the_chair_moves_the_implementation_group_member_to_scrutiny() -> None:
    w = world()
    w.do(Directory.UserRoleChanged, "chair", user_id="ig", role="scrutiny", agency=None,
         reason="joined the scrutiny panel")  # fmt: skip
    assert resolves(w, "ig", KEYS["ig"]).role is Role.SCRUTINY


@pytest.mark.parametrize(
    ("by", "user", "role", "agency"),
    [
        ("admin", "ig", "chair", None),  # the operator's admin mints a chair
        ("admin", "scrutiny", "implementation_group", None),
        ("admin", "admin2", "implementation_group", None),  # an admin into an appointed role
        ("admin", "admin2", "officer", "council"),
        ("chair", "ig", "chair", None),  # not even the chair makes another chair
        ("chair", "ig", "admin", None),  # nor anyone an administrator
        ("chair", "admin2", "scrutiny", None),  # nor an administrator anything else
        ("ig", "chair", "implementation_group", None),  # nobody moves the chair out
    ],
)
def test_nobody_moves_anyone_into_or_out_of_the_chair_or_administration(
    by: str, user: str, role: str, agency: str | None
) -> None:
    w = world()
    refusal = w.refused(Directory.UserRoleChanged, by, user_id=user, role=role, agency=agency,
                        reason="a promotion")  # fmt: skip
    assert isinstance(refusal, NotPermitted) and refusal.rule == "directory.change_role"
    assert w.directory.users[user].role is USERS[user].role


@pytest.mark.parametrize(
    ("by", "user", "role", "agency"),
    [
        ("council.lead", "police.officer", "officer", "council"),  # another agency's officer
        ("police.lead", "council.officer", "officer", "police"),
        ("council.lead", "council.officer", "officer", "police"),  # out to another agency
        ("council.lead", "council.officer", "agency_lead", "council"),  # leads are the chair's
        ("chair", "council.officer", "agency_lead", "council"),  # officers are the leads'
        ("ig", "council.lead", "agency_lead", "police"),  # leads are the chair's here
        ("ig", "scrutiny", "implementation_group", None),
        ("council.lead", "council.lead", "agency_lead", "police"),  # nobody moves themself
        ("scrutiny", "ig", "scrutiny", None),
    ],
)
def test_the_signer_must_appoint_both_the_old_role_and_the_new(
    by: str, user: str, role: str, agency: str | None
) -> None:
    w = world()
    refusal = w.refused(Directory.UserRoleChanged, by, user_id=user, role=role, agency=agency,
                        reason="reorganisation")  # fmt: skip
    assert isinstance(refusal, NotPermitted) and refusal.rule == "directory.change_role"


def test_under_a_charter_naming_the_group_for_leads_the_group_moves_a_lead() -> None:
    w = world({**DEFAULT_APPOINTERS, "agency_lead": "implementation_group"})
    w.do(Directory.UserRoleChanged, "ig", user_id="police.lead", role="agency_lead",
         agency="council", reason="moved to the council")  # fmt: skip
    assert resolves(w, "police.lead", KEYS["police.lead"]).agency == "council"
    refusal = w.refused(Directory.UserRoleChanged, "chair", user_id="council.lead",
                        role="agency_lead", agency="police", reason="r")  # fmt: skip
    assert isinstance(refusal, NotPermitted)


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ({"role": "agency_lead", "agency": "council"}, "nothing changes"),
        ({"role": "agency_lead", "agency": "fire"}, "unknown agency 'fire'"),
        ({"role": "agency_lead", "agency": None}, "needs an agency"),
        ({"role": "scrutiny", "agency": "council"}, "acts for no agency"),
        ({"role": "deputy", "agency": None}, "unknown role 'deputy'"),
        ({"role": "scrutiny", "agency": None, "reason": " "}, "reason"),
    ],
)
def test_a_malformed_role_change_is_refused(payload: dict[str, Any], says: str) -> None:
    w = world()
    refusal = w.refused(Directory.UserRoleChanged, "chair",
                        **{"user_id": "council.lead", "reason": "r", **payload})  # fmt: skip
    assert isinstance(refusal, InvalidInput) and says in refusal.message


# -- deactivation and reactivation -----------------------------------------------------------


def test_a_deactivated_users_keys_stop_signing_and_they_get_no_new_key() -> None:
    w = world()
    w.do(Directory.KeyAdded, "council.officer", user_id="council.officer",
         public_key=public_key(95), reason="browser")  # fmt: skip
    w.do(Directory.UserDeactivated, "council.lead", user_id="council.officer",
         reason="left the council")  # fmt: skip
    user = w.directory.users["council.officer"]
    assert not user.active and user.active_keys() == []
    assert all(k.revoked_reason == "deactivated: left the council" for k in user.keys.values())
    for key in (KEYS["council.officer"], public_key(95)):
        with pytest.raises(NotPermitted) as refused:
            resolves(w, "council.officer", key)
        assert refused.value.rule == "signature.deactivated_user"
        assert "left the council" in refused.value.message
    for cls, payload in (
        (Directory.KeyAdded, {"public_key": public_key(96)}),
        (Directory.KeyRotated, {"new_public_key": public_key(96)}),
        (Directory.UserRoleChanged, {"role": "officer", "agency": "police"}),
        (Directory.UserDeactivated, {}),
    ):
        refusal = w.refused(cls, "council.lead", user_id="council.officer", reason="r", **payload)
        assert isinstance(refusal, InvalidTransition) and "reactivate them first" in refusal.message


def test_reactivation_by_the_appointer_then_a_new_key() -> None:
    w = world()
    w.do(Directory.UserDeactivated, "council.officer", user_id="council.officer",
         reason="parental leave")  # fmt: skip
    refusal = w.refused(Directory.UserReactivated, "police.lead", user_id="council.officer",
                        reason="back")  # fmt: skip
    assert isinstance(refusal, NotPermitted)
    refusal = w.refused(Directory.UserReactivated, "council.officer",
                        user_id="council.officer", reason="back")  # fmt: skip
    assert isinstance(refusal, NotPermitted)
    w.do(Directory.UserReactivated, "council.lead", user_id="council.officer", reason="back")
    user = w.directory.users["council.officer"]
    assert user.active and user.active_keys() == []  # the old keys stay revoked
    with pytest.raises(NotPermitted) as refused:
        resolves(w, "council.officer", KEYS["council.officer"])
    assert refused.value.rule == "signature.revoked_key"
    w.do(Directory.KeyAdded, "council.lead", user_id="council.officer",
         public_key=public_key(97), reason="a new laptop")  # fmt: skip
    assert resolves(w, "council.officer", public_key(97)) == USERS["council.officer"]
    refusal = w.refused(Directory.UserReactivated, "council.lead", user_id="council.officer",
                        reason="again")  # fmt: skip
    assert isinstance(refusal, InvalidTransition) and "not deactivated" in refusal.message


@pytest.mark.parametrize("by", ["police.lead", "admin", "ig", "police.officer"])
def test_only_the_user_or_their_appointer_deactivates_them(by: str) -> None:
    w = world()
    refusal = w.refused(Directory.UserDeactivated, by, user_id="council.officer", reason="r")
    assert isinstance(refusal, NotPermitted) and refusal.rule == "directory.deactivate_user"


@pytest.mark.parametrize("by", ["chair", "admin", "ig"])
def test_the_chair_is_never_deactivated(by: str) -> None:
    w = world()
    refusal = w.refused(Directory.UserDeactivated, by, user_id="chair", reason="r")
    assert refusal.rule == "directory.chair_deactivation"


def test_the_last_administrator_with_a_key_is_not_deactivated() -> None:
    w = world()
    w.do(Directory.UserDeactivated, "admin", user_id="admin2", reason="left")
    refusal = w.refused(Directory.UserDeactivated, "admin", user_id="admin", reason="r")
    assert refusal.rule == "directory.last_admin_key"


def test_a_deactivated_user_is_refused_whatever_they_sign() -> None:
    """The rule context is built from `resolve`: a deactivated user has no actor at all,
    so no event of theirs reaches its rule (the ledger and every replay say so)."""
    w = world()
    w.do(Directory.UserDeactivated, "chair", user_id="ig", reason="stood down")
    with pytest.raises(NotPermitted) as refused:
        w.directory.resolve("ig", key_id(KEYS["ig"]))
    assert "ig was deactivated at" in refused.value.message
    assert "stood down" in refused.value.message
    assert isinstance(w.plan, Plan)  # the plan they imported stands
    assert RuleContext(USERS["chair"], w.directory, w.plan).actor.role is Role.CHAIR
    assert now() > w.directory.users["ig"].deactivated_at  # type: ignore[operator]


def test_an_entry_is_shown_under_the_role_its_signer_held_then() -> None:
    """Timelines, the report and the public tracker name a signer by `role_at` the
    entry's time: a move to another role changes how later entries read, not earlier."""
    from datetime import UTC, datetime

    from domain.directory import User

    day = lambda d: datetime(2024, 1, d, tzinfo=UTC)  # noqa: E731
    user = User("kim", "Kim", Role.SCRUTINY, None)
    user.held = [(day(1), Role.AGENCY_LEAD, "council"), (day(10), Role.SCRUTINY, None)]
    assert user.role_at(day(5)) == (Role.AGENCY_LEAD, "council")
    assert user.role_at(day(1)) == (Role.AGENCY_LEAD, "council")
    assert user.role_at(datetime(2023, 12, 1, tzinfo=UTC)) == (Role.AGENCY_LEAD, "council")
    assert user.role_at(day(10)) == (Role.SCRUTINY, None)
    assert User("lee", "Lee", Role.CHAIR, None).role_at(day(3)) == (Role.CHAIR, None)
