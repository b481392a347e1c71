"""A session's minutes as a document a clerk would circulate: HTML, and PDF.

HTML comes from a Jinja2 template with the progress report's settings (autoescaping on:
every member shown is user text); the PDF is that HTML laid out by the report's own
WeasyPrint call (projections/report_render.py's `html_to_pdf`, which fetches nothing),
so the two never say different things.

The chair signs `minutes_sha256`: the SHA-256 of the HTML without the approval line
(which cannot be in what it approves). Apart from rendering, the application layer
(which imports no template engine) is handed that function by its caller.
"""

from __future__ import annotations

import hashlib

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from projections.minutes import Minutes
from projections.report_render import HTML_MEDIA_TYPE, PDF_MEDIA_TYPE, html_to_pdf

_ENV = Environment(
    loader=PackageLoader("projections", "templates"),
    autoescape=select_autoescape(["html", "j2"], default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def minutes_sha256(minutes: Minutes) -> str:
    """What the chair signs: the SHA-256 of the minutes rendered without approval."""
    return hashlib.sha256(render_html(minutes, approved=False).encode()).hexdigest()


def approval_matches(minutes: Minutes) -> bool | None:
    """Whether the approval is of these minutes as rebuilt now (None: not approved)."""
    if minutes.approval is None:
        return None
    same_entries = list(minutes.approval.entries) == minutes.entries
    return same_entries and minutes.approval.minutes_sha256 == minutes_sha256(minutes)


def render_html(minutes: Minutes, *, approved: bool = True) -> str:
    """The minutes as a self-contained HTML document; with `approved`, the line saying
    who approved them (and, if the approval is not of these minutes, saying so)."""
    approval = minutes.approval if approved else None
    context = {
        "m": minutes,
        "approval": approval,
        "matches": approval is None or approval_matches(minutes),
        "sha256": minutes_sha256(minutes) if approval is not None else "",
    }
    return _ENV.get_template("minutes.html.j2").render(context)


def render(minutes: Minutes, fmt: str) -> tuple[bytes, str]:
    """(content, media type) of the minutes as html or pdf; ValueError otherwise."""
    if fmt == "html":
        return render_html(minutes).encode(), HTML_MEDIA_TYPE
    if fmt == "pdf":
        return html_to_pdf(render_html(minutes)), PDF_MEDIA_TYPE
    raise ValueError(f"unknown minutes format {fmt!r}: use html or pdf")
