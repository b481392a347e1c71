"""Recommendations as the inquiry writes them (issue 14), end to end by the command line
on SQLite and PostgreSQL: a Grenfell-like Phase 2 list with references such as 113.6 and
33.22(a) in groups, an IICSA-like K10.1, a placeholder whose text is not yet known, and
actions whose ids are made for them; every command that names a recommendation takes
its reference; a corrected reference still finds it; `--expected` flags a list longer
than the inquiry's; the rules refuse a reference another recommendation has; `verify` and
`verify-bundle --rules` accept it all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.sample_plan import adopt_charter, assert_verified, init_ledger

PHASE_2 = """reference,group,title,lead_agencies,text
113.6,Phase 2: regulation,A single construction regulator,Ministry of Housing,A regulator.
33.22(a),Phase 2: fire service,Evacuation alarms,Home Office;London Fire Brigade,Alarms.
K10.1,Part K: IICSA-style numbering,Mandatory reporting,Home Office,A duty to report.
P7,Part P,,,
"""
ACTIONS = """action_id,recommendation,title,lead_agency
,113.6,Draft the regulator's remit,Ministry of Housing
,113.6,Consult the industry,Ministry of Housing
,33.22(a),Trial evacuation alarms,London Fire Brigade
R3.1,k10.1,Legislate for mandatory reporting,Home Office
"""


def test_references_as_the_inquiry_writes_them(cli: Any, tmp_path: Path) -> None:
    init_ledger(cli, tmp_path, "gov.example/grenfell-phase-2")
    adopt_charter(cli, tmp_path)
    key = tmp_path / "sig.key"
    assert cli("keys", "new", "--out", str(key))[0] == 0
    import base64

    from ledger.keys import KeyPair

    public = base64.b64encode(KeyPair.read(key).public_key).decode()
    chair = ["--as", "chair", "--key", str(tmp_path / "chair.key")]
    code, _, err = cli(
        *chair, "users", "add", "sig", "--name", "Group", "--role", "implementation_group",
        "--public-key", public,
    )  # fmt: skip
    assert code == 0, err
    sig = ["--as", "sig", "--key", str(key)]
    recs, actions = tmp_path / "recs.csv", tmp_path / "actions.csv"
    recs.write_text(PHASE_2)
    actions.write_text(ACTIONS)

    code, out, err = cli(*sig, "import", str(recs), "--title", "Phase 2", "--expected", "3")
    assert code == 0, err
    assert "4 recommendations, but the inquiry made 3" in err
    code, out, err = cli(*sig, "import", str(actions))
    assert code == 0, err

    found = json.loads(cli("status", "--json")[1])
    rows = {r["reference"]: r for r in found["recommendations"]}
    assert list(rows) == ["113.6", "33.22(a)", "K10.1", "P7"]  # in the file's order
    assert rows["113.6"]["group"] == "Phase 2: regulation"
    assert (rows["P7"]["placeholder"], rows["P7"]["title"]) == (True, "")
    ids = sorted(a["action_id"] for a in found["actions"])
    n113, n33, n_k10 = (rows[r]["number"] for r in ("113.6", "33.22(a)", "K10.1"))
    assert ids == sorted([f"R{n113}.1", f"R{n113}.2", f"R{n33}.1", f"R{n_k10}.1"])
    code, out, _ = cli("status")
    assert "113.6" in out and "33.22(a)" in out and "(its text is not yet known)" in out

    # Every command that names a recommendation takes its reference.
    code, out, err = cli(
        *sig, "plan", "respond", "k10.1", "--response", "accepted", "--on", "2025-02-26",
        "--responder", "Home Office",
    )  # fmt: skip
    assert code == 0 and "plan.response_recorded" in out, err
    code, out, err = cli("timeline", "--recommendation", "113.6")
    assert code == 0 and f"R{n113}.1" in out and "plan.recommendation_referenced" in out, err
    code, _, err = cli("timeline", "--recommendation", "Z99")
    assert code != 0 and "no recommendation 'Z99' in the plan" in err

    # A corrected reference: the old one still finds it, and nobody else may take it.
    code, out, err = cli(
        *sig, "plan", "recommendation", "reference", "113.6", "--reference", "113.6A",
        "--reason", "the published list's typo corrected",
    )  # fmt: skip
    assert code == 0 and "plan.recommendation_referenced" in out, err
    code, out, _ = cli("timeline", "--recommendation", "113.6")
    assert code == 0 and f"R{n113}.1" in out
    code, _, err = cli(
        *sig, "plan", "recommendation", "reference", "K10.1", "--reference", "113.6",
        "--reason", "x",
    )  # fmt: skip
    assert code == 3 and f"reference '113.6' is recommendation {n113}'s" in err, err
    code, _, err = cli(
        *sig, "plan", "recommendation", "reference", "K10.1", "--reference", str(n113),
        "--reason", "x",
    )  # fmt: skip
    assert code == 3 and "another recommendation's number" in err, err
    # The placeholder is given its words later, never invented on import.
    code, out, err = cli(
        *sig, "plan", "recommendation", "amend", "P7", "--title", "Training",
        "--lead-agencies", "Home Office", "--reason", "the text was published",
    )  # fmt: skip
    assert code == 0, err
    found = json.loads(cli("status", "--json")[1])
    rows = {r["reference"]: r for r in found["recommendations"]}
    assert (rows["P7"]["placeholder"], rows["P7"]["title"]) == (False, "Training")
    assert "113.6A" in rows and rows["K10.1"]["response"] == "accepted"

    assert cli("checkpoint")[0] == 0
    assert_verified(cli, tmp_path)
