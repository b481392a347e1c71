"""Backfill: an inquiry's past imported from the documents that reported it, as signed
`action.backfilled` entries (domain/backfill.py), all or nothing.

The file (CSV or a workbook) has one row per fact: `action_id`, `status`, `occurred_on`
(the date the source reports the status for), `source` (may be left empty when the
command names one for every row) and an optional `note` (what the source says, in a
line: "initial review of the CATE pathway carried out"). Rows of one action are taken
in date order; the domain refuses a fact dated after the day it is recorded, before an
earlier fact of the same action, or on or after the action's first live entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from api.application.plan_columns import Column, FileKind
from api.application.plan_import import ImportRejected, RowError, check_header
from api.application.spreadsheet import TableError, read_table
from domain import Action, Status, action_aggregate_id
from domain.backfill import BACKFILLABLE
from ledger.auditor.entry import SignedEntry
from ledger.service import Appended
from ledger.signer import Signer
from ledger.timestamps import floor

BACKFILL_FILE = FileKind(
    "backfill",
    (
        Column("action_id", True, "the action the source reports on (R1.1)", "R1.1"),
        Column(
            "status",
            True,
            "what the source reports: " + ", ".join(sorted(s.value for s in BACKFILLABLE)),
            "in_progress",
        ),
        Column("occurred_on", True, "the date the source reports it for", "2022-11-10"),
        Column(
            "source",
            False,
            "the document cited (or --source for every row)",
            "Report to Full Council, 10 November 2022",
        ),
        Column("note", False, "what the source says, in a line", "Initial review done"),
    ),
)


@dataclass(frozen=True)
class Fact:
    """One row: the status `source` reported for `action_id` on `occurred_on`."""

    action_id: str
    status: str
    occurred_on: str
    source: str
    note: str = ""

    def payload(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "occurred_on": self.occurred_on,
            "source": self.source,
            "note": self.note,
        }


def read_facts(path: Path, *, source: str = "", sheet: str | None = None,
               warn: Callable[[str], None] | None = None) -> list[Fact]:  # fmt: skip
    """The file's facts, or ImportRejected naming every bad cell."""
    try:
        table = read_table(path, sheet)
    except TableError as error:
        raise ImportRejected([RowError(0, error.where, error.message)]) from None
    errors, ignored = check_header(table, BACKFILL_FILE)
    if ignored and warn is not None:
        warn("ignored columns: " + ", ".join(ignored))
    if errors:
        raise ImportRejected(errors)
    facts: list[Fact] = []
    allowed = ", ".join(sorted(s.value for s in BACKFILLABLE))
    for line, row in table.rows:
        fact = Fact(
            (row.get("action_id") or "").strip(),
            (row.get("status") or "").strip().lower().replace(" ", "_"),
            (row.get("occurred_on") or "").strip(),
            (row.get("source") or "").strip() or source,
            (row.get("note") or "").strip(),
        )
        if fact.status not in {s.value for s in BACKFILLABLE}:
            errors.append(RowError(line, "status", f"must be one of {allowed}: {fact.status!r}"))
        try:
            date.fromisoformat(fact.occurred_on)
            if len(fact.occurred_on) != 10:
                raise ValueError
        except ValueError:
            errors.append(
                RowError(line, "occurred_on", f"must be YYYY-MM-DD: {fact.occurred_on!r}")
            )
        if not fact.source:
            errors.append(RowError(line, "source", "cite the source (or pass --source)"))
        facts.append(fact)
    if not table.rows:
        errors.append(RowError(2, "action_id", "the file has no rows"))
    if table.errors or errors:
        found = [RowError(e.row, e.column, e.message) for e in table.errors] + errors
        raise ImportRejected(sorted(found, key=lambda e: e.row))
    return facts


def backfill_entries(ledger: Any, signer: Signer, facts: list[Fact]) -> list[SignedEntry]:
    """The signed entries for `facts`, each action's in date order (a stable sort keeps
    the file's order for facts of the same day). ImportRejected for an unknown action."""
    errors = [
        RowError(0, "action_id", f"no action {f.action_id!r} in the plan")
        for f in facts
        if ledger.action(f.action_id) is None
    ]
    if errors:
        raise ImportRejected(errors)
    entries: list[SignedEntry] = []
    versions: dict[str, int] = {}
    for fact in sorted(facts, key=lambda f: (f.action_id, f.occurred_on)):
        aggregate = action_aggregate_id(fact.action_id)
        if fact.action_id not in versions:
            following = ledger.next_entry(aggregate)
            versions[fact.action_id] = following.version
            not_before = following.not_before
        else:
            versions[fact.action_id] += 1
            not_before = None
        if entries:
            previous = floor(entries[-1].body.timestamp, None)
            not_before = previous if not_before is None else max(not_before, previous)
        entries.append(
            signer.sign(
                Action.Backfilled.TYPE,
                aggregate,
                versions[fact.action_id],
                fact.payload(),
                not_before=not_before,
            )
        )
    return entries


def backfill(ledger: Any, signer: Signer, facts: list[Fact]) -> list[Appended]:
    """Append every fact, or none (the ledger checks each entry's rule first)."""
    appended: list[Appended] = ledger.append(backfill_entries(ledger, signer, facts))
    return appended


__all__ = ["BACKFILL_FILE", "Fact", "Status", "backfill", "backfill_entries", "read_facts"]
