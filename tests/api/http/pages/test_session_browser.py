"""The sessions pages in a real browser (Debian's Chromium driven by Playwright) against a
real `inquiry-ledger serve`: by keyboard alone, scrutiny follows the nav link to
/sessions and opens a session; axe-core finds no WCAG 2.2 A/AA violation on either page,
nor on the page refusing an officer.

Without /usr/bin/chromium or Playwright this is skipped locally and fails in CI, as
tests/api/http/pages/test_web_e2e.py is."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.application.minutes import approve, record_arising
from api.application.tokens import TokenStore
from domain.session import session_aggregate_id
from ledger.config import LedgerConfig
from projections.minutes_render import minutes_sha256
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, require_browser
from tests.support.browser import axe_violations as _violations
from tests.support.browser import sign_in_page as _sign_in
from tests.support.clock import Clock
from tests.support.server import running_server
from tests.support.world import make_world


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, dict[str, str]]]:
    for name in list(os.environ):
        if name.startswith("INQUIRY_LEDGER_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    world = make_world(LedgerConfig(home=home), Clock(datetime(2024, 3, 1, 10, tzinfo=UTC)))
    try:
        world.add_action("R1.1", "council")
        payload = {
            "session_id": "sig-1", "body": "SIG", "date": "2024-03-01", "started_at": "09:00",
            "ended_at": "12:00", "chair": "scrutiny", "recommendations": [1],
            "attendees": [{"role": "Chair", "label": "Chair"}],
        }  # fmt: skip
        world.client("sig").submit("session.held", session_aggregate_id("sig-1"), payload)
        world.client("scrutiny").raise_challenge("C1", "R1.1", "council", "Does it meet?")
        record_arising(
            world.ledger, world.client("sig"), "sig-1", recommendation=1,
            owner={"agency": "council"}, due_date="2024-04-01", done_means="minutes shared",
            text="Share the minutes",
        )  # fmt: skip
        approve(world.ledger, world.client("scrutiny"), "sig-1", minutes_sha256)
        tokens = TokenStore(world.ledger.tables)
        now = datetime.now(UTC)
        issued = {
            u: tokens.create(u, timedelta(hours=1), now=now)
            for u in ("scrutiny", "council.officer")
        }
    finally:
        world.ledger.close()
    with running_server({"INQUIRY_LEDGER_HOME": str(home)}) as url:
        yield url, issued


def test_the_sessions_pages_by_keyboard(served: tuple[str, dict[str, str]]) -> None:
    sync_playwright = require_browser()
    url, tokens = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            _sign_in(page, url, tokens["scrutiny"])
            page.get_by_role("link", name="Sessions", exact=True).focus()
            page.keyboard.press("Enter")
            page.wait_for_url(f"{url}/sessions")
            violations = _violations(page, "sessions")
            page.get_by_role("link", name="sig-1", exact=True).first.focus()
            page.keyboard.press("Enter")
            page.wait_for_url(f"{url}/sessions/sig-1")
            assert "approved by scrutiny" in page.locator("#minutes-state").inner_text()
            assert "Does it meet?" in page.content() and "Share the minutes" in page.content()
            violations += _violations(page, "session")

            _sign_in(page, url, tokens["council.officer"])
            response = page.goto(f"{url}/sessions/sig-1")
            assert response is not None and response.status == 403
            assert "Does it meet?" not in page.content()
            violations += _violations(page, "refusal")
            assert not violations, "\n".join(violations)
        finally:
            browser.close()
