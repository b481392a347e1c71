"""A living plan end to end (issue 14), on SQLite and PostgreSQL, by the CLI as a user
runs it: an agency the import did not name is added (the import's refusal says how),
renamed (status, the report's inputs and the export follow the name; the old name stays
as of before), recommendations are imported into the existing plan (one numbered beyond
--expected is named in a warning), amended, withdrawn (refused while its actions are
open, naming them), merged and renumbered (the old number still finds it); `verify` and
the auditor's `verify-bundle --rules` accept every entry."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.sample_plan import setup_plan

MORE = """number,title,lead_agencies
3,Inspect children's homes,Ofsted
14,Review the review,Council
"""


def test_the_plan_changes_by_the_cli(cli: Any, tmp_path: Path) -> None:
    setup_plan(cli, tmp_path)  # recommendations 1 and 2 (expected 3); R1.1 and R1.2
    sig = ["--as", "sig", "--key", str(tmp_path / "sig.key")]
    sam = ["--as", "sam", "--key", str(tmp_path / "sam.key")]
    more = tmp_path / "more.csv"
    more.write_text(MORE)

    # Ofsted is not in the plan: the import says how to add it, and nothing is imported.
    code, _, err = cli(*sig, "import", str(more))
    assert code != 0
    assert "unknown agency 'Ofsted': add it to the plan first" in err
    assert "inquiry-ledger plan agency add ofsted --name NAME --reason WHY" in err
    code, _, err = cli(*sam, "plan", "agency", "add", "ofsted", "--name", "Ofsted", "--reason", "r")
    assert code == 3 and "rule: plan.add_agency" in err
    with pytest.raises(SystemExit) as refused:  # every change carries a reason
        cli(*sig, "plan", "agency", "add", "ofsted", "--name", "Ofsted")
    assert refused.value.code == 2
    code, out, err = cli(
        *sig, "plan", "agency", "add", "ofsted", "--name", "Ofsted",
        "--reason", "inspects the homes the inquiry found wanting",
    )  # fmt: skip
    assert code == 0 and "plan.agency_added" in out, err

    # Into the existing plan: 3 and 14 are added; 14 is beyond the 3 the inquiry made.
    code, out, err = cli(*sig, "import", str(more))
    assert code == 0, err
    assert "imported 2 entries" in out
    assert f"{more}: recommendation numbers outside 1..3 (the inquiry made 3): 14" in err
    code, _, err = cli(*sig, "import", str(more))  # the same rows again: refused, each named
    assert code != 0 and "row 2, column number: recommendation 3 is already in the plan" in err
    fifth = tmp_path / "fifth.csv"
    fifth.write_text("number,title,lead_agencies\n5,Fifth,Ofsted\n")
    code, _, err = cli(*sig, "import", str(fifth), "--title", "Another", "--expected", "4")
    assert code == 0, err
    assert "outside 1..4 (the inquiry made 4): 5" in err
    assert "--title and --source are not changed by this" in err

    # A new name: shown everywhere from now on; as of before, the old one.
    size = json.loads(cli("status", "--json")[1])["log_size"]
    code, out, err = cli(
        *sig, "plan", "agency", "rename", "council", "--name", "Telford & Wrekin Council",
        "--reason", "the council's name since the reorganisation",
    )  # fmt: skip
    assert code == 0 and "plan.agency_renamed" in out, err
    code, out, err = cli("status")
    assert code == 0, err
    assert "Telford & Wrekin Council" in out
    before = json.loads(cli("status", "--json", "--position", str(size))[1])
    assert before["agencies"]["council"] == "Council"
    export = tmp_path / "status.csv"
    assert cli("status", "--out", str(export))[0] == 0
    text = export.read_text("utf-8-sig")
    rows = {r["action_id"]: r for r in csv.DictReader(io.StringIO(text))}
    assert "Telford & Wrekin Council" in rows["R1.1"].values()

    # Amended.
    code, _, err = cli(*sig, "plan", "recommendation", "amend", "2", "--reason", "r")
    assert code != 0 and "give at least one of --title, --text, --lead-agencies" in err
    code, out, err = cli(
        *sig, "plan", "recommendation", "amend", "2", "--title", "Publish an annual report online",
        "--lead-agencies", "West Mercia Police; Ofsted", "--reason", "the follow-up report",
    )  # fmt: skip
    assert code == 0 and "plan.recommendation_amended" in out, err

    # Withdrawn: refused while its actions are open, then allowed.
    code, _, err = cli(*sig, "plan", "recommendation", "withdraw", "1", "--reason", "dropped")
    assert code == 3
    assert "recommendation 1 has open actions (R1.1, R1.2): withdraw or merge them first" in err
    for action in ("R1.1", "R1.2"):
        assert cli(*sig, "act", action, "withdraw", "--reason", "dropped with R1")[0] == 0
    code, out, err = cli(
        *sig, "plan", "recommendation", "withdraw", "1", "--reason", "dropped by the inquiry"
    )
    assert code == 0 and "plan.recommendation_withdrawn" in out, err

    # Merged, and renumbered.
    code, out, err = cli(
        *sig, "plan", "recommendation", "merge", "14", "--into", "3", "--reason", "a duplicate"
    )
    assert code == 0, err
    code, out, err = cli(
        *sig, "plan", "recommendation", "renumber", "2", "--to", "12", "--reason", "renumbered"
    )
    assert code == 0 and "plan.recommendation_renumbered" in out, err
    code, _, err = cli(
        *sig, "plan", "recommendation", "renumber", "12", "--to", "2", "--reason", "back"
    )
    assert code == 3 and "2 was recommendation 12's number" in err

    found = json.loads(cli("status", "--json")[1])
    by_number = {r["number"]: r for r in found["recommendations"]}
    assert sorted(by_number) == [1, 3, 5, 12, 14]
    assert by_number[1]["status"] == "withdrawn"
    assert (by_number[14]["status"], by_number[14]["merged_into"]) == ("merged", 3)
    assert by_number[12]["former_numbers"] == [2]
    assert by_number[12]["title"] == "Publish an annual report online"
    assert by_number[12]["lead_agencies"] == ["west-mercia-police", "ofsted"]
    code, out, err = cli("status")
    assert code == 0, err
    assert "Recommendations: 3 in the plan, 3 outstanding; 1 withdrawn, 1 merged" in out
    assert "12 (was 2)" in out and "merged into 3" in out
    assert "Not yet imported" not in out  # 2 is 12 now, not missing
    code, out, err = cli("timeline", "--recommendation", "2")  # the old number finds it
    assert code == 0, err
    assert "recommendation 12" in out and "plan.recommendation_renumbered by sig" in out
    assert "plan.recommendation_amended by sig" in out

    # Every entry stands up to the ledger's own verification and the chair's auditor.
    assert cli("checkpoint")[0] == 0
    code, out, err = cli("verify", "--workers", "1")
    assert code == 0 and "OK" in out, err
    bundle = tmp_path / "bundle"
    assert cli("export", "--out", str(bundle))[0] == 0
    code, out, err = cli(
        "verify-bundle", str(bundle), "--log-key", str(cli.config.log_vkey_path),
        "--trust", str(tmp_path / "trust.keys"), "--rules",
    )  # fmt: skip
    assert code == 0 and out.rstrip().endswith("OK"), out + err
    assert cli("projection", "--rebuild")[0] == 0
    assert json.loads(cli("status", "--json")[1])["recommendations"] == found["recommendations"]
