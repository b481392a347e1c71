"""Who signed each entry, and whether they could: the directory as the audit replays it.

A signature proves only that some key signed; what matters is whose key it was *at that
point in the log* and whether its holder could sign that kind of entry. So the keys, the
members (with their roots of authority, roots.py) and the agency leading each action are
replayed from the entries themselves, in log order, and each entry is checked against
them before it takes effect: an entry nobody valid signed changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid5

from ledger.auditor.authority import (
    CHALLENGER_KINDS,
    CHARTER_TYPE,
    SELF_SIGNED,
    SESSION_KINDS,
    allowed_roles,
    scoped_to_agency,
)
from ledger.auditor.ed25519 import decode_public_key, key_id_for
from ledger.auditor.entry import GENESIS_TYPE, EventBody
from ledger.auditor.errors import FormatError
from ledger.auditor.findings import ProblemSink
from ledger.auditor.public_check import AGGREGATE_NAMESPACE
from ledger.auditor.roots import Roots


@dataclass
class RegisteredKey:
    user: str
    public_key: bytes
    revoked_at: int | None = None


#: The most keys a user may hold active at once (domain/directory.py's MAX_ACTIVE_KEYS,
#: which tests/ledger/test_authority_parity.py checks it is).
MAX_ACTIVE_KEYS = 5
#: Directory entries that change a member but no key.
MEMBER_CHANGES = frozenset(
    {"directory.user_role_changed", "directory.user_deactivated", "directory.user_reactivated"}
)


class Signers:
    """The keys by key id, the members and the lead agencies, replayed so far."""

    def __init__(self, roots: Roots, problem: ProblemSink) -> None:
        self.roots = roots
        self.problem = problem
        self.keys: dict[str, RegisteredKey] = {}
        self.lead_agency: dict[UUID, str] = {}  # action (or challenge) aggregate id -> agency
        self.challenger: dict[UUID, str] = {}  # challenge aggregate id -> who raised it
        self.session_chair: dict[UUID, str] = {}  # session aggregate id -> its chair
        #: Leaves of the role changes, deactivations and reactivations applied (keys.json
        #: shows their effect, which no key records).
        self.member_changes: set[int] = set()

    def signing_key(self, position: int, body: EventBody) -> bytes | None:
        """The public key the entry's signature must verify with, or None (reported) if
        no valid key is its actor's: the genesis and a charter sign with the key they
        introduce, every other entry with its actor's registered, unrevoked key."""
        actor, key_id = body.actor, body.key_id
        if body.type in SELF_SIGNED:
            what = "genesis" if body.type == GENESIS_TYPE else "charter"
            if (body.type == GENESIS_TYPE) != (position == 0):
                self.problem(position, "unknown signer", "the genesis is the first entry only")
                return None
            if body.type == CHARTER_TYPE and self.roots.appointers is not None:
                self.problem(position, "unknown signer", "a second charter")
                return None
            try:
                public_key = decode_public_key(body.payload.get("public_key"))
            except FormatError as error:
                self.problem(position, "unknown signer", f"{what} key: {error}")
                return None
            named = body.payload.get("admin_id" if what == "genesis" else "chair_id")
            if key_id != key_id_for(public_key) or actor != named:
                self.problem(position, "unknown signer", f"the {what} is not self-signed")
                return None
            return public_key
        key = self.keys.get(key_id)
        if key is None or key.user != actor:
            self.problem(position, "unknown signer", f"key {key_id} is not registered to {actor}")
            return None
        member = self.roots.members.get(actor)
        if member is not None and member.deactivated_at is not None:
            self.problem(
                position,
                "deactivated user",
                f"{actor} signed with key {key_id}, but was deactivated at leaf "
                f"{member.deactivated_at} and signs nothing until reactivated",
            )
            return None
        if key.revoked_at is not None:
            self.problem(
                position,
                "revoked key",
                f"{actor} signed with key {key_id}, revoked at leaf {key.revoked_at}",
            )
            return None
        return key.public_key

    def authorised(self, position: int, body: EventBody) -> bool:
        """Whether the signer may sign this entry: their authority derives from the pinned
        roots, and their role (for officers and agency leads, also their agency) may sign
        its kind (authority.py). If not, the problem is reported."""
        kind, actor = body.type, body.actor
        unrooted = self.roots.unrooted(body)
        if unrooted is not None:
            self.problem(position, "authority not rooted", unrooted)
            return False
        if kind in SELF_SIGNED:
            return True
        role, agency = self.roots.role_of(actor)
        allowed = allowed_roles(
            kind,
            actor,
            body.payload,
            appointers=self.roots.appointers,
            subject_role=self.roots.subject_role(body),
        )
        if role not in allowed:
            self.problem(
                position,
                "not authorised",
                f"{actor} ({role}) may not sign {kind}; allowed: {', '.join(sorted(allowed))}",
            )
            return False
        if (
            role == "agency_lead"
            and kind.startswith("directory.")
            and actor != body.payload.get("user_id")
        ):
            subject_agencies = self._subject_agencies(body)
            if subject_agencies != {agency}:
                named = " and ".join(sorted(str(a) for a in subject_agencies))
                self.problem(
                    position,
                    "not authorised",
                    f"{actor} (agency lead of {agency}) signed {kind} for {named}",
                )
                return False
        if kind in CHALLENGER_KINDS and actor != self.challenger.get(body.aggregate_id):
            challenger = self.challenger.get(body.aggregate_id)
            self.problem(
                position,
                "not authorised",
                f"{actor} ({role}) signed {kind} for a challenge raised by {challenger}",
            )
            return False
        chair = self.session_chair.get(body.aggregate_id)
        if kind in SESSION_KINDS and actor != chair and role not in SESSION_KINDS[kind]:
            self.problem(
                position,
                "not authorised",
                f"{actor} ({role}) signed {kind} for a session chaired by {chair}",
            )
            return False
        lead = self.lead_agency.get(body.aggregate_id)
        if scoped_to_agency(kind, role) and lead != agency:
            self.problem(
                position,
                "not authorised",
                f"{actor} ({role} of {agency}) signed {kind} for an action led by {lead}",
            )
            return False
        return True

    def _subject_agencies(self, body: EventBody) -> set[str | None]:
        """The agencies of the user a directory entry registers or changes: the one they
        are registered in, or hold; a role change's old one and its new one."""
        named = body.payload.get("agency")
        new = named if isinstance(named, str) else None
        if body.type == "directory.user_registered":
            return {new}
        held = self.roots.role_of(str(body.payload.get("user_id")))[1]
        return {held, new} if body.type == "directory.user_role_changed" else {held}

    def apply(self, position: int, body: EventBody) -> None:
        """Keep the facts the signer checks need: keys, members, lead agencies. Raises
        KeyError, TypeError, AttributeError or FormatError for a malformed payload."""
        kind, payload, aggregate = body.type, body.payload, body.aggregate_id
        refused = self._refused(body)
        if refused is not None:
            self.problem(position, "directory", f"{kind} not applied: {refused}")
            return
        if kind.startswith("directory.") or kind == GENESIS_TYPE:
            self.roots.apply(position, body)
        if kind == GENESIS_TYPE:
            self._add_key(payload["admin_id"], payload["public_key"])
        elif kind == CHARTER_TYPE:
            self._add_key(payload["chair_id"], payload["public_key"])
        elif kind == "directory.user_registered":
            self._add_key(payload["user_id"], payload["public_key"])
        elif kind == "directory.key_rotated":
            for key in self.keys.values():
                if key.user == payload["user_id"] and key.revoked_at is None:
                    key.revoked_at = position
            self._add_key(payload["user_id"], payload["new_public_key"])
        elif kind == "directory.key_revoked":
            self.keys[payload["revoked_key_id"]].revoked_at = position
        elif kind == "directory.key_added":
            self._add_key(payload["user_id"], payload["public_key"])
        elif kind == "directory.user_deactivated":
            for key in self.keys.values():
                if key.user == payload["user_id"] and key.revoked_at is None:
                    key.revoked_at = position
        if kind in MEMBER_CHANGES:
            self.member_changes.add(position)
        misplaced = _misplaced_creation(body)
        if misplaced is not None:
            # A creation signed onto another aggregate (a challenge raised on an action's
            # id, naming another agency) would re-point who may sign for that action.
            self.problem(position, "misplaced creation", misplaced)
            return
        if kind == "action.added":
            self.lead_agency[aggregate] = payload["lead_agency"]
        elif kind == "action.amended" and "lead_agency" in payload.get("changes", {}):
            self.lead_agency[aggregate] = payload["changes"]["lead_agency"]
        elif kind == "action.lead_agency_transferred":
            self.lead_agency[aggregate] = payload["to_agency"]
        elif kind == "challenge.raised":  # answered by the agency it is addressed to
            self.lead_agency[aggregate] = payload["agency"]
            self.challenger[aggregate] = body.actor
        elif kind == "session.held":
            self.session_chair[aggregate] = payload["chair"]

    def _refused(self, body: EventBody) -> str | None:
        """Why the domain refuses this directory entry whoever signs it (domain/directory.py:
        a user registered twice, a key revoked that is not an active key of the user the
        entry names, a key of a user nobody registered changed, a key registered twice),
        or None. The audit then reports it and leaves the directory as it was, as the
        ledger would have, rather than let it overwrite a member or revoke another's key
        and fail later entries for a reason that is not theirs."""
        kind, payload = body.type, body.payload
        if kind in (CHARTER_TYPE, "directory.user_registered"):
            user = payload["chair_id" if kind == CHARTER_TYPE else "user_id"]
            if user in self.roots.members:
                return f"user {user!r} already exists"
            return self._known_key(payload["public_key"])
        if kind in ("directory.key_rotated", "directory.key_added"):
            inactive = self._inactive(payload["user_id"])
            if inactive is not None:
                return inactive
            held = self._active_keys(payload["user_id"])
            if kind == "directory.key_added" and held >= MAX_ACTIVE_KEYS:
                return f"{payload['user_id']} already holds {held} active keys, the most one may"
            if kind == "directory.key_added" and held and body.actor != payload["user_id"]:
                # As the domain's rule: a key beside the holder's would sign as them
                # unnoticed; their appointer adds one only when they hold none.
                return f"only {payload['user_id']} adds a key beside their own"
            new_key = payload["new_public_key" if kind == "directory.key_rotated" else "public_key"]
            return self._known_key(new_key)
        if kind in MEMBER_CHANGES:
            return self._member_refusal(body)
        if kind == "directory.key_revoked":
            user, key_id = payload["user_id"], payload["revoked_key_id"]
            key = self.keys.get(key_id) if isinstance(key_id, str) else None
            if key is None or key.user != user or key.revoked_at is not None:
                return f"{user} has no active key {key_id}"
        return None

    def _inactive(self, user: object) -> str | None:
        """Why `user` may not be given a key: unknown, or deactivated; else None."""
        member = self.roots.members.get(str(user))
        if member is None:
            return f"no registered user {user!r}"
        if member.deactivated_at is not None:
            return f"{user} is deactivated (at leaf {member.deactivated_at})"
        return None

    def _active_keys(self, user: object) -> int:
        return sum(1 for key in self.keys.values() if key.user == user and key.revoked_at is None)

    def _member_refusal(self, body: EventBody) -> str | None:
        """Why the domain refuses a role change, deactivation or reactivation whoever
        signs it: of a user nobody registered, or deactivated (a reactivation: not
        deactivated), a role change that changes nothing, the chair's deactivation."""
        kind, user = body.type, body.payload["user_id"]
        member = self.roots.members.get(str(user))
        if kind == "directory.user_reactivated":
            if member is None:
                return f"no registered user {user!r}"
            return None if member.deactivated_at is not None else f"{user} is not deactivated"
        inactive = self._inactive(user)
        if inactive is not None or member is None:
            return inactive
        if kind == "directory.user_deactivated" and member.role == "chair":
            return "the chair is never deactivated"
        if kind == "directory.user_role_changed":
            agency = body.payload.get("agency")
            if (body.payload["role"], agency) == (member.role, member.agency):
                return f"{user} already is {member.role}: nothing changes"
        return None

    def _known_key(self, public_key_text: str) -> str | None:
        key_id = key_id_for(decode_public_key(public_key_text))
        known = self.keys.get(key_id)
        if known is None:
            return None
        return f"this public key (key {key_id}) is already registered, to {known.user}"

    def _add_key(self, user: str, public_key_text: str) -> None:
        public_key = decode_public_key(public_key_text)
        self.keys[key_id_for(public_key)] = RegisteredKey(user, public_key)


#: The entries that create an aggregate whose facts the signer checks keep (its lead
#: agency, its challenger, its chair), with the payload member its id derives from and the
#: id's prefix (domain/ids.py, domain/session.py): `uuid5(namespace, "prefix:name")`.
CREATIONS = {
    "action.added": ("action_id", "action"),
    "challenge.raised": ("challenge_id", "challenge"),
    "session.held": ("session_id", "session"),
}


def _misplaced_creation(body: EventBody) -> str | None:
    """Why a creation entry is not the first entry of the aggregate its name derives,
    or None. The ledger never appends one; a log that holds one was written around it."""
    created = CREATIONS.get(body.type)
    if created is None:
        return None
    member, prefix = created
    name = body.payload.get(member)
    expected = uuid5(AGGREGATE_NAMESPACE, f"{prefix}:{name}")
    if body.aggregate_id != expected or body.version != 1:
        return (
            f"{body.type} of {name!r} is version {body.version} of aggregate "
            f"{body.aggregate_id}, not version 1 of {expected}"
        )
    return None
