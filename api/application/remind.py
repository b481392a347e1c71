"""`inquiry-ledger remind`: build each agency's digest, send it, record what was sent.

For each agency with something due or overdue:

1. skip it if a digest with the same content (same actions, same dates, same levels)
   was recorded for that agency within `repeat_after_days` (nobody is chased daily);
2. sign the record and check it against the ledger's rules *before* sending, so a
   sender the ledger would refuse never sends anything;
3. hand the message to the SMTP server; only if the server accepted it,
4. append the signed `reminder.digest_sent` event: agency, as-of date, the actions with
   due dates and levels, recipients and unreachable users by id, Message-ID and the
   body's SHA-256. Addresses the server refused are recorded as unreachable.

A digest the server did not accept is not recorded. If the server cannot be reached at
all, the remaining agencies are not attempted. An email that was accepted but whose
record the ledger then refused is reported with its Message-ID (it cannot be unsent).

One run at a time (issue 18): between step 1's check and step 4's record another run
would find nothing recorded and send the same digest again (two cron jobs, a retry
started by hand). So a run that sends holds a lock for all four steps, across every
process using the ledger: a PostgreSQL advisory lock of its own key, or for SQLite a
file lock in the home folder. A second run waits for it up to `wait` seconds (by then a
run of a few digests has finished, and the second finds them recorded: "repeat"), then
gives up with RemindInProgress, having sent nothing. A dry run sends nothing and takes
no lock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import Any, Literal, TypeVar, cast

from api.application.digest_mail import DigestMail, compose
from api.application.mailer import DeliveryError, SmtpSettings, deliver
from domain import DomainError, Reminders, RuleContext
from domain.reminders import (
    DigestRecord,
    UpdateRequestRecord,
    check_sender,
    reminders_aggregate_id,
)
from ledger.auditor.entry import SignedEntry
from ledger.config import LedgerConfig
from ledger.entry import to_domain_event
from ledger.errors import LedgerError, VersionConflict
from ledger.locks import FileRunLock, PostgresRunLock, RunInProgress
from ledger.service import Ledger
from ledger.signer import Signer
from projections.asof import parse_as_of
from projections.reminders import Digest, build_digests
from projections.status import Replay

Sender = Callable[[SmtpSettings, EmailMessage], set[str]]

#: Seconds a run waits for another to finish before it gives up (see the docstring).
OTHER_RUN_WAIT_SECONDS = 10.0
#: The advisory lock of remind runs on PostgreSQL: its own key, never the append lock's.
REMIND_LOCK_KEY = 0x1A9D_1E07  # arbitrary, constant: "inquiry ledger remind runs"


class RecordingFailed(Exception):
    """The server accepted a digest but the ledger refused its record."""


class RemindInProgress(Exception):
    """Another run held the remind lock for longer than this one would wait."""


def run_lock(config: LedgerConfig) -> FileRunLock | PostgresRunLock:
    """The lock one sending run holds, across every process using this ledger."""
    if config.database_url is None:
        return FileRunLock(config.home / "remind.lock")
    return PostgresRunLock(config.database_url, REMIND_LOCK_KEY, config.db_timeouts)


@dataclass(frozen=True)
class RemindOptions:
    as_of: date
    within_days: int = 30
    escalate_months: tuple[int, ...] = (3, 6, 9)
    repeat_after_days: int = 7
    agency: str | None = None
    dry_run: bool = False
    #: The pages' address: each action in a digest links to its page (none without it).
    base_url: str | None = None


@dataclass
class Outcome:
    """What happened to one agency's digest."""

    agency: str
    state: Literal["sent", "dry_run", "repeat", "not_sent", "not_attempted"]
    detail: str = ""
    digest: Digest | None = None
    recipients: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    message_id: str = ""
    leaf_index: int | None = None
    body: str = ""
    server_down: bool = False

    @property
    def delivered(self) -> bool:
        return self.state in ("sent", "dry_run", "repeat")


def remind(
    ledger: Ledger,
    options: RemindOptions,
    *,
    contacts: dict[str, str],
    signer: Signer | None = None,
    smtp: SmtpSettings | None = None,
    send: Sender = deliver,
    wait: float = OTHER_RUN_WAIT_SECONDS,
) -> list[Outcome]:
    """Build the digests as of `options.as_of` and, unless it is a dry run, send and record
    each in turn (see the module docstring). Raises NotPermitted before anything is sent
    if the signer may not send reminders, ValueError for an agency not in the plan,
    RemindInProgress if another run still sends after `wait` seconds."""
    return guarded(
        ledger,
        options.agency,
        None if options.dry_run else (signer, smtp),
        wait,
        lambda: _run(ledger, options, contacts, signer, smtp, send),
    )


