"""`act ACTION transfer --to AGENCY --reason` end to end, as users run it, on SQLite and
PostgreSQL: the implementation group moves R1.1 from the council to West Mercia Police;
refusals are one line naming the rule; the new agency's officer then attaches evidence
and submits it, the old agency's officer is refused; `status` (now, and at a position
before the transfer), `history` and `timeline` show who led it when; `verify` and the
auditor's `verify-bundle --rules` say OK over the ledger with the transfer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.sample_plan import assert_verified, setup_plan

REASON = "Machinery of government change: responsibility moved to the police"
POLICE = "west-mercia-police"


def _as(tmp_path: Path, user: str) -> list[str]:
    return ["--as", user, "--key", str(tmp_path / f"{user}.key")]


def _leaf(out: str) -> int:
    return int(out.split("appended entry ")[1].split(":")[0])


def _register_police(cli: Any, tmp_path: Path) -> None:
    """The chair appoints pat, the police's lead, who registers lee, its officer."""
    for user, role, by in (("pat", "agency_lead", "chair"), ("lee", "officer", "pat")):
        key = tmp_path / f"{user}.key"
        assert cli("keys", "new", "--out", str(key))[0] == 0
        code, _, err = cli(
            *_as(tmp_path, by), "users", "add", user, "--name", user.title(),
            "--role", role, "--agency", POLICE, "--key-file", str(key),
        )  # fmt: skip
        assert code == 0, err


def _row(cli: Any, *args: str) -> dict[str, Any]:
    code, out, err = cli("status", "--json", *args)
    assert code == 0, err
    found = json.loads(out)
    row: dict[str, Any] = next(a for a in found["actions"] if a["action_id"] == "R1.1")
    return row | {"by_agency": found["by_agency"]}


def test_a_transfer_moves_who_may_sign_and_keeps_who_led_when(cli: Any, tmp_path: Path) -> None:
    setup_plan(cli, tmp_path)
    _register_police(cli, tmp_path)
    sig, jo, lee = _as(tmp_path, "sig"), _as(tmp_path, "jo"), _as(tmp_path, "lee")
    assert cli(*jo, "act", "R1.1", "start")[0] == 0
    minutes = tmp_path / "minutes.txt"
    minutes.write_bytes(b"Minutes of the council's first meeting.")
    code, _, err = cli(
        *jo, "act", "R1.1", "attach", str(minutes),
        "--description", "Minutes", "--effective-date", "2023-02-01",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = cli(*lee, "act", "R1.1", "comment", "not yet ours")
    assert code == 3 and "for an action led by council" in err, err  # before: not the police

    # Refusals: one line each, naming the rule.
    for who, args, says in (
        (jo, ["--to", POLICE, "--reason", REASON], "may not transfer an action"),
        (sig, ["--to", "mhclg", "--reason", REASON], "no agency 'mhclg' in the plan"),
        (sig, ["--to", "council", "--reason", REASON], "R1.1 is already led by council"),
        (sig, ["--to", POLICE, "--reason", " "], "reason must be a non-empty string"),
    ):
        code, out, err = cli(*who, "act", "R1.1", "transfer", *args)
        assert code == 3 and out == "", (args, err)
        assert says in err and "[rule: action.transfer_lead]" in err, err
        assert len(err.strip().splitlines()) == 1, err

    code, out, err = cli(*sig, "act", "R1.1", "transfer", "--to", POLICE, "--reason", REASON)
    assert code == 0 and "action.lead_agency_transferred" in out, err
    transferred = _leaf(out)

    # The new agency's officer works the action; the old agency's is refused, in one line.
    code, _, err = cli(*jo, "act", "R1.1", "comment", "still ours?")
    assert code == 3, err
    assert len(err.strip().splitlines()) == 1, err
    assert "jo" in err and "for an action led by west-mercia-police" in err, err
    more = tmp_path / "handover.txt"
    more.write_bytes(b"Handover note from the council to the police.")
    code, _, err = cli(
        *lee, "act", "R1.1", "attach", str(more),
        "--description", "Handover note", "--effective-date", "2023-03-01",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = cli(*lee, "act", "R1.1", "submit")
    assert code == 0 and "action.status_changed" in out, err
    code, _, err = cli(*jo, "act", "R1.1", "withdraw-evidence", "0" * 64, "--reason", "x")
    assert code == 3 and "for an action led by west-mercia-police" in err, err

    # Who led it when: status now, and at the position just before the transfer.
    now = _row(cli)
    assert (now["lead_agency"], now["status"], now["evidence"]) == (POLICE, "evidence_submitted", 2)
    assert now["by_agency"] == {POLICE: {"evidence_submitted": 1, "not_started": 1}}
    then = _row(cli, "--position", str(transferred))
    assert (then["lead_agency"], then["status"]) == ("council", "in_progress")
    assert then["by_agency"]["council"] == {"in_progress": 1}
    code, out, err = cli("history", "R1.1")
    assert code == 0 and "action.lead_agency_transferred" in out and REASON in out, err
    code, out, err = cli("timeline", "R1.1")
    assert code == 0, err
    assert "action.lead_agency_transferred by sig" in out and REASON in out
    assert f"R1.1: led by {POLICE} since " in out and "(before: council until " in out
    code, out, err = cli("timeline", "R1.1", "--json")
    history = json.loads(out)["state"]["lead_history"]
    assert [(lead["agency"], lead["reason"]) for lead in history] == [
        ("council", ""),
        (POLICE, REASON),
    ]
    assert history[0]["until"] == history[1]["since"] and history[1]["until"] is None

    # The ledger's own verification and the chair's auditor accept every entry.
    assert cli("checkpoint")[0] == 0
    assert_verified(cli, tmp_path)
