"""``python -m ledger.auditor BUNDLE --log-key FILE``: the audit with nothing else of the
project installed (the standard library and `cryptography`). Exits 1 on any problem."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ledger.auditor.audit import audit
from ledger.auditor.findings import problem_lines, summary_lines, verdict_line, write_report


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise SystemExit(f"cannot read the {what} {path}: {error.strerror}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ledger.auditor",
        description="Verify an inquiry-ledger audit bundle independently.",
    )
    parser.add_argument("bundle", help="the bundle folder or .zip")
    parser.add_argument("--log-key", help="the log's verifier key file you pinned (recommended)")
    parser.add_argument(
        "--since",
        action="append",
        help="a checkpoint note saved earlier (repeatable): prove no rewrite, no split view",
    )
    parser.add_argument(
        "--witness-key",
        action="append",
        help="a witness key file to check cosignatures against (repeatable)",
    )
    parser.add_argument("--evidence", action="store_true", help="re-hash every blob in the bundle")
    parser.add_argument("--report", help="folder for the JSON and HTML report")
    args = parser.parse_args(argv)
    bundle = Path(args.bundle)
    if not bundle.exists():
        print(f"no bundle at {bundle}", file=sys.stderr)
        return 2
    report = audit(
        bundle,
        log_key=_read(args.log_key, "log verifier key") if args.log_key else None,
        since=[_read(path, "saved checkpoint") for path in args.since or []],
        witness_keys=[_read(path, "witness key").strip() for path in args.witness_key or []],
        evidence=args.evidence,
    )
    print("\n".join(summary_lines(report)))
    for line in problem_lines(report):
        print(line, file=sys.stderr)
    if args.report:
        print(f"report: {write_report(report, Path(args.report))}")
    print(verdict_line(report))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
