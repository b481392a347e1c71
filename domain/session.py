"""Holding-to-account sessions, their minutes, and the actions arising from them.

A session is a meeting of a body that holds the plan's agencies to account (the PCC's
Assurance & Accountability meeting, the SIG, scrutiny, Full Council): its date, the
window (UTC) in which its entries were signed, its chair, who attended by role (never
names of the public), and the recommendations it covered, in order.

Its minutes are not typed up afterwards: they are the signed entries made in its window
about the recommendations it covered (challenges, comments, status decisions, answers)
and the actions arising recorded for it, listed by leaf index (projections/minutes.py).
The session's chair approves them by signing the SHA-256 of the minutes as rendered and
the leaf indices they were built from, so the approval is exactly what the chair read.
The rule here checks the form; that the hash is the minutes rebuilt from the log is
checked where the log can be read (api/application/minutes.py refuses to sign otherwise,
and projections/minutes.py says whether an approval still matches).

An action arising (the seed's "ACTION: for the T/DCC to share ... the extent of the
mobile operations") has an owner (a user or an agency), a due date and what "done"
means; it is recorded on its session's aggregate, not one of its own, because its rule
must see the session (that it covers the recommendation, who chairs it, whether its
minutes are approved), and a rule sees only its own aggregate, the directory and the
plan. It is closed with a reason (and evidence, if any), usually at a later session of
the same body, whose agenda carries it until then.

Who may sign (least privilege): the body's secretariat, the implementation group, and
the chair record a session; the session's chair (a registered implementation group
member, chair or scrutiny member: a reviewer, never an agency's officer) approves its
minutes, and may record and close its actions arising as the secretariat may.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import InvalidInput, InvalidTransition, NotPermitted
from domain.events import SignedEvent
from domain.ids import NAMESPACE
from domain.roles import Role
from domain.rules import (
    RuleContext,
    require_identifier,
    require_iso_date,
    require_role,
    require_text,
)

#: Who records a session: its secretariat (the implementation group) and the chair.
SECRETARIAT = frozenset({Role.IMPLEMENTATION_GROUP, Role.CHAIR})
#: Who may chair a session: a reviewer, never an officer or lead of an agency held to
#: account, nor an administrator.
CHAIRS = frozenset({Role.IMPLEMENTATION_GROUP, Role.CHAIR, Role.SCRUTINY})
HH_MM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")  # whole string: fullmatch
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
MAX_LABEL = 200
MAX_ATTENDEES = 100
MAX_COVERED = 200
MAX_ENTRIES = 10_000
ATTENDEE_MEMBERS = frozenset({"role", "agency", "label"})
OWNER_KINDS = frozenset({"user", "agency"})


def session_aggregate_id(session_id: str) -> UUID:
    """Every party derives the same aggregate id from a session's public id."""
    return uuid5(NAMESPACE, f"session:{session_id}")


def window(day: str, started_at: str, ended_at: str) -> tuple[datetime, datetime]:
    """The session's window as UTC moments: from HH:MM to HH:MM (inclusive, to the
    minute's end) on its date."""
    on = date.fromisoformat(day)
    start = datetime.combine(on, time.fromisoformat(started_at), UTC)
    end = datetime.combine(on, time.fromisoformat(ended_at), UTC).replace(
        second=59, microsecond=999999
    )
    return start, end


@dataclass
class Arising:
    """An action arising, as its session's aggregate holds it."""

    arising_id: str
    recommendation: int
    owner: dict[str, str]
    due_date: str
    done_means: str
    text: str
    recorded_by: str
    recorded_at: datetime
    closed_at: datetime | None = None
    closed_by: str | None = None
    closed_reason: str | None = None
    evidence: str | None = None

    @property
    def open(self) -> bool:
        return self.closed_at is None


@dataclass
class Approval:
    minutes_sha256: str
    entries: list[int]
    approved_by: str
    approved_at: datetime


@dataclass
class Attendee:
    role: str
    label: str
    agency: str | None = None


