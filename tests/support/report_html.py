"""Read the progress report's HTML back: the text of every element with an id, and
every table (by id) as rows of cell texts, with the standard library's parser."""

from __future__ import annotations

import re
from html.parser import HTMLParser

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "source", "wbr"}


class ReportPage(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text: dict[str, str] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.captions: dict[str, str] = {}
        self.row_attrs: dict[str, list[dict[str, str]]] = {}
        self._open: list[tuple[str, str | None]] = []  # (tag, id)
        self._buffers: dict[str, list[str]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._caption: list[str] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict((k, v or "") for k, v in attrs)
        ident = found.get("id")
        if tag not in VOID:
            self._open.append((tag, ident))
        if ident:
            self._buffers[ident] = []
        if tag == "table" and ident:
            self._table = ident
            self.tables[ident] = []
            self.row_attrs[ident] = []
        elif tag == "tr" and self._table:
            self._row = []
            self.row_attrs[self._table].append(found)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "caption" and self._table:
            self._caption = []

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        while self._open:
            open_tag, ident = self._open.pop()
            if ident is not None and ident in self._buffers:
                self.text[ident] = _squash("".join(self._buffers.pop(ident)))
            if open_tag == tag:
                break
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(_squash("".join(self._cell)))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "caption" and self._caption is not None and self._table:
            self.captions[self._table] = _squash("".join(self._caption))
            self._caption = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        for buffer in self._buffers.values():
            buffer.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._caption is not None:
            self._caption.append(data)

    def body_rows(self, table: str, header: int = 1) -> list[list[str]]:
        """The rows after the `header` heading rows."""
        return self.tables[table][header:]

    def as_dict(self, table: str, header: int = 1) -> dict[str, str]:
        """A two-column table as {first cell: second cell}."""
        return {row[0]: row[1] for row in self.body_rows(table, header)}


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
