"""`inquiry-ledger report` and `status --out`: the progress report and the status
spreadsheet, locally or through a server (--server), written completely or not at all."""

from __future__ import annotations

import argparse
from pathlib import Path

from api.application.reports import progress_report, report_format, write_atomically
from api.application.spreadsheet_export import EXPORT_FORMATS, render_export
from api.cli.main import (
    EXIT_FAILED_CHECK,
    CliError,
    _config,
    _log_signer,
    _open,
    _parse_moment,
    _remote,
)
from ledger.note import NoteError
from projections.report import ReportError
from projections.report_render import render
from projections.report_sheets import status_export


def _output(path_text: str) -> Path:
    out = Path(path_text)
    if not out.parent.is_dir():
        raise CliError(f"no folder {out.parent} to write {out.name} in")
    if out.is_dir():
        raise CliError(f"{out} is a folder; give a file name")
    return out


def cmd_report(args: argparse.Namespace) -> int:
    out = _output(args.out)
    try:
        fmt = report_format(out)
    except ReportError as error:
        raise CliError(str(error)) from None
    as_of = _parse_moment(args.as_of)
    since = _parse_moment(args.since) if args.since else None
    if since is not None and since >= as_of:
        raise CliError("--since must be before --as-of")
    remote = _remote(args)
    if remote is not None:
        if args.checkpoint:
            raise CliError(
                "--checkpoint signs with the log's key, which only the server holds: "
                "ask an administrator (inquiry-ledger checkpoint) or run report there"
            )
        params = {"as_of": args.as_of, "format": fmt}
        if args.since:
            params["since"] = args.since
        with remote:
            content, headers = remote.document("/v1/report", params)
        size, log_size = headers.get("x-checkpoint-size", "?"), headers.get("x-log-size", "?")
    else:
        config = _config(args)
        with _open(config) as ledger:
            if args.checkpoint:
                ledger.sign_checkpoint(_log_signer(ledger, config))
            try:
                built = progress_report(ledger, config, as_of=as_of, since=since)
            except ReportError as error:
                raise CliError(str(error)) from None
            except NoteError as error:
                raise CliError(
                    f"the latest checkpoint does not verify: {error}", EXIT_FAILED_CHECK
                ) from None
        content, _ = render(built, fmt)
        size, log_size = str(built.checkpoint.size), str(built.checkpoint.log_size)
    write_atomically(out, content)
    print(f"wrote {out} ({fmt}, {len(content)} bytes): as of {as_of.isoformat()}")
    print(f"built from the signed checkpoint of size {size} (the log holds {log_size} entries)")
    if size != log_size:
        print(
            "note: the log has grown since that checkpoint; the report says so "
            "(sign a fresh one with: inquiry-ledger checkpoint, or report --checkpoint)"
        )
    return 0


def export_status(args: argparse.Namespace) -> int:
    """`status --out FILE.csv|FILE.xlsx`: one row per action (see api/spreadsheet_export)."""
    out = _output(args.out)
    fmt = EXPORT_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise CliError(f"status is exported as .csv or .xlsx, not {out.name!r}")
    if args.position is not None:
        raise CliError("status --out exports as of a date (--as-of), not a log position")
    as_of = _parse_moment(args.as_of) if args.as_of else None
    remote = _remote(args)
    if remote is not None:
        params = {"format": fmt}
        if args.as_of:
            params["as_of"] = args.as_of
        with remote:
            content, _ = remote.document("/v1/export/status", params)
        rows = ""
    else:
        with _open(_config(args)) as ledger:
            export = status_export(ledger.entries(), as_of=as_of)
        content, _ = render_export(export, fmt)
        rows = f", {len(export.actions)} actions"
    write_atomically(out, content)
    print(f"wrote {out} ({fmt}{rows}) as of {as_of.isoformat() if as_of else 'now'}")
    return 0
