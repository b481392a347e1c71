"""The media type of evidence, from its first bytes, never from what the client says.

Binary formats are recognised by `filetype` (a maintained, pure-Python signature
table: PDF, images, office documents, archives…); otherwise text that decodes as UTF-8
without NULs is text/plain (or text/csv when it looks like a table), and anything else
is application/octet-stream.
"""

from __future__ import annotations

import filetype

SNIFF_BYTES = 8192


def sniff_media_type(head: bytes) -> str:
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    if head.startswith(b"{\\rtf"):
        return "application/rtf"
    sample = head[: SNIFF_BYTES - 4]  # allow a multi-byte character cut at the end
    if b"\x00" in sample:
        return "application/octet-stream"
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = sample[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return "application/octet-stream"
    lines = [line for line in text.splitlines()[:5] if line]
    if len(lines) >= 2 and all(line.count(",") == lines[0].count(",") > 0 for line in lines):
        return "text/csv"
    return "text/plain"
