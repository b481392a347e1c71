"""What the signing review shows of a prepared body's payload (api/http/pages/static/app.js
`shownValue`), run in Node: an action arising's owner is an object, {"agency": "police"},
and the chair signing it must read "agency police", not "[object Object]"; a list is
joined and nothing is "none". Chromium runs the whole review in test_holding_browser.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[4] / "api/http/pages/static/app.js"


def _node_bin() -> str:
    found = shutil.which("node")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Node.js is missing: the review's wording cannot be checked")
        pytest.skip("Node.js is not installed")
    return found


def test_the_review_shows_every_payload_member_in_words(tmp_path: Path) -> None:
    values = [{"agency": "police"}, {"user": "t.dcc"}, None, ["a", "b"], [], 3, "text"]
    driver = tmp_path / "driver.mjs"
    driver.write_text(
        "globalThis.document = { querySelector: () => null };\n"
        f"const m = await import({json.dumps(SCRIPT.as_uri())});\n"
        f"console.log(JSON.stringify({json.dumps(values)}.map(m.shownValue)));\n"
    )
    done = subprocess.run([_node_bin(), str(driver)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        "agency police",
        "user t.dcc",
        "none",
        "a; b",
        "none",
        "3",
        "text",
    ]
