"""Backfill end to end (issue 14), on SQLite and PostgreSQL: an inquiry that starts
recording mid-way imports its past from a source as signed entries that say when each
thing happened; `status --as-of D` answers what the record said on D, `status --as-of D
--occurred` what had happened by D as the record stands now, and each says which; the
backfilled statuses are marked as such; the rules hold (a sign-off cannot be
backfilled, a fact cannot postdate its recording or the action's live record, an
action's past goes oldest first); `verify`, `verify-bundle --rules` and a rebuilt
projection agree; a client over HTTP sees the same."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.config import LedgerConfig
from tests.support.deployment import Deployment, served_site
from tests.support.sample_plan import assert_verified, setup_plan

COUNCIL_REPORT = "Report to Full Council, 10 November 2022, section 3.11"
BASELINE = """action_id,status,occurred_on,source,note
R1.1,in_progress,2022-11-10,,Group's terms of reference drafted
R1.2,blocked,2023-06-01,Police update to the SIG,Waiting for the data-sharing agreement
R1.2,not_started,2022-11-10,,
"""


def test_a_baseline_from_a_council_report(cli: Any, tmp_path: Path) -> None:
    setup_plan(cli, tmp_path)
    sig = ["--as", "sig", "--key", str(tmp_path / "sig.key")]
    jo = ["--as", "jo", "--key", str(tmp_path / "jo.key")]
    baseline = tmp_path / "baseline.csv"

    # Bad rows are each named, and nothing is signed.
    baseline.write_text(
        "action_id,status,occurred_on\nR1.1,verified,2022-11-10\nR1.2,started,10/11/22\n"
    )
    code, _, err = cli(*sig, "backfill", str(baseline), "--source", COUNCIL_REPORT)
    assert code != 0
    assert "row 2, column status" in err and "row 3, column occurred_on" in err, err
    assert "nothing was imported" in err
    assert "backfilled" not in cli("status", "--actions")[1]

    # Only the plan's editors record its past.
    baseline.write_text(BASELINE)
    code, _, err = cli(*jo, "backfill", str(baseline), "--source", COUNCIL_REPORT)
    assert code == 3 and "rule: action.backfill" in err, err
    code, out, err = cli(*sig, "backfill", str(baseline), "--source", COUNCIL_REPORT)
    assert code == 0 and "backfilled 3 facts" in out, err

    # Now: the backfilled statuses, marked as such.
    code, out, _ = cli("status", "--actions")
    assert "Shows the record as it stands now; 2 action statuses are backfilled" in out
    assert "in_progress (backfilled, 2022-11-10)" in out
    assert "blocked (backfilled, 2023-06-01)" in out

    # What the record said at the end of 2022: nothing (it began in 2026).
    code, out, _ = cli("status", "--as-of", "2022-12-31", "--json")
    recorded = json.loads(out)
    assert (recorded["basis"], recorded["actions"]) == ("recorded", [])
    # What had happened by then, as the record stands now.
    code, out, err = cli("status", "--as-of", "2022-12-31", "--occurred", "--json")
    assert code == 0, err
    occurred = json.loads(out)
    assert occurred["basis"] == "occurred"
    rows = {a["action_id"]: a for a in occurred["actions"]}
    assert (rows["R1.1"]["status"], rows["R1.1"]["backfill_source"]) == (
        "in_progress",
        COUNCIL_REPORT,
    )
    assert (rows["R1.2"]["status"], rows["R1.2"]["backfilled_on"]) == ("not_started", "2022-11-10")
    code, out, _ = cli("status", "--as-of", "2023-06-30", "--occurred", "--actions")
    assert "what had happened by 2023-06-30" in out and "as the record stands now" in out
    assert "blocked (backfilled, 2023-06-01)" in out
    code, _, err = cli("status", "--occurred")
    assert code != 0 and "--occurred needs --as-of" in err

    # The rules: no signature backfilled, no fact after its recording, oldest first.
    one = [*sig, "backfill", "--action", "R1.1", "--source", COUNCIL_REPORT]
    code, _, err = cli(*one, "--status", "agency_signed_off", "--on", "2022-01-01")
    assert code == 3 and "oldest first" in err, err
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    code, _, err = cli(*one, "--status", "agency_signed_off", "--on", tomorrow)
    assert code == 3 and "after the day it is recorded" in err, err
    code, _, err = cli(*[*sig, "backfill", "R1.1"], "--status", "in_progress")
    assert code != 0 and "not both" in err

    # Live recording takes over; the past can then only be dated before it began.
    evidence = tmp_path / "minutes.txt"
    evidence.write_text("minutes of the first meeting")
    code, _, err = cli(
        *jo, "evidence", "add", "R1.1", str(evidence), "--description", "Minutes",
        "--effective-date", "2023-01-05",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = cli(*jo, "act", "R1.1", "submit")
    assert code == 0, err
    today = datetime.now(UTC).date().isoformat()
    code, _, err = cli(*one, "--status", "in_progress", "--on", today)
    assert code == 3 and "recorded live since" in err, err
    code, out, _ = cli("status", "--actions")
    assert "evidence_submitted (backfilled" not in out and "evidence_submitted" in out
    code, out, _ = cli("status", "--as-of", "2022-12-31", "--occurred", "--json")
    assert {a["action_id"]: a["status"] for a in json.loads(out)["actions"]}["R1.1"] == (
        "in_progress"
    )

    # The timeline says what each backfilled entry is.
    code, out, err = cli("timeline", "R1.2")
    assert code == 0 and "action.backfilled by sig" in out, err
    assert "-> blocked (backfilled: as at 2023-06-01, per its source)" in out
    assert "source: Police update to the SIG" in out

    # Verification, the auditor's replay of the rules, and a projection made afresh.
    assert cli("checkpoint")[0] == 0
    report = tmp_path / "report.html"
    code, _, err = cli("report", "--as-of", today, "--out", str(report))
    assert code == 0, err
    html = report.read_text()
    assert "Statuses from the recorded past" in html and "Police update to the SIG" in html
    assert_verified(cli, tmp_path)
    before = json.loads(cli("status", "--json")[1])
    assert cli("projection", "--rebuild")[0] == 0
    assert json.loads(cli("status", "--json")[1])["actions"] == before["actions"]


@pytest.fixture
def site(
    config: LedgerConfig,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """A served ledger set up over HTTP (tests/support/deployment.py `served_site`)."""
    with served_site(
        config, tmp_path, capsys, monkeypatch, "council.example/backfill", agency_people=False
    ) as deployed:
        yield deployed


def test_backfill_in_client_mode(site: Deployment, tmp_path: Path) -> None:
    run = site.on_client
    sig = site.as_user("sig")
    baseline = tmp_path / "baseline.csv"
    baseline.write_text(
        f'action_id,status,occurred_on,source\nR1.1,in_progress,2022-11-10,"{COUNCIL_REPORT}"\n'
    )
    code, out, err = run(*sig, "backfill", str(baseline))
    assert code == 0 and "backfilled 1 facts" in out, err
    assert "receipt under checkpoint" in out
    code, out, err = run(*sig, "status", "--as-of", "2022-12-31", "--occurred", "--json")
    assert code == 0, err
    found = json.loads(out)
    assert found["basis"] == "occurred"
    assert [(a["action_id"], a["status"], a["backfilled_on"]) for a in found["actions"]] == [
        ("R1.1", "in_progress", "2022-11-10")
    ]
    code, out, err = run(*sig, "status", "--as-of", "2022-12-31", "--json")
    assert json.loads(out)["actions"] == [] and json.loads(out)["basis"] == "recorded"
    code, out, err = site.on_server("verify", "--workers", "1")
    assert code == 0 and "OK" in out, err
