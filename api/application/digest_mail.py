"""A reminder digest as an email: plain text, one message per agency. A request for
narrative updates (api/application/update_requests.py) is made the same way, with a link
into the pages for each action it asks about.

The body names actions, dates, statuses and recipients by user id; never evidence
content or anyone's address. Its SHA-256 (of the UTF-8 text with LF line ends, before
any transfer encoding) is what the ledger records, so a copy of the message can later be
matched to its signed record without the log holding the text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from projections.arising_reminders import OWNER, ArisingDigest, ArisingItem
from projections.reminders import (
    REASONS,
    Chased,
    Digest,
    DigestItem,
    Recipient,
    UpdateRequest,
)

LEVEL_HEADINGS = {
    0: "overdue",
    1: "escalated to the implementation group",
    2: "escalated to the chair",
}
FORMAL = "formal statement request; flagged for scrutiny"
FURTHER = "escalated further; scrutiny told"


def meaning(level: int, levels: int) -> str:
    """What a level means: the top level (from the third up) is the formal statement
    request, as in the IICSA ladder; levels between the chair's and the top one
    (e.g. 7 months in 3,6,7,9) are further letters, with scrutiny told."""
    if level >= 3 and level == levels:
        return FORMAL
    return LEVEL_HEADINGS.get(level, FURTHER)


@dataclass(frozen=True)
class DigestMail:
    message: EmailMessage
    body: str
    body_sha256: str
    message_id: str
    to: tuple[str, ...]  # user ids the message is addressed to
    unreachable: tuple[str, ...]  # user ids of the audience with no address

    def delivery(self, refused: set[str]) -> dict[str, Any]:
        """What every record of a sent message says of its delivery, whatever it chased:
        who got it and who did not (`refused`: the user ids the server refused), by user
        id, the Message-ID and the body's SHA-256; never an address nor the text."""
        return {
            "recipients": [u for u in self.to if u not in refused],
            "unreachable": sorted({*self.unreachable, *refused}),
            "message_id": self.message_id,
            "body_sha256": self.body_sha256,
        }


def level_heading(level: int, months: tuple[int, ...]) -> str:
    if level == 0:
        return "Overdue"
    what = meaning(level, len(months))
    return f"Level {level}: overdue {months[level - 1]} months or more ({what})"


def render_body(digest: Digest, origin: str, base_url: str | None = None) -> str:
    """The digest's text; with the pages' address, each action's link below it."""
    root = base_url.rstrip("/") if base_url else None

    def block(item: DigestItem, kind: str) -> list[str]:
        line = _line(item, kind)
        return [line, f"           {root}/actions/{item.action_id}"] if root else [line]

    lines = [
        f"Reminder for {digest.agency_name} ({digest.agency}), as of {digest.as_of.isoformat()}.",
        "",
        # No line may start with "From ": mail software rewrites such lines (">From").
        f"Sent by the implementation ledger {origin},",
        "which records that this reminder was sent, to whom and about what (not its text).",
    ]
    overdue = digest.overdue
    for level in sorted({item.level for item in overdue}, reverse=True):
        lines += ["", level_heading(level, digest.escalate_months)]
        for item in overdue:
            if item.level == level:
                lines += block(item, "overdue")
    if digest.due_soon:
        lines += ["", f"Due within {digest.within_days} days"]
        for item in digest.due_soon:
            lines += block(item, "due")
    lines += ["", "Escalation ladder (months overdue):"]
    lines += [
        f"  level {k}, {months} months: {meaning(k, len(digest.escalate_months))}"
        for k, months in enumerate(digest.escalate_months, start=1)
    ]
    lines += [
        "",
        "Sent to: "
        + ", ".join(f"{r.user_id} ({REASONS[r.reason]})" for r in digest.recipients)
        + ".",
        "",
    ]
    return "\n".join(lines)


def _line(item: DigestItem, kind: str) -> str:
    when = (
        f"{item.days} days overdue"
        if kind == "overdue"
        else "due today"
        if item.days == 0
        else f"due in {item.days} days"
    )
    return f"  {item.action_id:<8} due {item.due_date} ({when}), {item.status}: {item.title}"


def counted(chased: Chased, within_days: int) -> str:
    """ "2 overdue, up to level 1, 1 due within 30 days": a subject line's count."""
    parts = []
    if chased.overdue:
        top = f", up to level {chased.top_level}" if chased.top_level else ""
        parts.append(f"{len(chased.overdue)} overdue{top}")
    if chased.due_soon:
        parts.append(f"{len(chased.due_soon)} due within {within_days} days")
    return ", ".join(parts)


def subject(digest: Digest) -> str:
    counts = counted(digest, digest.within_days)
    return f"[inquiry-ledger] {digest.agency_name}: {counts} (as of {digest.as_of})"


def compose(
    digest: Digest,
    *,
    origin: str,
    sender: str,
    addresses: dict[str, str],
    base_url: str | None = None,
) -> DigestMail:
    """To: the agency's own people; Cc: the reviewers the escalation reaches."""
    return _mail(
        render_body(digest, origin, base_url),
        subject(digest),
        digest.recipients,
        sender=sender,
        addresses=addresses,
        idstring="reminder",
    )


