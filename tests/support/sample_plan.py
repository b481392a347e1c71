"""A small plan for the CLI and HTTP tests: two recommendations, their actions, and users."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from ledger.keys import KeyPair

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


def init_ledger(cli: Any, tmp_path: Path, origin: str) -> None:
    """`init` with an administrator's key made on their side (tmp_path/admin.key), which
    the tests then keep where `--as admin` finds it (HOME/keys/users/admin.key)."""
    key = tmp_path / "admin.key"
    assert cli("keys", "new", "--out", str(key))[0] == 0
    code, _, err = cli("init", "--origin", origin, "--admin-key", str(key))
    assert code == 0, err
    home_key = cli.config.user_key_path("admin")
    home_key.parent.mkdir(parents=True, exist_ok=True)
    home_key.write_bytes(key.read_bytes())
    home_key.chmod(0o600)


def adopt_charter(cli: Any, tmp_path: Path, chair: str = "chair") -> Path:
    """The chair makes a key and adopts the charter; return the trust file for auditors."""
    key = tmp_path / f"{chair}.key"
    assert cli("keys", "new", "--out", str(key))[0] == 0
    code, _, err = cli(
        "--as", chair, "--key", str(key), "charter", "adopt", "--name", "Chair", "--title", "T"
    )
    assert code == 0, err
    trust = tmp_path / "trust.keys"
    trust.write_text(base64.b64encode(KeyPair.read(key).public_key).decode() + "\n")
    return trust


def setup_plan(cli: Any, tmp_path: Path) -> None:
    """Initialise a ledger by the CLI; the chair adopts the charter and appoints the group,
    which imports the plan; the chair appoints a lead, who registers an officer."""
    init_ledger(cli, tmp_path, "council.example/inquiry")
    adopt_charter(cli, tmp_path)
    chair = ["--as", "chair", "--key", str(tmp_path / "chair.key")]
    for user, role, agency, by in [
        ("sig", "implementation_group", None, chair),
        ("sam", "agency_lead", "council", chair),
        ("jo", "officer", "council", ["--as", "sam", "--key", str(tmp_path / "sam.key")]),
    ]:
        if user == "sam":
            recs = tmp_path / "recs.csv"
            recs.write_text(RECOMMENDATIONS)
            code, _, err = cli(
                "--as", "sig", "--key", str(tmp_path / "sig.key"),
                "import", str(recs), "--title", "Plan", "--expected", "3",
            )  # fmt: skip
            assert code == 0, err
            actions = tmp_path / "actions.csv"
            actions.write_text(ACTIONS)
            code, _, err = cli(
                "--as", "sig", "--key", str(tmp_path / "sig.key"), "import", str(actions)
            )
            assert code == 0, err
        key = tmp_path / f"{user}.key"
        assert cli("keys", "new", "--out", str(key))[0] == 0
        extra = ["--agency", agency] if agency else []
        code, _, err = cli(
            *by,
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


def assert_verified(cli: Any, tmp_path: Path) -> None:
    """The ledger's own `verify`, then the chair's auditor on an exported bundle with the
    charter's key pinned and the domain's rules replayed (`verify-bundle --rules`): both
    must say OK. `tmp_path` holds trust.keys (`adopt_charter`) and takes the reports."""
    code, out, err = cli("verify", "--workers", "1")
    assert code == 0 and "OK" in out, err
    bundle = tmp_path / "bundle"
    assert cli("export", "--out", str(bundle))[0] == 0
    code, out, err = cli(
        "verify-bundle", str(bundle), "--log-key", str(cli.config.log_vkey_path),
        "--trust", str(tmp_path / "trust.keys"), "--rules", "--report", str(tmp_path),
    )  # fmt: skip
    assert code == 0 and out.rstrip().endswith("OK"), out + err
