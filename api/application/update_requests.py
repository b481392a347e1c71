"""`inquiry-ledger remind --updates`: ask each agency for its narrative updates.

The update-request cycle (issue 15): run monthly, say, it asks each agency owning actions
due within N days or overdue that have no narrative update (domain/narrative.py) signed
since the period's first day (`updated_since`; default the first of the as-of month) for
one, in one message per agency listing those actions with links into the pages
(`{base_url}/actions/R10.1`). It goes to the agency's own people only (the officers
assigned to those actions and its leads): asking for an update escalates nothing.

Each step is the reminders' own (api/application/remind.py): the same run lock, the same
"skip it if the same request was recorded within `repeat_after_days`", the record signed
and checked before sending, sent through the same mailer, recorded only once the server
accepted it, as a signed `reminder.update_requested` entry on the agency's reminders:
action ids and due dates, recipients by user id, the Message-ID and the body's SHA-256;
never an address nor the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from api.application.digest_mail import DigestMail, compose_update_request
from api.application.mailer import SmtpSettings, deliver
from api.application.remind import (
    OTHER_RUN_WAIT_SECONDS,
    Outcome,
    Sender,
    each_until_down,
    guarded,
    last_sent_within,
    preview_or_send,
)
from domain import Reminders
from ledger.service import Ledger
from ledger.signer import Signer
from projections.asof import parse_as_of
from projections.reminders import UpdateRequest, build_update_requests
from projections.replay import Replay

KIND = Reminders.UpdateRequested.TYPE


@dataclass(frozen=True)
class UpdateRequestOptions:
    as_of: date
    base_url: str
    within_days: int = 30
    updated_since: date | None = None  # None: the first day of the as-of month
    repeat_after_days: int = 7
    agency: str | None = None
    dry_run: bool = False

    @property
    def since(self) -> date:
        return self.updated_since or self.as_of.replace(day=1)


def request_updates(
    ledger: Ledger,
    options: UpdateRequestOptions,
    *,
    contacts: dict[str, str],
    signer: Signer | None = None,
    smtp: SmtpSettings | None = None,
    send: Sender = deliver,
    wait: float = OTHER_RUN_WAIT_SECONDS,
) -> list[Outcome]:
    """Build the requests as of `options.as_of` and, unless it is a dry run, send and
    record each in turn, holding the remind runs' lock. The same refusals as `remind`:
    NotPermitted before anything is sent, ValueError for an unknown agency or an
    `updated_since` after the as-of date, RemindInProgress after `wait` seconds.
    Each Outcome's `digest` is None; its `detail` lists the actions asked about."""
    if options.since > options.as_of:
        raise ValueError("--updated-since must not be after the as-of date")
    return guarded(
        ledger,
        options.agency,
        None if options.dry_run else (signer, smtp),
        wait,
        lambda: _run(ledger, options, contacts, signer, smtp, send),
    )


def _run(
    ledger: Ledger,
    options: UpdateRequestOptions,
    contacts: dict[str, str],
    signer: Signer | None,
    smtp: SmtpSettings | None,
    send: Sender,
) -> list[Outcome]:
    replay = Replay().feed(ledger.entries(), until_time=parse_as_of(options.as_of.isoformat()))
    requests = build_update_requests(
        replay,
        ledger.require_directory(),
        as_of=options.as_of,
        within_days=options.within_days,
        updated_since=options.since,
        agency=options.agency,
    )
    return each_until_down(
        [(r.agency, r) for r in requests],
        lambda request: _one(ledger, request, options, contacts, signer, smtp, send),
    )


def _one(
    ledger: Ledger,
    request: UpdateRequest,
    options: UpdateRequestOptions,
    contacts: dict[str, str],
    signer: Signer | None,
    smtp: SmtpSettings | None,
    send: Sender,
) -> Outcome:
    asked = ", ".join(item.action_id for item in request.items)
    previous = _same_request_sent(ledger, request, options.repeat_after_days)
    if previous is not None:
        return Outcome(
            request.agency,
            "repeat",
            f"the same request ({asked}) was sent {previous:%Y-%m-%d %H:%M} UTC, within "
            f"{options.repeat_after_days} days",
        )
    sender_address = smtp.sender if smtp else "reminders@inquiry-ledger.invalid"
    mail = compose_update_request(
        request,
        origin=ledger.origin(),
        base_url=options.base_url,
        sender=sender_address,
        addresses=contacts,
    )
    return preview_or_send(
        ledger,
        Outcome(request.agency, "dry_run", asked),
        mail,
        None if options.dry_run else (signer, smtp, send),
        contacts,
        lambda refused: _payload(request, mail, refused),
        KIND,
    )


def _payload(request: UpdateRequest, mail: DigestMail, refused: set[str]) -> dict[str, Any]:
    return {
        "agency": request.agency,
        "as_of": request.as_of.isoformat(),
        "within_days": request.within_days,
        "updated_since": request.updated_since.isoformat(),
        "actions": request.payload_items(),
        **mail.delivery(refused),
    }


def _same_request_sent(ledger: Ledger, request: UpdateRequest, days: int) -> datetime | None:
    """When a request about the same actions for the same period was last recorded for
    this agency, if within `days`."""
    asked = tuple(sorted(item.action_id for item in request.items))
    period = request.updated_since.isoformat()
    return last_sent_within(
        ledger,
        request.agency,
        days,
        lambda reminders: reminders.update_requests,
        lambda record: record.action_ids == asked and record.updated_since == period,
    )
