"""`inquiry-ledger remind --arisings`: chase each agency's open actions arising.

An action arising (domain/session.py) is tracked to closure with the same reminders and
escalation ladder as an action (issue 15): due within N days or overdue, it is chased in
one message per agency (projections/arising_reminders.py says which, and who is told: the
owning officer, the agency's leads, and from the first interval overdue the reviewers of
the ladder), with a link to its session's page where the pages' address is known.

Each step is the reminders' own (api/application/remind.py): the same run lock, the
same "skip it if the same message was recorded within `repeat_after_days`", the record
signed and checked before sending, sent through the same mailer, and recorded only once
the server accepted it, as a signed `reminder.arisings_chased` entry on the agency's
reminders: ids, due dates and levels, recipients by user id, the Message-ID and the
body's SHA-256; never an address nor the text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.application.digest_mail import DigestMail, compose_arisings
from api.application.mailer import SmtpSettings, deliver
from api.application.remind import (
    OTHER_RUN_WAIT_SECONDS,
    Outcome,
    RemindOptions,
    Sender,
    each_until_down,
    guarded,
    last_sent_within,
    preview_or_send,
)
from domain import Reminders
from ledger.service import Ledger
from ledger.signer import Signer
from projections.arising_reminders import ArisingDigest, build_arising_digests
from projections.asof import parse_as_of
from projections.replay import Replay

KIND = Reminders.ArisingsChased.TYPE


def chase_arisings(
    ledger: Ledger,
    options: RemindOptions,
    *,
    base_url: str | None,
    contacts: dict[str, str],
    signer: Signer | None = None,
    smtp: SmtpSettings | None = None,
    send: Sender = deliver,
    wait: float = OTHER_RUN_WAIT_SECONDS,
) -> list[Outcome]:
    """Build the messages as of `options.as_of` and, unless it is a dry run, send and
    record each in turn, holding the remind runs' lock. The same refusals as `remind`:
    NotPermitted before anything is sent, ValueError for an unknown agency,
    RemindInProgress after `wait` seconds. Each Outcome's `detail` lists the ids chased."""
    return guarded(
        ledger,
        options.agency,
        None if options.dry_run else (signer, smtp),
        wait,
        lambda: _run(ledger, options, base_url, contacts, signer, smtp, send),
    )


def _run(
    ledger: Ledger,
    options: RemindOptions,
    base_url: str | None,
    contacts: dict[str, str],
    signer: Signer | None,
    smtp: SmtpSettings | None,
    send: Sender,
) -> list[Outcome]:
    replay = Replay().feed(ledger.entries(), until_time=parse_as_of(options.as_of.isoformat()))
    plan = ledger.plan()
    digests = build_arising_digests(
        replay,
        ledger.require_directory(),
        dict(plan.agencies) if plan else {},
        as_of=options.as_of,
        within_days=options.within_days,
        escalate_months=options.escalate_months,
        agency=options.agency,
    )
    return each_until_down(
        [(d.agency, d) for d in digests],
        lambda digest: _one(ledger, digest, options, base_url, contacts, signer, smtp, send),
    )


def _one(
    ledger: Ledger,
    digest: ArisingDigest,
    options: RemindOptions,
    base_url: str | None,
    contacts: dict[str, str],
    signer: Signer | None,
    smtp: SmtpSettings | None,
    send: Sender,
) -> Outcome:
    chased = ", ".join(item.arising_id for item in digest.items)
    previous = _same_sent(ledger, digest, options.repeat_after_days)
    if previous is not None:
        return Outcome(
            digest.agency,
            "repeat",
            f"the same actions arising ({chased}) were chased {previous:%Y-%m-%d %H:%M} UTC, "
            f"within {options.repeat_after_days} days",
        )
    sender_address = smtp.sender if smtp else "reminders@inquiry-ledger.invalid"
    mail = compose_arisings(
        digest,
        origin=ledger.origin(),
        base_url=base_url,
        sender=sender_address,
        addresses=contacts,
    )
    return preview_or_send(
        ledger,
        Outcome(digest.agency, "dry_run", chased),
        mail,
        None if options.dry_run else (signer, smtp, send),
        contacts,
        lambda refused: _payload(digest, mail, refused),
        KIND,
    )


def _payload(digest: ArisingDigest, mail: DigestMail, refused: set[str]) -> dict[str, Any]:
    return {
        "agency": digest.agency,
        "as_of": digest.as_of.isoformat(),
        "within_days": digest.within_days,
        "escalate_months": list(digest.escalate_months),
        "arisings": [item.payload() for item in digest.items],
        **mail.delivery(refused),
    }


def _same_sent(ledger: Ledger, digest: ArisingDigest, days: int) -> datetime | None:
    """When the same actions arising at the same levels were last chased for this
    agency, if within `days`."""
    content = digest.content()
    return last_sent_within(
        ledger,
        digest.agency,
        days,
        lambda reminders: reminders.arising_chases,
        lambda record: record.items == content,
    )
