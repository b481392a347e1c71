"""Deterministic aggregate ids, so every party derives the same id from a public name."""

from __future__ import annotations

from uuid import UUID, uuid5

NAMESPACE = UUID("6f1b7a52-1c3e-5d7a-9a52-6e9f1c0b7d21")

DIRECTORY_ID = uuid5(NAMESPACE, "directory")
PLAN_ID = uuid5(NAMESPACE, "plan")


def action_aggregate_id(action_id: str) -> UUID:
    return uuid5(NAMESPACE, f"action:{action_id}")


def challenge_aggregate_id(challenge_id: str) -> UUID:
    """Every party derives the same aggregate id from a challenge's id (e.g. C3)."""
    return uuid5(NAMESPACE, f"challenge:{challenge_id}")
