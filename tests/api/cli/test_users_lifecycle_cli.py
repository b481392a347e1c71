"""Users' keys and roles over time, end to end through the CLI (issue 14), on SQLite and
PostgreSQL: a second key beside the first (each signs; revoking one leaves the other), a
move to another agency (later entries checked against the new one, earlier ones still
valid), deactivation (every signing attempt then refused in one line), reactivation and a
new key; `users list` shows it all; `verify` and the chair's `verify-bundle --trust
--rules` still say OK over the ledger, and list each change with who signed it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from ledger.config import LedgerConfig
from ledger.keys import KeyPair
from tests.support.deployment import Deployment, cli_runner
from tests.support.sample_plan import RECOMMENDATIONS, setup_plan
from tests.support.server import running_server


def _key(cli: Any, path: Path) -> str:
    """A new key pair at `path`; its key id."""
    assert cli("keys", "new", "--out", str(path))[0] == 0
    return KeyPair.read(path).key_id


def _refused_in_one_line(result: tuple[int, str, str], *says: str) -> None:
    code, out, err = result
    assert code == 3, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for words in says:
        assert words in lines[0], err


def test_several_keys_a_role_change_and_deactivation(cli: Any, tmp_path: Path) -> None:
    setup_plan(cli, tmp_path)  # chair; sig; sam, council's lead; jo, council's officer

    def as_(user: str, key: str | None = None) -> list[str]:
        return ["--as", user, "--key", str(tmp_path / f"{key or user}.key")]

    # Jo adds a browser key beside her laptop's, and signs with each.
    laptop = KeyPair.read(tmp_path / "jo.key").key_id
    browser = _key(cli, tmp_path / "jo-browser.key")
    code, out, err = cli(
        *as_("jo"),
        "keys",
        "add",
        "--new-key",
        str(tmp_path / "jo-browser.key"),
        "--reason",
        "the browser on my desk",
    )
    assert code == 0 and "directory.key_added" in out, err
    assert cli(*as_("jo"), "act", "R1.1", "start")[0] == 0
    code, _, err = cli(*as_("jo", "jo-browser"), "act", "R1.1", "comment", "from the browser")
    assert code == 0, err
    code, out, _ = cli("users", "list")
    [row] = [line for line in out.splitlines() if line.startswith("jo ")]
    assert "active" in row and laptop in row and browser in row

    # Someone else's key, or a key Jo already holds, is refused.
    _refused_in_one_line(
        cli(*as_("jo"), "keys", "add", "--new-key", str(tmp_path / "sam.key"), "--reason", "x"),
        "already registered",
    )
    # The laptop is stolen: Jo revokes its key with the browser's; the browser's still signs.
    code, _, err = cli(
        *as_("jo", "jo-browser"), "keys", "revoke", "jo", laptop, "--reason", "laptop stolen"
    )
    assert code == 0, err
    _refused_in_one_line(
        cli(*as_("jo"), "act", "R1.1", "comment", "from the laptop"), "revoked", "laptop stolen"
    )
    code, _, err = cli(*as_("jo", "jo-browser"), "act", "R1.1", "comment", "still here")
    assert code == 0, err

    # The chair moves sam to lead the police: from then on sam appoints police officers.
    _refused_in_one_line(
        cli(
            *as_("sig"),
            "users",
            "change-role",
            "sam",
            "--role",
            "agency_lead",
            "--agency",
            "west-mercia-police",
            "--reason",
            "seconded",
        ),
        "rule: directory.change_role",
    )
    _refused_in_one_line(
        cli(*as_("admin"), "users", "change-role", "sig", "--role", "chair", "--reason", "coup"),
        "into the chair",
    )
    code, out, err = cli(
        *as_("chair"),
        "users",
        "change-role",
        "sam",
        "--role",
        "agency_lead",
        "--agency",
        "west-mercia-police",
        "--reason",
        "seconded",
    )
    assert code == 0 and "directory.user_role_changed" in out, err
    pat = _key(cli, tmp_path / "pat.key")
    _refused_in_one_line(
        cli(
            *as_("sam"),
            "users",
            "add",
            "kim",
            "--name",
            "Kim",
            "--role",
            "officer",
            "--agency",
            "council",
            "--key-file",
            str(tmp_path / "pat.key"),
        ),
        "officers of west-mercia-police only",
    )
    code, _, err = cli(
        *as_("sam"),
        "users",
        "add",
        "pat",
        "--name",
        "Pat",
        "--role",
        "officer",
        "--agency",
        "west-mercia-police",
        "--key-file",
        str(tmp_path / "pat.key"),
    )
    assert code == 0, err
    # ... and no longer signs for the council's action, nor deactivates its officer.
    _refused_in_one_line(cli(*as_("sam"), "act", "R1.1", "comment", "mine?"), "rule:")
    _refused_in_one_line(
        cli(*as_("sam"), "users", "deactivate", "jo", "--reason", "x"),
        "rule: directory.deactivate_user",
    )

    # Sam deactivates pat: every signing attempt of pat's is refused in one line.
    code, out, err = cli(*as_("sam"), "users", "deactivate", "pat", "--reason", "left the force")
    assert code == 0 and "directory.user_deactivated" in out, err
    _refused_in_one_line(
        cli(*as_("pat"), "act", "R1.2", "comment", "hello"), "pat was deactivated", "left the force"
    )
    code, out, _ = cli("users", "list")
    [row] = [line for line in out.splitlines() if line.startswith("pat ")]
    assert "deactivated" in row and pat not in row
    _key(cli, tmp_path / "pat2.key")
    _refused_in_one_line(
        cli(
            *as_("sam"),
            "keys",
            "add",
            "pat",
            "--new-key",
            str(tmp_path / "pat2.key"),
            "--reason",
            "new laptop",
        ),
        "reactivate them first",
    )
    # Reactivated by sam, who gives pat a new key: the old one stays revoked.
    code, _, err = cli(*as_("sam"), "users", "reactivate", "pat", "--reason", "rejoined")
    assert code == 0, err
    code, _, err = cli(
        *as_("sam"),
        "keys",
        "add",
        "pat",
        "--new-key",
        str(tmp_path / "pat2.key"),
        "--reason",
        "new laptop",
    )
    assert code == 0, err
    _refused_in_one_line(cli(*as_("pat"), "act", "R1.2", "comment", "old key"), "revoked")
    assert cli(*as_("pat", "pat2"), "act", "R1.2", "comment", "back")[0] == 0
    # Jo deactivates herself.
    code, _, err = cli(*as_("jo", "jo-browser"), "users", "deactivate", "jo", "--reason", "left")
    assert code == 0, err
    _refused_in_one_line(
        cli(*as_("jo", "jo-browser"), "act", "R1.1", "comment", "x"), "deactivated"
    )

    # The ledger's verification and the chair's audit accept it all.
    assert cli("checkpoint")[0] == 0
    code, out, err = cli("verify", "--workers", "1")
    assert code == 0 and "OK" in out, out + err
    bundle = tmp_path / "bundle"
    assert cli("export", "--out", str(bundle))[0] == 0
    code, out, err = cli(
        "verify-bundle",
        str(bundle),
        "--log-key",
        str(cli.config.log_vkey_path),
        "--trust",
        str(tmp_path / "trust.keys"),
        "--rules",
    )
    assert code == 0 and out.rstrip().endswith("OK"), out + err
    assert f"jo added key {browser} for themself (the browser on my desk)" in out
    assert "sam (agency_lead) DEACTIVATED pat" in out and "jo DEACTIVATED themself" in out
    assert "moved sam from agency_lead of council to agency_lead of west-mercia-police" in out
    keys = json.loads((bundle / "keys.json").read_text())
    assert keys["sam"]["agency"] == "west-mercia-police"
    assert keys["sam"]["role_changes"][0]["from_agency"] == "council"
    assert "deactivated_at_leaf" in keys["jo"] and "deactivated_at_leaf" not in keys["pat"]
    assert set(keys["jo"]["keys"]) == {laptop, browser}


@pytest.fixture
def site(
    config: LedgerConfig,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """A served ledger set up over HTTP: the chair, the council's lead sam, officer jo."""
    for name in list(os.environ):
        if name.startswith("INQUIRY_LEDGER_"):
            monkeypatch.delenv(name)
    env = {"INQUIRY_LEDGER_HOME": str(tmp_path / "server-home")}
    if config.database_url:
        env["INQUIRY_LEDGER_DATABASE_URL"] = config.database_url
    deployed = Deployment(
        cli_runner(capsys), monkeypatch, env, tmp_path / "client-keys", tmp_path / "client-home"
    )
    deployed.initialise("council.example/users")
    (tmp_path / "recs.csv").write_text(RECOMMENDATIONS)
    with running_server(env) as url:
        deployed.url = url
        deployed.adopt_charter("chair")
        deployed.token("chair")
        deployed.appoint("chair", "sig", "implementation_group")
        deployed.import_plan("sig", [tmp_path / "recs.csv"], expected=2)
        deployed.appoint("chair", "sam", "agency_lead", "council")
        deployed.appoint("sam", "jo", "officer", "council")
        yield deployed


def test_the_same_in_client_mode(site: Deployment) -> None:
    """Over HTTP (POST /v1/entries): a key added, a deactivation, and `users list`
    reading the directory through the API."""
    run = site.on_client
    browser = site.new_key("jo-browser")
    code, out, err = run(
        *site.as_user("jo"), "keys", "add", "--public-key", browser, "--reason", "the browser"
    )
    assert code == 0 and "directory.key_added" in out, err
    code, out, err = run(*site.as_user("sam"), "users", "deactivate", "jo", "--reason", "left")
    assert code == 0 and "directory.user_deactivated" in out, err
    code, out, err = run(*site.as_user("sam"), "users", "list")
    assert code == 0, err
    [row] = [line for line in out.splitlines() if line.startswith("jo ")]
    assert "deactivated" in row.split()
    code, _, err = run(*site.as_user("sam"), "users", "reactivate", "jo", "--reason", "back")
    assert code == 0, err
    code, out, err = site.on_server("verify", "--workers", "1")
    assert code == 0 and "OK" in out, err
