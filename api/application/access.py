"""Who may read what: the read-access policy every front door applies.

Officers and agency leads act for one agency and read only that agency's actions and
evidence; everyone else (the implementation group, scrutiny, the chair, administrators)
reads the whole plan. Auditors (the chair, scrutiny, the implementation group and
administrators) may also read the whole log, the progress report and the verification.

The JSON API and the web pages ask these functions, so the rule exists once. (The
command line's local mode runs with the operator's own database access; in client mode it
reads through the API, so through these same checks.) Nothing here knows about HTTP: the
checks return booleans, or raise `AccessDenied`, which each front door turns into its own
refusal (403 for the API).
"""

from __future__ import annotations

from collections.abc import Iterable

from domain import Actor, Role
from domain.roles import AGENCY_ROLES

#: Those who hold the agencies to account: they read everything, the whole log included.
AUDITORS = frozenset({Role.CHAIR, Role.SCRUTINY, Role.IMPLEMENTATION_GROUP, Role.ADMIN})
#: Those who cosign the log's checkpoints as witnesses.
WITNESSES = frozenset({Role.CHAIR, Role.SCRUTINY})


class AccessDenied(Exception):
    """The caller's role or agency may not read (or do) this."""

    def __init__(self, detail: str, code: str = "forbidden") -> None:
        super().__init__(detail)
        self.code = code


def is_auditor(actor: Actor) -> bool:
    return actor.role in AUDITORS


def is_witness(actor: Actor) -> bool:
    return actor.role in WITNESSES


def acts_for_agency(actor: Actor) -> bool:
    """An officer or agency lead: reads (and attaches evidence) for their agency only."""
    return actor.role in AGENCY_ROLES


def agency_scope(actor: Actor) -> str | None:
    """The one agency whose actions the actor may read, or None for all of them."""
    return actor.agency if acts_for_agency(actor) else None


def may_read_action(actor: Actor, lead_agency: str | None) -> bool:
    """Whether the actor may read an action led by `lead_agency`."""
    return not acts_for_agency(actor) or actor.agency == lead_agency


def may_read_evidence(actor: Actor, lead_agencies: Iterable[str]) -> bool:
    """Whether the actor may read evidence named by actions led by these agencies
    (consumed only for an actor whose reads are scoped to one agency)."""
    return not acts_for_agency(actor) or actor.agency in set(lead_agencies)


def require_auditor(actor: Actor, doing: str) -> None:
    """AccessDenied unless the actor is an auditor; `doing` completes "X may not ..."."""
    if not is_auditor(actor):
        raise AccessDenied(f"{actor.describe()} may not {doing}")


def require_readable_action(actor: Actor, lead_agency: str | None) -> None:
    if not may_read_action(actor, lead_agency):
        raise AccessDenied(f"{actor.describe()} reads only {actor.agency}'s actions")


def require_readable_evidence(actor: Actor, lead_agencies: Iterable[str]) -> None:
    if not may_read_evidence(actor, lead_agencies):
        raise AccessDenied(f"{actor.describe()} reads only {actor.agency}'s evidence")
