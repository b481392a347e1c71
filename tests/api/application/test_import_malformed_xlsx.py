"""A malformed .xlsx (issue 17): truncated, corrupted inside, not a zip, a zip that is no
workbook, a workbook whose XML is broken, one that would unpack to too much. Each is
refused with one line from the CLI, exit 2 and nothing imported, never a traceback.

(There is no HTTP import: the CLI reads the file, in client mode too, and posts signed
entries, so this is the only place a workbook is parsed.)"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from api.application import spreadsheet
from api.application.plan_import import ACTION_COLUMNS
from tests.support.plan_tables import GOOD, write_xlsx
from tests.support.world import World, clear_store_settings, make_world

SHEET = "xl/worksheets/sheet1.xml"
DAMAGED = "not a readable .xlsx workbook: damaged or truncated"
NOT_A_WORKBOOK = "not a readable .xlsx workbook: a zip, but not a spreadsheet saved as .xlsx"


@pytest.fixture
def world(config: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    clear_store_settings(monkeypatch)
    w = make_world(config, clock)
    yield w
    w.ledger.close()


def rebuilt(good: bytes, change: Callable[[str, bytes], bytes | None], **kw: Any) -> bytes:
    """The workbook's zip again, each part through `change` (None drops it)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(out, "w", **kw) as zipped:
        for name in source.namelist():
            content = change(name, source.read(name))
            if content is not None:
                zipped.writestr(name, content)
    return out.getvalue()


def flipped_inside(data: bytes, part: str) -> bytes:
    """The zip with bytes in the middle of one part's compressed data inverted."""
    with zipfile.ZipFile(io.BytesIO(data)) as zipped:
        info = zipped.getinfo(part)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    middle = start + info.compress_size // 2
    damaged = bytearray(data)
    for i in range(middle, middle + 16):
        damaged[i] ^= 0xFF
    return bytes(damaged)


def crc_broken(good: bytes) -> bytes:
    """The zip stored (not deflated) with one byte of the sheet's cells changed: every
    part still unpacks, but the sheet's checksum no longer matches."""
    stored = rebuilt(good, lambda name, content: content, compression=zipfile.ZIP_STORED)
    at = stored.index(b"R1.1", stored.index(b"<sheetData"))
    return stored[:at] + b"R1.7" + stored[at + 4 :]


def only(name: str, content: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zipped:
        zipped.writestr(name, content)
    return out.getvalue()


def docx_types(name: str, content: bytes) -> bytes:
    """A package that says it is a Word document, as a .docx renamed .xlsx does."""
    if name != "[Content_Types].xml":
        return content
    return content.replace(b"spreadsheetml.sheet.main", b"wordprocessingml.document.main")


CASES: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "empty": (lambda good: b"", "not a readable .xlsx workbook"),
    "csv text": (lambda good: b"action_id,title\nR1.1,x\n", "not a readable .xlsx workbook"),
    "truncated": (lambda good: good[: len(good) // 2], DAMAGED),
    "deflate data corrupted": (lambda good: flipped_inside(good, SHEET), DAMAGED),
    "crc mismatch": (crc_broken, DAMAGED),
    "sheet xml cut short": (
        lambda good: rebuilt(good, lambda n, c: c[: len(c) // 2] if n == SHEET else c),
        DAMAGED,
    ),
    "workbook xml broken": (
        lambda good: rebuilt(good, lambda n, c: b"<workbook" if n == "xl/workbook.xml" else c),
        DAMAGED,
    ),
    "styles xml broken": (
        lambda good: rebuilt(good, lambda n, c: b"<x" if n == "xl/styles.xml" else c),
        DAMAGED,
    ),
    "a zip of a text file": (lambda good: only("notes.txt", b"hello"), NOT_A_WORKBOOK),
    "a word document": (lambda good: rebuilt(good, docx_types), NOT_A_WORKBOOK),
    "no sheet": (
        lambda good: rebuilt(good, lambda n, c: None if n == SHEET else c),
        "sheet: the workbook has no worksheet to import",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_malformed_workbook_is_one_line_and_exit_2(
    world: World, cli: Any, tmp_path: Path, case: str
) -> None:
    make, said = CASES[case]
    good = write_xlsx(tmp_path / "good", list(ACTION_COLUMNS), [GOOD]).read_bytes()
    path = tmp_path / "plan.xlsx"
    path.write_bytes(make(good))
    sig_key = world.config.home / "sig-test.key"
    world.keys["sig"].write(sig_key)
    size = world.ledger.tree_size()
    code, out, err = cli("--as", "sig", "--key", str(sig_key), "import", str(path))
    assert (code, out) == (2, ""), err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"inquiry-ledger: {path}: {said}"), err
    assert err.rstrip().endswith("; nothing was imported"), err
    assert world.ledger.tree_size() == size


def test_a_workbook_that_would_unpack_to_too_much_is_refused_unread(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small zip can unpack to gigabytes: the declared sizes are checked first."""
    path = write_xlsx(tmp_path / "plan", list(ACTION_COLUMNS), [GOOD])
    monkeypatch.setattr(spreadsheet, "MAX_UNPACKED", path.stat().st_size // 2)
    with pytest.raises(spreadsheet.TableError, match="it unpacks to over"):
        spreadsheet.read_xlsx(path)
