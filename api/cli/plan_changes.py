"""`plan agency add|rename` and `plan recommendation amend|withdraw|merge|renumber|reference`: the
plan changes after its import, each signed with its reason (domain/plan.py). Kept apart
from api/cli/plan.py, which registers them under `plan`, so each stays short."""

from __future__ import annotations

import argparse
import re
from typing import Any

from api.application.plan_import import agency_id
from api.cli.common import (
    CliError,
    Subparsers,
    client_for,
    print_appended,
    recommendation_number,
)


def cmd_agency_add(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        print_appended([client.add_agency(args.id, args.name, args.reason)], args)
    return 0


def cmd_agency_rename(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        print_appended([client.rename_agency(args.id, args.name, args.reason)], args)
    return 0


def cmd_recommendation_amend(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        changes: dict[str, Any] = {}
        if args.title is not None:
            changes["title"] = args.title
        if args.text is not None:
            changes["text"] = args.text
        if args.lead_agencies is not None:
            changes["lead_agencies"] = _agencies(ledger, args.lead_agencies)
        if not changes:
            raise CliError("give at least one of --title, --text, --lead-agencies")
        print_appended(
            [
                client.amend_recommendation(
                    recommendation_number(ledger, args.number), changes, args.reason
                )
            ],
            args,
        )
    return 0


def cmd_recommendation_withdraw(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        print_appended(
            [
                client.withdraw_recommendation(
                    recommendation_number(ledger, args.number), args.reason
                )
            ],
            args,
        )
    return 0


def cmd_recommendation_merge(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        print_appended(
            [
                client.merge_recommendation(
                    recommendation_number(ledger, args.number),
                    recommendation_number(ledger, args.into),
                    args.reason,
                )
            ],
            args,
        )
    return 0


def cmd_recommendation_renumber(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        appended = client.renumber_recommendation(
            recommendation_number(ledger, args.number), args.to, args.reason
        )
        print_appended([appended], args)
    return 0


def cmd_recommendation_reference(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        number = recommendation_number(ledger, args.number)
        plan = ledger.plan()
        rec = plan.recommendations.get(number) if plan is not None else None
        group = args.group
        if group is None:  # keep the group it has
            group = rec.get("group", "") if isinstance(rec, dict) else getattr(rec, "group", "")
        appended = client.reference_recommendation(number, args.reference, group or "", args.reason)
        print_appended([appended], args)
    return 0


def _agencies(ledger: Any, text: str) -> list[str]:
    """Agency ids from `a;b` or `a,b`, each an id or a name as shown now (the import's
    way of naming them: "West Mercia Police" is west-mercia-police)."""
    plan = ledger.plan()
    known: dict[str, str] = dict(plan.agencies) if plan is not None else {}
    by_name = {agency_id(name): ident for ident, name in known.items()}
    found = []
    for part in (p.strip() for p in re.split(r"[;,]", text)):
        if not part:
            continue
        ident = part if part in known else by_name.get(agency_id(part))
        if ident is None:
            names = ", ".join(sorted(known)) or "none"
            raise CliError(
                f"unknown agency {part!r} (known: {names}); add it with `plan agency add`"
            )
        found.append(ident)
    if not found:
        raise CliError("--lead-agencies names at least one agency")
    return found


def add_plan_changes(commands: Subparsers) -> None:
    """`plan agency ...` and `plan recommendation ...` under `plan`."""
    agency = commands.add_parser("agency", help="add an agency to the plan, or rename one")
    agencies = agency.add_subparsers(dest="agency_cmd", required=True)
    add = agencies.add_parser("add", help="add an agency the plan did not name (signed)")
    add.add_argument("id", help="its id for good, e.g. ofsted (a-z, 0-9, '.', '_', '-')")
    add.add_argument("--name", required=True, help="its display name, e.g. Ofsted")
    add.add_argument("--reason", required=True, help="why it joins the plan (signed)")
    add.set_defaults(func=cmd_agency_add)
    rename = agencies.add_parser(
        "rename", help="an agency's display name from now on; its id stays (signed)"
    )
    rename.add_argument("id", help="the agency's id")
    rename.add_argument("--name", required=True, help="its new display name")
    rename.add_argument("--reason", required=True, help="why it is renamed (signed)")
    rename.set_defaults(func=cmd_agency_rename)

    rec = commands.add_parser(
        "recommendation", help="amend, withdraw, merge or renumber a recommendation"
    )
    recs = rec.add_subparsers(dest="recommendation_cmd", required=True)
    amend = recs.add_parser("amend", help="change its title, text or lead agencies (signed)")
    amend.add_argument("number", help="the recommendation's number or reference")
    amend.add_argument("--title", help="its new title")
    amend.add_argument("--text", help="its new text")
    amend.add_argument(
        "--lead-agencies", metavar="A;B", help="its lead agencies (ids or names, ';' between)"
    )
    amend.add_argument("--reason", required=True, help="why it changes (signed)")
    amend.set_defaults(func=cmd_recommendation_amend)
    withdraw = recs.add_parser(
        "withdraw", help="take it out of the plan (once none of its actions is open; signed)"
    )
    withdraw.add_argument("number", help="the recommendation's number or reference")
    withdraw.add_argument("--reason", required=True, help="why it is withdrawn (signed)")
    withdraw.set_defaults(func=cmd_recommendation_withdraw)
    merge = recs.add_parser(
        "merge", help="merge it into another (once none of its actions is open; signed)"
    )
    merge.add_argument("number", help="the recommendation merged away (number or reference)")
    merge.add_argument("--into", required=True, help="the one that carries its work")
    merge.add_argument("--reason", required=True, help="why (signed)")
    merge.set_defaults(func=cmd_recommendation_merge)
    renumber = recs.add_parser(
        "renumber", help="give it a new number; the old one still finds it (signed)"
    )
    renumber.add_argument("number", help="its number now (or its reference)")
    renumber.add_argument("--to", type=int, required=True, help="its new number (a free one)")
    renumber.add_argument("--reason", required=True, help="why it is renumbered (signed)")
    renumber.set_defaults(func=cmd_recommendation_renumber)
    reference = recs.add_parser(
        "reference",
        help="how the inquiry writes it (113.6, K10.1) and its group; the old one still "
        "finds it (signed)",
    )
    reference.add_argument("number", help="its number now (or its reference)")
    reference.add_argument("--reference", required=True, help="as the inquiry writes it")
    reference.add_argument("--group", help="the phase, chapter or part (default: unchanged)")
    reference.add_argument("--reason", required=True, help="why (signed)")
    reference.set_defaults(func=cmd_recommendation_reference)
