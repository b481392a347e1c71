"""Reading plan tables from CSV and XLSX, with every cell's address, for the import.

Both formats come back as the same `Table`: the header, then each data row as text with
its sheet row number, so the import validates both with one piece of code and names each
error by row and column (and, for XLSX, the cell: ``row 5, column due_date (E5)``).

Cells that are not plain values are refused here, before validation: a formula (its
value is whatever the spreadsheet last computed, or nothing; we import what a person
typed), an error value (``#REF!``), a true/false, and a number where the column holds
text or a date. Whole numbers are accepted in the number columns and real dates in
``due_date``; they are converted to the same text a CSV would hold.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

#: Columns that hold whole numbers (a number cell is fine there).
NUMBER_COLUMNS = frozenset({"number", "recommendation"})
#: Columns that hold a date (a date cell is fine there).
DATE_COLUMNS = frozenset({"due_date"})
#: Sheets the import looks for by name (case-insensitive) in a workbook of several.
SHEET_NAMES = ("recommendations", "actions")
MAX_ROWS = 20_000
FORMULA_PREFIX = "="
#: What the parts of a workbook may unpack to, at most: a small zip can unpack to
#: gigabytes, and the import reads a table of at most MAX_ROWS rows.
MAX_UNPACKED = 256 * 1024 * 1024
ZIP_MAGIC = b"PK\x03\x04"
#: The part every Office Open XML package has (an .xlsx is one; so are .docx and .pptx).
CONTENT_TYPES = "[Content_Types].xml"
UNREADABLE = "not a readable .xlsx workbook"
DAMAGED = "damaged or truncated (save it again from the spreadsheet)"
NOT_A_WORKBOOK = "a zip, but not a spreadsheet saved as .xlsx"


@dataclass(frozen=True)
class CellError:
    row: int
    column: str
    message: str


@dataclass
class Table:
    """A header and its data rows (text), each row with its number in the file."""

    columns: list[str]
    rows: list[tuple[int, dict[str, str]]]
    #: column name -> spreadsheet column letter (XLSX only), to name cells in errors
    letters: dict[str, str] = field(default_factory=dict)
    errors: list[CellError] = field(default_factory=list)
    sheet: str | None = None

    def cell(self, row: int, column: str) -> str | None:
        letter = self.letters.get(column)
        return f"{letter}{row}" if letter and row >= 1 else None


class TableError(ValueError):
    """The file as a whole cannot be read as a table (not a workbook, wrong sheet...)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


def read_table(path: Path) -> Table:
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return read_xlsx(path)
    if suffix in (".xls", ".xlsm", ".xlsb", ".ods", ".numbers"):
        raise TableError("file", f"{suffix} files are not read: save the sheet as .xlsx or .csv")
    return read_csv(path)


def read_csv(path: Path) -> Table:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        rows = [(line, dict(row)) for line, row in enumerate(reader, start=2)]
        columns = list(reader.fieldnames or [])
    table = Table(columns, [])
    for line, row in rows:
        clean: dict[str, str] = {}
        for name, value in row.items():
            if name is None:  # more cells than header columns
                continue
            text = value or ""
            if text.lstrip().startswith(FORMULA_PREFIX):
                table.errors.append(CellError(line, name, _formula_message(text)))
                text = ""
            clean[name] = text
        table.rows.append((line, clean))
    return table


def read_xlsx(path: Path) -> Table:
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    _check_package(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=False)
    except (FileNotFoundError, PermissionError):
        raise
    except OSError:  # openpyxl's "File contains no valid workbook part"
        raise TableError("file", f"{UNREADABLE}: {NOT_A_WORKBOOK}") from None
    except Exception:  # as in _parsed: whatever fails in there is the file
        raise TableError("file", f"{UNREADABLE}: {DAMAGED}") from None
    try:
        sheet = _choose_sheet(workbook)
        rows = _parsed(sheet.iter_rows())
        header = next(rows, ())
        columns: list[str] = []
        letters: dict[str, str] = {}
        positions: dict[int, str] = {}
        for index, cell in enumerate(header):
            value = cell.value
            if value is None:
                continue
            name = str(value).strip()
            columns.append(name)
            letters[name] = get_column_letter(index + 1)
            positions[index] = name
        table = Table(columns, [], letters, sheet=sheet.title)
        for number, row in enumerate(rows, start=2):
            values: dict[str, str] = {}
            for index, cell in enumerate(row):
                column = positions.get(index)
                if column is None:
                    continue
                text, problem = _cell_text(cell, column)
                if problem:
                    table.errors.append(CellError(number, column, problem))
                values[column] = text
            if not any(v.strip() for v in values.values()) and not any(
                e.row == number for e in table.errors
            ):
                continue  # a blank row, as csv skips blank lines
            if len(table.rows) >= MAX_ROWS:
                raise TableError(sheet.title, f"more than {MAX_ROWS} rows; split the file")
            table.rows.append((number, values))
        return table
    finally:
        workbook.close()


