"""Which actions name an evidence blob, and which evidence is published, answered from
the as-of projection.

A download must know which actions name the blob (their lead agencies decide who may
read it) before a byte is sent. Replaying the log to find out costs the whole log on
every request (1.9 s at 30,000 entries), which any officer could repeat at will. The
projection keeps one row per entry that changed an evidence item, keyed by the blob's
hash (projections/store.py), so the answer is one indexed seek on the hash plus one
read per action naming it, whatever the log's length. The projection is caught up
first, so a blob attached a moment ago is found at once.

`api.application.evidence.named_evidence` (a full replay) stays the reference that the
whole-store verification and the orphan listing walk, and that this must agree with.

Evidence is never public unless the action's agency lead published it with a signed
statement (`action.evidence_published`, domain/action.py), and stops being so when it
is unpublished, withdrawn or erased. `published_evidence` lists what is published with
the leaf indexes of the entries that attached and published each file, so a public page
can prove both in the Merkle log; `is_published` answers for one blob. Both read the
projection's evidence rows (a partial index on the rows that published something), never
the log, and take a `position` to answer as of a checkpoint's size: every leaf they
return is then below it, so provable under that checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from domain import action_aggregate_id
from projections.projector import projector_for

if TYPE_CHECKING:
    from projections.port import LogReader


@dataclass(frozen=True)
class EvidenceUse:
    """An action naming a blob, as it stands now."""

    action_id: str
    lead_agency: str
    erased: bool


def evidence_uses(ledger: LogReader, sha256: str) -> list[EvidenceUse]:
    """Every action that names the blob (withdrawn and erased items included), in the
    order the actions were added; [] if nothing in the log names it."""
    projector = projector_for(ledger)
    mark = projector.catch_up(ledger)
    uses = []
    for found in projector.tables.evidence_uses(sha256, bound=mark):
        item = json.loads(found.evidence)
        action = {} if found.action is None else json.loads(found.action)
        uses.append(
            EvidenceUse(
                action_id=found.action_id,
                lead_agency=str(action.get("lead_agency", "")),
                erased=item["erased_at"] is not None,
            )
        )
    return uses


@dataclass(frozen=True)
class PublishedEvidence:
    """A file an action's agency lead has published, as it stands inside the cut."""

    sha256: str
    action_id: str
    lead_agency: str  # the action's lead agency (now, or as of the position asked for)
    filename: str  # the name it was attached under (the statement vouches for it)
    media_type: str
    size: int
    description: str
    effective_date: str
    statement: str  # what the lead vouched for, signed
    published_by: str
    published_at: datetime  # the publishing entry's signed time
    published_leaf: int  # leaf index (log position) of its action.evidence_published entry
    attached_leaf: int  # leaf index of the action.evidence_attached entry it publishes


def published_evidence(
    ledger: LogReader, action_id: str | None = None, *, position: int | None = None
) -> list[PublishedEvidence]:
    """Every published file (of one action, or of all), in the order the actions were
    added and then of publication; as of the first `position` entries if given (a public
    page passes its checkpoint's size). [] for an action the log does not hold."""
    projector = projector_for(ledger)
    bound = _bound(projector.catch_up(ledger), position)
    agg = None
    if action_id is not None:
        agg = projector.tables.aggregate_number(str(action_aggregate_id(action_id)))
        if agg is None or agg >= bound:
            return []
    found = []
    for row in projector.tables.published_items(bound=bound, agg=agg):
        item = json.loads(row.evidence)
        action = {} if row.action is None else json.loads(row.action)
        if row.attached is None:  # every item's rows carry the leaf that attached it
            raise ValueError(f"the projection lost the attachment of {row.sha256}; rebuild it")
        found.append(
            PublishedEvidence(
                sha256=row.sha256,
                action_id=row.action_id,
                lead_agency=str(action.get("lead_agency", "")),
                filename=str(item["published_name"]),
                media_type=str(item["media_type"]),
                size=int(item["size"]),
                description=str(item["description"]),
                effective_date=str(item["effective_date"]),
                statement=str(item["published_statement"]),
                published_by=str(item["published_by"]),
                published_at=datetime.fromisoformat(item["published_at"]),
                published_leaf=row.published,
                attached_leaf=row.attached,
            )
        )
    return found


def is_published(ledger: LogReader, sha256: str, *, position: int | None = None) -> bool:
    """Whether any action has this blob published (as of the first `position` entries if
    given): False for a blob nobody published, or whose publication was unpublished,
    withdrawn or erased."""
    projector = projector_for(ledger)
    bound = _bound(projector.catch_up(ledger), position)
    return projector.tables.is_published(sha256, bound=bound)


def _bound(mark: int, position: int | None) -> int:
    if position is None:
        return mark
    if position < 0:
        raise ValueError("position must be 0 or more")
    return min(position, mark)
