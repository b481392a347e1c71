"""`inquiry-ledger report`: the progress report (HTML or PDF) from the newest signed
checkpoint (signed first if the log has grown and the log key is at hand: locally, or on
the server), locally or through a server (--server), written completely or not at all."""

from __future__ import annotations

import argparse

from api.application.checkpoints import held_log_signer
from api.application.reports import progress_report, report_format, write_atomically
from api.cli.common import (
    EXIT_FAILED_CHECK,
    CliError,
    Parsers,
    Subparsers,
    config_from,
    moment,
    open_ledger,
    output_file,
    remote_for,
)
from ledger.auditor.note import NoteError
from projections.report import ReportError


def cmd_report(args: argparse.Namespace) -> int:
    out = output_file(args.out)
    try:
        fmt = report_format(out)
    except ReportError as error:
        raise CliError(str(error)) from None
    as_of = moment(args.as_of)
    since = moment(args.since) if args.since else None
    if since is not None and since >= as_of:
        raise CliError("--since must be before --as-of")
    remote = remote_for(args)
    if remote is not None:  # the server signs a fresh checkpoint first if the log grew
        params = {"as_of": args.as_of, "format": fmt}
        if args.since:
            params["since"] = args.since
        with remote:
            content, headers = remote.document("/v1/report", params)
        size, log_size = headers.get("x-checkpoint-size", "?"), headers.get("x-log-size", "?")
    else:
        config = config_from(args)
        with open_ledger(config) as ledger:
            signer = held_log_signer(ledger, config)  # a fresh checkpoint if the log grew
            if args.checkpoint and signer is None:
                raise CliError(f"--checkpoint needs the log key {config.log_key_path}")
            try:
                built = progress_report(ledger, config, as_of=as_of, since=since, signer=signer)
            except ReportError as error:
                raise CliError(str(error)) from None
            except NoteError as error:
                raise CliError(
                    f"the latest checkpoint does not verify: {error}", EXIT_FAILED_CHECK
                ) from None
        from projections.report_render import render  # WeasyPrint, matplotlib: heavy

        content, _ = render(built, fmt)
        size, log_size = str(built.checkpoint.size), str(built.checkpoint.log_size)
    write_atomically(out, content)
    print(f"wrote {out} ({fmt}, {len(content)} bytes): as of {as_of.isoformat()}")
    print(f"built from the signed checkpoint of size {size} (the log holds {log_size} entries)")
    if size != log_size:
        print(
            "note: the log has grown since that checkpoint (no log key here to sign a "
            "fresh one); the report says so"
        )
    return 0


def _add_report(sub: Subparsers) -> None:
    p = sub.add_parser("report", help="the progress report (HTML or PDF) from a signed checkpoint")
    p.add_argument("--as-of", required=True, help="DATE (end of that day, UTC) or DATE-TIME")
    p.add_argument("--out", required=True, help="FILE.html or FILE.pdf")
    p.add_argument("--since", help="the previous report's date (default: 6 months before)")
    p.add_argument(
        "--checkpoint",
        action="store_true",
        help="insist on a fresh checkpoint (already the default wherever the log key is: "
        "locally with HOME/keys/log.key, and on the server)",
    )
    p.set_defaults(func=cmd_report)


PARSERS: Parsers = {"report": _add_report}
