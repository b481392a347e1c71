"""Challenges as the log tells them: each thread (question, answers, the challenger's
judgements) with its state, and the unresolved ones counted per agency with their age.

Built by replaying the log's `challenge.*` entries (domain/challenge.py) with the
domain's own `mutate`, cut at a moment when asked "as of": the CLI, the /v1/challenges
route, the pages and the progress report all read this one projection. A challenge's age
is the whole days from the UTC day it was raised to the day asked about.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast
from uuid import UUID

from domain.challenge import CHALLENGE_ID, CLOSED, STATES, UNRESOLVED, Challenge
from ledger.auditor.entry import SignedEntry
from ledger.entry import to_domain_event

PREFIX = "challenge."
#: In every challenge entry's canonical bytes (no spaces; a quote inside a string is
#: escaped, so free text never forms it): a necessary condition, checked before parsing.
MARK = b'"type":"challenge.'


@dataclass(frozen=True)
class AnswerView:
    text: str
    evidence: list[str]
    by: str
    at: str


@dataclass(frozen=True)
class StepView:
    kind: str  # closed | escalated
    value: str  # the outcome, or the body escalated to
    reason: str
    by: str
    at: str


@dataclass(frozen=True)
class ChallengeView:
    challenge_id: str
    subject: str
    recommendation: int
    agency: str
    text: str
    raised_by: str
    raised_at: str
    state: str
    outcome: str | None
    escalated_to: str | None
    #: Whole days since it was raised, as of the day asked about; None once closed.
    age_days: int | None
    answers: list[AnswerView] = field(default_factory=list)
    steps: list[StepView] = field(default_factory=list)
    #: The log position of the entry that raised it.
    leaf: int | None = None

    @property
    def unresolved(self) -> bool:
        return self.state in UNRESOLVED

    def to_json(self) -> dict[str, Any]:
        found = asdict(self)
        found["unresolved"] = self.unresolved
        return found


def end_of_day(day: date) -> datetime:
    """The last moment of a UTC day: "as of 2024-03-31" includes all of that day."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC) - timedelta(microseconds=1)


def replay(
    entries: Iterable[tuple[int, bytes]], *, until: datetime | None = None
) -> tuple[dict[UUID, Challenge], dict[UUID, int]]:
    """The challenges the entries (recorded at or before `until`) build, and the leaf of
    each one's raising."""
    found: dict[UUID, Challenge] = {}
    leaves: dict[UUID, int] = {}
    for position, data in entries:
        if MARK not in data:  # cheap: most entries are not a challenge's
            continue
        entry = SignedEntry.from_entry_bytes(data)
        if not entry.body.type.startswith(PREFIX):
            continue
        event = to_domain_event(entry)
        if until is not None and event.timestamp > until:
            continue
        aggregate = found.get(event.originator_id)
        if aggregate is None and not isinstance(event, Challenge.Raised):
            continue  # its raising was cut away
        found[event.originator_id] = cast(Challenge, event.mutate(aggregate))
        leaves.setdefault(event.originator_id, position)
    return found, leaves


def view(challenge: Challenge, *, as_of: date, leaf: int | None = None) -> ChallengeView:
    raised = challenge.raised_at
    assert raised is not None
    age = None if challenge.state == CLOSED else max(0, (as_of - raised.date()).days)
    return ChallengeView(
        challenge_id=challenge.challenge_id,
        subject=challenge.subject,
        recommendation=int(challenge.subject[1:].split(".")[0]),
        agency=challenge.agency,
        text=challenge.text,
        raised_by=challenge.raised_by,
        raised_at=raised.isoformat(),
        state=challenge.state,
        outcome=challenge.outcome,
        escalated_to=challenge.escalated_to,
        age_days=age,
        answers=[
            AnswerView(a.text, list(a.evidence), a.by, a.at.isoformat()) for a in challenge.answers
        ],
        steps=[
            StepView(s.kind, s.value, s.reason, s.by, s.at.isoformat()) for s in challenge.steps
        ],
        leaf=leaf,
    )


def challenges(
    entries: Iterable[tuple[int, bytes]],
    *,
    as_of: date,
    until: datetime | None = None,
    agency: str | None = None,
    state: str | None = None,
    unresolved_only: bool = False,
) -> list[ChallengeView]:
    """Every challenge raised by `until` (the end of `as_of` if None), as it then stood,
    filtered; unresolved first, oldest first, then closed ones in order of raising."""
    cut = end_of_day(as_of) if until is None else until
    found, leaves = replay(entries, until=cut)
    views = [view(c, as_of=as_of, leaf=leaves.get(key)) for key, c in found.items()]
    if agency is not None:
        views = [v for v in views if v.agency == agency]
    if state is not None:
        views = [v for v in views if v.state == state]
    if unresolved_only:
        views = [v for v in views if v.unresolved]
    return sorted(views, key=_order)


def _order(v: ChallengeView) -> tuple[int, str, int]:
    return (0 if v.unresolved else 1, v.raised_at, _number(v.challenge_id))


def _number(challenge_id: str) -> int:
    return int(challenge_id[1:]) if CHALLENGE_ID.fullmatch(challenge_id) else 0


def by_agency(views: Iterable[ChallengeView]) -> dict[str, dict[str, Any]]:
    """For each agency: how many of its challenges are unresolved, and the oldest's age."""
    counts: dict[str, dict[str, Any]] = {}
    for v in views:
        row = counts.setdefault(v.agency, {"unresolved": 0, "oldest_days": None, "total": 0})
        row["total"] += 1
        if v.unresolved:
            row["unresolved"] += 1
            oldest = row["oldest_days"]
            if v.age_days is not None and (oldest is None or v.age_days > oldest):
                row["oldest_days"] = v.age_days
    return dict(sorted(counts.items()))


def next_challenge_id(entries: Iterable[tuple[int, bytes]]) -> str:
    """The id after the highest raised so far: C1, C2, ... (a race for the same id is
    refused by the ledger as "already exists"; the second raiser simply retries)."""
    highest = 0
    for _, data in entries:
        if MARK not in data:
            continue
        entry = SignedEntry.from_entry_bytes(data)
        if entry.body.type == Challenge.Raised.TYPE:
            highest = max(highest, _number(str(entry.body.payload.get("challenge_id", ""))))
    return f"C{highest + 1}"


__all__ = [
    "STATES",
    "AnswerView",
    "ChallengeView",
    "StepView",
    "by_agency",
    "challenges",
    "end_of_day",
    "next_challenge_id",
]
