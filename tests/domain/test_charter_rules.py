"""Charter rules: every authority in the log is rooted in the chair's self-signed charter.

Pure domain, no ledger and no I/O, like tests/domain/test_domain_rules.py. What is expected
below is written from the charter's table (domain/charter.py's docstring and the README's
"Authority comes from the chair, not the operator"), not read from APPOINTER_CHOICES or
require_appointer, so that a wrong entry in the module shows up as a failing case here:

    role                   appointed by (the charter may choose)   default
    implementation_group   chair                                   chair
    agency_lead            chair or implementation_group           chair
    scrutiny               chair or implementation_group           chair
    lived_experience       chair or implementation_group           chair
                           (a charter older than the role may leave it out: chair)
    officer                agency_lead of the same agency          agency_lead
    admin                  admin (outside the charter)             admin
    chair                  nobody: the charter itself              -

A key is changed by its holder, or by a holder of the role that appoints them; the chair's
only by the chair. The administrator appoints nobody but administrators and edits no plan.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any

import pytest

from domain import (
    DIRECTORY_ID,
    Action,
    Actor,
    Directory,
    InvalidInput,
    InvalidTransition,
    NotPermitted,
    Plan,
    Role,
    RuleContext,
)
from domain.charter import (
    APPOINTER_CHOICES,
    DEFAULT_APPOINTERS,
    parse_appointers,
    parse_off_page_roles,
)
from tests.support.domain_world import ORIGIN, Cast, DomainWorld, key_id, now, public_key

# --------------------------------------------------------------------------------------
# The charter's table, from the specification.

#: For each appointed role, the roles a charter may name as its appointer.
CHOICES = {
    "implementation_group": {"chair"},
    "agency_lead": {"chair", "implementation_group"},
    "scrutiny": {"chair", "implementation_group"},
    "lived_experience": {"chair", "implementation_group"},
    "officer": {"agency_lead"},
}
DEFAULT = {
    "implementation_group": "chair",
    "agency_lead": "chair",
    "scrutiny": "chair",
    "lived_experience": "chair",
    "officer": "agency_lead",
}
#: The charters this file builds worlds under: the default, and the alternatives that
#: ``charter adopt --leads-appointed-by`` / ``--scrutiny-appointed-by implementation_group``
#: produce.
CHARTERS = {
    "default": DEFAULT,
    "leads_by_ig": {**DEFAULT, "agency_lead": "implementation_group"},
    "scrutiny_by_ig": {**DEFAULT, "scrutiny": "implementation_group"},
    "both_by_ig": {
        **DEFAULT,
        "agency_lead": "implementation_group",
        "scrutiny": "implementation_group",
    },
}


def test_the_modules_default_is_the_charters_default() -> None:
    assert dict(DEFAULT_APPOINTERS) == DEFAULT


def test_the_modules_choices_are_the_charters_choices() -> None:
    module = {role.value: {r.value for r in allowed} for role, allowed in APPOINTER_CHOICES.items()}
    assert module == CHOICES


# --------------------------------------------------------------------------------------
# The world: a genesis administrator, a charter, and one user per role (two admins, two
# agencies), each registered by their appointer.

USERS: dict[str, Actor] = {
    "admin": Actor("admin", Role.ADMIN, None),
    "admin2": Actor("admin2", Role.ADMIN, None),
    "chair": Actor("chair", Role.CHAIR, None),
    "ig": Actor("ig", Role.IMPLEMENTATION_GROUP, None),
    "scrutiny": Actor("scrutiny", Role.SCRUTINY, None),
    "consultee": Actor("consultee", Role.LIVED_EXPERIENCE, None),
    "council.lead": Actor("council.lead", Role.AGENCY_LEAD, "council"),
    "police.lead": Actor("police.lead", Role.AGENCY_LEAD, "police"),
    "council.officer": Actor("council.officer", Role.OFFICER, "council"),
    "police.officer": Actor("police.officer", Role.OFFICER, "police"),
}
ACTORS = list(USERS)
CAST = Cast(USERS)  # their keys and the events they sign (tests/support/domain_world.py)
KEYS = CAST.keys
signed = CAST.signed  # signed(cls, state, actor, **payload): by actor with their key
NEW_KEY = public_key(100)  # nobody holds it yet

RoleAndAgency = tuple[str, str | None]

#: Who may register a new user of (role, agency) under the default charter, by name.
REGISTRARS_DEFAULT: dict[RoleAndAgency, set[str]] = {
    ("implementation_group", None): {"chair"},
    ("agency_lead", "council"): {"chair"},
    ("agency_lead", "police"): {"chair"},
    ("scrutiny", None): {"chair"},
    ("lived_experience", None): {"chair"},
    ("officer", "council"): {"council.lead"},
    ("officer", "police"): {"police.lead"},
    ("admin", None): {"admin", "admin2"},
    ("chair", None): set(),
}
LEADS_BY_IG: dict[RoleAndAgency, set[str]] = {
    ("agency_lead", "council"): {"ig"},
    ("agency_lead", "police"): {"ig"},
}
SCRUTINY_BY_IG: dict[RoleAndAgency, set[str]] = {("scrutiny", None): {"ig"}}
REGISTRARS: dict[str, dict[RoleAndAgency, set[str]]] = {
    "default": REGISTRARS_DEFAULT,
    "leads_by_ig": {**REGISTRARS_DEFAULT, **LEADS_BY_IG},
    "scrutiny_by_ig": {**REGISTRARS_DEFAULT, **SCRUTINY_BY_IG},
    "both_by_ig": {**REGISTRARS_DEFAULT, **LEADS_BY_IG, **SCRUTINY_BY_IG},
}
NEW_USERS = list(REGISTRARS_DEFAULT)


def appointers_of(charter: str, user: str) -> set[str]:
    """Who, besides `user`, may change their key: whoever may appoint someone like them."""
    actor = USERS[user]
    return REGISTRARS[charter][(actor.role.value, actor.agency)]


@dataclass
class World(DomainWorld):
    users = USERS
    charter: str = "default"  # the name of its charter in CHARTERS


def genesis() -> Directory:
    return CAST.genesis()


def charter_adopted(
    directory: Directory | None,
    *,
    appointers: Any = None,
    off_page_roles: Any = None,
    signer: str = "chair",
    signing_key: str | None = None,
    **overrides: Any,
) -> Any:
    """The chair's charter: by default self-signed by "chair" with the key it registers."""
    payload = {
        "chair_id": "chair",
        "name": "Independent Chair",
        "public_key": KEYS["chair"],
        "title": "Test inquiry",
        "appointers": dict(DEFAULT if appointers is None else appointers),
        "off_page_roles": [] if off_page_roles is None else off_page_roles,
    }
    payload.update(overrides)
    adopted: type[Any] = Directory.CharterAdopted  # mypy sees no fields in eventsourcing's
    return adopted(
        originator_id=DIRECTORY_ID,
        originator_version=1 if directory is None else directory.version + 1,
        timestamp=now(),
        actor=signer,
        key_id=key_id(signing_key or payload["public_key"]),
        signature="",
        log_origin=ORIGIN,
        **payload,
    )


