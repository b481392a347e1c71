"""Reminder digests: per agency, what is due soon and what is overdue, and who is told.

Pure: it reads a replay of the log (as it stood at the end of the as-of day) and the
directory, and sends nothing. What counts as overdue is the status projection's own
answer (`projections.status`), never re-derived here: an action is due soon when it is
not overdue today but would be overdue `within` days later, so withdrawn, merged,
accepted, verified and chair-outcome actions are never chased. The escalation ladder
(levels and their audiences) is the domain's (`domain.reminders`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from domain import Action, Directory, Role
from domain.reminders import LADDER, audience_roles, digest_content, escalation_level
from projections.status import ActionRow, Replay, status_from

#: How each kind of recipient is described to the people reading a digest.
REASONS = {
    "officer": "assigned officer",
    "agency_lead": "agency lead",
    Role.IMPLEMENTATION_GROUP.value: "implementation group",
    Role.CHAIR.value: "chair",
    Role.SCRUTINY.value: "scrutiny",
}


@dataclass(frozen=True)
class DigestItem:
    action_id: str
    recommendation: int
    title: str
    status: str
    due_date: str
    overdue: bool
    level: int
    days: int  # days overdue (overdue) or days until due (due soon)

    def payload(self) -> dict[str, Any]:
        """The member of the signed record: what was chased, never more."""
        return {
            "action_id": self.action_id,
            "due_date": self.due_date,
            "level": self.level,
            "overdue": self.overdue,
        }


@dataclass(frozen=True)
class Recipient:
    user_id: str
    reason: str  # a key of REASONS


class Chased:
    """What a message chasing `items` (each `overdue` or not, at a `level`) says of them:
    a digest's actions and a message's actions arising alike."""

    items: tuple[Any, ...]

    @property
    def due_soon(self) -> list[Any]:
        return [item for item in self.items if not item.overdue]

    @property
    def overdue(self) -> list[Any]:
        return [item for item in self.items if item.overdue]

    @property
    def top_level(self) -> int:
        return max((item.level for item in self.overdue), default=0)


@dataclass(frozen=True)
class Digest(Chased):
    agency: str
    agency_name: str
    as_of: date
    within_days: int
    escalate_months: tuple[int, ...]
    items: tuple[DigestItem, ...]
    recipients: tuple[Recipient, ...]

    def content(self) -> tuple[tuple[str, str, int, bool], ...]:
        return digest_content([item.payload() for item in self.items])


def build_digests(
    replay: Replay,
    directory: Directory,
    *,
    as_of: date,
    within_days: int,
    escalate_months: Sequence[int],
    agency: str | None = None,
) -> list[Digest]:
    """One digest per agency that has something due within `within_days` or overdue on
    `as_of` (agencies with nothing to chase get none), in the plan's agency order."""
    months = tuple(escalate_months)
    now = status_from(replay, as_of=as_of.isoformat(), today=as_of)
    later = status_from(replay, as_of=as_of.isoformat(), today=as_of + timedelta(within_days + 1))
    due_by_then = {row.action_id for row in later.actions if row.overdue}
    actions = {a.action_id: a for a in replay.of_type(Action)}
    by_agency: dict[str, list[DigestItem]] = {}
    for row in now.actions:
        if row.due_date is None or not (row.overdue or row.action_id in due_by_then):
            continue
        by_agency.setdefault(row.lead_agency, []).append(_item(row, as_of, months))
    digests = []
    for agency_id, name in now.agencies.items():
        items = by_agency.get(agency_id)
        if not items or (agency is not None and agency_id != agency):
            continue
        items.sort(key=lambda i: (-i.level, not i.overdue, i.due_date, i.action_id))
        digests.append(
            Digest(
                agency=agency_id,
                agency_name=name,
                as_of=as_of,
                within_days=within_days,
                escalate_months=months,
                items=tuple(items),
                recipients=_audience(agency_id, items, actions, directory),
            )
        )
    return digests


def _item(row: ActionRow, as_of: date, months: tuple[int, ...]) -> DigestItem:
    assert row.due_date is not None
    due = date.fromisoformat(row.due_date)
    return DigestItem(
        action_id=row.action_id,
        recommendation=row.recommendation,
        title=row.title,
        status=row.status,
        due_date=row.due_date,
        overdue=row.overdue,
        level=escalation_level(due, as_of, months) if row.overdue else 0,
        days=abs((as_of - due).days),
    )


def _audience(
    agency: str, items: list[DigestItem], actions: dict[str, Action], directory: Directory
) -> tuple[Recipient, ...]:
    """The agency's leads, the officers assigned to the digest's actions, and the reviewers
    the highest level reaches. Users are taken from the directory as it is now."""
    users = directory.users
    chosen: dict[str, str] = {}
    for item in items:
        action = actions.get(item.action_id)
        for officer in action.assigned_officers if action else []:
            user = users.get(officer)
            if user and user.role is Role.OFFICER and user.agency == agency:
                chosen.setdefault(officer, "officer")
    for user in users.values():
        if user.role is Role.AGENCY_LEAD and user.agency == agency:
            chosen[user.user_id] = "agency_lead"
    reach = audience_roles(max(item.level for item in items))
    for user in users.values():
        if user.role in reach:
            chosen[user.user_id] = user.role.value
    rank = ["officer", "agency_lead", *(role.value for role in LADDER)]
    return tuple(
        Recipient(user_id, reason)
        for user_id, reason in sorted(chosen.items(), key=lambda kv: (rank.index(kv[1]), kv[0]))
    )


@dataclass(frozen=True)
class UpdateRequest:
    """One agency's request for narrative updates (domain/narrative.py): its actions due
    within `within_days` or overdue with none signed since `updated_since`, and its own
    people to ask (the officers assigned to those actions and its leads; nobody else)."""

    agency: str
    agency_name: str
    as_of: date
    within_days: int
    updated_since: date
    items: tuple[DigestItem, ...]
    recipients: tuple[Recipient, ...]

    def payload_items(self) -> list[dict[str, Any]]:
        """The signed record's actions: which were asked about, never more."""
        return [
            {"action_id": i.action_id, "due_date": i.due_date, "overdue": i.overdue}
            for i in self.items
        ]


def build_update_requests(
    replay: Replay,
    directory: Directory,
    *,
    as_of: date,
    within_days: int,
    updated_since: date,
    agency: str | None = None,
) -> list[UpdateRequest]:
    """The actions a digest would chase (`build_digests`: due within `within_days` or
    overdue), less those with a narrative update signed on or after `updated_since`,
    grouped by agency as digests are; an agency with none left gets no request."""
    actions = {a.action_id: a for a in replay.of_type(Action)}

    def updated(action_id: str) -> bool:
        action = actions.get(action_id)
        updates = action.narrative_updates if action else []
        return any(u.signed_at.date() >= updated_since for u in updates)

    requests = []
    for digest in build_digests(
        replay,
        directory,
        as_of=as_of,
        within_days=within_days,
        escalate_months=(1,),  # levels do not matter here: a request escalates nothing
        agency=agency,
    ):
        items = [
            replace(item, level=0)
            for item in sorted(digest.items, key=lambda i: (i.due_date, i.action_id))
            if not updated(item.action_id)
        ]
        if items:
            requests.append(
                UpdateRequest(
                    agency=digest.agency,
                    agency_name=digest.agency_name,
                    as_of=as_of,
                    within_days=within_days,
                    updated_since=updated_since,
                    items=tuple(items),
                    recipients=_audience(digest.agency, items, actions, directory),
                )
            )
    return requests
