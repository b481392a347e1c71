"""`import`: recommendations or actions from CSV (or a spreadsheet), signed, all or nothing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from api.application.plan_import import ImportRejected, import_csv
from api.cli.common import (
    CliError,
    Parsers,
    Subparsers,
    config_from,
    keep_receipts,
    open_ledger,
    receipted,
    remote_for,
    signer_for,
)


def cmd_import(args: argparse.Namespace) -> int:
    config = config_from(args)
    remote = remote_for(args)
    with remote if remote is not None else open_ledger(config) as ledger:
        try:
            results = import_csv(
                ledger,
                signer_for(args, config, ledger.origin()),
                Path(args.file),
                title=args.title,
                source=args.source,
                recommendations_expected=args.expected,
            )
        except ImportRejected as rejected:
            if len(rejected.errors) == 1 and rejected.errors[0].row == 0:
                # The file as a whole (not a workbook, damaged, the wrong sheet): one line.
                whole = rejected.errors[0]
                said = whole.message if whole.column == "file" else str(whole)
                raise CliError(f"{args.file}: {said}; nothing was imported") from None
            for error in rejected.errors:
                print(f"{args.file}: {error}", file=sys.stderr)
            raise CliError(str(rejected)) from None
        except OSError as error:
            raise CliError(f"cannot read {args.file}: {error.strerror}") from None
        print(f"imported {len(results)} entries from {args.file}")
        keep_receipts(receipted(ledger, config, results), args)
    return 0


def _add_import(sub: Subparsers) -> None:
    p = sub.add_parser("import", help="import recommendations or actions from CSV (signed)")
    p.add_argument("file")
    p.add_argument("--title", default="", help="plan title (first import)")
    p.add_argument("--source", default="", help="where the plan comes from (first import)")
    p.add_argument(
        "--expected",
        type=int,
        default=0,
        help="how many recommendations the inquiry made (first import)",
    )
    p.set_defaults(func=cmd_import)


PARSERS: Parsers = {"import": _add_import}
