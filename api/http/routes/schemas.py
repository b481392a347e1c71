"""The JSON shapes of the API, as published in /openapi.json.

The response models describe exactly what the routes return today (the CLI's client,
api/cli/remote.py, reads these bodies): members in the same order, nothing added or left
out. Members that are free-form by nature (an event's payload, a timeline's state, a
decision's summary) stay objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ledger.auditor.receipt import Receipt
from ledger.service import Appended

# -- writing -------------------------------------------------------------------------------


class EntryIn(BaseModel):
    body: dict[str, Any] = Field(description="the event body exactly as signed (see README)")
    signature: str = Field(description="base64 Ed25519 signature over the canonical body")


class AppendIn(BaseModel):
    entries: list[EntryIn] = Field(min_length=1, max_length=500)
    command_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._:-]{8,128}$",
        description="client-chosen id: a retry with the same id is answered, not re-appended",
    )


class ReceiptOut(BaseModel):
    """The log's receipt for one appended entry (format: ledger/auditor/receipt.py)."""

    format: str = Field(description="inquiry-ledger/receipt/v1")
    leaf_index: int
    leaf_hash: str = Field(description="base64 RFC 9162 leaf hash of the stored entry")
    checkpoint: str = Field(
        description="a C2SP signed checkpoint by the log key, of a tree holding the leaf"
    )
    inclusion_proof: list[str] = Field(description="base64 hashes, leaf to root")


class AppendedOut(BaseModel):
    leaf_index: int
    notification_id: int
    type: str
    aggregate_id: str
    version: int
    receipt: ReceiptOut | None = Field(
        default=None, description="keep it: it proves the log accepted the entry at its index"
    )


class AppendOut(BaseModel):
    appended: list[AppendedOut]
    replayed: bool = False

    @classmethod
    def of(cls, results: Sequence[Appended], *, replayed: bool = False) -> AppendOut:
        """The answer to an append; results that carry a receipt (ledger.receipt.Receipted)
        answer with it."""
        appended = []
        for r in results:
            receipt: Receipt | None = getattr(r, "receipt", None)
            appended.append(
                AppendedOut(
                    leaf_index=r.leaf_index,
                    notification_id=r.notification_id,
                    type=r.type,
                    aggregate_id=str(r.aggregate_id),
                    version=r.version,
                    receipt=None if receipt is None else ReceiptOut(**receipt.to_json()),
                )
            )
        return cls(appended=appended, replayed=replayed)


class StoredOut(BaseModel):
    sha256: str
    size: int
    media_type: str
    storage_key: str
    encrypted: bool
    already_stored: bool


class CosignatureIn(BaseModel):
    witness_key: str = Field(
        max_length=500, description="the witness's vkey: NAME+KEYHASH+base64(0x04 || key)"
    )
    line: str = Field(max_length=500, description="the C2SP cosignature/v1 signature line")


class CosignatureOut(BaseModel):
    tree_size: int
    witness: str
    timestamp: int


# -- the service and the log ---------------------------------------------------------------


class HealthOut(BaseModel):
    status: str
    tree_size: int


class CosignatureLine(BaseModel):
    witness_key: str
    line: str


class CheckpointOut(BaseModel):
    tree_size: int
    root_hash: str = Field(description="base64 RFC 9162 root hash")
    note: str = Field(description="the C2SP signed note")
    created_at: str
    cosignatures: list[CosignatureLine]


class PQLogKeyOut(BaseModel):
    """The log's post-quantum key (ledger/pqkeys.py), with the statement binding it."""

    vkey: str = Field(description="ML-DSA-44 verifier key: NAME+KEYID+base64(type || key)")
    statement: str = Field(
        description="the signed note inquiry-ledger/log-pq-key/v1, by the log key and this key"
    )
    since: int = Field(description="checkpoints of larger trees carry its signature")


class InclusionProofOut(BaseModel):
    leaf_index: int
    tree_size: int
    proof: list[str] = Field(description="base64 hashes, leaf to root")


class ConsistencyProofOut(BaseModel):
    old_size: int
    new_size: int
    proof: list[str] = Field(description="base64 hashes")


class LeafOut(BaseModel):
    leaf_index: int
    leaf_hash: str = Field(description="base64 RFC 9162 leaf hash")


class LogEntriesOut(BaseModel):
    start: int
    tree_size: int
    entries: list[str] = Field(description="each entry's exact stored bytes, base64")


