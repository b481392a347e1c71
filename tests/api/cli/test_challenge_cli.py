"""`challenge raise/answer/close/escalate/list/show` end to end in the ledger's folder and in
client mode against a real `serve` process, on SQLite and PostgreSQL, as the users would run
them: scrutiny raises a challenge on the council's action, an officer of another agency may
not answer it, the council's officer answers with the action's evidence, scrutiny closes it
not satisfied, `list` shows its state and the open ones with their age; `verify` and the
auditor's `verify-bundle --rules` accept every entry."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.config import LedgerConfig
from tests.support.deployment import Deployment, served_site
from tests.support.sample_plan import assert_verified, setup_plan


def _user(cli: Any, tmp_path: Path, user: str, role: str, by: list[str], agency: str = "") -> None:
    key = tmp_path / f"{user}.key"
    assert cli("keys", "new", "--out", str(key))[0] == 0
    extra = ["--agency", agency] if agency else []
    code, _, err = cli(
        *by, "users", "add", user, "--name", user.title(), "--role", role,
        "--key-file", str(key), *extra,
    )  # fmt: skip
    assert code == 0, err


def test_a_challenge_thread_in_the_ledgers_folder(cli: Any, tmp_path: Path) -> None:
    setup_plan(cli, tmp_path)
    chair = ["--as", "chair", "--key", str(tmp_path / "chair.key")]
    _user(cli, tmp_path, "sc", "scrutiny", chair)
    _user(cli, tmp_path, "pat", "agency_lead", chair, "west-mercia-police")
    sc = ["--as", "sc", "--key", str(tmp_path / "sc.key")]
    jo = ["--as", "jo", "--key", str(tmp_path / "jo.key")]
    sam = ["--as", "sam", "--key", str(tmp_path / "sam.key")]
    pat = ["--as", "pat", "--key", str(tmp_path / "pat.key")]

    # Officers never raise a challenge; scrutiny does, to the agency that leads R1.1.
    code, _, err = cli(*jo, "challenge", "raise", "R1.1", "--text", "Why?")
    assert code == 3 and "rule: challenge.raise" in err and "answer challenges" in err
    code, _, err = cli(*sc, "challenge", "raise", "R1.1", "--agency", "west-mercia-police",
                       "--text", "Why?")  # fmt: skip
    assert code == 3 and "led by council, not west-mercia-police" in err
    code, out, err = cli(*sc, "challenge", "raise", "R1.1", "--text", "When will it meet?")
    assert code == 0 and "raised challenge C1 on R1.1 to council" in out, err
    code, _, err = cli(*sc, "challenge", "raise", "--recommendation", "1", "--text", "Who?")
    assert code == 2 and "name the agency addressed with --agency" in err
    code, out, err = cli(*sc, "challenge", "raise", "--recommendation", "1",
                         "--agency", "west-mercia-police", "--text", "Data?")  # fmt: skip
    assert code == 0 and "raised challenge C2 on R1 to west-mercia-police" in out, err

    # Only the addressed agency answers, with evidence of the action if it has any.
    code, _, err = cli(*pat, "challenge", "answer", "C1", "--text", "Soon")
    assert code == 3 and "only officers and the agency lead of council" in err
    evidence = tmp_path / "terms.txt"
    evidence.write_text("Terms of reference")
    assert cli(*jo, "act", "R1.1", "start")[0] == 0
    code, _, err = cli(*jo, "act", "R1.1", "attach", str(evidence), "--description", "ToR",
                       "--effective-date", "2023-02-01")  # fmt: skip
    assert code == 0, err
    sha = hashlib.sha256(evidence.read_bytes()).hexdigest()
    code, _, err = cli(*jo, "challenge", "answer", "C1", "--text", "See", "--evidence", "ab" * 32)
    assert code == 3 and "is not current evidence of R1.1" in err
    code, out, err = cli(*jo, "challenge", "answer", "C1", "--text", "It met in May",
                         "--evidence", sha)  # fmt: skip
    assert code == 0 and "challenge.answered" in out, err

    # Only the challenger closes it.
    code, _, err = cli(*sam, "challenge", "close", "C1", "--satisfied", "--reason", "ok")
    assert code == 3 and "only its challenger, sc, may" in err
    code, out, err = cli(*sc, "challenge", "close", "C1", "--not-satisfied",
                         "--reason", "No minutes of the meeting")  # fmt: skip
    assert code == 0 and "challenge.closed" in out, err
    code, _, err = cli(*jo, "challenge", "answer", "C1", "--text", "Late")
    assert code == 3 and "closed (not_satisfied)" in err
    code, out, err = cli(*sc, "challenge", "escalate", "C2", "--to", "chair",
                         "--reason", "No answer in a month")  # fmt: skip
    assert code == 0 and "challenge.escalated" in out, err
    code, _, err = cli(*sc, "challenge", "answer", "C9", "--text", "x")
    assert code == 2 and "no challenge C9" in err

    code, out, err = cli("challenge", "list")
    assert code == 0, err
    lines = out.splitlines()
    assert "west-mercia-police: 1 unresolved of 1" in out and "council: 0 unresolved of 1" in out
    c2 = next(i for i, line in enumerate(lines) if line.startswith("C2 "))
    c1 = next(i for i, line in enumerate(lines) if line.startswith("C1 "))
    assert c2 < c1  # open ones first
    assert "escalated to chair" in lines[c2] and "closed: not_satisfied" in lines[c1]
    code, out, _ = cli("challenge", "list", "--open", "--json", "--as-of", "2099-01-01")
    found = json.loads(out)
    assert [c["challenge_id"] for c in found["challenges"]] == ["C2"]
    assert found["challenges"][0]["age_days"] > 20000
    assert found["by_agency"]["west-mercia-police"]["unresolved"] == 1
    code, out, _ = cli("challenge", "list", "--agency", "council", "--json")
    assert [c["state"] for c in json.loads(out)["challenges"]] == ["closed"]
    code, out, err = cli("challenge", "show", "C1")
    assert code == 0, err
    assert "Challenge C1 on R1.1 to council: closed (not_satisfied)" in out
    assert "answered by jo" in out and sha in out and "No minutes of the meeting" in out
    code, _, err = cli("challenge", "list", "--as-of", "tomorrow")
    assert code == 2 and "--as-of must be a date" in err

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
    """A served ledger set up over HTTP (tests/support/deployment.py `served_site`), with
    scrutiny's sc appointed by the chair."""
    site = served_site(config, tmp_path, capsys, monkeypatch, "council.example/challenges")
    with site as deployed:
        deployed.appoint("chair", "sc", "scrutiny")
        yield deployed


