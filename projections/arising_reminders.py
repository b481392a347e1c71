"""Chasing actions arising: per agency, its open actions arising due soon or overdue, and
who is told, up the actions' own escalation ladder (issue 15).

An action arising (domain/session.py) is owned by an agency or by a user. One owned by an
agency, or by one of an agency's officers or leads, is that agency's to deliver, so it is
chased with the agency: the message goes to the agency's leads and to the owning officer,
and from the first interval overdue up the ladder (`domain.reminders.audience_roles`)
exactly as an action's digest does. One owned by a reviewer (the implementation group,
the chair, scrutiny) is not chased by email: it is theirs, and it is on their next
session's agenda until it is closed (projections/minutes.py).

Pure: it reads a replay of the log as it stood at the end of the as-of day, and the
directory as it is now; it sends nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from domain import Directory, Role
from domain.reminders import LADDER, audience_roles, digest_content, escalation_level
from domain.session import Session
from projections.reminders import Chased, Recipient
from projections.replay import Replay

#: How each kind of recipient is described in the message (projections/reminders.py's,
#: and the owner of the actions arising).
OWNER = "owner"


@dataclass(frozen=True)
class ArisingItem:
    arising_id: str
    session_id: str
    body: str
    session_date: str
    recommendation: int
    text: str
    done_means: str
    owner: str  # "agency police" or "user t.dcc"
    due_date: str
    overdue: bool
    level: int
    days: int  # days overdue (overdue) or days until due (due soon)

    def payload(self) -> dict[str, Any]:
        """The member of the signed record: which one was chased, never its text."""
        return {
            "arising_id": self.arising_id,
            "due_date": self.due_date,
            "level": self.level,
            "overdue": self.overdue,
        }


@dataclass(frozen=True)
class ArisingDigest(Chased):
    agency: str
    agency_name: str
    as_of: date
    within_days: int
    escalate_months: tuple[int, ...]
    items: tuple[ArisingItem, ...]
    recipients: tuple[Recipient, ...]

    def content(self) -> tuple[tuple[str, str, int, bool], ...]:
        return digest_content([item.payload() for item in self.items], key="arising_id")


def owning_agency(owner: dict[str, str], directory: Directory) -> str | None:
    """The agency an action arising is chased with: its owner agency, or its owning
    user's agency when that user is an officer or lead; None for a reviewer's."""
    if "agency" in owner:
        return owner["agency"]
    user = directory.users.get(owner.get("user", ""))
    if user is not None and user.role in (Role.OFFICER, Role.AGENCY_LEAD):
        return user.agency
    return None


def build_arising_digests(
    replay: Replay,
    directory: Directory,
    agencies: dict[str, str],
    *,
    as_of: date,
    within_days: int,
    escalate_months: Sequence[int],
    agency: str | None = None,
) -> list[ArisingDigest]:
    """One message per agency with an open action arising due within `within_days` of
    `as_of` or overdue on it, in the plan's agency order (`agencies`: id -> name)."""
    months = tuple(escalate_months)
    by_agency: dict[str, list[tuple[ArisingItem, str | None]]] = {}
    for session in replay.of_type(Session):
        for arising in session.arisings.values():
            if not arising.open:
                continue
            owner_agency = owning_agency(arising.owner, directory)
            if owner_agency is None or owner_agency not in agencies:
                continue
            due = date.fromisoformat(arising.due_date)
            overdue = due < as_of
            if not overdue and (due - as_of).days > within_days:
                continue
            [(kind, ident)] = arising.owner.items()
            item = ArisingItem(
                arising_id=arising.arising_id,
                session_id=session.session_id,
                body=session.body,
                session_date=session.date,
                recommendation=arising.recommendation,
                text=arising.text,
                done_means=arising.done_means,
                owner=f"{kind} {ident}",
                due_date=arising.due_date,
                overdue=overdue,
                level=escalation_level(due, as_of, months) if overdue else 0,
                days=abs((as_of - due).days),
            )
            owner_user = ident if kind == "user" else None
            by_agency.setdefault(owner_agency, []).append((item, owner_user))
    digests = []
    for agency_id, name in agencies.items():
        found = by_agency.get(agency_id)
        if not found or (agency is not None and agency_id != agency):
            continue
        items = sorted(
            (item for item, _ in found),
            key=lambda i: (-i.level, not i.overdue, i.due_date, i.arising_id),
        )
        owners = {user for _, user in found if user is not None}
        digests.append(
            ArisingDigest(
                agency=agency_id,
                agency_name=name,
                as_of=as_of,
                within_days=within_days,
                escalate_months=months,
                items=tuple(items),
                recipients=_audience(agency_id, items, owners, directory),
            )
        )
    return digests


def _audience(
    agency: str, items: list[ArisingItem], owners: set[str], directory: Directory
) -> tuple[Recipient, ...]:
    """The owning officers, the agency's leads, and the reviewers the highest level
    reaches; active users only, from the directory as it is now."""
    chosen: dict[str, str] = {}
    for user in directory.users.values():
        if not user.active:
            continue
        if user.user_id in owners and user.agency == agency:
            chosen[user.user_id] = OWNER if user.role is Role.OFFICER else user.role.value
        elif user.role is Role.AGENCY_LEAD and user.agency == agency:
            chosen[user.user_id] = Role.AGENCY_LEAD.value
    reach = audience_roles(max(item.level for item in items))
    for user in directory.users.values():
        if user.active and user.role in reach:
            chosen[user.user_id] = user.role.value
    rank = [OWNER, Role.AGENCY_LEAD.value, *(role.value for role in LADDER)]
    return tuple(
        Recipient(user_id, reason)
        for user_id, reason in sorted(chosen.items(), key=lambda kv: (rank.index(kv[1]), kv[0]))
    )