def guarded(
    ledger: Ledger,
    agency: str | None,
    sending: tuple[Signer | None, SmtpSettings | None] | None,
    wait: float,
    run: Callable[[], list[Outcome]],
) -> list[Outcome]:
    """`run` a remind run (digests, update requests, actions arising alike) once the
    refusals every run makes first have passed: an agency not in the plan (ValueError);
    and unless it is a dry run (`sending` None), a signer or SMTP settings missing
    (ValueError), a signer the ledger would refuse (NotPermitted), all before anything is
    sent; then hold the run lock, or give up after `wait` seconds (RemindInProgress)."""
    directory = ledger.require_directory()
    plan = ledger.plan()
    if agency is not None and (plan is None or agency not in plan.agencies):
        known = ", ".join(sorted(plan.agencies)) if plan else "none"
        raise ValueError(f"no agency {agency!r} in the plan (known: {known})")
    if sending is None:
        return run()
    signer, smtp = sending
    if signer is None or smtp is None:
        raise ValueError("sending needs a signer and SMTP settings")
    actor, _ = directory.resolve(signer.user_id, signer.key.key_id)
    check_sender(RuleContext(actor, directory, plan))
    try:
        with run_lock(ledger.config).hold(wait):
            return run()
    except RunInProgress:
        raise RemindInProgress(
            f"another remind run is in progress (waited {wait:g} s); nothing was sent"
        ) from None


def _run(
    ledger: Ledger,
    options: RemindOptions,
    contacts: dict[str, str],
    signer: Signer | None,
    smtp: SmtpSettings | None,
    send: Sender,
) -> list[Outcome]:
    """Steps 1-4 for every agency with a digest, read from the log as it stands now."""
    directory = ledger.require_directory()
    replay = Replay().feed(ledger.entries(), until_time=parse_as_of(options.as_of.isoformat()))
    digests = build_digests(
        replay,
        directory,
        as_of=options.as_of,
        within_days=options.within_days,
        escalate_months=options.escalate_months,
        agency=options.agency,
    )
    return each_until_down(
        [(d.agency, d) for d in digests],
        lambda digest: _one(ledger, digest, options, contacts, signer, smtp, send),
    )


def each_until_down(batches: list[tuple[str, Any]], one: Callable[[Any], Outcome]) -> list[Outcome]:
    """`one` for each (agency, batch) in turn; once the SMTP server is down, the rest are
    `not_attempted` rather than each waiting out the same timeout."""
    outcomes: list[Outcome] = []
    reachable = True
    for agency, batch in batches:
        if not reachable:
            outcomes.append(Outcome(agency, "not_attempted", "SMTP server unreachable"))
            continue
        outcome = one(batch)
        reachable = not outcome.server_down
        outcomes.append(outcome)
    return outcomes


def _one(
    ledger: Ledger,
    digest: Digest,
    options: RemindOptions,
    contacts: dict[str, str],
    signer: Signer | None,
    smtp: SmtpSettings | None,
    send: Sender,
) -> Outcome:
    previous = _same_digest_sent(ledger, digest, options.repeat_after_days)
    if previous is not None:
        return Outcome(
            digest.agency,
            "repeat",
            f"the same digest was sent {previous:%Y-%m-%d %H:%M} UTC, within "
            f"{options.repeat_after_days} days",
            digest,
        )
    sender_address = smtp.sender if smtp else "reminders@inquiry-ledger.invalid"
    mail = compose(
        digest,
        origin=ledger.origin(),
        sender=sender_address,
        addresses=contacts,
        base_url=options.base_url,
    )
    return preview_or_send(
        ledger,
        Outcome(digest.agency, "dry_run", digest=digest),
        mail,
        None if options.dry_run else (signer, smtp, send),
        contacts,
        lambda refused: _payload(digest, options, mail, refused),
        Reminders.DigestSent.TYPE,
    )


def preview_or_send(
    ledger: Ledger,
    outcome: Outcome,
    mail: DigestMail,
    sending: tuple[Signer | None, SmtpSettings | None, Sender] | None,
    contacts: dict[str, str],
    payload: Callable[[set[str]], dict[str, Any]],
    kind: str,
) -> Outcome:
    """A dry run's `outcome` (`sending` None): the message as it would go, to whom; or
    the message sent and recorded (`send_and_record`). Every kind of run ends here."""
    outcome.recipients = list(mail.to)
    outcome.unreachable = list(mail.unreachable)
    outcome.body = mail.body
    if sending is None:
        return outcome
    signer, smtp, send = sending
    assert signer is not None and smtp is not None  # guarded() refused a run without
    return send_and_record(ledger, signer, (smtp, send), mail, contacts, outcome, payload, kind)


