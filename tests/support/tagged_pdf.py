"""What makes a PDF tagged, read back with pypdf: the checks a screen reader's user
relies on (PDF/UA-1, ISO 14289-1) that can be read from the file itself, so that a PDF
the service sends is held to them, not assumed to meet them."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject


def structure_of(pdf: bytes, *, lang: str = "en-GB") -> Counter[str]:
    """Assert the PDF is tagged and identifies itself as PDF/UA-1, in `lang`, with its
    title shown as the window's title; return how many of each structure element it has
    (H1, P, Table, TH, TD, L, LI, Figure, …)."""
    reader = PdfReader(io.BytesIO(pdf))
    root: Any = reader.trailer["/Root"]
    assert bool(root["/MarkInfo"]["/Marked"]), "not marked as tagged"
    assert str(root["/Lang"]) == lang
    assert root["/ViewerPreferences"]["/DisplayDocTitle"]
    assert reader.metadata is not None and reader.metadata.title
    xmp = root["/Metadata"].get_object().get_data()
    assert b"pdfuaid:part" in xmp and b"1" in xmp
    counts: Counter[str] = Counter()
    _walk(root["/StructTreeRoot"].get_object(), counts, depth=0)
    assert counts, "the structure tree is empty"
    return counts


def _walk(node: Any, counts: Counter[str], depth: int) -> None:
    assert depth < 200, "the structure tree is too deep"
    if isinstance(node, IndirectObject):
        node = node.get_object()
    if isinstance(node, ArrayObject):
        for child in node:
            _walk(child, counts, depth + 1)
        return
    if not isinstance(node, DictionaryObject):
        return  # a marked-content id: a leaf
    kind = node.get("/S")
    if kind is not None:
        counts[str(kind).lstrip("/")] += 1
        if str(kind) == "/Figure":
            assert node.get("/Alt"), "a figure without alternative text"
    if "/K" in node:
        _walk(node["/K"], counts, depth + 1)
