"""A bundle's keys.json: every user and key, with the leaf that registered, added,
rotated or revoked it, and each user's role changes and deactivation.

One derivation for both sides: the exporter (ledger/bundle.py) writes it from the log it
exports, and the auditor derives it again from the directory it replayed and reports any
difference (`differences`). keys.json is the copy a person reads; without the check an
operator could show them another key, role or revocation than the log holds.

Shape::

    {USER: {"role": ROLE, "agency": AGENCY | null, "registered_at_leaf": N,
            "keys": {KEY_ID: {"public_key": BASE64, "registered_at_leaf": N,
                              ["revoked_at_leaf": N]}},
            ["role_changes": [{"at_leaf": N, "from_role": ROLE, "from_agency": AGENCY | null,
                               "role": ROLE, "agency": AGENCY | null}]],
            ["deactivated_at_leaf": N], ["reactivated_at_leaf": N]}}

"role" and "agency" are those the user holds at the end of the log; "role_changes" says
from which leaf each came (an entry is signed in the role its signer held at it). A user
is deactivated while "deactivated_at_leaf" is present (their keys were revoked there);
"reactivated_at_leaf" is their latest reactivation.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from itertools import islice
from typing import Any

from ledger.auditor.authority import CHARTER_TYPE
from ledger.auditor.bundle import Bundle
from ledger.auditor.canonical import parse_json
from ledger.auditor.ed25519 import decode_public_key, key_id_for
from ledger.auditor.entry import GENESIS_TYPE, EventBody, SignedEntry
from ledger.auditor.errors import FormatError
from ledger.auditor.limits import keys_file_limit

KEYS_FILE = "keys.json"
REGISTERED = "directory.user_registered"
ROTATED = "directory.key_rotated"
REVOKED = "directory.key_revoked"
ADDED = "directory.key_added"
ROLE_CHANGED = "directory.user_role_changed"
DEACTIVATED = "directory.user_deactivated"
REACTIVATED = "directory.user_reactivated"
#: The entries that change a user but no key: keys.json counts those the audit applied.
MEMBER_CHANGES = (ROLE_CHANGED, DEACTIVATED, REACTIVATED)
#: Entry types that change keys.json; a line naming none of them is skipped unparsed.
TYPES = (GENESIS_TYPE, CHARTER_TYPE, REGISTERED, ROTATED, REVOKED, ADDED, *MEMBER_CHANGES)
MARKERS = tuple(b'"type":"' + name.encode() + b'"' for name in TYPES)


def introduced_key(body: EventBody) -> tuple[str, str, str | None, str] | None:
    """(user, role, agency, public key text) of an entry that creates a user with a key,
    (user, "", None, key) of a rotation or an added key; None for any other entry. Role
    "" means the entry adds a key to an existing user."""
    payload = body.payload
    if body.type == GENESIS_TYPE:
        return str(payload.get("admin_id")), "admin", None, str(payload.get("public_key"))
    if body.type == CHARTER_TYPE:
        return str(payload.get("chair_id")), "chair", None, str(payload.get("public_key"))
    if body.type == REGISTERED:
        agency = payload.get("agency")
        return (
            str(payload.get("user_id")),
            str(payload.get("role")),
            agency if isinstance(agency, str) else None,
            str(payload.get("public_key")),
        )
    if body.type == ROTATED:
        return str(payload.get("user_id")), "", None, str(payload.get("new_public_key"))
    if body.type == ADDED:
        return str(payload.get("user_id")), "", None, str(payload.get("public_key"))
    return None


def key_id_of(text: str) -> str | None:
    """The key id of a key text, or None if it is not an acceptable public key."""
    try:
        return key_id_for(decode_public_key(text))
    except FormatError:
        return None


class KeyIndex:
    """keys.json, built by seeing the directory's entries in log order."""

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}

    def see(self, leaf_index: int, body: EventBody) -> None:
        introduced = introduced_key(body)
        if introduced is not None:
            user, role, agency, text = introduced
            key_id = key_id_of(text)
            if key_id is None:
                return  # refused by the ledger and reported by the auditor: no key, no user
            if role:
                self.users[user] = {
                    "role": role,
                    "agency": agency,
                    "registered_at_leaf": leaf_index,
                    "keys": {},
                }
            record = self.users.setdefault(
                user, {"role": None, "agency": None, "registered_at_leaf": None, "keys": {}}
            )
            if body.type == ROTATED:  # a rotation revokes every key the user holds
                for key in record["keys"].values():
                    key.setdefault("revoked_at_leaf", leaf_index)
            record["keys"][key_id] = {"public_key": text, "registered_at_leaf": leaf_index}
        elif body.type == REVOKED:
            holder = self.users.get(str(body.payload.get("user_id")))
            revoked_key_id = body.payload.get("revoked_key_id")
            key = None if holder is None else holder["keys"].get(revoked_key_id)
            if key is not None:
                key.setdefault("revoked_at_leaf", leaf_index)
        elif body.type in MEMBER_CHANGES:
            holder = self.users.get(str(body.payload.get("user_id")))
            if holder is not None:
                _member_change(holder, leaf_index, body)


