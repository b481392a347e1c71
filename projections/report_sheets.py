"""The status of every action as of a moment, as rows for a spreadsheet export.

One row per action (the agency's claim beside the chair's verdict, the formal response
that stands for it, both RAG ratings, who signed at each level, evidence count and
hashes), plus one row per evidence item with its hash, so a committee clerk can filter
and sort what the ledger says without re-keying it. The response is the action's own
where its agency responded for itself (`response_for`: "action"), else its
recommendation's ("recommendation"), else none.

`status_export_as_of` builds the rows from the as-of projection (the code path of
``status --as-of``): the status of each action, and each evidence item as it stood, from
the projection's evidence rows, so an export costs the plan's size, not the log's
length. `status_export` builds the same rows by a full replay: the reference it is
tested against (and what reads a bare list of entries).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from domain import Action
from domain.lifecycle import SignOffLevel
from projections.status import (
    ActionRow,
    PlanStatus,
    RecommendationRow,
    Replay,
    evidence_snapshot,
    status_from,
)
from projections.store import to_micros

if TYPE_CHECKING:
    from projections.port import LogReader

#: The formal response that stands for an action (see the module's docstring).
RESPONSE_COLUMNS = (
    "response",
    "response_for",
    "responded_on",
    "responder",
    "response_reasons",
    "response_source",
)
ACTION_COLUMNS = (
    "action_id",
    "recommendation",
    "title",
    "lead_agency",
    "status",
    "agency_claim",
    "chair_verdict",
    *RESPONSE_COLUMNS,
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
    no more than they may). By a full replay: the reference for `status_export_as_of`."""
    replay = Replay().feed(entries, until_time=as_of)
    label, today = _label(as_of)
    status = status_from(replay, as_of=label, today=today)
    actions = replay.of_type(Action)
    current = {a.action_id: a.current_evidence() for a in actions}
    items = {a.action_id: [evidence_snapshot(e) for e in a.evidence.values()] for a in actions}
    return _export(status, current, items, agency)


def status_export_as_of(
    ledger: LogReader, *, as_of: datetime | None, agency: str | None = None
) -> StatusExport:
    """The same rows as `status_export`, from the as-of projection (caught up first):
    one indexed read per aggregate and one scan of the evidence rows, whatever the
    log's length."""
    from projections.projector import projector_for, status_of_cut

    projector = projector_for(ledger)
    bound, cut = projector.cut(ledger, as_of=as_of, position=None)
    label, today = _label(as_of)
    status = status_of_cut(cut, today=today, label=label)
    current = {
        row.name: list(json.loads(row.state)["evidence"])
        for row in cut
        if row.kind == "action" and row.state is not None
    }
    ts = None if as_of is None else to_micros(as_of)
    items = {
        action_id: [json.loads(state) for state in states]
        for action_id, states in projector.tables.evidence_at(bound=bound, ts=ts).items()
    }
    return _export(status, current, items, agency)


def _response_cells(row: ActionRow, recommendation: RecommendationRow | None) -> dict[str, str]:
    """The RESPONSE_COLUMNS of an action's row: its own response, else its recommendation's."""
    source: ActionRow | RecommendationRow | None = row
    if row.response is None:
        source = recommendation if recommendation and recommendation.response else None
    if source is None:
        return dict.fromkeys(RESPONSE_COLUMNS, "")
    return {
        "response": source.response_label or "",
        "response_for": "action" if source is row else "recommendation",
        "responded_on": source.responded_on or "",
        "responder": source.responder or "",
        "response_reasons": source.response_reasons or "",
        "response_source": source.response_source or "",
    }


def _label(as_of: datetime | None) -> tuple[str, date]:
    """The export's label and the day overdue is judged on."""
    if as_of is None:
        return "now", datetime.now(UTC).date()
    return as_of.isoformat(), as_of.date()


def _export(
    status: PlanStatus,
    current: dict[str, list[str]],
    items: dict[str, list[dict[str, Any]]],
    agency: str | None,
) -> StatusExport:
    """The rows, from a status, each action's current evidence hashes and its evidence
    items (`evidence_snapshot`), whichever way they were found."""
    names = status.agencies
    recommendations = {r.number: r for r in status.recommendations}
    actions: list[dict[str, Any]] = []
    evidence: list[dict[str, Any]] = []
    for row in status.actions:
        if agency is not None and row.lead_agency != agency:
            continue
        hashes = current.get(row.action_id, [])
        actions.append(
            {
                "action_id": row.action_id,
                "recommendation": row.recommendation,
                "title": row.title,
                "lead_agency": names.get(row.lead_agency, row.lead_agency),
                "status": row.status,
                "agency_claim": row.agency_claim or "",
                "chair_verdict": row.verdict or "",
                **_response_cells(row, recommendations.get(row.recommendation)),
                "agency_rag": row.agency_rag or "",
                "review_rag": row.review_rag or "",
                "due_date": row.due_date or "",
                "overdue": "yes" if row.overdue else "no",
                "signed_off_agency": row.signed_by.get(SignOffLevel.AGENCY.value, ""),
                "signed_off_implementation_group": row.signed_by.get(
                    SignOffLevel.IMPLEMENTATION_GROUP.value, ""
                ),
                "signed_off_chair": row.signed_by.get(SignOffLevel.CHAIR.value, ""),
                "evidence_count": len(hashes),
                "evidence_sha256": ";".join(hashes),
            }
        )
        ordered = sorted(
            items.get(row.action_id, []),
            key=lambda e: (datetime.fromisoformat(e["attached_at"]), e["sha256"]),
        )
        for item in ordered:
            state = (
                "erased"
                if item["erased_at"] is not None
                else "withdrawn"
                if item["withdrawn_at"] is not None
                else "current"
            )
            evidence.append(
                {
                    "action_id": row.action_id,
                    "sha256": item["sha256"],
                    "size": item["size"],
                    "media_type": item["media_type"],
                    "description": item["description"],
                    "effective_date": item["effective_date"],
                    "attached_by": item["attached_by"],
                    "attached_at": item["attached_at"],
                    "state": state,
                }
            )
    return StatusExport(status.as_of, status.log_size, actions, evidence)
