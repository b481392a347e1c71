"""The action page says which evidence its agency lead published, with the statement,
and stops saying so once the publication is stopped (issue 16)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from domain import Status
from tests.support.web import sign_in, web_client
from tests.support.world import World, clear_store_settings, make_world

STATEMENT = "No personal data: it may be published."


@pytest.fixture
def world(config: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    clear_store_settings(monkeypatch)
    w = make_world(config, clock)
    w.add_action("R1.1")
    w.client("council.officer").change_status("R1.1", Status.IN_PROGRESS)
    yield w
    w.ledger.close()


def _evidence_row(page: str, sha: str) -> str:
    found = re.search(rf"<tr>(?:(?!</tr>).)*{sha}(?:(?!</tr>).)*</tr>", page, re.S)
    assert found, f"no evidence row for {sha}"
    return found.group(0)


def test_the_action_page_shows_a_publication_and_its_statement(world: World) -> None:
    shown = world.evidence("R1.1", b"published minutes")
    kept = world.evidence("R1.1", b"internal notes")
    world.client("council.lead").publish_evidence("R1.1", shown, STATEMENT)
    with web_client(world) as http:
        sign_in(http, "scrutiny")
        page = http.get("/actions/R1.1").text
        row = _evidence_row(page, shown)
        assert "<strong>published</strong>" in row and STATEMENT in row
        assert "by council.lead" in row
        assert "published" not in _evidence_row(page, kept)
        world.client("council.lead").unpublish_evidence("R1.1", shown, "in error")
        page = http.get("/actions/R1.1").text
        assert "<strong>published</strong>" not in _evidence_row(page, shown)