# -- the directory -------------------------------------------------------------------------


class MeOut(BaseModel):
    user_id: str
    name: str
    role: str
    agency: str | None
    active_keys: list[str]


class UserOut(BaseModel):
    user_id: str
    name: str
    role: str
    agency: str | None
    active_keys: list[str]
    public_keys: dict[str, str] = Field(description="every key id's base64 public key")
    revoked_keys: int
    deactivated: bool = Field(
        default=False, description="deactivated: none of their keys signs until reactivated"
    )


# -- the plan and its status ---------------------------------------------------------------


class ResponseOut(BaseModel):
    """A formal response as recorded (domain/response.py)."""

    response: str = Field(description="its term's id in the response vocabulary")
    label: str = Field(description="the term's label")
    responded_on: str = Field(description="the date the response was made")
    responder: str = Field(description="who made it: an organisation's name")
    reasons: str
    source: str = Field(description="where it was published (may be empty)")
    recorded_by: str
    recorded_at: str


class TermOut(BaseModel):
    id: str
    label: str


class RecommendationOut(BaseModel):
    number: int
    title: str
    text: str
    lead_agencies: list[str]
    responses: list[ResponseOut] = Field(
        default_factory=list, description="its formal responses, oldest first (the last stands)"
    )
    withdrawn: bool = False
    merged_into: int | None = Field(None, description="the recommendation it is merged into")
    closed_reason: str | None = Field(None, description="why it was withdrawn or merged")
    former_numbers: list[int] = Field(
        default_factory=list, description="the numbers it had before, oldest first"
    )
    reference: str = Field("", description="how the inquiry writes it (113.6); empty: its number")
    group: str = Field("", description="the phase, chapter or part it sits in")
    former_references: list[str] = Field(
        default_factory=list, description="the references it had before (each still finds it)"
    )


class PlanOut(BaseModel):
    """The plan (before one is imported: only title, agencies and recommendations)."""

    title: str
    source: str = ""
    agencies: dict[str, str]
    recommendations_expected: int = 0
    recommendations: list[RecommendationOut]
    former_numbers: dict[int, int] = Field(
        default_factory=dict,
        description="a renumbered recommendation's former number: its number now",
    )
    response_vocabulary: list[TermOut] = Field(
        default_factory=list,
        description="the terms a new response may use, the first its "
        "full acceptance (the one term that needs no reasons)",
    )


class SummaryOut(BaseModel):
    actions: int
    agency_claims_complete: int
    accepted_or_beyond: int
    chair_verified: int
    chair_not_implementable: int
    chair_superseded: int
    overdue: int


class RecommendationRowOut(BaseModel):
    number: int
    title: str
    lead_agencies: list[str]
    status: str
    actions: int
    by_status: dict[str, int]
    response: str | None = Field(None, description="the current formal response's term")
    response_label: str | None = None
    responded_on: str | None = None
    responder: str | None = None
    response_reasons: str | None = None
    response_source: str | None = None
    merged_into: int | None = Field(None, description="status merged: into this recommendation")
    closed_reason: str | None = Field(None, description="why it was withdrawn or merged")
    former_numbers: list[int] = Field(
        default_factory=list, description="the numbers it had before (each still finds it)"
    )
    reference: str = Field(
        "", description="how the inquiry writes it (113.6, K10.1); its number when none"
    )
    group: str = Field("", description="the phase, chapter or part it sits in; may be empty")
    placeholder: bool = Field(
        False, description="listed by the inquiry, its text not yet known (never invented)"
    )


class ActionRowOut(BaseModel):
    action_id: str
    recommendation: int
    title: str
    lead_agency: str
    status: str
    agency_claim: str | None
    verdict: str | None
    agency_rag: str | None
    review_rag: str | None
    due_date: str | None
    overdue: bool
    evidence: int
    signed_by: dict[str, str] = Field(description="sign-off level: who signed")
    last_change: str
    response: str | None = Field(
        None, description="its agency's own formal response's term (where it responds for itself)"
    )
    response_label: str | None = None
    responded_on: str | None = None
    responder: str | None = None
    response_reasons: str | None = None
    response_source: str | None = None
    backfilled_on: str | None = Field(
        default=None, description="where the status comes from a backfilled fact: its date"
    )
    backfill_source: str | None = Field(default=None, description="the source it cites")
    narrative_period: str | None = Field(
        default=None, description="the period its latest narrative update names"
    )
    narrative_on: str | None = Field(
        default=None, description="the date its latest narrative update was signed"
    )


