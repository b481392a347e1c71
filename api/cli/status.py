"""`status`, `diff`, `history`, `timeline` and `projection`: reading the plan's state,
now or as of a date, locally or through a server (--server)."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from api.application.render import render_actions, render_status
from api.application.reports import write_atomically
from api.application.spreadsheet_export import EXPORT_FORMATS, render_export
from api.cli.common import (
    CliError,
    Parsers,
    Subparsers,
    config_from,
    moment,
    open_ledger,
    output_file,
    recommendation_number,
    remote_for,
)
from domain import action_aggregate_id
from ledger.entry import from_domain_event
from projections.asof import OCCURRED, RECORDED, status_as_of
from projections.diff import diff_as_of
from projections.projector import projector_for
from projections.report_sheets import status_export_as_of
from projections.status import PlanStatus
from projections.timeline import (
    UnknownSubject,
    action_timeline,
    recommendation_timeline,
    render_timeline,
)


def cmd_status(args: argparse.Namespace) -> int:
    if args.position is not None and args.position < 0:
        raise CliError("--position must be 0 or more")
    if args.out:
        return export_status(args)
    remote = remote_for(args)
    if remote is not None:
        with remote:
            if args.as_of:
                moment(args.as_of)  # the same clear error as locally
            found = remote.status(as_of=args.as_of, position=args.position, basis=_basis(args))
            remote_plan = remote.plan()
            expected = remote_plan.recommendations_expected if remote_plan else 0
        return _print_status(PlanStatus.from_json(found), expected, args)
    with open_ledger(config_from(args)) as ledger:
        until_time = moment(args.as_of) if args.as_of else None
        status = status_as_of(ledger, as_of=until_time, position=args.position, basis=_basis(args))
        plan = ledger.plan()
        expected = plan.recommendations_expected if plan else 0
    return _print_status(status, expected, args)


def _basis(args: argparse.Namespace) -> str:
    """Which question a dated status answers (projections/asof.py)."""
    if args.occurred and not args.as_of:
        raise CliError("--occurred needs --as-of DATE: what had happened by that date")
    return OCCURRED if args.occurred else RECORDED


def _print_status(status: Any, expected: int, args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(status.to_json(), indent=2, default=str))
        return 0
    present = {n for r in status.recommendations for n in (r.number, *r.former_numbers)}
    missing = [n for n in range(1, expected + 1) if n not in present]
    print(render_status(status, missing=missing))
    if args.actions:
        print()
        print(render_actions(status))
    return 0


def export_status(args: argparse.Namespace) -> int:
    """`status --out FILE.csv|FILE.xlsx`: one row per action (application.spreadsheet_export)."""
    out = output_file(args.out)
    fmt = EXPORT_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise CliError(f"status is exported as .csv or .xlsx, not {out.name!r}")
    if args.position is not None:
        raise CliError("status --out exports as of a date (--as-of), not a log position")
    as_of = moment(args.as_of) if args.as_of else None
    remote = remote_for(args)
    if remote is not None:
        params = {"format": fmt}
        if args.as_of:
            params["as_of"] = args.as_of
        with remote:
            content, _ = remote.document("/v1/export/status", params)
        rows = ""
    else:
        with open_ledger(config_from(args)) as ledger:
            export = status_export_as_of(ledger, as_of=as_of)
        content, _ = render_export(export, fmt)
        rows = f", {len(export.actions)} actions"
    write_atomically(out, content)
    print(f"wrote {out} ({fmt}{rows}) as of {as_of.isoformat() if as_of else 'now'}")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    start, end = moment(args.start), moment(args.end)
    if end <= start:
        raise CliError("--to must be after --from")
    remote = remote_for(args)
    if remote is not None:
        with remote:
            found = remote.diff(args.start, args.end)
    else:
        with open_ledger(config_from(args)) as ledger:
            found = diff_as_of(ledger, start, end).to_json()
    if args.json:
        print(json.dumps(found, indent=2, ensure_ascii=False))
        return 0
    before, after = found["summary_before"], found["summary_after"]
    print(f"from {found['from']} to {found['to']}")
    for name in after:
        if before.get(name) != after[name]:
            print(f"  {name}: {before.get(name)} -> {after[name]}")
    if found["actions_added"]:
        print(f"actions added: {', '.join(found['actions_added'])}")
    for change in found["changes"]:
        print(
            f"  {change['action_id']:<8} {change['field']}: {change['before']} -> {change['after']}"
        )
    print(f"decisions ({len(found['decisions'])}):")
    for d in found["decisions"]:
        details = "; ".join(f"{k}={v}" for k, v in d["summary"].items())
        where = f"[{d['leaf_index']}] {d['timestamp']} {d['action_id']:<8}"
        print(f"  {where} {d['type']} by {d['actor']}")
        if details:
            print(f"        {details}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    remote = remote_for(args)
    if remote is not None:
        with remote:
            rows = remote.history(args.action_id)
        return _print_history(rows, args)
    with open_ledger(config_from(args)) as ledger:
        if ledger.action(args.action_id) is None:
            raise CliError(f"no action {args.action_id}")
        events = ledger.aggregate_events(action_aggregate_id(args.action_id))
        rows = [from_domain_event(e).to_json() for e in events]
    return _print_history(rows, args)


def _print_history(rows: list[Any], args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        payload = ", ".join(f"{k}={v}" for k, v in row["payload"].items() if v not in ("", []))
        print(
            f"v{row['version']:<3} {row['timestamp']}  {row['type']:<26} "
            f"by {row['actor']} (key {row['key_id']})"
        )
        print(f"      {payload}")
    return 0


def cmd_projection(args: argparse.Namespace) -> int:
    """Bring the as-of projection up to date (or rebuild it) ahead of time, e.g. before
    starting the server on a long log; queries would otherwise do it on first use."""
    with open_ledger(config_from(args)) as ledger:
        projector = projector_for(ledger)
        start = time.perf_counter()
        mark = projector.rebuild(ledger) if args.rebuild else projector.catch_up(ledger)
        seconds = time.perf_counter() - start
        rows = projector.tables.sizes()
    print(
        f"as-of projection covers {mark} entries ({rows['snapshots']} snapshots, "
        f"{rows['aggregates']} aggregates); {'rebuilt' if args.rebuild else 'caught up'} "
        f"in {seconds:.1f} s"
    )
    return 0


def cmd_timeline(args: argparse.Namespace) -> int:
    if (args.action_id is None) == (args.recommendation is None):
        raise CliError("name one action (R10.1) or --recommendation N")
    if args.position is not None and args.position < 0:
        raise CliError("--position must be 0 or more")
    if args.limit is not None and args.limit < 0:
        raise CliError("--limit must be 0 or more")
    until = moment(args.as_of) if args.as_of else None
    remote = remote_for(args)
    if remote is not None:
        with remote:
            number = None
            if args.recommendation is not None:
                number = recommendation_number(remote, args.recommendation)
            found = remote.timeline(
                action_id=args.action_id,
                recommendation=number,
                as_of=args.as_of,
                position=args.position,
                limit=args.limit,
            )
    else:
        with open_ledger(config_from(args)) as ledger:
            try:
                if args.recommendation is not None:
                    timeline = recommendation_timeline(
                        ledger,
                        recommendation_number(ledger, args.recommendation),
                        as_of=until,
                        position=args.position,
                        limit=args.limit,
                    )
                else:
                    timeline = action_timeline(
                        ledger,
                        args.action_id,
                        as_of=until,
                        position=args.position,
                        limit=args.limit,
                    )
            except UnknownSubject as error:
                raise CliError(str(error)) from None
            found = timeline.to_json()
    if args.json:
        print(json.dumps(found, indent=2, ensure_ascii=False))
    else:
        print(render_timeline(found))
    return 0


def _add_diff(sub: Subparsers) -> None:
    p = sub.add_parser("diff", help="what changed between two dates, and who decided")
    p.add_argument("--from", dest="start", required=True, help="DATE or DATE-TIME (UTC)")
    p.add_argument("--to", dest="end", required=True, help="DATE or DATE-TIME (UTC)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_diff)


def _add_status(sub: Subparsers) -> None:
    p = sub.add_parser("status", help="status of every recommendation and agency")
    p.add_argument("--as-of", help="DATE (end of that day, UTC) or DATE-TIME")
    p.add_argument("--position", type=int, help="the first N log entries only")
    p.add_argument(
        "--occurred",
        action="store_true",
        help="with --as-of: what had happened by then as the record stands now (backfilled "
        "facts at their dates), not what the record said then",
    )
    p.add_argument("--actions", action="store_true", help="also list every action")
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", help="write one row per action to FILE.csv or FILE.xlsx instead")
    p.set_defaults(func=cmd_status)


def _add_history(sub: Subparsers) -> None:
    p = sub.add_parser("history", help="every signed entry of one action")
    p.add_argument("action_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_history)


def _add_timeline(sub: Subparsers) -> None:
    p = sub.add_parser("timeline", help="every decision on one action or recommendation")
    p.add_argument("action_id", nargs="?", help="an action, e.g. R10.1")
    p.add_argument(
        "--recommendation", help="every action of recommendation N (its number or reference)"
    )
    p.add_argument("--as-of", help="DATE (end of that day, UTC) or DATE-TIME")
    p.add_argument("--position", type=int, help="the first N log entries only")
    p.add_argument(
        "--limit", type=int, help="only the latest N entries (the server's default: 1000)"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_timeline)


def _add_projection(sub: Subparsers) -> None:
    p = sub.add_parser("projection", help="bring the as-of projection up to date now")
    p.add_argument("--rebuild", action="store_true", help="forget it and rebuild from scratch")
    p.set_defaults(func=cmd_projection)


PARSERS: Parsers = {
    "diff": _add_diff,
    "status": _add_status,
    "history": _add_history,
    "timeline": _add_timeline,
    "projection": _add_projection,
}
