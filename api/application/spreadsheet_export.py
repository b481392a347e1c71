"""Writing the status export as CSV or XLSX, safe to open in a spreadsheet.

Titles, descriptions and names are user text. A cell beginning with ``=``, ``+``, ``-``
or ``@`` (or a tab or carriage return) would be run as a formula by Excel or LibreOffice
("CSV injection"). In CSV such a cell is prefixed with an apostrophe, the usual guard,
which spreadsheets show as text; in XLSX every text cell is written with the string
type, so nothing is ever a formula and the text is kept exactly.

CSV is one file: the evidence hashes of each action are in its ``evidence_sha256``
column (separated by ``;``). XLSX has two sheets: ``status`` (the same columns) and
``evidence`` (one row per evidence item: hash, size, type, description, dates, state).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from projections.report_sheets import ACTION_COLUMNS, EVIDENCE_COLUMNS, StatusExport

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_FORMATS = {".csv": "csv", ".xlsx": "xlsx"}
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A CSV cell that no spreadsheet will evaluate (numbers are left as numbers)."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def status_csv(export: StatusExport) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(ACTION_COLUMNS)
    for row in export.actions:
        writer.writerow([neutralise(row[c]) for c in ACTION_COLUMNS])
    # utf-8-sig: Excel then reads accents and dashes in titles correctly
    return buffer.getvalue().encode("utf-8-sig")


def status_xlsx(export: StatusExport) -> bytes:
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

    workbook = Workbook()
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)
    sheet.title = "status"
    _fill(sheet, ACTION_COLUMNS, export.actions)
    _fill(workbook.create_sheet("evidence"), EVIDENCE_COLUMNS, export.evidence)
    about = workbook.create_sheet("about")
    _fill(
        about,
        ("as_of", "log_entries_replayed"),
        [{"as_of": export.as_of, "log_entries_replayed": export.log_size}],
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _fill(sheet: Any, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    sheet.append(list(columns))
    for row in rows:
        sheet.append([row[c] for c in columns])
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text, never a formula, whatever it begins with
    sheet.freeze_panes = "A2"


def render_export(export: StatusExport, fmt: str) -> tuple[bytes, str]:
    if fmt == "csv":
        return status_csv(export), CSV_MEDIA_TYPE
    if fmt == "xlsx":
        return status_xlsx(export), XLSX_MEDIA_TYPE
    raise ValueError(f"unknown export format {fmt!r}: use csv or xlsx")
