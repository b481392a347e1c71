"""Writing plan tables as CSV or XLSX for the import and export tests."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook

GOOD = {
    "action_id": "R1.1",
    "recommendation": "1",
    "title": "Set up the group",
    "lead_agency": "Council",
    "lead_officers": "Director; Deputy",
    "expected_outcome": "The group meets monthly",
    "evidence_required": "Terms of reference",
    "due_date": "2023-03-31",
}

Row = dict[str, Any]
Writer = Callable[[Path, list[str], list[Row]], Path]


def write_csv(path: Path, columns: list[str], rows: list[Row]) -> Path:
    path = path.with_suffix(".csv")
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_text(row.get(c, "")) for c in columns])
    return path


def _csv_text(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_xlsx(
    path: Path, columns: list[str], rows: list[Row], *, sheets: tuple[str, ...] = ("actions",)
) -> Path:
    """Values are written as they come: ints as number cells, dates as date cells, and a
    string starting with '=' as a formula (openpyxl's own rule)."""
    path = path.with_suffix(".xlsx")
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = sheets[0]
    sheet.append(columns)
    for row in rows:
        sheet.append([row.get(c) if row.get(c) != "" else None for c in columns])
    for name in sheets[1:]:
        workbook.create_sheet(name).append(["notes"])
    workbook.save(path)
    return path
