"""`charter adopt` and `charter show`: the chair's self-signed charter, the root of every
authority in the log (domain/charter.py says who then appoints whom).

The chair runs `charter adopt` with a key made on their own machine (`keys new`), and
publishes its public key through a channel the operator does not control (the inquiry's
own site, a letter to scrutiny); auditors pin it with `verify-bundle --trust`.
"""

from __future__ import annotations

import argparse
import base64

from api.application.render import table
from api.cli.common import (
    Parsers,
    Subparsers,
    client_for,
    config_from,
    open_ledger,
    print_appended,
)
from domain.charter import DEFAULT_APPOINTERS


def cmd_charter_adopt(args: argparse.Namespace) -> int:
    appointers = dict(DEFAULT_APPOINTERS)
    appointers["agency_lead"] = args.leads_appointed_by
    appointers["scrutiny"] = args.scrutiny_appointed_by
    appointers["lived_experience"] = args.consultees_appointed_by
    off_page = [] if args.allow_browser_signing else ["chair"]
    ledger, client = client_for(args)
    with ledger:
        result = client.adopt_charter(
            args.name, args.title, appointers=appointers, off_page_roles=off_page
        )
        print_appended([result], args)
    public_key = base64.b64encode(client.signer.key.public_key).decode()
    print(f"charter adopted; {client.signer.user_id} is the chair (root key {public_key})")
    print(
        "publish that key where the operator cannot change it; auditors pin it with "
        "verify-bundle --trust FILE (the key on one line)"
    )
    return 0


def cmd_charter_show(args: argparse.Namespace) -> int:
    with open_ledger(config_from(args)) as ledger:
        charter = ledger.require_directory().charter
        if charter is None:
            print("no charter adopted yet: the chair runs `charter adopt`")
            return 0
        chair = ledger.require_directory().users[charter.chair_id]
        keys = ", ".join(key.public_key for key in chair.active_keys())
        # The root auditors pin is the key the charter was signed with (verify-bundle lists
        # it); after a rotation by the chair the current key differs from it.
        print(f"{charter.title}\nchair: {chair.name} ({chair.user_id}), current key {keys}")
        print(
            table(
                ["Role", "Appointed by"],
                [(role.value, by.value) for role, by in sorted(charter.appointers.items())],
            )
        )
        roles = ", ".join(sorted(charter.off_page_roles)) or "none"
        print(f"must sign on their own machine (not in the operator's page): {roles}")
    return 0


def _add_charter(sub: Subparsers) -> None:
    charter = sub.add_parser("charter", help="the chair's charter: the root of authority")
    verbs = charter.add_subparsers(dest="charter_cmd", required=True)
    p = verbs.add_parser(
        "adopt", help="adopt the charter (--as the chair, with the chair's own key)"
    )
    p.add_argument("--name", required=True, help="the chair's name as it should appear")
    p.add_argument("--title", required=True, help="e.g. the inquiry's name and remit")
    p.add_argument(
        "--leads-appointed-by",
        choices=["chair", "implementation_group"],
        default="chair",
        help="who appoints each agency's accountable lead (default: chair)",
    )
    p.add_argument(
        "--scrutiny-appointed-by",
        choices=["chair", "implementation_group"],
        default="chair",
    )
    p.add_argument(
        "--consultees-appointed-by",
        choices=["chair", "implementation_group"],
        default="chair",
        help="who appoints the lived-experience consultees (role lived_experience: read, "
        "comment, challenge, no sign-off; default: chair)",
    )
    p.add_argument(
        "--allow-browser-signing",
        action="store_true",
        help="let the chair sign in the operator's web page (by default the chair signs "
        "on their own machine: `inquiry-ledger sign`)",
    )
    p.set_defaults(func=cmd_charter_adopt)
    p = verbs.add_parser("show", help="show the adopted charter")
    p.set_defaults(func=cmd_charter_show)


PARSERS: Parsers = {"charter": _add_charter}
