"""The blank plan files a clerk fills in (`inquiry-ledger template DIR`): a recommendations
CSV, an actions CSV, and one workbook with both sheets, each with one example row that
imports as it stands, and a note on every column from plan_columns.py.

The CSVs carry their notes as lines starting with ``#`` above the header, which the
import skips (spreadsheet.py); the workbook carries them as comments on the header cells,
where Excel shows them on hover. Commas and semicolons are kept out of the notes, so that
a spreadsheet opening the CSV does not split a note across cells. The CSVs are written
with a BOM, so that Excel reads them as UTF-8 and keeps them so when saved as CSV UTF-8.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from api.application.plan_columns import KINDS, FileKind

WORKBOOK = "plan.xlsx"
NOTES = {
    "recommendations": "Recommendations of the inquiry: one row for each.",
    "actions": "Actions of the plan: one row for each. Import the recommendations first.",
}
HOW = (
    "Lines starting with # are notes for you: the import skips them. Replace the example"
    " row with your own and save as CSV UTF-8."
)


def template_files(folder: Path) -> list[Path]:
    """The files `write_template` writes into `folder`, in order."""
    return [folder / f"{kind.name}.csv" for kind in KINDS] + [folder / WORKBOOK]


def write_template(folder: Path) -> list[Path]:
    """Write the template's files into `folder` (made if need be), refusing to overwrite
    any that exist (a clerk's filled-in plan may be there): FileExistsError names it."""
    paths = template_files(folder)
    for path in paths:
        if path.exists():
            raise FileExistsError(path)
    folder.mkdir(parents=True, exist_ok=True)
    for kind, path in zip(KINDS, paths, strict=False):
        _write_csv(kind, path)
    _write_workbook(paths[-1])
    return paths


def _write_csv(kind: FileKind, path: Path) -> None:
    with open(path, "x", newline="", encoding="utf-8-sig") as handle:
        for line in (NOTES[kind.name], HOW, "Columns:"):
            handle.write(f"# {line}\n")
        for column in kind.columns:
            required = "required: " if column.required else ""
            handle.write(f"# {column.name} - {required}{column.note}\n")
        writer = csv.writer(handle)
        writer.writerow(kind.names)
        writer.writerow([column.example for column in kind.columns])


def _write_workbook(path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font

    workbook = Workbook()
    spare = workbook.active
    for kind in KINDS:
        sheet = workbook.create_sheet(kind.name)
        sheet.append(list(kind.names))
        sheet.append([_cell(column.name, column.example) for column in kind.columns])
        for cell, column in zip(sheet[1], kind.columns, strict=True):
            required = "Required" if column.required else "Optional"
            note = column.note.removeprefix("optional: ")
            cell.comment = Comment(f"{required}: {note}", "inquiry-ledger", 120, 320)
            cell.font = Font(bold=True)
            sheet.column_dimensions[cell.column_letter].width = max(14, len(column.name) + 4)
        sheet.freeze_panes = "A2"
    if spare is not None:
        workbook.remove(spare)
    workbook.save(path)


def _cell(name: str, example: str) -> object:
    """The example as a spreadsheet would hold it: numbers and dates as such."""
    if name in ("number", "recommendation"):
        return int(example)
    if name == "due_date":
        return date.fromisoformat(example)
    return example
