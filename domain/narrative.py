"""Narrative updates: an agency's periodic signed account of one of its actions.

Councils report on their plans about every six months in words, not statuses: what was
done in the period, what comes next, and the risks to delivery. An update is that text,
signed by the action's lead agency's officers or lead (`Action.NarrativeUpdated`), for a
period the agency names ("2023-H1", "April to September 2023": free text, since each
council counts its periods its own way). The action keeps every update, oldest first:
the last is the current account; none replaces another.

Not public by default: free text may name people (a resident, a member of staff), so it
is not in projections/public.py's members; the pages and the report, for signed-in
readers, show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.errors import InvalidInput
from domain.rules import require_text

MAX_PERIOD = 40
MAX_PART = 5000
PARTS = ("done", "next", "risks")


@dataclass(frozen=True)
class NarrativeUpdate:
    """An update as signed: the period, its three parts (any may be empty, not all), and
    who signed it when."""

    period: str
    done: str
    next: str
    risks: str
    signed_by: str
    signed_at: datetime


def check_narrative(fields: dict[str, Any], rule: str) -> None:
    """A period of 1-40 characters; done, next and risks strings of at most 5,000
    characters each, at least one of them not blank."""
    require_text(fields.get("period"), "period", rule, max_length=MAX_PERIOD)
    for part in PARTS:
        require_text(fields.get(part), part, rule, max_length=MAX_PART, empty=True)
    if not any(str(fields[part]).strip() for part in PARTS):
        raise InvalidInput(rule, "say what was done, what is next, or the risks (at least one)")
