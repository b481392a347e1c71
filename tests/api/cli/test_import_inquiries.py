"""Importing a public inquiry's recommendations as a user does (issue 14), by the command
line in local mode: the blank template filled in as it comes, an IICSA-like list kept in
a workbook with several sheets, and a Grenfell-like list saved by a European Excel
(semicolons, a BOM, CRLF; first as Windows-1252, refused with the fix). The data are
small and in the shape of those inquiries' published tables, with whole numbers (free-form
references such as 33.22(a) are another part of the issue)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from ledger.service import Ledger
from tests.support.sample_plan import adopt_charter, init_ledger

IICSA_RECOMMENDATIONS = [
    ["Number", "Title", "Lead Agencies", "Text", "Report chapter"],
    [1, "A Child Protection Authority", "Home Office; Welsh Government",
     "Establish a Child Protection Authority for England and one for Wales.", "F.3"],
    [2, "A cabinet minister for children", "Cabinet Office",
     "Create a cabinet-level ministerial position for children.", "F.3"],
    [3, "Public awareness", "Department for Education; Welsh Government",
     "Fund regular public awareness campaigns about child sexual abuse.", "F.4"],
    [5, "Registration of care staff in residential care", "Department for Education",
     "Require registration of care staff in children's homes.", "F.5"],
    [13, "Mandatory reporting", "Home Office; Welsh Government",
     "Introduce a mandatory duty to report child sexual abuse.", "F.6"],
]  # fmt: skip
IICSA_ACTIONS = [
    ["Action ID", "Recommendation", "Title", "Lead agency", "Lead officers", "Due Date"],
    ["R1.1", 1, "Consult on the authority's remit", "Home Office", "Director, Safeguarding",
     date(2024, 3, 31)],
    ["R1.2", 1, "Set up the authority for Wales", "Welsh Government", None, date(2024, 9, 30)],
    ["R13.1", 13, "Legislate for mandatory reporting", "home-office", "Bill team", None],
]  # fmt: skip
GRENFELL_RECOMMENDATIONS = "\r\n".join(
    [
        "Number;Title;Lead agencies;Text;RAG",
        "1;Information about external walls to the fire and rescue service;"
        "Ministry of Housing, Communities and Local Government;"
        "Owners and managers of high-rise residential buildings to provide the local fire"
        " and rescue service with information about the design of their external walls;red",
        "2;Premises information boxes;Ministry of Housing, Communities and Local Government;"
        "Owners and managers to provide premises information boxes in high-rise buildings;",
        '3;Training for control room staff;London Fire Brigade;"Training on when to revoke'
        ' a “stay put” strategy";amber',
        '4;Evacuation plans for high-rise residential buildings;"Home Office;London Fire'
        ' Brigade";Develop national guidelines for carrying out partial or total evacuations;',
        "5;Inspection of fire doors;Home Office;Urgent inspection of fire doors;green",
    ]
)
GRENFELL_ACTIONS = "\r\n".join(
    [
        "Action ID;Recommendation;Title;Lead agency;Lead officers;Expected outcome;"
        "Evidence required;Due date",
        "R3.1;3;Revise control room training;London Fire Brigade;Head of Control;"
        "Every operator trained;Training records;2020-12-31",
        "R4.1;4;Publish evacuation guidance;Home Office;;;;2021-06-30",
        "R4.2;4;Evacuation plans for every high-rise;London Fire Brigade;Assistant Commissioner;;;",
    ]
)


@pytest.fixture
def sig(cli: Any, tmp_path: Path) -> list[str]:
    """A new ledger with the charter and the implementation group, and no plan yet: the
    arguments the group signs with."""
    init_ledger(cli, tmp_path, "council.example/inquiry")
    adopt_charter(cli, tmp_path)
    key = tmp_path / "sig.key"
    assert cli("keys", "new", "--out", str(key))[0] == 0
    code, _, err = cli(
        "--as", "chair", "--key", str(tmp_path / "chair.key"), "users", "add", "sig",
        "--name", "SIG", "--role", "implementation_group", "--key-file", str(key),
    )  # fmt: skip
    assert code == 0, err
    return ["--as", "sig", "--key", str(key)]


def imports(cli: Any, sig: list[str], *args: str) -> str:
    """Run `import` as the group, which succeeds; what it said on stderr (its warnings)."""
    code, out, err = cli(*sig, "import", *args)
    assert code == 0 and out.startswith("imported "), err
    return str(err)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_template_imports_as_it_comes(
    cli: Any, sig: list[str], tmp_path: Path, fmt: str
) -> None:
    folder = tmp_path / "blank"
    code, out, err = cli("template", str(folder))
    assert code == 0, err
    recs, actions, book = (
        folder / name for name in ("recommendations.csv", "actions.csv", "plan.xlsx")
    )
    assert f"inquiry-ledger import {recs} --title" in out and "--sheet actions" in out
    code, _, err = cli("template", str(folder))
    assert code == 2 and f"{recs} exists: not overwritten" in err
    notes = recs.read_text(encoding="utf-8-sig").splitlines()
    assert notes[0].startswith("# Recommendations")
    assert "# lead_agencies - required: the agencies that lead it" in "\n".join(notes)
    if fmt == "csv":
        # an error names the row a spreadsheet shows, below the notes
        header = notes.index("number,title,lead_agencies,text,reference,group") + 1
        bad = tmp_path / "bad.csv"
        bad.write_text("\n".join(notes).replace("\n1,", "\nx,"), encoding="utf-8")
        code, _, err = cli(*sig, "import", str(bad))
        assert code == 2 and f"row {header + 1}, column number: must be a whole number" in err
        files = [[str(recs)], [str(actions)]]
    else:
        sheet = load_workbook(book)["recommendations"]
        assert sheet["C1"].value == "lead_agencies" and sheet["C1"].comment is not None
        assert "semicolons" in sheet["C1"].comment.text
        code, _, err = cli(*sig, "import", str(book))
        assert code == 2 and "'recommendations', 'actions'" in err and "--sheet NAME" in err
        files = [[str(book), "--sheet", "recommendations"], [str(book), "--sheet", "actions"]]
    assert imports(cli, sig, *files[0], "--title", "Plan", "--expected", "1") == ""
    assert imports(cli, sig, *files[1]) == ""
    with Ledger(cli.config) as ledger:
        plan = ledger.plan()
        action = ledger.action("R1.1")
    assert plan is not None and action is not None
    assert plan.recommendations[1].title == "Establish a review group"
    assert plan.recommendations[1].lead_agencies == ["council", "police"]
    assert (action.lead_agency, action.due_date) == ("council", "2025-03-31")
    assert action.evidence_required == "Terms of reference and the minutes of the first meeting"


def test_an_iicsa_like_list_from_a_workbook_of_several_sheets(
    cli: Any, sig: list[str], tmp_path: Path
) -> None:
    book = Workbook()
    first = book.active
    assert first is not None
    first.title = "Recommendations"
    for row in IICSA_RECOMMENDATIONS:
        first.append(row)
    actions = book.create_sheet("Actions")
    for row in IICSA_ACTIONS:
        actions.append(row)
    book.create_sheet("Sheet3")
    path = tmp_path / "iicsa-final-report.xlsx"
    book.save(path)
    code, _, err = cli(*sig, "import", str(path))
    assert code == 2 and "--sheet NAME" in err and "'Sheet3'" in err  # which one?
    warnings = imports(
        cli, sig, str(path), "--sheet", "Recommendations", "--title", "IICSA", "--expected", "20"
    )
    assert warnings == f"{path}: ignored columns: Report chapter\n"
    assert imports(cli, sig, str(path), "--sheet", "actions") == ""
    with Ledger(cli.config) as ledger:
        plan = ledger.plan()
        found = {a: ledger.action(a) for a in ("R1.1", "R1.2", "R13.1")}
    assert plan is not None and sorted(plan.recommendations) == [1, 2, 3, 5, 13]
    assert plan.recommendations[13].lead_agencies == ["home-office", "welsh-government"]
    assert plan.agencies["department-for-education"] == "Department for Education"
    r11, r12, r131 = found.values()
    assert r11 is not None and (r11.lead_agency, r11.due_date) == ("home-office", "2024-03-31")
    assert r11.lead_officers == ["Director, Safeguarding"]
    assert (r11.expected_outcome, r11.evidence_required) == ("", "")  # not in the sheet
    assert r12 is not None and (r12.lead_agency, r12.lead_officers) == ("welsh-government", [])
    assert r131 is not None and r131.due_date is None


def test_a_grenfell_like_list_saved_by_a_european_excel(
    cli: Any, sig: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "grenfell-phase-1.csv"
    path.write_bytes(GRENFELL_RECOMMENDATIONS.encode("cp1252"))  # "CSV (semicolon)"
    code, _, err = cli(*sig, "import", str(path), "--title", "Grenfell")
    assert code == 2
    assert err.strip().splitlines() == [
        f"inquiry-ledger: {path}: the file is not UTF-8 (byte 0x93 at line 4, looks like "
        "Windows-1252): in Excel choose Save As → CSV UTF-8; nothing was imported"
    ]
    path.write_bytes(GRENFELL_RECOMMENDATIONS.encode("utf-8-sig"))  # "CSV UTF-8"
    warnings = imports(cli, sig, str(path), "--title", "Grenfell", "--expected", "46")
    assert warnings == f"{path}: ignored columns: RAG\n"
    actions = tmp_path / "grenfell-actions.csv"
    actions.write_bytes(GRENFELL_ACTIONS.encode("utf-8-sig"))
    assert imports(cli, sig, str(actions)) == ""
    ministry = "ministry-of-housing-communities-and-local-government"
    with Ledger(cli.config) as ledger:
        plan = ledger.plan()
        found = {a: ledger.action(a) for a in ("R3.1", "R4.1", "R4.2")}
    assert plan is not None and sorted(plan.recommendations) == [1, 2, 3, 4, 5]
    assert plan.agencies[ministry] == "Ministry of Housing, Communities and Local Government"
    assert plan.recommendations[1].lead_agencies == [ministry]
    assert plan.recommendations[3].text == "Training on when to revoke a “stay put” strategy"
    assert plan.recommendations[4].lead_agencies == ["home-office", "london-fire-brigade"]
    r31, r41, r42 = found.values()
    assert r31 is not None and r31.expected_outcome == "Every operator trained"
    assert r41 is not None and (r41.expected_outcome, r41.evidence_required) == ("", "")
    assert r42 is not None and (r42.lead_agency, r42.due_date) == ("london-fire-brigade", None)
