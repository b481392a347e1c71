"""Whether each signer's authority derives from the roots the auditor pins.

The operator holds the database, the log key and the administrator's key, so a log that
merely verifies proves nothing about who decided what: the operator could have registered
a chair of its own. Authority is therefore traced, entry by entry, to the keys the auditor
pins with ``--trust`` (the chair's charter key, published by the chair): a user is
*rooted* when the charter that made them chair was signed by a pinned key, or when a
rooted user holding the appointing role (ledger/auditor/authority.py) registered them.
Administrators are never rooted: the authority table lets them sign operational acts only.

Every registration, appointment, key added, rotated or revoked, change of role or agency,
deactivation and reactivation is recorded in plain words with who authorised it, so the
chair sees what changed in the directory, not just "OK". A role change re-roots its user:
they hold authority from then on if whoever moved them did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledger.auditor.authority import CHARTER_TYPE, appointer_of
from ledger.auditor.ed25519 import decode_public_key, key_id_for
from ledger.auditor.entry import GENESIS_TYPE, EventBody
from ledger.auditor.errors import FormatError


@dataclass
class Member:
    role: str
    agency: str | None
    rooted: bool
    appointed_by: str | None
    deactivated_at: int | None = None  # the leaf that deactivated them, while they are


def parse_trust(text: str) -> set[bytes]:
    """The roots' public keys: one base64 key a line (as ``keys new`` prints them);
    blank lines and lines starting with '#' are ignored. Each key is checked as every
    registered key is (32 bytes, canonical, not of small order)."""
    keys: set[bytes] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            keys.add(decode_public_key(line))
        except FormatError as error:
            raise FormatError(f"--trust line {number}: {error}") from None
    if not keys:
        raise FormatError("--trust names no key")
    return keys


class Roots:
    """The directory as the auditor replays it, with each member's rootedness."""

    def __init__(self, trusted: set[bytes] | None) -> None:
        self.trusted = trusted
        self.members: dict[str, Member] = {}
        self.appointers: Mapping[str, str] | None = None
        self.changes: list[str] = []

    @property
    def pinned(self) -> bool:
        return self.trusted is not None

    def role_of(self, user: str) -> tuple[str, str | None]:
        member = self.members.get(user)
        return ("", None) if member is None else (member.role, member.agency)

    def subject_role(self, body: EventBody) -> str | None:
        member = self.members.get(str(body.payload.get("user_id")))
        return None if member is None else member.role

    def unrooted(self, body: EventBody) -> str | None:
        """Why `body`'s signer holds no authority from the pinned roots, or None.

        Administrators sign only what the authority table allows them (operational acts
        that grant nothing), so their entries need no root; a charter needs a pinned key."""
        if self.trusted is None:
            return None
        if body.type == GENESIS_TYPE:
            return None
        if body.type == CHARTER_TYPE:
            key = _public_key(body.payload.get("public_key"))
            if key not in self.trusted:
                return (
                    f"the charter naming {body.actor} as chair is signed by key "
                    f"{body.key_id}, which is not one of the roots you pinned (--trust)"
                )
            return None
        member = self.members.get(body.actor)
        if member is None or member.role == "admin" or member.rooted:
            return None
        by = member.appointed_by or "nobody"
        return (
            f"{body.actor} ({member.role}) was appointed by {by}, whose authority does not "
            "derive from the roots you pinned (--trust): it holds none"
        )

    def apply(self, position: int, body: EventBody) -> None:
        """Record a directory entry's effect (its signature and authority already
        checked, and the entry one the domain accepts: Signers.apply refuses a user
        registered twice, so no member is overwritten here) and describe it."""
        kind, payload, actor = body.type, body.payload, body.actor
        signer = self.members.get(actor)
        signer_rooted = signer is not None and signer.rooted
        if kind == GENESIS_TYPE:
            self.members[payload["admin_id"]] = Member("admin", None, False, None)
            self._say(position, f"the operator founded the log; {actor} is its administrator")
        elif kind == CHARTER_TYPE:
            key = _public_key(payload["public_key"])
            rooted = self.trusted is not None and key in self.trusted
            self.members[payload["chair_id"]] = Member("chair", None, rooted, None)
            self.appointers = {str(k): str(v) for k, v in dict(payload["appointers"]).items()}
            pinned = (
                "a root you pinned"
                if rooted
                else ("NOT a root you pinned" if self.trusted is not None else "no roots pinned")
            )
            self._say(
                position,
                f"{actor} adopted the charter as chair with key {body.key_id} ({pinned}); "
                f"appointers: {_table(self.appointers)}",
            )
        elif kind == "directory.user_registered":
            role, agency = str(payload["role"]), payload.get("agency")
            rooted = signer_rooted and role != "admin"
            self.members[payload["user_id"]] = Member(role, agency, rooted, actor)
            where = f" of {agency}" if agency else ""
            self._say(
                position,
                f"{actor} ({signer.role if signer else '?'}) registered {payload['user_id']} "
                f"as {role}{where} with key {key_id_for(_public_key(payload['public_key']))}",
            )
        elif kind == "directory.key_rotated":
            self._say(position, self._rotation(body, signer))
        elif kind == "directory.key_revoked":
            self._say(
                position,
                f"{actor} revoked key {payload['revoked_key_id']} of {payload['user_id']}"
                f" ({payload.get('reason', '')})",
            )
        else:
            self._member_change(position, body, signer)

    def _member_change(self, position: int, body: EventBody, signer: Member | None) -> None:
        """A key added, a role or agency changed, a user deactivated or reactivated."""
        kind, payload, actor = body.type, body.payload, body.actor
        user, reason = str(payload.get("user_id")), payload.get("reason", "")
        member = self.members.get(user)
        own = actor == user
        by = actor if own else f"{actor} ({signer.role if signer else '?'})"
        whom = "themself" if own else user
        if kind == "directory.key_added":
            new_key = key_id_for(_public_key(payload["public_key"]))
            self._say(position, f"{by} added key {new_key} for {whom} ({reason})")
        elif kind == "directory.user_role_changed" and member is not None:
            role, agency = str(payload["role"]), payload.get("agency")
            before = member.role + (f" of {member.agency}" if member.agency else "")
            member.role, member.agency = role, agency if isinstance(agency, str) else None
            member.rooted = signer is not None and signer.rooted and role != "admin"
            member.appointed_by = actor
            where = f" of {agency}" if agency else ""
            self._say(position, f"{by} moved {user} from {before} to {role}{where} ({reason})")
        elif kind == "directory.user_deactivated" and member is not None:
            member.deactivated_at = position
            self._say(position, f"{by} DEACTIVATED {whom}; their keys sign no more ({reason})")
        elif kind == "directory.user_reactivated" and member is not None:
            member.deactivated_at = None
            self._say(position, f"{by} reactivated {user} ({reason})")

    def _rotation(self, body: EventBody, signer: Member | None) -> str:
        payload, actor = body.payload, body.actor
        new_key = key_id_for(_public_key(payload["new_public_key"]))
        if payload["user_id"] == actor:
            return f"{actor} rotated their own key to {new_key} ({payload.get('reason', '')})"
        role = signer.role if signer else "?"
        return (
            f"{actor} ({role}) REPLACED the key of {payload['user_id']} with {new_key}, as "
            f"their appointer (a lost key?): {payload.get('reason', '')}"
        )

    def appointer(self, role: str) -> str | None:
        return appointer_of(role, self.appointers)

    def _say(self, position: int, text: str) -> None:
        self.changes.append(f"entry {position}: {text}")


def _public_key(value: Any) -> bytes:
    return decode_public_key(value)


def _table(appointers: Mapping[str, str]) -> str:
    return ", ".join(f"{role} by {by}" for role, by in sorted(appointers.items()))