class StatusOut(BaseModel):
    as_of: str
    basis: str = Field(
        default="recorded",
        description="`recorded`: what the record said at `as_of`; `occurred`: what had "
        "happened by `as_of`, as the record stands now (backfilled facts at their dates)",
    )
    log_size: int
    title: str
    summary: SummaryOut
    recommendation_summary: dict[str, int] = Field(
        default_factory=dict,
        description="recommendations in the plan, outstanding, withdrawn, merged "
        "(domain/figures.py: withdrawn and merged ones are never outstanding)",
    )
    agencies: dict[str, str]
    by_agency: dict[str, dict[str, int]] = Field(description="agency: status: count")
    recommendations: list[RecommendationRowOut]
    actions: list[ActionRowOut]
    wording: dict[str, str] = Field(
        default_factory=dict,
        description="the ledger's words as they stood (report title, sign-off levels, "
        "bodies, the not_implementable outcome: `plan.wording_set`), defaults filled in",
    )


class FieldChangeOut(BaseModel):
    action_id: str
    field: str
    before: Any
    after: Any


class DecisionEntryOut(BaseModel):
    leaf_index: int
    timestamp: str
    actor: str
    type: str
    action_id: str
    summary: dict[str, Any]


class DiffOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    summary_before: SummaryOut
    summary_after: SummaryOut
    actions_added: list[str]
    changes: list[FieldChangeOut]
    decisions: list[DecisionEntryOut]


class VersionOut(BaseModel):
    aggregate_id: str
    version: int
    timestamp: str | None = Field(
        default=None, description="the timestamp of the aggregate's latest entry (null: none)"
    )
    not_before: str | None = Field(
        default=None,
        description="the earliest timestamp the next entry may carry: date it "
        "max(now, not_before); the ledger accepts that however far ahead not_before is",
    )


# -- actions and their timelines -----------------------------------------------------------


class EntryOut(BaseModel):
    """A signed entry: the event body as signed, and its signature (base64)."""

    actor: str
    aggregate_id: str
    format: str
    key_id: str
    payload: dict[str, Any]
    timestamp: str
    type: str
    version: int
    signature: str


class EvidenceOut(BaseModel):
    sha256: str
    size: int
    media_type: str
    original_name: str
    description: str
    effective_date: str
    attached_by: str
    attached_at: str
    withdrawn: bool
    erased: bool
    published: bool = Field(False, description="its agency lead published it (a statement)")
    published_at: str | None = None
    published_by: str | None = None
    published_statement: str | None = None


class SignOffOut(BaseModel):
    by: str
    at: str
    evidence: list[str]
    statement: str


class DecisionOut(BaseModel):
    value: str
    by: str
    at: str
    reasons: str


class ActionOut(BaseModel):
    aggregate_id: str
    version: int
    action_id: str
    recommendation: int
    title: str
    lead_agency: str
    lead_officers: list[str]
    expected_outcome: str
    evidence_required: str
    due_date: str | None
    status: str
    assigned_officers: list[str]
    current_evidence: list[str]
    evidence: list[EvidenceOut]
    sign_offs: dict[str, SignOffOut] = Field(description="by sign-off level")
    agency_claim: DecisionOut | None
    verdict: DecisionOut | None
    agency_rag: DecisionOut | None
    review_rag: DecisionOut | None
    last_return: DecisionOut | None
    blocked_reason: str | None
    closed_reason: str | None
    merged_into: str | None
    responses: list[ResponseOut] = Field(
        default_factory=list,
        description="its agency's own formal responses, oldest first (the last stands)",
    )


class ActionHistoryOut(BaseModel):
    action: ActionOut
    history: list[EntryOut]


class TimelineEntryOut(BaseModel):
    leaf_index: int
    version: int
    timestamp: str
    actor: str
    key_id: str
    type: str
    action_id: str | None
    status_after: str | None
    details: dict[str, Any]


class TimelineOut(BaseModel):
    subject: str
    as_of: str
    state: dict[str, Any] = Field(
        description="the subject as it stood: an action's state, or a recommendation's "
        "row and the state of each of its readable actions"
    )
    total: int
    truncated: bool
    entries: list[TimelineEntryOut]
