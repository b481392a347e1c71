"""`keys new`, `keys rotate`, `keys revoke`: users' key pairs (the private half stays here)."""

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
    p = keys.add_parser("rotate", help="replace a user's keys with a new one (signed)")
    p.add_argument("user_id")
    new_key = p.add_mutually_exclusive_group(required=True)
    new_key.add_argument(
        "--public-key",
        help="the new public key (base64), e.g. one a browser made: its private half never "
        "leaves the user's side",
    )
    new_key.add_argument(
        "--new-key", dest="key_file", help="a key file (its public half is registered)"
    )
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_keys_rotate)
    p = keys.add_parser("revoke", help="revoke a key (signed)")
    p.add_argument("user_id")
    p.add_argument("key_id")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_keys_revoke)


PARSERS: Parsers = {"keys": _add_keys}
