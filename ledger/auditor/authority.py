"""Who may sign what: the role (and, for officers and agency leads, the agency) each kind
of event needs of its signer. Never what state an event may follow: that is the lifecycle
rules of the project's domain code (``verify-bundle --rules`` replays them).

Officers and agency leads may sign an action's events only when the action is led by
their own agency (`scoped_to_agency`).
"""

from __future__ import annotations

from typing import Any

from ledger.auditor.entry import GENESIS_TYPE

ALL_ROLES = frozenset(
    {"officer", "agency_lead", "implementation_group", "chair", "scrutiny", "admin"}
)
AGENCY_ROLES = frozenset({"officer", "agency_lead"})

#: The roles that may sign each kind of event. `None` marks types decided by a payload
#: member (see `allowed_roles`); the genesis is signed by the key it registers.
AUTHORITY: dict[str, frozenset[str] | None] = {
    "directory.user_registered": frozenset({"admin"}),
    "directory.key_rotated": None,  # the user themself, or an admin
    "directory.key_revoked": None,  # the user themself, or an admin
    "plan.imported": frozenset({"admin"}),
    "plan.recommendation_added": frozenset({"admin"}),
    "action.added": frozenset({"admin", "implementation_group"}),
    "action.amended": frozenset({"admin", "implementation_group"}),
    "action.merged": frozenset({"admin", "implementation_group"}),
    "action.withdrawn": frozenset({"admin", "implementation_group"}),
    "action.officer_assigned": frozenset({"agency_lead", "admin"}),
    "action.status_changed": frozenset({"officer", "agency_lead", "implementation_group", "chair"}),
    "action.evidence_attached": frozenset({"officer", "agency_lead"}),
    "action.evidence_withdrawn": frozenset({"officer", "agency_lead"}),
    "action.evidence_erased": frozenset({"admin"}),
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


def allowed_roles(kind: str, actor: str, payload: dict[str, Any]) -> frozenset[str]:
    """The roles that may sign an event of type `kind` by `actor` with `payload`."""
    if kind == GENESIS_TYPE:
        return frozenset({"admin"})
    fixed = AUTHORITY.get(kind, frozenset())
    if fixed is not None:
        return fixed
    if kind in ("directory.key_rotated", "directory.key_revoked"):
        return ALL_ROLES if payload.get("user_id") == actor else frozenset({"admin"})
    return frozenset({SIGN_OFF_ROLE.get(str(payload.get("level")), "unknown level")})


def scoped_to_agency(kind: str, role: str) -> bool:
    """Whether a signer in `role` may sign `kind` only for actions its agency leads."""
    return kind.startswith("action.") and kind != "action.added" and role in AGENCY_ROLES
