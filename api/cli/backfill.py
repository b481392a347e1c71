"""`backfill`: an inquiry's past, from the documents that reported it, as signed entries
that say when each thing happened apart from when it is recorded (domain/backfill.py).

    inquiry-ledger --as sig backfill baseline.csv --source "Report to Full Council, 10 Nov 2022"
    inquiry-ledger --as sig backfill --action R3.1 --status in_progress --on 2022-11-10 \\
        --source "Report to Full Council, 10 Nov 2022" --note "Pathway reviewed"

A file is all or nothing, like `import`: every bad cell is named and nothing is signed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from api.application.backfill import Fact, backfill, read_facts
from api.application.plan_import import ImportRejected
from api.cli.common import (
    CliError,
    Parsers,
    Subparsers,
    config_from,
    keep_receipts,
    open_ledger,
    print_appended,
    receipted,
    remote_for,
    signer_for,
)
from domain.backfill import BACKFILLABLE


def cmd_backfill(args: argparse.Namespace) -> int:
    facts = _facts(args)
    config = config_from(args)
    remote = remote_for(args)
    with remote if remote is not None else open_ledger(config) as ledger:
        try:
            results = backfill(ledger, signer_for(args, config, ledger.origin()), facts)
        except ImportRejected as rejected:
            for error in rejected.errors:
                print(f"{args.file or 'backfill'}: {error}", file=sys.stderr)
            raise CliError(str(rejected)) from None
        results = receipted(ledger, config, results)
        if args.file:
            print(f"backfilled {len(results)} facts from {args.file}")
            keep_receipts(results, args)
        else:
            print_appended(results, args)
    return 0


def _facts(args: argparse.Namespace) -> list[Fact]:
    one = (args.action, args.status, args.on)
    if args.file:
        if any(one):
            raise CliError("give a FILE or --action/--status/--on, not both")
        try:
            return read_facts(
                Path(args.file),
                source=args.source,
                sheet=args.sheet,
                warn=lambda warning: print(f"{args.file}: {warning}", file=sys.stderr),
            )
        except ImportRejected as rejected:
            for error in rejected.errors:
                print(f"{args.file}: {error}", file=sys.stderr)
            raise CliError(str(rejected)) from None
        except OSError as error:
            raise CliError(f"cannot read {args.file}: {error.strerror}") from None
    if not all(one) or not args.source:
        raise CliError("backfill one fact with --action, --status, --on and --source (or a FILE)")
    return [Fact(args.action, args.status, args.on, args.source, args.note)]


def _add_backfill(sub: Subparsers) -> None:
    p = sub.add_parser(
        "backfill",
        help="record the plan's past from a source, dated when it happened (signed)",
        description=(
            "Each fact is an action.backfilled entry: the status a source reported for a "
            "date. `status --as-of DATE --occurred` shows what had happened by then."
        ),
    )
    p.add_argument(
        "file", nargs="?", help="CSV or workbook: action_id,status,occurred_on[,source,note]"
    )
    p.add_argument("--sheet", help="the workbook's sheet (.xlsx of several sheets)")
    p.add_argument("--source", default="", help="the document cited (every row without one)")
    p.add_argument("--action", help="one fact: the action (R1.1)")
    p.add_argument(
        "--status", choices=sorted(s.value for s in BACKFILLABLE), help="one fact: its status"
    )
    p.add_argument("--on", help="one fact: the date the source reports it for (YYYY-MM-DD)")
    p.add_argument("--note", default="", help="one fact: what the source says, in a line")
    p.set_defaults(func=cmd_backfill)


PARSERS: Parsers = {"backfill": _add_backfill}
