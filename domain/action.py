"""An action of the plan and its lifecycle.

    not_started -> in_progress -> evidence_submitted -> agency_signed_off
                -> accepted (implementation group) -> verified (independent chair)

Reviewers return an action to ``in_progress`` with reasons; agencies may mark it
``blocked``; only the chair decides the outcomes that are not failures
(``not_implementable``, ``superseded``). The agency's own claim (its sign-off) and the
chair's independent verdict are kept in separate fields: neither overwrites the other.
Plan changes (merge, withdraw) close an action without deleting anything.

Evidence is never public unless the action's agency lead publishes a file with a signed
statement (`EvidencePublished`); see that event for which files may be published.

Where an agency responds for itself, its formal response to the action (accepted,
partially accepted, ...: domain/response.py) is kept beside the status (`ResponseRecorded`).

Responsibility for an action can move between agencies (fire moved from the Home Office to
MHCLG in April 2025): `LeadAgencyTransferred` changes its lead agency from then on and keeps
`lead_history`, each agency that led it and from when until when, so "who was responsible
when" is answered from the action itself; see that event for what moves and what stays.

Longer than 500 lines because each of the aggregate's twenty events keeps its rule check
beside the state change it guards (eventsourcing's nested-event style): split across files,
a rule would sit apart from what it protects. The lifecycle table itself is in lifecycle.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from domain.backfill import BACKFILL_TYPE, Backfill, check_backfill
from domain.errors import InvalidInput, InvalidTransition
from domain.events import SignedEvent
from domain.lifecycle import (
    AGENCY_WORKERS,
    AGENCY_WORKING,
    AMENDABLE,
    CHAIR_OUTCOMES,
    CLOSED,
    COMMENTERS,
    LEVEL_OF_ROLE,
    PLAN_EDITORS,
    RAG,
    REMOVED_FROM_PLAN,
    RETURNS,
    SHA256_HEX,
    SIGN_OFFS,
    STATUS_CHANGES,
    Decision,
    Evidence,
    SignOff,
    SignOffLevel,
    Status,
)
from domain.narrative import NarrativeUpdate, check_narrative
from domain.plan_changes import require_in_plan
from domain.response import Response, check_response
from domain.roles import Role
from domain.rules import (
    RuleContext,
    require_identifier,
    require_iso_date,
    require_own_agency,
    require_role,
    require_string_list,
    require_text,
)


@dataclass
class Lead:
    """One agency's time leading an action: from the entry that made it the lead (the
    action's addition, a transfer or an amendment of `lead_agency`) until the entry that
    made another agency the lead (None while it leads it), with that entry's reason."""

    agency: str
    since: datetime
    until: datetime | None = None
    reason: str = ""  # why it took over: the transfer's (or amendment's) reason


