"""Client-side commands: turn what a user asks for into a signed entry.

Each function reads the current state it needs (the aggregate's version, the action's
status, its current evidence) and returns the entry to append; the ledger re-checks it
all. Keeping this apart from the CLI lets the HTTP client reuse it unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from domain import (
    DIRECTORY_ID,
    PLAN_ID,
    Action,
    Challenge,
    Directory,
    InvalidInput,
    Plan,
    Role,
    SignOffLevel,
    Status,
    action_aggregate_id,
    challenge_aggregate_id,
)
from domain.charter import DEFAULT_APPOINTERS
from domain.lifecycle import LEVEL_OF_ROLE
from ledger.auditor.ed25519 import encode_public_key
from ledger.auditor.entry import SignedEntry
from ledger.auditor.note import NoteSigner
from ledger.errors import LedgerError
from ledger.receipt import with_receipts
from ledger.service import Appended, Ledger
from ledger.signer import Signer
from ledger.timestamps import NextEntry

log = logging.getLogger("inquiry_ledger.commands")


class CommandError(ValueError):
    """The command cannot be built (unknown action, nothing to sign)."""


class LedgerPort(Protocol):
    """What a client needs of a ledger: the in-process `Ledger` or `api.cli.remote.RemoteLedger`."""

    def next_entry(self, aggregate_id: UUID) -> NextEntry: ...
    def append(self, entries: Sequence[SignedEntry]) -> list[Appended]: ...
    def role_of(self, user_id: str) -> Role | None: ...
    def action(self, action_id: str) -> Any: ...


#: Turns an append's results into results with receipts (ledger.receipt.Receipted).
ReceiptIssuer = Callable[[Sequence[Appended]], Sequence[Appended]]


def local_receipts(ledger: Ledger, log_signer: NoteSigner) -> ReceiptIssuer:
    """Receipts signed here, for a caller that holds the log key (the CLI's local mode).
    Over HTTP the server issues them, and `RemoteLedger.append` returns them.

    The entries are appended by then, so a receipt that cannot be signed (the log key
    was rotated meanwhile) leaves the results without one rather than reporting the
    append as failed."""

    def issue(appended: Sequence[Appended]) -> Sequence[Appended]:
        try:
            return with_receipts(ledger, log_signer, appended)
        except (LedgerError, ValueError) as error:
            log.warning("appended, but no receipt could be signed: %s", error)
            return appended

    return issue


@dataclass
class Client:
    """A signer acting on a ledger, in-process or over HTTP: it signs on its own side.

    With `receipts`, every append answers with a receipt (ledger/receipt.py): the
    command layer issues them, not `Ledger.append`, so bulk writers (the demo, import,
    benchmarks) that build a Client without it pay nothing."""

    ledger: LedgerPort
    signer: Signer
    receipts: ReceiptIssuer | None = None

    def entry(self, type_name: str, aggregate_id: UUID, payload: dict[str, Any]) -> SignedEntry:
        """The next entry of the aggregate, dated no earlier than the ledger allows: a
        predecessor dated ahead of the clock never makes this one go backwards."""
        following = self.ledger.next_entry(aggregate_id)
        return self.signer.sign(
            type_name, aggregate_id, following.version, payload, not_before=following.not_before
        )

    def append(self, entries: Sequence[SignedEntry]) -> list[Appended]:
        """Append, and issue the receipts if this client issues them."""
        results = self.ledger.append(entries)
        return list(self.receipts(results)) if self.receipts is not None else results

    def submit(self, type_name: str, aggregate_id: UUID, payload: dict[str, Any]) -> Appended:
        return self.append([self.entry(type_name, aggregate_id, payload)])[0]

    def role(self) -> Role:
        role = self.ledger.role_of(self.signer.user_id)
        if role is None:
            raise CommandError(f"{self.signer.user_id} is not a registered user")
        return role

    def action(self, action_id: str) -> Any:
        """The action's current state (an Action, or its remote summary)."""
        action = self.ledger.action(action_id)
        if action is None:
            raise CommandError(f"no action {action_id} in the plan")
        return action

    # -- directory -------------------------------------------------------------------

    def adopt_charter(
        self,
        name: str,
        title: str,
        *,
        appointers: dict[str, str] | None = None,
        off_page_roles: list[str] | None = None,
    ) -> Appended:
        """The chair's self-signed charter: this client's signer becomes the chair, with
        the key it signs with (made on the chair's own machine)."""
        return self.submit(
            Directory.CharterAdopted.TYPE,
            DIRECTORY_ID,
            {
                "chair_id": self.signer.user_id,
                "name": name,
                "public_key": encode_public_key(self.signer.key.public_key),
                "title": title,
                "appointers": dict(appointers or DEFAULT_APPOINTERS),
                "off_page_roles": list(off_page_roles if off_page_roles is not None else []),
            },
        )

    def register_user(
        self, user_id: str, name: str, role: str, agency: str | None, public_key: bytes
    ) -> Appended:
        return self.submit(
            Directory.UserRegistered.TYPE,
            DIRECTORY_ID,
            {
                "user_id": user_id,
                "name": name,
                "role": role,
                "agency": agency,
                "public_key": encode_public_key(public_key),
            },
        )

    def rotate_key(self, user_id: str, new_public_key: bytes, reason: str) -> Appended:
        return self.submit(
            Directory.KeyRotated.TYPE,
            DIRECTORY_ID,
            {
                "user_id": user_id,
                "new_public_key": encode_public_key(new_public_key),
                "reason": reason,
            },
        )

    def revoke_key(self, user_id: str, key_id: str, reason: str) -> Appended:
        return self.submit(
            Directory.KeyRevoked.TYPE,
            DIRECTORY_ID,
            {"user_id": user_id, "revoked_key_id": key_id, "reason": reason},
        )

    def add_key(self, user_id: str, public_key: bytes, reason: str) -> Appended:
        """A further active key for `user_id`, beside the ones they hold."""
        return self.submit(
            Directory.KeyAdded.TYPE,
            DIRECTORY_ID,
            {"user_id": user_id, "public_key": encode_public_key(public_key), "reason": reason},
        )

    def change_role(self, user_id: str, role: str, agency: str | None, reason: str) -> Appended:
        """Move `user_id` to `role` (of `agency`, for officers and agency leads)."""
        return self.submit(
            Directory.UserRoleChanged.TYPE,
            DIRECTORY_ID,
            {"user_id": user_id, "role": role, "agency": agency, "reason": reason},
        )

    def deactivate_user(self, user_id: str, reason: str) -> Appended:
        return self.submit(
            Directory.UserDeactivated.TYPE, DIRECTORY_ID, {"user_id": user_id, "reason": reason}
        )

    def reactivate_user(self, user_id: str, reason: str) -> Appended:
        return self.submit(
            Directory.UserReactivated.TYPE, DIRECTORY_ID, {"user_id": user_id, "reason": reason}
        )

    # -- the plan's formal responses ---------------------------------------------------

    def respond(
        self,
        number: int,
        response: str,
        responded_on: str,
        responder: str,
        reasons: str = "",
        source: str = "",
    ) -> Appended:
        """Record the formal response to recommendation `number` (a term of the plan's
        response vocabulary, the date it was made, who made it, why, where published)."""
        fields = _response(response, responded_on, responder, reasons, source)
        return self.submit(Plan.ResponseRecorded.TYPE, PLAN_ID, {"number": number, **fields})

    def set_response_vocabulary(self, terms: Sequence[tuple[str, str]]) -> Appended:
        """The plan's response vocabulary from now on: (id, label) terms, the first its
        full acceptance."""
        listed = [{"id": term_id, "label": label} for term_id, label in terms]
        return self.submit(Plan.ResponseVocabularySet.TYPE, PLAN_ID, {"terms": listed})

    # -- the plan's changes, each with its reason (domain/plan.py) -----------------------

    def add_agency(self, agency_id: str, name: str, reason: str) -> Appended:
        payload = {"id": agency_id, "name": name, "reason": reason}
        return self.submit(Plan.AgencyAdded.TYPE, PLAN_ID, payload)

    def rename_agency(self, agency_id: str, name: str, reason: str) -> Appended:
        payload = {"id": agency_id, "name": name, "reason": reason}
        return self.submit(Plan.AgencyRenamed.TYPE, PLAN_ID, payload)

    def amend_recommendation(self, number: int, changes: dict[str, Any], reason: str) -> Appended:
        """Change a recommendation's title, text or lead agencies (only those given)."""
        payload = {"number": number, "changes": dict(changes), "reason": reason}
        return self.submit(Plan.RecommendationAmended.TYPE, PLAN_ID, payload)

    def withdraw_recommendation(self, number: int, reason: str) -> Appended:
        payload = {"number": number, "reason": reason}
        return self.submit(Plan.RecommendationWithdrawn.TYPE, PLAN_ID, payload)

    def merge_recommendation(self, number: int, into: int, reason: str) -> Appended:
        payload = {"number": number, "into": into, "reason": reason}
        return self.submit(Plan.RecommendationMerged.TYPE, PLAN_ID, payload)

    def reference_recommendation(
        self, number: int, reference: str, group: str, reason: str
    ) -> Appended:
        """How the inquiry writes recommendation `number`, and its group (a phase, a
        chapter); a reference it had before stays findable."""
        payload = {"number": number, "reference": reference, "group": group, "reason": reason}
        return self.submit(Plan.RecommendationReferenced.TYPE, PLAN_ID, payload)

    def renumber_recommendation(self, number: int, new_number: int, reason: str) -> Appended:
        payload = {"number": number, "new_number": new_number, "reason": reason}
        return self.submit(Plan.RecommendationRenumbered.TYPE, PLAN_ID, payload)

    def set_wording(self, words: dict[str, str], reason: str) -> Appended:
        """The ledger's words from now on (domain/wording.py keys; others keep theirs)."""
        payload = {"words": dict(words), "reason": reason}
        return self.submit(Plan.WordingSet.TYPE, PLAN_ID, payload)

    # -- actions ---------------------------------------------------------------------

    def add_action(self, fields: dict[str, Any]) -> Appended:
        return self.submit(Action.Added.TYPE, action_aggregate_id(fields["action_id"]), fields)

    def change_status(self, action_id: str, to_status: Status, reason: str = "") -> Appended:
        action = self.action(action_id)
        return self.submit(
            Action.StatusChanged.TYPE,
            action.id,
            {"from_status": action.status.value, "to_status": to_status.value, "reason": reason},
        )

    def sign_off(self, action_id: str, statement: str, level: str | None = None) -> Appended:
        action = self.action(action_id)
        chosen = level or _level_for(self.role()).value
        return self.submit(
            Action.SignedOff.TYPE,
            action.id,
            {"level": chosen, "evidence": action.current_evidence(), "statement": statement},
        )

    def revoke_sign_off(self, action_id: str, reason: str, level: str | None = None) -> Appended:
        action = self.action(action_id)
        chosen = level or _level_for(self.role()).value
        return self.submit(
            Action.SignOffRevoked.TYPE, action.id, {"level": chosen, "reason": reason}
        )

    def return_action(self, action_id: str, reasons: list[str]) -> Appended:
        action = self.action(action_id)
        return self.submit(
            Action.Returned.TYPE,
            action.id,
            {"level": _level_for(self.role()).value, "reasons": reasons},
        )

    def rate(self, action_id: str, rating: str, reason: str) -> Appended:
        scope = "agency" if self.role() is Role.AGENCY_LEAD else "review"
        return self.submit(
            Action.RagRated.TYPE,
            self.action(action_id).id,
            {"scope": scope, "rating": rating, "reason": reason},
        )

    def narrative_update(
        self, action_id: str, period: str, done: str = "", next: str = "", risks: str = ""
    ) -> Appended:
        """The lead agency's account of the action for a period (domain/narrative.py)."""
        return self.submit(
            Action.NarrativeUpdated.TYPE,
            self.action(action_id).id,
            {"period": period, "done": done, "next": next, "risks": risks},
        )

    def comment(self, action_id: str, text: str, *, challenge: bool = False) -> Appended:
        return self.submit(
            Action.CommentAdded.TYPE,
            self.action(action_id).id,
            {"kind": "challenge" if challenge else "comment", "text": text},
        )

    # -- challenges (domain/challenge.py) -------------------------------------------------

    def raise_challenge(self, challenge_id: str, subject: str, agency: str, text: str) -> Appended:
        payload = {"challenge_id": challenge_id, "subject": subject, "agency": agency}
        aggregate = challenge_aggregate_id(challenge_id)
        return self.submit(Challenge.Raised.TYPE, aggregate, payload | {"text": text})

    def answer_challenge(
        self, challenge_id: str, text: str, evidence: Sequence[str] = ()
    ) -> Appended:
        payload = {"text": text, "evidence": list(evidence)}
        return self.submit(Challenge.Answered.TYPE, challenge_aggregate_id(challenge_id), payload)

    def close_challenge(self, challenge_id: str, outcome: str, reason: str) -> Appended:
        payload = {"outcome": outcome, "reason": reason}
        return self.submit(Challenge.Closed.TYPE, challenge_aggregate_id(challenge_id), payload)

    def escalate_challenge(self, challenge_id: str, to: str, reason: str) -> Appended:
        payload = {"to": to, "reason": reason}
        return self.submit(Challenge.Escalated.TYPE, challenge_aggregate_id(challenge_id), payload)

    def assign(self, action_id: str, officer: str) -> Appended:
        return self.submit(
            Action.OfficerAssigned.TYPE, self.action(action_id).id, {"officer": officer}
        )

    def amend(self, action_id: str, changes: dict[str, Any], reason: str) -> Appended:
        return self.submit(
            Action.Amended.TYPE, self.action(action_id).id, {"changes": changes, "reason": reason}
        )

    def merge(self, action_id: str, into: str, reason: str) -> Appended:
        return self.submit(
            Action.Merged.TYPE, self.action(action_id).id, {"into": into, "reason": reason}
        )

    def withdraw(self, action_id: str, reason: str) -> Appended:
        return self.submit(Action.Withdrawn.TYPE, self.action(action_id).id, {"reason": reason})

    def transfer_lead(self, action_id: str, to_agency: str, reason: str) -> Appended:
        """Move responsibility for the action to `to_agency` (an agency of the plan) from
        now on, with the reason; its lead history keeps who led it before, until when."""
        return self.submit(
            Action.LeadAgencyTransferred.TYPE,
            self.action(action_id).id,
            {"to_agency": to_agency, "reason": reason},
        )

    def attach_evidence(self, action_id: str, evidence: dict[str, Any]) -> Appended:
        return self.submit(Action.EvidenceAttached.TYPE, self.action(action_id).id, evidence)

    def erase_evidence(self, action_id: str, sha256: str, reason: str) -> Appended:
        return self.submit(
            Action.EvidenceErased.TYPE,
            self.action(action_id).id,
            {"sha256": sha256, "reason": reason},
        )

    def withdraw_evidence(self, action_id: str, sha256: str, reason: str) -> Appended:
        return self.submit(
            Action.EvidenceWithdrawn.TYPE,
            self.action(action_id).id,
            {"sha256": sha256, "reason": reason},
        )

    def publish_evidence(self, action_id: str, sha256: str, statement: str) -> Appended:
        """The agency lead's signed statement that this file of the action may be public."""
        return self.submit(
            Action.EvidencePublished.TYPE,
            self.action(action_id).id,
            {"sha256": sha256, "statement": statement},
        )

    def unpublish_evidence(self, action_id: str, sha256: str, reason: str) -> Appended:
        return self.submit(
            Action.EvidenceUnpublished.TYPE,
            self.action(action_id).id,
            {"sha256": sha256, "reason": reason},
        )

    def respond_to_action(
        self,
        action_id: str,
        response: str,
        responded_on: str,
        responder: str,
        reasons: str = "",
        source: str = "",
    ) -> Appended:
        """Record an agency's own formal response to one of its actions."""
        return self.submit(
            Action.ResponseRecorded.TYPE,
            self.action(action_id).id,
            _response(response, responded_on, responder, reasons, source),
        )


def _response(
    response: str, responded_on: str, responder: str, reasons: str, source: str
) -> dict[str, Any]:
    return {
        "response": response,
        "responded_on": responded_on,
        "responder": responder,
        "reasons": reasons,
        "source": source,
    }


def _level_for(role: Role) -> SignOffLevel:
    level = LEVEL_OF_ROLE.get(role)
    if level is None:
        raise InvalidInput("action.sign_off", f"a {role.value} does not sign off actions")
    return level
