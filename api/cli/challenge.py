"""`inquiry-ledger challenge ...`: challenges as threads with state (domain/challenge.py).

    challenge raise R10.1 --text "..."                (the action's lead agency)
    challenge raise --recommendation 10 [--agency A] --text "..."
    challenge answer C1 --text "..." [--evidence SHA ...]
    challenge close C1 --satisfied|--not-satisfied --reason "..."
    challenge escalate C1 --to chair --reason "..."
    challenge list [--agency A] [--open] [--state S] [--as-of DATE] [--json]
    challenge show C1 [--json]

In the ledger's folder, or in client mode (--server): the entries go through POST
/v1/entries like any other, and `list`/`show` read GET /v1/challenges (scoped there: an
officer or agency lead reads only their own agency's).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime
from typing import Any

from api.cli.common import (
    CliError,
    Parsers,
    Subparsers,
    client_for,
    config_from,
    open_ledger,
    print_appended,
    remote_for,
)
from domain.challenge import BODIES, STATES, subject_kind
from ledger.service import Ledger
from projections.challenges import by_agency, challenges, next_challenge_id


def _as_of(args: argparse.Namespace) -> date:
    if not getattr(args, "as_of", None):
        return _today()
    try:
        return date.fromisoformat(args.as_of)
    except ValueError:
        raise CliError(f"--as-of must be a date YYYY-MM-DD, got {args.as_of!r}") from None


def cmd_raise(args: argparse.Namespace) -> int:
    if (args.subject is None) == (args.recommendation is None):
        raise CliError("name what is challenged: an action (R10.1) or --recommendation N")
    subject = args.subject if args.subject is not None else f"R{args.recommendation}"
    kind = subject_kind(subject)
    if not kind:
        raise CliError(f"not an action (R10.1) or a recommendation (R10): {subject!r}")
    ledger, client = client_for(args)
    with ledger:
        agency = args.agency or _addressed_agency(ledger, subject, kind)
        challenge_id = _next_id(ledger)
        result = client.raise_challenge(challenge_id, subject, agency, args.text)
        print(f"raised challenge {challenge_id} on {subject} to {agency}")
        print_appended([result], args)
    return 0


def _addressed_agency(ledger: object, subject: str, kind: str) -> str:
    """The agency a challenge is addressed to when none is named: the action's lead, or
    the recommendation's only lead agency."""
    if kind == "action":
        action = ledger.action(subject)  # type: ignore[attr-defined]
        if action is None:
            raise CliError(f"no action {subject}")
        return str(action.lead_agency)
    plan = ledger.plan()  # type: ignore[attr-defined]
    recommendation = None if plan is None else plan.recommendations.get(int(subject[1:]))
    if recommendation is None:
        raise CliError(f"no recommendation {subject[1:]} in the plan")
    leads = list(
        recommendation["lead_agencies"]
        if isinstance(recommendation, dict)  # a server's plan (api/cli/remote.py)
        else recommendation.lead_agencies
    )
    if len(leads) != 1:
        raise CliError(
            f"recommendation {subject[1:]} is led by {', '.join(leads) or 'no agency'}: "
            "name the agency addressed with --agency"
        )
    return str(leads[0])


