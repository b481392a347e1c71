"""``python -m ledger.auditor BUNDLE --log-key FILE --trust FILE``: the audit with nothing
else of the project installed (the standard library and `cryptography`). Exits 0 only
when nothing is wrong AND both the log key and the roots of authority were pinned."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ledger.auditor.findings import (
    directory_lines,
    problem_lines,
    summary_lines,
    verdict_line,
    write_report,
)
from ledger.auditor.options import OptionError, add_audit_options, audit_from_options


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ledger.auditor",
        description="Verify an inquiry-ledger audit bundle independently.",
    )
    add_audit_options(parser)
    parser.add_argument("--report", help="folder for the JSON and HTML report")
    args = parser.parse_args(argv)
    if not Path(args.bundle).exists():
        print(f"no bundle at {args.bundle}", file=sys.stderr)
        return 2
    try:
        report = audit_from_options(args)
    except OptionError as error:
        print(error, file=sys.stderr)
        return 2
    if report.hostile is not None:  # one line: nothing else of a partial audit is told
        print(report.hostile, file=sys.stderr)
        return 1
    print("\n".join(summary_lines(report) + directory_lines(report)))
    for line in problem_lines(report):
        print(line, file=sys.stderr)
    if args.report:
        print(f"report: {write_report(report, Path(args.report))}")
    print(verdict_line(report))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
