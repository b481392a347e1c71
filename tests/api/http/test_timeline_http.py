"""Client mode: `inquiry-ledger --server URL timeline` and `status --as-of` against a real
`inquiry-ledger serve` process (SQLite, local evidence), answered by the server's as-of
projection; an officer of another agency is refused."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from api.cli.main import main
from tests.support.sample_plan import ONE_ACTION as ACTIONS
from tests.support.sample_plan import RECOMMENDATIONS
from tests.support.server import running_server


def run(*args: str, capsys: Any) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_timelines_in_client_mode(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("INQUIRY_LEDGER_"):
            monkeypatch.delenv(name)
    env = {"INQUIRY_LEDGER_HOME": str(tmp_path / "server-home")}
    monkeypatch.setenv("INQUIRY_LEDGER_HOME", env["INQUIRY_LEDGER_HOME"])
    assert run("init", "--origin", "council.example/timeline", capsys=capsys)[0] == 0
    (tmp_path / "recs.csv").write_text(RECOMMENDATIONS)
    (tmp_path / "actions.csv").write_text(ACTIONS)
    for csv in ("recs.csv", "actions.csv"):
        code, _, err = run(
            "--as", "admin", "import", str(tmp_path / csv), "--expected", "2", capsys=capsys
        )
        assert code == 0, err
    keys, tokens = tmp_path / "client-keys", {}
    for user, agency in (("jo", "council"), ("pat", "west-mercia-police")):
        assert run("keys", "new", "--out", str(keys / f"{user}.key"), capsys=capsys)[0] == 0
        code, _, err = run(
            *("--as", "admin", "users", "add", user, "--name", user, "--role", "officer"),
            *("--agency", agency, "--key-file", str(keys / f"{user}.key")),
            capsys=capsys,
        )
        assert code == 0, err
        tokens[user] = run("--as", "admin", "tokens", "create", user, capsys=capsys)[1].strip()
    with running_server(env) as url:
        monkeypatch.setenv("INQUIRY_LEDGER_HOME", str(tmp_path / "client-home"))
        jo = ["--server", url, "--token", tokens["jo"], "--as", "jo", "--key", str(keys / "jo.key")]
        code, _, err = run(*jo, "act", "R1.1", "start", capsys=capsys)
        assert code == 0, err
        code, out, err = run(*jo, "timeline", "R1.1", capsys=capsys)
        assert code == 0, err
        assert "R1.1 — as of now — 2 entries" in out
        assert "action.status_changed by jo" in out and "-> in_progress" in out
        code, out, err = run(*jo, "timeline", "--recommendation", "1", "--json", capsys=capsys)
        assert code == 0, err
        found = json.loads(out)
        assert found["entries"][0]["type"] == "plan.recommendation_added"
        assert found["state"]["actions"]["R1.1"]["status"] == "in_progress"
        code, out, err = run(*jo, "timeline", "R1.1", "--limit", "1", "--json", capsys=capsys)
        assert code == 0 and json.loads(out)["truncated"], err
        code, out, err = run(*jo, "status", "--position", "1", "--json", capsys=capsys)
        assert code == 0 and json.loads(out)["log_size"] == 1, err
        pat = ["--server", url, "--token", tokens["pat"]]
        code, _, err = run(*pat, "timeline", "R1.1", capsys=capsys)
        assert code == 3 and "reads only west-mercia-police's actions" in err
