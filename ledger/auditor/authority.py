"""Who may sign what: the role (and, for officers and agency leads, the agency) each kind
of event needs of its signer, and who may appoint whom. Never what state an event may
follow: that is the lifecycle rules of the project's domain code (``verify-bundle
--rules`` replays them).

Officers and agency leads may sign an action's events only when the action is led by
their own agency (`scoped_to_agency`) at that point of the log: signers.py follows each
action's lead from its addition through amendments of `lead_agency` and transfers
(`action.lead_agency_transferred`); and a challenge's answer only when the challenge is
addressed to their agency (the `agency` its `challenge.raised` names), its closing and
escalation only by the user who raised it. Whether a signer's authority derives from the
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
    {
        "officer",
        "agency_lead",
        "implementation_group",
        "chair",
        "scrutiny",
        "lived_experience",
        "admin",
    }
)
AGENCY_ROLES = frozenset({"officer", "agency_lead"})
#: What an administrator may sign: operational acts that grant nobody authority.
OPERATIONAL = frozenset(
    {
        GENESIS_TYPE,
        "directory.user_registered",  # of administrators only (see `appointer_of`)
        "directory.key_rotated",  # of administrators only
        "directory.key_revoked",  # of administrators only
        "directory.key_added",  # of administrators only
        "directory.user_deactivated",  # of administrators only
        "directory.user_reactivated",  # of administrators only
        "action.evidence_erased",
        "action.comment_added",
        "reminder.digest_sent",
        "reminder.update_requested",
        "reminder.arisings_chased",
    }
)

#: Who may challenge an agency: the overseers and the lived-experience consultees.
CHALLENGERS = frozenset({"scrutiny", "implementation_group", "chair", "lived_experience"})

#: The roles that may sign each kind of event. `None` marks types decided by a payload
#: member or by the charter (see `allowed_roles`).
AUTHORITY: dict[str, frozenset[str] | None] = {
    CHARTER_TYPE: frozenset({"chair"}),
    "directory.user_registered": None,  # the appointer the charter names for the role
    "directory.key_rotated": None,  # the user themself, or their appointer
    "directory.key_revoked": None,  # the user themself, or their appointer
    "directory.key_added": None,  # the user themself, or their appointer
    # Whoever appoints both the old role (and agency) and the new; never chair or admin.
    "directory.user_role_changed": None,
    "directory.user_deactivated": None,  # the user themself, or their appointer; not the chair
    "directory.user_reactivated": None,  # their appointer
    "plan.imported": frozenset({"implementation_group"}),
    "plan.recommendation_added": frozenset({"implementation_group"}),
    # The plan changes, each with its reason: agencies added and renamed, recommendations
    # amended, withdrawn, merged and renumbered (domain/plan.py).
    "plan.agency_added": frozenset({"implementation_group"}),
    "plan.agency_renamed": frozenset({"implementation_group"}),
    "plan.recommendation_amended": frozenset({"implementation_group"}),
    "plan.recommendation_withdrawn": frozenset({"implementation_group"}),
    "plan.recommendation_merged": frozenset({"implementation_group"}),
    "plan.recommendation_renumbered": frozenset({"implementation_group"}),
    "plan.recommendation_referenced": frozenset({"implementation_group"}),
    # A formal response to a recommendation, and the words responses are recorded in.
    "plan.response_recorded": frozenset({"implementation_group"}),
    "plan.response_vocabulary_set": frozenset({"implementation_group"}),
    # The words the ledger's report, pages and tracker use (domain/wording.py).
    "plan.wording_set": frozenset({"implementation_group"}),
    "action.added": frozenset({"implementation_group"}),
    "action.amended": frozenset({"implementation_group"}),
    "action.merged": frozenset({"implementation_group"}),
    "action.withdrawn": frozenset({"implementation_group"}),
    # A fact of an action's past, from the source that reported it (never a signature).
    "action.backfilled": frozenset({"implementation_group"}),
    # Responsibility moves to another agency of the plan: its officers and lead sign from then.
    "action.lead_agency_transferred": frozenset({"implementation_group"}),
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
    # The lead agency's own account for a period: done, next, risks (domain/narrative.py).
    "action.narrative_updated": frozenset({"officer", "agency_lead"}),
    "reminder.digest_sent": frozenset({"admin", "implementation_group"}),
    # A request for narrative updates, to the agency's own people (domain/reminders.py).
    "reminder.update_requested": frozenset({"admin", "implementation_group"}),
    # Actions arising chased up the ladder, on the owning agency's reminders.
    "reminder.arisings_chased": frozenset({"admin", "implementation_group"}),
    # A challenge to an agency (domain/challenge.py): raised by the overseers, never by an
    # agency's people; answered by the addressed agency's (`scoped_to_agency`); closed or
    # escalated by its challenger alone (the same user: signers.py).
    "challenge.raised": CHALLENGERS,
    "challenge.answered": frozenset({"officer", "agency_lead"}),
    "challenge.closed": CHALLENGERS,
    "challenge.escalated": CHALLENGERS,
    # A holding-to-account session (domain/session.py): recorded by its secretariat (the
    # implementation group) or the chair; its minutes approved by the session's own chair
    # (a reviewer: implementation group, chair or scrutiny; that it is that user,
    # signers.py checks: SESSION_KINDS); its actions arising recorded and closed by the
    # secretariat, the chair, or the session's chair.
    "session.held": frozenset({"implementation_group", "chair"}),
    "session.minutes_approved": frozenset({"implementation_group", "chair", "scrutiny"}),
    "arising.recorded": frozenset({"implementation_group", "chair", "scrutiny"}),
    "arising.closed": frozenset({"implementation_group", "chair", "scrutiny"}),
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
    "lived_experience": frozenset({"chair", "implementation_group"}),
    "officer": frozenset({"agency_lead"}),
}
#: Who appoints a role a charter does not name, because the charter is older than the
#: role: the chair, the root (domain/charter.py `IMPLIED_APPOINTERS`).
IMPLIED_APPOINTERS: Mapping[str, str] = {"lived_experience": "chair"}


def appointer_of(role: str, appointers: Mapping[str, str] | None) -> str | None:
    """The role that appoints (and may replace the lost key of) a holder of `role` under
    the charter's `appointers` table; None when nobody may: the chair, or any appointed
    role before a charter, or a table entry the choices above do not allow."""
    if role == "admin":
        return "admin"
    if appointers is None:
        return None
    named = appointers.get(role, IMPLIED_APPOINTERS.get(role))
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
    (before the entry) of the user a key change, role change, deactivation or
    reactivation is about."""
    if kind == GENESIS_TYPE:
        return frozenset({"admin"})
    fixed = AUTHORITY.get(kind, frozenset())
    if fixed is not None:
        return fixed
    if kind == "directory.user_registered":
        appointer = appointer_of(str(payload.get("role")), appointers)
        return frozenset({appointer}) if appointer else frozenset()
    own = payload.get("user_id") == actor
    if kind == "directory.user_deactivated" and subject_role == "chair":
        return frozenset()  # nobody could appoint another chair
    if kind in KEYHOLDER_KINDS:
        if own:
            return ALL_ROLES
        appointer = appointer_of(str(subject_role), appointers)
        return frozenset({appointer}) if appointer else frozenset()
    if kind == "directory.user_reactivated":
        appointer = None if own else appointer_of(str(subject_role), appointers)
        return frozenset({appointer}) if appointer else frozenset()
    if kind == "directory.user_role_changed":
        old, new = str(subject_role), str(payload.get("role"))
        if {old, new} & {"chair", "admin"}:
            return frozenset()  # the charter's alone; administrators stay administrators
        before, after = appointer_of(old, appointers), appointer_of(new, appointers)
        return frozenset({before}) if before is not None and before == after else frozenset()
    return frozenset({SIGN_OFF_ROLE.get(str(payload.get("level")), "unknown level")})


#: Signed by the user the entry names, or by whoever appoints them (a lost key).
KEYHOLDER_KINDS = frozenset(
    {
        "directory.key_rotated",
        "directory.key_revoked",
        "directory.key_added",
        "directory.user_deactivated",
    }
)


#: A session's entries signed by its chair (the user `session.held` names), or else only
#: by these roles: its minutes by nobody else; its actions arising by the secretariat.
SESSION_KINDS: Mapping[str, frozenset[str]] = {
    "session.minutes_approved": frozenset(),
    "arising.recorded": frozenset({"implementation_group", "chair"}),
    "arising.closed": frozenset({"implementation_group", "chair"}),
}

#: Signed only by the user who raised the challenge (its challenger).
CHALLENGER_KINDS = frozenset({"challenge.closed", "challenge.escalated"})


def scoped_to_agency(kind: str, role: str) -> bool:
    """Whether a signer in `role` may sign `kind` only for actions its agency leads (or,
    for a challenge's answer, only for a challenge addressed to its agency)."""
    scoped = (kind.startswith("action.") and kind != "action.added") or (
        kind == "challenge.answered"
    )
    return scoped and role in AGENCY_ROLES
