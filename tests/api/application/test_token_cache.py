"""The per-process token cache (api/application/tokens.py): a token found good is not read
again for CACHE_TTL seconds, so a revocation made elsewhere takes effect within that TTL
(and one made through this process at once); expiry and the secret are still checked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api.application.tokens import CACHE_TTL, TokenError, TokenStore
from tests.support.world import World


class Monotonic:
    """The cache's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _revoke_elsewhere(world: World, token: str) -> None:
    """What `tokens revoke` run by another process does: the row changes, and this
    process's cache is not told."""
    tables = world.ledger.tables
    with tables.datastore.transaction(commit=True) as cursor:
        cursor.execute(
            tables.sql("UPDATE api_tokens SET revoked_at=? WHERE token_id=?"),
            (world.clock.now.isoformat(), token.split("_")[1]),
        )


def test_a_token_revoked_elsewhere_is_refused_once_the_ttl_has_passed(world: World) -> None:
    clock = Monotonic()
    tokens = TokenStore(world.ledger.tables, monotonic=clock)
    token = tokens.create("council.officer", timedelta(days=1), now=world.clock.now)
    assert tokens.authenticate(token, now=world.clock.now) == "council.officer"
    _revoke_elsewhere(world, token)
    clock.now += CACHE_TTL / 2  # within the TTL: still taken as good, as documented
    assert tokens.authenticate(token, now=world.clock.now) == "council.officer"
    clock.now += CACHE_TTL / 2
    with pytest.raises(TokenError, match="revoked"):
        tokens.authenticate(token, now=world.clock.now)
    with pytest.raises(TokenError, match="revoked"):  # a refusal is never remembered as good
        tokens.authenticate(token, now=world.clock.now)


def test_a_revocation_through_this_process_takes_effect_at_once(world: World) -> None:
    clock = Monotonic()
    serving = TokenStore(world.ledger.tables, monotonic=clock)
    token = serving.create("chair", timedelta(days=1), now=world.clock.now)
    assert serving.authenticate(token, now=world.clock.now) == "chair"
    assert TokenStore(world.ledger.tables).revoke(token.split("_")[1])  # e.g. the CLI's
    with pytest.raises(TokenError, match="revoked"):
        serving.authenticate(token, now=world.clock.now)


def test_expiry_and_the_secret_are_checked_on_every_request(world: World) -> None:
    clock = Monotonic()
    tokens = TokenStore(world.ledger.tables, monotonic=clock)
    now = world.clock.now
    token = tokens.create("chair", timedelta(minutes=1), now=now)
    assert tokens.authenticate(token, now=now) == "chair"
    with pytest.raises(TokenError, match="expired"):  # cached, but expired since
        tokens.authenticate(token, now=now + timedelta(minutes=1))
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")  # same id, another secret
    with pytest.raises(TokenError, match="unknown"):
        tokens.authenticate(forged, now=now)


def test_without_a_ttl_every_request_reads_the_row(world: World) -> None:
    tokens = TokenStore(world.ledger.tables, cache_ttl=0)
    token = tokens.create("chair", timedelta(days=1), now=world.clock.now)
    assert tokens.authenticate(token, now=world.clock.now) == "chair"
    _revoke_elsewhere(world, token)
    with pytest.raises(TokenError, match="revoked"):
        tokens.authenticate(token, now=world.clock.now)
