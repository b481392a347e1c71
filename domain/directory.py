"""The directory: users, their roles and agencies, and their public keys over time.

It is itself event-sourced in the same log, so "which key was valid for whom" at any
point in the log is answered by replaying the log to that point — an auditor needs
nothing from the operator beyond the log itself.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from domain.charter import (
    Charter,
    a_role,
    parse_appointers,
    parse_off_page_roles,
    require_appointer,
)
from domain.errors import InvalidInput, InvalidTransition, NotPermitted
from domain.events import SignedEvent
from domain.roles import AGENCY_ROLES, Actor, Role
from domain.rules import RuleContext, require_identifier, require_text


@dataclass
class KeyRecord:
    key_id: str
    public_key: str  # base64 of the raw 32-byte Ed25519 public key
    registered_at: datetime
    revoked_at: datetime | None = None
    revoked_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass
class User:
    user_id: str
    name: str
    role: Role
    agency: str | None
    keys: dict[str, KeyRecord] = field(default_factory=dict)
    appointed_by: str | None = None  # who registered them; None for the genesis and the chair

    def actor(self) -> Actor:
        return Actor(self.user_id, self.role, self.agency)

    def active_keys(self) -> list[KeyRecord]:
        return [key for key in self.keys.values() if key.active]


def _key_id(public_key: str, rule: str) -> str:
    """The key id of a base64 public key: the derivation of
    ``ledger.auditor.ed25519.key_id_for``, which the domain cannot import
    (tests/ledger/test_strict_formats.py checks that the two agree)."""
    try:
        raw = base64.b64decode(public_key, validate=True)
    except ValueError:
        raise InvalidInput(rule, "public_key is not valid base64") from None
    if len(raw) != 32:
        raise InvalidInput(rule, f"public_key must be 32 bytes of Ed25519, got {len(raw)}")
    return hashlib.sha256(raw).hexdigest()[:16]


class Directory(Aggregate):
    """Everyone who may sign, with their role, agency and keys."""

    def __init__(self) -> None:
        self.origin = ""
        self.charter: Charter | None = None
        self.users: dict[str, User] = {}
        self.key_owner: dict[str, str] = {}

    # -- queries -------------------------------------------------------------------

    def resolve(self, user_id: str, key_id: str) -> tuple[Actor, KeyRecord]:
        """The actor behind (user, key); refuses unknown users and unknown or revoked keys."""
        user = self.users.get(user_id)
        if user is None:
            raise NotPermitted("signature.unknown_user", f"no registered user {user_id!r}")
        key = user.keys.get(key_id)
        if key is None:
            raise NotPermitted(
                "signature.unknown_key", f"key {key_id} is not registered to {user_id}"
            )
        if key.revoked_at is not None:
            raise NotPermitted(
                "signature.revoked_key",
                f"key {key_id} of {user_id} was revoked at {key.revoked_at.isoformat()}"
                f" ({key.revoked_reason})",
            )
        return user.actor(), key

    def _register_key(self, user: User, public_key: str, at: datetime, rule: str) -> None:
        key_id = _key_id(public_key, rule)
        user.keys[key_id] = KeyRecord(key_id, public_key, at)
        self.key_owner[key_id] = user.user_id

    def _check_new_key(self, public_key: str, rule: str) -> None:
        if _key_id(public_key, rule) in self.key_owner:
            raise InvalidInput(rule, "this public key is already registered")

    def _require_keyholder_authority(
        self, ctx: RuleContext, user: User, rule: str, doing: str
    ) -> None:
        """A key is changed by its holder, or by whoever may appoint its holder (a lost
        key); the chair's only by the chair, since nobody appoints the chair."""
        if ctx.actor.user_id == user.user_id:
            return
        if user.role is Role.CHAIR:
            raise NotPermitted(rule, f"only the chair may {doing} the chair's key")
        try:
            require_appointer(self.charter, ctx.actor, user.role, user.agency, rule)
        except NotPermitted as refused:
            raise NotPermitted(
                rule,
                f"{ctx.actor.describe()} may not {doing} the key of {user.user_id}: only its "
                f"holder or whoever appoints {a_role(user.role)} may ({refused.message})",
            ) from None

    # -- events --------------------------------------------------------------------

    class Event(SignedEvent):
        pass

    class Created(Event, Aggregate.Created):
        """The ledger's genesis: names the log and registers its first administrator.

        It is signed by the key it introduces (a self-signed root, as with a CA); a
        verifier accepts that only for the very first entry of the log."""

        TYPE = "ledger.created"
        origin: str
        admin_id: str
        admin_name: str
        public_key: str

        def check(self, state: Any, ctx: RuleContext) -> None:
            rule = "ledger.genesis"
            if state is not None:
                raise InvalidTransition(rule, "the ledger already exists")
            require_text(self.origin, "origin", rule, max_length=200)
            if "\n" in self.origin or " " in self.origin:
                raise InvalidInput(rule, "origin must be one line without spaces")
            require_identifier(self.admin_id, "admin_id", rule)
            require_text(self.admin_name, "admin_name", rule, max_length=200)
            if self.actor != self.admin_id or self.key_id != _key_id(self.public_key, rule):
                raise NotPermitted(rule, "the genesis entry must be signed by the key it registers")

        def apply(self, directory: Directory) -> None:
            directory.origin = self.origin
            admin = User(self.admin_id, self.admin_name, Role.ADMIN, None)
            directory.users[admin.user_id] = admin
            directory._register_key(admin, self.public_key, self.timestamp, "ledger.genesis")

    class CharterAdopted(Event):
        """The chair's appointment of themself: the root of every authority in the log.

        Signed by the key it registers, which the chair made on their own machine and
        publishes for auditors to pin (``verify-bundle --trust``). The operator can append
        a charter of its own, but nothing rooted in it passes an audit that pins the
        chair's key. One charter per ledger."""

        TYPE = "directory.charter_adopted"
        chair_id: str
        name: str
        public_key: str
        title: str
        appointers: dict[str, str]
        off_page_roles: list[str]

        def check(self, state: Directory, ctx: RuleContext) -> None:
            rule = "directory.charter"
            if state.charter is not None:
                raise InvalidTransition(rule, "a charter was already adopted")
            require_identifier(self.chair_id, "chair_id", rule)
            require_text(self.name, "name", rule, max_length=200)
            require_text(self.title, "title", rule, max_length=500)
            if self.chair_id in state.users:
                raise InvalidTransition(rule, f"user {self.chair_id!r} already exists")
            if self.actor != self.chair_id or self.key_id != _key_id(self.public_key, rule):
                raise NotPermitted(rule, "the charter must be signed by the chair key it names")
            parse_appointers(self.appointers, rule)
            parse_off_page_roles(self.off_page_roles, rule)
            state._check_new_key(self.public_key, rule)

        def apply(self, directory: Directory) -> None:
            directory.charter = Charter(
                self.chair_id,
                self.title,
                parse_appointers(self.appointers, ""),
                parse_off_page_roles(self.off_page_roles, ""),
            )
            chair = User(self.chair_id, self.name, Role.CHAIR, None)
            directory.users[chair.user_id] = chair
            directory._register_key(chair, self.public_key, self.timestamp, "")

    class UserRegistered(Event):
        TYPE = "directory.user_registered"
        user_id: str
        name: str
        role: str
        agency: str | None
        public_key: str

        def check(self, state: Directory, ctx: RuleContext) -> None:
            rule = "directory.register_user"
            require_identifier(self.user_id, "user_id", rule)
            require_text(self.name, "name", rule, max_length=200)
            if self.user_id in state.users:
                raise InvalidTransition(rule, f"user {self.user_id!r} already exists")
            try:
                role = Role(self.role)
            except ValueError:
                names = ", ".join(r.value for r in Role)
                raise InvalidInput(rule, f"unknown role {self.role!r}; one of: {names}") from None
            require_appointer(state.charter, ctx.actor, role, self.agency, rule)
            if role in AGENCY_ROLES:
                if not self.agency:
                    raise InvalidInput(rule, f"a user with role {role.value} needs an agency")
                if ctx.plan is None or self.agency not in ctx.plan.agencies:
                    known = ", ".join(sorted(ctx.plan.agencies)) if ctx.plan else "none yet"
                    raise InvalidInput(
                        rule, f"unknown agency {self.agency!r} (known: {known}); import the plan"
                    )
            elif self.agency is not None:
                raise InvalidInput(rule, f"a user with role {role.value} acts for no agency")
            state._check_new_key(self.public_key, rule)

        def apply(self, directory: Directory) -> None:
            user = User(self.user_id, self.name, Role(self.role), self.agency, {}, self.actor)
            directory.users[user.user_id] = user
            directory._register_key(user, self.public_key, self.timestamp, "")

    class KeyRotated(Event):
        """A new key replaces every active key of the user (lost device, routine rotation)."""

        TYPE = "directory.key_rotated"
        user_id: str
        new_public_key: str
        reason: str

        def check(self, state: Directory, ctx: RuleContext) -> None:
            rule = "directory.rotate_key"
            user = state.users.get(self.user_id)
            if user is None:
                raise InvalidInput(rule, f"no registered user {self.user_id!r}")
            state._require_keyholder_authority(ctx, user, rule, "rotate")
            require_text(self.reason, "reason", rule)
            state._check_new_key(self.new_public_key, rule)

        def apply(self, directory: Directory) -> None:
            user = directory.users[self.user_id]
            for key in user.active_keys():
                key.revoked_at = self.timestamp
                key.revoked_reason = f"rotated: {self.reason}"
            directory._register_key(user, self.new_public_key, self.timestamp, "")

    class KeyRevoked(Event):
        TYPE = "directory.key_revoked"
        user_id: str
        revoked_key_id: str
        reason: str

        def check(self, state: Directory, ctx: RuleContext) -> None:
            rule = "directory.revoke_key"
            user = state.users.get(self.user_id)
            if user is None:
                raise InvalidInput(rule, f"no registered user {self.user_id!r}")
            state._require_keyholder_authority(ctx, user, rule, "revoke")
            key = user.keys.get(self.revoked_key_id)
            if key is None or not key.active:
                raise InvalidTransition(
                    rule, f"{self.user_id} has no active key {self.revoked_key_id}"
                )
            require_text(self.reason, "reason", rule)
            admins_with_keys = [
                u for u in state.users.values() if u.role is Role.ADMIN and u.active_keys()
            ]
            if (
                user.role is Role.ADMIN
                and len(user.active_keys()) == 1
                and admins_with_keys == [user]
            ):
                raise InvalidTransition(
                    "directory.last_admin_key",
                    "refusing to revoke the last active key of the last administrator",
                )
            if user.role is Role.CHAIR and len(user.active_keys()) == 1:
                # Nobody appoints the chair and a ledger has one charter, so a chair with
                # no key could never act or appoint again: replace the key instead.
                raise InvalidTransition(
                    "directory.last_chair_key",
                    "refusing to revoke the chair's last active key: nobody else can give "
                    "the chair a new one; rotate it instead (keys rotate chair)",
                )

        def apply(self, directory: Directory) -> None:
            key = directory.users[self.user_id].keys[self.revoked_key_id]
            key.revoked_at = self.timestamp
            key.revoked_reason = self.reason
