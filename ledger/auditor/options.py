"""The audit's command-line options, shared by ``python -m ledger.auditor`` and the
project's ``inquiry-ledger verify-bundle`` so the two never drift apart."""

from __future__ import annotations

import argparse
from pathlib import Path

from ledger.auditor.audit import audit
from ledger.auditor.findings import AuditReport
from ledger.auditor.limits import MEMORY_BUDGET, memory_budget


class OptionError(Exception):
    """A file named on the command line cannot be read, or the options contradict."""


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
        "--pq-log-key",
        help="the log's post-quantum (ML-DSA-44) verifier key file you pinned: every "
        "checkpoint since the key was added must carry its valid signature. Without it "
        "those signatures are not checked (the report says so)",
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
    parser.add_argument(
        "--max-memory",
        type=int,
        default=MEMORY_BUDGET // 2**20,
        metavar="MIB",
        help="memory the audit may take beyond what it starts with (default "
        f"{MEMORY_BUDGET // 2**20}; 0: no limit). Past it the bundle is refused as too large",
    )


def check_quorum(required: int | None, witness_keys: int) -> None:
    """``--witnesses K`` counts the witnesses pinned with ``--witness-key``: without them
    it would ask for nothing (and the audit would pass as if no witness were needed), and
    more than them can never be met. OptionError if so."""
    if required is None:
        return
    if witness_keys == 0:
        raise OptionError(
            f"--witnesses {required} needs the witnesses' keys: pin each with --witness-key "
            "FILE (repeatable); K of them must have cosigned"
        )
    if not 1 <= required <= witness_keys:
        raise OptionError(
            f"--witnesses {required}: K must be between 1 and the number of witness keys "
            f"pinned with --witness-key ({witness_keys})"
        )


def audit_from_options(args: argparse.Namespace) -> AuditReport:
    """Run the audit the parsed options ask for; OptionError if a named file is missing
    or the options contradict."""
    check_quorum(args.witnesses, len(args.witness_key or []))
    if args.max_memory < 0:
        raise OptionError("--max-memory is a number of MiB, 0 for no limit")
    log_key = read_option_file(args.log_key, "log verifier key") if args.log_key else None
    since = [read_option_file(path, "saved checkpoint") for path in args.since or []]
    witness_keys = [
        read_option_file(path, "witness key").strip() for path in args.witness_key or []
    ]
    trust = read_option_file(args.trust, "trust file") if args.trust else None
    pq_log_key = (
        read_option_file(args.pq_log_key, "post-quantum log key") if args.pq_log_key else None
    )
    # The backstop of limits.py: the address space may grow this much while the audit
    # (and its signature workers) runs, then the limit is put back.
    with memory_budget(args.max_memory * 2**20):
        return audit(
            Path(args.bundle),
            log_key=log_key,
            since=since,
            witness_keys=witness_keys,
            evidence=args.evidence,
            trust=trust,
            witnesses_required=args.witnesses,
            pq_log_key=pq_log_key,
        )
