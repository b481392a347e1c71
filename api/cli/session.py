"""`session hold|minutes|approve|list` and `arising add|close|list`: holding-to-account
sessions, their minutes built from the signed log, and the actions arising from them
(domain/session.py, projections/minutes.py).

    inquiry-ledger --as sig session hold pcc-aa-2023-03 --body "PCC Assurance & Accountability" \\
        --date 2023-03-13 --from 10:00 --to 12:30 --chair pcc \\
        --attendee "Police and Crime Commissioner=PCC" \\
        --attendee "Temporary Deputy Chief Constable:police=T/DCC" \\
        --recommendation 1 --recommendation 29
    inquiry-ledger --as sig arising add --session pcc-aa-2023-03 --recommendation 29 \\
        --owner police --due 2023-04-30 --done-means "the OPCC has the figures" \\
        --text "Share the extent and frequency of the mobile operations"
    inquiry-ledger session minutes pcc-aa-2023-03 --out minutes.pdf
    inquiry-ledger --as pcc session approve pcc-aa-2023-03 [--sha256 HEX]

The minutes read the whole local log, so these work on the ledger folder (not in client
mode); the entries they sign are ordinary entries, which POST /v1/entries also takes.
"""

from __future__ import annotations

import argparse

from api.application.minutes import (
    Hold,
    approve,
    close_arising,
    hold,
    minutes_of,
    owner_from,
    parse_attendee,
    record_arising,
)
from api.application.render import table
from api.application.reports import write_atomically
from api.cli.common import (
    CliError,
    Parsers,
    Subparsers,
    client_for,
    config_from,
    open_ledger,
    output_file,
    print_appended,
)
from projections.minutes import list_arisings, list_sessions
from projections.minutes_render import approval_matches, minutes_sha256, render

FORMATS = {".html": "html", ".htm": "html", ".pdf": "pdf"}


def cmd_session_hold(args: argparse.Namespace) -> int:
    session = Hold(
        session_id=args.session_id,
        body=args.body,
        date=args.date,
        started_at=args.started_at,
        ended_at=args.ended_at,
        chair=args.chair,
        attendees=[parse_attendee(a) for a in args.attendee or []],
        recommendations=list(args.recommendation or []),
    )
    ledger, client = client_for(args)
    with ledger:
        print_appended([hold(client, session)], args)
    return 0


def cmd_session_minutes(args: argparse.Namespace) -> int:
    out = output_file(args.out) if args.out else None
    fmt = FORMATS.get(out.suffix.lower()) if out is not None else "html"
    if fmt is None:
        raise CliError(f"the minutes are written as .html or .pdf, not {args.out!r}")
    with open_ledger(config_from(args)) as ledger:
        minutes = minutes_of(ledger, args.session_id)
        content, _ = render(minutes, fmt)
    if out is None:
        print(content.decode(), end="")
        return 0
    write_atomically(out, content)
    state = "approved" if minutes.approval else "draft"
    print(f"wrote the {state} minutes of {args.session_id} to {out}")
    print(f"minutes SHA-256 {minutes_sha256(minutes)} ({len(minutes.entries)} entries)")
    if approval_matches(minutes) is False:
        print("warning: the chair's approval is not of these minutes as rebuilt now")
    return 0


