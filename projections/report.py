"""The progress report: every figure in it, gathered from one signed log prefix.

A report that goes to a council, a board or a scrutiny committee must be checkable. So
everything here is computed from exactly the entries a signed checkpoint covers (the first
``checkpoint.size`` leaves), cut at the as-of moment: a reader who holds that
checkpoint can re-derive every number, and every decision listed carries its leaf index
so an inclusion proof ties it to the checkpoint's root. This module gathers data only
(no rendering, no I/O beyond the entries it is handed); ``report_render`` turns it into
HTML and PDF.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from itertools import takewhile
from typing import TYPE_CHECKING, Any

from domain import Action, Directory
from domain.lifecycle import REMOVED_FROM_PLAN
from domain.wording import level_name, resolved, status_name
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.cosignature import note_body
from ledger.auditor.entry import SignedEntry
from ledger.auditor.note import VerifierKey
from projections.challenges import ChallengeView, challenges
from projections.diff import action_entries_between
from projections.report_arisings import ArisingLine, arising_lines
from projections.report_narrative import NarrativeLine, narrative_lines
from projections.report_views import ConsulteeView, consultee_views
from projections.status import STATUS_ORDER, PlanStatus, response_summary

if TYPE_CHECKING:
    from projections.port import LogReader

#: Entries that record a decision about an action (evidence and comments are not).
DECISION_TYPES = frozenset(
    {
        Action.StatusChanged.TYPE,
        Action.SignedOff.TYPE,
        Action.SignOffRevoked.TYPE,
        Action.Returned.TYPE,
        Action.RagRated.TYPE,
        Action.Amended.TYPE,
        Action.Merged.TYPE,
        Action.Withdrawn.TYPE,
        Action.ResponseRecorded.TYPE,
    }
)

RAG_ORDER = ("red", "amber", "green")
DEFAULT_SINCE_MONTHS = 6


class ReportError(ValueError):
    """The report cannot be built as asked (no checkpoint, since after as-of, ...)."""


@dataclass(frozen=True)
class CheckpointInfo:
    """The signed checkpoint the report was built from, as a reader needs it."""

    origin: str
    size: int
    root_hash: str  # base64, as in the note
    note: str
    log_size: int  # entries in the log when the report was built

    @property
    def uncovered(self) -> int:
        """Entries appended after the checkpoint: not in this report."""
        return max(0, self.log_size - self.size)


@dataclass(frozen=True)
class DecisionRow:
    leaf_index: int
    timestamp: str
    actor: str
    actor_name: str
    actor_role: str
    action_id: str
    type: str
    what: str
    reasons: str


@dataclass(frozen=True)
class RagRow:
    """Counts of red/amber/green ratings (and unrated) over a set of live actions."""

    label: str
    actions: int
    agency: dict[str, int]
    review: dict[str, int]


@dataclass(frozen=True)
class RecommendationLine:
    number: int
    title: str | None  # None: not yet imported (never invented)
    lead_agencies: list[str]
    status: str
    actions: int
    agency_rag: str | None
    review_rag: str | None
    #: Its formal response in a phrase (`projections.status.response_summary`).
    response: str | None = None
    #: How the inquiry writes it (domain/references.py): its number when it has none.
    reference: str = ""
    group: str = ""

    @property
    def label(self) -> str:
        return self.reference or str(self.number)


@dataclass(frozen=True)
class ResponseLine:
    """A formal response that stands: a recommendation's, or an action's own."""

    subject: str  # "Recommendation 10" or "R10.2"
    label: str
    responded_on: str
    responder: str
    reasons: str
    source: str


@dataclass(frozen=True)
class ChartPoint:
    moment: str  # ISO date of the point (end of that day, UTC)
    counts: dict[str, int]


@dataclass
class ProgressReport:
    title: str
    as_of: str
    since: str
    since_is_default: bool
    checkpoint: CheckpointInfo
    status: PlanStatus
    recommendations_expected: int
    recommendations: list[RecommendationLine]
    actions_by_status: dict[str, int]
    recommendations_by_status: dict[str, int]
    claims: dict[str, int]
    claims_by_agency: dict[str, dict[str, int]]
    rag_by_agency: list[RagRow]
    chart: list[ChartPoint]
    decisions: list[DecisionRow]
    overdue: list[Any] = field(default_factory=list)
    responses: list[ResponseLine] = field(default_factory=list)
    #: Every challenge raised by the as-of moment, as it then stood (projections/
    #: challenges.py): unresolved first, oldest first, each with its answers.
    challenges: list[ChallengeView] = field(default_factory=list)
    #: Every action arising recorded by the as-of moment, as it then stood
    #: (projections/report_arisings.py): open and overdue first.
    arisings: list[ArisingLine] = field(default_factory=list)
    #: The narrative updates signed in (since, as_of], by action
    #: (projections/report_narrative.py).
    narratives: list[NarrativeLine] = field(default_factory=list)
    #: The lived-experience consultees' comments in (since, as_of] (report_views.py).
    views: list[ConsulteeView] = field(default_factory=list)

    @property
    def missing(self) -> list[int]:
        return [r.number for r in self.recommendations if r.title is None]

    @property
    def agency_names(self) -> dict[str, str]:
        return self.status.agencies


def months_before(moment: datetime, months: int) -> datetime:
    """The same day-of-month `months` earlier (clamped to the month's last day)."""
    index = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    day = moment.day
    while True:
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            day -= 1


def monthly_points(start: date, end: datetime) -> list[datetime]:
    """End of each month from the month of `start` up to `end`, and `end` itself."""
    points: list[datetime] = []
    year, month = start.year, start.month
    while True:
        next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
        last_day = date(next_year, next_month, 1).toordinal() - 1
        moment = datetime.combine(date.fromordinal(last_day), time.max, tzinfo=UTC)
        if moment >= end:
            break
        points.append(moment)
        year, month = next_year, next_month
    points.append(end)
    return points


def checkpoint_info(
    note: str, log_size: int, verifier: VerifierKey | None = None
) -> CheckpointInfo:
    """The checkpoint's fields; with `verifier`, only if the log key's signature holds
    (NoteError otherwise), so a report never cites a checkpoint that does not verify."""
    checkpoint = (
        Checkpoint.parse_body(note_body(note))
        if verifier is None
        else Checkpoint.verify(note, verifier)
    )
    return CheckpointInfo(
        origin=checkpoint.origin,
        size=checkpoint.size,
        root_hash=base64.b64encode(checkpoint.root_hash).decode(),
        note=note,
        log_size=log_size,
    )


def build_report(
    ledger: LogReader,
    checkpoint: CheckpointInfo,
    *,
    as_of: datetime,
    since: datetime | None = None,
) -> ProgressReport:
    """Gather the report from the first `checkpoint.size` entries, cut at `as_of`.

    Every figure comes from the as-of projection cut at both (the code path of `status
    --as-of`): the status, one lookup per monthly chart point, and the decisions found by
    time on its index, so the cost follows the plan and the window, not the log's length."""
    from projections.asof import status_as_of

    since_is_default = since is None
    start = months_before(as_of, DEFAULT_SINCE_MONTHS) if since is None else since
    if start >= as_of:
        raise ReportError("'since' must be before the as-of date")
    status = status_as_of(ledger, as_of=as_of, position=checkpoint.size)
    plan = ledger.plan()
    expected = plan.recommendations_expected if plan else 0
    first = next((_first_day(data) for _, data in ledger.entries(0, 1)), as_of.date())
    chart = [
        _chart_point(
            point, status_as_of(ledger, as_of=point, position=checkpoint.size, today=point.date())
        )
        for point in monthly_points(min(first, as_of.date()), as_of)
    ]
    decisions = _decision_rows(
        ledger, start, as_of, checkpoint.size, ledger.directory(), status.wording
    )

    out = status.out_of_plan()  # withdrawn and merged recommendations take their actions
    live = [
        a
        for a in status.actions
        if a.status not in {s.value for s in REMOVED_FROM_PLAN} and a.recommendation not in out
    ]
    return ProgressReport(
        title=status.title or "Action plan",
        as_of=as_of.isoformat(),
        since=start.isoformat(),
        since_is_default=since_is_default,
        checkpoint=checkpoint,
        status=status,
        recommendations_expected=expected,
        recommendations=_recommendation_lines(status, live, expected),
        actions_by_status=_ordered(Counter(a.status for a in live)),
        recommendations_by_status=_ordered(Counter(r.status for r in status.recommendations)),
        claims=status.claims_and_verdicts(),
        claims_by_agency=_claims_by_agency(status),
        rag_by_agency=_rag_by_agency(status, live),
        chart=chart,
        decisions=decisions,
        overdue=[a for a in live if a.overdue],
        responses=_response_lines(status, live),
        challenges=challenges(
            takewhile(lambda entry: entry[0] < checkpoint.size, ledger.entries(0)),
            as_of=as_of.date(),
            until=as_of,
        ),
        arisings=arising_lines(
            takewhile(lambda entry: entry[0] < checkpoint.size, ledger.entries(0)),
            until=as_of,
            today=as_of.date(),
        ),
        narratives=narrative_lines(ledger, start, as_of, checkpoint.size, ledger.directory()),
        views=consultee_views(ledger, start, as_of, checkpoint.size, ledger.directory()),
    )


def _ordered(counts: Counter[str]) -> dict[str, int]:
    known = {s: counts[s] for s in STATUS_ORDER if counts.get(s)}
    others = {s: n for s, n in sorted(counts.items()) if s not in known and n}
    return {**known, **others}


def _worst(ratings: Iterable[str | None]) -> str | None:
    rated = [r for r in ratings if r in RAG_ORDER]
    return min(rated, key=RAG_ORDER.index) if rated else None


def _recommendation_lines(
    status: PlanStatus, live: list[Any], expected: int
) -> list[RecommendationLine]:
    by_number = {r.number: r for r in status.recommendations}
    former = {n for r in status.recommendations for n in r.former_numbers}  # renumbered
    numbers = sorted(set(by_number) | (set(range(1, expected + 1)) - former))
    lines = []
    for number in numbers:
        rec = by_number.get(number)
        if rec is None:
            lines.append(RecommendationLine(number, None, [], "not_yet_imported", 0, None, None))
            continue
        own = [a for a in live if a.recommendation == number]
        lines.append(
            RecommendationLine(
                number,
                rec.title,
                [status.agencies.get(a, a) for a in rec.lead_agencies],
                rec.status,
                rec.actions,
                _worst(a.agency_rag for a in own),
                _worst(a.review_rag for a in own),
                response_summary(rec),
                rec.reference,
                rec.group,
            )
        )
    return lines


def _response_lines(status: PlanStatus, live: list[Any]) -> list[ResponseLine]:
    """Every formal response that stands: each recommendation's, then each live action's
    own (where its agency responded for itself), in plan order."""
    rows: list[tuple[str, Any]] = [
        (f"Recommendation {r.reference}", r) for r in status.recommendations
    ]
    rows += [(a.action_id, a) for a in live]
    return [
        ResponseLine(
            subject,
            row.response_label,
            row.responded_on,
            row.responder,
            row.response_reasons or "",
            row.response_source or "",
        )
        for subject, row in rows
        if row.response is not None
    ]


def _claims_by_agency(status: PlanStatus) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for agency in sorted({a.lead_agency for a in status.actions}):
        own = replace(status, actions=[a for a in status.actions if a.lead_agency == agency])
        out[agency] = own.claims_and_verdicts()
    return out


def _rag_by_agency(status: PlanStatus, live: list[Any]) -> list[RagRow]:
    rows = []
    for agency in sorted({a.lead_agency for a in live}):
        own = [a for a in live if a.lead_agency == agency]
        rows.append(
            RagRow(
                status.agencies.get(agency, agency),
                len(own),
                _rag_counts(a.agency_rag for a in own),
                _rag_counts(a.review_rag for a in own),
            )
        )
    return rows


def _rag_counts(ratings: Iterable[str | None]) -> dict[str, int]:
    counts = Counter(r if r in RAG_ORDER else "unrated" for r in ratings)
    return {name: counts.get(name, 0) for name in (*RAG_ORDER, "unrated")}


def _first_day(entry: bytes) -> date:
    """The day the log began: its first entry's signed timestamp."""
    return SignedEntry.from_entry_bytes(entry).body.timestamp.date()


def _chart_point(point: datetime, status: PlanStatus) -> ChartPoint:
    removed = {s.value for s in REMOVED_FROM_PLAN}
    counts = Counter(a.status for a in status.actions if a.status not in removed)
    return ChartPoint(point.date().isoformat(), _ordered(counts))


def _decision_rows(
    ledger: LogReader,
    start: datetime,
    end: datetime,
    size: int,
    directory: Directory | None,
    words: Mapping[str, str] | None = None,
) -> list[DecisionRow]:
    """Every decision signed in (start, end] among the first `size` entries, in log order,
    described in the ledger's `words` (domain/wording.py) as they stood at the cut."""
    words = resolved(words)
    rows = []
    for position, body, action_id in action_entries_between(ledger, start, end, bound=size):
        if body.type not in DECISION_TYPES:
            continue
        user = directory.users.get(body.actor) if directory else None
        rows.append(
            DecisionRow(
                leaf_index=position,
                timestamp=body.timestamp.isoformat(),
                actor=body.actor,
                actor_name=user.name if user else body.actor,
                actor_role=user.role_at(body.timestamp)[0].value if user else "",
                action_id=action_id,
                type=body.type,
                what=_what(body.type, body.payload, words),
                reasons=_reasons(body.payload),
            )
        )
    return rows


def _what(type_: str, payload: dict[str, Any], words: Mapping[str, str]) -> str:
    """A short, plain description of the decision, in the ledger's words."""
    return _describe(type_, payload, words)


def _describe(type_: str, payload: dict[str, Any], words: Mapping[str, str]) -> str:
    def status(member: str) -> str:
        return status_name(str(payload.get(member)), words)

    def level() -> str:
        return level_name(str(payload.get("level")), words)

    if type_ == Action.StatusChanged.TYPE:
        return f"{status('from_status')} → {status('to_status')}"
    if type_ == Action.SignedOff.TYPE:
        return f"signed off: {level()}"
    if type_ == Action.SignOffRevoked.TYPE:
        return f"revoked: {level()}"
    if type_ == Action.Returned.TYPE:
        return f"returned at {level()}"
    if type_ == Action.RagRated.TYPE:
        said = f"rated {payload.get('rating')} ({payload.get('scope', '')})"
        return _plain(said.replace(" ()", ""))
    if type_ == Action.Amended.TYPE:
        changes = payload.get("changes")
        fields = ", ".join(sorted(changes)) if isinstance(changes, dict) else ""
        return _plain(f"amended {fields}".strip())
    if type_ == Action.Merged.TYPE:
        return f"merged into {payload.get('into', '')}".strip()
    if type_ == Action.ResponseRecorded.TYPE:
        term = _plain(str(payload.get("response")))
        return f"formal response: {term} ({payload.get('responder')})"
    return type_.rsplit(".", 1)[-1].replace("_", " ")


def _plain(text: str) -> str:
    return text.replace("_", " ")


def _reasons(payload: dict[str, Any]) -> str:
    parts: list[str] = []
    for name in ("reason", "statement"):
        value = payload.get(name)
        if isinstance(value, str) and value:
            parts.append(value)
    reasons = payload.get("reasons")
    if isinstance(reasons, list):
        parts.extend(str(r) for r in reasons if r)
    elif isinstance(reasons, str) and reasons:  # a formal response's
        parts.append(reasons)
    return "; ".join(parts)
