"""`plan respond`, `act ACTION respond` and `plan vocabulary` end to end (issue 14), on
SQLite and PostgreSQL: in the ledger's folder, and in client mode against a real `serve`
process (the entries go through POST /v1/entries like any other). The plan's editors
respond for a recommendation, the lead agency's lead for its own action; a term outside
the vocabulary, missing reasons and the wrong signer are refused by rule; `status`, its
JSON, `timeline --recommendation` and the status export show the response; `verify` and
the auditor's `verify-bundle --rules` accept the new entries."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.config import LedgerConfig
from tests.support.deployment import Deployment, served_site
from tests.support.sample_plan import assert_verified, setup_plan

PRINCIPLE = "Accepted in principle (Home Office, 2023-03-01)"
RESPOND = [
    "--response", "accepted_in_principle", "--on", "2023-03-01", "--responder", "Home Office",
    "--reasons", "Subject to the spending review", "--source", "Government response, March 2023",
]  # fmt: skip
COUNCIL = [
    "--response",
    "accepted",
    "--on",
    "2023-02-01",
    "--responder",
    "Telford & Wrekin Council",
]


def test_responses_in_the_ledgers_folder(cli: Any, tmp_path: Path) -> None:
    setup_plan(cli, tmp_path)
    sig = ["--as", "sig", "--key", str(tmp_path / "sig.key")]
    sam = ["--as", "sam", "--key", str(tmp_path / "sam.key")]
    jo = ["--as", "jo", "--key", str(tmp_path / "jo.key")]

    code, out, err = cli("plan", "vocabulary")
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith("accepted ") and first.endswith(
        "Accepted  (full acceptance: needs no reasons)"
    )
    assert "accepted_in_principle  Accepted in principle" in out

    # A recommendation's response: the plan's editors only, in a term of the vocabulary.
    code, _, err = cli(*jo, "plan", "respond", "1", *RESPOND)
    assert code == 3 and "rule: plan.record_response" in err
    code, _, err = cli(*sig, "plan", "respond", "1", *RESPOND[:1], "rejected", *RESPOND[2:])
    assert code == 3 and "not a term of the response vocabulary" in err
    code, _, err = cli(*sig, "plan", "respond", "1", *RESPOND[:6])  # without reasons
    assert code == 3 and "must give its reasons" in err
    code, _, err = cli(*sig, "plan", "respond", "9", *RESPOND)
    assert code == 3 and "no recommendation 9" in err
    code, out, err = cli(*sig, "plan", "respond", "1", *RESPOND)
    assert code == 0 and "plan.response_recorded" in out, err

    # An action's own: its lead agency's lead (sam leads the council's R1.1, not R1.2).
    code, _, err = cli(*jo, "act", "R1.1", "respond", *COUNCIL)
    assert code == 3 and "rule: action.record_response" in err
    code, _, err = cli(*sam, "act", "R1.2", "respond", *COUNCIL)
    assert code == 3 and "rule: action.record_response" in err
    code, out, err = cli(*sam, "act", "R1.1", "respond", *COUNCIL)
    assert code == 0 and "action.response_recorded" in out, err

    code, out, err = cli("status", "--actions")
    assert code == 0, err
    assert PRINCIPLE in out
    assert "Accepted (Telford & Wrekin Council, 2023-02-01)" in out
    code, out, _ = cli("status", "--json")
    found = json.loads(out)
    one = found["recommendations"][0]
    assert (one["response"], one["response_label"], one["response_reasons"]) == (
        "accepted_in_principle",
        "Accepted in principle",
        "Subject to the spending review",
    )
    assert found["recommendations"][1]["response"] is None
    code, out, _ = cli("timeline", "--recommendation", "1")
    assert "plan.response_recorded by sig" in out and "responder: Home Office" in out

    # A vocabulary of the ledger's own: new responses use it, old ones keep their terms.
    code, _, err = cli(*sig, "plan", "vocabulary", "--term", "adopted")
    assert code == 2 and "ID=Label" in err
    code, _, err = cli(*sam, "plan", "vocabulary", "--term", "adopted=Adopted")
    assert code == 3 and "rule: plan.set_response_vocabulary" in err
    code, out, err = cli(
        *sig, "plan", "vocabulary",
        "--term", "adopted=Adopted", "--term", "not_adopted_as_proposed=Not adopted as proposed",
    )  # fmt: skip
    assert code == 0 and "plan.response_vocabulary_set" in out, err
    code, out, _ = cli("plan", "vocabulary")
    assert [line.split()[0] for line in out.splitlines()] == ["adopted", "not_adopted_as_proposed"]
    code, _, err = cli(*sam, "act", "R1.1", "respond", *COUNCIL)
    assert code == 3 and "not a term" in err
    code, out, err = cli(
        *sig, "plan", "respond", "2", "--response", "not_adopted_as_proposed",
        "--on", "2023-03-05", "--responder", "West Mercia Police", "--reasons", "Regional",
    )  # fmt: skip
    assert code == 0, err
    code, out, _ = cli("status")
    assert PRINCIPLE in out and "Not adopted as proposed (West Mercia Police, 2023-03-05)" in out

    # The export: an action's own response, else its recommendation's.
    export = tmp_path / "status.csv"
    code, _, err = cli("status", "--out", str(export))
    assert code == 0, err
    rows = {r["action_id"]: r for r in csv.DictReader(io.StringIO(export.read_text("utf-8-sig")))}
    assert (rows["R1.1"]["response"], rows["R1.1"]["response_for"]) == ("Accepted", "action")
    assert (rows["R1.2"]["response"], rows["R1.2"]["response_for"]) == (
        "Accepted in principle",
        "recommendation",
    )
    assert rows["R1.2"]["responder"] == "Home Office"

    # The ledger's own verification and the chair's auditor accept every entry.
    assert cli("checkpoint")[0] == 0
    assert_verified(cli, tmp_path)
    assert cli("projection", "--rebuild")[0] == 0
    rebuilt = json.loads(cli("status", "--json")[1])
    assert rebuilt["recommendations"][0] == one  # the same, from a projection made afresh


@pytest.fixture
def site(
    config: LedgerConfig,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """A served ledger set up over HTTP (tests/support/deployment.py `served_site`)."""
    with served_site(
        config, tmp_path, capsys, monkeypatch, "council.example/responses"
    ) as deployed:
        yield deployed


def test_responses_in_client_mode(site: Deployment) -> None:
    run = site.on_client
    sig, sam, jo = site.as_user("sig"), site.as_user("sam"), site.as_user("jo")
    code, out, err = run(*jo, "plan", "vocabulary")  # read through the API
    assert code == 0 and ["under_consideration", "Under", "consideration"] in [
        line.split() for line in out.splitlines()
    ], err
    code, _, err = run(*jo, "plan", "respond", "1", *RESPOND)
    assert code == 3 and "rule: plan.record_response" in err
    code, out, err = run(*sig, "plan", "respond", "1", *RESPOND)
    assert code == 0 and "plan.response_recorded" in out, err
    assert "receipt under checkpoint" in out  # the server's receipt, kept on sig's side
    code, out, err = run(*sam, "act", "R1.1", "respond", *COUNCIL)
    assert code == 0 and "action.response_recorded" in out, err
    code, out, err = run(*sig, "plan", "vocabulary", "--term", "adopted=Adopted")
    assert code == 0 and "plan.response_vocabulary_set" in out, err
    code, out, err = run(*jo, "status", "--actions")
    assert code == 0, err
    assert PRINCIPLE in out and "Accepted (Telford & Wrekin Council, 2023-02-01)" in out
    code, out, _ = run(*jo, "plan", "vocabulary")
    assert out.split() == ["adopted", "Adopted", "(full", "acceptance:", "needs", "no", "reasons)"]
    # The server's own view: its projection, and its ledger's verification.
    code, out, err = site.on_server("status", "--json")
    assert code == 0, err
    assert json.loads(out)["actions"][0]["response"] == "accepted"
    code, out, err = site.on_server("verify", "--workers", "1")
    assert code == 0 and "OK" in out, err
