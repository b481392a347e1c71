"""Reading plan tables from CSV and XLSX, with every cell's address, for the import.

Both formats come back as the same `Table`: the header, then each data row as text with
its sheet row number, so the import validates both with one piece of code and names each
error by row and column (and, for XLSX, the cell: ``row 5, column due_date (E5)``).

Cells that are not plain values are refused here, before validation: a formula (its
value is whatever the spreadsheet last computed, or nothing; we import what a person
typed), an error value (``#REF!``), a true/false, and a number where the column holds
text or a date. Whole numbers are accepted in the number columns and real dates in
``due_date``; they are converted to the same text a CSV would hold.

Headers are read as a clerk types them: `column_key` folds case, spaces and hyphens, so
``Lead Agencies``, `` lead_agencies `` and ``LEAD-AGENCIES`` are all ``lead_agencies``
(`Table.headings` keeps each as typed, for messages). Leading blank rows and rows whose
first cell starts with ``#`` (the template's notes) come before the header and are skipped.

A CSV is UTF-8 (a BOM is fine), or UTF-16 that says so with its BOM (Excel's "Unicode
Text"): a BOM names its encoding, so nothing is guessed. Any other bytes are refused with
the fix, never converted by a guess: Windows-1252, Latin-1 and Mac Roman each decode any
bytes at all, so a wrong guess would not fail but put other characters into the text
(a typographic quote read as ``â€œ``, a name misspelt), which is then signed into an
append-only record where it stays; saving the file again as UTF-8 costs the clerk a
minute. The delimiter is sniffed from the file's head, among ``, ; tab |`` (a European
Excel saves ``;``), and is ``,`` when the head does not say.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import re
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
#: What a CSV's cells may be separated by, and how much of its head says which.
DELIMITERS = ",;\t|"
SNIFF_CHARS = 64 * 1024
#: A row before the header whose first cell starts with this is a note (the template's).
NOTE_PREFIX = "#"
SAVE_AS_UTF8 = "in Excel choose Save As → CSV UTF-8"


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
    #: column name -> the header as typed ("Lead Agencies"), to name it as the clerk did
    headings: dict[str, str] = field(default_factory=dict)
    header_row: int = 1

    def cell(self, row: int, column: str) -> str | None:
        letter = self.letters.get(column)
        return f"{letter}{row}" if letter and row >= 1 else None


class TableError(ValueError):
    """The file as a whole cannot be read as a table (not a workbook, wrong sheet...)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


def column_key(heading: str) -> str:
    """The column a header names: case folded, and the spaces, hyphens and underscores
    around and between its words made one underscore ("Lead Agencies" -> lead_agencies)."""
    return "_".join(word for word in re.split(r"[\s_-]+", heading.lower()) if word)


