"""The `remind` command: arguments, exit status and what it prints.

    inquiry-ledger --as USER --key KEYFILE remind [--within 30] [--escalate 3,6,9]
        [--as-of DATE] [--contacts FILE] [--agency ID] [--repeat-after 7] [--dry-run]
        [--wait 10] [--updates [--updated-since DATE] | --arisings] [--base-url URL]

With --updates it asks for narrative updates instead (api/application/update_requests.py):
one message per agency listing its actions due or overdue that have no update signed
this period, each with its link into the pages. With --arisings it chases the agencies'
open actions arising from sessions instead (api/application/arising_reminders.py), up
the same escalation ladder, each with the link to its session where --base-url is known.

It prints, per agency, what was sent to whom (user ids, never addresses), what was
skipped and why. Exit status: 0 every digest due was sent (or was a repeat); 5 a digest
was not delivered (server unreachable or refusing, or nobody with an address); 6
another remind run was still sending after --wait seconds, so this one sent nothing
(run it again later: what the other sent it will skip as repeats); 2, 3, 4 as for every
command (bad input, refused by the ledger, not set up).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from api.application.arising_reminders import chase_arisings
from api.application.contacts import ContactsError, load_contacts
from api.application.mailer import SmtpConfigError, SmtpSettings
from api.application.remind import (
    OTHER_RUN_WAIT_SECONDS,
    Outcome,
    RecordingFailed,
    RemindInProgress,
    RemindOptions,
    remind,
)
from api.application.update_requests import UpdateRequestOptions, request_updates
from api.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_NOT_SET_UP,
    EXIT_REFUSED,
    CliError,
    Parsers,
    Subparsers,
    config_from,
    open_ledger,
    signer_for,
)
from domain.errors import DomainError
from domain.reminders import DEFAULT_ESCALATION_MONTHS, MAX_WITHIN_DAYS, check_escalation_months
from projections.reminders import REASONS

EXIT_NOT_DELIVERED = 5
BASE_URL_ENV = "INQUIRY_LEDGER_BASE_URL"
EXIT_IN_PROGRESS = 6


def _add_remind(sub: Subparsers) -> None:
    p = sub.add_parser(
        "remind",
        help="email each agency a digest of due and overdue actions (recorded in the ledger)",
    )
    p.add_argument("--within", type=int, default=30, help="due within N days (default 30)")
    p.add_argument(
        "--escalate",
        default=",".join(str(m) for m in DEFAULT_ESCALATION_MONTHS),
        help="months overdue for each escalation level (default 3,6,9)",
    )
    p.add_argument("--as-of", help="the date to judge due and overdue by (default today, UTC)")
    p.add_argument("--contacts", help="CSV user_id,email (default HOME/contacts.csv)")
    p.add_argument("--agency", help="only this agency (its id)")
    p.add_argument(
        "--repeat-after",
        type=int,
        default=7,
        help="do not resend the same digest within N days (default 7; 0 always sends)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the digests; send nothing")
    p.add_argument(
        "--wait",
        type=float,
        default=OTHER_RUN_WAIT_SECONDS,
        help=f"seconds to wait for another remind run to finish (default "
        f"{OTHER_RUN_WAIT_SECONDS:g}; then exit 6, sending nothing)",
    )
    p.add_argument(
        "--updates",
        action="store_true",
        help="instead of the digest: ask each agency for a narrative update of its actions "
        "due within --within days or overdue that have none since --updated-since "
        "(recorded as reminder.update_requested)",
    )
    p.add_argument(
        "--arisings",
        action="store_true",
        help="instead of the digest: chase each agency's open actions arising (of sessions) "
        "due within --within days or overdue, up the same --escalate ladder "
        "(recorded as reminder.arisings_chased)",
    )
    p.add_argument(
        "--updated-since",
        help="with --updates: the period's first day; an update signed on or after it "
        "counts (default the first day of the --as-of month)",
    )
    p.add_argument(
        "--base-url",
        help="the pages' address, for the links to each action (or session) in the message "
        f"(default ${BASE_URL_ENV}; required with --updates)",
    )
    p.set_defaults(func=cmd_remind)


def _options(args: argparse.Namespace) -> RemindOptions:
    try:
        months = [int(part) for part in args.escalate.split(",")]
    except ValueError:
        raise CliError(f"--escalate takes months like 3,6,9, not {args.escalate!r}") from None
    try:
        check_escalation_months(months)
    except DomainError as error:
        raise CliError(f"--escalate: {error.message}") from None
    if not 0 <= args.within <= MAX_WITHIN_DAYS:
        raise CliError(f"--within must be 0-{MAX_WITHIN_DAYS} days")
    if args.repeat_after < 0:
        raise CliError("--repeat-after must be 0 or more days")
    if not 0 <= args.wait <= 3600:
        raise CliError("--wait must be 0-3600 seconds")
    as_of = datetime.now(UTC).date()
    if args.as_of:
        try:
            as_of = date.fromisoformat(args.as_of)
        except ValueError:
            raise CliError(f"--as-of takes a date YYYY-MM-DD, not {args.as_of!r}") from None
    return RemindOptions(
        as_of=as_of,
        within_days=args.within,
        escalate_months=tuple(months),
        repeat_after_days=args.repeat_after,
        agency=args.agency,
        dry_run=args.dry_run,
        base_url=_links_url(args),
    )


def _update_options(args: argparse.Namespace, base: RemindOptions) -> UpdateRequestOptions:
    base_url = args.base_url or os.environ.get(BASE_URL_ENV, "")
    if not base_url.startswith(("https://", "http://")):
        raise CliError(
            f"--updates links into the pages: give --base-url https://... or set {BASE_URL_ENV}"
        )
    since = None
    if args.updated_since:
        try:
            since = date.fromisoformat(args.updated_since)
        except ValueError:
            raise CliError(
                f"--updated-since takes a date YYYY-MM-DD, not {args.updated_since!r}"
            ) from None
    return UpdateRequestOptions(
        as_of=base.as_of,
        base_url=base_url,
        within_days=base.within_days,
        updated_since=since,
        repeat_after_days=base.repeat_after_days,
        agency=base.agency,
        dry_run=base.dry_run,
    )


def cmd_remind(args: argparse.Namespace) -> int:
    options = _options(args)
    if args.updates and args.arisings:
        raise CliError("--updates and --arisings are two runs: give one")
    updates = _update_options(args, options) if args.updates else None

    config = config_from(args)
    contacts_path = Path(args.contacts) if args.contacts else config.home / "contacts.csv"
    smtp = None
    try:
        if not options.dry_run:
            smtp = SmtpSettings.from_env(os.environ)
        contacts = load_contacts(contacts_path)
    except SmtpConfigError as error:
        raise CliError(str(error), EXIT_NOT_SET_UP) from None
    except ContactsError as error:
        raise CliError(str(error), EXIT_BAD_INPUT) from None
    with open_ledger(config) as ledger:
        signer = None if options.dry_run else signer_for(args, config, ledger.origin())
        try:
            if updates is not None:
                outcomes = request_updates(
                    ledger, updates, contacts=contacts, signer=signer, smtp=smtp, wait=args.wait
                )
            elif args.arisings:
                outcomes = chase_arisings(
                    ledger,
                    options,
                    base_url=options.base_url,
                    contacts=contacts,
                    signer=signer,
                    smtp=smtp,
                    wait=args.wait,
                )
            else:
                outcomes = remind(
                    ledger, options, contacts=contacts, signer=signer, smtp=smtp, wait=args.wait
                )
        except RecordingFailed as error:
            raise CliError(str(error), EXIT_REFUSED) from None
        except RemindInProgress as error:
            raise CliError(str(error), EXIT_IN_PROGRESS) from None
        except ValueError as error:
            raise CliError(str(error)) from None
    kind = "updates" if updates is not None else "arisings" if args.arisings else "digest"
    return _report(outcomes, options, kind)


def _links_url(args: argparse.Namespace) -> str | None:
    """The pages' address for a digest's or --arisings' links, if one is given (optional
    there; --updates requires it)."""
    base_url = args.base_url or os.environ.get(BASE_URL_ENV, "")
    if base_url and not base_url.startswith(("https://", "http://")):
        raise CliError(f"--base-url must start with https:// or http://, not {base_url!r}")
    return base_url or None


def _report(outcomes: list[Outcome], options: RemindOptions, kind: str = "digest") -> int:
    scope = f" for {options.agency}" if options.agency else ""
    if not outcomes:
        lacking = {
            "updates": " without a narrative update this period",
            "arisings": " among the open actions arising",
        }.get(kind, "")
        print(f"nothing due within {options.within_days} days or overdue{lacking}{scope}")
        return 0
    for outcome in outcomes:
        digest = outcome.digest
        if outcome.state == "dry_run":
            print(f"=== {outcome.agency} (dry run: not sent, not recorded)")
            if digest is not None:
                print("to: " + ", ".join(_who(r.user_id, r.reason) for r in digest.recipients))
            else:
                print("to: " + ", ".join(outcome.recipients))
            print(outcome.body)
        elif outcome.state == "sent":
            print(
                f"{outcome.agency}: sent to {', '.join(outcome.recipients)} "
                f"({outcome.message_id}); recorded as entry {outcome.leaf_index}"
            )
        elif outcome.state == "repeat":
            print(f"{outcome.agency}: skipped: {outcome.detail}")
        else:
            print(f"{outcome.agency}: NOT SENT: {outcome.detail}", file=sys.stderr)
        if outcome.unreachable:
            missed = ", ".join(outcome.unreachable)
            why = "no email address" if outcome.state == "dry_run" else "no address or refused"
            print(f"{outcome.agency}: not reached ({why}): {missed}", file=sys.stderr)
    return 0 if all(o.delivered for o in outcomes) else EXIT_NOT_DELIVERED


def _who(user_id: str, reason: str) -> str:
    return f"{user_id} ({REASONS[reason]})"


PARSERS: Parsers = {"remind": _add_remind}
