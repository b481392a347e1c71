"""Import a plan from CSV or XLSX: every row is validated first, then all of it is
appended in one atomic batch, so a file with any bad row imports nothing.

Both formats have the same columns and the same checks (api/spreadsheet.py reads them
into one shape); an XLSX error also names the cell, e.g. ``row 5, column due_date (E5)``.
An XLSX workbook is read from the sheet named by `sheet`, or else its only sheet called
``recommendations`` or ``actions``, or else its only sheet with data.

The columns are in plan_columns.py (required, optional, what each holds). Headers match
whatever their case and spacing (``Lead Agencies``); a file with ``action_id`` is actions.
A header that is not a column of its file is either a near miss of one the file lacks
(``lead_agency`` in a recommendations file: refused, "did you mean lead_agencies?", since
importing without it would sign a record short of what the clerk typed) or something else
(``Notes``, ``RAG``): imported without it, and named in a warning, never dropped unsaid.

Recommendations file: number, title, lead_agencies (names separated by ';'), [text].
Actions file: action_id, recommendation, title, lead_agency (id or name),
[lead_officers (';')], [expected_outcome], [evidence_required (the "complete when"
criteria)], [due_date (YYYY-MM-DD)]; the bracketed may be absent or blank.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from api.application.plan_columns import ACTIONS, RECOMMENDATIONS, FileKind
from api.application.spreadsheet import Table, TableError, read_table
from domain import PLAN_ID, Action, Plan, action_aggregate_id
from domain.references import reference_key
from ledger.auditor.entry import SignedEntry
from ledger.service import Appended
from ledger.signer import Signer
from ledger.timestamps import floor

RECOMMENDATION_COLUMNS = RECOMMENDATIONS.required
#: Every column of an actions file, in the template's order.
ACTION_COLUMNS = ACTIONS.names
#: How alike an unknown header and a missing column are for a hint ("did you mean"), and
#: for a refusal even when that column is optional (difflib's ratio: lead_agency and
#: lead_agencies 0.83, Date and due_date 0.67, evidence and evidence_required 0.64).
HINT = 0.6
SURE = 0.8

#: Digits are ASCII: `str.isdigit` is also true of U+0665 (accepted) and U+00B2 (int() fails).
ASCII_NUMBER = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class RowError:
    """One problem, where it is: row 0 means the file as a whole (`column` then says
    what: file, sheet); `cell` is the spreadsheet address for XLSX."""

    row: int
    column: str
    message: str
    cell: str | None = None

    def __str__(self) -> str:
        if self.row == 0:
            return f"{self.column}: {self.message}"
        where = f" ({self.cell})" if self.cell else ""
        return f"row {self.row}, column {self.column}{where}: {self.message}"


class ImportRejected(ValueError):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} error(s); nothing was imported")
        self.errors = errors


def agency_id(name: str) -> str:
    """A stable id from an agency's display name: West Mercia Police -> west-mercia-police."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def unknown_agency(name: str) -> str:
    """The plan's agencies were fixed by its import, but not for good: say how to add one."""
    return (
        f"unknown agency {name!r}: add it to the plan first "
        f"(inquiry-ledger plan agency add {agency_id(name) or 'ID'} --name NAME --reason WHY)"
    )


def _out_of_plan(found: Any) -> str | None:
    """'withdrawn' or 'merged into N' if the recommendation has left the plan (a domain
    Recommendation, or a remote plan's dictionary of one)."""
    members: dict[str, Any] = found if isinstance(found, dict) else vars(found)
    if members.get("withdrawn"):
        return "withdrawn"
    into = members.get("merged_into")
    return None if into is None else f"merged into {into}"


def _named(known: dict[str, str], name: str) -> str | None:
    """The id of the agency shown under `name` now (an agency renamed after the import
    keeps its id, which no longer follows from its name)."""
    wanted = agency_id(name)
    return next((ident for ident, shown in known.items() if agency_id(shown) == wanted), None)


