"""The `inquiry-ledger` command line: the parser, and running what it parsed.

Every command lives in a small module that registers its parsers (`PARSERS`, command
name -> the function adding it) over the shared `api.cli.common`; this module only puts
them together, in the order `inquiry-ledger --help` lists them. What the exit statuses
mean is in `api.cli.common`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from api.cli import (
    act,
    backfill,
    challenge,
    charter,
    evidence,
    keys,
    ops,
    plan,
    public,
    receipts,
    remind,
    report,
    session,
    setup,
    sign,
    status,
    tokens,
    users,
    verify,
    witness,
)
from api.cli.common import Parsers, run

#: Every command module, each with its `PARSERS`.
MODULES = (
    act,
    backfill,
    challenge,
    charter,
    evidence,
    keys,
    ops,
    plan,
    public,
    receipts,
    remind,
    report,
    session,
    setup,
    sign,
    status,
    tokens,
    users,
    verify,
    witness,
)

#: The commands, in the order the help lists them.
ORDER = (
    "init",
    "charter",
    "keys",
    "users",
    "import",
    "template",
    "plan",
    "backfill",
    "act",
    "challenge",
    "session",
    "arising",
    "sign",
    "evidence",
    "diff",
    "status",
    "report",
    "history",
    "timeline",
    "projection",
    "checkpoint",
    "receipts",
    "verify",
    "witness",
    "export",
    "verify-bundle",
    "public-check",
    "tokens",
    "serve",
    "demo",
    "remind",
    "backup",
    "restore",
    "log-key",
)


def registry() -> Parsers:
    """Every command's parser, by name (a name registered twice is a mistake)."""
    found: Parsers = {}
    for module in MODULES:
        for name, add in module.PARSERS.items():
            if name in found:
                raise RuntimeError(f"command {name} is registered twice")
            found[name] = add
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inquiry-ledger",
        description="Tamper-evident ledger of an inquiry's action plan.",
    )
    parser.add_argument(
        "--home", help="ledger folder (default: $INQUIRY_LEDGER_HOME or ./.inquiry-ledger)"
    )
    parser.add_argument("--as", dest="as_user", help="user who signs (or $INQUIRY_LEDGER_USER)")
    parser.add_argument(
        "--server",
        help="client mode: the server's URL (or $INQUIRY_LEDGER_SERVER); signing stays here",
    )
    parser.add_argument("--token", help="client mode: your bearer token ($INQUIRY_LEDGER_TOKEN)")
    parser.add_argument(
        "--key",
        help="signer's private key file (default HOME/keys/users/USER.key or $INQUIRY_LEDGER_KEY)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    commands = registry()
    if set(commands) != set(ORDER):
        raise RuntimeError(f"commands not in ORDER, or gone: {set(commands) ^ set(ORDER)}")
    for name in ORDER:
        commands[name](sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(args)