def send_and_record(
    ledger: Ledger,
    signer: Signer,
    server: tuple[SmtpSettings, Sender],
    mail: DigestMail,
    contacts: dict[str, str],
    outcome: Outcome,
    payload: Callable[[set[str]], dict[str, Any]],
    kind: str,
) -> Outcome:
    """Send `mail` and record it as a `kind` entry of its agency's reminders, for a digest
    and an update request alike: the record is checked before anything is sent (a refusal
    must come before any email does) and appended only once the server accepted the
    message, naming the recipients it refused (`payload(refused user ids)`)."""
    smtp, send = server
    if not mail.to:
        outcome.state = "not_sent"
        outcome.detail = "no recipient has an email address in the contacts file"
        return outcome
    check_record(ledger, sign_record(ledger, signer, payload(set()), kind))
    try:
        refused = send(smtp, mail.message)
    except DeliveryError as error:
        outcome.state, outcome.detail, outcome.body = "not_sent", str(error), ""
        outcome.server_down = not error.refused
        return outcome
    refused_users = {u for u in mail.to if contacts[u] in refused}
    outcome.recipients = [u for u in mail.to if u not in refused_users]
    outcome.unreachable = sorted({*mail.unreachable, *refused_users})
    outcome.message_id = mail.message_id
    outcome.state = "sent"
    outcome.body = ""
    outcome.leaf_index = append_record(ledger, signer, payload(refused_users), kind)
    return outcome


def _payload(
    digest: Digest, options: RemindOptions, mail: DigestMail, refused: set[str]
) -> dict[str, Any]:
    return {
        "agency": digest.agency,
        "as_of": digest.as_of.isoformat(),
        "within_days": options.within_days,
        "escalate_months": list(options.escalate_months),
        "actions": [item.payload() for item in digest.items],
        **mail.delivery(refused),
    }


def sign_record(
    ledger: Ledger, signer: Signer, payload: dict[str, Any], kind: str = Reminders.DigestSent.TYPE
) -> SignedEntry:
    """The record of a message to `payload["agency"]`, as its reminders' next entry."""
    aggregate_id = reminders_aggregate_id(payload["agency"])
    following = ledger.next_entry(aggregate_id)
    return signer.sign(
        kind,
        aggregate_id,
        following.version,
        payload,
        not_before=following.not_before,
    )


def check_record(ledger: Ledger, entry: SignedEntry) -> None:
    """The rule the ledger will apply on append, applied now (the ledger re-checks)."""
    directory = ledger.require_directory()
    actor, _ = directory.resolve(entry.body.actor, entry.body.key_id)
    event = to_domain_event(entry)
    event.check(ledger.get(entry.body.aggregate_id), RuleContext(actor, directory, ledger.plan()))


def append_record(
    ledger: Ledger, signer: Signer, payload: dict[str, Any], kind: str = Reminders.DigestSent.TYPE
) -> int:
    """Append the record; re-sign once on a concurrent append to the same agency."""
    for attempt in (1, 2):
        try:
            return ledger.append([sign_record(ledger, signer, payload, kind)])[0].leaf_index
        except VersionConflict:
            if attempt == 2:
                raise RecordingFailed(
                    f"{payload['agency']}: sent as {payload['message_id']} but not recorded: "
                    "concurrent appends to the same agency's reminders"
                ) from None
        except (DomainError, LedgerError) as error:
            raise RecordingFailed(
                f"{payload['agency']}: sent as {payload['message_id']} but not recorded: {error}"
            ) from None
    raise AssertionError("unreachable")


def _same_digest_sent(ledger: Ledger, digest: Digest, days: int) -> datetime | None:
    """When the same content was last recorded for this agency, if within `days`."""
    content = digest.content()
    return last_sent_within(
        ledger, digest.agency, days, lambda r: r.digests, lambda record: record.items == content
    )


Record = TypeVar("Record", DigestRecord, UpdateRequestRecord)


def last_sent_within(
    ledger: Ledger,
    agency: str,
    days: int,
    records: Callable[[Reminders], list[Record]],
    same: Callable[[Record], bool],
) -> datetime | None:
    """When a message `same` says repeats this one was last recorded in the agency's
    `records` (its digests, update requests or chases of actions arising), if within
    `days` (0: never a repeat): the newest first, stopping at the first older one."""
    reminders = cast(Reminders | None, ledger.get(reminders_aggregate_id(agency)))
    if reminders is None or days <= 0:
        return None
    since = ledger.clock() - timedelta(days=days)
    for record in reversed(records(reminders)):
        if record.sent_at < since:
            return None
        if same(record):
            return record.sent_at
    return None