def render_update_request(request: UpdateRequest, origin: str, base_url: str) -> str:
    """The request's text: each action with its due date, status and title, and the link
    to its page (`{base_url}/actions/R1.1`), where the update is read and the CLI line to
    sign one."""
    root = base_url.rstrip("/")
    lines = [
        f"Narrative updates requested from {request.agency_name} ({request.agency}), "
        f"as of {request.as_of.isoformat()}.",
        "",
        f"Sent by the implementation ledger {origin},",
        "which records that this request was sent, to whom and about which actions (not its text).",
        "",
        "Please sign a narrative update (what was done, what is next, the risks) for each",
        f"action below: none has one signed since {request.updated_since.isoformat()}.",
    ]
    for item in request.items:
        lines += [
            _line(item, "overdue" if item.overdue else "due"),
            f"           {root}/actions/{item.action_id}",
        ]
    lines += [
        "",
        "To sign one from the command line:",
        f"  inquiry-ledger --as YOU act {request.items[0].action_id} update --period PERIOD "
        '--done "..." --next "..." --risks "..."',
        "",
        "Sent to: "
        + ", ".join(f"{r.user_id} ({REASONS[r.reason]})" for r in request.recipients)
        + ".",
        "",
    ]
    return "\n".join(lines)


def compose_update_request(
    request: UpdateRequest, *, origin: str, base_url: str, sender: str, addresses: dict[str, str]
) -> DigestMail:
    """To the agency's own people (officers and leads), one message for all its actions."""
    count = len(request.items)
    title = (
        f"[inquiry-ledger] {request.agency_name}: narrative update requested for {count} "
        f"{'action' if count == 1 else 'actions'} (as of {request.as_of})"
    )
    body = render_update_request(request, origin, base_url)
    return _mail(
        body, title, request.recipients, sender=sender, addresses=addresses, idstring="updates"
    )


#: Who an actions-arising message names, and why (the owner besides a digest's reasons).
ARISING_REASONS = {**REASONS, OWNER: "owner"}


def render_arisings(digest: ArisingDigest, origin: str, base_url: str | None) -> str:
    """The message chasing an agency's actions arising: each with its session, its owner,
    its due date and what "done" means, grouped by level like a digest, with a link to
    its session's page where a base URL is known."""
    root = base_url.rstrip("/") if base_url else None
    lines = [
        f"Actions arising for {digest.agency_name} ({digest.agency}), as of "
        f"{digest.as_of.isoformat()}.",
        "",
        f"Sent by the implementation ledger {origin},",
        "which records that this reminder was sent, to whom and about what (not its text).",
    ]

    def block(item: ArisingItem) -> list[str]:
        when = (
            f"{item.days} days overdue"
            if item.overdue
            else ("due today" if item.days == 0 else f"due in {item.days} days")
        )
        found = [
            f"  {item.arising_id} due {item.due_date} ({when}), owner {item.owner}: {item.text}",
            f"      from {item.body} on {item.session_date}, recommendation "
            f"{item.recommendation}; done means: {item.done_means}",
        ]
        if root:
            found.append(f"      {root}/sessions/{item.session_id}")
        return found

    for level in sorted({item.level for item in digest.overdue}, reverse=True):
        lines += ["", level_heading(level, digest.escalate_months)]
        for item in digest.overdue:
            if item.level == level:
                lines += block(item)
    if digest.due_soon:
        lines += ["", f"Due within {digest.within_days} days"]
        for item in digest.due_soon:
            lines += block(item)
    lines += [
        "",
        "Each stays on the agenda of its body's next session until it is closed.",
        "",
        "Sent to: "
        + ", ".join(f"{r.user_id} ({ARISING_REASONS[r.reason]})" for r in digest.recipients)
        + ".",
        "",
    ]
    return "\n".join(lines)


def compose_arisings(
    digest: ArisingDigest,
    *,
    origin: str,
    base_url: str | None,
    sender: str,
    addresses: dict[str, str],
) -> DigestMail:
    """To: the owners and the agency's leads; Cc: the reviewers the escalation reaches."""
    title = (
        f"[inquiry-ledger] {digest.agency_name}: actions arising "
        f"{counted(digest, digest.within_days)} (as of {digest.as_of})"
    )
    return _mail(
        render_arisings(digest, origin, base_url),
        title,
        digest.recipients,
        sender=sender,
        addresses=addresses,
        idstring="arisings",
        to_reasons=(OWNER, "agency_lead"),
    )


def _mail(
    body: str,
    title: str,
    recipients: Sequence[Recipient],
    *,
    sender: str,
    addresses: dict[str, str],
    idstring: str,
    to_reasons: tuple[str, ...] = ("officer", "agency_lead"),
) -> DigestMail:
    """To: the agency's own people; Cc: the others (reviewers); if none of the agency's
    has an address, the others are the To."""
    domain = sender.rpartition("@")[2]
    message_id = make_msgid(idstring=idstring, domain=domain)
    message = EmailMessage()
    to = [r.user_id for r in recipients if r.reason in to_reasons]
    cc = [r.user_id for r in recipients if r.user_id not in to]
    to_addressed = [u for u in to if u in addresses]
    cc_addressed = [u for u in cc if u in addresses]
    if not to_addressed:
        to_addressed, cc_addressed = cc_addressed, []
    message["From"] = sender
    message["To"] = ", ".join(addresses[u] for u in to_addressed)
    if cc_addressed:
        message["Cc"] = ", ".join(addresses[u] for u in cc_addressed)
    message["Subject"] = title
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
    message.set_content(body)
    return DigestMail(
        message=message,
        body=body,
        body_sha256=hashlib.sha256(body.encode("utf-8")).hexdigest(),
        message_id=message_id,
        to=tuple(to_addressed + cc_addressed),
        unreachable=tuple(r.user_id for r in recipients if r.user_id not in addresses),
    )
