"""A small plan for the CLI and HTTP tests: two recommendations, their actions, and users."""

from __future__ import annotations

from pathlib import Path
from typing import Any

RECOMMENDATIONS = """number,title,lead_agencies,source
1,Establish a Joint CSE Review Group,Council;West Mercia Police,report
2,Publish an annual report,West Mercia Police,report
"""
ACTIONS = (
    (
        "action_id,recommendation,title,lead_agency,lead_officers,expected_outcome,"
        "evidence_required,due_date\n"
    )
    + """R1.1,1,Set up the group,Council,Director;Manager,Group meets,Terms of reference,2023-03-31
R1.2,1,Police data,west-mercia-police,Superintendent,Data shared,Data sets,2023-06-30
"""
)


def setup_plan(cli: Any, tmp_path: Path) -> None:
    """Initialise a ledger by the CLI, import the plan, register an officer, a lead, the group."""
    assert cli("init", "--origin", "council.example/inquiry")[0] == 0
    recs = tmp_path / "recs.csv"
    recs.write_text(RECOMMENDATIONS)
    code, _, err = cli("--as", "admin", "import", str(recs), "--title", "Plan", "--expected", "3")
    assert code == 0, err
    actions = tmp_path / "actions.csv"
    actions.write_text(ACTIONS)
    assert cli("--as", "admin", "import", str(actions))[0] == 0
    for user, role, agency in [
        ("jo", "officer", "council"),
        ("sam", "agency_lead", "council"),
        ("sig", "implementation_group", None),
    ]:
        key = tmp_path / f"{user}.key"
        assert cli("keys", "new", "--out", str(key))[0] == 0
        extra = ["--agency", agency] if agency else []
        code, _, err = cli(
            "--as",
            "admin",
            "users",
            "add",
            user,
            "--name",
            user.title(),
            "--role",
            role,
            "--key-file",
            str(key),
            *extra,
        )
        assert code == 0, err


ONE_ACTION = (
    "action_id,recommendation,title,lead_agency,lead_officers,expected_outcome,"
    "evidence_required,due_date\n"
    "R1.1,1,Set up the group,Council,Director,Group meets,Terms of reference,2023-03-31\n"
)
