"""Key-compromise drill: a user's key is revoked and the log key is rotated.

After both: old entries and old checkpoints still verify; entries signed with the revoked
key are refused (CLI and HTTP); checkpoints after the rotation verify only with the new
key; a checkpoint made with the retired key after its retirement is refused everywhere;
a verifier or auditor that pinned only the old key is told what happened."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.application.tokens import TokenStore
from api.http.app import create_app
from domain import Status
from ledger.auditor import audit
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.note import NoteError, NoteSigner, VerifierKey
from ledger.auditor.rotation import LogKeys, Rotation
from ledger.bundle import export_bundle
from ledger.errors import WrongLogKey
from ledger.keys import KeyPair
from ledger.logkeys import home_keys, ledger_keys, rotation_notes
from ledger.storage import StoredCheckpoint
from ledger.verify import verify_ledger
from tests.support.world import ORIGIN, World, make_world


@pytest.fixture
def world(config: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("INQUIRY_LEDGER_SERVER", "INQUIRY_LEDGER_EVIDENCE_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    w = make_world(config, clock)
    w.add_action("R1.1")
    officer = w.client("council.officer")
    officer.change_status("R1.1", Status.IN_PROGRESS)
    officer.comment("R1.1", "before the drill")
    w.checkpoint()
    yield w
    w.ledger.close()


def _key_file(world: World, user: str, folder: Path) -> Path:
    path = folder / f"{user}.key"
    world.keys[user].write(path)
    return path


def test_a_revoked_user_key_is_refused_by_the_cli_and_http_and_old_entries_verify(
    world: World, cli: Any, tmp_path: Path
) -> None:
    officer_key = _key_file(world, "council.officer", tmp_path)
    admin_key = _key_file(world, "admin", tmp_path)
    lead_key = _key_file(world, "council.lead", tmp_path)
    key_id = world.keys["council.officer"].key_id
    # The operator's admin cannot revoke an officer's key (domain/charter.py): only the
    # officer or whoever the charter has appoint officers, the agency's lead.
    code, out, err = cli(
        "--as", "admin", "--key", str(admin_key),
        "keys", "revoke", "council.officer", key_id, "--reason", "laptop stolen",
    )  # fmt: skip
    assert code == 3 and "directory.revoke_key" in err and "Traceback" not in err
    code, out, err = cli(
        "--as", "council.lead", "--key", str(lead_key),
        "keys", "revoke", "council.officer", key_id, "--reason", "laptop stolen",
    )  # fmt: skip
    assert code == 0, err
    # CLI: the thief signs with the revoked key.
    code, out, err = cli(
        "--as", "council.officer", "--key", str(officer_key), "act", "R1.1", "comment", "thief"
    )  # fmt: skip
    assert code == 3 and "revoked" in err and "Traceback" not in err
    # HTTP: the same, with a valid token (tokens say who calls; keys say who signed).
    with TestClient(create_app(world.config, world.ledger)) as http:
        token = TokenStore(world.ledger.tables).create(
            "council.officer", timedelta(days=1), now=world.clock.now
        )
        entry = _comment_entry(world)
        body = entry.to_json()
        signature = body.pop("signature")
        response = http.post(
            "/v1/entries",
            json={"entries": [{"body": body, "signature": signature}]},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 403, response.text
    assert "revoked" in response.json()["detail"]
    # Everything signed before the revocation still verifies.
    code, out, err = cli("verify")
    assert code == 0 and "OK" in out, err


def _comment_entry(world: World) -> Any:
    from domain import Action, action_aggregate_id

    aggregate = action_aggregate_id("R1.1")
    return world.signer("council.officer").sign(
        Action.CommentAdded.TYPE,
        aggregate,
        world.ledger.version_of(aggregate) + 1,
        {"kind": "comment", "text": "thief over HTTP"},
    )


def test_the_log_key_rotation_drill(world: World, cli: Any, tmp_path: Path) -> None:
    home = world.config.home
    old_vkey = world.vkey
    old_key = KeyPair.read(world.config.log_key_path)
    saved = world.checkpoint().note  # a checkpoint an auditor kept before the rotation
    (tmp_path / "old.vkey").write_text(old_vkey.encode() + "\n")

    code, out, err = cli("log-key", "rotate")
    assert code == 0, err
    new_vkey = VerifierKey.parse((home / "log.vkey").read_text())
    assert new_vkey != old_vkey and new_vkey.name == old_vkey.name == ORIGIN
    assert old_vkey.encode() in (home / "log.vkey.history").read_text()
    assert KeyPair.read(world.config.log_key_path).public_key == new_vkey.public_key
    assert not list((home / "keys").glob("log.key.*"))  # the old private key is gone
    (rotation_note,) = rotation_notes(world.ledger.tables)
    rotation = Rotation.parse(rotation_note)
    assert (rotation.old, rotation.new) == (old_vkey, new_vkey)
    assert f"log key rotated at tree size {rotation.size}" in out

    # New entries, and a checkpoint under the new key only.
    world.client("council.officer").comment("R1.1", "after the rotation")
    after = world.checkpoint().note
    Checkpoint.verify(after, new_vkey)
    with pytest.raises(NoteError):
        Checkpoint.verify(after, old_vkey)
    # Old checkpoints still verify with the old key, and the whole log with the history.
    assert Checkpoint.verify(saved, old_vkey).size <= rotation.size
    code, out, err = cli("verify")
    assert code == 0 and "OK" in out, err

    # A verifier that pinned only the old key is told the key was rotated.
    code, out, err = cli("verify", "--log-key", str(tmp_path / "old.vkey"))
    assert code == 1 and "not pinned it" in err and "took over at size" in err
    both = tmp_path / "both.vkey"
    both.write_text(old_vkey.encode() + "\n" + new_vkey.encode() + "\n")
    code, out, err = cli("verify", "--log-key", str(both))
    assert code == 0, err

    # The standalone auditor: a bundle checked with the old key, then with both.
    bundle = tmp_path / "bundle"
    export_bundle(world.ledger, (home / "log.vkey").read_text(), bundle)
    assert (bundle / "log-key-rotations.jsonl").exists()
    report = audit(bundle, log_key=old_vkey.encode(), since=saved, trust=world.trust)
    assert not report.ok
    details = " ".join(p.detail for p in report.problems)
    assert f"the log key was rotated at size {rotation.size}" in details
    assert "you have not pinned it" in details
    report = audit(bundle, log_key=both.read_text(), since=saved, trust=world.trust)
    assert report.ok, report.problems
    code, out, err = cli(
        "verify-bundle", str(bundle), "--log-key", str(both), "--since", _save(tmp_path, saved),
        "--trust", _trust(world, tmp_path), "--report", str(tmp_path / "report"),
    )  # fmt: skip
    assert code == 0, err

    # The thief of the old key: the ledger refuses to sign with it...
    world.client("council.officer").comment("R1.1", "one more")
    with pytest.raises(WrongLogKey):
        world.ledger.sign_checkpoint(NoteSigner(ORIGIN, old_key))
    # ...and a checkpoint forged with it after its retirement is caught by every verifier.
    world.ledger.integrate()
    size = world.ledger.tree_size()
    forged = Checkpoint(ORIGIN, size, world.ledger.root_hash(size)).sign(
        NoteSigner(ORIGIN, old_key)
    )
    keys = ledger_keys(world.ledger.tables, home_keys(world.config))
    with pytest.raises(NoteError, match="retired at size"):
        keys.verify_checkpoint(forged)
    world.ledger.tables.insert_checkpoint(
        StoredCheckpoint(size, world.ledger.root_hash(size), forged, "x")
    )
    report_forged = verify_ledger(world.ledger, keys)
    assert any("retired at size" in p.detail for p in report_forged.problems)
    lines = (bundle / "checkpoints.jsonl").read_text()
    (bundle / "checkpoints.jsonl").write_text(
        lines + json.dumps({"tree_size": size, "note": forged}) + "\n"
    )
    report = audit(bundle, log_key=both.read_text(), trust=world.trust)
    assert any("after its retirement" in p.detail for p in report.problems)


def _save(folder: Path, note: str) -> str:
    path = folder / "saved.txt"
    path.write_text(note)
    return str(path)


def _trust(world: World, folder: Path) -> str:
    """The roots file an auditor pins (`verify-bundle --trust`): the chair's charter key."""
    path = folder / "trust.keys"
    path.write_text(world.trust)
    return str(path)


