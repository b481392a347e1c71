"""`import`: recommendations or actions from CSV (or a spreadsheet), signed, all or nothing;
`template`: the blank files to fill in, which import as they come."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from api.application.plan_import import ImportRejected, import_csv
from api.application.plan_template import write_template
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
                sheet=args.sheet,
                warn=lambda warning: print(f"{args.file}: {warning}", file=sys.stderr),
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
    p.add_argument("--sheet", help="the workbook's sheet to import (.xlsx of several sheets)")
    p.set_defaults(func=cmd_import)


def cmd_template(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    try:
        written = write_template(folder)
    except FileExistsError as error:
        raise CliError(f"{error.args[0]} exists: not overwritten (choose another folder)") from None
    except OSError as error:
        raise CliError(f"cannot write to {folder}: {error.strerror}") from None
    recommendations, actions, workbook = (str(path) for path in written)
    print(f"wrote {recommendations}, {actions} and {workbook} (both sheets)")
    print("fill in one row for each recommendation and action (each file's notes say how), then:")
    print(f"  inquiry-ledger import {recommendations} --title TITLE --expected N")
    print(f"  inquiry-ledger import {actions}")
    print(f"or, from the workbook: import {workbook} --sheet recommendations, then --sheet actions")
    return 0


def _add_template(sub: Subparsers) -> None:
    p = sub.add_parser(
        "template", help="write blank recommendations and actions files to fill in and import"
    )
    p.add_argument("folder", help="where to write them (made if need be; nothing is overwritten)")
    p.set_defaults(func=cmd_template)


PARSERS: Parsers = {"import": _add_import, "template": _add_template}