def cmd_answer(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        _require_known(ledger, args.challenge_id)
        result = client.answer_challenge(args.challenge_id, args.text, args.evidence or [])
        print_appended([result], args)
    return 0


def cmd_close(args: argparse.Namespace) -> int:
    outcome = "satisfied" if args.satisfied else "not_satisfied"
    ledger, client = client_for(args)
    with ledger:
        _require_known(ledger, args.challenge_id)
        print_appended([client.close_challenge(args.challenge_id, outcome, args.reason)], args)
    return 0


def cmd_escalate(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        _require_known(ledger, args.challenge_id)
        print_appended([client.escalate_challenge(args.challenge_id, args.to, args.reason)], args)
    return 0


def _require_known(ledger: object, challenge_id: str) -> None:
    if not any(c["challenge_id"] == challenge_id for c in _found(ledger, {})["challenges"]):
        raise CliError(f"no challenge {challenge_id} (see: challenge list)")


def _next_id(ledger: object) -> str:
    if isinstance(ledger, Ledger):
        return next_challenge_id(ledger.entries(0))
    numbers = [int(c["challenge_id"][1:]) for c in _found(ledger, {})["challenges"]]
    return f"C{max(numbers, default=0) + 1}"


def _found(ledger: object, params: dict[str, Any]) -> dict[str, Any]:
    """What GET /v1/challenges answers for `params` (agency, state, open, as_of): asked
    of the server in client mode, else from this folder's ledger."""
    if not isinstance(ledger, Ledger):
        found: dict[str, Any] = ledger.challenges(params)  # type: ignore[attr-defined]
        return found
    as_of = date.fromisoformat(params["as_of"]) if params.get("as_of") else _today()
    views = challenges(
        ledger.entries(0),
        as_of=as_of,
        agency=params.get("agency"),
        state=params.get("state"),
        unresolved_only=bool(params.get("open")),
    )
    return {
        "as_of": as_of.isoformat(),
        "by_agency": by_agency(views),
        "challenges": [v.to_json() for v in views],
    }


def _reader(args: argparse.Namespace) -> Any:
    remote = remote_for(args)
    return remote if remote is not None else open_ledger(config_from(args))


def _today() -> date:
    return datetime.now(UTC).date()


def cmd_list(args: argparse.Namespace) -> int:
    as_of = _as_of(args)
    params: dict[str, Any] = {"as_of": as_of.isoformat()}
    for name in ("agency", "state"):
        if getattr(args, name):
            params[name] = getattr(args, name)
    if args.open:
        params["open"] = "true"
    with _reader(args) as ledger:
        found = _found(ledger, params)
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    listed = found["challenges"]
    print(f"Challenges as of {found['as_of']}: {len(listed)}")
    for agency, row in found["by_agency"].items():
        oldest = "" if row["oldest_days"] is None else f", oldest {row['oldest_days']} days"
        print(f"  {agency}: {row['unresolved']} unresolved of {row['total']}{oldest}")
    for c in listed:
        age = "" if c["age_days"] is None else f" ({c['age_days']} days)"
        state = c["state"] + (f": {c['outcome']}" if c["outcome"] else "")
        state += f" to {c['escalated_to']}" if c["state"] == "escalated" else ""
        print(
            f"{c['challenge_id']}  {c['subject']}  {c['agency']}  {state}{age}  {_short(c['text'])}"
        )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    as_of = _as_of(args)
    with _reader(args) as ledger:
        listed = _found(ledger, {"as_of": as_of.isoformat()})["challenges"]
    found = [c for c in listed if c["challenge_id"] == args.challenge_id]
    if not found:
        raise CliError(f"no challenge {args.challenge_id} (see: challenge list)")
    if args.json:
        print(json.dumps(found[0], indent=2))
        return 0
    print(render_thread(found[0]))
    return 0


def render_thread(c: dict[str, Any]) -> str:
    """One challenge's thread as text: the question, then answers and judgements in order."""
    age = "" if c["age_days"] is None else f", {c['age_days']} days"
    outcome = f" ({c['outcome']})" if c["outcome"] else ""
    lines = [
        f"Challenge {c['challenge_id']} on {c['subject']} to {c['agency']}: "
        f"{c['state']}{outcome}{age}",
        f"  raised by {c['raised_by']} at {c['raised_at']}: {c['text']}",
    ]
    events = [
        (a["at"], f"  answered by {a['by']} at {a['at']}: {a['text']}" + _cited(a["evidence"]))
        for a in c["answers"]
    ]
    events += [
        (s["at"], f"  {s['kind']} ({s['value']}) by {s['by']} at {s['at']}: {s['reason']}")
        for s in c["steps"]
    ]
    lines += [line for _, line in sorted(events)]
    return "\n".join(lines)


def _cited(evidence: list[str]) -> str:
    return f" [evidence: {', '.join(evidence)}]" if evidence else ""


def _short(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _add_challenge(sub: Subparsers) -> None:
    p = sub.add_parser("challenge", help="raise, answer, close and list challenges to agencies")
    verbs = p.add_subparsers(dest="challenge_cmd", required=True)

    r = verbs.add_parser("raise", help="challenge an agency on an action or a recommendation")
    r.add_argument("subject", nargs="?", help="the action challenged (R10.1), or R10")
    r.add_argument("--recommendation", type=int, help="the recommendation challenged")
    r.add_argument("--agency", help="the agency addressed (default: the one that leads it)")
    r.add_argument("--text", required=True, help="the question the agency must answer")
    r.set_defaults(func=cmd_raise)

    a = verbs.add_parser("answer", help="answer a challenge to your agency")
    a.add_argument("challenge_id")
    a.add_argument("--text", required=True)
    a.add_argument("--evidence", action="append", metavar="SHA256", help="the action's evidence")
    a.set_defaults(func=cmd_answer)

    c = verbs.add_parser("close", help="close your challenge, satisfied or not")
    c.add_argument("challenge_id")
    outcome = c.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--satisfied", action="store_true")
    outcome.add_argument("--not-satisfied", action="store_true")
    c.add_argument("--reason", required=True)
    c.set_defaults(func=cmd_close)

    e = verbs.add_parser("escalate", help="escalate your challenge to a body")
    e.add_argument("challenge_id")
    e.add_argument("--to", required=True, choices=BODIES)
    e.add_argument("--reason", required=True)
    e.set_defaults(func=cmd_escalate)

    ls = verbs.add_parser("list", help="challenges, unresolved first, with their age")
    ls.add_argument("--agency")
    ls.add_argument("--open", action="store_true", help="only those not closed")
    ls.add_argument("--state", choices=STATES)
    ls.add_argument("--as-of", help="the day to count ages to (default: today, UTC)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)

    s = verbs.add_parser("show", help="one challenge's thread")
    s.add_argument("challenge_id")
    s.add_argument("--as-of")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_show)


PARSERS: Parsers = {"challenge": _add_challenge}