class Action(Aggregate):
    def __init__(self) -> None:
        self.action_id = ""
        self.recommendation = 0
        self.title = ""
        self.lead_agency = ""
        self.lead_officers: list[str] = []
        self.expected_outcome = ""
        self.evidence_required = ""
        self.due_date: str | None = None
        self.status = Status.NOT_STARTED
        self.assigned_officers: list[str] = []
        self.evidence: dict[str, Evidence] = {}
        self.sign_offs: dict[SignOffLevel, SignOff] = {}
        self.agency_claim: Decision | None = None
        self.verdict: Decision | None = None
        self.last_return: Decision | None = None
        self.agency_rag: Decision | None = None
        self.review_rag: Decision | None = None
        self.blocked_reason: str | None = None
        self.closed_reason: str | None = None
        self.merged_into: str | None = None
        self.comment_count = 0
        self.challenge_count = 0
        #: Its agency's formal responses to it, oldest first: the last is the current.
        self.responses: list[Response] = []
        #: Every agency that has led it, oldest first: the last leads it now.
        self.lead_history: list[Lead] = []
        #: Its agency's narrative updates, oldest first (domain/narrative.py).
        self.narrative_updates: list[NarrativeUpdate] = []
        #: Its backfilled past, oldest first (domain/backfill.py).
        self.backfills: list[Backfill] = []
        #: The backfill the current status comes from (None once a live entry moves it).
        self.status_backfill: Backfill | None = None
        #: When its first live lifecycle entry was recorded (backfills must predate it).
        self.live_since: datetime | None = None

    def current_evidence(self) -> list[str]:
        return sorted(
            e.sha256
            for e in self.evidence.values()
            if e.withdrawn_at is None and e.erased_at is None
        )

    def published_evidence(self) -> list[str]:
        """The hashes of the evidence its agency lead has published (always current:
        withdrawal and erasure end a publication)."""
        return sorted(e.sha256 for e in self.evidence.values() if e.published)

    class Event(SignedEvent):
        def mutate(self, aggregate: Any) -> Any:
            """Apply, then note what only the sequence of entries shows: when live
            recording began, and whether the status still comes from a backfill."""
            before = None if aggregate is None else aggregate.status
            action: Any = super().mutate(aggregate)
            if self.TYPE in LIVE_LIFECYCLE and action.live_since is None:
                action.live_since = self.timestamp
            if self.TYPE != BACKFILL_TYPE and action.status is not before:
                action.status_backfill = None
            return action

    class Added(Event, Aggregate.Created):
        TYPE = "action.added"
        action_id: str
        recommendation: int
        title: str
        lead_agency: str
        lead_officers: list[str]
        expected_outcome: str
        evidence_required: str
        due_date: str | None

        def check(self, state: Any, ctx: RuleContext) -> None:
            rule = "action.add"
            require_role(ctx, PLAN_EDITORS, rule, "add actions to the plan")
            if state is not None:
                raise InvalidTransition(rule, f"action {self.action_id} already exists")
            if not isinstance(self.action_id, str) or not _valid_action_id(self.action_id):
                raise InvalidInput(rule, f"action id must look like R10.2: {self.action_id!r}")
            if ctx.plan is None:
                raise InvalidTransition(rule, "import the plan before adding actions")
            # A withdrawn, merged or renumbered recommendation takes no new actions
            # (domain/plan_changes.py): each refusal says where its work is now.
            require_in_plan(ctx.plan, self.recommendation, rule)
            if not self.action_id.startswith(f"R{self.recommendation}."):
                raise InvalidInput(
                    rule, f"action {self.action_id} does not belong to R{self.recommendation}"
                )
            _check_fields(self.payload(), ctx, rule)

        def apply(self, action: Action) -> None:
            action.action_id = self.action_id
            action.recommendation = self.recommendation
            for name in AMENDABLE:
                setattr(action, name, _copy(getattr(self, name)))
            action.lead_history = [Lead(self.lead_agency, self.timestamp)]

    class Amended(Event):
        """Fields of the action changed (the plan is a working document), with the reason."""

        TYPE = "action.amended"
        changes: dict[str, Any]
        reason: str

        def check(self, state: Action, ctx: RuleContext) -> None:
            rule = "action.amend"
            require_role(ctx, PLAN_EDITORS, rule, "amend actions")
            require_text(self.reason, "reason", rule)
            if state.status in CLOSED:
                raise InvalidTransition(rule, f"action {state.action_id} is {state.status}")
            if not isinstance(self.changes, dict) or not self.changes:
                raise InvalidInput(rule, "changes must name at least one field")
            unknown = set(self.changes) - AMENDABLE
            if unknown:
                raise InvalidInput(rule, f"cannot amend {', '.join(sorted(unknown))}")
            _check_fields(self.changes, ctx, rule)

        def apply(self, action: Action) -> None:
            """An amended `lead_agency` (the older way to move an action, kept so the logs
            that used it still replay) is recorded in `lead_history` as a transfer is; it
            changes nothing else (`LeadAgencyTransferred` is the way to move one now)."""
            moved = self.changes.get("lead_agency", action.lead_agency) != action.lead_agency
            if moved:
                _take_over(action, self.changes["lead_agency"], self.timestamp, self.reason)
            for name, value in self.changes.items():
                setattr(action, name, _copy(value))

    class OfficerAssigned(Event):
        TYPE = "action.officer_assigned"
        officer: str

        def check(self, state: Action, ctx: RuleContext) -> None:
            rule = "action.assign_officer"
            require_role(ctx, {Role.AGENCY_LEAD}, rule, "assign officers")
            require_own_agency(ctx, state.lead_agency, rule, "assign officers")
            _require_open(state, rule)
            user = ctx.directory.users.get(self.officer) if ctx.directory else None
            if user is None or user.role is not Role.OFFICER or user.agency != state.lead_agency:
                raise InvalidInput(
                    rule, f"{self.officer!r} is not an officer of {state.lead_agency}"
                )
            if self.officer in state.assigned_officers:
                raise InvalidTransition(rule, f"{self.officer} is already assigned")

        def apply(self, action: Action) -> None:
            action.assigned_officers.append(self.officer)

    class StatusChanged(Event):
        TYPE = "action.status_changed"
        from_status: str
        to_status: str
        reason: str

        def check(self, state: Action, ctx: RuleContext) -> None:
            rule = "action.status_change"
            try:
                before, after = Status(self.from_status), Status(self.to_status)
            except ValueError:
                raise InvalidInput(rule, "unknown status") from None
            if before is not state.status:
                raise InvalidTransition(
                    rule, f"action {state.action_id} is {state.status}, not {before}"
                )
            transition = STATUS_CHANGES.get((before, after))
            if transition is None:
                raise InvalidTransition(rule, f"no status change from {before} to {after}")
            doing = f"move an action from {before} to {after}"
            require_role(ctx, transition.roles, transition.rule, doing)
            if before in CLOSED:
                _require_recommendation_in_plan(state, ctx, transition.rule)
            require_own_agency(ctx, state.lead_agency, transition.rule, doing)
            if transition.needs_reason:
                require_text(self.reason, "reason", transition.rule)
            elif not isinstance(self.reason, str):
                raise InvalidInput(transition.rule, "reason must be a string")
            if after is Status.EVIDENCE_SUBMITTED and not state.current_evidence():
                raise InvalidTransition(
                    "action.submit_needs_evidence", "attach evidence before submitting"
                )

        def apply(self, action: Action) -> None:
            after = Status(self.to_status)
            action.status = after
            action.blocked_reason = self.reason if after is Status.BLOCKED else None
            if after in CHAIR_OUTCOMES:
                action.verdict = Decision(after.value, self.actor, self.timestamp, self.reason)
                action.closed_reason = self.reason
            elif Status(self.from_status) in CHAIR_OUTCOMES:
                action.verdict = Decision("reopened", self.actor, self.timestamp, self.reason)
                action.closed_reason = None

    class EvidenceAttached(Event):
        TYPE = "action.evidence_attached"
        sha256: str
        size: int
        media_type: str
        original_name: str
        description: str
        storage_key: str
        effective_date: str

        def check(self, state: Action, ctx: RuleContext) -> None:
            rule = "action.attach_evidence"
            require_role(ctx, AGENCY_WORKERS, rule, "attach evidence")
            require_own_agency(ctx, state.lead_agency, rule, "attach evidence")
            if state.status not in AGENCY_WORKING:
                raise InvalidTransition(
                    rule, f"action {state.action_id} is {state.status}; evidence is closed"
                )
            _require_sha256(self.sha256, rule)
            if self.sha256 in state.evidence and state.evidence[self.sha256].withdrawn_at is None:
                raise InvalidTransition(rule, "this evidence is already attached")
            if not isinstance(self.size, int) or isinstance(self.size, bool) or self.size <= 0:
                raise InvalidInput(rule, "size must be a positive integer")
            require_text(self.media_type, "media_type", rule, max_length=200)
            require_text(self.original_name, "original_name", rule, max_length=500)
            require_text(self.description, "description", rule, max_length=5000)
            require_text(self.storage_key, "storage_key", rule, max_length=500)
            require_iso_date(self.effective_date, "effective_date", rule)

        def apply(self, action: Action) -> None:
            action.evidence[self.sha256] = Evidence(
                self.sha256,
                self.size,
                self.media_type,
                self.original_name,
                self.description,
                self.storage_key,
                self.effective_date,
                self.actor,
                self.timestamp,
            )

    class EvidenceWithdrawn(Event):
        """Evidence no longer relied on; it stays in the log and in the store."""

        TYPE = "action.evidence_withdrawn"
        sha256: str
        reason: str

        def check(self, state: Action, ctx: RuleContext) -> None:
            rule = "action.withdraw_evidence"
            require_role(ctx, AGENCY_WORKERS, rule, "withdraw evidence")
            require_own_agency(ctx, state.lead_agency, rule, "withdraw evidence")
            if state.status not in AGENCY_WORKING:
                raise InvalidTransition(
                    rule, f"action {state.action_id} is {state.status}; its evidence is signed for"
                )
            if self.sha256 not in state.current_evidence():
                raise InvalidTransition(rule, "no such evidence is attached")
            require_text(self.reason, "reason", rule)

        def apply(self, action: Action) -> None:
            evidence = action.evidence[self.sha256]
            evidence.withdrawn_at = self.timestamp
            evidence.withdrawn_reason = self.reason
            evidence.end_publication()  # what is no longer relied on is not shown either

    class EvidenceErased(Event):
        """A lawful erasure (e.g. of a child's personal data): the blob's data key is
        destroyed, so it can never be read again, while its hash stays in the ledger and
        every signature over it still verifies. Only an administrator records it, with
        the lawful reason; nothing about the content is recorded."""

        TYPE = "action.evidence_erased"
        sha256: str
        reason: str

        def check(self, state: Action, ctx: RuleContext) -> None:
            rule = "action.erase_evidence"
            require_role(ctx, {Role.ADMIN}, rule, "erase evidence")
            evidence = state.evidence.get(self.sha256)
            if evidence is None:
                raise InvalidTransition(rule, f"action {state.action_id} has no such evidence")
            if evidence.erased_at is not None:
                raise InvalidTransition(rule, "this evidence is already erased")
            require_text(self.reason, "reason", rule)

        def apply(self, action: Action) -> None:
            evidence = action.evidence[self.sha256]
            evidence.erased_at = self.timestamp
            evidence.erased_reason = self.reason
            evidence.end_publication()  # erased evidence is never public

    class EvidencePublished(Event):
        """The action's agency lead marks one of its files publishable: the statement says
        what they vouch for (that the file, its name and its description hold no personal
        data and may be published). Only evidence attached to the action now: not
        withdrawn (withdrawal ends a publication, so what is no longer relied on is
        never shown), not erased, and not already published. Any status, closed ones
        included: a verified action's evidence is what the public most wants to see."""

        TYPE = "action.evidence_published"
        sha256: str
        statement: str

        def check(self, state: Action, ctx: RuleContext) -> None:
            rule = "action.publish_evidence"
            require_role(ctx, {Role.AGENCY_LEAD}, rule, "publish evidence")
            require_own_agency(ctx, state.lead_agency, rule, "publish evidence")
            _require_sha256(self.sha256, rule)
            evidence = state.evidence.get(self.sha256)
            if evidence is None:
                raise InvalidTransition(rule, f"action {state.action_id} has no such evidence")
            if evidence.erased_at is not None:
                raise InvalidTransition(rule, "erased evidence is never published")
            if evidence.withdrawn_at is not None:
                raise InvalidTransition(
                    rule, "withdrawn evidence is not published; attach it again first"
                )
            if evidence.published:
                raise InvalidTransition(rule, "this evidence is already published")
            require_text(self.statement, "statement", rule)

        def apply(self, action: Action) -> None:
            evidence = action.evidence[self.sha256]
            evidence.published_at = self.timestamp
            evidence.published_statement = self.statement
            evidence.published_by = self.actor

    class EvidenceUnpublished(Event):
        """A publication stopped (a mistake, or the file no longer fits to be public),
        by the action's agency lead, with the reason; the log keeps both entries."""

        TYPE = "action.evidence_unpublished"
        sha256: str
        reason: str

        def check(self, state: Action, ctx: RuleContext) -> None:
            rule = "action.unpublish_evidence"
            require_role(ctx, {Role.AGENCY_LEAD}, rule, "unpublish evidence")
            require_own_agency(ctx, state.lead_agency, rule, "unpublish evidence")
            evidence = state.evidence.get(self.sha256) if isinstance(self.sha256, str) else None
            if evidence is None or not evidence.published:
                raise InvalidTransition(rule, "no such evidence is published")
            require_text(self.reason, "reason", rule)

        def apply(self, action: Action) -> None:
            action.evidence[self.sha256].end_publication()

    class SignedOff(Event):
        """A sign-off at one level, naming exactly the evidence the signer considered."""

        TYPE = "action.signed_off"
        level: str
        evidence: list[str]
        statement: str

        def check(self, state: Action, ctx: RuleContext) -> None:
            rule = "action.sign_off"
            try:
                level = SignOffLevel(self.level)
            except ValueError:
                raise InvalidInput(rule, f"unknown sign-off level {self.level!r}") from None
            needed = SIGN_OFFS[level]
            rule = f"action.sign_off.{level.value}"
            require_role(ctx, {needed.role}, rule, f"sign off at {level.value} level")
            require_own_agency(ctx, state.lead_agency, rule, "sign off")
            if state.status is not needed.before:
                raise InvalidTransition(
                    rule,
                    f"action {state.action_id} is {state.status}; {level.value} sign-off "
                    f"needs {needed.before}",
                )
            if not isinstance(self.evidence, list) or self.evidence != state.current_evidence():
                raise InvalidTransition(
                    "action.sign_off.evidence_mismatch",
                    "the sign-off must name exactly the evidence currently attached (sorted)",
                )
            if not isinstance(self.statement, str):
                raise InvalidInput(rule, "statement must be a string")

        def apply(self, action: Action) -> None:
            level = SignOffLevel(self.level)
            action.sign_offs[level] = SignOff(
                level, self.actor, self.timestamp, list(self.evidence), self.statement
            )
            action.status = SIGN_OFFS[level].after
            if level is SignOffLevel.AGENCY:
                action.agency_claim = Decision(
                    "complete", self.actor, self.timestamp, self.statement
                )
            elif level is SignOffLevel.CHAIR:
                action.verdict = Decision("verified", self.actor, self.timestamp, self.statement)

    class SignOffRevoked(Event):
        """A signer withdraws their own level's sign-off while it is the latest one."""

        TYPE = "action.sign_off_revoked"
        level: str
        reason: str

        def check(self, state: Action, ctx: RuleContext) -> None:
            rule = "action.revoke_sign_off"
            try:
                level = SignOffLevel(self.level)
            except ValueError:
                raise InvalidInput(rule, f"unknown sign-off level {self.level!r}") from None
            needed = SIGN_OFFS[level]
            require_role(ctx, {needed.role}, rule, f"revoke a {level.value} sign-off")
            if state.status in CLOSED:  # the chair's verification: revoking reopens it
                _require_recommendation_in_plan(state, ctx, rule)
            require_own_agency(ctx, state.lead_agency, rule, "revoke a sign-off")
            if state.status is not needed.after:
                raise InvalidTransition(
                    rule,
                    f"action {state.action_id} is {state.status}; only the latest "
                    "sign-off can be revoked",
                )
            require_text(self.reason, "reason", rule)

        def apply(self, action: Action) -> None:
            level = SignOffLevel(self.level)
            del action.sign_offs[level]
            action.status = SIGN_OFFS[level].before
            if level is SignOffLevel.AGENCY:
                action.agency_claim = Decision("withdrawn", self.actor, self.timestamp, self.reason)
            elif level is SignOffLevel.CHAIR:
                action.verdict = Decision("revoked", self.actor, self.timestamp, self.reason)

    class Returned(Event):
        """A reviewer sends the action back to the agency with reasons.

        ``level`` names the capacity the reviewer returns it in (agency, implementation
        group, chair); it must match the reviewer's role, so the signed statement says
        on its face whose judgement it is. Only the chair's return is a verdict."""

        TYPE = "action.returned"
        level: str
        reasons: list[str]

        def check(self, state: Action, ctx: RuleContext) -> None:
            rule = "action.return"
            allowed_from = RETURNS.get(ctx.actor.role)
            if allowed_from is None:
                require_role(ctx, RETURNS.keys(), rule, "return actions")
                return
            if self.level != LEVEL_OF_ROLE[ctx.actor.role].value:
                raise InvalidInput(
                    rule,
                    f"{ctx.actor.role.value} returns at level "
                    f"{LEVEL_OF_ROLE[ctx.actor.role].value}, not {self.level!r}",
                )
            require_own_agency(ctx, state.lead_agency, rule, "return an action")
            if state.status not in allowed_from:
                raise InvalidTransition(
                    rule, f"{ctx.actor.role.value} may not return an action that is {state.status}"
                )
            require_string_list(self.reasons, "reasons", rule, non_empty=True)

        def apply(self, action: Action) -> None:
            action.status = Status.IN_PROGRESS
            action.sign_offs.clear()
            decision = Decision("returned", self.actor, self.timestamp, "; ".join(self.reasons))
            action.last_return = decision
            # The agency's claim stands as it was made; the chair's verdict sits beside it.
            if self.level == SignOffLevel.CHAIR.value:
                action.verdict = decision

    class RagRated(Event):
        """A red/amber/green rating. ``scope`` says whose rating it is: the agency's own
        (its lead) or a reviewer's (implementation group, chair); they are kept apart."""

        TYPE = "action.rag_rated"
        scope: str
        rating: str
        reason: str

        def check(self, state: Action, ctx: RuleContext) -> None:
            rule = "action.rag"
            require_role(
                ctx, {Role.AGENCY_LEAD, Role.IMPLEMENTATION_GROUP, Role.CHAIR}, rule, "rate actions"
            )
            require_own_agency(ctx, state.lead_agency, rule, "rate an action")
            expected = "agency" if ctx.actor.role is Role.AGENCY_LEAD else "review"
            if self.scope != expected:
                raise InvalidInput(
                    rule,
                    f"{ctx.actor.role.value} rates with scope {expected!r}, not {self.scope!r}",
                )
            if self.rating not in RAG:
                raise InvalidInput(rule, f"rating must be red, amber or green: {self.rating!r}")
            require_text(self.reason, "reason", rule)

        def apply(self, action: Action) -> None:
            decision = Decision(self.rating, self.actor, self.timestamp, self.reason)
            if self.scope == "agency":
                action.agency_rag = decision
            else:
                action.review_rag = decision

    class CommentAdded(Event):
        """A comment, or a challenge that asks the agency to answer."""

        TYPE = "action.comment_added"
        kind: str
        text: str

        def check(self, state: Action, ctx: RuleContext) -> None:
            rule = "action.comment"
            require_role(ctx, COMMENTERS, rule, "comment")
            require_own_agency(ctx, state.lead_agency, rule, "comment")
            if self.kind not in ("comment", "challenge"):
                raise InvalidInput(rule, "kind must be comment or challenge")
            require_text(self.text, "text", rule)

        def apply(self, action: Action) -> None:
            if self.kind == "challenge":
                action.challenge_count += 1
            else:
                action.comment_count += 1

    class Merged(Event):
        TYPE = "action.merged"
        into: str
        reason: str

        def check(self, state: Action, ctx: RuleContext) -> None:
            rule = "action.merge"
            require_role(ctx, PLAN_EDITORS, rule, "merge actions")
            _require_open(state, rule)
            if not isinstance(self.into, str) or not _valid_action_id(self.into):
                raise InvalidInput(rule, f"into must be an action id: {self.into!r}")
            if self.into == state.action_id:
                raise InvalidInput(rule, "an action cannot be merged into itself")
            require_text(self.reason, "reason", rule)

        def apply(self, action: Action) -> None:
            action.status = Status.MERGED
            action.merged_into = self.into
            action.closed_reason = self.reason

    class Withdrawn(Event):
        TYPE = "action.withdrawn"
        reason: str

        def check(self, state: Action, ctx: RuleContext) -> None:
            rule = "action.withdraw"
            require_role(ctx, PLAN_EDITORS, rule, "withdraw actions")
            _require_open(state, rule)
            require_text(self.reason, "reason", rule)

        def apply(self, action: Action) -> None:
            action.status = Status.WITHDRAWN
            action.closed_reason = self.reason

    class LeadAgencyTransferred(Event):
        """Responsibility for the action moves to another agency of the plan, from the
        moment this entry is signed, by the plan's editors (the implementation group),
        with the reason. Not on a closed action (verified, a chair's outcome, merged or
        withdrawn): it keeps the lead it closed under.

        What moves: the lead agency, so from now on only the new agency's officers and
        lead may sign the action's entries (`require_own_agency`; the auditor follows the
        transfer too, ledger/auditor/signers.py), and the old agency's may not.

        What is cleared: the lead officers the plan named and the assigned officers. They
        are the old agency's people, and officers sign only for their own agency's
        actions: the implementation group amends `lead_officers` and the new agency's
        lead assigns its own officers.

        What stays, attributed to the old agency: its entries, evidence (still attached,
        publications included), ratings and responses. Its agency-level sign-off, if one
        stands, stays in the history as its claim (`sign_offs`' signer, `agency_claim`),
        but an action at `agency_signed_off` (the old agency's claim, not yet accepted)
        moves back to `evidence_submitted`: the agency now responsible has made no claim,
        and it signs off (or returns it) itself. From `accepted` on, the group's own
        acceptance stands: the group signs the transfer, and may return the action.

        `lead_history` closes the old agency's time at this entry's timestamp and opens
        the new agency's."""

        TYPE = "action.lead_agency_transferred"
        to_agency: str
        reason: str

        def check(self, state: Action, ctx: RuleContext) -> None:
            rule = "action.transfer_lead"
            require_role(ctx, PLAN_EDITORS, rule, "transfer an action to another agency")
            if state.status in CLOSED:
                raise InvalidTransition(
                    rule,
                    f"action {state.action_id} is {state.status}: a closed action keeps the "
                    f"lead it closed under ({state.lead_agency})",
                )
            require_identifier(self.to_agency, "to_agency", rule)
            if ctx.plan is None:
                raise InvalidTransition(rule, "import the plan before transferring actions")
            if self.to_agency not in ctx.plan.agencies:
                known = ", ".join(sorted(ctx.plan.agencies)) or "none"
                raise InvalidInput(
                    rule,
                    f"no agency {self.to_agency!r} in the plan (its agencies: {known}); "
                    "add the agency to the plan first",
                )
            if self.to_agency == state.lead_agency:
                raise InvalidTransition(
                    rule, f"action {state.action_id} is already led by {state.lead_agency}"
                )
            require_text(self.reason, "reason", rule)

        def apply(self, action: Action) -> None:
            _take_over(action, self.to_agency, self.timestamp, self.reason)
            action.lead_agency = self.to_agency
            action.lead_officers = []
            action.assigned_officers = []
            if action.status is Status.AGENCY_SIGNED_OFF:
                # Set aside, not deleted: the log keeps the sign-off, `agency_claim` its
                # signer; the new agency's lead signs again on the same evidence. A status
                # backfilled from a source's report (the old agency reported it complete)
                # moves back too: the agency now responsible has claimed nothing.
                action.sign_offs.pop(SignOffLevel.AGENCY, None)
                action.status = Status.EVIDENCE_SUBMITTED

    class ResponseRecorded(Event):
        """The formal response to this action, where its agency responds for itself: the
        fields of a recommendation's response (`domain.plan.Plan.ResponseRecorded`) without
        the number. By the lead agency's lead, or the plan editors; in the plan's current
        vocabulary; while the action is in the plan (not merged or withdrawn)."""

        TYPE = "action.response_recorded"
        response: str
        responded_on: str
        responder: str
        reasons: str
        source: str

        def check(self, state: Action, ctx: RuleContext) -> None:
            rule = "action.record_response"
            doing = "record a response to an action"
            require_role(ctx, PLAN_EDITORS | {Role.AGENCY_LEAD}, rule, doing)
            require_own_agency(ctx, state.lead_agency, rule, doing)
            if state.status in REMOVED_FROM_PLAN:
                raise InvalidTransition(rule, f"action {state.action_id} is {state.status}")
            if ctx.plan is None:
                raise InvalidTransition(rule, "import the plan before recording responses")
            terms = ctx.plan.response_terms
            check_response(self.payload(), terms, self.timestamp, state.responses, rule)

        def apply(self, action: Action) -> None:
            action.responses.append(
                Response(
                    self.response,
                    self.responded_on,
                    self.responder,
                    self.reasons,
                    self.source,
                    self.actor,
                    self.timestamp,
                )
            )

    class NarrativeUpdated(Event):
        """The lead agency's account of the action for a period: done, next, risks
        (domain/narrative.py). By its officers or lead; not once the action is closed."""

        TYPE = "action.narrative_updated"
        period: str
        done: str
        next: str
        risks: str

        def check(self, state: Action, ctx: RuleContext) -> None:
            rule = "action.narrative_update"
            doing = "write a narrative update"
            require_role(ctx, AGENCY_WORKERS, rule, doing)
            require_own_agency(ctx, state.lead_agency, rule, doing)
            _require_open(state, rule)
            check_narrative(self.payload(), rule)

        def apply(self, action: Action) -> None:
            action.narrative_updates.append(
                NarrativeUpdate(
                    self.period, self.done, self.next, self.risks, self.actor, self.timestamp
                )
            )

    class Backfilled(Event):
        """A fact of the action's past, from a source that reported it: the status it
        had on `occurred_on` (domain/backfill.py). Recorded by the plan's editors;
        marked as backfilled wherever it is shown. It sets the current status only
        while nothing has been recorded live."""

        TYPE = BACKFILL_TYPE
        status: str
        occurred_on: str
        source: str
        note: str

        def check(self, state: Action, ctx: RuleContext) -> None:
            rule = "action.backfill"
            require_role(ctx, PLAN_EDITORS, rule, "record an action's past")
            _require_open(state, rule)
            check_backfill(
                self.payload(),
                recorded_at=self.timestamp,
                earlier=state.backfills,
                live_since=state.live_since,
                rule=rule,
            )

        def apply(self, action: Action) -> None:
            fact = Backfill(
                Status(self.status),
                self.occurred_on,
                self.source,
                self.note,
                self.actor,
                self.timestamp,
            )
            action.backfills.append(fact)
            if action.live_since is None:
                action.status = fact.status
                action.status_backfill = fact
                action.blocked_reason = self.note if fact.status is Status.BLOCKED else None


