"""The challenges pages in a real browser (Debian's Chromium driven by Playwright) against
a real `inquiry-ledger serve`: by keyboard alone, scrutiny filters the list (agency, state,
only those not closed) and opens a thread; an officer sees only their own agency's and is
offered no challenge; axe-core finds no WCAG 2.2 A/AA violation on either page.

Without /usr/bin/chromium or Playwright this is skipped locally and fails in CI, as
tests/api/http/pages/test_web_e2e.py is."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.application.tokens import TokenStore
from ledger.config import LedgerConfig
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
    world = make_world(LedgerConfig(home=home), Clock(datetime(2024, 3, 1, tzinfo=UTC)))
    try:
        world.add_action("R1.1", "council")
        world.add_action("R2.1", "police")
        scrutiny = world.client("scrutiny")
        scrutiny.raise_challenge("C1", "R1.1", "council", "When will the group meet?")
        world.client("council.officer").answer_challenge("C1", "It met on 2 March.")
        scrutiny.raise_challenge("C2", "R2.1", "police", "Where is the data?")
        scrutiny.close_challenge("C1", "not_satisfied", "No minutes were shared")
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


def test_the_challenges_pages_by_keyboard(served: tuple[str, dict[str, str]]) -> None:
    sync_playwright = require_browser()
    url, tokens = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            _sign_in(page, url, tokens["scrutiny"])
            page.goto(f"{url}/challenges")
            violations = _violations(page, "challenges")
            # By keyboard: focus the agency filter, choose, tab on to the state, submit.
            page.get_by_label("Agency addressed").focus()
            page.keyboard.press("ArrowDown")  # All agencies -> Council
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.id") == "ch-state"
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.id") == "ch-open"
            page.keyboard.press("Enter")  # submits the form
            page.wait_for_url("**/challenges?agency=council*")
            links = page.locator("table a[href^='/challenges/']").all_inner_texts()
            assert links == ["C1"]
            page.get_by_role("link", name="C1", exact=True).focus()
            page.keyboard.press("Enter")
            page.wait_for_url(f"{url}/challenges/C1")
            assert "closed: not satisfied" in page.locator("#challenge-state").inner_text()
            assert "It met on 2 March." in page.content()
            violations += _violations(page, "thread")

            _sign_in(page, url, tokens["council.officer"])
            page.goto(f"{url}/challenges")
            assert page.locator("table a[href^='/challenges/']").all_inner_texts() == ["C1"]
            assert "challenge raise" not in page.content()
            page.goto(f"{url}/actions/R1.1")
            assert page.locator('[data-command="challenge"]').count() == 0
            assert not violations, "\n".join(violations)
        finally:
            browser.close()
