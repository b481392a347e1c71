"""Who may sign what: the role (and, for officers and agency leads, the agency) each kind
of event needs of its signer, and who may appoint whom. Never what state an event may
follow: that is the lifecycle rules of the project's domain code (``verify-bundle
--rules`` replays them).

Officers and agency leads may sign an action's events only when the action is led by
their own agency (`scoped_to_agency`). Whether a signer's authority derives from the
roots an auditor pins is ledger/auditor/roots.py.

The appointment table repeats domain/charter.py, which the trusted base cannot import;
tests/ledger/test_authority_parity.py checks that the domain and this table agree for
every event type and role.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.auditor.entry import GENESIS_TYPE

CHARTER_TYPE = "directory.charter_adopted"  # the chair's self-signed appointment: the root
#: Entries signed by the key they introduce (the genesis by the operator's first
#: administrator, the charter by the chair).
SELF_SIGNED = frozenset({GENESIS_TYPE, CHARTER_TYPE})

ALL_ROLES = frozenset(
    {"officer", "agency_lead", "implementation_group", "chair", "scrutiny", "admin"}
)
AGENCY_ROLES = frozenset({"officer", "agency_lead"})
#: What an administrator may sign: operational acts that grant nobody authority.
OPERATIONAL = frozenset(
    {
        GENESIS_TYPE,
        "directory.user_registered",  # of administrators only (see `appointer_of`)
        "directory.key_rotated",  # of administrators only
        "directory.key_revoked",  # of administrators only
        "action.evidence_erased",
        "action.comment_added",
        "reminder.digest_sent",
    }
)

#: The roles that may sign each kind of event. `None` marks types decided by a payload
#: member or by the charter (see `allowed_roles`).
AUTHORITY: dict[str, frozenset[str] | None] = {
    CHARTER_TYPE: frozenset({"chair"}),
    "directory.user_registered": None,  # the appointer the charter names for the role
    "directory.key_rotated": None,  # the user themself, or their appointer
    "directory.key_revoked": None,  # the user themself, or their appointer
    "plan.imported": frozenset({"implementation_group"}),
    "plan.recommendation_added": frozenset({"implementation_group"}),
    # A formal response to a recommendation, and the words responses are recorded in.
    "plan.response_recorded": frozenset({"implementation_group"}),
    "plan.response_vocabulary_set": frozenset({"implementation_group"}),
    "action.added": frozenset({"implementation_group"}),
    "action.amended": frozenset({"implementation_group"}),
    "action.merged": frozenset({"implementation_group"}),
    "action.withdrawn": frozenset({"implementation_group"}),
    # Where an agency responds for itself: its lead (of the lead agency), or the plan's editors.
    "action.response_recorded": frozenset({"agency_lead", "implementation_group"}),
    "action.officer_assigned": frozenset({"agency_lead"}),
    "action.status_changed": frozenset({"officer", "agency_lead", "implementation_group", "chair"}),
    "action.evidence_attached": frozenset({"officer", "agency_lead"}),
    "action.evidence_withdrawn": frozenset({"officer", "agency_lead"}),
    "action.evidence_erased": frozenset({"admin"}),
    # The lead agency's lead vouches that a file may be public, and may stop it.
    "action.evidence_published": frozenset({"agency_lead"}),
    "action.evidence_unpublished": frozenset({"agency_lead"}),
    "action.signed_off": None,  # by level: agency lead, implementation group, chair
    "action.sign_off_revoked": None,
    "action.returned": frozenset({"agency_lead", "implementation_group", "chair"}),
    "action.rag_rated": frozenset({"agency_lead", "implementation_group", "chair"}),
    "action.comment_added": ALL_ROLES - {"scrutiny"},
    "reminder.digest_sent": frozenset({"admin", "implementation_group"}),
}

#: A sign-off's (or its revocation's) level, and the role that signs at that level.
SIGN_OFF_ROLE = {
    "agency": "agency_lead",
    "implementation_group": "implementation_group",
    "chair": "chair",
}

#: For each role a charter assigns, the roles it may name as that role's appointer.
APPOINTER_CHOICES: Mapping[str, frozenset[str]] = {
    "implementation_group": frozenset({"chair"}),
    "agency_lead": frozenset({"chair", "implementation_group"}),
    "scrutiny": frozenset({"chair", "implementation_group"}),
    "officer": frozenset({"agency_lead"}),
}


def appointer_of(role: str, appointers: Mapping[str, str] | None) -> str | None:
    """The role that appoints (and may replace the lost key of) a holder of `role` under
    the charter's `appointers` table; None when nobody may: the chair, or any appointed
    role before a charter, or a table entry the choices above do not allow."""
    if role == "admin":
        return "admin"
    if appointers is None:
        return None
    named = appointers.get(role)
    return named if named in APPOINTER_CHOICES.get(role, frozenset()) else None


def allowed_roles(
    kind: str,
    actor: str,
    payload: dict[str, Any],
    *,
    appointers: Mapping[str, str] | None = None,
    subject_role: str | None = None,
) -> frozenset[str]:
    """The roles that may sign an event of type `kind` by `actor` with `payload`.

    `appointers` is the charter's table (None before a charter); `subject_role` the role
    of the user a key rotation or revocation is about."""
    if kind == GENESIS_TYPE:
        return frozenset({"admin"})
    fixed = AUTHORITY.get(kind, frozenset())
    if fixed is not None:
        return fixed
    if kind == "directory.user_registered":
        appointer = appointer_of(str(payload.get("role")), appointers)
        return frozenset({appointer}) if appointer else frozenset()
    if kind in ("directory.key_rotated", "directory.key_revoked"):
        if payload.get("user_id") == actor:
            return ALL_ROLES
        appointer = appointer_of(str(subject_role), appointers)
        return frozenset({appointer}) if appointer else frozenset()
    return frozenset({SIGN_OFF_ROLE.get(str(payload.get("level")), "unknown level")})


def scoped_to_agency(kind: str, role: str) -> bool:
    """Whether a signer in `role` may sign `kind` only for actions its agency leads."""
    return kind.startswith("action.") and kind != "action.added" and role in AGENCY_ROLES