#: The entries that record the action's life as it happens (not its definition, not
#: comments): once one is recorded, its past can no longer be backfilled after it.
LIVE_LIFECYCLE = frozenset(
    {
        "action.status_changed",
        "action.evidence_attached",
        "action.signed_off",
        "action.sign_off_revoked",
        "action.returned",
        "action.rag_rated",
        "action.merged",
        "action.withdrawn",
    }
)

ACTION_ID = re.compile(r"R[0-9]+\.[1-9][0-9]*")


def _valid_action_id(value: str) -> bool:
    """`R<recommendation>.<n>` in ASCII digits (`str.isdigit` also accepts "٣")."""
    return len(value) <= 16 and ACTION_ID.fullmatch(value) is not None


def _take_over(action: Action, agency: str, at: datetime, reason: str) -> None:
    """`agency` leads the action from `at`: the current lead's time ends then."""
    if action.lead_history:
        action.lead_history[-1].until = at
    action.lead_history.append(Lead(agency, at, None, reason))


def _require_recommendation_in_plan(state: Action, ctx: RuleContext, rule: str) -> None:
    """An action is reopened only while its recommendation is in the plan: one withdrawn
    or merged was allowed out only once none of its actions was open (plan_changes.py),
    and an action reopened under it would be work towards nothing, counted nowhere."""
    if ctx.plan is None:
        return
    plan: Any = ctx.plan  # domain.plan.Plan: its renumberings and changes
    number = plan.current_number(state.recommendation)
    found = plan.recommendations.get(number) if number is not None else None
    if found is not None and found.removed:
        where = "withdrawn" if found.withdrawn else f"merged into {found.merged_into}"
        raise InvalidTransition(
            rule, f"recommendation {number} is {where}: its actions are not reopened"
        )


