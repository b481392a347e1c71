"""`receipts list` and `receipts check`: the receipts this side kept for its appends, and
whether the log still holds every one at its place (api/application/receipts.py says
where they are kept and what the check proves). Locally or through a server (--server):
the check trusts only the log key you pin."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from api.application.receipts import (
    LedgerLog,
    ReceiptBook,
    check_receipts,
)
from api.application.render import table
from api.cli.common import (
    EXIT_FAILED_CHECK,
    EXIT_NOT_SET_UP,
    CliError,
    Parsers,
    Subparsers,
    config_from,
    open_ledger,
    read_text,
    receipt_book,
    remote_for,
)
from ledger.auditor.rotation import LogKeyError, LogKeys, parse_verifier_keys
from ledger.logkeys import home_keys, ledger_keys


def _book(args: argparse.Namespace, ledger: Any) -> ReceiptBook:
    """--file, else $INQUIRY_LEDGER_RECEIPTS, else HOME/receipts/<the log's origin>.jsonl."""
    if args.file:
        return ReceiptBook(Path(args.file))
    return receipt_book(args, ledger.origin())


def _source(args: argparse.Namespace) -> Any:
    remote = remote_for(args)
    return remote if remote is not None else open_ledger(config_from(args))


def cmd_receipts_list(args: argparse.Namespace) -> int:
    with _source(args) as ledger:
        book = _book(args, ledger)
    kept, problems = book.read()
    for problem in problems:
        print(problem, file=sys.stderr)
    if not kept:
        print(f"no receipts in {book.path}")
        return EXIT_FAILED_CHECK if problems else 0
    print(
        table(
            ["Leaf", "Entry", "Aggregate", "Checkpoint", "Line"],
            [
                (
                    k.receipt.leaf_index,
                    f"{k.type} v{k.version}",
                    k.aggregate_id,
                    k.receipt.claimed_checkpoint().size,
                    k.line,
                )
                for k in kept
            ],
        )
    )
    print(f"{len(kept)} receipts in {book.path}")
    return EXIT_FAILED_CHECK if problems else 0


def cmd_receipts_check(args: argparse.Namespace) -> int:
    remote = remote_for(args)
    if remote is not None and not args.log_key:
        raise CliError("receipts check through a server needs --log-key (the key you pinned)")
    pinned = (
        parse_verifier_keys(read_text(args.log_key, "log verifier key"))
        if args.log_key
        else _home_keys(args)
    )
    with _source(args) as ledger:
        book = _book(args, ledger)
        kept, unreadable = book.read()
        if not kept and not unreadable:
            print(f"no receipts in {book.path}")
            return 0
        try:
            if remote is not None:
                from api.cli.remote import RemoteSource

                keys = LogKeys(pinned, RemoteSource(remote).log_key_rotations())
                result = check_receipts(kept, keys, remote)
            else:
                result = check_receipts(kept, ledger_keys(ledger.tables, pinned), LedgerLog(ledger))
        except LogKeyError as error:
            raise CliError(str(error), EXIT_FAILED_CHECK) from None
    for problem in unreadable + result.problems:
        print(f"PROBLEM {problem}", file=sys.stderr)
    if kept:
        print(result.summary())
    return 0 if result.ok and not unreadable else EXIT_FAILED_CHECK


def _home_keys(args: argparse.Namespace) -> Any:
    config = config_from(args)
    try:
        return home_keys(config)
    except OSError as error:
        raise CliError(
            f"cannot read the log's verifier key {config.log_vkey_path}: {error.strerror}; "
            "pass --log-key FILE (the key you pinned)",
            EXIT_NOT_SET_UP,
        ) from None


def _add_receipts(sub: Subparsers) -> None:
    receipts = sub.add_parser("receipts", help="the receipts kept for your appends")
    receipts_sub = receipts.add_subparsers(dest="receipts_cmd", required=True)
    file_help = (
        "the receipts file (default $INQUIRY_LEDGER_RECEIPTS, else "
        "HOME/receipts/<the log's origin>.jsonl)"
    )
    p = receipts_sub.add_parser("list", help="list the receipts kept")
    p.add_argument("--file", help=file_help)
    p.set_defaults(func=cmd_receipts_list)
    p = receipts_sub.add_parser(
        "check", help="prove every receipt's entry is still in the log at its place"
    )
    p.add_argument(
        "--log-key",
        help="the log's verifier key file you pinned (required with --server; "
        "locally default HOME/log.vkey and its history)",
    )
    p.add_argument("--file", help=file_help)
    p.set_defaults(func=cmd_receipts_check)


PARSERS: Parsers = {"receipts": _add_receipts}
