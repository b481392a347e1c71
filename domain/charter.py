"""The charter: where authority comes from, so that it never comes from the operator.

The operator of the server (usually the council) is one of the parties being held to
account, and holds the database, the log key and the administrator's key. So the
authorities the process rests on do not derive from any of those. They derive from the
chair's charter, a self-signed appointment made with a key the chair generated on their
own machine and that auditors pin (``verify-bundle --trust``): the root. The charter then
names who appoints each privileged role:

========================  =====================================  =================
role                      appointed by (the charter may choose)  default
========================  =====================================  =================
chair                     nobody: the charter itself              -
implementation_group      chair                                   chair
agency_lead               chair or implementation_group           chair
scrutiny                  chair or implementation_group           chair
lived_experience          chair or implementation_group           chair
officer                   agency_lead of the same agency          agency_lead
admin                     admin (operational acts only)           admin
========================  =====================================  =================

An administrator can register other administrators and do the operational acts the
authority table allows (erase evidence, record reminder digests, comment), none of which
grants anyone authority. A key is rotated by its holder (signed with their current key)
or, for a lost key, by someone holding the role that appoints its holder, which the
auditor reports as a replacement by the appointer. The chair's key is rotated only by
the chair.

The same table is in the trusted base (ledger/auditor/authority.py), which cannot import
the domain; tests/ledger/test_authority_parity.py checks that the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.errors import InvalidInput, NotPermitted
from domain.roles import Actor, Role

#: For each role a charter assigns, the roles it may name as that role's appointer.
APPOINTER_CHOICES: Mapping[Role, frozenset[Role]] = {
    Role.IMPLEMENTATION_GROUP: frozenset({Role.CHAIR}),
    Role.AGENCY_LEAD: frozenset({Role.CHAIR, Role.IMPLEMENTATION_GROUP}),
    Role.SCRUTINY: frozenset({Role.CHAIR, Role.IMPLEMENTATION_GROUP}),
    Role.LIVED_EXPERIENCE: frozenset({Role.CHAIR, Role.IMPLEMENTATION_GROUP}),
    Role.OFFICER: frozenset({Role.AGENCY_LEAD}),
}
DEFAULT_APPOINTERS: Mapping[str, str] = {
    Role.IMPLEMENTATION_GROUP.value: Role.CHAIR.value,
    Role.AGENCY_LEAD.value: Role.CHAIR.value,
    Role.SCRUTINY.value: Role.CHAIR.value,
    Role.LIVED_EXPERIENCE.value: Role.CHAIR.value,
    Role.OFFICER.value: Role.AGENCY_LEAD.value,
}
#: Roles added after charters were first signed, and who appoints them under a charter
#: that does not name them: the chair, the root itself, so an old charter grants no one
#: a power its chair never signed for. (Charters signed before the lived-experience role
#: name exactly the four others; they stay valid as they are.)
IMPLIED_APPOINTERS: Mapping[str, str] = {Role.LIVED_EXPERIENCE.value: Role.CHAIR.value}
#: Roles whose holders the charter may require to sign off the operator's page.
OFF_PAGE_CHOICES = frozenset(
    {
        Role.CHAIR,
        Role.IMPLEMENTATION_GROUP,
        Role.AGENCY_LEAD,
        Role.SCRUTINY,
        Role.LIVED_EXPERIENCE,
        Role.OFFICER,
    }
)


@dataclass(frozen=True)
class Charter:
    """The adopted charter: its chair (the root) and who appoints whom."""

    chair_id: str
    title: str
    appointers: Mapping[Role, Role]
    off_page_roles: frozenset[str]

    def appointer_of(self, role: Role) -> Role | None:
        """The role that appoints `role`; None for the chair (appointed by nobody).
        Administrators appoint administrators, outside the charter."""
        if role is Role.ADMIN:
            return Role.ADMIN
        return self.appointers.get(role)


def parse_appointers(value: object, rule: str) -> dict[Role, Role]:
    """A charter's appointer table: every appointed role, each naming one of the
    appointers the table above allows. A role in `IMPLIED_APPOINTERS` may be left out
    (charters older than it do), and is then appointed as that table says."""
    required = set(DEFAULT_APPOINTERS) - set(IMPLIED_APPOINTERS)
    if (
        not isinstance(value, dict)
        or not required <= set(value)
        or not set(value) <= set(DEFAULT_APPOINTERS)
    ):
        names = ", ".join(sorted(DEFAULT_APPOINTERS))
        implied = ", ".join(sorted(IMPLIED_APPOINTERS))
        raise InvalidInput(rule, f"appointers must name: {names} ({implied} may be left out)")
    value = {**IMPLIED_APPOINTERS, **value}
    table: dict[Role, Role] = {}
    for role_name, appointer_name in value.items():
        role = Role(role_name)
        try:
            appointer = Role(appointer_name)
        except ValueError:
            raise InvalidInput(rule, f"unknown appointer role {appointer_name!r}") from None
        if appointer not in APPOINTER_CHOICES[role]:
            allowed = ", ".join(sorted(r.value for r in APPOINTER_CHOICES[role]))
            raise InvalidInput(
                rule, f"{role.value} may be appointed by {allowed}, not {appointer.value}"
            )
        table[role] = appointer
    return table


def parse_off_page_roles(value: object, rule: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(rule, "off_page_roles must be a list of role names")
    allowed = {role.value for role in OFF_PAGE_CHOICES}
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise InvalidInput(rule, f"off_page_roles: not roles that sign: {', '.join(unknown)}")
    return frozenset(value)


def a_role(role: Role) -> str:
    """The role's name with its article, for messages ("an officer", "a chair")."""
    return ("an " if role.value[0] in "aeiou" else "a ") + role.value


def require_appointer(
    charter: Charter | None, actor: Actor, role: Role, agency: str | None, rule: str
) -> None:
    """Refuse unless `actor` may appoint someone to `role` (for `agency`)."""
    if role is Role.CHAIR:
        raise NotPermitted(
            rule,
            f"{actor.describe()} may not appoint a chair: the chair is appointed only by "
            "their own charter",
        )
    if role is Role.ADMIN:
        if actor.role is not Role.ADMIN:
            raise NotPermitted(
                rule,
                f"{actor.describe()} may not register an admin: administrators are "
                "registered by administrators",
            )
        return
    if charter is None:
        raise NotPermitted(
            rule,
            f"no charter yet, so nobody may appoint {a_role(role)}: the chair adopts one "
            "first (inquiry-ledger charter adopt)",
        )
    appointer = charter.appointer_of(role)
    if actor.role is not appointer:
        named = appointer.value if appointer else "nobody"
        raise NotPermitted(
            rule,
            f"{actor.describe()} may not appoint {a_role(role)}: the charter names {named}",
        )
    if appointer is Role.AGENCY_LEAD and actor.agency != agency:
        raise NotPermitted(
            rule, f"{actor.describe()} may appoint officers of {actor.agency} only, not {agency}"
        )
