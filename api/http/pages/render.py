"""Rendering pages: the Jinja2 environment (autoescaping), its filters, and the
security headers every page is sent with.

The Content-Security-Policy allows scripts only from ``/static`` and nothing inline, so
even markup that escaped escaping could not run script; pages are never cached, as
they show one user's view.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.http.security import SECURITY_HEADERS
from domain.wording import in_sentence, level_name, role_name, status_name
from projections.asof import basis_phrase
from projections.status import response_summary

HERE = Path(__file__).resolve().parent


templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _words(value: object) -> str:
    return str(value).removeprefix("action.").replace("_", " ").replace(".", " ")


def _show(value: object) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, list):
        return "; ".join(_show(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{_words(k)}: {_show(v)}" for k, v in value.items())
    return str(value)


def _size(value: int) -> str:
    if value < 1024:
        return f"{value} bytes"
    amount = float(value)
    unit = "bytes"
    for unit in ("KiB", "MiB", "GiB"):  # noqa: B007 - the unit the loop stops at is used
        amount /= 1024
        if amount < 1024:
            break
    return f"{amount:.1f} {unit}"


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _stamp(value: str) -> str:
    """An entry's timestamp, to the second, for reading (the exact one is in the title)."""
    return value[:19].replace("T", " ")


def _decision(value: Any) -> str:
    if value is None:
        return "—"
    reasons = f": {value.reasons}" if value.reasons else ""
    return f"{_words(value.value)} — {value.by}, {_when(value.at)}{reasons}"


templates.filters.update(
    words=_words,
    show=_show,
    size=_size,
    when=_when,
    stamp=_stamp,
    decision=_decision,
    response=response_summary,
    # the ledger's words (domain/wording.py), given the page's `words`
    status_name=status_name,
    level_name=level_name,
    role_name=role_name,
    in_sentence=in_sentence,
    short=lambda h: h[:12],
    basis_phrase=basis_phrase,
)


def html_page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = templates.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
