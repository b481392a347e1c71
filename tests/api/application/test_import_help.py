"""An import that helps (issue 14): headers as a clerk types them, with a hint for a near
miss; any delimiter a spreadsheet saves; a file that is not UTF-8 refused with the fix;
a workbook's sheet by name, or its only sheet with data; columns the plan has no place
for named in a warning; the descriptive columns optional, down to the domain."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from api.application.plan_import import ACTION_COLUMNS, ImportRejected, import_csv
from domain import InvalidInput
from tests.support.plan_tables import GOOD, Row, Writer, write_csv, write_xlsx
from tests.support.world import World, clear_store_settings, make_world

FORMATS: dict[str, Writer] = {"csv": write_csv, "xlsx": write_xlsx}
RECOMMENDATION = {"number": "3", "title": "Third, and last", "lead_agencies": "Council;Police"}


@pytest.fixture
def world(config: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    clear_store_settings(monkeypatch)
    w = make_world(config, clock)
    yield w
    w.ledger.close()


def imported(world: World, path: Path, **options: Any) -> None:
    assert import_csv(world.ledger, world.signer("sig"), path, **options)


def warned(world: World, path: Path) -> list[str]:
    """Import `path`; the warnings it gave."""
    warnings: list[str] = []
    import_csv(world.ledger, world.signer("sig"), path, warn=warnings.append)
    return warnings


def rejected(world: World, path: Path, **options: Any) -> list[str]:
    size = world.ledger.tree_size()
    with pytest.raises(ImportRejected) as caught:
        import_csv(world.ledger, world.signer("sig"), path, **options)
    assert world.ledger.tree_size() == size  # nothing was imported
    return [str(e) for e in caught.value.errors]


def workbook(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    """A workbook with these sheets (name -> rows, the first the header), in order."""
    book = Workbook()
    first = book.active
    assert first is not None
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.remove(first)
    book.save(path)
    return path


@pytest.mark.parametrize("fmt", FORMATS)
def test_headers_match_whatever_their_case_and_spacing(
    world: World, tmp_path: Path, fmt: str
) -> None:
    typed = [
        "Action ID", "RECOMMENDATION", " Title ", "Lead-Agency", "lead  officers",
        "Expected Outcome", "EVIDENCE_REQUIRED", "Due Date",
    ]  # fmt: skip
    rows = [dict(zip(typed, GOOD.values(), strict=True))]
    rows[0]["Due Date"] = date(2023, 3, 31)  # a date cell under "Due Date" (xlsx)
    assert warned(world, FORMATS[fmt](tmp_path / "actions", typed, rows)) == []
    action = world.ledger.action("R1.1")
    assert action is not None
    assert (action.lead_agency, action.lead_officers, action.due_date) == (
        "council",
        ["Director", "Deputy"],
        "2023-03-31",
    )
    for i, heading in enumerate(["Lead Agencies", " lead_agencies ", "LEAD-AGENCIES"]):
        columns = ["Number", "Title", heading]
        row = {"Number": str(3 + i), "Title": "T", heading: "Police"}
        imported(world, write_csv(tmp_path / f"recs{i}", columns, [row]))
    plan = world.ledger.plan()
    assert plan is not None and {3, 4, 5} <= set(plan.recommendations)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_near_miss_is_refused_with_the_column_it_means(
    world: World, tmp_path: Path, fmt: str
) -> None:
    columns = ["number", "title", "lead_agency"]
    path = FORMATS[fmt](tmp_path / "recs", columns, [{**RECOMMENDATION, "lead_agency": "Police"}])
    cell = " (C1)" if fmt == "xlsx" else ""
    assert rejected(world, path) == [
        f"row 1, column lead_agency{cell}: is not a column of a recommendations file: "
        "did you mean lead_agencies?"
    ]
    # an optional column misspelt is refused too: importing without it would sign a
    # record short of what the clerk typed
    typed = [*ACTION_COLUMNS[:5], "Expected outcomes", *ACTION_COLUMNS[6:]]
    row = {**GOOD, "Expected outcomes": "The group meets"}
    errors = rejected(world, FORMATS[fmt](tmp_path / "actions", typed, [row]))
    assert errors == [
        f"row 1, column Expected outcomes{' (F1)' if cell else ''}: is not a column of an "
        "actions file: did you mean expected_outcome?"
    ]


def test_other_columns_are_named_and_the_rest_imports(world: World, tmp_path: Path) -> None:
    columns = [c for c in ACTION_COLUMNS if c != "due_date"] + ["Notes", "RAG", "Date"]
    row = {**GOOD, "Notes": "chase", "RAG": "amber", "Date": "2023-01-01"}
    warnings = warned(world, write_csv(tmp_path / "actions", columns, [row]))
    assert warnings == ["ignored columns: Notes, RAG, Date (did you mean due_date?)"]
    action = world.ledger.action("R1.1")
    assert action is not None and action.due_date is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_descriptive_columns_may_be_absent_or_blank(
    world: World, tmp_path: Path, fmt: str
) -> None:
    required = ["action_id", "recommendation", "title", "lead_agency"]
    imported(world, FORMATS[fmt](tmp_path / "bare", required, [GOOD]))
    blank = {**GOOD, "action_id": "R1.2", "expected_outcome": "", "evidence_required": " "}
    imported(world, FORMATS[fmt](tmp_path / "blank", list(ACTION_COLUMNS), [blank]))
    for action_id in ("R1.1", "R1.2"):
        action = world.ledger.action(action_id)
        assert action is not None
        assert (action.expected_outcome, action.evidence_required) == ("", "")
    bare = world.ledger.action("R1.1")
    assert bare is not None and (bare.lead_officers, bare.due_date) == ([], None)


def test_the_domain_takes_empty_descriptions_but_only_text(world: World) -> None:
    fields = {
        "action_id": "R2.1", "recommendation": 2, "title": "T", "lead_agency": "police",
        "lead_officers": [], "expected_outcome": "", "evidence_required": "", "due_date": None,
    }  # fmt: skip
    world.client("sig").add_action(fields)
    with pytest.raises(InvalidInput, match="evidence_required must be a string"):
        world.client("sig").add_action({**fields, "action_id": "R2.2", "evidence_required": 7})
    world.client("sig").amend("R2.1", {"expected_outcome": "Stated later"}, "the plan says")
    action = world.ledger.action("R2.1")
    assert action is not None and action.expected_outcome == "Stated later"


def write_delimited(path: Path, delimiter: str, rows: list[Row], encoding: str = "utf-8") -> Path:
    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(rows[0])
        writer.writerows([list(row.values()) for row in rows])
    return path


@pytest.mark.parametrize("delimiter", [";", "\t", "|", ","])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_any_delimiter_a_spreadsheet_saves_is_read(
    world: World, tmp_path: Path, delimiter: str, encoding: str
) -> None:
    """`;` from a European Excel, tab from "Text", `|`; a BOM, and UTF-16 with its BOM
    (Excel's "Unicode Text"). Cells with commas and semicolons in them stay whole."""
    rows = [RECOMMENDATION, {"number": "4", "title": "Fourth; sooner", "lead_agencies": "Police"}]
    imported(world, write_delimited(tmp_path / "recs.csv", delimiter, rows, encoding))
    plan = world.ledger.plan()
    assert plan is not None
    assert plan.recommendations[3].title == "Third, and last"
    assert plan.recommendations[3].lead_agencies == ["council", "police"]
    assert plan.recommendations[4].title == "Fourth; sooner"


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize(
    ("text", "byte"),
    [("“Quoted”", "0x93"), ("Agence de santé", "0xe9")],
)
def test_a_file_that_is_not_utf8_is_refused_with_the_fix(
    world: World, tmp_path: Path, text: str, byte: str, bom: bytes
) -> None:
    """Not converted by a guess: a wrong one would sign wrong text into the record. (A
    UTF-8 BOM before Windows-1252 text: the byte is still the right one.)"""
    path = tmp_path / "recs.csv"
    path.write_bytes(
        bom
        + f"number,title,lead_agencies\n1,A,Police\n2,B,Police\n3,{text},Police\n".encode("cp1252")
    )
    assert rejected(world, path) == [
        f"file: the file is not UTF-8 (byte {byte} at line 4, looks like Windows-1252): "
        "in Excel choose Save As → CSV UTF-8"
    ]


def test_a_sheet_is_chosen_by_name_or_as_the_only_one_with_data(
    world: World, tmp_path: Path
) -> None:
    recs = [["number", "title", "lead_agencies"], [3, "Third", "Police"]]
    acts = [list(ACTION_COLUMNS), list(GOOD.values())]
    spare = workbook(tmp_path / "spare.xlsx", {"IICSA list": recs, "Sheet2": [], "Sheet3": []})
    imported(world, spare)  # Excel's empty spare sheets are not a choice
    both = workbook(tmp_path / "both.xlsx", {"Recs": recs, "Acts": acts})
    assert rejected(world, both) == [
        "sheet: the workbook has 2 sheets with data, 'Recs', 'Acts': choose one with --sheet NAME"
    ]
    assert rejected(world, both, sheet="Actions") == [
        "sheet: no sheet 'Actions' (did you mean 'Acts'?): the workbook has 'Recs', 'Acts'"
    ]
    imported(world, both, sheet=" acts")  # case and spaces aside
    assert world.ledger.action("R1.1") is not None
    named = workbook(tmp_path / "named.xlsx", {"recommendations": recs, "actions": acts})
    assert rejected(world, named)[0].endswith("import one at a time, with --sheet NAME")
    csv_file = write_csv(tmp_path / "recs", recs[0], [])
    assert rejected(world, csv_file, sheet="Recs") == [
        "sheet: a CSV file has no sheets: name a sheet only for an .xlsx"
    ]
