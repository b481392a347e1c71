"""What the status projection keeps of an action's narrative updates (domain/narrative.py):
the latest one's period and the date it was signed, never its text (that is in the
report and the action page). The snapshot member is added only once the action has an
update, so snapshots stored before narrative updates existed read, and compare, alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.narrative import NarrativeUpdate


def narrative_snapshot(updates: Sequence[NarrativeUpdate]) -> dict[str, Any]:
    """The snapshot's `narrative` member, or nothing while there is no update."""
    if not updates:
        return {}
    latest = updates[-1]
    return {"narrative": {"period": latest.period, "on": latest.signed_at.date().isoformat()}}


def narrative_fields(snapshot: dict[str, str] | None) -> dict[str, str]:
    """The ActionRow fields of a snapshot's `narrative` member (none if it has none)."""
    if snapshot is None:
        return {}
    return {"narrative_period": snapshot["period"], "narrative_on": snapshot["on"]}
