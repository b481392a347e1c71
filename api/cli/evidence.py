"""`evidence add|get|verify|orphans|erase|url|publish|unpublish|published`: evidence files,
stored apart from the log, and which of them their agency lead has published.

`publish` and `unpublish` sign the agency lead's entries through the action-verb
catalogue (api/application/verbs.py), as `act ACTION publish-evidence` does, locally or
in client mode; `published` lists what is published from the ledger's own projection."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from api.application.erasure import erase
from api.application.evidence import fetch, orphans, verify_evidence
from api.application.verbs import verb
from api.cli.common import (
    EXIT_FAILED_CHECK,
    CliError,
    Parsers,
    Subparsers,
    attach_evidence_file,
    client_for,
    config_from,
    evidence_store,
    open_ledger,
    print_appended,
    remote_for,
)
from projections.evidence import published_evidence


def cmd_evidence_add(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        attached = attach_evidence_file(
            client,
            args.action_id,
            args.file,
            description=args.description,
            effective_date=args.effective_date,
        )
        print_appended([attached], args)
    return 0


def cmd_evidence_get(args: argparse.Namespace) -> int:
    remote = remote_for(args)
    with remote if remote is not None else open_ledger(config_from(args)) as ledger:
        size = fetch(evidence_store(ledger), args.sha256, Path(args.out))
    print(f"wrote {size} bytes to {args.out}; SHA-256 verified")
    return 0


def cmd_evidence_verify(args: argparse.Namespace) -> int:
    with open_ledger(config_from(args)) as ledger:
        report = verify_evidence(ledger, evidence_store(ledger))
    counts = ", ".join(f"{n} {status}" for status, n in sorted(report.statuses.items()))
    print(f"evidence named by the ledger: {report.named} ({counts or 'none'})")
    for problem in report.problems:
        print(f"  PROBLEM {problem}", file=sys.stderr)
    print("OK" if report.ok else f"FAILED: {len(report.problems)} problem(s)")
    return 0 if report.ok else EXIT_FAILED_CHECK


def cmd_evidence_orphans(args: argparse.Namespace) -> int:
    with open_ledger(config_from(args)) as ledger:
        found = list(orphans(ledger, evidence_store(ledger)))
    for sha256 in found:
        print(sha256)
    print(
        f"{len(found)} orphan blob(s): stored, named by no ledger entry (never deleted)",
        file=sys.stderr,
    )
    return 0


def cmd_evidence_erase(args: argparse.Namespace) -> int:
    """The signed entry, then the store; a retry completes an erasure a failure cut short
    (api/application/erasure.py)."""
    ledger, client = client_for(args)
    with ledger:
        erasure = erase(
            client,
            evidence_store(ledger),
            args.action_id,
            args.sha256,
            args.reason,
            recorded=lambda appended: print_appended([appended], args),
        )
    if erasure.appended is None:
        print(f"the erasure of {args.sha256} was already recorded in the log; completed it")
    print(erasure.done)
    return 0


def cmd_evidence_publish(args: argparse.Namespace) -> int:
    """The agency lead's signed statement that a file of the action may be public."""
    ledger, client = client_for(args)
    with ledger:
        given = {"sha256": args.sha256, "statement": args.statement}
        print_appended([verb("publish-evidence").call(client, args.action_id, given)], args)
    return 0


def cmd_evidence_unpublish(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        given = {"sha256": args.sha256, "reason": args.reason}
        print_appended([verb("unpublish-evidence").call(client, args.action_id, given)], args)
    return 0


def cmd_evidence_published(args: argparse.Namespace) -> int:
    """What is published now (or as of the first N entries), from the as-of projection."""
    with open_ledger(config_from(args)) as ledger:
        found = published_evidence(ledger, args.action, position=args.position)
    if args.json:
        rows = [{**vars(p), "published_at": p.published_at.isoformat()} for p in found]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    for p in found:
        print(
            f"{p.action_id} {p.sha256} {p.filename!r} published by {p.published_by} "
            f"{p.published_at.isoformat()} (entry {p.published_leaf}; attached in entry "
            f"{p.attached_leaf}): {p.statement}"
        )
    print(f"{len(found)} published file(s)", file=sys.stderr)
    return 0


def cmd_evidence_url(args: argparse.Namespace) -> int:
    with open_ledger(config_from(args)) as ledger:
        store = evidence_store(ledger)
        if not hasattr(store, "presigned_url"):
            raise CliError("presigned URLs need the S3 evidence store")
        print(store.presigned_url(args.sha256, args.expires))
    return 0


def _add_evidence(sub: Subparsers) -> None:
    evidence = sub.add_parser("evidence", help="evidence files").add_subparsers(
        dest="evidence_cmd", required=True
    )
    p = evidence.add_parser("add", help="upload a file, then sign and append its event")
    p.add_argument("action_id")
    p.add_argument("file")
    p.add_argument("--description", required=True)
    p.add_argument("--effective-date", required=True, help="the date the evidence speaks to")
    p.set_defaults(func=cmd_evidence_add)
    p = evidence.add_parser("get", help="download a blob, verified against its hash")
    p.add_argument("sha256")
    p.add_argument("-o", "--out", required=True)
    p.set_defaults(func=cmd_evidence_get)
    p = evidence.add_parser("verify", help="re-hash every blob the ledger names")
    p.set_defaults(func=cmd_evidence_verify)
    p = evidence.add_parser("orphans", help="list stored blobs no ledger entry names")
    p.set_defaults(func=cmd_evidence_orphans)
    p = evidence.add_parser(
        "erase", help="lawful erasure: signed event, then the store (run again to complete)"
    )
    p.add_argument("action_id")
    p.add_argument("sha256")
    p.add_argument("--reason", required=True, help="the lawful reason")
    p.set_defaults(func=cmd_evidence_erase)
    p = evidence.add_parser(
        "publish", help="agency lead: mark a file publishable, with a signed statement"
    )
    p.add_argument("action_id")
    p.add_argument("sha256")
    p.add_argument(
        "--statement",
        required=True,
        help="what you vouch for: that the file, its name and its description hold no "
        "personal data and may be published",
    )
    p.set_defaults(func=cmd_evidence_publish)
    p = evidence.add_parser(
        "unpublish", help="agency lead: stop publishing a file (the log keeps both entries)"
    )
    p.add_argument("action_id")
    p.add_argument("sha256")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_evidence_unpublish)
    p = evidence.add_parser("published", help="list the files published (the ledger's folder)")
    p.add_argument("--action", help="only this action's")
    p.add_argument("--position", type=int, help="as of the first N log entries")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_evidence_published)
    p = evidence.add_parser("url", help="a time-limited download URL (S3, unencrypted)")
    p.add_argument("sha256")
    p.add_argument("--expires", type=int, default=300, help="seconds (default 300)")
    p.set_defaults(func=cmd_evidence_url)


PARSERS: Parsers = {"evidence": _add_evidence}
