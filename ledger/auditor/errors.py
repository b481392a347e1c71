"""The base of every format refusal: each format (canonical JSON, notes, entries...) has a
subclass, so the auditor can catch one type and the ledger a precise one."""

from __future__ import annotations


class FormatError(ValueError):
    """Bytes or text outside a format the ledger writes and the auditor reads."""
