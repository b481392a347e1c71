"""The action lifecycle as data: its statuses, who may move an action between them, the
sign-off levels and the records an action keeps of evidence, sign-offs and decisions.

Kept apart from the `Action` aggregate (domain/action.py) so that the table of permitted
transitions can be read, and checked against the README, on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.roles import AGENCY_ROLES, Role


class Status(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    BLOCKED = "blocked"
    EVIDENCE_SUBMITTED = "evidence_submitted"
    AGENCY_SIGNED_OFF = "agency_signed_off"
    ACCEPTED = "accepted"
    VERIFIED = "verified"
    NOT_IMPLEMENTABLE = "not_implementable"
    SUPERSEDED = "superseded"
    MERGED = "merged"
    WITHDRAWN = "withdrawn"


#: The chair's outcomes: the action is closed, and it is not a failure.
CHAIR_OUTCOMES = frozenset({Status.NOT_IMPLEMENTABLE, Status.SUPERSEDED})
#: Plan changes: the action no longer counts towards the plan.
REMOVED_FROM_PLAN = frozenset({Status.MERGED, Status.WITHDRAWN})
CLOSED = frozenset({Status.VERIFIED}) | CHAIR_OUTCOMES | REMOVED_FROM_PLAN
#: States in which the agency is still doing the work and may change its evidence.
AGENCY_WORKING = frozenset(
    {Status.NOT_STARTED, Status.IN_PROGRESS, Status.BLOCKED, Status.EVIDENCE_SUBMITTED}
)

AGENCY_WORKERS = AGENCY_ROLES  # officers and agency leads, as in domain/roles.py
#: The implementation group owns the plan. Not the administrator: which actions exist and
#: which agency leads each decide whose officers may sign for what (see domain/charter.py).
PLAN_EDITORS = frozenset({Role.IMPLEMENTATION_GROUP})
COMMENTERS = frozenset(set(Role) - {Role.SCRUTINY})


@dataclass(frozen=True)
class Transition:
    """A status change that the ``status_changed`` event may make, and who may make it."""

    roles: frozenset[Role]
    needs_reason: bool
    rule: str


#: (from, to) -> who may move an action between them with a plain status change.
STATUS_CHANGES: dict[tuple[Status, Status], Transition] = {
    (Status.NOT_STARTED, Status.IN_PROGRESS): Transition(AGENCY_WORKERS, False, "action.start"),
    (Status.IN_PROGRESS, Status.EVIDENCE_SUBMITTED): Transition(
        AGENCY_WORKERS, False, "action.submit"
    ),
    (Status.NOT_STARTED, Status.BLOCKED): Transition(
        AGENCY_WORKERS | {Role.IMPLEMENTATION_GROUP}, True, "action.block"
    ),
    (Status.IN_PROGRESS, Status.BLOCKED): Transition(
        AGENCY_WORKERS | {Role.IMPLEMENTATION_GROUP}, True, "action.block"
    ),
    (Status.BLOCKED, Status.IN_PROGRESS): Transition(
        AGENCY_WORKERS | {Role.IMPLEMENTATION_GROUP}, True, "action.unblock"
    ),
}
for _from in (
    Status.NOT_STARTED,
    Status.IN_PROGRESS,
    Status.BLOCKED,
    Status.EVIDENCE_SUBMITTED,
    Status.AGENCY_SIGNED_OFF,
    Status.ACCEPTED,
):
    for _outcome in CHAIR_OUTCOMES:
        STATUS_CHANGES[(_from, _outcome)] = Transition(
            frozenset({Role.CHAIR}), True, "action.chair_outcome"
        )
for _outcome in CHAIR_OUTCOMES:
    STATUS_CHANGES[(_outcome, Status.IN_PROGRESS)] = Transition(
        frozenset({Role.CHAIR}), True, "action.chair_reopen"
    )


class SignOffLevel(StrEnum):
    AGENCY = "agency"
    IMPLEMENTATION_GROUP = "implementation_group"
    CHAIR = "chair"


@dataclass(frozen=True)
class SignOffRule:
    role: Role
    before: Status
    after: Status


SIGN_OFFS: dict[SignOffLevel, SignOffRule] = {
    SignOffLevel.AGENCY: SignOffRule(
        Role.AGENCY_LEAD, Status.EVIDENCE_SUBMITTED, Status.AGENCY_SIGNED_OFF
    ),
    SignOffLevel.IMPLEMENTATION_GROUP: SignOffRule(
        Role.IMPLEMENTATION_GROUP, Status.AGENCY_SIGNED_OFF, Status.ACCEPTED
    ),
    SignOffLevel.CHAIR: SignOffRule(Role.CHAIR, Status.ACCEPTED, Status.VERIFIED),
}

LEVEL_OF_ROLE: dict[Role, SignOffLevel] = {rule.role: level for level, rule in SIGN_OFFS.items()}

#: Who may return an action to in_progress, and from which states.
RETURNS: dict[Role, frozenset[Status]] = {
    Role.AGENCY_LEAD: frozenset({Status.EVIDENCE_SUBMITTED}),
    Role.IMPLEMENTATION_GROUP: frozenset({Status.EVIDENCE_SUBMITTED, Status.AGENCY_SIGNED_OFF}),
    Role.CHAIR: frozenset({Status.EVIDENCE_SUBMITTED, Status.AGENCY_SIGNED_OFF, Status.ACCEPTED}),
}

AMENDABLE = frozenset(
    {"title", "lead_agency", "lead_officers", "expected_outcome", "evidence_required", "due_date"}
)
RAG = frozenset({"red", "amber", "green"})
SHA256_HEX = frozenset("0123456789abcdef")


@dataclass
class Evidence:
    sha256: str
    size: int
    media_type: str
    original_name: str
    description: str
    storage_key: str
    effective_date: str
    attached_by: str
    attached_at: datetime
    withdrawn_at: datetime | None = None
    withdrawn_reason: str | None = None
    erased_at: datetime | None = None
    erased_reason: str | None = None
    #: Publication (`action.evidence_published`): when, by whom and with what statement
    #: the agency lead vouched that the file may be public. All None while it is not
    #: published; unpublishing, withdrawal and erasure clear them (the log keeps both).
    published_at: datetime | None = None
    published_statement: str | None = None
    published_by: str | None = None

    @property
    def published(self) -> bool:
        return self.published_at is not None

    def end_publication(self) -> None:
        self.published_at = None
        self.published_statement = None
        self.published_by = None


@dataclass
class SignOff:
    level: SignOffLevel
    by: str
    at: datetime
    evidence: list[str]
    statement: str


@dataclass
class Decision:
    """A dated judgement with its author and reasons (a claim, a verdict, a rating)."""

    value: str
    by: str
    at: datetime
    reasons: str = ""
