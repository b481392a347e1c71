"""Signing in to the web pages in tests, as a browser does: the sign-in form's nonce,
the token posted, and the CSRF token the signed-in pages carry."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any


def field_of(html: str, pattern: str) -> str:
    """The first group of `pattern` in `html`; fails the test if it is not there."""
    found = re.search(pattern, html)
    assert found, f"{pattern} not in page"
    return found.group(1)


def sign_in(http: Any, user: str) -> str:
    """Sign in as `user` (cookies of anyone before are dropped); return the CSRF token.
    `http` is a TestClient with `tokens` (user id -> bearer token)."""
    http.cookies.clear()
    nonce = field_of(http.get("/signin").text, r'name="csrf" value="([^"]+)"')
    response = http.post(
        "/signin", data={"token": http.tokens[user], "csrf": nonce}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    return field_of(http.get("/").text, r'<meta name="csrf-token" content="([^"]+)"')


@contextmanager
def page_client(world: Any) -> Iterator[Any]:
    """A TestClient of `world`'s app, with a day's bearer token for each of its users."""
    from fastapi.testclient import TestClient

    from api.application.tokens import TokenStore
    from api.http.app import create_app

    with TestClient(create_app(world.config, world.ledger)) as client:
        tokens = TokenStore(world.ledger.tables)
        client.tokens = {
            user: tokens.create(user, timedelta(days=1), now=world.clock.now) for user in world.keys
        }
        yield client
