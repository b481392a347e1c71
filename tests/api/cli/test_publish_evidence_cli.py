"""`evidence publish` / `evidence unpublish` (and `act … publish-evidence`) end to end, on
SQLite and PostgreSQL: in the ledger's folder and in client mode against a real `serve`
process (the entries go through POST /v1/entries like any other). Only the action's
agency lead may; `evidence published` lists what is, from the projection, and a rebuild
of it gives the same answer; an erasure ends a publication; `verify` and the auditor's
`verify-bundle --rules` accept the new entries."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.config import LedgerConfig
from tests.support.deployment import Deployment, served_site
from tests.support.sample_plan import assert_verified, setup_plan

STATEMENT = "I have read this file: it holds no personal data and may be published."


def _published(cli: Any) -> list[dict[str, Any]]:
    code, out, err = cli("evidence", "published", "--json")
    assert code == 0, err
    found: list[dict[str, Any]] = json.loads(out)
    return found


def test_the_agency_lead_publishes_and_unpublishes_in_the_ledgers_folder(
    cli: Any, tmp_path: Path
) -> None:
    setup_plan(cli, tmp_path)
    jo = ["--as", "jo", "--key", str(tmp_path / "jo.key")]
    sam = ["--as", "sam", "--key", str(tmp_path / "sam.key")]
    admin = ["--as", "admin"]  # its key is in HOME (tests/support/sample_plan.py)
    assert cli(*jo, "act", "R1.1", "start")[0] == 0
    minutes = tmp_path / "minutes.txt"
    minutes.write_bytes(b"Minutes of the first meeting.")
    sha = hashlib.sha256(minutes.read_bytes()).hexdigest()
    code, out, err = cli(
        *jo, "evidence", "add", "R1.1", str(minutes),
        "--description", "Minutes", "--effective-date", "2023-02-01",
    )  # fmt: skip
    assert code == 0, err
    attached = int(out.split("appended entry ")[1].split(":")[0])

    code, _, err = cli(*jo, "evidence", "publish", "R1.1", sha, "--statement", STATEMENT)
    assert code == 3 and "rule: action.publish_evidence" in err  # an officer may not
    code, _, err = cli(*sam, "evidence", "publish", "R1.1", sha, "--statement", "  ")
    assert code == 3 and "statement" in err  # a statement is required
    code, _, err = cli(*sam, "evidence", "publish", "R1.1", "0" * 64, "--statement", STATEMENT)
    assert code == 3 and "no such evidence" in err  # only evidence attached to the action
    assert _published(cli) == []

    code, out, err = cli(*sam, "evidence", "publish", "R1.1", sha, "--statement", STATEMENT)
    assert code == 0 and "action.evidence_published" in out, err
    published = int(out.split("appended entry ")[1].split(":")[0])
    code, _, err = cli(*sam, "evidence", "publish", "R1.1", sha, "--statement", STATEMENT)
    assert code == 3 and "already published" in err
    [found] = _published(cli)
    assert (found["sha256"], found["action_id"], found["statement"]) == (sha, "R1.1", STATEMENT)
    assert (found["attached_leaf"], found["published_leaf"]) == (attached, published)
    assert (found["filename"], found["published_by"]) == ("minutes.txt", "sam")
    code, out, _ = cli("evidence", "published")
    assert f"R1.1 {sha} 'minutes.txt' published by sam" in out

    # The same answer from a projection rebuilt from the first entry.
    assert cli("projection", "--rebuild")[0] == 0
    assert _published(cli) == [found]

    # `act` has the verbs too; the log keeps both entries.
    code, out, err = cli(*sam, "act", "R1.1", "unpublish-evidence", sha, "--reason", "too soon")
    assert code == 0 and "action.evidence_unpublished" in out, err
    assert _published(cli) == []
    code, _, err = cli(*sam, "evidence", "unpublish", "R1.1", sha, "--reason", "again")
    assert code == 3 and "no such evidence is published" in err
    code, out, err = cli(*sam, "act", "R1.1", "publish-evidence", sha, "--statement", "Again.")
    assert code == 0, err
    assert [f["statement"] for f in _published(cli)] == ["Again."]
    code, out, _ = cli("history", "R1.1")
    assert out.count("action.evidence_published") == 2 and "action.evidence_unpublished" in out

    # An erasure ends the publication, and erased evidence is never published again.
    code, _, err = cli(*admin, "evidence", "erase", "R1.1", sha, "--reason", "lawful reason")
    assert code == 0, err
    assert _published(cli) == []
    code, _, err = cli(*sam, "evidence", "publish", "R1.1", sha, "--statement", STATEMENT)
    assert code == 3 and "erased evidence is never published" in err

    # The ledger's own verification and the chair's auditor accept every entry.
    assert cli("checkpoint")[0] == 0
    assert_verified(cli, tmp_path)


@pytest.fixture
def site(
    config: LedgerConfig,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """A served ledger set up over HTTP (tests/support/deployment.py `served_site`)."""
    with served_site(config, tmp_path, capsys, monkeypatch, "council.example/publish") as deployed:
        yield deployed


def test_publishing_in_client_mode(site: Deployment, tmp_path: Path) -> None:
    run = site.on_client
    jo, sam = site.as_user("jo"), site.as_user("sam")
    assert run(*jo, "act", "R1.1", "start")[0] == 0
    report = tmp_path / "report.txt"
    report.write_bytes(b"The group's first report.")
    sha = hashlib.sha256(report.read_bytes()).hexdigest()
    code, _, err = run(
        *jo, "evidence", "add", "R1.1", str(report),
        "--description", "First report", "--effective-date", "2023-03-01",
    )  # fmt: skip
    assert code == 0, err

    code, _, err = run(*jo, "evidence", "publish", "R1.1", sha, "--statement", STATEMENT)
    assert code == 3 and "rule: action.publish_evidence" in err
    code, out, err = run(*sam, "evidence", "publish", "R1.1", sha, "--statement", STATEMENT)
    assert code == 0 and "action.evidence_published" in out, err
    assert "receipt under checkpoint" in out  # the server's receipt, kept on sam's side
    code, _, err = run(*sam, "evidence", "publish", "R1.1", sha, "--statement", STATEMENT)
    assert code == 3 and "already published" in err

    # The action as the API shows it, and the projection on the server's side.
    headers = {"Authorization": f"Bearer {site.tokens['sam']}"}
    action = httpx.get(f"{site.url}/v1/actions/R1.1", headers=headers).json()["action"]
    [item] = action["evidence"]
    assert item["published"] and item["published_statement"] == STATEMENT
    assert item["published_by"] == "sam"
    code, out, err = site.on_server("evidence", "published", "--json")
    assert code == 0, err
    [found] = json.loads(out)
    assert (found["sha256"], found["action_id"], found["statement"]) == (sha, "R1.1", STATEMENT)
    code, _, err = run(*sam, "evidence", "published")
    assert code == 2 and "not in client mode" in err  # the projection is the server's

    code, out, err = run(*sam, "evidence", "unpublish", "R1.1", sha, "--reason", "in error")
    assert code == 0 and "action.evidence_unpublished" in out, err
    action = httpx.get(f"{site.url}/v1/actions/R1.1", headers=headers).json()["action"]
    assert not action["evidence"][0]["published"]
    code, out, err = site.on_server("evidence", "published", "--json")
    assert code == 0 and json.loads(out) == [], err
