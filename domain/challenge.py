"""A challenge: a question put to an agency about one of its actions or one of the
recommendations it leads, which the agency must answer, as a thread with a state.

Holding to account (the SIG "holding each other to account", scrutiny, the chair) is a
question, an answer and a judgement of the answer; a comment of kind "challenge" on an
action (`action.comment_added`) records only the question. A challenge is its own
aggregate, at an id derived from its `challenge_id` (`challenge_aggregate_id`):

    open -> answered -> closed (satisfied | not_satisfied)
    open | answered -> escalated (to the implementation group or the chair)

Who may do what, and the decisions this module makes:

- Raise: scrutiny, the implementation group, the chair and lived-experience consultees
  (`RAISERS`; a consultee gives insight on the proposed actions). Officers and
  agency leads never raise a challenge, not even against another agency: a challenge is
  the overseers' question to an agency, and an agency that questions another's work
  comments instead (so no officer is ever offered a challenge against their own agency).
  Administrators run the system and hold nobody to account. Scrutiny, read-only for
  comments (`COMMENTERS` still excludes it), may challenge: that is its job.
- The agency addressed must lead the subject: the action's lead agency (as the action
  stands when the challenge is raised), or one of the recommendation's lead agencies.
  The challenge stays addressed to that agency even if the action moves to another: the
  question was put to it, and its answer is owed.
- Answer: only the addressed agency's officers and lead, while the challenge is open,
  answered or escalated (a further answer adds to the thread: more evidence, an answer
  to the escalation). Evidence cited must be current evidence of the challenged action
  (by sha256); a challenge on a recommendation is answered in text (evidence belongs to
  an action: challenge the action to have it cited).
- Close and escalate: only the challenger, the same user who raised it. Closing, as
  `satisfied` or `not_satisfied`, with a reason, is final: a challenger not satisfied
  who wants more escalates instead, or raises a new challenge. Escalation names the body
  asked to intervene (`implementation_group` or `chair`), never the challenger's own
  body, and not the body it is already escalated to; an escalated challenge may still
  be answered, escalated further (to the other body) and closed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from domain.errors import InvalidInput, InvalidTransition, NotPermitted
from domain.events import SignedEvent
from domain.ids import challenge_aggregate_id
from domain.roles import AGENCY_ROLES, Role
from domain.rules import RuleContext, require_identifier, require_role, require_text

#: Who may raise (and so, as the challenger, close and escalate) a challenge.
__all__ = ["Challenge", "challenge_aggregate_id"]

RAISERS = frozenset({Role.SCRUTINY, Role.IMPLEMENTATION_GROUP, Role.CHAIR, Role.LIVED_EXPERIENCE})
#: Who may answer: the addressed agency's own people.
ANSWERERS = AGENCY_ROLES
#: The bodies a challenge may be escalated to.
BODIES = ("implementation_group", "chair")
OUTCOMES = ("satisfied", "not_satisfied")
OPEN, ANSWERED, ESCALATED, CLOSED = "open", "answered", "escalated", "closed"
STATES = (OPEN, ANSWERED, ESCALATED, CLOSED)
#: The states a challenge is still owed an answer or a judgement in.
UNRESOLVED = frozenset({OPEN, ANSWERED, ESCALATED})
CHALLENGE_ID = re.compile(r"C[1-9][0-9]{0,8}")
ACTION_SUBJECT = re.compile(r"R([1-9][0-9]{0,5})\.[1-9][0-9]{0,5}")
RECOMMENDATION_SUBJECT = re.compile(r"R([1-9][0-9]{0,5})")
SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_EVIDENCE = 50


def subject_kind(subject: str) -> str:
    """ "action" for an action id (R10.1), "recommendation" for R10, else ""."""
    if ACTION_SUBJECT.fullmatch(subject):
        return "action"
    if RECOMMENDATION_SUBJECT.fullmatch(subject):
        return "recommendation"
    return ""


def subject_recommendation(subject: str) -> int:
    """The recommendation number a subject (R10.1 or R10) belongs to."""
    return int(subject[1:].split(".")[0])


@dataclass(frozen=True)
class Answer:
    text: str
    evidence: list[str]
    by: str
    at: datetime


@dataclass(frozen=True)
class Step:
    """A judgement of the challenger: closed (outcome) or escalated (to), with the reason."""

    kind: str  # "closed" | "escalated"
    value: str  # the outcome, or the body escalated to
    reason: str
    by: str
    at: datetime


class Challenge(Aggregate):
    def __init__(self) -> None:
        self.challenge_id = ""
        self.subject = ""
        self.agency = ""
        self.text = ""
        self.raised_by = ""
        self.raised_at: datetime | None = None
        self.state = OPEN
        self.answers: list[Answer] = []
        self.steps: list[Step] = []
        self.outcome: str | None = None
        self.escalated_to: str | None = None

    class Event(SignedEvent):
        pass

    class Raised(Event, Aggregate.Created):
        TYPE = "challenge.raised"
        challenge_id: str
        subject: str
        agency: str
        text: str

        def check(self, state: Any, ctx: RuleContext) -> None:
            rule = "challenge.raise"
            if ctx.actor.role in AGENCY_ROLES:
                raise NotPermitted(
                    rule,
                    f"{ctx.actor.describe()} may not raise a challenge: officers and agency "
                    "leads answer challenges (to question another agency's work, comment)",
                )
            require_role(ctx, RAISERS, rule, "raise a challenge")
            if state is not None:
                raise InvalidTransition(rule, f"challenge {self.challenge_id} already exists")
            if not isinstance(self.challenge_id, str) or not CHALLENGE_ID.fullmatch(
                self.challenge_id
            ):
                raise InvalidInput(rule, f"challenge id must look like C1: {self.challenge_id!r}")
            require_text(self.text, "text", rule)
            require_identifier(self.agency, "agency", rule)
            kind = subject_kind(self.subject) if isinstance(self.subject, str) else ""
            if not kind:
                raise InvalidInput(
                    rule,
                    f"subject must be an action (R10.1) or a recommendation (R10): "
                    f"{self.subject!r}",
                )
            if ctx.plan is None:
                raise InvalidTransition(rule, "import the plan before raising challenges")
            if self.agency not in ctx.plan.agencies:
                known = ", ".join(sorted(ctx.plan.agencies)) or "none"
                raise InvalidInput(rule, f"no agency {self.agency!r} in the plan ({known})")
            if kind == "recommendation":
                _check_recommendation(self.subject, self.agency, ctx, rule)
            elif ctx.action is not None:
                action = ctx.action(self.subject)
                if action is None:
                    raise InvalidInput(rule, f"no action {self.subject} in the plan")
                if action.lead_agency != self.agency:
                    raise InvalidInput(
                        rule,
                        f"action {self.subject} is led by {action.lead_agency}, not "
                        f"{self.agency}: address the challenge to the agency that leads it",
                    )

        def apply(self, challenge: Challenge) -> None:
            challenge.challenge_id = self.challenge_id
            challenge.subject = self.subject
            challenge.agency = self.agency
            challenge.text = self.text
            challenge.raised_by = self.actor
            challenge.raised_at = self.timestamp

    class Answered(Event):
        TYPE = "challenge.answered"
        text: str
        evidence: list[str]

        def check(self, state: Challenge, ctx: RuleContext) -> None:
            rule = "challenge.answer"
            if ctx.actor.role not in ANSWERERS or ctx.actor.agency != state.agency:
                raise NotPermitted(
                    rule,
                    f"{ctx.actor.describe()} may not answer challenge {state.challenge_id}: "
                    f"only officers and the agency lead of {state.agency} (the agency it is "
                    "addressed to) answer it",
                )
            if state.state not in UNRESOLVED:
                raise InvalidTransition(
                    rule, f"challenge {state.challenge_id} is closed ({state.outcome})"
                )
            require_text(self.text, "text", rule)
            evidence = self.evidence
            if not isinstance(evidence, list) or not all(
                isinstance(sha, str) and SHA256.fullmatch(sha) for sha in evidence
            ):
                raise InvalidInput(rule, "evidence must be a list of sha256 (64 lowercase hex)")
            if len(set(evidence)) != len(evidence) or len(evidence) > MAX_EVIDENCE:
                raise InvalidInput(rule, f"evidence names each file once, at most {MAX_EVIDENCE}")
            if not evidence:
                return
            if subject_kind(state.subject) != "action":
                raise InvalidInput(
                    rule,
                    f"challenge {state.challenge_id} is on recommendation {state.subject}: "
                    "answer it in text (evidence is cited on a challenge to an action)",
                )
            if ctx.action is not None:
                action = ctx.action(state.subject)
                current = set(action.current_evidence()) if action is not None else set()
                missing = [sha for sha in evidence if sha not in current]
                if missing:
                    raise InvalidInput(
                        rule,
                        f"{missing[0][:12]}… is not current evidence of {state.subject}: "
                        "attach it to the action first",
                    )

        def apply(self, challenge: Challenge) -> None:
            challenge.answers.append(
                Answer(self.text, list(self.evidence), self.actor, self.timestamp)
            )
            if challenge.state == OPEN:
                challenge.state = ANSWERED

    class Closed(Event):
        TYPE = "challenge.closed"
        outcome: str
        reason: str

        def check(self, state: Challenge, ctx: RuleContext) -> None:
            rule = "challenge.close"
            _require_challenger(state, ctx, rule, "close")
            if state.state not in UNRESOLVED:
                raise InvalidTransition(
                    rule, f"challenge {state.challenge_id} is already closed ({state.outcome})"
                )
            if self.outcome not in OUTCOMES:
                raise InvalidInput(
                    rule, f"outcome must be satisfied or not_satisfied: {self.outcome!r}"
                )
            require_text(self.reason, "reason", rule)

        def apply(self, challenge: Challenge) -> None:
            challenge.state = CLOSED
            challenge.outcome = self.outcome
            challenge.steps.append(
                Step("closed", self.outcome, self.reason, self.actor, self.timestamp)
            )

    class Escalated(Event):
        TYPE = "challenge.escalated"
        to: str
        reason: str

        def check(self, state: Challenge, ctx: RuleContext) -> None:
            rule = "challenge.escalate"
            _require_challenger(state, ctx, rule, "escalate")
            if state.state not in UNRESOLVED:
                raise InvalidTransition(
                    rule, f"challenge {state.challenge_id} is closed ({state.outcome})"
                )
            if self.to not in BODIES:
                raise InvalidInput(rule, f"to must be implementation_group or chair: {self.to!r}")
            if self.to == ctx.actor.role.value:
                raise InvalidInput(
                    rule, f"{ctx.actor.describe()} may not escalate to their own body"
                )
            if self.to == state.escalated_to:
                raise InvalidTransition(
                    rule, f"challenge {state.challenge_id} is already escalated to {self.to}"
                )
            require_text(self.reason, "reason", rule)

        def apply(self, challenge: Challenge) -> None:
            challenge.state = ESCALATED
            challenge.escalated_to = self.to
            challenge.steps.append(
                Step("escalated", self.to, self.reason, self.actor, self.timestamp)
            )


def _require_challenger(state: Challenge, ctx: RuleContext, rule: str, doing: str) -> None:
    """Its challenger, still in a role that challenges: a challenger since moved to an
    agency's role (directory.user_role_changed) no longer closes or escalates it, as the
    auditor's table says (ledger/auditor/authority.py)."""
    if ctx.actor.user_id != state.raised_by:
        raise NotPermitted(
            rule,
            f"{ctx.actor.describe()} may not {doing} challenge {state.challenge_id}: only "
            f"its challenger, {state.raised_by}, may",
        )
    require_role(ctx, RAISERS, rule, f"{doing} a challenge")


def _check_recommendation(subject: str, agency: str, ctx: RuleContext, rule: str) -> None:
    assert ctx.plan is not None
    number = subject_recommendation(subject)
    recommendation: Any = ctx.plan.recommendations.get(number)
    if recommendation is None:
        raise InvalidInput(rule, f"no recommendation {number} in the plan")
    if getattr(recommendation, "removed", False):
        raise InvalidTransition(rule, f"recommendation {number} is no longer in the plan")
    leads = list(getattr(recommendation, "lead_agencies", []))
    if agency not in leads:
        raise InvalidInput(
            rule,
            f"recommendation {number} is led by {', '.join(leads) or 'no agency'}, not "
            f"{agency}: address the challenge to an agency that leads it",
        )
