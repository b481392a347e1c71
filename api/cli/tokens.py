"""`tokens create|revoke|list`: the API's bearer tokens, managed by an administrator who
proves it by signing a fresh challenge."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta

from api.application.render import table
from api.application.tokens import TokenStore
from api.cli.common import (
    EXIT_REFUSED,
    CliError,
    Parsers,
    Subparsers,
    config_from,
    open_ledger,
    signer_for,
)
from domain import DomainError, Role
from ledger.auditor.ed25519 import decode_public_key, verify_signature
from ledger.config import LedgerConfig
from ledger.service import Ledger


def _require_admin(args: argparse.Namespace, ledger: Ledger, config: LedgerConfig) -> str:
    """Token management needs an administrator holding an active admin key: prove it by
    signing a fresh challenge, checked against the directory."""
    signer = signer_for(args, config, ledger.origin())
    directory = ledger.require_directory()
    try:
        actor, key = directory.resolve(signer.user_id, signer.key.key_id)
    except DomainError as error:
        raise CliError(str(error), EXIT_REFUSED) from None
    challenge = b"inquiry-ledger/admin-challenge/v1\n" + os.urandom(32)
    proof = signer.key.sign(challenge)
    if actor.role is not Role.ADMIN or not verify_signature(
        decode_public_key(key.public_key), proof, challenge
    ):
        raise CliError(f"{signer.user_id} is not an administrator", EXIT_REFUSED)
    return signer.user_id


def cmd_tokens_create(args: argparse.Namespace) -> int:
    config = config_from(args)
    with open_ledger(config) as ledger:
        _require_admin(args, ledger, config)
        user = ledger.require_directory().users.get(args.user_id)
        if user is None:
            raise CliError(f"no registered user {args.user_id}")
        if not user.active:
            raise CliError(f"{args.user_id} has been deactivated: reactivate them first")
        token = TokenStore(ledger.tables).create(args.user_id, timedelta(days=args.days))
    print(token)
    print(
        f"(for {args.user_id}, valid {args.days} days; shown once, stored only as a hash)",
        file=sys.stderr,
    )
    return 0


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    config = config_from(args)
    with open_ledger(config) as ledger:
        _require_admin(args, ledger, config)
        if not TokenStore(ledger.tables).revoke(args.token_id):
            raise CliError(f"no active token {args.token_id}")
    print(f"revoked token {args.token_id}")
    return 0


def cmd_tokens_list(args: argparse.Namespace) -> int:
    config = config_from(args)
    with open_ledger(config) as ledger:
        _require_admin(args, ledger, config)
        tokens = TokenStore(ledger.tables).list()
    print(
        table(
            ["Token id", "User", "Created", "Expires", "Revoked"],
            [
                (
                    t.token_id,
                    t.user_id,
                    f"{t.created_at:%Y-%m-%d %H:%M}",
                    f"{t.expires_at:%Y-%m-%d}",
                    f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "-",
                )
                for t in tokens
            ],
        )
    )
    return 0


def _add_tokens(sub: Subparsers) -> None:
    tokens = sub.add_parser("tokens", help="API bearer tokens (administrators)")
    tokens_sub = tokens.add_subparsers(dest="tokens_cmd", required=True)
    p = tokens_sub.add_parser("create", help="create a token for a user; printed once")
    p.add_argument("user_id")
    p.add_argument("--days", type=int, default=30, help="lifetime in days (default 30)")
    p.set_defaults(func=cmd_tokens_create)
    p = tokens_sub.add_parser("revoke", help="revoke a token by its id")
    p.add_argument("token_id")
    p.set_defaults(func=cmd_tokens_revoke)
    p = tokens_sub.add_parser("list", help="list tokens (never their secrets)")
    p.set_defaults(func=cmd_tokens_list)


PARSERS: Parsers = {"tokens": _add_tokens}
