"""Which actions name an evidence blob, answered from the as-of projection.

A download must know which actions name the blob (their lead agencies decide who may
read it) before a byte is sent. Replaying the log to find out costs the whole log on
every request (1.9 s at 30,000 entries), which any officer could repeat at will. The
projection keeps one row per entry that changed an evidence item, keyed by the blob's
hash (projections/store.py), so the answer is one indexed seek on the hash plus one
read per action naming it, whatever the log's length. The projection is caught up
first, so a blob attached a moment ago is found at once.

`api.application.evidence.named_evidence` (a full replay) stays the reference that the
whole-store verification and the orphan listing walk, and that this must agree with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
