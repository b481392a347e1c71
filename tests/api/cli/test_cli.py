"""The command line as a user runs it: set-up, import, acting, status, verification."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from api.cli.common import CliError, check_known_log
from ledger.pqkeys import pq_key_path
from tests.support.sample_plan import ACTIONS, init_ledger, setup_plan


def test_init_creates_the_log_key_privately_and_keeps_no_user_key(cli, tmp_path: Path) -> None:
    code, _, err = cli("init", "--origin", "council.example/inquiry")
    assert code == 2 and "keys new" in err  # the administrator's key is made on their side
    admin_key = tmp_path / "admin.key"
    assert cli("keys", "new", "--out", str(admin_key))[0] == 0
    code, out, _ = cli("init", "--origin", "council.example/inquiry", "--admin-key", str(admin_key))
    assert code == 0
    config = cli.config
    assert "council.example/inquiry+" in out
    assert stat.S_IMODE(config.log_key_path.stat().st_mode) == 0o600
    assert not config.user_key_path("admin").exists()
    log_keys = (config.log_key_path, pq_key_path(config))  # Ed25519 and post-quantum
    assert stat.S_IMODE(pq_key_path(config).stat().st_mode) == 0o600
    assert [p for p in config.home.rglob("*.key") if p not in log_keys] == []
    assert cli("init", "--admin-key", str(admin_key))[0] == 3  # refuses to initialise twice


def test_a_full_session_from_import_to_sign_off_verifies(cli, tmp_path: Path) -> None:
    setup_plan(cli, tmp_path)
    jo = ["--as", "jo", "--key", str(tmp_path / "jo.key")]
    sam = ["--as", "sam", "--key", str(tmp_path / "sam.key")]
    assert cli(*jo, "act", "R1.1", "start")[0] == 0
    evidence = tmp_path / "terms.txt"
    evidence.write_text("Terms of reference, approved.")
    code, out, err = cli(
        *jo,
        "act",
        "R1.1",
        "attach",
        str(evidence),
        "--description",
        "Terms of reference",
        "--effective-date",
        "2023-02-01",
    )
    assert code == 0, err
    assert cli(*jo, "act", "R1.1", "submit")[0] == 0
    assert cli(*sam, "act", "R1.1", "sign-off", "--statement", "Complete")[0] == 0
    code, out, _ = cli("status", "--actions")
    assert "R1.1" in out and "agency_signed_off" in out
    assert "Not yet imported (not in our record): 3" in out
    code, out, _ = cli("history", "R1.1")
    assert "action.signed_off" in out and "by sam" in out
    assert cli("checkpoint")[0] == 0
    code, out, _ = cli("verify", "--workers", "1")
    assert code == 0 and "OK" in out


def test_refusals_exit_3_with_the_rule(cli, tmp_path: Path) -> None:
    setup_plan(cli, tmp_path)
    code, _, err = cli("--as", "jo", "--key", str(tmp_path / "jo.key"), "act", "R1.2", "start")
    assert code == 3
    assert "rule: action.start" in err and "west-mercia-police" in err


def test_bad_input_exits_2_with_a_message(cli, tmp_path: Path) -> None:
    setup_plan(cli, tmp_path)
    code, _, err = cli("--as", "jo", "act", "R1.1", "start")  # no key file at the default path
    assert code == 2 and "cannot read key file" in err
    loose = tmp_path / "loose.key"
    loose.write_bytes((tmp_path / "jo.key").read_bytes())
    os.chmod(loose, 0o644)
    code, _, err = cli("--as", "jo", "--key", str(loose), "act", "R1.1", "start")
    assert code == 2 and "chmod 600" in err
    code, _, err = cli("--as", "jo", "--key", str(tmp_path / "jo.key"), "act", "R9.9", "start")
    assert code == 2 and "no action R9.9" in err
    code, _, err = cli("status", "--as-of", "last tuesday")
    assert code == 2 and "not a date" in err


def test_an_import_with_bad_rows_lists_every_error_and_imports_nothing(cli, tmp_path: Path) -> None:
    setup_plan(cli, tmp_path)
    before = cli("status", "--json")[1]
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "action_id,recommendation,title,lead_agency,lead_officers,expected_outcome,"
        "evidence_required,due_date\n"
        "R1.3,1,Fine row,Council,,Outcome,Evidence,2023-01-01\n"
        "R1.4,1,,Council,,Outcome,Evidence,2023-01-01\n"
        "X2,2,Title,Nobody,,Outcome,Evidence,31/12/2023\n"
        "R1.1,1,Duplicate,Council,,Outcome,Evidence,\n"
    )
    code, _, err = cli("--as", "sig", "--key", str(tmp_path / "sig.key"), "import", str(bad))
    assert code == 2
    assert "row 3, column title" in err
    assert "row 4, column action_id" in err and "row 4, column lead_agency" in err
    assert "row 4, column due_date" in err
    assert "row 5, column action_id: action R1.1 already exists" in err
    assert cli("status", "--json")[1] == before


def test_status_as_of_a_date_and_a_position(cli, tmp_path: Path) -> None:
    setup_plan(cli, tmp_path)
    code, out, _ = cli("status", "--position", "3", "--json")
    assert code == 0 and '"log_size": 3' in out and '"actions": []' in out
    code, out, _ = cli("status", "--as-of", "2000-01-01", "--json")
    assert '"log_size": 0' in out


def test_commands_on_a_missing_ledger_say_how_to_start(cli) -> None:
    code, _, err = cli("status")
    assert code == 4 and "inquiry-ledger init" in err


def test_the_demo_seeds_and_verifies(cli) -> None:
    code, out, err = cli("demo")
    assert code == 0, err
    assert "Verification:" in out and ": OK" in out
    assert "Not yet imported (not in our record): 4, 5, 11, 12, 18, 24, 25, 26, 27, 30" in out
    assert "Establish a Joint CSE Review Group" in out
    # Telford's words, signed by the demo (the code's own are generic: domain/wording.py)
    assert "the Strategic Implementation Group has accepted" in out
    assert "not implementable locally" in out
    # The baseline backfilled from the council's report, a response to every
    # recommendation, and a lead-agency transfer (issue 14).
    assert "On 10 November 2022 the record held 0 actions" in out
    assert "10 actions in progress, backfilled from the Report to Full Council" in out
    assert "R2.1 was transferred from multi-agency to council on 03 April 2023" in out
    assert "Accepted (Council, 2022-11-10)" in out
    code, said, _ = cli("status", "--as-of", "2022-11-10", "--occurred", "--actions")
    assert "what had happened by 2022-11-10" in said
    assert "in_progress (backfilled, 2022-11-10)" in said
    found = json.loads(cli("status", "--json")[1])
    assert all(r["response"] == "accepted" for r in found["recommendations"])
    # The PCC's assurance meeting of 13 March 2023 (the seed's minutes; issue 15): held
    # by the pcc, its action arising on mobile operations closed at the June meeting.
    assert (
        "The PCC Assurance & Accountability session of 13 March 2023 (pcc-aa-2023-03) "
        "covered 13 recommendations; its action arising pcc-aa-2023-03.1 (For the T/DCC "
        "to share with the OPCC the extent and frequency of the mobile operations, owned "
        "by West Mercia Police, due 2023-04-28) is closed on 2023-06-12; minutes "
        "approved" in out
    )
    code, listed, _ = cli("session", "list")
    assert code == 0 and listed.count("approved (entry") == 2
    code, minutes, _ = cli("session", "minutes", "pcc-aa-2023-03")
    assert code == 0 and "Approved by the chair, pcc" in minutes
    assert "mobile operations" in minutes and "not of these minutes" not in minutes
    # A lived-experience consultee's view, minuted by role handle, not by name.
    assert "lived-experience-1 (lived experience)" in minutes and "in the evening" in minutes
    assert "Lived-experience panel member" not in minutes
    code, threads, _ = cli("challenge", "list")
    assert "C1  R29  west-mercia-police  closed: satisfied" in threads
    code, out, _ = cli("demo")  # a second run shows the same ledger without reseeding
    assert code == 0 and "already seeded" in out


@pytest.mark.parametrize("number", ["\u0665", "\u00b2", "\uff13"])
def test_an_import_refuses_numbers_not_written_in_ascii_digits(
    cli, tmp_path: Path, number: str
) -> None:
    """`str.isdigit` is true of U+0665 and U+FF13 (read as 5, 3) and U+00B2 (int() crashed)."""
    setup_plan(cli, tmp_path)
    before = cli("status", "--json")[1]
    recs = tmp_path / "more.csv"
    recs.write_text(f"number,title,lead_agencies,source\n{number},A title,Council,report\n")
    code, _, err = cli("--as", "sig", "--key", str(tmp_path / "sig.key"), "import", str(recs))
    assert code == 2 and "row 2, column number: must be a whole number 1-999" in err
    actions = tmp_path / "more-actions.csv"
    actions.write_text(ACTIONS.splitlines()[0] + f"\nR1.9,{number},T,Council,,O,E,\n")
    code, _, err = cli("--as", "sig", "--key", str(tmp_path / "sig.key"), "import", str(actions))
    assert code == 2 and "column recommendation" in err
    assert cli("status", "--json")[1] == before


def test_tokens_are_managed_by_an_administrator(cli, tmp_path: Path) -> None:
    setup_plan(cli, tmp_path)
    code, out, err = cli("--as", "admin", "tokens", "create", "jo", "--days", "7")
    assert code == 0 and out.startswith("il_") and "shown once" in err
    token_id = out.split("_")[1]
    code, out, _ = cli("--as", "admin", "tokens", "list")
    assert token_id in out and "jo" in out
    code, _, err = cli("--as", "jo", "--key", str(tmp_path / "jo.key"), "tokens", "create", "jo")
    assert code == 3 and "not an administrator" in err
    assert cli("--as", "admin", "tokens", "revoke", token_id)[0] == 0
    code, _, err = cli("--as", "admin", "tokens", "revoke", token_id)
    assert code == 2 and "no active token" in err
    code, _, err = cli("--as", "admin", "tokens", "create", "nobody")
    assert code == 2 and "no registered user" in err


def test_keys_rotate_takes_a_public_key_so_the_private_half_stays_with_its_user(
    cli, tmp_path: Path
) -> None:
    """Jo's agency lead (her appointer) replaces Jo's key with one made elsewhere (her
    browser, her own machine): only the public half is given, and only the new key signs
    from then on."""
    import base64

    from ledger.keys import KeyPair

    setup_plan(cli, tmp_path)
    fresh = KeyPair.generate()
    public = base64.b64encode(fresh.public_key).decode()
    admin = ["--as", "sam", "--key", str(tmp_path / "sam.key")]  # Jo's appointer
    code, _, err = cli(
        *admin, "keys", "rotate", "jo", "--public-key", public, "--reason", "browser"
    )
    assert code == 0, err
    old = ["--as", "jo", "--key", str(tmp_path / "jo.key")]
    code, _, err = cli(*old, "act", "R1.1", "start")
    assert code == 3 and "key" in err  # the replaced key no longer signs
    new_file = tmp_path / "jo-new.key"
    fresh.write(new_file)
    assert cli("--as", "jo", "--key", str(new_file), "act", "R1.1", "start")[0] == 0
    assert (
        cli(*admin, "keys", "rotate", "jo", "--public-key", "not base64!", "--reason", "x")[0] == 2
    )
    assert cli("verify")[0] == 0


def test_running_the_cli_leaves_sigpipe_ignored_so_a_dead_worker_cannot_kill_the_process(
    cli, tmp_path: Path
) -> None:
    """`serve` and long imports run in the CLI's process and write to signature worker
    processes (ledger/sigpool.py): with SIGPIPE's default action a worker's death would
    kill the whole process instead of being a BrokenPipeError that the pool recovers
    from by verifying in-process."""
    import signal

    setup_plan(cli, tmp_path)
    assert cli("status")[0] == 0
    assert signal.getsignal(signal.SIGPIPE) is signal.SIG_IGN


def test_a_reader_that_goes_away_stops_the_cli_quietly(cli, tmp_path: Path) -> None:
    """`status --actions | head -c 1` with more output than a pipe holds: the CLI stops
    with the status a shell reports for SIGPIPE, and no traceback."""
    import subprocess
    import sys

    setup_plan(cli, tmp_path)
    many = tmp_path / "many.csv"
    rows = [
        f"R1.{i},1,Action number {i} of a long plan,Council,Director,Done,Minutes,2024-01-31"
        for i in range(3, 1503)
    ]
    many.write_text(ACTIONS.splitlines()[0] + "\n" + "\n".join(rows) + "\n")
    code, _, err = cli("--as", "sig", "--key", str(tmp_path / "sig.key"), "import", str(many))
    assert code == 0, err
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    reader = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "status", "--actions"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None
    assert reader.stdout.read(1)
    reader.stdout.close()
    _, err = reader.communicate(timeout=120)
    assert reader.returncode == 141, err.decode(errors="replace")[-2000:]
    assert b"Traceback" not in err


def test_a_witness_key_with_a_bad_name_is_refused_before_its_file_is_written(
    cli, tmp_path: Path
) -> None:
    key_file = tmp_path / "witness.key"
    code, _, err = cli("witness", "new-key", "--name", "bad name", "--out", str(key_file))
    assert code == 2 and "name" in err
    assert not key_file.exists()


def test_charter_show_says_who_appoints_whom(cli: Any, tmp_path: Path) -> None:
    init_ledger(cli, tmp_path, "council.example/charter")
    code, out, _ = cli("charter", "show")
    assert code == 0 and "no charter adopted yet" in out
    key = tmp_path / "chair.key"
    assert cli("keys", "new", "--out", str(key))[0] == 0
    code, out, err = cli(
        "--as", "chair", "--key", str(key), "charter", "adopt", "--name", "Chair",
        "--title", "CSE inquiry", "--leads-appointed-by", "implementation_group",
    )  # fmt: skip
    assert code == 0, err
    assert "charter adopted; chair is the chair" in out and "receipt under checkpoint" in out
    code, out, _ = cli("charter", "show")
    assert code == 0
    assert "CSE inquiry" in out and "chair: Chair (chair), current key" in out
    assert "agency_lead" in out and "implementation_group" in out
    assert "own machine (not in the operator's page): chair" in out
    code, _, err = cli(
        "--as", "chair", "--key", str(key), "charter", "adopt", "--name", "C", "--title", "T"
    )
    assert code == 3 and "[rule: directory.charter]" in err  # one charter per ledger


def test_a_server_that_names_another_log_gets_nothing_signed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # A training server calling itself production would collect signatures valid there.
    monkeypatch.delenv("INQUIRY_LEDGER_ORIGIN", raising=False)
    check_known_log(tmp_path, "https://ledger.example", "council.example/inquiry")
    assert "remembered in" in capsys.readouterr().err
    check_known_log(tmp_path, "https://ledger.example", "council.example/inquiry")
    with pytest.raises(CliError, match=r"now says it is the log 'council\.example/training'"):
        check_known_log(tmp_path, "https://ledger.example", "council.example/training")
    monkeypatch.setenv("INQUIRY_LEDGER_ORIGIN", "council.example/inquiry")
    with pytest.raises(CliError, match="INQUIRY_LEDGER_ORIGIN"):
        check_known_log(tmp_path, "https://training.example", "council.example/training")
