"""The audit's command-line options, shared by ``python -m ledger.auditor`` and the
project's ``inquiry-ledger verify-bundle`` so the two never drift apart."""

from __future__ import annotations

import argparse
from pathlib import Path

from ledger.auditor.audit import audit
from ledger.auditor.findings import AuditReport


class OptionError(Exception):
    """A file named on the command line cannot be read."""


def read_option_file(path: str, what: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise OptionError(f"cannot read the {what} {path}: {error.strerror}") from None


def add_audit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", help="the bundle folder or .zip")
    parser.add_argument(
        "--log-key",
        help="the log's verifier key file you pinned (one key a line; old and new after a "
        "rotation). Without it the verdict is never OK",
    )
    parser.add_argument(
        "--trust",
        help="the roots of authority you pinned: a file of public keys, one base64 key a "
        "line (the chair's charter key, as the chair published it). Without it the verdict "
        "is never OK",
    )
    parser.add_argument(
        "--since",
        action="append",
        help="a checkpoint note saved earlier (repeatable: yours, other witnesses'): "
        "prove no rewrite, and no split view between them",
    )
    parser.add_argument(
        "--witness-key",
        action="append",
        help="a witness key file (repeatable): each must have cosigned a checkpoint of the "
        "bundle, unless --witnesses K asks for K of them",
    )
    parser.add_argument(
        "--witnesses",
        type=int,
        metavar="K",
        help="how many of the pinned witnesses must have cosigned (default: all)",
    )
    parser.add_argument("--evidence", action="store_true", help="re-hash every blob in the bundle")


def audit_from_options(args: argparse.Namespace) -> AuditReport:
    """Run the audit the parsed options ask for; OptionError if a named file is missing."""
    return audit(
        Path(args.bundle),
        log_key=read_option_file(args.log_key, "log verifier key") if args.log_key else None,
        since=[read_option_file(path, "saved checkpoint") for path in args.since or []],
        witness_keys=[
            read_option_file(path, "witness key").strip() for path in args.witness_key or []
        ],
        evidence=args.evidence,
        trust=read_option_file(args.trust, "trust file") if args.trust else None,
        witnesses_required=args.witnesses,
    )