class Session(Aggregate):
    def __init__(self) -> None:
        self.session_id = ""
        self.body = ""
        self.date = ""
        self.started_at = ""
        self.ended_at = ""
        self.chair = ""
        self.attendees: list[Attendee] = []
        self.recommendations: list[int] = []
        self.approval: Approval | None = None
        self.arisings: dict[str, Arising] = {}

    def window(self) -> tuple[datetime, datetime]:
        return window(self.date, self.started_at, self.ended_at)

    class Event(SignedEvent):
        pass

    class Held(Event, Aggregate.Created):
        """A session was held: the body, when, who chaired it, who attended (by role),
        and the recommendations it covered, in the order it took them."""

        TYPE = "session.held"
        session_id: str
        body: str
        date: str
        started_at: str
        ended_at: str
        chair: str
        attendees: list[dict[str, Any]]
        recommendations: list[int]

        def check(self, state: Any, ctx: RuleContext) -> None:
            rule = "session.hold"
            require_role(ctx, SECRETARIAT, rule, "record a session")
            require_identifier(self.session_id, "session_id", rule)
            if state is not None:
                raise InvalidTransition(rule, f"session {self.session_id} is already recorded")
            if self.originator_id != session_aggregate_id(self.session_id):
                raise InvalidInput(rule, f"session {self.session_id} belongs to its own id")
            require_text(self.body, "body", rule, max_length=MAX_LABEL)
            require_iso_date(self.date, "date", rule)
            for name in ("started_at", "ended_at"):
                value = getattr(self, name)
                if not isinstance(value, str) or not HH_MM.fullmatch(value):
                    raise InvalidInput(rule, f"{name} must be a UTC time HH:MM, got {value!r}")
            if self.started_at >= self.ended_at:
                raise InvalidInput(rule, "a session ends after it starts (the same UTC day)")
            self._check_chair(ctx, rule)
            self._check_attendees(ctx, rule)
            self._check_recommendations(ctx, rule)

        def _check_chair(self, ctx: RuleContext, rule: str) -> None:
            user = ctx.directory.users.get(self.chair) if ctx.directory else None
            if not isinstance(self.chair, str) or user is None:
                raise InvalidInput(rule, f"the chair must be a registered user: {self.chair!r}")
            if user.role not in CHAIRS:
                names = ", ".join(sorted(r.value for r in CHAIRS))
                raise InvalidInput(
                    rule, f"{self.chair} ({user.role.value}) may not chair a session; {names} may"
                )

        def _check_attendees(self, ctx: RuleContext, rule: str) -> None:
            people = self.attendees
            if not isinstance(people, list) or not people or len(people) > MAX_ATTENDEES:
                raise InvalidInput(rule, f"attendees: 1 to {MAX_ATTENDEES}, each by role")
            agencies = ctx.plan.agencies if ctx.plan is not None else {}
            for person in people:
                if not isinstance(person, dict) or not set(person) <= ATTENDEE_MEMBERS:
                    raise InvalidInput(rule, "each attendee is {role, agency?, label}")
                require_text(person.get("role"), "attendee role", rule, max_length=MAX_LABEL)
                require_text(person.get("label"), "attendee label", rule, max_length=MAX_LABEL)
                agency = person.get("agency")
                if agency is not None and agency not in agencies:
                    raise InvalidInput(rule, f"attendee agency {agency!r} is not in the plan")

        def _check_recommendations(self, ctx: RuleContext, rule: str) -> None:
            numbers = self.recommendations
            valid = isinstance(numbers, list) and all(
                isinstance(n, int) and not isinstance(n, bool) for n in numbers
            )
            if not valid or not numbers or len(numbers) > MAX_COVERED:
                raise InvalidInput(rule, "recommendations: a list of numbers, in order taken")
            if len(set(numbers)) != len(numbers):
                raise InvalidInput(rule, "a session covers each recommendation once")
            known = ctx.plan.recommendations if ctx.plan is not None else {}
            missing = [n for n in numbers if n not in known]
            if missing:
                raise InvalidInput(rule, f"no recommendation {missing[0]} in the plan")

        def apply(self, session: Session) -> None:
            session.session_id = self.session_id
            session.body = self.body
            session.date = self.date
            session.started_at = self.started_at
            session.ended_at = self.ended_at
            session.chair = self.chair
            session.attendees = [
                Attendee(str(a["role"]), str(a["label"]), a.get("agency")) for a in self.attendees
            ]
            session.recommendations = list(self.recommendations)

    class MinutesApproved(Event):
        """The session's chair approves its minutes: the SHA-256 of the minutes as
        rendered (projections/minutes.py) and the leaf indices they were built from."""

        TYPE = "session.minutes_approved"
        minutes_sha256: str
        entries: list[int]

        def check(self, state: Session, ctx: RuleContext) -> None:
            rule = "session.approve_minutes"
            if ctx.actor.user_id != state.chair:
                raise NotPermitted(
                    rule,
                    f"{ctx.actor.describe()} may not approve the minutes of "
                    f"{state.session_id}: only its chair, {state.chair}, may",
                )
            # Still in a role that chairs sessions: one since moved to an agency's role
            # does not approve (the auditor's table says the same).
            require_role(ctx, CHAIRS, rule, "approve a session's minutes")
            if state.approval is not None:
                raise InvalidTransition(
                    rule, f"the minutes of {state.session_id} are already approved"
                )
            sha = self.minutes_sha256
            if not isinstance(sha, str) or not SHA256_HEX.fullmatch(sha):
                raise InvalidInput(rule, "minutes_sha256 must be 64 lowercase hex digits")
            leaves = self.entries
            valid = isinstance(leaves, list) and all(
                isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in leaves
            )
            if not valid or len(leaves) > MAX_ENTRIES:
                raise InvalidInput(rule, "entries must be a list of leaf indices")
            if leaves != sorted(set(leaves)):
                raise InvalidInput(rule, "entries must be distinct leaf indices, in log order")

        def apply(self, session: Session) -> None:
            session.approval = Approval(
                self.minutes_sha256, list(self.entries), self.actor, self.timestamp
            )

    class ArisingRecorded(Event):
        """An action arising from the session: who owns it, by when, and what "done"
        means, on one of the recommendations the session covered."""

        TYPE = "arising.recorded"
        arising_id: str
        session_id: str
        recommendation: int
        owner: dict[str, str]
        due_date: str
        done_means: str
        text: str

        def check(self, state: Session, ctx: RuleContext) -> None:
            rule = "arising.record"
            _require_secretariat_or_chair(state, ctx, rule, "record its actions arising")
            if self.session_id != state.session_id:
                raise InvalidInput(rule, f"this is session {state.session_id}'s entry")
            require_identifier(self.arising_id, "arising_id", rule)
            if not self.arising_id.startswith(f"{state.session_id}."):
                raise InvalidInput(
                    rule, f"an action arising of {state.session_id} is {state.session_id}.N"
                )
            if self.arising_id in state.arisings:
                raise InvalidTransition(rule, f"action arising {self.arising_id} exists")
            if state.approval is not None:
                raise InvalidTransition(
                    rule,
                    f"the minutes of {state.session_id} are approved; record it at the "
                    "next session",
                )
            if self.recommendation not in state.recommendations:
                raise InvalidInput(
                    rule,
                    f"session {state.session_id} did not cover recommendation "
                    f"{self.recommendation}",
                )
            _check_owner(self.owner, ctx, rule)
            require_iso_date(self.due_date, "due_date", rule)
            require_text(self.done_means, "done_means", rule)
            require_text(self.text, "text", rule)

        def apply(self, session: Session) -> None:
            session.arisings[self.arising_id] = Arising(
                self.arising_id,
                self.recommendation,
                dict(self.owner),
                self.due_date,
                self.done_means,
                self.text,
                self.actor,
                self.timestamp,
            )

    class ArisingClosed(Event):
        """An action arising is done (or no longer needed), with the reason and, where
        there is any, a pointer to the evidence (a hash, a document, a later entry)."""

        TYPE = "arising.closed"
        arising_id: str
        reason: str
        evidence: str | None

        def check(self, state: Session, ctx: RuleContext) -> None:
            rule = "arising.close"
            _require_secretariat_or_chair(state, ctx, rule, "close its actions arising")
            arising = state.arisings.get(self.arising_id)
            if arising is None:
                raise InvalidInput(
                    rule, f"no action arising {self.arising_id!r} of {state.session_id}"
                )
            if not arising.open:
                raise InvalidTransition(rule, f"action arising {self.arising_id} is closed")
            require_text(self.reason, "reason", rule)
            if self.evidence is not None:
                require_text(self.evidence, "evidence", rule, max_length=2000)

        def apply(self, session: Session) -> None:
            arising = session.arisings[self.arising_id]
            arising.closed_at = self.timestamp
            arising.closed_by = self.actor
            arising.closed_reason = self.reason
            arising.evidence = self.evidence


def _require_secretariat_or_chair(state: Session, ctx: RuleContext, rule: str, doing: str) -> None:
    if ctx.actor.user_id == state.chair and ctx.actor.role in CHAIRS:
        return
    if ctx.actor.role not in SECRETARIAT:
        names = ", ".join(sorted(r.value for r in SECRETARIAT))
        raise NotPermitted(
            rule,
            f"{ctx.actor.describe()} may not {doing} of {state.session_id}; "
            f"allowed: {names}, or its chair {state.chair}",
        )


def _check_owner(owner: object, ctx: RuleContext, rule: str) -> None:
    """An owner is one agency of the plan or one registered user: {"agency": id} or
    {"user": id}."""
    if not isinstance(owner, dict) or len(owner) != 1 or not set(owner) <= OWNER_KINDS:
        raise InvalidInput(rule, 'owner must be {"agency": ID} or {"user": ID}')
    [(kind, ident)] = owner.items()
    if kind == "agency" and (ctx.plan is None or ident not in ctx.plan.agencies):
        raise InvalidInput(rule, f"owner: no agency {ident!r} in the plan")
    if kind == "user" and (ctx.directory is None or ident not in ctx.directory.users):
        raise InvalidInput(rule, f"owner: no registered user {ident!r}")
