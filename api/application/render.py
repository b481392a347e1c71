"""Plain-text tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence

from projections.status import STATUS_ORDER, PlanStatus, response_summary


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
    out = [
        f"{status.title or 'Action plan'} — as of {status.as_of} ({status.log_size} log entries)",
        "",
        f"Agencies report {s['agency_claims_complete']} of {s['actions']} actions complete; "
        f"the implementation group has accepted {s['accepted_or_beyond']}; "
        f"the independent chair has verified {s['chair_verified']}, found "
        f"{s['chair_not_implementable']} not implementable locally and "
        f"{s['chair_superseded']} superseded. Overdue: {s['overdue']}.",
        "",
        "Recommendations",
        table(
            ["No.", "Title", "Lead", "Status", "Actions", "Response"],
            [
                (
                    r.number,
                    _short(r.title, 58),
                    ", ".join(r.lead_agencies),
                    r.status,
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


def render_actions(status: PlanStatus) -> str:
    return table(
        [
            "Action",
            "Lead",
            "Status",
            "Agency claim",
            "Chair verdict",
            "RAG (agency/review)",
            "Due",
            "Evidence",
            "Response",
        ],
        [
            (
                a.action_id,
                a.lead_agency,
                a.status,
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
