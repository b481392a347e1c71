"""Who may read what: the read-access policy every front door applies.

Officers and agency leads act for one agency and read only that agency's actions and
evidence; everyone else (the implementation group, scrutiny, the chair, administrators)
reads the whole plan. Auditors (the chair, scrutiny, the implementation group and
administrators) may also read the whole log, the progress report and the verification.

Lived-experience consultees (issue 15) give their insight on the proposed actions: they
read the plan, every action and its history, the challenges and the sessions' minutes,
and they comment and challenge. They do not read evidence files, which can hold personal
data about the children the inquiry was about, nor the log, the report or the
directory beyond the bodies agencies answer to and one another; nor do agencies' people
see them in the directory (a consultee may be a survivor: give them a role handle, not
their name, as a user id).

What is not scoped: the plan and every action's summary status (the tracker's table:
status, claim, verdict, ratings, dates, counts, and each formal response with its
reasons: a statement its responder published), which every signed-in user reads, as a
public tracker would show them. What is: an action's history and everything said in it
(reasons, statements, comments, evidence names and files), in every view that carries
it (the action, its timelines, what changed between two dates); and the directory, of
which an agency reads its own people and the bodies it answers to, not other agencies'
staff or the administrators.

The JSON API and the web pages ask these functions, so the rule exists once. (The
command line's local mode runs with the operator's own database access; in client mode it
reads through the API, so through these same checks.) Nothing here knows about HTTP: the
checks return booleans, or raise `AccessDenied`, which each front door turns into its own
refusal (403 for the API).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from domain import Actor, Role
from domain.roles import AGENCY_ROLES
from projections.diff import DecisionEntry
from projections.port import LogReader
from projections.timeline import current_lead_agencies

#: Those who hold the agencies to account: they read everything, the whole log included.
AUDITORS = frozenset({Role.CHAIR, Role.SCRUTINY, Role.IMPLEMENTATION_GROUP, Role.ADMIN})
#: The bodies every agency answers to: their holders are listed to every signed-in user.
ACCOUNTABLE_TO = frozenset({Role.CHAIR, Role.SCRUTINY, Role.IMPLEMENTATION_GROUP})
#: Consultees: read the plan and the actions, never evidence files (see above).
CONSULTEES = frozenset({Role.LIVED_EXPERIENCE})
#: Who reads the holding-to-account sessions and their minutes.
SESSION_READERS = AUDITORS | CONSULTEES
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
    (consumed only for an actor whose reads are scoped to one agency). Consultees read
    no evidence file: they judge the actions, not the files' personal data."""
    if actor.role in CONSULTEES:
        return False
    return not acts_for_agency(actor) or actor.agency in set(lead_agencies)


def require_auditor(actor: Actor, doing: str) -> None:
    """AccessDenied unless the actor is an auditor; `doing` completes "X may not ..."."""
    if not is_auditor(actor):
        raise AccessDenied(f"{actor.describe()} may not {doing}")


def require_session_reader(actor: Actor, doing: str) -> None:
    """AccessDenied unless the actor reads sessions: auditors and consultees."""
    if actor.role not in SESSION_READERS:
        raise AccessDenied(f"{actor.describe()} may not {doing}")


def require_readable_action(actor: Actor, lead_agency: str | None) -> None:
    if not may_read_action(actor, lead_agency):
        raise AccessDenied(f"{actor.describe()} reads only {actor.agency}'s actions")


def require_readable_evidence(actor: Actor, lead_agencies: Iterable[str]) -> None:
    if actor.role in CONSULTEES:
        raise AccessDenied(f"{actor.describe()} reads no evidence files")
    if not may_read_evidence(actor, lead_agencies):
        raise AccessDenied(f"{actor.describe()} reads only {actor.agency}'s evidence")


def may_read_user(actor: Actor, role: Role, agency: str | None) -> bool:
    """Whether the actor may see a directory entry (name, role, agency, keys): everyone
    may see the holders of the bodies agencies answer to, and their own agency's users;
    only those who read the whole plan see the rest. A consultee sees the bodies and the
    other consultees, and only auditors see a consultee (see above)."""
    if role in CONSULTEES:
        return actor.role in CONSULTEES or is_auditor(actor)
    if actor.role in CONSULTEES:
        return role in ACCOUNTABLE_TO
    return not acts_for_agency(actor) or role in ACCOUNTABLE_TO or agency == actor.agency


#: An item of a listing (a decision, a timeline row) that concerns one action.
Item = TypeVar("Item")


def readable_items(
    actor: Actor,
    items: Iterable[Item],
    action_of: Callable[[Item], str],
    lead_of: Callable[[str], str | None],
) -> list[Item]:
    """The items about actions the actor may read, in their order (an action whose lead
    is unknown is readable only by those who read everything)."""
    if not acts_for_agency(actor):
        return list(items)
    return [item for item in items if may_read_action(actor, lead_of(action_of(item)))]


def scoped_decisions(
    ledger: LogReader, actor: Actor, decisions: list[DecisionEntry]
) -> list[DecisionEntry]:
    """The decisions of a diff the actor may read: their reasons and statements are an
    action's history, scoped like the action itself (by its lead agency now)."""
    if not acts_for_agency(actor):
        return decisions
    return readable_items(
        actor, decisions, lambda d: d.action_id, current_lead_agencies(ledger).get
    )
