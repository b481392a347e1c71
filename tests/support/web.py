"""The web pages in-process, for tests: a TestClient with an API token per user of the
world, signing in as a browser does, reading form fields, and a charter that requires
some roles to sign off the operator's page."""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from html import unescape
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.application.tokens import TokenStore
from api.http.app import create_app
from tests.support.world import World


@contextmanager
def web_client(world: World) -> Iterator[Any]:
    """A TestClient on the world's ledger; `client.tokens[user]` is an API token."""
    with TestClient(create_app(world.config, world.ledger)) as client:
        tokens = TokenStore(world.ledger.tables)
        client.tokens = {
            user: tokens.create(user, timedelta(days=1), now=world.clock.now) for user in world.keys
        }
        yield client


def field(html: str, pattern: str) -> str:
    found = re.search(pattern, html)
    assert found, f"{pattern} not in page"
    return unescape(found.group(1))


def hidden(html: str, name: str) -> str:
    """The value of the (first) hidden input called `name`."""
    return field(html, rf'<input type="hidden" name="{re.escape(name)}" value="([^"]*)"')


def sign_in(http: Any, user: str) -> str:
    """Sign in as `user` (cookies of anyone before are dropped); return the CSRF token."""
    http.cookies.clear()
    nonce = field(http.get("/signin").text, r'name="csrf" value="([^"]+)"')
    response = http.post(
        "/signin", data={"token": http.tokens[user], "csrf": nonce}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    return field(http.get("/").text, r'<meta name="csrf-token" content="([^"]+)"')


def require_off_page(monkeypatch: pytest.MonkeyPatch, world: World, roles: Iterable[str]) -> None:
    """Every directory the ledger hands out carries a charter whose `off_page_roles` are
    `roles`: the adopted charter with those roles if there is one, else a stand-in. The
    log itself is untouched (the ledger's own checks read its repository)."""
    real = world.ledger.directory
    wanted = frozenset(roles)

    def with_charter() -> Any:
        directory = real()
        if directory is None:
            return None
        patched: Any = copy.copy(directory)
        charter = getattr(directory, "charter", None)
        if dataclasses.is_dataclass(charter) and not isinstance(charter, type):
            patched.charter = dataclasses.replace(charter, off_page_roles=wanted)
        else:
            patched.charter = SimpleNamespace(off_page_roles=wanted)
        return patched

    monkeypatch.setattr(world.ledger, "directory", with_charter)
