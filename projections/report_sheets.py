"""The status of every action as of a moment, as rows for a spreadsheet export.

One row per action (the agency's claim beside the chair's verdict, both RAG ratings,
who signed at each level, evidence count and hashes), plus one row per evidence item
with its hash, so a committee clerk can filter and sort what the ledger says without
re-keying it. The rows are built from the same replay as ``status --as-of``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain import Action, Plan
from domain.lifecycle import SignOffLevel
from projections.status import Replay, status_from

ACTION_COLUMNS = (
    "action_id",
    "recommendation",
    "title",
    "lead_agency",
    "status",
    "agency_claim",
    "chair_verdict",
    "agency_rag",
    "review_rag",
    "due_date",
    "overdue",
    "signed_off_agency",
    "signed_off_implementation_group",
    "signed_off_chair",
    "evidence_count",
    "evidence_sha256",
)

EVIDENCE_COLUMNS = (
    "action_id",
    "sha256",
    "size",
    "media_type",
    "description",
    "effective_date",
    "attached_by",
    "attached_at",
    "state",
)


@dataclass(frozen=True)
class StatusExport:
    as_of: str
    log_size: int
    actions: list[dict[str, Any]]
    evidence: list[dict[str, Any]]


def status_export(
    entries: Iterable[tuple[int, bytes]],
    *,
    as_of: datetime | None,
    agency: str | None = None,
) -> StatusExport:
    """Rows as of `as_of` (None: the whole log, overdue as of today); with `agency`,
    only that agency's actions and evidence (an officer's or agency lead's export reads
    no more than they may)."""
    replay = Replay().feed(entries, until_time=as_of)
    label = as_of.isoformat() if as_of else "now"
    today = as_of.date() if as_of else datetime.now(UTC).date()
    status = status_from(replay, as_of=label, today=today)
    plans = replay.of_type(Plan)
    names: dict[str, str] = dict(plans[0].agencies) if plans else {}
    aggregates = {a.action_id: a for a in replay.of_type(Action)}
    actions: list[dict[str, Any]] = []
    evidence: list[dict[str, Any]] = []
    for row in status.actions:
        if agency is not None and row.lead_agency != agency:
            continue
        action: Action = aggregates[row.action_id]
        current = action.current_evidence()
        actions.append(
            {
                "action_id": row.action_id,
                "recommendation": row.recommendation,
                "title": row.title,
                "lead_agency": names.get(row.lead_agency, row.lead_agency),
                "status": row.status,
                "agency_claim": row.agency_claim or "",
                "chair_verdict": row.verdict or "",
                "agency_rag": row.agency_rag or "",
                "review_rag": row.review_rag or "",
                "due_date": row.due_date or "",
                "overdue": "yes" if row.overdue else "no",
                "signed_off_agency": row.signed_by.get(SignOffLevel.AGENCY.value, ""),
                "signed_off_implementation_group": row.signed_by.get(
                    SignOffLevel.IMPLEMENTATION_GROUP.value, ""
                ),
                "signed_off_chair": row.signed_by.get(SignOffLevel.CHAIR.value, ""),
                "evidence_count": len(current),
                "evidence_sha256": ";".join(current),
            }
        )
        for item in sorted(action.evidence.values(), key=lambda e: (e.attached_at, e.sha256)):
            state = (
                "erased"
                if item.erased_at is not None
                else "withdrawn"
                if item.withdrawn_at is not None
                else "current"
            )
            evidence.append(
                {
                    "action_id": row.action_id,
                    "sha256": item.sha256,
                    "size": item.size,
                    "media_type": item.media_type,
                    "description": item.description,
                    "effective_date": item.effective_date,
                    "attached_by": item.attached_by,
                    "attached_at": item.attached_at.isoformat(),
                    "state": state,
                }
            )
    return StatusExport(label, replay.size, actions, evidence)
