"""`public-check`: check a public tracker page on one's own machine, with one's own keys.

The same checks as the page's own script in a browser (ledger/auditor/public_check.py),
for a reader who would rather not run the server's code at all, and for machines
(`--json`). The URL may be a page (``https://host/public/recommendations/12``), its JSON
(``/public/v1/...``), or a JSON file saved earlier.
"""

from __future__ import annotations

import argparse
import json
import sys
from urllib.parse import urlsplit, urlunsplit

import httpx

from api.cli.common import (
    EXIT_FAILED_CHECK,
    EXIT_UNAVAILABLE,
    CliError,
    Parsers,
    Subparsers,
    read_text,
)
from ledger.auditor.cosignature import CosignerKey
from ledger.auditor.errors import FormatError
from ledger.auditor.note import NoteError, VerifierKey
from ledger.auditor.public_check import PublicCheckFailed, check_public

FETCH_TIMEOUT = 30.0
MAX_DOCUMENT = 64 * 1024 * 1024


def json_url(url: str) -> str:
    """The public JSON route behind a public page's URL (a JSON URL is kept as it is)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if path.startswith("/public/v1/"):
        return url
    if path == "/public":
        path = "/public/v1/plan"
    elif path.startswith("/public/"):
        path = "/public/v1/" + path.removeprefix("/public/")
    else:
        raise CliError(f"not a public tracker page: {url} (its path starts /public)")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def fetch(where: str) -> object:
    """The document at a URL or in a file."""
    if not where.startswith(("http://", "https://")):
        text = read_text(where, "public page's JSON")
    else:
        url = json_url(where)
        try:
            answer = httpx.get(url, timeout=FETCH_TIMEOUT, follow_redirects=False)
        except httpx.HTTPError as error:
            raise CliError(f"cannot fetch {url}: {error}", EXIT_UNAVAILABLE) from None
        if answer.status_code != 200:
            raise CliError(f"{url} answered {answer.status_code}: {answer.text[:200]}")
        if len(answer.content) > MAX_DOCUMENT:
            raise CliError(f"{url} answered more than {MAX_DOCUMENT} bytes")
        text = answer.text
    try:
        return json.loads(text)
    except ValueError as error:
        raise CliError(f"{where} is not JSON: {error}") from None


def cmd_public_check(args: argparse.Namespace) -> int:
    try:
        log_key = VerifierKey.parse(read_text(args.log_key, "log key"))
        witnesses = [CosignerKey.parse(read_text(w, "witness key")) for w in args.witness_key]
    except (NoteError, FormatError) as error:
        raise CliError(f"a pinned key is malformed: {error}") from None
    document = fetch(args.url)
    try:
        verdict = check_public(document, log_key, witnesses)
    except PublicCheckFailed as error:
        if args.json:
            print(json.dumps({"ok": False, "verdict": f"Verification failed: {error}"}))
        else:
            print(f"Verification failed: {error}", file=sys.stderr)
        return EXIT_FAILED_CHECK
    if args.json:
        print(json.dumps(verdict.to_json(), indent=2))
    else:
        print(f"{verdict.sentence}.")
        print(
            f"{verdict.entries} entries proven to the checkpoint's root; the {verdict.facts} "
            "facts shown say what their entries say. Not checked: that no entry was left out, "
            "and who signed each (verify-bundle checks both)."
        )
    return 0


def _add_public_check(sub: Subparsers) -> None:
    p = sub.add_parser(
        "public-check",
        help="check a public tracker page against the keys you pinned",
        description=(__doc__ or "").split("\n\n")[0],
    )
    p.add_argument(
        "url", help="a /public page's URL, its /public/v1 JSON URL, or a saved JSON file"
    )
    p.add_argument("--log-key", required=True, help="the log's verifier key file you pinned")
    p.add_argument(
        "--witness-key",
        action="append",
        default=[],
        help="a witness's cosigner key file you pinned (repeat for each): it must have cosigned",
    )
    p.add_argument("--json", action="store_true", help="the verdict as JSON")
    p.set_defaults(func=cmd_public_check)


PARSERS: Parsers = {"public-check": _add_public_check}