def adopt(directory: Directory, charter: str = "default") -> Directory:
    ev = charter_adopted(directory, appointers=CHARTERS[charter])
    ev.check(directory, RuleContext(USERS["chair"], directory, None))
    adopted: Directory = ev.mutate(directory)
    return adopted


def registration(world: World, by: str, user: str, **overrides: Any) -> Any:
    """`by`'s registration of `user` (one of USERS, or a new user given by overrides)."""
    actor = USERS.get(user)
    payload = {
        "user_id": user,
        "name": user.title(),
        "role": actor.role.value if actor else "officer",
        "agency": actor.agency if actor else "council",
        "public_key": KEYS.get(user, NEW_KEY),
    }
    payload.update(overrides)
    return signed(Directory.UserRegistered, world.directory, by, **payload)


def register(world: World, user: str) -> None:
    """Register `user` by (the first by name of) those the world's charter allows."""
    by = sorted(appointers_of(world.charter, user))[0]
    world.append(registration(world, by, user), by)


def plan_imported(by: str) -> Any:
    return CAST.plan_imported(by, recommendations_expected=1)


def recommendation_added(plan: Plan, by: str, number: int = 1) -> Any:
    return signed(
        Plan.RecommendationAdded,
        plan,
        by,
        number=number,
        title="A recommendation",
        text="Do the thing.",
        lead_agencies=["council"],
    )