def read_table(path: Path, sheet: str | None = None) -> Table:
    """The table in `path`; `sheet` names a workbook's sheet (a CSV has none)."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return read_xlsx(path, sheet)
    if suffix in (".xls", ".xlsm", ".xlsb", ".ods", ".numbers"):
        raise TableError("file", f"{suffix} files are not read: save the sheet as .xlsx or .csv")
    if sheet is not None:
        raise TableError("sheet", "a CSV file has no sheets: name a sheet only for an .xlsx")
    return read_csv(path)


def read_csv(path: Path) -> Table:
    with open(path, "rb") as handle:
        text = decoded(handle.read())
    notes, body = _after_notes(text)
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=sniffed_delimiter(body))
    records = enumerate(reader, start=notes + 1)
    header_row, header = next(records, (notes + 1, []))
    table = Table([], [], header_row=header_row)
    keys = [_add_column(table, heading, header_row) for heading in header]
    for line, record in records:
        if not any(value.strip() for value in record):
            continue  # a blank line, or one Excel wrote as ",,,"
        clean: dict[str, str] = {}
        for key, value in zip(keys, record, strict=False):  # cells past the header: dropped
            if not key:
                continue
            if value.lstrip().startswith(FORMULA_PREFIX):
                table.errors.append(CellError(line, key, _formula_message(value)))
                value = ""
            clean[key] = value
        table.rows.append((line, clean))
    return table


def decoded(data: bytes) -> str:
    """A CSV's text: UTF-8 (with or without a BOM), or UTF-16 with its BOM. Anything else
    is refused with the fix, never decoded by a guess (the module docstring says why)."""
    if data.startswith(ZIP_MAGIC):
        raise TableError("file", "is a zip (an .xlsx workbook?), not CSV text: name it .xlsx")
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    try:
        text = data.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError as error:
        if utf16:
            raise TableError("file", f"is damaged UTF-16 text: {SAVE_AS_UTF8}") from None
        raise TableError("file", _not_utf8(error.object, error.start)) from None  # past a BOM
    if "\x00" in text:
        raise TableError("file", "is not a text file: save the table as CSV UTF-8 or .xlsx")
    return text


def _not_utf8(data: bytes, at: int) -> str:
    line = data.count(b"\n", 0, at) + 1
    try:
        data.decode("cp1252")
        looks = ", looks like Windows-1252"
    except UnicodeDecodeError:
        looks = ""
    return f"the file is not UTF-8 (byte 0x{data[at]:02x} at line {line}{looks}): {SAVE_AS_UTF8}"


def sniffed_delimiter(text: str) -> str:
    """The delimiter csv.Sniffer finds in the head of `text`, among DELIMITERS; "," if
    it finds none (a one-column file, say)."""
    head = text[:SNIFF_CHARS]
    if len(text) > SNIFF_CHARS and "\n" in head:
        head = head[: head.rindex("\n") + 1]  # whole lines only
    try:
        return csv.Sniffer().sniff(head, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _after_notes(text: str) -> tuple[int, str]:
    """How many lines come before the header (blank, or notes starting with #), and the
    text from the header on. A note Excel saved again may be quoted or end in ",,,"."""
    start = count = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        line = text[start:end]
        note = line.strip().lstrip('"').startswith(NOTE_PREFIX)
        if not note and line.strip(DELIMITERS + ' "\r\n'):
            break
        start, count = end, count + 1
    return count, text[start:]


def _add_column(table: Table, heading: str, row: int, letter: str | None = None) -> str:
    """Add a header cell to `table`; its column name ("" for a blank heading: skipped)."""
    key = column_key(heading)
    if not key:
        return ""
    if key in table.headings:
        table.errors.append(CellError(row, key, "appears twice in the header"))
        return ""
    table.columns.append(key)
    table.headings[key] = heading.strip()
    if letter:
        table.letters[key] = letter
    return key


def read_xlsx(path: Path, sheet_name: str | None = None) -> Table:
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
        sheet = _choose_sheet(workbook, sheet_name)
        rows = enumerate(_parsed(sheet.iter_rows()), start=1)
        header_row, header = next(
            ((n, row) for n, row in rows if not _is_note([c.value for c in row])), (1, ())
        )
        table = Table([], [], sheet=sheet.title, header_row=header_row)
        positions: dict[int, str] = {}
        for index, cell in enumerate(header):
            if cell.value is not None:
                letter = get_column_letter(index + 1)
                key = _add_column(table, str(cell.value), header_row, letter)
                if key:
                    positions[index] = key
        for number, row in rows:
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


def _is_note(values: list[Any]) -> bool:
    """A row before the header: blank, or its first filled cell a note starting with #."""
    filled = [v for v in values if v is not None and str(v).strip()]
    return not filled or (isinstance(filled[0], str) and filled[0].lstrip().startswith(NOTE_PREFIX))


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


def _choose_sheet(workbook: Any, wanted: str | None) -> Any:
    """The sheet named `wanted` (case and surrounding spaces aside); without a name, the
    only sheet called recommendations or actions, else the only sheet with data in it."""
    names = list(workbook.sheetnames)
    if not names:
        raise TableError("sheet", "the workbook has no worksheet to import")
    listed = ", ".join(repr(n) for n in names)
    if wanted is not None:
        found = [n for n in names if n == wanted] or [
            n for n in names if n.strip().lower() == wanted.strip().lower()
        ]
        if found:
            return workbook[found[0]]
        close = difflib.get_close_matches(wanted, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise TableError("sheet", f"no sheet {wanted!r}{hint}: the workbook has {listed}")
    named = [n for n in names if n.strip().lower() in SHEET_NAMES]
    if len(named) == 1:
        return workbook[named[0]]
    if len(named) > 1:
        raise TableError(
            "sheet", f"the workbook has sheets {listed}: import one at a time, with --sheet NAME"
        )
    used = [n for n in names if _has_data(workbook[n])]
    if len(used) == 1:
        return workbook[used[0]]
    if not used:
        raise TableError("sheet", f"the workbook's sheets are all empty ({listed})")
    raise TableError(
        "sheet",
        f"the workbook has {len(used)} sheets with data, "
        f"{', '.join(repr(n) for n in used)}: choose one with --sheet NAME",
    )


def _has_data(sheet: Any) -> bool:
    """Whether any cell of `sheet` holds something (Excel's spare Sheet2 and Sheet3 don't)."""
    for row in _parsed(sheet.iter_rows(values_only=True)):
        if any(v is not None and str(v).strip() for v in row):
            return True
    return False


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
