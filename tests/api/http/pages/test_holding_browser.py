"""Holding to account signed in a real browser (Debian's Chromium driven by Playwright)
against a real `inquiry-ledger serve` (issue 15): each user makes a key on /keys (WebCrypto
Ed25519, non-extractable) and adds it beside their key file; then, by keyboard alone, the
council's officer answers a challenge citing the action's evidence; scrutiny raises
another from the action page, closes the first (its challenger) not satisfied, and, as
the session's chair, approves the minutes whose SHA-256 the page shows. Each form is
checked with axe-core against WCAG 2.2 AA, and afterwards the ledger holds what was
signed and verifies.

Without /usr/bin/chromium or Playwright this is skipped locally and fails in CI, as
tests/api/http/pages/test_web_e2e.py is."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api.application.commands import Client
from api.application.minutes import minutes_of
from api.application.tokens import TokenStore
from api.cli.remote import RemoteLedger
from domain.challenge import Challenge
from domain.ids import challenge_aggregate_id
from domain.session import session_aggregate_id
from evidence_store.local import LocalEvidenceStore
from ledger.auditor.note import NoteSigner
from ledger.config import LedgerConfig
from ledger.keys import KeyPair
from ledger.service import Ledger
from ledger.signer import Signer
from ledger.verify import verify_ledger
from projections.minutes_render import minutes_sha256
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, require_browser
from tests.support.browser import axe_violations as _violations
from tests.support.browser import sign_in_page as _sign_in
from tests.support.clock import Clock
from tests.support.server import running_server
from tests.support.world import ORIGIN, make_world

SESSION = {
    "session_id": "sig-1", "body": "SIG", "date": "2024-03-01", "started_at": "09:00",
    "ended_at": "12:00", "chair": "scrutiny", "recommendations": [1],
    "attendees": [{"role": "Chair", "label": "Chair"}],
}  # fmt: skip
USERS = ("council.officer", "scrutiny")


@dataclass
class Site:
    url: str
    config: LedgerConfig
    tokens: dict[str, str]
    keys: dict[str, KeyPair]
    sha: str  # the action's one file of evidence


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    for name in list(os.environ):
        if name.startswith("INQUIRY_LEDGER_"):
            monkeypatch.delenv(name)
    config = LedgerConfig(home=tmp_path / "home")
    world = make_world(config, Clock(datetime(2024, 3, 1, 10, tzinfo=UTC)))
    try:
        world.add_action("R1.1", "council")
        sha = world.evidence("R1.1", b"the group's terms of reference")
        world.client("scrutiny").raise_challenge("C1", "R1.1", "council", "Has it met?")
        world.client("sig").submit("session.held", session_aggregate_id("sig-1"), SESSION)
        store = TokenStore(world.ledger.tables)
        now = datetime.now(UTC)
        tokens = {u: store.create(u, timedelta(hours=1), now=now) for u in USERS}
        keys = dict(world.keys)
    finally:
        world.ledger.close()
    with running_server({"INQUIRY_LEDGER_HOME": str(config.home)}) as url:
        yield Site(url, config, tokens, keys, sha)


def browser_key(page: Any, site: Site, user: str) -> None:
    """Make the user's key on /keys, as they would, and add it beside their key file
    (signed over HTTP with that file key: `directory.key_added`)."""
    page.goto(f"{site.url}/keys")
    page.get_by_label("Your user id").fill(user)
    page.get_by_role("button", name="Make my signing key").click()
    public = page.locator("#key-public")
    public.wait_for(state="visible")
    raw = base64.b64decode(public.inner_text().strip())
    with RemoteLedger(site.url, site.tokens[user]) as remote:
        signer = Signer(user, site.keys[user], ORIGIN)
        Client(remote, signer).add_key(user, raw, "made in my browser")


def review_and_sign(page: Any) -> int:
    """The review takes focus; Tab past the canonical JSON to "Sign and record", Enter;
    return the log position the page reports."""
    page.locator("#review").wait_for(state="visible")
    assert page.evaluate("document.activeElement.id") == "review"
    page.keyboard.press("Tab")  # the <details> summary with the exact canonical JSON
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "review-sign"
    with page.expect_navigation(url=re.compile(r"recorded=\d+")):
        page.keyboard.press("Enter")
    message = page.get_by_role("status").filter(has_text="recorded at log position")
    return int(re.search(r"log position (\d+)", message.inner_text()).group(1))  # type: ignore[union-attr]


def focused(page: Any) -> str:
    return str(page.evaluate("document.activeElement.id || document.activeElement.textContent"))


def test_answer_close_and_approve_by_keyboard(site: Site) -> None:
    sync_playwright = require_browser()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            violations: list[str] = []
            for user in USERS:
                browser_key(page, site, user)

            # The council's officer answers, citing the action's file.
            _sign_in(page, site.url, site.tokens["council.officer"])
            page.goto(f"{site.url}/challenges/C1")
            form = page.locator('form[data-command="answer"]')
            form.wait_for(state="visible")  # shown once the script has found the key
            violations += _violations(page, "answer form")
            form.get_by_label("Your agency's answer").focus()
            page.keyboard.type("It met on 2 March; the terms are attached.")
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.type") == "checkbox"
            page.keyboard.press("Space")
            page.keyboard.press("Tab")
            assert focused(page) == "Answer the challenge…"
            page.keyboard.press("Enter")
            page.locator("#review").wait_for(state="visible")
            violations += _violations(page, "answer review")
            answered_at = review_and_sign(page)
            assert "answered" in page.locator("#challenge-state").inner_text()
            assert "It met on 2 March" in page.content()
            assert page.locator('form[data-command="answer"]').count() == 1  # may add more

            # Scrutiny raises another from the action page's link, the action filled in.
            _sign_in(page, site.url, site.tokens["scrutiny"])
            page.goto(f"{site.url}/actions/R1.1")
            page.get_by_role("link", name=re.compile("Raise a challenge")).focus()
            page.keyboard.press("Enter")
            form = page.locator('form[data-command="raise"]')
            form.wait_for(state="visible")
            violations += _violations(page, "raise form")
            assert form.get_by_label("Action or recommendation challenged").input_value() == "R1.1"
            form.get_by_label("The question the agency must answer").focus()
            page.keyboard.type("Who chairs it?")
            page.keyboard.press("Tab")
            assert focused(page) == "Raise a challenge…"
            page.keyboard.press("Enter")
            review_and_sign(page)
            assert page.url.startswith(f"{site.url}/challenges/C2?recorded=")
            assert "Who chairs it?" in page.content()

            # The challenger closes the first, not satisfied, with the reason.
            page.goto(f"{site.url}/challenges/C1")
            form = page.locator('form[data-command="close"]')
            form.wait_for(state="visible")
            violations += _violations(page, "close and escalate forms")
            form.get_by_label("Are you satisfied?").focus()
            page.keyboard.press("ArrowDown")  # Choose… -> Satisfied
            page.keyboard.press("ArrowDown")  # -> Not satisfied
            assert form.get_by_label("Are you satisfied?").input_value() == "not_satisfied"
            page.keyboard.press("Tab")
            page.keyboard.type("No minutes were shared.")
            page.keyboard.press("Tab")
            assert focused(page) == "Close the challenge…"
            page.keyboard.press("Enter")
            closed_at = review_and_sign(page)
            assert "closed: not satisfied" in page.locator("#challenge-state").inner_text()
            assert page.locator("form.sign-form").count() == 0  # closed is final

            # As the session's chair, scrutiny approves the minutes the page shows.
            page.goto(f"{site.url}/sessions/sig-1")
            form = page.locator('form[data-command="approve"]')
            form.wait_for(state="visible")
            violations += _violations(page, "session forms")
            shown = page.locator("#minutes-sha").inner_text()
            form.get_by_role("button", name="Approve the minutes…").focus()
            page.keyboard.press("Enter")
            page.locator("#review").wait_for(state="visible")
            assert shown in page.locator("#review-facts").inner_text()
            approved_at = review_and_sign(page)
            assert "approved by scrutiny" in page.locator("#minutes-state").inner_text()
            assert not violations, "\n".join(violations)
        finally:
            browser.close()

    ledger = Ledger(site.config, evidence=LocalEvidenceStore(site.config.evidence_dir))
    try:
        state = ledger.get(challenge_aggregate_id("C1"))
        assert isinstance(state, Challenge) and state.state == "closed"
        raised = ledger.get(challenge_aggregate_id("C2"))
        assert isinstance(raised, Challenge) and raised.agency == "council"
        assert (raised.subject, raised.text, raised.raised_by) == (
            "R1.1",
            "Who chairs it?",
            "scrutiny",
        )
        assert [a.evidence for a in state.answers] == [[site.sha]]
        assert (
            state.outcome == "not_satisfied" and state.steps[0].reason == "No minutes were shared."
        )
        minutes = minutes_of(ledger, "sig-1")
        assert minutes.approval is not None and minutes.approval.minutes_sha256 == shown
        assert minutes.approval.minutes_sha256 == minutes_sha256(minutes)
        assert answered_at < closed_at < approved_at
        signer = NoteSigner(ORIGIN, KeyPair.read(site.config.log_key_path))
        ledger.sign_checkpoint(signer)
        report = verify_ledger(ledger, signer.verifier, workers=1)
        assert report.ok, report.first_problem()
    finally:
        ledger.close()
