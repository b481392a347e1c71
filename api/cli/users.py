"""`users add` and `users list`: the directory of who may sign, and their keys."""

from __future__ import annotations

import argparse

from api.application.render import table
from api.cli.common import (
    Parsers,
    Subparsers,
    client_for,
    config_from,
    open_ledger,
    print_appended,
    public_key_from,
    remote_for,
)


def cmd_users_add(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        result = client.register_user(
            args.user_id, args.name, args.role, args.agency, public_key_from(args)
        )
        print_appended([result], args)
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    remote = remote_for(args)
    if remote is not None:
        with remote:
            users = remote.users()
        print(
            table(
                ["User", "Name", "Role", "Agency", "Active keys", "Revoked keys"],
                [
                    (
                        u["user_id"],
                        u["name"],
                        u["role"],
                        u["agency"] or "-",
                        ", ".join(u["active_keys"]) or "-",
                        u["revoked_keys"],
                    )
                    for u in users
                ],
            )
        )
        return 0
    with open_ledger(config_from(args)) as ledger:
        directory = ledger.require_directory()
        print(
            table(
                ["User", "Name", "Role", "Agency", "Active keys", "Revoked keys"],
                [
                    (
                        u.user_id,
                        u.name,
                        u.role.value,
                        u.agency or "-",
                        ", ".join(k.key_id for k in u.keys.values() if k.active) or "-",
                        len([k for k in u.keys.values() if not k.active]),
                    )
                    for u in sorted(directory.users.values(), key=lambda u: u.user_id)
                ],
            )
        )
    return 0


def _add_users(sub: Subparsers) -> None:
    users = sub.add_parser("users", help="users").add_subparsers(dest="users_cmd", required=True)
    p = users.add_parser("add", help="register a user and their public key (signed by an admin)")
    p.add_argument("user_id")
    p.add_argument("--name", required=True)
    p.add_argument(
        "--role",
        required=True,
        choices=["officer", "agency_lead", "implementation_group", "chair", "scrutiny", "admin"],
    )
    p.add_argument("--agency", help="agency id, for officers and agency leads")
    p.add_argument("--public-key", help="base64 Ed25519 public key")
    p.add_argument("--key-file", help="or: read the public key from this private key file")
    p.set_defaults(func=cmd_users_add)
    p = users.add_parser("list", help="list users and keys")
    p.set_defaults(func=cmd_users_list)


PARSERS: Parsers = {"users": _add_users}
