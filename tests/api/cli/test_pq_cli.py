"""The post-quantum log key from the command line: `init` makes it, `log-key add-pq` adds it
to a ledger made without it (once), and `verify-bundle --pq-log-key` requires its
signature on the bundle's checkpoints (ledger/pqkeys.py, ledger/auditor/pqkey.py)."""

from __future__ import annotations

import functools
import json
import stat
from pathlib import Path
from typing import Any

import pytest

import api.cli.setup as cli_setup
from api.application.setup import initialise
from ledger.auditor.mldsa import PQSigner, PQVerifierKey, open_pq_note
from ledger.keys import PQKeyPair
from ledger.pqkeys import pq_binding, pq_key_path, pq_vkey_path
from ledger.service import Ledger

ORIGIN = "council.example/inquiry"
SQLITE = pytest.mark.parametrize("config", ["sqlite"], indirect=True)


def _init(cli: Any, tmp_path: Path) -> str:
    admin_key = tmp_path / "admin.key"
    assert cli("keys", "new", "--out", str(admin_key))[0] == 0
    code, out, err = cli("init", "--origin", ORIGIN, "--admin-key", str(admin_key))
    assert code == 0, err
    return str(out)


def _export_and_verify(cli: Any, tmp_path: Path, *extra: str) -> tuple[int, str, str]:
    config = cli.config
    assert cli("checkpoint")[0] == 0
    bundle = tmp_path / "bundle.zip"
    if not bundle.exists():
        code, _, err = cli("export", "--out", str(bundle))
        assert code == 0, err
    result: tuple[int, str, str] = cli(
        "verify-bundle", str(bundle), "--log-key", str(config.log_vkey_path),
        "--report", str(tmp_path / "report"), *extra,
    )  # fmt: skip
    return result


@SQLITE
def test_init_makes_the_pq_key_and_verify_bundle_checks_it(cli: Any, tmp_path: Path) -> None:
    out = _init(cli, tmp_path)
    config = cli.config
    key_path, vkey_path = pq_key_path(config), pq_vkey_path(config)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    pq = PQVerifierKey.parse(vkey_path.read_text().strip())
    assert f"post-quantum (ML-DSA-44) log verifier key {pq.label}: {vkey_path}" in out
    assert "PRIVATE KEY" not in out and key_path.read_text() not in out
    with Ledger(config) as ledger:
        binding = pq_binding(ledger.tables)
        assert binding is not None and binding.pq == pq
        (first,) = ledger.tables.checkpoints()
        assert open_pq_note(first.note, pq)

    # pinned: checked, and it passes
    code, stdout, stderr = _export_and_verify(cli, tmp_path, "--pq-log-key", str(vkey_path))
    assert code == 1, stderr  # --trust not given: never a bare OK ...
    assert "PROBLEM" not in stderr  # ... but nothing is wrong
    assert "post-quantum log key (ML-DSA-44): pinned by the auditor" in stdout
    saved = json.loads((tmp_path / "report" / "verification-report.json").read_text())
    assert saved["counts"]["pq_checkpoints_verified"] == 1
    assert saved["pq_log_key"].startswith(pq.label)

    # not pinned: the report says it was not checked
    code, stdout, _ = _export_and_verify(cli, tmp_path)
    assert "post-quantum log key (ML-DSA-44): not checked" in stdout

    # a wrong key: a finding naming the checkpoint, exit 1
    wrong = tmp_path / "wrong-pq.vkey"
    other = PQSigner(ORIGIN, PQKeyPair.generate()).verifier
    wrong.write_text(other.encode() + "\n")
    code, _, stderr = _export_and_verify(cli, tmp_path, "--pq-log-key", str(wrong))
    assert code == 1
    assert (
        f"PROBLEM post-quantum signature: checkpoint 1: it carries no ML-DSA-44 signature by "
        f"{other.label}"
    ) in stderr

    # not a key file at all
    bad = tmp_path / "bad.vkey"
    bad.write_text("nonsense\n")
    code, _, stderr = _export_and_verify(cli, tmp_path, "--pq-log-key", str(bad))
    assert code == 1 and "--pq-log-key" in stderr


@SQLITE
def test_log_key_add_pq_on_an_existing_ledger(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_setup, "initialise", functools.partial(initialise, post_quantum=False))
    out = _init(cli, tmp_path)
    config = cli.config
    assert not pq_key_path(config).exists()
    assert cli("checkpoint")[0] == 0

    code, out, err = cli("log-key", "add-pq")
    assert code == 0, err
    pq = PQVerifierKey.parse(pq_vkey_path(config).read_text().strip())
    assert f"post-quantum (ML-DSA-44) log key {pq.label} added" in out
    assert stat.S_IMODE(pq_key_path(config).stat().st_mode) == 0o600
    assert "PRIVATE KEY" not in out

    code, out, _ = cli("log-key", "add-pq")  # once per ledger: again, nothing changes
    assert code == 0 and f"already has its post-quantum log key {pq.label}" in out
    saved = pq_key_path(config).read_bytes()
    pq_key_path(config).unlink()  # and it is never replaced by another
    code, _, err = cli("log-key", "add-pq")
    assert code != 0 and "already has a post-quantum log key" in err
    assert not pq_key_path(config).exists()
    pq_key_path(config).write_bytes(saved)
    pq_key_path(config).chmod(0o600)

    code, out, _ = cli("checkpoint")
    assert code == 0 and out.count("\n\u2014 ") == 1  # nothing new: the old one, Ed25519 only
    assert cli("verify", "--workers", "1")[0] == 0
    code, stdout, stderr = _export_and_verify(
        cli, tmp_path, "--pq-log-key", str(pq_vkey_path(config))
    )
    assert "PROBLEM" not in stderr, stderr
    assert "predate it" in stdout
