"""`keys new`, `keys add`, `keys rotate`, `keys revoke`: users' key pairs (the private half
stays here). A user may hold several active keys at once (`keys add`: the CLI on a laptop
and a browser's key), each revoked on its own; `keys rotate` replaces them all."""

from __future__ import annotations

import argparse
import base64
from pathlib import Path

from api.cli.common import (
    Parsers,
    Subparsers,
    client_for,
    print_appended,
    public_key_from,
)
from ledger.keys import KeyPair


def cmd_keys_new(args: argparse.Namespace) -> int:
    key = KeyPair.generate()
    key.write(Path(args.out))
    print(f"private key written to {args.out} (mode 0600); keep it on your side")
    print(f"public key: {_b64(key.public_key)}")
    print(f"key id:     {key.key_id}")
    return 0


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        public_key = public_key_from(args)
        print_appended([client.rotate_key(args.user_id, public_key, args.reason)], args)
    return 0


def cmd_keys_add(args: argparse.Namespace) -> int:
    """Register a further key for USER (by default the signer themself, signing with a
    key they already hold; or their appointer, for a user who has none left)."""
    ledger, client = client_for(args)
    with ledger:
        public_key = public_key_from(args)
        user = args.user_id or client.signer.user_id
        print_appended([client.add_key(user, public_key, args.reason)], args)
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        print_appended([client.revoke_key(args.user_id, args.key_id, args.reason)], args)
    return 0


def _add_keys(sub: Subparsers) -> None:
    keys = sub.add_parser("keys", help="key pairs").add_subparsers(dest="keys_cmd", required=True)
    p = keys.add_parser("new", help="generate a key pair; the private key stays in --out")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_keys_new)
    p = keys.add_parser(
        "add",
        help="give a user a further active key beside theirs (signed by the user with a key "
        "they hold, or by their appointer)",
    )
    p.add_argument("user_id", nargs="?", help="whose key (default: --as, the signer)")
    _new_key_arguments(p)
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_keys_add)
    p = keys.add_parser("rotate", help="replace a user's keys with a new one (signed)")
    p.add_argument("user_id")
    _new_key_arguments(p)
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_keys_rotate)
    p = keys.add_parser("revoke", help="revoke a key (signed)")
    p.add_argument("user_id")
    p.add_argument("key_id")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_keys_revoke)


def _new_key_arguments(p: argparse.ArgumentParser) -> None:
    new_key = p.add_mutually_exclusive_group(required=True)
    new_key.add_argument(
        "--public-key",
        help="the new public key (base64), e.g. one a browser made: its private half never "
        "leaves the user's side",
    )
    new_key.add_argument(
        "--new-key", dest="key_file", help="a key file (its public half is registered)"
    )


PARSERS: Parsers = {"keys": _add_keys}