def new_plan(world: World) -> Plan:
    imported = plan_imported("ig")
    imported.check(None, world.ctx("ig"))
    plan: Plan = imported.mutate(None)
    added = recommendation_added(plan, "ig")
    added.check(plan, RuleContext(USERS["ig"], world.directory, plan))
    plan = added.mutate(plan)
    return plan


def chartered(charter: str = "default") -> World:
    """Genesis, the chair's charter, then everyone registered by their appointer: the
    implementation group before it imports the plan, the agency leads after it (their
    agencies come from the plan), and the officers by their agency's lead."""
    world = World(adopt(genesis(), charter), charter=charter)
    register(world, "admin2")
    register(world, "ig")
    world.plan = new_plan(world)
    for user in (
        "scrutiny",
        "consultee",
        "council.lead",
        "police.lead",
        "council.officer",
        "police.officer",
    ):
        register(world, user)
    return world


@pytest.mark.parametrize("charter", CHARTERS)
def test_every_user_is_registered_by_their_appointer(charter: str) -> None:
    world = chartered(charter)
    assert set(world.directory.users) == set(USERS)
    for name, user in world.directory.users.items():
        assert user.actor() == USERS[name]
        if name in ("admin", "chair"):  # the genesis and the charter appoint themselves
            assert user.appointed_by is None
        else:
            assert user.appointed_by in appointers_of(charter, name)


# --------------------------------------------------------------------------------------
# Adopting the charter: self-signed by the chair, once.


def test_the_chair_adopts_the_charter_with_their_own_key() -> None:
    directory = genesis()
    ev = charter_adopted(
        directory, appointers=CHARTERS["leads_by_ig"], off_page_roles=["chair", "officer"]
    )
    ev.check(directory, RuleContext(USERS["chair"], directory, None))
    directory = ev.mutate(directory)
    charter = directory.charter
    assert charter is not None
    assert (charter.chair_id, charter.title) == ("chair", "Test inquiry")
    assert charter.appointers == {
        Role.IMPLEMENTATION_GROUP: Role.CHAIR,
        Role.AGENCY_LEAD: Role.IMPLEMENTATION_GROUP,
        Role.SCRUTINY: Role.CHAIR,
        Role.LIVED_EXPERIENCE: Role.CHAIR,
        Role.OFFICER: Role.AGENCY_LEAD,
    }
    assert charter.off_page_roles == {"chair", "officer"}
    assert charter.appointer_of(Role.CHAIR) is None
    assert charter.appointer_of(Role.ADMIN) is Role.ADMIN
    chair = directory.users["chair"]
    assert (chair.role, chair.agency, chair.appointed_by) == (Role.CHAIR, None, None)
    assert [k.key_id for k in chair.active_keys()] == [key_id(KEYS["chair"])]
    actor, _ = directory.resolve("chair", key_id(KEYS["chair"]))
    assert actor == USERS["chair"]


@pytest.mark.parametrize(
    ("signer", "signing_key"),
    [
        ("admin", KEYS["admin"]),  # the operator's administrator
        ("admin", KEYS["chair"]),  # ... even naming the chair's key
        ("chair", KEYS["admin"]),  # the chair's name over someone else's key
        ("chair", NEW_KEY),  # ... or over a key the charter does not register
        ("ig", KEYS["ig"]),
    ],
)
def test_the_charter_is_signed_by_the_chair_key_it_names(signer: str, signing_key: str) -> None:
    directory = genesis()
    ev = charter_adopted(directory, signer=signer, signing_key=signing_key)
    with pytest.raises(NotPermitted) as refused:
        ev.check(directory, RuleContext(USERS[signer], directory, None))
    assert refused.value.rule == "directory.charter"
    assert directory.charter is None