def test_a_challenge_thread_in_client_mode(site: Deployment) -> None:
    run = site.on_client
    sc, jo = site.as_user("sc"), site.as_user("jo")
    code, _, err = run(*jo, "challenge", "raise", "R1.1", "--text", "Why?")
    assert code == 3 and "rule: challenge.raise" in err
    code, out, err = run(*sc, "challenge", "raise", "R1.1", "--text", "When will it meet?")
    assert code == 0 and "raised challenge C1 on R1.1 to council" in out, err
    code, out, err = run(*sc, "challenge", "raise", "R1", "--agency", "council", "--text", "?")
    assert code == 0 and "raised challenge C2 on R1 to council" in out, err
    code, out, err = run(*jo, "challenge", "answer", "C1", "--text", "In May")
    assert code == 0 and "challenge.answered" in out, err
    code, out, err = run(*sc, "challenge", "close", "C1", "--not-satisfied", "--reason", "No")
    assert code == 0 and "challenge.closed" in out, err
    code, out, err = run(*jo, "challenge", "list", "--json")  # the officer's own agency's
    assert code == 0, err
    found = json.loads(out)["challenges"]
    assert [(c["challenge_id"], c["state"]) for c in found] == [("C2", "open"), ("C1", "closed")]
    code, out, err = run(*sc, "challenge", "show", "C1")
    assert code == 0 and "closed (not_satisfied)" in out and "answered by jo" in out, err
    code, out, err = site.on_server("verify", "--workers", "1")
    assert code == 0 and "OK" in out, err