def _require_open(state: Action, rule: str) -> None:
    if state.status in CLOSED:
        raise InvalidTransition(rule, f"action {state.action_id} is {state.status}")


def _require_sha256(value: object, rule: str) -> None:
    if not isinstance(value, str) or len(value) != 64 or not set(value) <= SHA256_HEX:
        raise InvalidInput(rule, "sha256 must be 64 lowercase hex digits")


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def _check_fields(fields: dict[str, Any], ctx: RuleContext, rule: str) -> None:
    if "title" in fields:
        require_text(fields["title"], "title", rule, max_length=500)
    if "lead_agency" in fields:
        require_identifier(fields["lead_agency"], "lead_agency", rule)
        if ctx.plan is None or fields["lead_agency"] not in ctx.plan.agencies:
            raise InvalidInput(rule, f"unknown lead agency {fields['lead_agency']!r}")
    if "lead_officers" in fields:
        require_string_list(fields["lead_officers"], "lead_officers", rule)
    # May be empty: a published recommendation list rarely states them, and text typed in
    # to fill the gap would be signed as if the plan said it (api/application/plan_columns.py).
    for name in ("expected_outcome", "evidence_required"):
        if name in fields:
            require_text(fields[name], name, rule, empty=True)
    if "due_date" in fields:
        require_iso_date(fields["due_date"], "due_date", rule, optional=True)