def cmd_session_approve(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        minutes, sha, appended = approve(
            ledger, client, args.session_id, minutes_sha256, args.sha256
        )
        entries = ", ".join(str(n) for n in minutes.entries) or "none"
        print(f"minutes of {args.session_id}: SHA-256 {sha}; entries {entries}")
        print_appended([appended], args)
    return 0


def cmd_session_list(args: argparse.Namespace) -> int:
    with open_ledger(config_from(args)) as ledger:
        rows = list_sessions(ledger.entries())
    headings = ["Session", "Body", "Date", "Time (UTC)", "Chair", "Recs", "Minutes", "Open AA"]
    print(
        table(
            headings,
            [
                (
                    r.session_id,
                    r.body,
                    r.date,
                    f"{r.started_at}-{r.ended_at}",
                    r.chair,
                    ",".join(str(n) for n in r.recommendations),
                    f"approved (entry {r.approved_leaf})"
                    if r.approved_leaf is not None
                    else "draft",
                    r.open_arisings,
                )
                for r in rows
            ],
        )
    )
    return 0


def cmd_arising_add(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        arising_id, appended = record_arising(
            ledger,
            client,
            args.session,
            recommendation=args.recommendation,
            owner=owner_from(args.owner),
            due_date=args.due,
            done_means=args.done_means,
            text=args.text,
        )
        print(f"action arising {arising_id}")
        print_appended([appended], args)
    return 0


def cmd_arising_close(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        appended = close_arising(ledger, client, args.arising_id, args.reason, args.evidence)
        print_appended([appended], args)
    return 0


def cmd_arising_list(args: argparse.Namespace) -> int:
    with open_ledger(config_from(args)) as ledger:
        rows = list_arisings(ledger.entries())
    if args.open:
        rows = [r for r in rows if r.state == "open"]
    headings = ["Action arising", "Rec", "Owner", "Due", "State", "Done means", "Action"]
    print(
        table(
            headings,
            [
                (a.arising_id, a.recommendation, a.owner, a.due_date, a.state, a.done_means, a.text)
                for a in rows
            ],
        )
    )
    return 0


def _add_session(sub: Subparsers) -> None:
    session = sub.add_parser(
        "session", help="holding-to-account sessions and their minutes (signed)"
    ).add_subparsers(dest="session_cmd", required=True)
    p = session.add_parser(
        "hold", help="record a session: body, date, window, chair, attendees, recommendations"
    )
    p.add_argument("session_id", help="e.g. pcc-aa-2023-03")
    p.add_argument("--body", required=True, help='e.g. "PCC Assurance & Accountability"')
    p.add_argument("--date", required=True, help="YYYY-MM-DD")
    p.add_argument("--from", dest="started_at", required=True, help="HH:MM UTC")
    p.add_argument("--to", dest="ended_at", required=True, help="HH:MM UTC")
    p.add_argument("--chair", required=True, help="the chair's user id")
    p.add_argument(
        "--attendee", action="append", help="ROLE[:AGENCY]=LABEL, by role (never a name)"
    )
    p.add_argument(
        "--recommendation", action="append", type=int, help="a recommendation covered, in order"
    )
    p.set_defaults(func=cmd_session_hold)
    p = session.add_parser("minutes", help="the minutes, built from the signed log")
    p.add_argument("session_id")
    p.add_argument("--out", help="minutes.html or minutes.pdf (default: HTML on stdout)")
    p.set_defaults(func=cmd_session_minutes)
    p = session.add_parser("approve", help="the session's chair approves its minutes (signed)")
    p.add_argument("session_id")
    p.add_argument("--sha256", help="the hash of the minutes you read: refused if they changed")
    p.set_defaults(func=cmd_session_approve)
    p = session.add_parser("list", help="the sessions and whether their minutes are approved")
    p.set_defaults(func=cmd_session_list)


def _add_arising(sub: Subparsers) -> None:
    arising = sub.add_parser(
        "arising", help="actions arising from sessions, tracked to closure (signed)"
    ).add_subparsers(dest="arising_cmd", required=True)
    p = arising.add_parser("add", help="record an action arising of a session")
    p.add_argument("--session", required=True)
    p.add_argument("--recommendation", required=True, type=int)
    p.add_argument("--owner", required=True, help="an agency id, or user:USER")
    p.add_argument("--due", required=True, help="YYYY-MM-DD")
    p.add_argument("--done-means", required=True, help='what "done" means')
    p.add_argument("--text", required=True, help="the action")
    p.set_defaults(func=cmd_arising_add)
    p = arising.add_parser("close", help="close an action arising, with the reason")
    p.add_argument("arising_id")
    p.add_argument("--reason", required=True)
    p.add_argument("--evidence", help="where the evidence is (a hash, a document, an entry)")
    p.set_defaults(func=cmd_arising_close)
    p = arising.add_parser("list", help="the actions arising and their state")
    p.add_argument("--open", action="store_true", help="only the open ones")
    p.set_defaults(func=cmd_arising_list)


PARSERS: Parsers = {"session": _add_session, "arising": _add_arising}
