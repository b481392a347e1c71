"""The pure-domain tests' world (tests/domain): events made and checked in memory by the
domain's own rules, with no ledger, no real signatures and no I/O.

Each test module names its own users in a `Cast` and its own `DomainWorld` (which users,
which charter), so that a reader sees who is in the world a test runs in; this module only
makes their events as the ledger would hand them to the domain (`Cast.signed`,
`Cast.created`) and appends them as the ledger does: check the rule, then mutate.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

from domain import (
    DIRECTORY_ID,
    PLAN_ID,
    Action,
    Actor,
    Directory,
    Plan,
    RuleContext,
    action_aggregate_id,
)

ORIGIN = "test.example/ledger"

_clock = itertools.count()
_BASE = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)


def now() -> datetime:
    """A moment one second after the one before: every event is later than the last."""
    return _BASE + timedelta(seconds=next(_clock))


def public_key(n: int) -> str:
    """A distinct, well-formed (32 bytes, base64) public key for each n."""
    return base64.b64encode(bytes([n]) * 32).decode()


def key_id(public: str) -> str:
    """As ledger.auditor.ed25519.key_id_for: 16 hex digits of SHA-256 over the raw key."""
    return hashlib.sha256(base64.b64decode(public)).hexdigest()[:16]


@dataclass
class Cast:
    """The users of a world by name, each with a key of their own (public_key(1),
    public_key(2), ... in the order given), and the events they sign."""

    users: Mapping[str, Actor]
    #: user -> public key; a test may add a key for a user it registers itself.
    keys: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.keys = {user: public_key(i + 1) for i, user in enumerate(self.users)}

    def key_id_of(self, actor: str) -> str:
        """The id of `actor`'s key ("k" for a name outside the cast)."""
        return key_id(self.keys[actor]) if actor in self.keys else "k"

    def signed(self, cls: type[Any], state: Any, actor: str, **payload: Any) -> Any:
        """An event of `cls` on `state`, signed by `actor` with their key."""
        return cls(
            originator_id=state.id,
            originator_version=state.version + 1,
            timestamp=now(),
            actor=actor,
            key_id=self.key_id_of(actor),
            signature="",
            log_origin=ORIGIN,
            **payload,
        )

    def created(
        self, cls: type[Any], originator_id: UUID, topic: str, actor: str, **payload: Any
    ) -> Any:
        """The event of `cls` that creates an aggregate, signed by `actor` with their key."""
        return cls(
            originator_id=originator_id,
            originator_version=1,
            timestamp=now(),
            originator_topic=topic,
            actor=actor,
            key_id=self.key_id_of(actor),
            signature="",
            log_origin=ORIGIN,
            **payload,
        )

    def genesis(self) -> Directory:
        """The directory's first event, checked and applied: the administrator "admin"
        registers themselves with their own key."""
        ev = self.created(
            Directory.Created,
            DIRECTORY_ID,
            "domain.directory:Directory",
            "admin",
            origin=ORIGIN,
            admin_id="admin",
            admin_name="Admin",
            public_key=self.keys["admin"],
        )
        ev.check(None, RuleContext(self.users["admin"], None, None))
        directory: Directory = ev.mutate(None)
        return directory

    def plan_imported(self, by: str, recommendations_expected: int) -> Any:
        """`by`'s import of the test inquiry's plan, with two agencies: council and police."""
        return self.created(
            Plan.Created,
            PLAN_ID,
            "domain.plan:Plan",
            by,
            title="Test inquiry plan",
            source="Report of the inquiry",
            agencies=[{"id": "council", "name": "Council"}, {"id": "police", "name": "Police"}],
            recommendations_expected=recommendations_expected,
        )

    def action_added(self, by: str) -> Any:
        """`by`'s addition of action R1.1 (of recommendation 1), led by council."""
        return self.created(
            Action.Added,
            action_aggregate_id("R1.1"),
            "domain.action:Action",
            by,
            action_id="R1.1",
            recommendation=1,
            title="Set up a safeguarding board",
            lead_agency="council",
            lead_officers=["Jo Bloggs"],
            expected_outcome="A board that meets monthly",
            evidence_required="Terms of reference and minutes",
            due_date="2024-06-30",
        )


@dataclass
class DomainWorld:
    """A directory and a plan in memory. A test module's world is a subclass naming its
    `users`, so that `ctx("chair")` knows who "chair" is."""

    users: ClassVar[Mapping[str, Actor]]
    directory: Directory
    plan: Plan | None = None

    def ctx(self, actor: Actor | str) -> RuleContext:
        if isinstance(actor, str):
            actor = self.users[actor]
        return RuleContext(actor=actor, directory=self.directory, plan=self.plan)

    def apply(self, state: Any, ev: Any, actor: Actor | str) -> Any:
        """Append `ev` to `state` the way the ledger does: check the rule, then mutate."""
        ev.check(state, self.ctx(actor))
        return ev.mutate(state)

    def check(self, ev: Any, actor: Actor | str) -> None:
        """Check `ev`, an event on the directory, by its rule (and append nothing)."""
        ev.check(self.directory, self.ctx(actor))

    def append(self, ev: Any, actor: Actor | str) -> None:
        """Append `ev` to the directory the way the ledger does: check, then mutate."""
        self.directory = self.apply(self.directory, ev, actor)
