"""Client mode: `inquiry-ledger --server URL timeline` and `status --as-of` against a real
`inquiry-ledger serve` process (SQLite, local evidence), answered by the server's as-of
projection; an officer of another agency is refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.deployment import Deployment, cli_runner
from tests.support.sample_plan import ONE_ACTION as ACTIONS
from tests.support.sample_plan import RECOMMENDATIONS
from tests.support.server import running_server


def test_timelines_in_client_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("INQUIRY_LEDGER_"):
            monkeypatch.delenv(name)
    env = {"INQUIRY_LEDGER_HOME": str(tmp_path / "server-home")}
    site = Deployment(
        cli_runner(capsys), monkeypatch, env, tmp_path / "client-keys", tmp_path / "client-home"
    )
    site.initialise("council.example/timeline")
    (tmp_path / "recs.csv").write_text(RECOMMENDATIONS)
    (tmp_path / "actions.csv").write_text(ACTIONS)
    with running_server(env) as url:
        site.url = url
        site.adopt_charter("chair")
        site.token("chair")
        site.appoint("chair", "sig", "implementation_group")
        site.import_plan("sig", [tmp_path / "recs.csv", tmp_path / "actions.csv"], expected=2)
        site.appoint("chair", "sam", "agency_lead", "council")
        site.appoint("chair", "wmp.lead", "agency_lead", "west-mercia-police")
        site.appoint("sam", "jo", "officer", "council")
        site.appoint("wmp.lead", "pat", "officer", "west-mercia-police")
        run = site.on_client
        jo = site.as_user("jo")
        code, _, err = run(*jo, "act", "R1.1", "start")
        assert code == 0, err
        code, out, err = run(*jo, "timeline", "R1.1")
        assert code == 0, err
        assert "R1.1 — as of now — 2 entries" in out
        assert "action.status_changed by jo" in out and "-> in_progress" in out
        code, out, err = run(*jo, "timeline", "--recommendation", "1", "--json")
        assert code == 0, err
        found = json.loads(out)
        assert found["entries"][0]["type"] == "plan.recommendation_added"
        assert found["state"]["actions"]["R1.1"]["status"] == "in_progress"
        code, out, err = run(*jo, "timeline", "R1.1", "--limit", "1", "--json")
        assert code == 0 and json.loads(out)["truncated"], err
        code, out, err = run(*jo, "status", "--position", "1", "--json")
        assert code == 0 and json.loads(out)["log_size"] == 1, err
        pat = ["--server", url, "--token", site.tokens["pat"]]
        code, _, err = run(*pat, "timeline", "R1.1")
        assert code == 3 and "reads only west-mercia-police's actions" in err
