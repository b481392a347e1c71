"""The council progress report: every figure in it, gathered from one signed log prefix.

A report that goes to Full Council or scrutiny must be checkable. So everything here
is computed from exactly the entries a signed checkpoint covers (the first
``checkpoint.size`` leaves), cut at the as-of moment: a reader who holds that
checkpoint can re-derive every number, and every decision listed carries its leaf index
so an inclusion proof ties it to the checkpoint's root. This module gathers data only
(no rendering, no I/O beyond the entries it is handed); ``report_render`` turns it into
HTML and PDF.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from typing import Any

from domain import Action, Directory, Plan
from domain.action import REMOVED_FROM_PLAN
from ledger.entry import SignedEntry, to_domain_event
from ledger.note import Checkpoint, VerifierKey
from ledger.witness import note_body
from projections.status import STATUS_ORDER, PlanStatus, Replay, status_from

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
    entries: Callable[[], Iterable[tuple[int, bytes]]],
    checkpoint: CheckpointInfo,
    *,
    as_of: datetime,
    since: datetime | None = None,
) -> ProgressReport:
    """Gather the report from the first `checkpoint.size` entries, cut at `as_of`.

    `entries` is called twice (the status replay and the timeline), each time reading
    from the start of the log."""
    since_is_default = since is None
    start = months_before(as_of, DEFAULT_SINCE_MONTHS) if since is None else since
    if start >= as_of:
        raise ReportError("'since' must be before the as-of date")
    replay = Replay().feed(entries(), until_position=checkpoint.size, until_time=as_of)
    status = status_from(replay, as_of=as_of.isoformat(), today=as_of.date())
    plans = replay.of_type(Plan)
    plan: Plan | None = plans[0] if plans else None
    expected = plan.recommendations_expected if plan else 0
    directories = replay.of_type(Directory)
    directory: Directory | None = directories[0] if directories else None

    timeline = _Timeline(entries(), checkpoint.size, as_of)
    first = timeline.first_day or as_of.date()
    chart = timeline.counts_at(monthly_points(first, as_of))
    decisions = timeline.decisions(start, as_of, directory)

    live = [a for a in status.actions if a.status not in {s.value for s in REMOVED_FROM_PLAN}]
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
    numbers = sorted(set(by_number) | set(range(1, expected + 1)))
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
            )
        )
    return lines


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


class _Timeline:
    """The covered entries decoded once, for the chart and the list of decisions.

    Each aggregate's timestamps never decrease along the log, so applying the events in
    timestamp order (stable, so ties keep log order) gives, at every moment, exactly the
    state that a replay cut at that moment gives: aggregates do not share events."""

    def __init__(self, entries: Iterable[tuple[int, bytes]], size: int, as_of: datetime) -> None:
        self.events: list[tuple[int, SignedEntry, Any]] = []
        for position, data in entries:
            if position >= size:
                break
            entry = SignedEntry.from_entry_bytes(data)
            if entry.body.timestamp > as_of:
                continue
            self.events.append((position, entry, to_domain_event(entry)))
        self.events.sort(key=lambda item: item[2].timestamp)

    @property
    def first_day(self) -> date | None:
        return self.events[0][2].timestamp.date() if self.events else None

    def counts_at(self, points: list[datetime]) -> list[ChartPoint]:
        replay = Replay()
        out: list[ChartPoint] = []
        index = 0
        for point in points:
            while index < len(self.events) and self.events[index][2].timestamp <= point:
                replay.apply(self.events[index][2])
                index += 1
            counts = Counter(
                a.status.value for a in replay.of_type(Action) if a.status not in REMOVED_FROM_PLAN
            )
            out.append(ChartPoint(point.date().isoformat(), _ordered(counts)))
        return out

    def decisions(
        self, start: datetime, end: datetime, directory: Directory | None
    ) -> list[DecisionRow]:
        names = {
            event.originator_id: event.action_id
            for _, _, event in self.events
            if isinstance(event, Action.Added)
        }
        rows = []
        for position, entry, _ in sorted(self.events, key=lambda item: item[0]):
            body = entry.body
            if body.type not in DECISION_TYPES or not start < body.timestamp <= end:
                continue
            user = directory.users.get(body.actor) if directory else None
            rows.append(
                DecisionRow(
                    leaf_index=position,
                    timestamp=body.timestamp.isoformat(),
                    actor=body.actor,
                    actor_name=user.name if user else body.actor,
                    actor_role=user.role.value if user else "",
                    action_id=names.get(body.aggregate_id, str(body.aggregate_id)),
                    type=body.type,
                    what=_what(body.type, body.payload),
                    reasons=_reasons(body.payload),
                )
            )
        return rows


def _what(type_: str, payload: dict[str, Any]) -> str:
    """A short, plain description of the decision."""
    return _describe(type_, payload).replace("_", " ")


def _describe(type_: str, payload: dict[str, Any]) -> str:
    if type_ == Action.StatusChanged.TYPE:
        return f"{payload.get('from_status')} → {payload.get('to_status')}"
    if type_ == Action.SignedOff.TYPE:
        return f"signed off ({payload.get('level')} level)"
    if type_ == Action.SignOffRevoked.TYPE:
        return f"revoked {payload.get('level')} sign-off"
    if type_ == Action.Returned.TYPE:
        return f"returned ({payload.get('level')} level)"
    if type_ == Action.RagRated.TYPE:
        return f"rated {payload.get('rating')} ({payload.get('scope', '')})".replace(" ()", "")
    if type_ == Action.Amended.TYPE:
        changes = payload.get("changes")
        fields = ", ".join(sorted(changes)) if isinstance(changes, dict) else ""
        return f"amended {fields}".strip()
    if type_ == Action.Merged.TYPE:
        return f"merged into {payload.get('into', '')}".strip()
    return type_.rsplit(".", 1)[-1].replace("_", " ")


def _reasons(payload: dict[str, Any]) -> str:
    parts: list[str] = []
    for name in ("reason", "statement"):
        value = payload.get(name)
        if isinstance(value, str) and value:
            parts.append(value)
    reasons = payload.get("reasons")
    if isinstance(reasons, list):
        parts.extend(str(r) for r in reasons if r)
    return "; ".join(parts)
