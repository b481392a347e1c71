"""Export bundles and the standalone auditor: the tamper matrix of issue 5.

Each tampering is done to an exported bundle the way an operator who controls the server
could: edit, drop, insert or reorder lines, swap a blob, add entries signed with keys they
should not be able to use, or rewrite history and re-sign it with the log key. Each must
be caught by `ledger.auditor`, naming the entry concerned. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from domain import Action, action_aggregate_id
from ledger.auditor import audit
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.entry import SignedEntry
from ledger.auditor.merkle import CompactRange, leaf_hash
from ledger.bundle import ExportError, export_bundle, replay_rules
from ledger.keys import KeyPair
from ledger.signer import Signer
from tests.support.histories import agency_signed_off, review_notes
from tests.support.world import World

R1_1 = action_aggregate_id("R1.1")


@pytest.fixture
def world(world: World) -> World:
    """The shared world's R1.1 signed off by council on two pieces of evidence (two blobs
    in the bundle), then three review notes; a checkpoint."""
    agency_signed_off(world, b"minutes of the board, March", b"training register")
    review_notes(world, 3)
    world.checkpoint()
    return world


def _export(world: World, out: Path, *, evidence: bool = True) -> Path:
    store = world.ledger.evidence
    blobs = store.read if evidence and store is not None else None  # type: ignore[attr-defined]
    export_bundle(world.ledger, world.vkey.encode(), out, blobs=blobs)
    return out


@pytest.fixture
def bundle(world: World, tmp_path: Path) -> Path:
    return _export(world, tmp_path / "bundle")


def _lines(bundle: Path) -> list[bytes]:
    return (bundle / "entries.jsonl").read_bytes().splitlines()


def _write_lines(bundle: Path, lines: list[bytes]) -> None:
    (bundle / "entries.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))


def _index(bundle: Path, type_name: str) -> int:
    return next(i for i, line in enumerate(_lines(bundle)) if type_name.encode() in line)


def _resign(world: World, bundle: Path, *, keep_old: bool = True) -> str:
    """What an operator holding the log key can do: sign a checkpoint over whatever the
    entries now are, and make bundle.json agree."""
    tree = CompactRange()
    for line in _lines(bundle):
        tree.append(leaf_hash(line))
    note = Checkpoint(world.ledger.origin(), tree.size, tree.root()).sign(world.log_signer)
    records = (bundle / "checkpoints.jsonl").read_text() if keep_old else ""
    records += json.dumps({"tree_size": tree.size, "note": note}) + "\n"
    (bundle / "checkpoints.jsonl").write_text(records)
    meta = json.loads((bundle / "bundle.json").read_text())
    meta["tree_size"] = tree.size
    (bundle / "bundle.json").write_text(json.dumps(meta))
    return note


def _append_crafted(world: World, bundle: Path, entry: Any) -> int:
    lines = _lines(bundle)
    _write_lines(bundle, [*lines, entry.entry_bytes()])
    _resign(world, bundle)
    return len(lines)


def _problems(report: Any) -> dict[int | None, set[str]]:
    found: dict[int | None, set[str]] = {}
    for problem in report.problems:
        found.setdefault(problem.leaf_index, set()).add(problem.check)
    return found


def _pinned(world: World) -> str:
    return world.vkey.encode()


# -- an honest bundle --------------------------------------------------------------------


def test_an_honest_bundle_verifies_with_evidence_and_rules(world: World, bundle: Path) -> None:
    report = audit(bundle, log_key=_pinned(world), trust=world.trust, evidence=True)
    replay_rules(bundle, report)
    assert report.ok, report.problems
    assert report.entries == world.ledger.tree_size() == report.signatures_verified
    assert report.authority_checked == report.entries
    assert report.evidence_listed == report.evidence_rehashed == 2
    assert report.latest_checkpoint == report.entries
    assert any("lifecycle rules" in check for check in report.checks)
    assert (bundle / "README.md").read_text().startswith("# Audit bundle")
    keys = json.loads((bundle / "keys.json").read_text())
    assert keys["council.officer"]["role"] == "officer"


def test_signing_bytes_cut_from_the_line_equal_the_canonical_body(bundle: Path) -> None:
    from ledger.auditor.canonical import canonical_bytes, parse_json
    from ledger.auditor.entry import SignedEntry, signing_bytes

    for line in _lines(bundle):
        entry = parse_json(line)
        signature = entry.pop("signature")
        assert signing_bytes(line, signature) == canonical_bytes(entry)
        assert (
            signing_bytes(line, signature)
            == SignedEntry.from_entry_bytes(line).body.signing_bytes()
        )


def test_a_zip_bundle_verifies_the_same(world: World, tmp_path: Path) -> None:
    path = _export(world, tmp_path / "bundle.zip")
    assert zipfile.is_zipfile(path)
    report = audit(path, log_key=_pinned(world), trust=world.trust, evidence=True)
    assert report.ok, report.problems
    assert report.evidence_rehashed == 2


def test_export_refuses_a_log_not_covered_by_a_checkpoint(world: World, tmp_path: Path) -> None:
    world.client("sig").comment("R1.1", "after the checkpoint")
    with pytest.raises(ExportError, match="run: inquiry-ledger checkpoint"):
        _export(world, tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_export_refuses_to_overwrite(world: World, bundle: Path) -> None:
    with pytest.raises(ExportError, match="already exists"):
        _export(world, bundle)


def test_an_unpinned_log_key_is_reported_as_such(bundle: Path) -> None:
    """Nothing wrong is found, but nothing pinned: never a bare OK (issue 13)."""
    report = audit(bundle)
    assert not report.problems and not report.ok
    assert "not pinned" in report.log_key_source
    assert len(report.unpinned) == 2


def test_a_swapped_log_key_fails_against_the_pinned_one(world: World, bundle: Path) -> None:
    meta = json.loads((bundle / "bundle.json").read_text())
    from ledger.auditor.note import NoteSigner

    impostor = NoteSigner(world.ledger.origin(), KeyPair.generate())
    meta["log_key"] = impostor.verifier.encode()
    (bundle / "bundle.json").write_text(json.dumps(meta))
    report = audit(bundle, log_key=_pinned(world), trust=world.trust)
    assert "log key" in _problems(report)[None]


# -- the tamper matrix ---------------------------------------------------------------------


def test_an_altered_payload_is_caught(world: World, bundle: Path) -> None:
    lines = _lines(bundle)
    position = _index(bundle, Action.SignedOff.TYPE)
    lines[position] = lines[position].replace(b"complete", b"c0mplete")
    _write_lines(bundle, lines)
    report = audit(bundle, log_key=_pinned(world), trust=world.trust)
    assert report.problems[0].leaf_index == position
    assert "bad signature" in _problems(report)[position]
    assert "checkpoint mismatch" in {p.check for p in report.problems}


def test_an_altered_timestamp_is_caught(world: World, bundle: Path) -> None:
    lines = _lines(bundle)
    position = _index(bundle, Action.EvidenceAttached.TYPE)
    stamp = lines[position].split(b'"timestamp":"')[1][:27]
    lines[position] = lines[position].replace(stamp, b"2022-12-25T00:00:00.000000Z")
    _write_lines(bundle, lines)
    found = _problems(audit(bundle, log_key=_pinned(world), trust=world.trust))
    assert "bad signature" in found[position]


def test_a_deleted_entry_is_caught(world: World, bundle: Path) -> None:
    lines = _lines(bundle)
    position = _index(bundle, Action.SignedOff.TYPE)
    _write_lines(bundle, lines[:position] + lines[position + 1 :])
    report = audit(bundle, log_key=_pinned(world), trust=world.trust)
    found = _problems(report)
    assert "version sequence" in found[position]  # the next entry of R1.1 is out of step
    assert any("coverage" in checks for checks in found.values())


def test_an_inserted_entry_is_caught(world: World, bundle: Path) -> None:
    lines = _lines(bundle)
    position = _index(bundle, Action.SignedOff.TYPE)
    _write_lines(bundle, [*lines[:position], lines[position - 1], *lines[position:]])
    found = _problems(audit(bundle, log_key=_pinned(world), trust=world.trust))
    assert "version sequence" in found[position]


def test_reordered_entries_are_caught(world: World, bundle: Path) -> None:
    lines = _lines(bundle)
    a = _index(bundle, Action.SignedOff.TYPE)
    lines[a], lines[a + 1] = lines[a + 1], lines[a]
    _write_lines(bundle, lines)
    found = _problems(audit(bundle, log_key=_pinned(world), trust=world.trust))
    assert "version sequence" in found[a]


def test_a_replaced_evidence_blob_is_caught(world: World, bundle: Path) -> None:
    blob = sorted((bundle / "evidence" / "blobs").iterdir())[0]
    blob.write_bytes(b"a different file with the same name")
    report = audit(bundle, log_key=_pinned(world), trust=world.trust, evidence=True)
    [problem] = report.problems
    assert problem.check == "evidence altered" and blob.name in problem.detail
    assert problem.leaf_index is not None
    assert blob.name.encode() in _lines(bundle)[problem.leaf_index]
    assert audit(
        bundle, log_key=_pinned(world), trust=world.trust
    ).ok  # without --evidence, blobs are not read


def test_a_missing_blob_and_an_unlisted_attachment_are_caught(world: World, bundle: Path) -> None:
    blobs = sorted((bundle / "evidence" / "blobs").iterdir())
    blobs[0].unlink()
    manifest = (bundle / "evidence" / "manifest.jsonl").read_text().splitlines()
    (bundle / "evidence" / "manifest.jsonl").write_text(
        "\n".join(line for line in manifest if blobs[1].name not in line) + "\n"
    )
    checks = {
        p.check
        for p in audit(bundle, log_key=_pinned(world), trust=world.trust, evidence=True).problems
    }
    assert checks == {"evidence missing", "evidence manifest"}


def test_a_signature_forged_with_another_users_key_is_caught(world: World, bundle: Path) -> None:
    # The officer signs as the agency lead: once naming the lead's key, once their own.
    officer_key = world.keys["council.officer"]
    lead_key_id = world.keys["council.lead"].key_id
    version = world.ledger.version_of(R1_1) + 1
    payload = {"kind": "comment", "text": "signed off, honestly"}
    forged = Signer("council.lead", officer_key, world.ledger.origin(), clock=world.clock).sign(
        Action.CommentAdded.TYPE, R1_1, version, payload
    )
    body = dataclasses.replace(forged.body, key_id=lead_key_id)
    forged = SignedEntry(body, officer_key.sign(body.signing_bytes()))
    position = _append_crafted(world, bundle, forged)
    found = _problems(audit(bundle, log_key=_pinned(world), trust=world.trust))
    assert found[position] == {"bad signature"}

    shutil.rmtree(bundle)
    _export(world, bundle)
    claimed = Signer("council.lead", officer_key, world.ledger.origin(), clock=world.clock).sign(
        Action.CommentAdded.TYPE, R1_1, version, payload
    )
    position = _append_crafted(world, bundle, claimed)
    found = _problems(audit(bundle, log_key=_pinned(world), trust=world.trust))
    assert found[position] == {"unknown signer"}


def test_a_revoked_key_used_after_its_revocation_is_caught(world: World, bundle: Path) -> None:
    old = world.keys["council.officer"]
    world.client("council.lead").revoke_key("council.officer", old.key_id, "laptop stolen")
    world.checkpoint()
    shutil.rmtree(bundle)
    _export(world, bundle)
    revoked_at = len(_lines(bundle)) - 1
    late = Signer("council.officer", old, world.ledger.origin(), clock=world.clock).sign(
        Action.CommentAdded.TYPE,
        R1_1,
        world.ledger.version_of(R1_1) + 1,
        {"kind": "comment", "text": "written with the stolen laptop"},
    )
    position = _append_crafted(world, bundle, late)
    report = audit(bundle, log_key=_pinned(world), trust=world.trust)
    [problem] = report.problems
    assert (problem.leaf_index, problem.check) == (position, "revoked key")
    assert f"revoked at leaf {revoked_at}" in problem.detail


def test_an_officer_acting_on_another_agencys_action_is_caught(world: World, bundle: Path) -> None:
    entry = world.signer("police.officer").sign(
        Action.CommentAdded.TYPE,
        R1_1,
        world.ledger.version_of(R1_1) + 1,
        {"kind": "comment", "text": "police writing on a council action"},
    )
    position = _append_crafted(world, bundle, entry)
    [problem] = audit(bundle, log_key=_pinned(world), trust=world.trust).problems
    assert (problem.leaf_index, problem.check) == (position, "not authorised")
    assert "led by council" in problem.detail


def test_scrutiny_signing_anything_is_caught(world: World, bundle: Path) -> None:
    entry = world.signer("scrutiny").sign(
        Action.CommentAdded.TYPE,
        R1_1,
        world.ledger.version_of(R1_1) + 1,
        {"kind": "comment", "text": "scrutiny only reads"},
    )
    position = _append_crafted(world, bundle, entry)
    [problem] = audit(bundle, log_key=_pinned(world), trust=world.trust).problems
    assert (problem.leaf_index, problem.check) == (position, "not authorised")


def test_a_rewritten_history_re_signed_with_the_log_key_is_caught_by_the_saved_checkpoint(
    world: World, bundle: Path, tmp_path: Path
) -> None:
    saved = world.ledger.tables.latest_checkpoint()
    assert saved is not None
    # The operator drops the last review note (a real entry, signed by the group) and puts
    # a later, milder one from the same member in its place, then re-signs every
    # checkpoint with the log key: the bundle is self-consistent...
    lines = _lines(bundle)
    milder = world.signer("sig").sign(
        Action.CommentAdded.TYPE,
        R1_1,
        world.ledger.version_of(R1_1),
        {"kind": "comment", "text": "no concerns"},
    )
    _write_lines(bundle, [*lines[:-1], milder.entry_bytes()])
    (bundle / "checkpoints.jsonl").write_text("")
    _resign(world, bundle, keep_old=False)
    assert audit(bundle, log_key=_pinned(world), trust=world.trust).ok
    # ...but not consistent with the checkpoint the chair saved on the last visit.
    report = audit(bundle, log_key=_pinned(world), trust=world.trust, since=saved.note)
    [problem] = report.problems
    assert (problem.leaf_index, problem.check) == (len(lines) - 1, "history rewritten")
    assert report.since_checkpoint == saved.tree_size


def test_an_honest_later_bundle_is_consistent_with_the_saved_checkpoint(
    world: World, tmp_path: Path
) -> None:
    saved = world.checkpoint()
    world.client("chair").comment("R1.1", "visit two")
    world.checkpoint()
    later = _export(world, tmp_path / "later")
    report = audit(later, log_key=_pinned(world), trust=world.trust, since=saved.note)
    assert report.ok, report.problems
    assert report.since_checkpoint == saved.tree_size < report.entries


def test_a_split_view_is_reported(world: World, bundle: Path) -> None:
    size = len(_lines(bundle))
    other = Checkpoint(world.ledger.origin(), size, b"\x07" * 32).sign(world.log_signer)
    with (bundle / "checkpoints.jsonl").open("a") as handle:
        handle.write(json.dumps({"tree_size": size, "note": other}) + "\n")
    checks = {p.check for p in audit(bundle, log_key=_pinned(world), trust=world.trust).problems}
    assert "split view" in checks


def test_a_lifecycle_rule_broken_is_caught_by_the_rules_replay(world: World, bundle: Path) -> None:
    # The chair may sign, but not verify an action the group has not accepted yet.
    entry = world.signer("chair").sign(
        Action.SignedOff.TYPE,
        R1_1,
        world.ledger.version_of(R1_1) + 1,
        {"level": "chair", "evidence": [], "statement": "verified"},
    )
    position = _append_crafted(world, bundle, entry)
    report = audit(bundle, log_key=_pinned(world), trust=world.trust)
    assert report.ok  # the chair may sign chair sign-offs: authority holds
    replay_rules(bundle, report)
    [problem] = report.problems
    assert (problem.leaf_index, problem.check) == (position, "rule broken")


def test_the_cli_exports_and_verifies_and_writes_reports(
    world: World, cli: Any, tmp_path: Path
) -> None:
    out = tmp_path / "cli-bundle"
    code, stdout, _ = cli("export", "--out", str(out), "--evidence")
    assert code == 0 and "2 blobs" in stdout
    vkey = tmp_path / "pinned.vkey"
    vkey.write_text(world.vkey.encode())
    trust = tmp_path / "trust.keys"
    trust.write_text(world.trust)
    reports = tmp_path / "reports"
    code, stdout, _ = cli(
        "verify-bundle", str(out), "--log-key", str(vkey), "--trust", str(trust),
        "--evidence", "--rules",
        "--report", str(reports),
    )  # fmt: skip
    assert code == 0 and stdout.rstrip().endswith("OK")
    saved = json.loads((reports / "verification-report.json").read_text())
    assert saved["ok"] and saved["counts"]["evidence_rehashed"] == 2
    assert "VERIFIED" in (reports / "verification-report.html").read_text()

    lines = _lines(out)
    lines[3] = lines[3].replace(b'"version":', b'"version": ')
    _write_lines(out, lines)
    code, stdout, stderr = cli("verify-bundle", str(out), "--report", str(reports))
    assert code == 1 and "FAILED" in stdout
    assert "entry 3: malformed entry" in stderr
    assert "<td>3</td>" in (reports / "verification-report.html").read_text()
    code, _, stderr = cli("verify-bundle", str(tmp_path / "nowhere"))
    assert code == 2 and "no bundle" in stderr
