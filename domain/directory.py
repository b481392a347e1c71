"""The directory: users, their roles and agencies, and their public keys over time.

It is itself event-sourced in the same log, so "which key was valid for whom" at any
point in the log is answered by replaying the log to that point — an auditor needs
nothing from the operator beyond the log itself.

Longer than 500 lines because each of the directory's ten events keeps its rule check
beside the state change it guards (eventsourcing's nested-event style, as in
domain/action.py): who may register, rotate, add and revoke keys, change roles and
deactivate users is the heart of the trust model, and reads best in one place. The
appointment rules it applies are in domain/charter.py.
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
    deactivated_at: datetime | None = None  # while deactivated (directory.user_deactivated)
    deactivated_reason: str | None = None
    #: Each role (and agency) they held and from when, oldest first: an entry is shown
    #: under the role its signer held when signing it, not the one they hold now.
    held: list[tuple[datetime, Role, str | None]] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.deactivated_at is None

    def role_at(self, moment: datetime) -> tuple[Role, str | None]:
        """The role and agency they held at `moment` (their first, before any record)."""
        found = (self.role, self.agency)
        for since, role, agency in reversed(self.held):
            found = (role, agency)
            if since <= moment:
                break
        return found

    def actor(self) -> Actor:
        return Actor(self.user_id, self.role, self.agency)

    def active_keys(self) -> list[KeyRecord]:
        return [key for key in self.keys.values() if key.active]


#: The most keys one user may hold active at once. A person signs from a few places (the
#: CLI on a laptop, a browser, a second machine kept for a lost one); more than five active
#: keys is no longer a person's devices but keys nobody looks after, each one more thing
#: to steal, and each kept in every auditor's replay. Revoke one to add another.
MAX_ACTIVE_KEYS = 5


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


def _parse_role(value: str, rule: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise InvalidInput(rule, f"unknown role {value!r}; one of: {names}") from None


def _require_agency_fits(role: Role, agency: str | None, ctx: RuleContext, rule: str) -> None:
    """Officers and agency leads act for one agency of the plan; nobody else for any."""
    if role in AGENCY_ROLES:
        if not agency:
            raise InvalidInput(rule, f"a user with role {role.value} needs an agency")
        if ctx.plan is None or agency not in ctx.plan.agencies:
            known = ", ".join(sorted(ctx.plan.agencies)) if ctx.plan else "none yet"
            # Once a plan exists its agencies are not fixed: say how to add one.
            hint = "add it with `plan agency add`" if ctx.plan else "import the plan"
            raise InvalidInput(rule, f"unknown agency {agency!r} (known: {known}); {hint}")
    elif agency is not None:
        raise InvalidInput(rule, f"a user with role {role.value} acts for no agency")


class Directory(Aggregate):
    """Everyone who may sign, with their role, agency and keys."""

    def __init__(self) -> None:
        self.origin = ""
        self.charter: Charter | None = None
        self.users: dict[str, User] = {}
        self.key_owner: dict[str, str] = {}

    # -- queries -------------------------------------------------------------------

    def resolve(self, user_id: str, key_id: str) -> tuple[Actor, KeyRecord]:
        """The actor behind (user, key) now, with the role and agency they hold now (so a
        replay resolves each entry's signer as they were at that entry); refuses unknown
        and deactivated users, and unknown or revoked keys. Any active key of the user
        will do: a user may hold several (directory.key_added)."""
        user = self.users.get(user_id)
        if user is None:
            raise NotPermitted("signature.unknown_user", f"no registered user {user_id!r}")
        if user.deactivated_at is not None:
            raise NotPermitted(
                "signature.deactivated_user",
                f"{user_id} was deactivated at {user.deactivated_at.isoformat()}"
                f" ({user.deactivated_reason}) and signs nothing until reactivated",
            )
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
        self, ctx: RuleContext, user: User, rule: str, doing: str, *, of_user: bool = False
    ) -> None:
        """A key is changed by its holder, or by whoever may appoint its holder (a lost
        key); the chair's only by the chair, since nobody appoints the chair. The same
        authority adds a key and deactivates a user (`of_user`: the act is on the user,
        "deactivate jo", rather than on a key, "rotate the key of jo")."""
        if ctx.actor.user_id == user.user_id:
            return
        holder = f"{user.user_id} themself or " if of_user else "its holder or "
        self._require_appointer_of(ctx, user, rule, doing, of_user=of_user, holder=holder)

    def _require_appointer_of(
        self,
        ctx: RuleContext,
        user: User,
        rule: str,
        doing: str,
        *,
        of_user: bool = True,
        holder: str = "",
    ) -> None:
        """Refuse unless the actor may appoint someone in `user`'s role (and agency), as
        registering them would require (domain/charter.py)."""
        if user.role is Role.CHAIR:
            chairs = "the chair" if of_user else "the chair's key"
            raise NotPermitted(rule, f"only the chair may {doing} {chairs}")
        try:
            require_appointer(self.charter, ctx.actor, user.role, user.agency, rule)
        except NotPermitted as refused:
            target = user.user_id if of_user else f"the key of {user.user_id}"
            raise NotPermitted(
                rule,
                f"{ctx.actor.describe()} may not {doing} {target}: only {holder}whoever "
                f"appoints {a_role(user.role)} may ({refused.message})",
            ) from None

    def _require_user(self, user_id: str, rule: str, *, active: bool = True) -> User:
        """The registered user `user_id`; with `active`, one not deactivated."""
        user = self.users.get(user_id)
        if user is None:
            raise InvalidInput(rule, f"no registered user {user_id!r}")
        if active and user.deactivated_at is not None:
            raise InvalidTransition(
                rule,
                f"{user_id} is deactivated ({user.deactivated_reason}); reactivate them first "
                f"(inquiry-ledger users reactivate {user_id})",
            )
        return user

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
            role = _parse_role(self.role, rule)
            require_appointer(state.charter, ctx.actor, role, self.agency, rule)
            _require_agency_fits(role, self.agency, ctx, rule)
            state._check_new_key(self.public_key, rule)

        def apply(self, directory: Directory) -> None:
            user = User(self.user_id, self.name, Role(self.role), self.agency, {}, self.actor)
            user.held.append((self.timestamp, user.role, user.agency))
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
            user = state._require_user(self.user_id, rule)
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

    class KeyAdded(Event):
        """A further active key for the user, beside those they hold: the CLI on a laptop
        and a key a browser made, say. Signed as a rotation is, by the user with one of
        their active keys or by their appointer; each key is then revoked on its own
        (directory.key_revoked), and any active one signs. At most MAX_ACTIVE_KEYS."""

        TYPE = "directory.key_added"
        user_id: str
        public_key: str
        reason: str

        def check(self, state: Directory, ctx: RuleContext) -> None:
            rule = "directory.add_key"
            user = state._require_user(self.user_id, rule)
            state._require_keyholder_authority(ctx, user, rule, "add a key for", of_user=True)
            if ctx.actor.user_id != user.user_id and user.active_keys():
                # A key beside the holder's would sign as them without their knowing; an
                # appointer replaces a lost key by rotation, which the holder notices.
                raise NotPermitted(
                    rule,
                    f"{ctx.actor.describe()} may not add a key beside {user.user_id}'s own: "
                    f"they add their own keys; their appointer rotates a lost one (keys "
                    f"rotate {user.user_id}), or adds one only when they hold none",
                )
            require_text(self.reason, "reason", rule)
            state._check_new_key(self.public_key, rule)
            if len(user.active_keys()) >= MAX_ACTIVE_KEYS:
                raise InvalidTransition(
                    "directory.key_limit",
                    f"{self.user_id} already holds {MAX_ACTIVE_KEYS} active keys, the most one "
                    f"user may; revoke one first (inquiry-ledger keys revoke {self.user_id} "
                    "KEY_ID)",
                )

        def apply(self, directory: Directory) -> None:
            user = directory.users[self.user_id]
            directory._register_key(user, self.public_key, self.timestamp, "")

    class UserRoleChanged(Event):
        """A user moves to another role or agency (or both), from this entry on: the
        entries they sign after it are checked against the new role, those before it
        stay checked against the role they held then (every replay resolves a signer as
        the directory stood at their entry).

        It grants what registering would, so its signer must be one who could register a
        user in the old role (of the old agency) AND one in the new role (of the new
        agency) under the charter; nobody moves anyone into or out of the chair (the
        charter's alone) or administration (administrators are registered by
        administrators and appoint nobody). An officer moving agency needs the leads of
        both, which no one signer is: the old lead deactivates them and the new lead
        registers them under a new user id."""

        TYPE = "directory.user_role_changed"
        user_id: str
        role: str
        agency: str | None
        reason: str

        def check(self, state: Directory, ctx: RuleContext) -> None:
            rule = "directory.change_role"
            user = state._require_user(self.user_id, rule)
            role = _parse_role(self.role, rule)
            if Role.CHAIR in (user.role, role):
                raise NotPermitted(
                    rule,
                    f"{ctx.actor.describe()} may not move {self.user_id} "
                    f"{'out of' if user.role is Role.CHAIR else 'into'} the chair: the chair "
                    "is appointed only by their own charter",
                )
            if Role.ADMIN in (user.role, role):
                raise NotPermitted(
                    rule,
                    f"{ctx.actor.describe()} may not move {self.user_id} "
                    f"{'out of' if user.role is Role.ADMIN else 'into'} administration: "
                    "administrators are registered as such by administrators and appoint "
                    "nobody; register a new user instead",
                )
            require_text(self.reason, "reason", rule)
            if (role, self.agency) == (user.role, user.agency):
                where = f" of {user.agency}" if user.agency else ""
                raise InvalidInput(
                    rule, f"{self.user_id} already is {a_role(role)}{where}: nothing changes"
                )
            old = f"{a_role(user.role)}{f' of {user.agency}' if user.agency else ''}"
            state._require_appointer_of(ctx, user, rule, "move")
            try:
                require_appointer(state.charter, ctx.actor, role, self.agency, rule)
            except NotPermitted as refused:
                raise NotPermitted(
                    rule,
                    f"{ctx.actor.describe()} may move {self.user_id} out of {old} but not into "
                    f"{a_role(role)}{f' of {self.agency}' if self.agency else ''}: "
                    f"{refused.message}",
                ) from None
            _require_agency_fits(role, self.agency, ctx, rule)

        def apply(self, directory: Directory) -> None:
            user = directory.users[self.user_id]
            user.role, user.agency = Role(self.role), self.agency
            user.held.append((self.timestamp, user.role, user.agency))
            user.appointed_by = self.actor

    class UserDeactivated(Event):
        """The user signs nothing from this entry on (they left, or are suspended): every
        active key of theirs is revoked with it, and no key may be given to them until
        they are reactivated. Their earlier entries stay valid. Signed by the user
        themself or by their appointer, as a revocation is. The chair is never
        deactivated (nobody could appoint another), nor the last administrator with a
        key (nobody else registers administrators)."""

        TYPE = "directory.user_deactivated"
        user_id: str
        reason: str

        def check(self, state: Directory, ctx: RuleContext) -> None:
            rule = "directory.deactivate_user"
            user = state._require_user(self.user_id, rule)
            if user.role is Role.CHAIR:
                raise InvalidTransition(
                    "directory.chair_deactivation",
                    "the chair is never deactivated: nobody appoints the chair and a ledger "
                    "has one charter, so no chair could follow; the chair may rotate or "
                    "revoke their keys instead",
                )
            state._require_keyholder_authority(ctx, user, rule, "deactivate", of_user=True)
            require_text(self.reason, "reason", rule)
            others = [
                u
                for u in state.users.values()
                if u.role is Role.ADMIN and u.active_keys() and u is not user
            ]
            if user.role is Role.ADMIN and not others:
                raise InvalidTransition(
                    "directory.last_admin_key",
                    "refusing to deactivate the last administrator with an active key",
                )

        def apply(self, directory: Directory) -> None:
            user = directory.users[self.user_id]
            user.deactivated_at, user.deactivated_reason = self.timestamp, self.reason
            for key in user.active_keys():
                key.revoked_at = self.timestamp
                key.revoked_reason = f"deactivated: {self.reason}"

    class UserReactivated(Event):
        """A deactivated user may be given keys again (``keys add``, by their appointer):
        their old keys stay revoked, since a deactivated user's devices may have passed
        to others. Signed by their appointer; the user, deactivated, signs nothing."""

        TYPE = "directory.user_reactivated"
        user_id: str
        reason: str

        def check(self, state: Directory, ctx: RuleContext) -> None:
            rule = "directory.reactivate_user"
            user = state._require_user(self.user_id, rule, active=False)
            if user.deactivated_at is None:
                raise InvalidTransition(rule, f"{self.user_id} is not deactivated")
            if ctx.actor.user_id == user.user_id:
                raise NotPermitted(rule, "a deactivated user does not reactivate themself")
            state._require_appointer_of(ctx, user, rule, "reactivate")
            require_text(self.reason, "reason", rule)

        def apply(self, directory: Directory) -> None:
            user = directory.users[self.user_id]
            user.deactivated_at = user.deactivated_reason = None
