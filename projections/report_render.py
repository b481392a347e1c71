"""The progress report as one self-contained HTML file, and as PDF.

HTML comes from a Jinja2 template with autoescaping on: titles, names and reasons are
user text and must never become markup. The only markup inserted unescaped is the
chart's SVG, which this project draws from status names and dates alone. The PDF is the
same HTML laid out by WeasyPrint (imported only when a PDF is asked for: it is slow to
load and needs pango), so the two can never say different things.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from domain.wording import in_sentence, role_name, status_name
from projections.report import ProgressReport
from projections.report_chart import status_chart_svg
from projections.status import STATUS_ORDER

HTML_MEDIA_TYPE = "text/html; charset=utf-8"
PDF_MEDIA_TYPE = "application/pdf"
FORMATS = ("html", "pdf")


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("projections", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["label"] = lambda value: str(value).replace("_", " ")
    env.filters["day"] = lambda value: str(value)[:10]
    env.filters["moment"] = _moment
    env.filters["rag"] = _rag
    env.filters["in_sentence"] = in_sentence
    return env


def _moment(value: str) -> str:
    """2024-07-13T23:59:59.999999+00:00 -> 2024-07-13 23:59 (UTC is said in headings)."""
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return value


def _rag(value: str | None) -> Markup:
    if value not in ("red", "amber", "green"):
        return Markup("—")
    return Markup('<span class="rag rag-{0}">{0}</span>').format(escape(value))


_ENV = _environment()


def chart_description(report: ProgressReport) -> str:
    """The chart in words, for readers who cannot see it (its alternative text)."""
    if not report.chart:
        return "No actions were recorded."
    first, last = report.chart[0], report.chart[-1]

    def phrase(counts: dict[str, int]) -> str:
        words = report.status.wording
        parts = [f"{n} {status_name(s, words)}" for s, n in counts.items() if n]
        return ", ".join(parts) if parts else "no actions"

    return (
        f"Stacked bars, one per month from {first.moment[:7]} to {last.moment[:7]}. "
        f"At the start: {phrase(first.counts)}. At {last.moment}: {phrase(last.counts)}."
    )


def render_html(report: ProgressReport) -> str:
    by_agency = report.status.by_agency.values()
    agency_columns = [s for s in STATUS_ORDER if any(s in counts for counts in by_agency)]
    chart_columns = [s for s in STATUS_ORDER if any(p.counts.get(s) for p in report.chart)]
    svg = status_chart_svg(
        report.chart, title="Actions by status, month by month", alt=chart_description(report)
    )
    context: dict[str, Any] = {
        "r": report,
        "agency_columns": agency_columns,
        "chart_columns": chart_columns,
        "chart_svg": Markup(svg),  # drawn here from status names and dates only
        "chart_description": chart_description(report),
        # the ledger's words as they stood at the report's cut (domain/wording.py)
        "w": report.status.wording,
        "status_name": lambda status: status_name(status, report.status.wording),
        "role_name": lambda role: in_sentence(role_name(role, report.status.wording)),
    }
    return _ENV.get_template("report.html.j2").render(context)


#: WeasyPrint's variant for accessible PDF: tagged, with the PDF/UA-1 identification.
PDF_VARIANT = "pdf/ua-1"


def render_pdf(report: ProgressReport) -> bytes:
    return html_to_pdf(render_html(report))


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML, URLFetcher  # heavy; only when a PDF is wanted

    # The report is self-contained: fetch nothing, whatever a URL in it may say.
    fetch_nothing = URLFetcher(allowed_protocols=(), allow_redirects=False)
    # Tagged, as PDF/UA-1 asks (issue 15: a report a Full Council reads, with a screen
    # reader too): a structure tree of headings, paragraphs, lists and table cells in
    # reading order, the document's language and title, marked content.
    pdf: bytes = HTML(string=html, url_fetcher=fetch_nothing).write_pdf(pdf_variant=PDF_VARIANT)
    return pdf


def render(report: ProgressReport, fmt: str) -> tuple[bytes, str]:
    """(content, media type) for a format name; ValueError for an unknown one."""
    if fmt == "html":
        return render_html(report).encode(), HTML_MEDIA_TYPE
    if fmt == "pdf":
        return render_pdf(report), PDF_MEDIA_TYPE
    raise ValueError(f"unknown report format {fmt!r}: use html or pdf")
