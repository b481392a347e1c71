"""Plain-text tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence

from domain.wording import in_sentence
from projections.asof import basis_phrase
from projections.status import STATUS_ORDER, PlanStatus, RecommendationRow, response_summary


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_status(status: PlanStatus, *, missing: Sequence[int] = ()) -> str:
    s = status.claims_and_verdicts()
    w = status.wording
    out = [
        f"{status.title or 'Action plan'} — as of {status.as_of} ({status.log_size} log entries)",
        f"Shows {basis_phrase(status.basis, status.as_of)}{_backfilled_note(status)}.",
        "",
        f"Agencies report {s['agency_claims_complete']} of {s['actions']} actions complete; "
        f"the {in_sentence(w['body_implementation_group'])} has accepted "
        f"{s['accepted_or_beyond']}; "
        f"the {in_sentence(w['body_chair'])} has verified {s['chair_verified']}, found "
        f"{s['chair_not_implementable']} {in_sentence(w['not_implementable'])} and "
        f"{s['chair_superseded']} superseded. Overdue: {s['overdue']}.",
        _recommendations_line(status),
        "",
        "Recommendations",
        table(
            ["No.", "Title", "Lead", "Status", "Actions", "Response"],
            [
                (
                    _number(r),
                    _short(r.title or "(its text is not yet known)", 58),
                    ", ".join(status.agencies.get(a, a) for a in r.lead_agencies),
                    f"merged into {r.merged_into}" if r.merged_into else r.status,
                    r.actions,
                    response_summary(r) or "-",
                )
                for r in status.recommendations
            ],
        ),
    ]
    if missing:
        out += ["", "Not yet imported (not in our record): " + ", ".join(str(n) for n in missing)]
    columns = [s for s in STATUS_ORDER if any(s in counts for counts in status.by_agency.values())]
    out += [
        "",
        "Actions by lead agency",
        table(
            ["Agency", *columns, "total"],
            [
                (
                    status.agencies.get(agency, agency),
                    *[counts.get(c, 0) for c in columns],
                    sum(counts.values()),
                )
                for agency, counts in status.by_agency.items()
            ],
        ),
    ]
    return "\n".join(out)


def _recommendations_line(status: PlanStatus) -> str:
    """The recommendations in the plan and outstanding (domain/figures.py), and those
    withdrawn or merged, which are never outstanding."""
    r = status.recommendation_figures()
    line = f"Recommendations: {r['recommendations']} in the plan, {r['outstanding']} outstanding"
    if r["withdrawn"] or r["merged"]:
        line += f"; {r['withdrawn']} withdrawn, {r['merged']} merged into others"
    return line + "."


def _number(row: RecommendationRow) -> str:
    """12, "12 (was 10)" for a renumbered recommendation, or the inquiry's reference
    ("113.6") where it has one (domain/references.py)."""
    if not row.former_numbers:
        return row.reference
    return f"{row.reference} (was {', '.join(str(n) for n in row.former_numbers)})"


def _backfilled_note(status: PlanStatus) -> str:
    """How many statuses come from backfilled facts (domain/backfill.py), if any."""
    count = sum(1 for a in status.actions if a.backfilled_on)
    return f"; {count} action statuses are backfilled from the sources they cite" if count else ""


def render_actions(status: PlanStatus) -> str:
    return table(
        [
            "Action",
            "Lead",
            "Status",
            "Agency claim",
            f"{status.wording['body_chair']} verdict",
            "RAG (agency/review)",
            "Due",
            "Evidence",
            "Response",
        ],
        [
            (
                a.action_id,
                a.lead_agency,
                a.status + (f" (backfilled, {a.backfilled_on})" if a.backfilled_on else ""),
                a.agency_claim or "-",
                a.verdict or "-",
                f"{a.agency_rag or '-'}/{a.review_rag or '-'}",
                (a.due_date or "-") + (" OVERDUE" if a.overdue else ""),
                a.evidence,
                response_summary(a) or "-",
            )
            for a in status.actions
        ],
    )
