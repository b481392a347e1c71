"""`sign BODY_FILE --key KEYFILE [--out SIGFILE]`: sign a statement the web page prepared,
on the signer's own machine.

The page offers the exact canonical body for download; this command refuses anything
else (a body that is not byte for byte canonical, or not an event body), shows on
stderr what the bytes say (never what the page said), refuses if the body names a key
other than the key file's, and prints the base64 Ed25519 signature (or writes it to
--out) for the signer to paste back into the page. It reads two files and writes one:
it opens no ledger and sends nothing anywhere; the private key never leaves this
machine. The server appends the signature only if it verifies against those exact bytes
and the signer's registered key.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.application.offpage import (
    BodyError,
    action_in_name,
    facts,
    fingerprint,
    read_body,
    shown,
)
from api.cli.common import CliError, Parsers, Subparsers, output_file
from ledger.auditor.entry import EventBody
from ledger.config import DEFAULT_BACKWARD_SKEW, DEFAULT_FORWARD_SKEW
from ledger.keys import KeyPair

#: The ledger's default bounds on a timestamp (ledger/config.py, ledger/timestamps.py):
#: an entry may be dated at most this far behind the ledger's clock...
LEDGER_BACKWARD = DEFAULT_BACKWARD_SKEW
#: ...and at most this far ahead of it.
LEDGER_FORWARD = DEFAULT_FORWARD_SKEW


def cmd_sign(args: argparse.Namespace) -> int:
    key_text = getattr(args, "sign_key", None) or args.key or os.environ.get("INQUIRY_LEDGER_KEY")
    if not key_text:
        raise CliError("say which key signs: --key KEYFILE (your private key file)")
    path = Path(args.body_file)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from None
    try:
        body = read_body(data)
    except BodyError as error:
        raise CliError(f"not signed: {path} is not a prepared statement: {error}") from None
    key = KeyPair.read(Path(key_text))
    if body.key_id != key.key_id:
        raise CliError(
            f"not signed: the statement names key {shown(body.key_id)}, but {key_text} is key "
            f"{key.key_id}; prepare it again on the page with the key you hold"
        )
    out = output_file(args.out) if args.out else None
    _show(body, data, path.name)
    signature = base64.b64encode(key.sign(data)).decode("ascii")
    if out is None:
        print(signature)
    else:
        out.write_text(signature + "\n")
        print(f"signature written to {out}", file=sys.stderr)
    print("Paste the signature into the page to record it.", file=sys.stderr)
    return 0


def _show(body: EventBody, data: bytes, name: str) -> None:
    lines = ["You are signing:"]
    rows = facts(body, action_in_name(name, body.aggregate_id))
    width = max(len(label) for label, _ in rows)
    lines += [f"  {label.ljust(width)}  {value}" for label, value in rows]
    lines.append(f"  {'SHA-256'.ljust(width)}  {fingerprint(data)} (the page shows it too)")
    age = datetime.now(UTC) - body.timestamp
    if age > LEDGER_BACKWARD:
        lines.append(
            f"warning: it was prepared {_span(age)} ago by this machine's clock; the ledger "
            f"accepts a statement dated at most {_span(LEDGER_BACKWARD)} behind its clock, "
            "so it may refuse this one: prepare it again if so"
        )
    elif -age > LEDGER_FORWARD:
        lines.append(
            f"warning: it is dated {_span(-age)} from now by this machine's clock; the ledger "
            f"accepts a statement dated at most {_span(LEDGER_FORWARD)} ahead of its clock: "
            "check this machine's clock, or prepare it again"
        )
    print("\n".join(lines), file=sys.stderr)


def _span(span: timedelta) -> str:
    if span < timedelta(minutes=2):
        return f"{int(span.total_seconds())} seconds"
    minutes = int(span.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} minutes"
    if minutes < 48 * 60:
        return f"{minutes // 60} hours"
    return f"{span.days} days"


def _add_sign(sub: Subparsers) -> None:
    p = sub.add_parser(
        "sign",
        help="sign a statement the web page prepared, here, with your own key (sends nothing)",
        description="Sign a statement the web page prepared (the exact body it offered for "
        "download) with your private key file. Shows what the statement says, then prints "
        "the signature to paste back into the page. Nothing is sent anywhere.",
    )
    p.add_argument("body_file", metavar="BODY_FILE", help="the statement the page offered")
    p.add_argument(
        "--key",
        dest="sign_key",
        metavar="KEYFILE",
        default=argparse.SUPPRESS,
        help="your private key file (or $INQUIRY_LEDGER_KEY)",
    )
    p.add_argument("--out", metavar="SIGFILE", help="write the signature here, not to stdout")
    p.set_defaults(func=cmd_sign)


PARSERS: Parsers = {"sign": _add_sign}
