"""The action page's "Updates" (issue 15): its agency's narrative updates, newest first,
each with its period, signer, time and parts; a page with none says so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.application.tokens import TokenStore
from api.http.app import create_app
from ledger.config import LedgerConfig
from tests.support.clock import Clock
from tests.support.pages import sign_in
from tests.support.world import World, clear_store_settings, make_world


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    clear_store_settings(monkeypatch)
    w = make_world(LedgerConfig(home=tmp_path / "home"), Clock(datetime.now(UTC)))
    w.add_action("R1.1")
    w.add_action("R1.2")
    yield w
    w.ledger.close()


@pytest.fixture
def http(world: World) -> Iterator[Any]:
    with TestClient(create_app(world.config, world.ledger)) as client:
        tokens = TokenStore(world.ledger.tables)
        client.tokens = {
            user: tokens.create(user, timedelta(days=1), now=world.clock.now) for user in world.keys
        }
        yield client


def test_the_action_page_lists_its_updates_newest_first(world: World, http: Any) -> None:
    officer = world.client("council.officer")
    officer.narrative_update("R1.1", "2023-H1", done="Group set up")
    officer.narrative_update("R1.1", "2023-H2", next="Audit <cases>", risks="Vacancy")
    sign_in(http, "chair")
    page = http.get("/actions/R1.1").text
    updates = page.split('id="updates-h"')[1].split("</section>")[0]
    assert updates.index("2023-H2") < updates.index("2023-H1")
    assert "Next: Audit &lt;cases&gt;. Risks: Vacancy" in updates
    assert "Done: Group set up" in updates and "council.officer" in updates
    other = http.get("/actions/R1.2").text
    assert "No narrative update has been signed for this action." in other
