"""`verify`, `checkpoint`, `export` and `verify-bundle`: checking the log, signing its
checkpoints, and the audit bundle an outsider verifies on their own."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path
from typing import Any

from api.application.checkpoints import held_log_signer
from api.cli.common import (
    EXIT_FAILED_CHECK,
    EXIT_NOT_SET_UP,
    CliError,
    Parsers,
    Subparsers,
    config_from,
    evidence_store,
    log_signer,
    open_ledger,
    read_text,
    remote_for,
)
from ledger.auditor.findings import (
    directory_lines,
    problem_lines,
    summary_lines,
    verdict_line,
    write_report,
)
from ledger.auditor.options import OptionError, add_audit_options, audit_from_options
from ledger.auditor.rotation import LogKeyError, parse_verifier_keys
from ledger.bundle import ExportError, export_bundle, replay_rules
from ledger.logkeys import home_keys, ledger_keys
from ledger.verify import verify_ledger


def cmd_checkpoint(args: argparse.Namespace) -> int:
    remote = remote_for(args)
    if remote is not None:
        with remote:
            print(remote.sign_checkpoint(), end="")
        return 0
    config = config_from(args)
    with open_ledger(config) as ledger:
        stored = ledger.sign_checkpoint(log_signer(ledger, config))
        print(stored.note, end="")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    config = config_from(args)

    vkey_path = Path(args.log_key) if args.log_key else config.log_vkey_path
    try:
        # A pinned file may list several keys (old and new); by default the home's
        # log.vkey and every retired key in log.vkey.history.
        pinned = parse_verifier_keys(vkey_path.read_text()) if args.log_key else home_keys(config)
    except OSError as error:
        raise CliError(
            f"cannot read the log's verifier key {vkey_path}: {error.strerror}", EXIT_NOT_SET_UP
        ) from None
    with open_ledger(config) as ledger:
        try:
            vkey = ledger_keys(ledger.tables, pinned)
        except LogKeyError as error:
            raise CliError(str(error), EXIT_FAILED_CHECK) from None
        report = verify_ledger(ledger, vkey, workers=args.workers)
    if args.json:
        print(
            json.dumps(
                {**vars(report), "ok": report.ok, "problems": [vars(p) for p in report.problems]},
                indent=2,
            )
        )
    else:
        print(
            f"entries: {report.entries}  signatures verified: {report.signatures_verified}  "
            f"rules checked: {report.rules_checked}  checkpoints verified: "
            f"{report.checkpoints_verified} (latest covers {report.latest_checkpoint_size})"
            + (
                f"  post-quantum signatures verified: {report.pq_checkpoints_verified}"
                if report.pq_checkpoints_verified
                else ""
            )
        )
        if report.uncovered_entries:
            print(
                f"note: {report.uncovered_entries} entries after the latest checkpoint; "
                "run: inquiry-ledger checkpoint"
            )
        if report.ok:
            print("OK: every signature, rule, leaf and checkpoint verifies")
        else:
            first = report.first_problem()
            print(f"FAILED: {len(report.problems)} problem(s); first bad: {first}", file=sys.stderr)
            for problem in report.problems:
                print(f"  {problem}", file=sys.stderr)
    return 0 if report.ok else EXIT_FAILED_CHECK


def cmd_export(args: argparse.Namespace) -> int:
    remote = remote_for(args)
    if remote is not None:
        from api.cli.remote import RemoteEvidence, RemoteSource

        if not args.log_key:
            raise CliError("export through a server needs --log-key (the key you pinned)")
        vkey = read_text(args.log_key, "log verifier key")
        with remote:
            reader = RemoteEvidence(remote).read if args.evidence else None
            source = RemoteSource(remote)
            try:
                summary = export_bundle(
                    source,
                    vkey,
                    Path(args.out),
                    blobs=reader,
                    sign_checkpoint=source.request_checkpoint,
                )
            except ExportError as error:
                raise CliError(str(error)) from None
        _print_export(summary)
        return 0
    config = config_from(args)
    try:
        vkey = config.log_vkey_path.read_text()
    except OSError as error:
        raise CliError(
            f"cannot read the log's verifier key {config.log_vkey_path}: {error.strerror}",
            EXIT_NOT_SET_UP,
        ) from None
    with open_ledger(config) as ledger:
        blobs = evidence_store(ledger).read if args.evidence else None
        signer = held_log_signer(ledger, config)  # a fresh checkpoint if the log grew
        sign = None if signer is None else functools.partial(ledger.sign_checkpoint, signer)
        try:
            summary = export_bundle(ledger, vkey, Path(args.out), blobs=blobs, sign_checkpoint=sign)
        except ExportError as error:
            raise CliError(str(error)) from None
    _print_export(summary)
    return 0


def _print_export(summary: Any) -> None:
    print(
        f"exported {summary.entries} entries, {summary.checkpoints} checkpoints and "
        f"{summary.evidence_listed} evidence records ({summary.evidence_blobs} blobs) "
        f"to {summary.path}"
    )


def cmd_verify_bundle(args: argparse.Namespace) -> int:
    bundle = Path(args.bundle)
    if not bundle.exists():
        raise CliError(f"no bundle at {bundle}")
    try:
        report = audit_from_options(args)
    except OptionError as error:
        raise CliError(str(error)) from None
    if report.hostile is not None:  # one line (ledger/auditor/limits.py); no partial report
        print(report.hostile, file=sys.stderr)
        return EXIT_FAILED_CHECK
    if args.rules and report.entries:
        replay_rules(bundle, report)
    page = write_report(report, Path(args.report))
    print("\n".join(summary_lines(report) + directory_lines(report)))
    for line in problem_lines(report):
        print(line, file=sys.stderr)
    print(f"report: {page}")
    print(verdict_line(report))
    return 0 if report.ok else EXIT_FAILED_CHECK


def _add_checkpoint(sub: Subparsers) -> None:
    p = sub.add_parser("checkpoint", help="sign a checkpoint of the log as it is now")
    p.set_defaults(func=cmd_checkpoint)


def _add_verify(sub: Subparsers) -> None:
    p = sub.add_parser("verify", help="re-check every signature, rule, leaf and checkpoint")
    p.add_argument(
        "--log-key", help="the log's verifier key file you pinned (default HOME/log.vkey)"
    )
    p.add_argument("--workers", type=int, default=None, help="signature-checking processes")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify)


def _add_export(sub: Subparsers) -> None:
    p = sub.add_parser("export", help="write an audit bundle of the whole log")
    p.add_argument("--out", required=True, help="a new folder, or a file ending in .zip")
    p.add_argument("--log-key", help="with --server: the log's verifier key you pinned")
    p.add_argument("--evidence", action="store_true", help="include every evidence blob")
    p.set_defaults(func=cmd_export)


def _add_verify_bundle(sub: Subparsers) -> None:
    p = sub.add_parser("verify-bundle", help="verify an audit bundle independently")
    add_audit_options(p)
    p.add_argument(
        "--rules", action="store_true", help="also replay the lifecycle rules (domain code)"
    )
    p.add_argument("--report", default=".", help="folder for the JSON and HTML report")
    p.set_defaults(func=cmd_verify_bundle)


PARSERS: Parsers = {
    "checkpoint": _add_checkpoint,
    "verify": _add_verify,
    "export": _add_export,
    "verify-bundle": _add_verify_bundle,
}
