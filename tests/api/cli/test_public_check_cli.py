"""`inquiry-ledger public-check`: a reader checks a published tracker on their own machine
against the keys they pinned, by URL (a page's or its JSON's) or from a saved file; one
line and exit 1 on any failure, exit 5 when the server cannot be reached."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from api.cli.public import json_url
from domain import Status
from ledger.auditor.note import NoteSigner
from ledger.keys import KeyPair
from tests.support.server import REPO, free_port, running_server
from tests.support.world import ORIGIN, World


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )


def test_page_urls_map_to_their_json() -> None:
    assert json_url("https://h/public") == "https://h/public/v1/plan"
    assert json_url("https://h/public/recommendations/7") == "https://h/public/v1/recommendations/7"
    assert json_url("https://h/public/agencies/police/") == "https://h/public/v1/agencies/police"
    assert json_url("https://h/public/v1/plan") == "https://h/public/v1/plan"


@pytest.fixture
def published(world: World, tmp_path: Path) -> tuple[World, Path]:
    officer = world.client("council.officer")
    officer.change_status("R1.1", Status.IN_PROGRESS, "Started the review")
    world.checkpoint()
    vkey = tmp_path / "log.vkey"
    vkey.write_text(world.vkey.encode() + "\n")
    return world, vkey


def test_checks_a_served_page_and_a_saved_file(
    published: tuple[World, Path], tmp_path: Path
) -> None:
    world, vkey = published
    world.ledger.close()  # the server opens it
    env = {
        "INQUIRY_LEDGER_HOME": str(world.config.home),
        "INQUIRY_LEDGER_PUBLIC": "on",
        "INQUIRY_LEDGER_CHECKPOINT_INTERVAL": "0",
    }
    if world.config.database_url:
        env["INQUIRY_LEDGER_DATABASE_URL"] = world.config.database_url
    with running_server(env) as url:
        done = cli("public-check", f"{url}/public/recommendations/1", "--log-key", str(vkey))
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("Verified against checkpoint ")
        as_json = cli("public-check", f"{url}/public", "--log-key", str(vkey), "--json")
        assert as_json.returncode == 0, as_json.stderr
        assert json.loads(as_json.stdout)["ok"] is True
        saved = httpx.get(f"{url}/public/v1/recommendations/1").json()
    # Saved, then altered: a reason rewritten inside an entry.
    page = tmp_path / "page.json"
    page.write_text(json.dumps(saved))
    assert cli("public-check", str(page), "--log-key", str(vkey)).returncode == 0
    item = saved["proofs"]["entries"][-1]
    entry = json.loads(base64.b64decode(item["entry"]))
    entry["payload"]["reason"] = "Finished early"
    item["entry"] = base64.b64encode(json.dumps(entry).encode()).decode()
    page.write_text(json.dumps(saved))
    failed = cli("public-check", str(page), "--log-key", str(vkey))
    assert failed.returncode == 1
    assert failed.stderr.strip().startswith("Verification failed: log entry ")
    assert "is not in the log" in failed.stderr and "Traceback" not in failed.stderr
    # Another log key pinned.
    other = tmp_path / "other.vkey"
    other.write_text(NoteSigner(ORIGIN, KeyPair.generate()).verifier.encode())
    page.write_text(json.dumps(saved))
    refused = cli("public-check", str(page), "--log-key", str(other), "--json")
    assert refused.returncode == 1
    assert "not signed by the pinned log key" in json.loads(refused.stdout)["verdict"]


def test_unreachable_and_bad_input_are_one_line(tmp_path: Path) -> None:
    vkey = tmp_path / "log.vkey"
    vkey.write_text(NoteSigner(ORIGIN, KeyPair.generate()).verifier.encode())
    gone = cli("public-check", f"http://127.0.0.1:{free_port()}/public", "--log-key", str(vkey))
    assert gone.returncode == 5 and len(gone.stderr.strip().splitlines()) == 1
    wrong = cli("public-check", "http://127.0.0.1:1/elsewhere", "--log-key", str(vkey))
    assert wrong.returncode == 2 and "not a public tracker page" in wrong.stderr
    bad_key = tmp_path / "bad.vkey"
    bad_key.write_text("nonsense")
    assert cli("public-check", str(tmp_path / "x.json"), "--log-key", str(bad_key)).returncode == 2