def _member_change(record: dict[str, Any], leaf_index: int, body: EventBody) -> None:
    """A role change, deactivation or reactivation, on the user's record."""
    if body.type == ROLE_CHANGED:
        agency = body.payload.get("agency")
        change = {
            "at_leaf": leaf_index,
            "from_role": record["role"],
            "from_agency": record["agency"],
            "role": str(body.payload.get("role")),
            "agency": agency if isinstance(agency, str) else None,
        }
        record.setdefault("role_changes", []).append(change)
        record["role"], record["agency"] = change["role"], change["agency"]
    elif body.type == DEACTIVATED:
        record["deactivated_at_leaf"] = leaf_index
        for key in record["keys"].values():  # deactivation revokes every key they hold
            key.setdefault("revoked_at_leaf", leaf_index)
    else:
        record.pop("deactivated_at_leaf", None)
        record["reactivated_at_leaf"] = leaf_index


def keys_file_problems(
    bundle: Bundle,
    keys: Mapping[str, tuple[str, int | None]],
    entries: int | None = None,
    member_changes: Collection[int] = (),
) -> Iterator[tuple[int | None, str]]:
    """(leaf, what differs) for each way the bundle's keys.json is not the directory the
    audit replayed (`keys`: key id -> (holder, leaf that revoked it or None);
    `member_changes`: the leaves of the role changes, deactivations and reactivations
    it applied), from the first `entries` entries (all by default: the audit passes how
    many it read).

    keys.json may not be larger than the keys it can describe (limits.keys_file_limit):
    BundleTooLarge if it is."""
    if not bundle.exists(KEYS_FILE):
        yield None, "the bundle has no keys.json"
        return
    try:
        listed = parse_json(
            bundle.read(KEYS_FILE, keys_file_limit(len(keys) + len(member_changes)))
        )
    except FormatError as error:
        yield None, f"keys.json is not strict JSON: {error}"
        return
    if bundle.exists("entries.jsonl"):  # else the audit has said so
        lines = islice(bundle.lines("entries.jsonl"), entries)
        yield from differences(replayed_index(lines, keys, member_changes), listed)


def replayed_index(
    lines: Iterator[bytes],
    keys: Mapping[str, tuple[str, int | None]],
    member_changes: Collection[int] = (),
) -> dict[str, dict[str, Any]]:
    """keys.json as the auditor's replay says it must be.

    `keys` is the replayed directory: key id -> (holder, leaf that revoked it or None).
    An entry counts only if its effect is in it (the key it adds is held by that user,
    or the key it revokes was revoked at that leaf): an entry the audit refused (bad
    signature, unknown signer, not authorised) registers nothing here either."""
    index = KeyIndex()
    placed: set[str] = set()
    for position, line in enumerate(lines):
        if not any(marker in line for marker in MARKERS):
            continue
        try:
            body = SignedEntry.from_entry_bytes(line).body
        except FormatError:
            continue  # reported by the audit
        introduced = introduced_key(body)
        if introduced is not None:
            user, _role, _agency, text = introduced
            key_id = key_id_of(text)
            if key_id is None or key_id in placed or keys.get(key_id, ("", None))[0] != user:
                continue
            placed.add(key_id)
        elif body.type == REVOKED:
            revoked = keys.get(str(body.payload.get("revoked_key_id")))
            if revoked is None or revoked != (str(body.payload.get("user_id")), position):
                continue
        elif body.type not in MEMBER_CHANGES or position not in member_changes:
            continue
        index.see(position, body)
    return index.users


def differences(
    replayed: dict[str, dict[str, Any]], listed: object
) -> Iterator[tuple[int | None, str]]:
    """(leaf, what differs) for each difference between keys.json as listed and as
    replayed; the leaf is the user's registration where the log has one."""
    if not isinstance(listed, dict):
        yield None, "keys.json is not a JSON object of users"
        return
    for user in sorted(set(replayed) | set(listed)):
        want, have = replayed.get(user), listed.get(user)
        leaf = None if want is None else want.get("registered_at_leaf")
        if want is None:
            yield None, f"keys.json lists {user!r}, whom the log does not register"
        elif have is None:
            yield leaf, f"keys.json omits {user!r} ({want['role']}), registered at leaf {leaf}"
        else:
            for path, (a, b) in sorted(_compare(want, have, ()).items()):
                where = " / ".join(path) if path else "the record"
                yield leaf, f"keys.json, {user!r}: {where} is {b}; the log says {a}"


def _compare(
    want: object, have: object, path: tuple[str, ...]
) -> dict[tuple[str, ...], tuple[str, str]]:
    if isinstance(want, dict) and isinstance(have, dict):
        found: dict[tuple[str, ...], tuple[str, str]] = {}
        for name in set(want) | set(have):
            found.update(
                _compare(want.get(name, _ABSENT), have.get(name, _ABSENT), (*path, str(name)))
            )
        return found
    if type(want) is type(have) and want == have:
        return {}
    return {path: (_show(want), _show(have))}


class _Absent:
    pass


_ABSENT = _Absent()


def _show(value: object) -> str:
    if value is _ABSENT:
        return "absent"
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."
