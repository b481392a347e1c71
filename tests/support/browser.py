"""Chromium for the browser tests: where it is, how it is started, and the accessibility
rules every page is audited against (axe-core)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}


def require_browser() -> Any:
    """Playwright's sync API, or a skip (locally) / failure (CI) saying what is missing."""
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} is missing; install it with: apt-get install -y chromium"
    try:
        import axe_playwright_python  # noqa: F401 - the accessibility audit of each page
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "Playwright or axe is missing; install them with: pip install -e '.[dev]'"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    return sync_playwright


#: The audit's rules for pages checked against WCAG 2.2 AA (the new pages of issue 15).
WCAG22_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
WCAG22_RULES = {**AXE_OPTIONS, "runOnly": {"type": "tag", "values": WCAG22_TAGS}}


def axe_violations(page: Any, name: str) -> list[str]:
    """axe-core's violations of WCAG 2.2 AA on the page as it is, each named by `name`."""
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

    found = Axe().run(page, options=WCAG22_RULES).response["violations"]
    return [f"{name}: {v['id']} ({v['help']})" for v in found]


def sign_in_page(page: Any, url: str, token: str) -> None:
    """Sign in through the page's own form, as a user does."""
    page.goto(f"{url}/signin")
    page.get_by_label("Your access token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/")
