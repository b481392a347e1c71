"""`import`: recommendations or actions from CSV (or a spreadsheet), signed, all or nothing;
`template`: the blank files to fill in, which import as they come; `plan respond` and
`plan vocabulary`: a recommendation's formal response, and the words responses use;
`plan words`: the words the report, pages and public tracker use (domain/wording.py);
`plan agency` and `plan recommendation`: the plan's changes (api/cli/plan_changes.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from api.application.plan_import import ImportRejected, import_csv
from api.application.plan_template import write_template
from api.application.verbs import RESPONSE_ARGS
from api.cli.common import (
    CliError,
    Parsers,
    Subparsers,
    client_for,
    config_from,
    keep_receipts,
    moment,
    open_ledger,
    print_appended,
    receipted,
    recommendation_number,
    remote_for,
    signer_for,
)
from api.cli.plan_changes import add_plan_changes
from domain.wording import WORDS
from projections.asof import status_as_of
from projections.status import PlanStatus


def cmd_import(args: argparse.Namespace) -> int:
    config = config_from(args)
    remote = remote_for(args)
    with remote if remote is not None else open_ledger(config) as ledger:
        try:
            results = import_csv(
                ledger,
                signer_for(args, config, ledger.origin()),
                Path(args.file),
                title=args.title,
                source=args.source,
                recommendations_expected=args.expected,
                sheet=args.sheet,
                warn=lambda warning: print(f"{args.file}: {warning}", file=sys.stderr),
            )
        except ImportRejected as rejected:
            if len(rejected.errors) == 1 and rejected.errors[0].row == 0:
                # The file as a whole (not a workbook, damaged, the wrong sheet): one line.
                whole = rejected.errors[0]
                said = whole.message if whole.column == "file" else str(whole)
                raise CliError(f"{args.file}: {said}; nothing was imported") from None
            for error in rejected.errors:
                print(f"{args.file}: {error}", file=sys.stderr)
            raise CliError(str(rejected)) from None
        except OSError as error:
            raise CliError(f"cannot read {args.file}: {error.strerror}") from None
        print(f"imported {len(results)} entries from {args.file}")
        keep_receipts(receipted(ledger, config, results), args)
    return 0


def _add_import(sub: Subparsers) -> None:
    p = sub.add_parser("import", help="import recommendations or actions from CSV (signed)")
    p.add_argument("file")
    p.add_argument("--title", default="", help="plan title (first import)")
    p.add_argument("--source", default="", help="where the plan comes from (first import)")
    p.add_argument(
        "--expected",
        type=int,
        default=0,
        help="how many recommendations the inquiry made (signed by the first import; "
        "any import warns of numbers beyond it)",
    )
    p.add_argument("--sheet", help="the workbook's sheet to import (.xlsx of several sheets)")
    p.set_defaults(func=cmd_import)


def cmd_template(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    try:
        written = write_template(folder)
    except FileExistsError as error:
        raise CliError(f"{error.args[0]} exists: not overwritten (choose another folder)") from None
    except OSError as error:
        raise CliError(f"cannot write to {folder}: {error.strerror}") from None
    recommendations, actions, workbook = (str(path) for path in written)
    print(f"wrote {recommendations}, {actions} and {workbook} (both sheets)")
    print("fill in one row for each recommendation and action (each file's notes say how), then:")
    print(f"  inquiry-ledger import {recommendations} --title TITLE --expected N")
    print(f"  inquiry-ledger import {actions}")
    print(f"or, from the workbook: import {workbook} --sheet recommendations, then --sheet actions")
    return 0


def _add_template(sub: Subparsers) -> None:
    p = sub.add_parser(
        "template", help="write blank recommendations and actions files to fill in and import"
    )
    p.add_argument("folder", help="where to write them (made if need be; nothing is overwritten)")
    p.set_defaults(func=cmd_template)


def cmd_plan_respond(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        appended = client.respond(
            recommendation_number(ledger, args.number),
            args.response,
            args.on,
            args.responder,
            reasons=args.reasons,
            source=args.source,
        )
        print_appended([appended], args)
    return 0


def cmd_plan_vocabulary(args: argparse.Namespace) -> int:
    """With --term: sign the new vocabulary; without: list the current one."""
    if args.term:
        terms = [_term(text) for text in args.term]
        ledger, client = client_for(args)
        with ledger:
            print_appended([client.set_response_vocabulary(terms)], args)
        return 0
    remote = remote_for(args)
    with remote if remote is not None else open_ledger(config_from(args)) as ledger:
        plan = ledger.plan()
    if plan is None:
        raise CliError("no plan has been imported yet")
    width = max(len(term.id) for term in plan.response_terms)
    for n, term in enumerate(plan.response_terms):
        note = "  (full acceptance: needs no reasons)" if n == 0 else ""
        print(f"{term.id.ljust(width)}  {term.label}{note}")
    return 0


def _term(text: str) -> tuple[str, str]:
    term_id, sep, label = text.partition("=")
    if not sep or not term_id.strip() or not label.strip():
        raise CliError(f"--term takes ID=Label, got {text!r}")
    return term_id.strip(), label.strip()


def _add_plan(sub: Subparsers) -> None:
    p = sub.add_parser("plan", help="the formal responses to the recommendations, and their terms")
    commands = p.add_subparsers(dest="plan_cmd", required=True)
    respond = commands.add_parser(
        "respond", help="record the formal response to a recommendation (signed)"
    )
    respond.add_argument("number", help="the recommendation's number or reference")
    for arg in RESPONSE_ARGS:  # the same members as `act ACTION respond`
        assert arg.flag is not None
        options = {"required": True} if arg.required else {"default": arg.default}
        respond.add_argument(arg.flag, dest=arg.dest, help=arg.help, metavar=arg.metavar, **options)
    respond.set_defaults(func=cmd_plan_respond)
    vocabulary = commands.add_parser(
        "vocabulary", help="list the response vocabulary, or sign a new one with --term"
    )
    vocabulary.add_argument(
        "--term",
        action="append",
        metavar="ID=Label",
        help="a term of the new vocabulary, e.g. accepted_in_full='Accepted in full' (repeat; "
        "the first is the full acceptance, the one term that needs no reasons)",
    )
    vocabulary.set_defaults(func=cmd_plan_vocabulary)
    _add_plan_words(commands)
    add_plan_changes(commands)


def cmd_plan_words_show(args: argparse.Namespace) -> int:
    """Every word of the vocabulary as it stands (or stood `--as-of`), marking defaults."""
    remote = remote_for(args)
    if remote is not None:
        with remote:
            if args.as_of:
                moment(args.as_of)  # the same clear error as locally
            words = PlanStatus.from_json(remote.status(as_of=args.as_of)).wording
    else:
        with open_ledger(config_from(args)) as ledger:
            until = moment(args.as_of) if args.as_of else None
            words = status_as_of(ledger, as_of=until).wording
    width = max(len(key) for key in WORDS)
    for key, word in WORDS.items():
        note = "  (generic default)" if words[key] == word.default else ""
        print(f"{key.ljust(width)}  {words[key]}{note}")
    return 0


def cmd_plan_words_set(args: argparse.Namespace) -> int:
    """Sign the words given (by their own flags or --set KEY=TEXT); others keep theirs."""
    words = {key: getattr(args, key) for key in WORDS if getattr(args, key) is not None}
    for text in args.set or []:
        key, sep, value = text.partition("=")
        if not sep:
            raise CliError(f"--set takes KEY=TEXT, got {text!r}")
        words[key.strip()] = value
    if not words:
        raise CliError("give at least one word to set (e.g. --report-title TEXT); see --help")
    ledger, client = client_for(args)
    with ledger:
        print_appended([client.set_wording(words, args.reason)], args)
    return 0


def _add_plan_words(commands: Subparsers) -> None:
    p = commands.add_parser(
        "words", help="the words the report, pages and tracker use (title, levels, bodies)"
    )
    words = p.add_subparsers(dest="words_cmd", required=True)
    show = words.add_parser("show", help="list the ledger's words, marking generic defaults")
    show.add_argument("--as-of", help="the words as they stood on a date (YYYY-MM-DD)")
    show.set_defaults(func=cmd_plan_words_show)
    change = words.add_parser("set", help="sign new words (the rest keep their values)")
    for key, word in WORDS.items():
        change.add_argument(
            "--" + key.replace("_", "-"),
            dest=key,
            metavar="TEXT",
            help=f"{word.meaning} (generic: {word.default!r})",
        )
    change.add_argument(
        "--set", action="append", metavar="KEY=TEXT", help="a word by its key (repeat)"
    )
    change.add_argument("--reason", required=True, help="why the words change (signed)")
    change.set_defaults(func=cmd_plan_words_set)


PARSERS: Parsers = {"import": _add_import, "template": _add_template, "plan": _add_plan}