def _check_package(path: Path) -> None:
    """Refuse what is not a zip, a zip that is not an Office package, and one that would
    unpack to more than MAX_UNPACKED, before openpyxl reads any of it. (A zip's reader
    never unpacks a part past its declared size, so the declared sizes bound it.)"""
    try:
        with zipfile.ZipFile(path) as package:
            parts = package.infolist()
    except zipfile.BadZipFile:
        with open(path, "rb") as handle:
            zipped = handle.read(4) == ZIP_MAGIC  # a zip's start, but not its end
        raise TableError("file", f"{UNREADABLE}: {DAMAGED}" if zipped else UNREADABLE) from None
    if CONTENT_TYPES not in {part.filename for part in parts}:
        raise TableError("file", f"{UNREADABLE}: {NOT_A_WORKBOOK}")
    if sum(part.file_size for part in parts) > MAX_UNPACKED:
        raise TableError("file", f"{UNREADABLE}: it unpacks to over {MAX_UNPACKED >> 20} MiB")


def _parsed(rows: Iterator[Any]) -> Iterator[Any]:
    """The sheet's rows, openpyxl parsing each as it is asked for. A damaged part (a
    truncated or corrupted zip member, XML that is not well-formed, a cell openpyxl
    cannot make sense of) fails in there with whatever its zip, zlib or XML reader
    raises, and the list of those is open-ended: each is the file's fault, and one
    sentence for the user, never a traceback. Only openpyxl's own calls are guarded,
    so a mistake in this module still shows as one."""
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception:  # open-ended, as said above
            raise TableError("file", f"{UNREADABLE}: {DAMAGED}") from None
        yield row


def _choose_sheet(workbook: Any) -> Any:
    names = list(workbook.sheetnames)
    if not names:
        raise TableError("sheet", "the workbook has no worksheet to import")
    wanted = [n for n in names if n.strip().lower() in SHEET_NAMES]
    if len(wanted) == 1:
        return workbook[wanted[0]]
    listed = ", ".join(repr(n) for n in names)
    if len(wanted) > 1:
        raise TableError(
            "sheet", f"the workbook has both {listed}: import recommendations and actions apart"
        )
    if len(names) == 1:
        return workbook[names[0]]
    raise TableError(
        "sheet",
        f"the workbook has sheets {listed}: name the one to import "
        f"'recommendations' or 'actions', or keep only that sheet",
    )


def _cell_text(cell: Any, column: str) -> tuple[str, str | None]:
    """The cell as the text a CSV would hold, or "" and why it cannot be imported."""
    value, kind = cell.value, getattr(cell, "data_type", None)
    if value is None:
        return "", None
    if kind == "f" or (isinstance(value, str) and value.startswith(FORMULA_PREFIX) and kind != "s"):
        return "", _formula_message(str(value))
    if kind == "e":
        return "", f"is an error value ({value}), not data"
    if isinstance(value, bool):
        return "", "is a true/false cell, not text"
    if isinstance(value, datetime | date):
        if column not in DATE_COLUMNS:
            return "", "is a date cell; this column holds text"
        if isinstance(value, datetime):
            if value.time() != time(0, 0):
                return "", f"is a date and time ({value.isoformat()}); give a date only"
            value = value.date()
        return value.isoformat(), None
    if isinstance(value, int | float):
        if column in NUMBER_COLUMNS:
            if float(value).is_integer():
                return str(int(value)), None
            return "", f"is {value}, not a whole number"
        if column in DATE_COLUMNS:
            return "", f"is a number ({value}), not a date: format the cell as a date or YYYY-MM-DD"
        return "", f"is a number ({value}); this column holds text: format the cell as text"
    if isinstance(value, str):
        if value.lstrip().startswith(FORMULA_PREFIX):
            return "", _formula_message(value)
        return value, None
    return "", f"cannot be read as text ({type(value).__name__})"


def _formula_message(text: str) -> str:
    shown = text.strip()
    shown = shown if len(shown) <= 40 else shown[:39] + "…"
    return f"is a formula ({shown}): import values, not formulas (paste as values)"
