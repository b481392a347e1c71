"""A ledger with a plan, its actions and a fleet of officers who each hold a key and an API
token: the set-up of the crash and outage runs (tests/world.py plus the writers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from api.application.tokens import TokenStore
from ledger.config import LedgerConfig
from ledger.keys import KeyPair
from tests.support.world import World, make_world


@dataclass
class Officer:
    user_id: str
    key: KeyPair
    token: str
    actions: list[str]


def officers_fleet(
    config: LedgerConfig, clients: int, actions: int, *, prefix: str = "writer"
) -> tuple[World, list[Officer], int]:
    """(world, officers, tree size before the run). Officers alternate between the council
    and the police; each writes to 3 of its agency's `actions` actions, a window shifted
    by one per officer, so neighbours share actions and sometimes collide (409). The
    world's ledger is closed: the server under test opens its own."""
    world = make_world(config, clock=lambda: datetime.now(UTC))
    for agency, rec in (("council", 1), ("police", 2)):
        for i in range(1, actions + 1):
            world.add_action(f"R{rec}.{i}", lead=agency)
    tokens = TokenStore(world.ledger.tables)
    fleet = []
    for i in range(clients):
        agency, rec = ("council", 1) if i % 2 == 0 else ("police", 2)
        user, key = f"{agency}.{prefix}{i}", KeyPair.generate()
        world.client(f"{agency}.lead").register_user(user, user, "officer", agency, key.public_key)
        window = [f"R{rec}.{(i // 2 + n) % actions + 1}" for n in range(3)]
        fleet.append(Officer(user, key, tokens.create(user, timedelta(hours=1)), window))
    baseline = world.ledger.tree_size()
    world.ledger.close()
    return world, fleet, baseline