def numbers_beyond(
    ledger: Any, rows: list[tuple[int, dict[str, str]]], expected: int
) -> str | None:
    """A warning naming the recommendation numbers outside 1..N, where N is `expected`
    (--expected) or else the number the plan was imported expecting; None if all are in
    range or nobody said how many to expect. A number beyond is often a typo (110 for 11),
    and importing it unsaid would leave the report's "not yet imported" list wrong."""
    if not expected:
        plan = ledger.plan()
        expected = plan.recommendations_expected if plan is not None else 0
    if not expected:
        return None
    texts = ((row.get("number") or "").strip() for _, row in rows)
    beyond = sorted({int(t) for t in texts if ASCII_NUMBER.fullmatch(t) and int(t) > expected})
    plan = ledger.plan()
    listed_now = len(plan.recommendations) if plan is not None else 0
    if not beyond and listed_now + len(rows) > expected:
        # References as the inquiry writes them (113.6) have no range to fall outside:
        # the count says whether the list holds more than the inquiry made.
        return (
            f"{listed_now + len(rows)} recommendations, but the inquiry made {expected}: "
            "check for a row given twice, or give --expected the number the inquiry made"
        )
    if not beyond:
        return None
    listed = ", ".join(str(n) for n in beyond)
    return (
        f"recommendation numbers outside 1..{expected} (the inquiry made {expected}): {listed}; "
        "check them, or give --expected the number the inquiry made"
    )


def _find(plan: Any, text: str) -> int | None:
    """The recommendation a row's `recommendation` cell means: its number, or its
    reference as the inquiry writes it."""
    return plan.find(text) if text else None


def _next_action_id(ledger: Any, number: int, taken: set[str]) -> str:
    """R<number>.<k> for the first k no action has and no earlier row takes."""
    k = 1
    while f"R{number}.{k}" in taken or ledger.action(f"R{number}.{k}") is not None:
        k += 1
    return f"R{number}.{k}"


def _read(path: Path, sheet: str | None) -> Table:
    try:
        return read_table(path, sheet)
    except TableError as error:
        raise ImportRejected([RowError(0, error.where, error.message)]) from None


def file_kind(columns: list[str]) -> FileKind:
    """Actions if the file has action_id or more of the actions' own columns than of the
    recommendations' (so an actions file with action_id misspelt is told so as one)."""
    present = set(columns)
    if "action_id" in present:
        return ACTIONS
    actions_only = set(ACTIONS.names) - set(RECOMMENDATIONS.names)
    recommendations_only = set(RECOMMENDATIONS.names) - set(ACTIONS.names)
    more = len(present & actions_only) > len(present & recommendations_only)
    return ACTIONS if more else RECOMMENDATIONS


def check_header(table: Table, kind: FileKind) -> tuple[list[RowError], list[str]]:
    """The header's errors (a required column missing, a near miss of a column the file
    lacks), and the columns imported without, as typed, each with a hint if one is near."""
    absent = [name for name in kind.names if name not in table.columns]
    article = "an" if kind.name[0] in "aeiou" else "a"
    errors: list[RowError] = []
    ignored: list[str] = []
    meant: set[str] = set()
    row = table.header_row
    for key in table.columns:
        if key in kind.names:
            continue
        typed = table.headings.get(key, key)
        sure = difflib.get_close_matches(key, absent, n=1, cutoff=SURE)
        near = sure or difflib.get_close_matches(key, absent, n=1, cutoff=HINT)
        if near and (sure or near[0] in kind.required) and near[0] not in meant:
            meant.add(near[0])
            message = f"is not a column of {article} {kind.name} file: did you mean {near[0]}?"
            errors.append(RowError(row, typed, message, table.cell(row, key)))
        else:
            ignored.append(f"{typed} (did you mean {near[0]}?)" if near else typed)
    errors += [
        RowError(row, name, "required column is missing")
        for name in kind.required
        if name not in table.columns and name not in meant
    ]
    return errors, ignored


def _located(table: Table, errors: list[RowError]) -> list[RowError]:
    """The reader's cell errors and the validation's, each with its cell address, in
    row order. A cell the reader refused is reported once (not again as, say, empty)."""
    refused = {(e.row, e.column) for e in table.errors}
    found = [RowError(e.row, e.column, e.message) for e in table.errors]
    found += [e for e in errors if (e.row, e.column) not in refused]
    found = [
        RowError(e.row, e.column, e.message, e.cell or table.cell(e.row, e.column)) for e in found
    ]
    return sorted(found, key=lambda e: e.row)


