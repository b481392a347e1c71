"""`users add`, `users list`, `users change-role`, `users deactivate`, `users reactivate`:
the directory of who may sign, in which role, and their keys. Each change is signed by
whoever the chair's charter lets appoint the user (domain/directory.py)."""

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
from domain.roles import Role


def cmd_users_add(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        result = client.register_user(
            args.user_id, args.name, args.role, args.agency, public_key_from(args)
        )
        print_appended([result], args)
    return 0


def cmd_users_change_role(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        result = client.change_role(args.user_id, args.role, args.agency, args.reason)
        print_appended([result], args)
    return 0


def cmd_users_deactivate(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        print_appended([client.deactivate_user(args.user_id, args.reason)], args)
    return 0


def cmd_users_reactivate(args: argparse.Namespace) -> int:
    ledger, client = client_for(args)
    with ledger:
        print_appended([client.reactivate_user(args.user_id, args.reason)], args)
    return 0


HEADINGS = ["User", "Name", "Role", "Agency", "State", "Active keys", "Revoked keys"]


def cmd_users_list(args: argparse.Namespace) -> int:
    remote = remote_for(args)
    if remote is not None:
        with remote:
            users = remote.users()
        print(
            table(
                HEADINGS,
                [
                    (
                        u["user_id"],
                        u["name"],
                        u["role"],
                        u["agency"] or "-",
                        "deactivated" if u.get("deactivated") else "active",
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
                HEADINGS,
                [
                    (
                        u.user_id,
                        u.name,
                        u.role.value,
                        u.agency or "-",
                        "active" if u.active else "deactivated",
                        ", ".join(k.key_id for k in u.keys.values() if k.active) or "-",
                        len([k for k in u.keys.values() if not k.active]),
                    )
                    for u in sorted(directory.users.values(), key=lambda u: u.user_id)
                ],
            )
        )
    return 0


ROLES = [role.value for role in Role]


def _add_users(sub: Subparsers) -> None:
    users = sub.add_parser("users", help="users").add_subparsers(dest="users_cmd", required=True)
    p = users.add_parser("add", help="register a user and their public key (signed by an admin)")
    p.add_argument("user_id")
    p.add_argument("--name", required=True)
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--agency", help="agency id, for officers and agency leads")
    p.add_argument("--public-key", help="base64 Ed25519 public key")
    p.add_argument("--key-file", help="or: read the public key from this private key file")
    p.set_defaults(func=cmd_users_add)
    p = users.add_parser("list", help="list users, their state and keys")
    p.set_defaults(func=cmd_users_list)
    p = users.add_parser(
        "change-role",
        help="move a user to another role or agency (signed by whoever appoints both)",
    )
    p.add_argument("user_id")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--agency", help="agency id, for officers and agency leads")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_users_change_role)
    p = users.add_parser(
        "deactivate",
        help="stop every key of a user signing, from now on (signed by the user or their "
        "appointer)",
    )
    p.add_argument("user_id")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_users_deactivate)
    p = users.add_parser(
        "reactivate",
        help="let a deactivated user be given keys again (signed by their appointer)",
    )
    p.add_argument("user_id")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_users_reactivate)


PARSERS: Parsers = {"users": _add_users}