@pytest.mark.parametrize(
    "second",
    [
        {},  # the same charter again
        {"appointers": CHARTERS["leads_by_ig"]},  # the same chair changing the table
        {"chair_id": "chair2", "public_key": NEW_KEY, "signer": "chair2"},  # another chair
    ],
)
def test_a_ledger_has_one_charter(second: dict[str, Any]) -> None:
    world = chartered()
    ev = charter_adopted(world.directory, **second)
    with pytest.raises(InvalidTransition) as refused:
        ev.check(world.directory, RuleContext(USERS["chair"], world.directory, world.plan))
    assert refused.value.rule == "directory.charter"
    assert "already" in refused.value.message


def test_the_chair_is_a_new_user_with_a_new_key() -> None:
    directory = genesis()
    squatted = charter_adopted(directory, chair_id="admin", signer="admin", public_key=NEW_KEY)
    with pytest.raises(InvalidTransition) as refused:
        squatted.check(directory, RuleContext(USERS["chair"], directory, None))
    assert refused.value.rule == "directory.charter"
    assert "user 'admin' already exists" in refused.value.message
    reused_key = charter_adopted(directory, public_key=KEYS["admin"])
    with pytest.raises(InvalidInput) as refused_key:
        reused_key.check(directory, RuleContext(USERS["chair"], directory, None))
    assert refused_key.value.rule == "directory.charter"


def test_there_is_no_charter_before_the_genesis() -> None:
    ev = charter_adopted(None)
    with pytest.raises(InvalidTransition) as refused:
        ev.check(None, RuleContext(USERS["chair"], None, None))
    assert refused.value.rule == "aggregate.exists"


@pytest.mark.parametrize(
    "bad",
    [
        {"chair_id": "Chair"},
        {"chair_id": ""},
        {"name": ""},
        {"name": "   "},
        {"title": ""},
        {"appointers": {**DEFAULT, "officer": "chair"}},
        {"appointers": {**DEFAULT, "agency_lead": "admin"}},
        {"appointers": {"officer": "agency_lead"}},
        {"off_page_roles": ["admin"]},
        {"off_page_roles": "chair"},
    ],
)
def test_a_malformed_charter_is_refused(bad: dict[str, Any]) -> None:
    directory = genesis()
    signer = bad.get("chair_id", "chair")
    ev = charter_adopted(directory, signer=signer, **bad)
    with pytest.raises(InvalidInput) as refused:
        ev.check(directory, RuleContext(USERS["chair"], directory, None))
    assert refused.value.rule == "directory.charter"


# --------------------------------------------------------------------------------------
# parse_appointers and parse_off_page_roles.

RULE = "test.rule"
TABLES = [
    dict(zip(CHOICES, picks, strict=True))
    for picks in itertools.product(*(sorted(CHOICES[role]) for role in CHOICES))
]


@pytest.mark.parametrize("table", TABLES)
def test_every_table_the_choices_allow_is_accepted(table: dict[str, str]) -> None:
    parsed = parse_appointers(table, RULE)
    assert {role.value: by.value for role, by in parsed.items()} == table
    assert all(isinstance(r, Role) and isinstance(b, Role) for r, b in parsed.items())


def test_there_are_eight_such_tables() -> None:
    assert len(TABLES) == 8  # leads, scrutiny and consultees: chair or the group


@pytest.mark.parametrize(
    "table",
    [
        {},
        {k: v for k, v in DEFAULT.items() if k != "officer"},  # a role left out
        {**DEFAULT, "admin": "admin"},  # administrators are outside the charter
        {**DEFAULT, "chair": "chair"},  # nobody appoints the chair
        {**DEFAULT, "mayor": "chair"},
        None,
        "chair",
        list(DEFAULT.items()),
    ],
)
def test_a_table_names_every_appointed_role(table: Any) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_appointers(table, RULE)
    assert refused.value.rule == RULE
    assert "appointers must name" in refused.value.message


def test_a_charter_older_than_the_consultee_role_leaves_the_chair_to_appoint_them() -> None:
    """Charters signed before the lived-experience role name four roles; they stay valid,
    and only the chair (the root) appoints consultees under them."""
    old = {k: v for k, v in DEFAULT.items() if k != "lived_experience"}
    table = parse_appointers({**old, "scrutiny": "implementation_group"}, RULE)
    assert table[Role.LIVED_EXPERIENCE] is Role.CHAIR
    assert table[Role.SCRUTINY] is Role.IMPLEMENTATION_GROUP
    chosen = parse_appointers({**DEFAULT, "lived_experience": "implementation_group"}, RULE)
    assert chosen[Role.LIVED_EXPERIENCE] is Role.IMPLEMENTATION_GROUP