def test_a_rotated_ledger_backs_up_and_restores_with_its_key_history(
    world: World, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    assert cli("log-key", "rotate")[0] == 0
    world.client("council.officer").comment("R1.1", "after the rotation")
    world.checkpoint()
    monkeypatch.setenv("INQUIRY_LEDGER_BACKUP_PASSPHRASE", "correct horse battery staple")
    out = tmp_path / "rotated.backup"
    assert cli("backup", "--out", str(out))[0] == 0
    monkeypatch.setenv("INQUIRY_LEDGER_HOME", str(tmp_path / "restored"))
    monkeypatch.delenv("INQUIRY_LEDGER_DATABASE_URL", raising=False)
    from api.cli.main import main

    assert main(["restore", str(out)]) == 0, capsys.readouterr().err
    restored_home = tmp_path / "restored"
    assert (restored_home / "log.vkey.history").read_text() == (
        world.config.home / "log.vkey.history"
    ).read_text()


def test_rotation_statements_must_carry_both_signatures(world: World) -> None:
    old = NoteSigner(ORIGIN, KeyPair.read(world.config.log_key_path))
    new = NoteSigner(ORIGIN, KeyPair.generate())
    size = world.ledger.tree_size()
    body = Rotation.body(ORIGIN, size, world.ledger.root_hash(size), old.verifier, new.verifier)
    only_old = body + "\n" + old.signature_line(body)
    with pytest.raises(ValueError, match="no signature"):
        Rotation.parse(only_old)
    both = only_old + new.signature_line(body)
    assert Rotation.parse(both).new == new.verifier
    # A rotation never makes an unpinned key trusted.
    keys = LogKeys([old.verifier], [both])
    checkpoint = Checkpoint(ORIGIN, size + 1, b"\x00" * 32).sign(new)
    with pytest.raises(NoteError, match="not pinned"):
        keys.verify_checkpoint(checkpoint)


def test_a_bundle_exported_through_the_api_carries_the_rotation(
    world: World, cli: Any, tmp_path: Path
) -> None:
    from tests.support.server import running_server

    old_vkey = world.vkey.encode()
    assert cli("log-key", "rotate")[0] == 0
    new_vkey = (world.config.home / "log.vkey").read_text().strip()
    world.client("council.officer").comment("R1.1", "after the rotation")
    world.checkpoint()
    both = tmp_path / "both.vkey"
    both.write_text(f"{old_vkey}\n{new_vkey}\n")
    env = {"INQUIRY_LEDGER_HOME": str(world.config.home)}
    if world.config.database_url:
        env["INQUIRY_LEDGER_DATABASE_URL"] = world.config.database_url
    chair = TokenStore(world.ledger.tables).create("chair", timedelta(days=1))
    bundle = tmp_path / "remote.zip"
    with running_server(env) as url:
        code, _, err = cli(
            "--server", url, "--token", chair,
            "export", "--out", str(bundle), "--log-key", str(both),
        )  # fmt: skip
    assert code == 0, err
    report = audit(bundle, log_key=both.read_text(), trust=world.trust)
    assert report.ok, report.problems
    report = audit(bundle, log_key=old_vkey, trust=world.trust)
    assert any("the log key was rotated at size" in p.detail for p in report.problems)


def test_a_witness_follows_the_rotation_only_once_it_pins_the_new_key(
    world: World, cli: Any, tmp_path: Path
) -> None:
    from tests.support.server import running_server

    # The witness cosigns at its wall-clock time, and nothing after a witnessed checkpoint
    # may be dated before it (ledger/timestamps.py): bring the simulated clock up to now.
    world.clock.now = datetime.now(UTC) + timedelta(seconds=2)
    old = tmp_path / "old.vkey"
    old.write_text(world.vkey.encode() + "\n")
    key_file, state = tmp_path / "chair-witness.key", tmp_path / "witness-state"
    assert cli("witness", "new-key", "--name", "chair.example", "--out", str(key_file))[0] == 0
    env = {"INQUIRY_LEDGER_HOME": str(world.config.home)}
    if world.config.database_url:
        env["INQUIRY_LEDGER_DATABASE_URL"] = world.config.database_url
    token = TokenStore(world.ledger.tables).create("chair", timedelta(days=1))

    def cosign(pinned: Path) -> tuple[int, str, str]:
        return cli(
            "--server", url, "--token", token, "witness", "cosign", "--name", "chair.example",
            "--key", str(key_file), "--log-key", str(pinned), "--state", str(state),
        )  # fmt: skip

    with running_server(env) as url:
        assert cosign(old)[0] == 0  # before the rotation
        assert cli("log-key", "rotate")[0] == 0
        world.client("council.officer").comment("R1.1", "after the rotation")
        world.checkpoint()
        code, _, err = cosign(old)
        assert code == 1 and "not pinned" in err
        both = tmp_path / "both.vkey"
        both.write_text(old.read_text() + (world.config.home / "log.vkey").read_text())
        code, out, err = cosign(both)  # the old cosigned checkpoint still verifies
        assert code == 0, err
        assert f"at size {world.ledger.tree_size()}" in out
