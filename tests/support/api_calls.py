"""Building and sending signed entries to the HTTP API by hand, as an attacker would."""

from __future__ import annotations

from typing import Any

from domain import action_aggregate_id
from ledger.auditor.entry import SignedEntry
from tests.support.world import World


def auth(http: Any, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {http.tokens[user]}"}


def wire(entry: SignedEntry) -> dict[str, Any]:
    """An entry as POST /v1/entries takes it: the body and its signature apart."""
    obj = entry.to_json()
    signature = obj.pop("signature")
    return {"body": obj, "signature": signature}


def signed(
    world: World, user: str, type_name: str, action_id: str, payload: dict[str, Any]
) -> SignedEntry:
    """`user`'s entry on the action, at the action's next version."""
    aggregate = action_aggregate_id(action_id)
    return world.signer(user).sign(
        type_name, aggregate, world.ledger.version_of(aggregate) + 1, payload
    )