@pytest.mark.parametrize("appointer", ["mayor", "CHAIR", " chair", "", None, 1, ["chair"]])
@pytest.mark.parametrize("role", list(CHOICES))
def test_an_unknown_appointer_is_refused(role: str, appointer: Any) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_appointers({**DEFAULT, role: appointer}, RULE)
    assert refused.value.rule == RULE
    assert "unknown appointer role" in refused.value.message


OUTSIDE_THE_CHOICES = [
    (role, appointer.value)
    for role in CHOICES
    for appointer in Role
    if appointer.value not in CHOICES[role]
]


@pytest.mark.parametrize(("role", "appointer"), OUTSIDE_THE_CHOICES)
def test_an_appointer_outside_the_choices_is_refused(role: str, appointer: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_appointers({**DEFAULT, role: appointer}, RULE)
    assert refused.value.rule == RULE
    assert f"{role} may be appointed by" in refused.value.message
    assert appointer in refused.value.message


def test_the_admin_is_outside_every_choice() -> None:
    assert ("implementation_group", "admin") in OUTSIDE_THE_CHOICES
    assert all((role, "admin") in OUTSIDE_THE_CHOICES for role in CHOICES)
    assert all((role, role) in OUTSIDE_THE_CHOICES for role in CHOICES)  # no self-appointing


SIGNING_ROLES = ["chair", "implementation_group", "agency_lead", "scrutiny", "officer"]


@pytest.mark.parametrize(
    "roles", [[], ["chair"], ["chair", "implementation_group"], SIGNING_ROLES, ["chair", "chair"]]
)
def test_off_page_roles_name_roles_that_sign(roles: list[str]) -> None:
    assert parse_off_page_roles(roles, RULE) == frozenset(roles)


@pytest.mark.parametrize("roles", [["admin"], ["chair", "admin"], ["mayor"], ["Chair"], [""]])
def test_off_page_roles_refuse_roles_that_do_not_sign(roles: list[str]) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_off_page_roles(roles, RULE)
    assert refused.value.rule == RULE
    assert "not roles that sign" in refused.value.message


@pytest.mark.parametrize(
    "value", ["chair", None, ("chair",), {"chair": True}, [1], ["chair", None]]
)
def test_off_page_roles_are_a_list_of_names(value: Any) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_off_page_roles(value, RULE)
    assert refused.value.rule == RULE
    assert "must be a list" in refused.value.message


# --------------------------------------------------------------------------------------
# Registration: each role from exactly its charter's appointer.


@pytest.mark.parametrize("by", ACTORS)
@pytest.mark.parametrize(("role", "agency"), NEW_USERS)
@pytest.mark.parametrize("charter", CHARTERS)
def test_a_user_is_registered_by_exactly_their_appointer(
    charter: str, role: str, agency: str | None, by: str
) -> None:
    world = chartered(charter)
    ev = registration(world, by, "new.user", role=role, agency=agency)
    if by in REGISTRARS[charter][(role, agency)]:
        world.append(ev, by)
        user = world.directory.users["new.user"]
        assert (user.role.value, user.agency, user.appointed_by) == (role, agency, by)
        assert user.active_keys()[0].public_key == NEW_KEY
        return
    with pytest.raises(NotPermitted) as refused:
        world.check(ev, by)
    assert refused.value.rule == "directory.register_user"
    if role == "chair":
        assert "appointed only by their own charter" in refused.value.message
    elif role == "admin":
        assert "registered by administrators" in refused.value.message
    else:
        assert by in refused.value.message


def test_each_role_has_its_registrars() -> None:
    """The matrix above is not vacuous: every appointed role can be registered by someone,
    and the alternative charters move exactly the roles they name to the group."""
    for charter, registrars in REGISTRARS.items():
        assert all(registrars[new] for new in NEW_USERS if new != ("chair", None))
        moved = {new for new in NEW_USERS if registrars[new] != REGISTRARS_DEFAULT[new]}
        assert all(registrars[new] == {"ig"} for new in moved)
        by_ig = {new[0] for new in moved}
        assert by_ig == {r for r, by in CHARTERS[charter].items() if by != DEFAULT[r]}


@pytest.mark.parametrize(("role", "agency"), [new for new in NEW_USERS if new[0] != "admin"])
@pytest.mark.parametrize("charter", CHARTERS)
@pytest.mark.parametrize("admin", ["admin", "admin2"])
def test_the_administrator_appoints_nobody_but_administrators(
    admin: str, charter: str, role: str, agency: str | None
) -> None:
    world = chartered(charter)
    ev = registration(world, admin, "new.user", role=role, agency=agency)
    with pytest.raises(NotPermitted) as refused:
        world.check(ev, admin)
    assert refused.value.rule == "directory.register_user"
    assert "new.user" not in world.directory.users
    if role != "chair":
        assert admin in refused.value.message


@pytest.mark.parametrize("charter", CHARTERS)
def test_administrators_register_administrators(charter: str) -> None:
    world = chartered(charter)
    world.append(registration(world, "admin2", "admin3", role="admin", agency=None), "admin2")
    assert world.directory.users["admin3"].role is Role.ADMIN
    assert world.directory.users["admin3"].appointed_by == "admin2"


@pytest.mark.parametrize("charter", CHARTERS)
def test_an_officer_is_registered_only_by_the_lead_of_their_own_agency(charter: str) -> None:
    world = chartered(charter)
    council_officer = registration(world, "police.lead", "new.user", agency="council")
    with pytest.raises(NotPermitted) as refused:
        world.check(council_officer, "police.lead")
    assert "police.lead" in refused.value.message
    assert "officers of police only, not council" in refused.value.message
    police_officer = registration(world, "council.lead", "new.user", agency="police")
    with pytest.raises(NotPermitted):
        world.check(police_officer, "council.lead")
    # Nobody above the agency, whatever the charter says of its leads.
    for above in ("chair", "ig", "admin"):
        ev = registration(world, above, "new.user", agency="council")
        with pytest.raises(NotPermitted):
            world.check(ev, above)
    world.append(registration(world, "council.lead", "new.user", agency="council"), "council.lead")
    assert world.directory.users["new.user"].agency == "council"


def test_leads_appointed_by_the_group_appoint_their_officers() -> None:
    world = chartered("leads_by_ig")
    assert world.directory.users["council.lead"].appointed_by == "ig"
    assert world.directory.users["council.officer"].appointed_by == "council.lead"
    chair = registration(world, "chair", "new.lead", role="agency_lead", agency="police")
    with pytest.raises(NotPermitted) as refused:
        world.check(chair, "chair")
    assert "the charter names implementation_group" in refused.value.message


def test_an_agency_lead_needs_a_known_agency_whoever_appoints_them() -> None:
    world = chartered("leads_by_ig")
    ev = registration(world, "ig", "new.lead", role="agency_lead", agency="fire")
    with pytest.raises(InvalidInput) as refused:
        world.check(ev, "ig")
    assert "unknown agency 'fire'" in refused.value.message


# --------------------------------------------------------------------------------------
# Before the charter: the directory holds only the genesis administrator.


def pre_charter() -> World:
    """Just the genesis; a plan is in the context, to show that it is the missing charter,
    not a missing plan, that refuses the registrations below."""
    world = World(genesis())
    imported = plan_imported("ig")
    imported.check(None, RuleContext(USERS["ig"], world.directory, None))
    world.plan = imported.mutate(None)
    return world


@pytest.mark.parametrize("by", ["admin", "chair", "ig", "council.lead"])
@pytest.mark.parametrize(
    ("role", "agency"),
    [
        ("implementation_group", None),
        ("agency_lead", "council"),
        ("scrutiny", None),
        ("officer", "council"),
    ],
)
def test_before_the_charter_nobody_appoints(role: str, agency: str | None, by: str) -> None:
    world = pre_charter()
    ev = registration(world, by, "new.user", role=role, agency=agency)
    with pytest.raises(NotPermitted) as refused:
        world.check(ev, by)
    assert refused.value.rule == "directory.register_user"
    assert "no charter yet" in refused.value.message


@pytest.mark.parametrize("by", ["admin", "chair"])
def test_before_the_charter_nobody_registers_a_chair(by: str) -> None:
    world = pre_charter()
    ev = registration(world, by, "chair", role="chair", agency=None)
    with pytest.raises(NotPermitted) as refused:
        world.check(ev, by)
    assert "appointed only by their own charter" in refused.value.message


def test_before_the_charter_administrators_register_administrators() -> None:
    world = pre_charter()
    world.append(registration(world, "admin", "admin2"), "admin")
    assert world.directory.users["admin2"].role is Role.ADMIN
    assert world.directory.charter is None
    # ...and change each other's keys, which the charter has no say in.
    world.append(rotation(world, "admin", "admin2"), "admin")
    assert [k.public_key for k in world.directory.users["admin2"].active_keys()] == [NEW_KEY]


# --------------------------------------------------------------------------------------
# Keys: changed by their holder or by the role that appoints the holder; the chair's only
# by the chair.


def rotation(world: World, by: str, user: str) -> Any:
    return signed(
        Directory.KeyRotated,
        world.directory,
        by,
        user_id=user,
        new_public_key=NEW_KEY,
        reason="lost laptop",
    )


def revocation(world: World, by: str, user: str) -> Any:
    return signed(
        Directory.KeyRevoked,
        world.directory,
        by,
        user_id=user,
        revoked_key_id=key_id(KEYS[user]),
        reason="lost laptop",
    )


KEY_CHANGES = {"directory.rotate_key": rotation, "directory.revoke_key": revocation}


@pytest.mark.parametrize("by", ACTORS)
@pytest.mark.parametrize("user", ACTORS)
@pytest.mark.parametrize("rule", KEY_CHANGES)
@pytest.mark.parametrize("charter", CHARTERS)
def test_a_key_is_changed_by_its_holder_or_their_appointer(
    charter: str, rule: str, user: str, by: str
) -> None:
    world = chartered(charter)
    ev = KEY_CHANGES[rule](world, by, user)
    if rule == "directory.revoke_key" and by == user == "chair":
        return  # the chair's last key is never revoked: test_the_chair_cannot_revoke_...
    if by == user or by in appointers_of(charter, user):
        world.append(ev, by)
        assert world.directory.users[user].keys[key_id(KEYS[user])].active is False
        return
    with pytest.raises(NotPermitted) as refused:
        world.check(ev, by)
    assert refused.value.rule == rule
    if user == "chair":
        assert "only the chair may" in refused.value.message
    elif USERS[user].role is Role.ADMIN:
        assert "administrators" in refused.value.message
    else:
        assert by in refused.value.message


def test_the_key_matrix_is_not_vacuous() -> None:
    """Somebody other than the holder may change every key but the chair's."""
    for charter in CHARTERS:
        others = {user for user in ACTORS if appointers_of(charter, user)}
        assert others == set(ACTORS) - {"chair"}


@pytest.mark.parametrize("by", [a for a in ACTORS if a != "chair"])
@pytest.mark.parametrize("charter", CHARTERS)
def test_only_the_chair_changes_the_chairs_key(charter: str, by: str) -> None:
    world = chartered(charter)
    for rule, change in KEY_CHANGES.items():
        with pytest.raises(NotPermitted) as refused:
            world.check(change(world, by, "chair"), by)
        assert refused.value.rule == rule
    world.append(rotation(world, "chair", "chair"), "chair")
    actor, _ = world.directory.resolve("chair", key_id(NEW_KEY))
    assert actor == USERS["chair"]


def test_a_lost_key_is_replaced_by_the_appointer() -> None:
    world = chartered()
    world.append(rotation(world, "council.lead", "council.officer"), "council.lead")
    officer = world.directory.users["council.officer"]
    old = officer.keys[key_id(KEYS["council.officer"])]
    assert old.revoked_reason == "rotated: lost laptop"
    actor, _ = world.directory.resolve("council.officer", key_id(NEW_KEY))
    assert actor == USERS["council.officer"]
    with pytest.raises(NotPermitted) as refused:
        world.directory.resolve("council.officer", key_id(KEYS["council.officer"]))
    assert refused.value.rule == "signature.revoked_key"


@pytest.mark.parametrize("charter", CHARTERS)
def test_a_lead_changes_keys_of_their_own_agencys_officers_only(charter: str) -> None:
    world = chartered(charter)
    for rule, change in KEY_CHANGES.items():
        with pytest.raises(NotPermitted) as refused:
            world.check(change(world, "police.lead", "council.officer"), "police.lead")
        assert refused.value.rule == rule
        assert "officers of police only" in refused.value.message


@pytest.mark.parametrize("change", [rotation, revocation])
def test_a_key_change_names_a_registered_user(change: Any) -> None:
    world = chartered()
    ev = dataclasses.replace(change(world, "chair", "chair"), user_id="nobody")
    with pytest.raises(InvalidInput) as refused:
        world.check(ev, "chair")
    assert "no registered user 'nobody'" in refused.value.message


# --------------------------------------------------------------------------------------
# The plan is the implementation group's: the administrator neither imports it nor adds,
# changes or closes its actions, nor decides who is assigned to them.


def test_an_administrator_cannot_import_the_plan() -> None:
    world = chartered()
    for admin in ("admin", "admin2"):
        with pytest.raises(NotPermitted) as refused:
            plan_imported(admin).check(None, world.ctx(admin))
        assert refused.value.rule == "plan.import"
        assert admin in refused.value.message
    plan_imported("ig").check(None, world.ctx("ig"))


def test_an_administrator_cannot_add_recommendations() -> None:
    world = chartered()
    assert world.plan is not None
    with pytest.raises(NotPermitted) as refused:
        recommendation_added(world.plan, "admin", 2).check(world.plan, world.ctx("admin"))
    assert refused.value.rule == "plan.add_recommendation"
    recommendation_added(world.plan, "ig", 2).check(world.plan, world.ctx("ig"))


def action_added(by: str) -> Any:
    return CAST.action_added(by)


def test_an_administrator_cannot_add_actions() -> None:
    world = chartered()
    with pytest.raises(NotPermitted) as refused:
        action_added("admin").check(None, world.ctx("admin"))
    assert refused.value.rule == "action.add"
    assert "admin" in refused.value.message
    action_added("ig").check(None, world.ctx("ig"))


ACTION_CHANGES: dict[str, dict[str, Any]] = {
    "action.amend": {"cls": Action.Amended, "changes": {"title": "New"}, "reason": "refresh"},
    "action.merge": {"cls": Action.Merged, "into": "R1.2", "reason": "duplicate"},
    "action.withdraw": {"cls": Action.Withdrawn, "reason": "no longer needed"},
    "action.assign_officer": {"cls": Action.OfficerAssigned, "officer": "council.officer"},
}
ACTION_CHANGERS = {
    "action.amend": "ig",
    "action.merge": "ig",
    "action.withdraw": "ig",
    "action.assign_officer": "council.lead",
}


@pytest.mark.parametrize("rule", ACTION_CHANGES)
def test_an_administrator_cannot_change_an_action(rule: str) -> None:
    world = chartered()
    added = action_added("ig")
    added.check(None, world.ctx("ig"))
    action: Action = added.mutate(None)
    payload = dict(ACTION_CHANGES[rule])
    cls = payload.pop("cls")
    with pytest.raises(NotPermitted) as refused:
        signed(cls, action, "admin", **payload).check(action, world.ctx("admin"))
    assert refused.value.rule == rule
    assert "admin" in refused.value.message
    allowed = ACTION_CHANGERS[rule]
    signed(cls, action, allowed, **payload).check(action, world.ctx(allowed))


def test_the_chair_cannot_revoke_their_last_key() -> None:
    # Nobody appoints the chair and a ledger has one charter: a chair without a key could
    # never act again, and nobody could appoint under the default charter.
    world = chartered()
    with pytest.raises(InvalidTransition, match="rotate it instead"):
        world.check(revocation(world, "chair", "chair"), "chair")
