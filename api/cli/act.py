"""`inquiry-ledger act ACTION VERB ...`: sign and append a command on an action.

The verbs, their arguments and the Client call each makes are the catalogue in
`api.application.verbs`, which the web pages' forms come from too: this module only
spells each argument for argparse and reads it back.
"""

from __future__ import annotations

import argparse
from typing import Any

from api.application.commands import Client
from api.application.verbs import LIST, VERBS, Arg, Verb, verb
from api.cli.common import Parsers, Subparsers, attach_evidence_file, client_for, print_appended
from ledger.service import Appended


def cmd_act(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        print_appended([perform(client, args)], args)
    return 0


def perform(client: Client, args: argparse.Namespace, store: Any = None) -> Appended:
    """Do the verb `act` was given: build, sign and submit its entry through `client`.
    A file to attach is stored first (in `store`, by default the ledger's evidence store)."""
    chosen = verb(args.verb)
    given = values(chosen, args)
    if chosen.uploads:  # attach: the application's attach_file stores it, then attaches it
        return attach_evidence_file(
            client,
            args.action_id,
            given["file"],
            description=given["description"],
            effective_date=given["effective_date"],
            store=store,
        )
    return chosen.call(client, args.action_id, given)


def values(chosen: Verb, args: argparse.Namespace) -> dict[str, Any]:
    """The verb's argument values, as argparse read them."""
    return {arg.name: getattr(args, arg.dest) for arg in chosen.args}


def _add_argument(parser: argparse.ArgumentParser, arg: Arg) -> None:
    options: dict[str, Any] = {}
    if arg.choices:
        options["choices"] = list(arg.choices)
    if arg.help is not None:
        options["help"] = arg.help
    if arg.metavar is not None:
        options["metavar"] = arg.metavar
    if arg.flag is None:
        parser.add_argument(arg.name, **options)
        return
    if arg.kind == LIST:
        options["action"] = "append"
    if arg.required:
        options["required"] = True
    else:
        options["default"] = arg.default
    parser.add_argument(arg.flag, **options)


def _add_verb(verbs: Subparsers, chosen: Verb) -> None:
    v = (
        verbs.add_parser(chosen.name)
        if chosen.help is None
        else verbs.add_parser(chosen.name, help=chosen.help)
    )
    for arg in chosen.args:
        _add_argument(v, arg)


def _add_act(sub: Subparsers) -> None:
    p = sub.add_parser("act", help="sign and append a command on an action")
    p.add_argument("action_id")
    verbs = p.add_subparsers(dest="verb", required=True)
    for chosen in VERBS:
        _add_verb(verbs, chosen)
    p.set_defaults(func=cmd_act)


PARSERS: Parsers = {"act": _add_act}