def import_csv(
    ledger: Any,
    signer: Signer,
    path: Path,
    *,
    title: str = "",
    source: str = "",
    recommendations_expected: int = 0,
    sheet: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[Appended]:
    """Import `path` (a workbook's `sheet`); `warn` is told of columns imported without."""
    table = _read(path, sheet)
    kind = file_kind(table.columns)
    header_errors, ignored = check_header(table, kind)
    if ignored and warn is not None:
        warn("ignored columns: " + ", ".join(ignored))
    rows = table.rows
    if kind is RECOMMENDATIONS and warn is not None:
        beyond = numbers_beyond(ledger, rows, recommendations_expected)
        if beyond is not None:
            warn(beyond)
        if (title or source) and ledger.plan() is not None:
            warn("the plan is imported already: --title and --source are not changed by this")
    try:
        if header_errors:
            raise ImportRejected(header_errors)
        if kind is ACTIONS:
            entries = _action_entries(ledger, signer, rows)
        else:
            entries = _recommendation_entries(
                ledger,
                signer,
                rows,
                title or "Action plan",
                source or path.name,
                recommendations_expected,
            )
    except ImportRejected as rejected:
        raise ImportRejected(_located(table, rejected.errors)) from None
    if table.errors:
        raise ImportRejected(_located(table, []))
    appended: list[Appended] = ledger.append(entries)
    return appended


def _recommendation_entries(
    ledger: Any,
    signer: Signer,
    rows: list[tuple[int, dict[str, str]]],
    title: str,
    source: str,
    expected: int,
) -> list[SignedEntry]:
    errors: list[RowError] = []
    plan = ledger.plan()
    known = dict(plan.agencies) if plan else {}
    existing = set(plan.recommendations) if plan else set()
    new_agencies: dict[str, str] = {}
    parsed: list[dict[str, Any]] = []
    referenced: list[dict[str, Any]] = []
    seen: set[int] = set()
    numbers = _numbers(plan, rows)
    references: dict[str, int] = {
        reference_key(ref): n for n, ref in (plan.references_taken() if plan else [])
    }
    for line, row in rows:
        number_text = (row.get("number") or "").strip()
        reference = " ".join((row.get("reference") or "").split())
        group = " ".join((row.get("group") or "").split())
        if not number_text and reference:
            digits = ASCII_NUMBER.fullmatch(reference) and 1 <= int(reference) <= 999
            # A plain whole number is the number (Telford's 1-47); anything else is
            # kept as written beside the next number free, in the file's order.
            number_text = reference if digits else str(next(numbers))
            reference = "" if digits else reference
        if not ASCII_NUMBER.fullmatch(number_text) or not 1 <= int(number_text) <= 999:
            message = f"must be a whole number 1-999: {number_text!r}"
            if not number_text:
                message = "give its number or its reference (the inquiry's own: 113.6, K10.1)"
            errors.append(RowError(line, "number", message))
            continue
        number = int(number_text)
        if reference:
            key = reference_key(reference)
            if key in references and references[key] != number:
                message = f"reference {reference!r} is already recommendation {references[key]}'s"
                errors.append(RowError(line, "reference", message))
            references[key] = number
        if reference or group:
            reason = "as the inquiry writes it (imported)"
            referenced.append({"number": number, "reference": reference or str(number),
                               "group": group, "reason": reason})  # fmt: skip
        if number in seen:
            errors.append(RowError(line, "number", f"recommendation {number} appears twice"))
        elif number in existing:
            errors.append(
                RowError(line, "number", f"recommendation {number} is already in the plan")
            )
        elif plan is not None and number in getattr(plan, "former_numbers", {}):
            now = plan.former_numbers[number]
            message = f"{number} was recommendation {now}'s number; choose another"
            errors.append(RowError(line, "number", message))
        seen.add(number)
        rec_title = (row.get("title") or "").strip()
        names = [n.strip() for n in (row.get("lead_agencies") or "").split(";") if n.strip()]
        if not rec_title and (names or (row.get("text") or "").strip()):
            message = "must not be empty (a placeholder, its text not yet known, leaves "
            errors.append(RowError(line, "title", message + "lead_agencies and text blank)"))
        elif rec_title and not names:
            errors.append(RowError(line, "lead_agencies", "name at least one agency"))
        ids = []
        for name in names:
            ident = agency_id(name)
            if plan is not None and ident not in known and not _named(known, name):
                errors.append(RowError(line, "lead_agencies", unknown_agency(name)))
            ident = _named(known, name) or ident
            new_agencies.setdefault(ident, name)
            ids.append(ident)
        parsed.append(
            {
                "number": number,
                "title": rec_title,
                "text": (row.get("text") or ""),
                "lead_agencies": ids,
            }
        )
    if not rows:
        errors.append(RowError(2, "number", "the file has no rows"))
    if errors:
        raise ImportRejected(errors)
    entries: list[SignedEntry] = []
    following = ledger.next_entry(PLAN_ID)
    version = following.version - 1

    def not_before() -> datetime | None:
        """Each entry just after the one before it in the batch, if that one had to be
        dated ahead of the clock (ledger/timestamps.py)."""
        return floor(entries[-1].body.timestamp, None) if entries else following.not_before

    if plan is None:
        version += 1
        agencies = [{"id": k, "name": v} for k, v in sorted(new_agencies.items())]
        entries.append(
            signer.sign(
                Plan.Created.TYPE,
                PLAN_ID,
                version,
                {
                    "title": title,
                    "source": source,
                    "agencies": agencies,
                    "recommendations_expected": expected,
                },
                not_before=not_before(),
            )
        )
    for payload in parsed:
        version += 1
        entries.append(
            signer.sign(
                Plan.RecommendationAdded.TYPE, PLAN_ID, version, payload, not_before=not_before()
            )
        )
    for payload in referenced:
        version += 1
        entries.append(
            signer.sign(
                Plan.RecommendationReferenced.TYPE,
                PLAN_ID,
                version,
                payload,
                not_before=not_before(),
            )
        )
    return entries


def _numbers(plan: Any, rows: list[tuple[int, dict[str, str]]]) -> Iterator[int]:
    """The numbers free for rows that give only a reference, in order: after every
    number the plan has or had and every number the file gives."""
    taken = set(plan.recommendations) | set(getattr(plan, "former_numbers", {})) if plan else set()
    for _, reference in plan.references_taken() if plan else []:
        if ASCII_NUMBER.fullmatch(reference):  # another's reference, as digits
            taken.add(int(reference))
    for _, row in rows:
        for name in ("number", "reference"):
            text = (row.get(name) or "").strip()
            if ASCII_NUMBER.fullmatch(text):
                taken.add(int(text))
    return itertools.count(max(taken, default=0) + 1)


def _action_entries(
    ledger: Any, signer: Signer, rows: list[tuple[int, dict[str, str]]]
) -> list[SignedEntry]:
    errors: list[RowError] = []
    plan = ledger.plan()
    if plan is None:
        raise ImportRejected([RowError(1, "action_id", "import the recommendations first")])
    by_name = {agency_id(name): ident for ident, name in plan.agencies.items()}
    entries = []
    seen: set[str] = set()
    for line, row in rows:
        action_id = (row.get("action_id") or "").strip()
        rec_text = (row.get("recommendation") or "").strip()
        meant = _find(plan, rec_text)
        if not action_id and meant is not None:
            action_id = _next_action_id(ledger, meant, seen)  # the next free: R113.2
        if not re.fullmatch(r"R[1-9][0-9]{0,2}\.[1-9][0-9]{0,3}", action_id):
            errors.append(RowError(line, "action_id", f"must look like R10.2: {action_id!r}"))
        elif action_id in seen or ledger.action(action_id) is not None:
            errors.append(RowError(line, "action_id", f"action {action_id} already exists"))
        seen.add(action_id)
        rec = int(rec_text) if ASCII_NUMBER.fullmatch(rec_text) else (meant or 0)
        found = plan.recommendations.get(rec)
        former = getattr(plan, "former_numbers", {})
        if found is None and rec in former:
            message = f"recommendation {rec} is now recommendation {former[rec]}"
            errors.append(RowError(line, "recommendation", message))
        elif found is None:
            errors.append(RowError(line, "recommendation", f"no recommendation {rec_text!r}"))
        elif _out_of_plan(found):
            errors.append(
                RowError(line, "recommendation", f"recommendation {rec} is {_out_of_plan(found)}")
            )
        elif not action_id.startswith(f"R{rec}."):
            errors.append(RowError(line, "action_id", f"does not belong to recommendation {rec}"))
        lead = (row.get("lead_agency") or "").strip()
        lead_id = lead if lead in plan.agencies else by_name.get(agency_id(lead), "")
        if not lead_id:
            errors.append(RowError(line, "lead_agency", unknown_agency(lead)))
        if not (row.get("title") or "").strip():
            errors.append(RowError(line, "title", "must not be empty"))
        due = (row.get("due_date") or "").strip() or None
        if due is not None:
            try:
                date.fromisoformat(due)
            except ValueError:
                errors.append(RowError(line, "due_date", f"must be YYYY-MM-DD: {due!r}"))
        if errors:
            continue
        payload = {
            "action_id": action_id,
            "recommendation": rec,
            "title": row["title"].strip(),
            "lead_agency": lead_id,
            "lead_officers": [
                o.strip() for o in (row.get("lead_officers") or "").split(";") if o.strip()
            ],
            # optional (plan_columns.py): "" when the file leaves it out or blank
            "expected_outcome": (row.get("expected_outcome") or "").strip(),
            "evidence_required": (row.get("evidence_required") or "").strip(),
            "due_date": due,
        }
        entries.append(signer.sign(Action.Added.TYPE, action_aggregate_id(action_id), 1, payload))
    if not rows:
        errors.append(RowError(2, "action_id", "the file has no rows"))
    if errors:
        raise ImportRejected(errors)
    return entries
