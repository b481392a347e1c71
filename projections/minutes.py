"""A session's minutes, built from the signed log (domain/session.py), and the sessions.

The minutes are not a document anyone typed: they are the signed entries made in the
session's window (UTC) about the recommendations it covered (challenges and their
answers, comments, status decisions, sign-offs, returns, ratings, formal responses),
the actions arising recorded for it, and the closures, in its window, of actions
arising carried from earlier sessions of the same body. Each is listed by leaf index,
so that anyone can fetch the entry itself, with its inclusion proof.

Once the chair has approved them, the minutes are cut at the approval's leaf: what was
signed afterwards, even inside the window, is not in what the chair read. The hash the
chair signs is the SHA-256 of the minutes rendered as HTML without the approval line
(projections/minutes_render.py: `minutes_sha256`; `approval_matches` says whether an
approval is still of the minutes as rebuilt now).

Challenges are read from the log by type name (`challenge.*`), their subject ("R29" or
"R29.1") naming the recommendation; an answer, closure or escalation belongs to the
challenge its aggregate is. An action's entries belong to the recommendation it was
added under.

Cost: one pass over the whole log per build (sessions are few and minutes are built on
request).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.session import window
from ledger.auditor.entry import SignedEntry

#: The entries about a recommendation that minutes record, and how each is headed.
MINUTED = {
    "challenge.raised": "Challenge",
    "challenge.answered": "Answer",
    "challenge.closed": "Challenge closed",
    "challenge.escalated": "Challenge escalated",
    "action.comment_added": "Comment",
    "action.status_changed": "Status decision",
    "action.signed_off": "Signed off",
    "action.sign_off_revoked": "Sign-off revoked",
    "action.returned": "Returned",
    "action.rag_rated": "Rating",
    "action.response_recorded": "Response",
    "plan.response_recorded": "Formal response",
    "arising.recorded": "Action arising",
    "arising.closed": "Action arising closed",
}
SUBJECT = re.compile(r"R([0-9]+)(?:\.[0-9]+)?")


class UnknownSession(LookupError):
    """No session of that id in the log."""


@dataclass(frozen=True)
class MinuteEntry:
    leaf_index: int
    at: str  # the signed time, ISO 8601 UTC
    actor: str
    role: str
    type: str
    heading: str
    subject: str  # an action (R29.1), a recommendation (R29), a challenge or an arising
    said: str


@dataclass
class ArisingRow:
    arising_id: str
    session_id: str
    recommendation: int
    owner: str  # "agency police" or "user x"
    owner_agency: str | None
    due_date: str
    done_means: str
    text: str
    leaf_index: int
    closed_leaf: int | None = None
    closed_at: str | None = None
    closed_reason: str | None = None
    evidence: str | None = None

    @property
    def state(self) -> str:
        return "open" if self.closed_leaf is None else "closed"


@dataclass
class Covered:
    number: int
    title: str
    entries: list[MinuteEntry] = field(default_factory=list)


@dataclass(frozen=True)
class ApprovalView:
    leaf_index: int
    approved_by: str
    approved_at: str
    minutes_sha256: str
    entries: tuple[int, ...]


@dataclass
class Minutes:
    session_id: str
    body: str
    date: str
    started_at: str
    ended_at: str
    chair: str
    chair_role: str
    held_leaf: int
    attendees: list[dict[str, Any]]
    covered: list[Covered]
    arisings: list[ArisingRow]  # recorded for this session
    carried: list[ArisingRow]  # open from earlier sessions of the same body at its start
    approval: ApprovalView | None = None

    @property
    def entries(self) -> list[int]:
        """The leaf indices the minutes are built from (what an approval names)."""
        leaves = {e.leaf_index for c in self.covered for e in c.entries}
        leaves |= {a.leaf_index for a in self.arisings}
        leaves |= {a.closed_leaf for a in self.carried if a.closed_leaf is not None}
        return sorted(leaves)


@dataclass
class SessionRow:
    session_id: str
    body: str
    date: str
    started_at: str
    ended_at: str
    chair: str
    recommendations: list[int]
    held_leaf: int
    approved_leaf: int | None
    open_arisings: int


@dataclass
class _Log:
    """What one pass over the log gathers."""

    sessions: dict[UUID, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    approvals: dict[UUID, tuple[int, SignedEntry]] = field(default_factory=dict)
    arisings: dict[str, ArisingRow] = field(default_factory=dict)
    recorded_on: dict[str, UUID] = field(default_factory=dict)  # arising -> its session
    roles: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # as of now
    #: Each user's roles and each recommendation's titles, with the leaf each took effect
    #: at: minutes cut at their approval show them as they then were, so the hash the
    #: chair signed stays the hash of the minutes rebuilt later.
    role_history: dict[str, list[tuple[int, tuple[str, str | None]]]] = field(default_factory=dict)
    titles: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    actions: dict[UUID, tuple[str, int]] = field(default_factory=dict)  # -> (id, number)
    challenges: dict[UUID, tuple[str, int]] = field(default_factory=dict)  # -> (subject, n)
    entries: list[tuple[int, SignedEntry]] = field(default_factory=list)  # minuted kinds


def _read(entries: Iterable[tuple[int, bytes]]) -> _Log:
    log = _Log()
    for leaf, data in entries:
        entry = SignedEntry.from_entry_bytes(data)
        body = entry.body
        kind, payload = body.type, body.payload
        if kind in ("directory.user_registered", "directory.user_role_changed"):
            _role_from(log, leaf, str(payload["user_id"]), payload["role"], payload.get("agency"))
        elif kind in ("ledger.created", "directory.charter_adopted"):
            user = payload.get("admin_id") or payload.get("chair_id")
            _role_from(log, leaf, str(user), "admin" if "admin_id" in payload else "chair", None)
        elif kind == "plan.recommendation_added":
            log.titles.setdefault(int(payload["number"]), []).append((leaf, str(payload["title"])))
        elif kind == "plan.recommendation_amended" and "title" in payload.get("changes", {}):
            number = int(payload["number"])
            log.titles.setdefault(number, []).append((leaf, str(payload["changes"]["title"])))
        elif kind == "action.added":
            number = int(payload["recommendation"])
            log.actions[body.aggregate_id] = (str(payload["action_id"]), number)
        elif kind == "challenge.raised":
            match = SUBJECT.fullmatch(str(payload.get("subject", "")))
            if match:
                log.challenges[body.aggregate_id] = (str(payload["subject"]), int(match[1]))
        elif kind == "session.held":
            log.sessions[body.aggregate_id] = (leaf, payload)
        elif kind == "session.minutes_approved":
            log.approvals[body.aggregate_id] = (leaf, entry)
        elif kind == "arising.recorded":
            log.arisings[str(payload["arising_id"])] = _arising(leaf, payload, log)
            log.recorded_on[str(payload["arising_id"])] = body.aggregate_id
        elif kind == "arising.closed":
            row = log.arisings.get(str(payload["arising_id"]))
            if row is not None:
                row.closed_leaf, row.closed_at = leaf, body.timestamp.isoformat()
                row.closed_reason, row.evidence = payload["reason"], payload.get("evidence")
        if kind in MINUTED:
            log.entries.append((leaf, entry))
    return log


def _role_from(log: _Log, leaf: int, user: str, role: object, agency: object) -> None:
    value = (str(role), None if agency is None else str(agency))
    log.roles[user] = value
    log.role_history.setdefault(user, []).append((leaf, value))


def _as_of(history: list[tuple[int, Any]] | None, cut: int | None, default: Any) -> Any:
    """The last value in `history` (leaf, value) before leaf `cut` (None: the latest)."""
    found = default
    for leaf, value in history or []:
        if cut is not None and leaf >= cut:
            break
        found = value
    return found


def _arising(leaf: int, payload: dict[str, Any], log: _Log) -> ArisingRow:
    owner = dict(payload["owner"])
    [(kind, ident)] = owner.items()
    agency = ident if kind == "agency" else log.roles.get(ident, ("", None))[1]
    return ArisingRow(
        arising_id=str(payload["arising_id"]),
        session_id=str(payload["session_id"]),
        recommendation=int(payload["recommendation"]),
        owner=f"{kind} {ident}",
        owner_agency=agency,
        due_date=str(payload["due_date"]),
        done_means=str(payload["done_means"]),
        text=str(payload["text"]),
        leaf_index=leaf,
    )


def _said(kind: str, p: dict[str, Any]) -> str:
    """The words an entry carries, as a clerk would minute them."""
    if kind == "action.status_changed":
        reason = f": {p['reason']}" if p.get("reason") else ""
        return f"{p.get('from_status')} → {p.get('to_status')}{reason}"
    if kind == "action.rag_rated":
        return f"{p.get('scope')} rating {p.get('rating')}: {p.get('reason', '')}"
    if kind == "action.returned":
        return "; ".join(str(r) for r in p.get("reasons", []))
    if kind == "challenge.closed":
        return f"{str(p.get('outcome', '')).replace('_', ' ')}: {p.get('reason', '')}"
    if kind == "challenge.escalated":
        return f"escalated to {p.get('to')}: {p.get('reason', '')}"
    if kind in ("plan.response_recorded", "action.response_recorded"):
        reasons = f" ({p['reasons']})" if p.get("reasons") else ""
        return f"{str(p.get('response', '')).replace('_', ' ')}{reasons}"
    if kind == "arising.recorded":
        return str(p.get("text", ""))
    if kind == "arising.closed":
        return str(p.get("reason", ""))
    for name in ("text", "statement", "reason"):
        if p.get(name):
            return str(p[name])
    return ""


def _subject(kind: str, entry: SignedEntry, log: _Log) -> tuple[str, int | None]:
    body, p = entry.body, entry.body.payload
    if kind.startswith("action."):
        found = log.actions.get(body.aggregate_id)
        return found if found else ("", None)
    if kind.startswith("challenge."):
        subject = log.challenges.get(body.aggregate_id)
        if subject is None:
            return "", None
        ident = str(p.get("challenge_id", "")) if kind == "challenge.raised" else ""
        return (f"{subject[0]} {ident}".strip(), subject[1])
    if kind == "plan.response_recorded":
        return f"R{p.get('number')}", int(p.get("number", 0))
    if kind.startswith("arising."):
        row = log.arisings.get(str(p.get("arising_id")))
        return (row.arising_id, row.recommendation) if row else ("", None)
    return "", None


def _find(log: _Log, session_id: str) -> tuple[UUID, int, dict[str, Any]]:
    for aggregate, (leaf, payload) in log.sessions.items():
        if payload["session_id"] == session_id:
            return aggregate, leaf, payload
    raise UnknownSession(f"no session {session_id!r} in the log")


def build_minutes(entries: Iterable[tuple[int, bytes]], session_id: str) -> Minutes:
    """The minutes of `session_id` from the log's `entries` (leaf index, entry bytes), in
    order: as the log stood just before their approval, once approved."""
    log = _read(entries)
    aggregate, held_leaf, held = _find(log, session_id)
    start, end = window(held["date"], held["started_at"], held["ended_at"])
    approved = log.approvals.get(aggregate)
    cut = approved[0] if approved is not None else None
    numbers = list(held["recommendations"])
    covered = {n: Covered(n, _as_of(log.titles.get(n), cut, "")) for n in numbers}
    carried = [a for a in _carried(log, held, start, end) if cut is None or a.leaf_index < cut]
    carried_ids = {a.arising_id for a in carried}
    for leaf, entry in log.entries:
        if cut is not None and leaf >= cut:
            break
        body, kind = entry.body, entry.body.type
        arising_id = str(body.payload.get("arising_id", ""))
        if kind == "arising.recorded":
            if log.recorded_on.get(arising_id) != aggregate:
                continue  # another session's (recorded whenever: the secretariat types it up)
        elif not start <= body.timestamp <= end:
            continue
        elif kind == "arising.closed" and arising_id in carried_ids:
            continue  # shown with the carried actions arising
        subject, number = _subject(kind, entry, log)
        if number is None or number not in covered:
            continue
        role = _as_of(log.role_history.get(body.actor), cut, ("", None))
        covered[number].entries.append(
            MinuteEntry(
                leaf, body.timestamp.isoformat(), body.actor, _role(role), kind,
                MINUTED[kind], subject, _said(kind, body.payload),
            )
        )  # fmt: skip
    ours = [a for a in log.arisings.values() if log.recorded_on[a.arising_id] == aggregate]
    if cut is not None:
        ours = [a for a in ours if a.leaf_index < cut]
        ours = [_open_before(row, cut) for row in ours]
        carried = [_open_before(row, cut) for row in carried]
    minutes = Minutes(
        session_id=session_id,
        body=str(held["body"]),
        date=str(held["date"]),
        started_at=str(held["started_at"]),
        ended_at=str(held["ended_at"]),
        chair=str(held["chair"]),
        chair_role=_role(_as_of(log.role_history.get(str(held["chair"])), cut, ("", None))),
        held_leaf=held_leaf,
        attendees=[
            {"role": a["role"], "agency": a.get("agency"), "label": a["label"]}
            for a in held["attendees"]
        ],
        covered=[covered[n] for n in numbers],
        arisings=sorted(ours, key=lambda a: a.leaf_index),
        carried=carried,
    )
    if approved is not None:
        leaf, entry = approved
        minutes.approval = ApprovalView(
            leaf, entry.body.actor, entry.body.timestamp.isoformat(),
            str(entry.body.payload["minutes_sha256"]), tuple(entry.body.payload["entries"]),
        )  # fmt: skip
    return minutes


def _open_before(row: ArisingRow, cut: int) -> ArisingRow:
    """The row as it stood before leaf `cut` (a later closure is not in the minutes)."""
    if row.closed_leaf is None or row.closed_leaf < cut:
        return row
    return dataclasses.replace(
        row, closed_leaf=None, closed_at=None, closed_reason=None, evidence=None
    )


def _role(role: tuple[str, str | None]) -> str:
    name, agency = role
    return f"{name.replace('_', ' ')} of {agency}" if agency else name.replace("_", " ")


def _carried(log: _Log, held: dict[str, Any], start: datetime, end: datetime) -> list[ArisingRow]:
    """The actions arising of earlier sessions of the same body still open when this one
    began: a closure signed in its window shows as closed at this session; one signed
    later is not this session's (the row is a copy, shown open)."""
    earlier = {
        aggregate
        for aggregate, (_, other) in log.sessions.items()
        if other["body"] == held["body"]
        and (other["date"], other["started_at"]) < (held["date"], held["started_at"])
    }
    rows = []
    for arising_id, row in log.arisings.items():
        if log.recorded_on[arising_id] not in earlier:
            continue
        closed = None if row.closed_at is None else datetime.fromisoformat(row.closed_at)
        if closed is not None and closed < start:
            continue
        if closed is not None and closed > end:
            row = dataclasses.replace(
                row, closed_leaf=None, closed_at=None, closed_reason=None, evidence=None
            )
        rows.append(row)
    return sorted(rows, key=lambda a: a.leaf_index)


def list_sessions(entries: Iterable[tuple[int, bytes]]) -> list[SessionRow]:
    """Every session in the log, by date, with whether its minutes are approved."""
    log = _read(entries)
    rows = []
    for aggregate, (leaf, p) in log.sessions.items():
        approved = log.approvals.get(aggregate)
        open_count = sum(
            1
            for a, s in log.recorded_on.items()
            if s == aggregate and log.arisings[a].state == "open"
        )
        rows.append(
            SessionRow(
                str(p["session_id"]), str(p["body"]), str(p["date"]), str(p["started_at"]),
                str(p["ended_at"]), str(p["chair"]), list(p["recommendations"]), leaf,
                approved[0] if approved else None, open_count,
            )
        )  # fmt: skip
    return sorted(rows, key=lambda r: (r.date, r.started_at, r.session_id))


def list_arisings(entries: Iterable[tuple[int, bytes]]) -> list[ArisingRow]:
    """Every action arising, in the order recorded."""
    return sorted(_read(entries).arisings.values(), key=lambda a: a.leaf_index)
