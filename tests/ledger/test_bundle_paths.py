"""A folder bundle is the operator's: the auditor reads nothing outside it because the
bundle names it, by a manifest `sha256` like `../../secret` or a link out (issue 17)."""

from __future__ import annotations

import json
from pathlib import Path

from ledger.auditor import audit
from ledger.auditor.bundle import Bundle
from tests.support.bundles import export
from tests.support.world import World


def _outside(tmp_path: Path) -> Path:
    secret = tmp_path / "chairs-own-file.txt"
    secret.write_text("not the operator's to read")
    return secret


def test_a_manifest_sha256_that_is_a_path_is_a_problem_and_is_not_read(
    world: World, tmp_path: Path
) -> None:
    world.evidence("R1.1", b"minutes")
    world.checkpoint()
    bundle = export(world, tmp_path / "bundle")
    secret = _outside(tmp_path)
    escape = "../../" + secret.name
    with (bundle / "evidence" / "manifest.jsonl").open("a") as manifest:
        manifest.write(json.dumps({"sha256": escape, "size": 26}) + "\n")
    report = audit(bundle, log_key=world.vkey.encode(), trust=world.trust, evidence=True)
    assert not report.ok
    details = [p.detail for p in report.problems if p.check == "evidence manifest"]
    assert any("is not a SHA-256" in d for d in details), report.problems
    assert not any(
        "chairs-own-file" in p.detail and "hashes to" in p.detail for p in report.problems
    )


def test_a_folder_bundle_opens_no_name_outside_itself(tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    (folder / "evidence" / "blobs").mkdir(parents=True)
    secret = _outside(tmp_path)
    (folder / "evidence" / "blobs" / "link").symlink_to(secret)
    reader = Bundle(folder)
    for name in ("../chairs-own-file.txt", "evidence/blobs/link", "/etc/passwd"):
        assert not reader.exists(name), name
    assert reader.exists("evidence") is False  # a folder is not a member either
