"""End to end: a real uvicorn server on PostgreSQL with evidence in Ceph S3, driven by
the command line in client mode — signing stays on each user's side."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.cli.main import main
from tests.support.deployment import Deployment, cli_runner
from tests.support.sample_plan import ONE_ACTION as ACTIONS
from tests.support.sample_plan import RECOMMENDATIONS
from tests.support.server import running_server


@pytest.fixture
def server_env(
    postgres_url: str, ceph_s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    env = {
        "INQUIRY_LEDGER_HOME": str(tmp_path / "server-home"),
        "INQUIRY_LEDGER_DATABASE_URL": postgres_url,
        "INQUIRY_LEDGER_S3_BUCKET": f"e2e-{uuid.uuid4().hex[:12]}",
        "INQUIRY_LEDGER_S3_ENDPOINT_URL": ceph_s3.endpoint_url,
        "INQUIRY_LEDGER_S3_ACCESS_KEY_ID": ceph_s3.access_key,
        "INQUIRY_LEDGER_S3_SECRET_ACCESS_KEY": ceph_s3.secret_key,
        "INQUIRY_LEDGER_S3_RETENTION_DAYS": "1",
    }
    for name in list(os.environ):
        if name.startswith("INQUIRY_LEDGER_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def run(*args: str, capsys: Any) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def server(
    server_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, Any]]:
    """Set the ledger up as its people do (tests/support/deployment.py): the administrator
    inits it with their own key, on the server; then, over HTTP, the chair adopts the
    charter from their own machine and appoints the implementation group, which imports
    the plan, and the council's lead, who registers an officer. Each user makes their key
    on their own machine; only the public half travels."""
    site = Deployment(
        cli_runner(capsys), monkeypatch, server_env, tmp_path / "client-keys",
        tmp_path / "client-home",
    )  # fmt: skip
    site.initialise("council.example/e2e")
    site.token("admin")
    (tmp_path / "recs.csv").write_text(RECOMMENDATIONS)
    (tmp_path / "actions.csv").write_text(ACTIONS)
    with running_server(server_env) as url:
        # From here on the CLI acts as a remote client: no database, no S3 settings.
        for name in server_env:
            monkeypatch.delenv(name)
        monkeypatch.setenv("INQUIRY_LEDGER_HOME", str(site.client_home))
        site.url = url
        site.adopt_charter("kc")
        site.token("kc")
        site.appoint("kc", "sig", "implementation_group")
        site.import_plan("sig", [tmp_path / "recs.csv", tmp_path / "actions.csv"], expected=2)
        site.appoint("kc", "sam", "agency_lead", "council")
        site.appoint("sam", "jo", "officer", "council")
        yield {
            "url": url,
            "tokens": site.tokens,
            "keys": site.keys,
            "admin_key": site.key("admin"),
            "site": site,
        }


def as_user(server: dict[str, Any], user: str) -> list[str]:
    site: Deployment = server["site"]
    return site.as_user(user)


def test_officer_to_chair_over_http(server: dict[str, Any], tmp_path: Path, capsys: Any) -> None:
    jo, sam = as_user(server, "jo"), as_user(server, "sam")
    sig, chair = as_user(server, "sig"), as_user(server, "kc")
    assert run(*jo, "act", "R1.1", "start", capsys=capsys)[0] == 0
    evidence = tmp_path / "terms.pdf"
    evidence.write_bytes(b"%PDF-1.4\n% terms of reference\n" + os.urandom(20000))
    code, out, err = run(
        *jo,
        "evidence",
        "add",
        "R1.1",
        str(evidence),
        "--description",
        "Terms of reference",
        "--effective-date",
        "2023-02-01",
        capsys=capsys,
    )
    assert code == 0, err
    assert run(*jo, "act", "R1.1", "submit", capsys=capsys)[0] == 0
    code, _, err = run(*jo, "act", "R1.1", "sign-off", capsys=capsys)
    assert code == 3 and "rule: action.sign_off" in err  # an officer cannot sign off
    assert run(*sam, "act", "R1.1", "sign-off", "--statement", "Complete", capsys=capsys)[0] == 0
    assert run(*sig, "act", "R1.1", "sign-off", "--statement", "Accepted", capsys=capsys)[0] == 0
    assert run(*chair, "act", "R1.1", "sign-off", "--statement", "Verified", capsys=capsys)[0] == 0
    code, out, _ = run(*chair, "status", "--actions", capsys=capsys)
    assert code == 0 and "verified" in out and "R1.1" in out
    code, out, _ = run(*chair, "history", "R1.1", "--json", capsys=capsys)
    assert out.count('"type": "action.signed_off"') == 3
    copy = tmp_path / "copy.pdf"
    code, _, err = run(
        *chair,
        "evidence",
        "get",
        hashlib.sha256(evidence.read_bytes()).hexdigest(),
        "-o",
        str(copy),
        capsys=capsys,
    )
    assert code == 0, err
    assert copy.read_bytes() == evidence.read_bytes()
    code, _, err = run(*jo, "verify", capsys=capsys)
    assert code == 2 and "not in client mode" in err


def test_administration_over_http(server: dict[str, Any], tmp_path: Path, capsys: Any) -> None:
    admin_token = server["tokens"]["admin"]
    admin_key = server["admin_key"]
    admin = [
        "--server",
        server["url"],
        "--token",
        admin_token,
        "--as",
        "admin",
        "--key",
        str(admin_key),
    ]
    more = tmp_path / "more.csv"
    more.write_text(
        "action_id,recommendation,title,lead_agency,lead_officers,expected_outcome,"
        "evidence_required,due_date\n"
        "R2.1,2,Publish the report,West Mercia Police,Superintendent,Report out,Report,\n"
    )
    # The implementation group edits the plan, never the administrator (the charter).
    code, out, err = run(*admin, "import", str(more), capsys=capsys)
    assert code == 3 and "imported" not in out, err
    assert "may not add actions to the plan" in err and "[rule: action.add]" in err
    sig = as_user(server, "sig")
    code, out, err = run(*sig, "import", str(more), capsys=capsys)
    assert code == 0 and "imported 1 entries" in out, err
    code, _, err = run(*sig, "import", str(more), capsys=capsys)
    assert code == 2 and "already exists" in err
    code, out, _ = run(*admin, "users", "list", capsys=capsys)
    assert code == 0 and "kc" in out and "chair" in out
    code, out, _ = run(*admin, "checkpoint", capsys=capsys)
    assert code == 0 and out.startswith("council.example/e2e\n")
    jo = as_user(server, "jo")
    code, _, err = run(*jo, "checkpoint", capsys=capsys)
    assert code == 3 and "may not ask for a checkpoint" in err


def test_a_bad_token_is_refused_cleanly(server: dict[str, Any], capsys: Any) -> None:
    args = as_user(server, "jo")
    args[3] = "il_0000_forged"
    code, _, err = run(*args, "act", "R1.1", "start", capsys=capsys)
    assert code == 3 and "unauthenticated" in err
