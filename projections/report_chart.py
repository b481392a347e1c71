"""The report's chart: actions by status at monthly points, as stacked bars, in SVG.

SVG keeps the HTML report one self-contained file (inline, no image files) and prints
sharply in the PDF. The text in the chart is kept as text (not paths), so it can be
searched and read by assistive technology; only status names and dates appear in it,
never user text. The palette keeps adjacent bands distinguishable and every colour has
at least 3:1 contrast with the white background (WCAG 1.4.11, graphical objects).
"""

from __future__ import annotations

import html
import io
import re

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from projections.report import ChartPoint
from projections.status import STATUS_ORDER

#: Status -> colour; every one at least 3:1 against white.
COLOURS = {
    "not_started": "#767676",
    "in_progress": "#0b5cad",
    "blocked": "#b3261e",
    "evidence_submitted": "#8a5a00",
    "agency_signed_off": "#6a3d9a",
    "accepted": "#c2410c",
    "verified": "#1b7a3a",
    "not_implementable": "#2b2b2b",
    "superseded": "#9c4f96",
}
#: Hatching on some bands, so that no two neighbours differ by colour alone.
HATCHES = {
    "blocked": "xx",
    "agency_signed_off": "//",
    "not_implementable": "..",
    "superseded": "\\\\",
}

LABELS = {s: s.replace("_", " ") for s in STATUS_ORDER}


def status_chart_svg(points: list[ChartPoint], *, title: str, alt: str = "") -> str:
    """An inline <svg> element (no XML prolog) for embedding in HTML. `alt` (the chart's
    description in words) becomes its <title>: the tagged PDF's text alternative for the
    figure (the page names it by aria-labelledby, which a PDF does not read)."""
    statuses = [s for s in STATUS_ORDER if any(p.counts.get(s) for p in points)]
    figure = Figure(figsize=(9.0, 4.2), dpi=100)
    axes = figure.add_subplot()
    positions = list(range(len(points)))
    bottoms = [0] * len(points)
    for status in statuses:
        heights = [p.counts.get(status, 0) for p in points]
        axes.bar(
            positions,
            heights,
            bottom=bottoms,
            color=COLOURS.get(status, "#555555"),
            label=LABELS.get(status, status),
            width=0.8,
            edgecolor="white",
            linewidth=0.4,
            hatch=HATCHES.get(status),
        )
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    step = max(1, len(points) // 12)
    axes.set_xticks(positions[::step], [p.moment[:7] for p in points][::step], rotation=45)
    axes.set_ylabel("actions")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(title, fontsize=11)
    axes.spines[["top", "right"]].set_visible(False)
    if statuses:
        handles, labels = axes.get_legend_handles_labels()
        axes.legend(  # top band first, as the bars read
            handles[::-1],
            labels[::-1],
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            frameon=False,
            fontsize=9,
        )
    figure.tight_layout()
    buffer = io.StringIO()
    # Text stays text; a fixed salt makes the element ids (and so the file) reproducible.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "inquiry-ledger"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    svg = svg[svg.find("<svg") :]
    # matplotlib's RDF block (licence and tool URIs) says nothing to a reader
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)
    return _strip_size(svg, alt or title)


def _strip_size(svg: str, alt: str) -> str:
    """Let the SVG scale to its container: drop the fixed width/height, keep viewBox; and
    give it its text alternative as the first child."""
    head_end = svg.find(">")
    head = re.sub(r'\s(width|height)="[^"]*"', "", svg[:head_end])
    named = head + ' role="img" aria-labelledby="chart-title chart-desc">'
    return named + f"<title>{html.escape(alt)}</title>" + svg[head_end + 1 :]
