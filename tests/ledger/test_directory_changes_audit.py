"""The standalone auditor over the directory's later changes (issue 14): a key added beside
another, a role or agency changed, a user deactivated and reactivated.

An honest ledger using them passes `verify` and `verify-bundle --trust` (keys.json shows
them); entries the operator writes straight into the log (the domain would refuse them)
fail the audit: signed by a deactivated user, by a user in a role they left, by a lead
moving another agency's officer, or a key given to a deactivated user.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from api.application.commands import Client
from domain import DIRECTORY_ID, Directory, Status, action_aggregate_id
from domain.directory import MAX_ACTIVE_KEYS
from ledger.auditor import audit
from ledger.auditor.ed25519 import encode_public_key
from ledger.auditor.findings import AuditReport
from ledger.auditor.signers import MAX_ACTIVE_KEYS as AUDITOR_MAX_ACTIVE_KEYS
from ledger.bundle import export_bundle
from ledger.keys import KeyPair
from ledger.signer import Signer
from ledger.verify import verify_ledger
from tests.support.bundles import append_lines
from tests.support.world import ORIGIN, World

R1_1 = action_aggregate_id("R1.1")


def test_both_cap_a_users_active_keys_alike() -> None:
    assert MAX_ACTIVE_KEYS == AUDITOR_MAX_ACTIVE_KEYS


@pytest.fixture
def changed(world: World) -> World:
    """The shared world (R1.1 for the council), then: the council's officer adds a second
    key and signs with it and with the first; the chair moves the implementation group's
    member "sig" to scrutiny (after sig added R1.1) and a lead to the police; the police's
    lead deactivates their officer, reactivates them and gives them a new key; the council's
    officer deactivates themself. A checkpoint."""
    second = KeyPair.generate()
    officer = world.client("council.officer")
    officer.add_key("council.officer", second.public_key, "the browser")
    officer.change_status("R1.1", Status.IN_PROGRESS)
    world.keys["council.officer#2"] = second
    browser = Client(world.ledger, Signer("council.officer", second, ORIGIN, clock=world.clock))
    browser.comment("R1.1", "from the browser")
    chair = world.client("chair")
    chair.change_role("sig", "scrutiny", None, "joined the scrutiny panel")
    chair.change_role("police.lead", "agency_lead", "council", "moved to the council")
    world.client("police.lead").comment("R1.1", "now for the council")
    # The police have no lead now; the chair appoints one, who manages the police's officer.
    world.keys["police.lead2"] = KeyPair.generate()
    chair.register_user(
        "police.lead2", "Lead", "agency_lead", "police", world.keys["police.lead2"].public_key
    )
    lead = world.client("police.lead2")
    lead.deactivate_user("police.officer", "left the force")
    lead.reactivate_user("police.officer", "rejoined")
    world.keys["police.officer#old"] = world.keys["police.officer"]
    world.keys["police.officer"] = KeyPair.generate()
    lead.add_key("police.officer", world.keys["police.officer"].public_key, "a new laptop")
    browser.deactivate_user("council.officer", "left")
    world.checkpoint()
    return world


def _export(world: World, out: Path) -> Path:
    export_bundle(world.ledger, world.vkey.encode(), out)
    return out


def _audit(world: World, bundle: Path) -> AuditReport:
    return audit(bundle, log_key=world.vkey.encode(), trust=world.trust)


def _append_and_resign(world: World, bundle: Path, lines: list[bytes]) -> None:
    """What the operator can do with the database and the log key: add entries the ledger
    would refuse, sign a checkpoint over them (tests/support/bundles.py)."""
    append_lines(world, bundle, *lines)


def _signed(world: World, user: str, key: str, kind: str, aggregate: Any, payload: Any) -> bytes:
    version = world.ledger.version_of(aggregate) + 1
    signer = Signer(user, world.keys[key], ORIGIN, clock=world.clock)
    return signer.sign(kind, aggregate, version, payload).entry_bytes()


def test_an_honest_ledger_with_these_changes_verifies(changed: World, tmp_path: Path) -> None:
    assert verify_ledger(changed.ledger, changed.vkey, workers=1).ok
    bundle = _export(changed, tmp_path / "b")
    report = _audit(changed, bundle)
    assert report.ok, report.problems
    said = "\n".join(report.directory_changes)
    assert "council.officer added key" in said and "for themself (the browser)" in said
    assert "chair (chair) moved sig from implementation_group to scrutiny" in said
    assert "police.lead2 (agency_lead) DEACTIVATED police.officer" in said
    assert "police.lead2 (agency_lead) reactivated police.officer (rejoined)" in said
    assert "council.officer DEACTIVATED themself" in said
    keys = json.loads((bundle / "keys.json").read_text())
    assert (keys["sig"]["role"], keys["sig"]["role_changes"][0]["from_role"]) == (
        "scrutiny",
        "implementation_group",
    )
    assert keys["police.lead"]["agency"] == "council"
    assert "deactivated_at_leaf" in keys["council.officer"]
    assert all("revoked_at_leaf" in k for k in keys["council.officer"]["keys"].values())
    police = keys["police.officer"]
    assert "deactivated_at_leaf" not in police and "reactivated_at_leaf" in police
    by_leaf = sorted(police["keys"].values(), key=lambda k: k["registered_at_leaf"])
    assert [("revoked_at_leaf" in k) for k in by_leaf] == [True, False]


def test_keys_json_must_show_the_deactivation(changed: World, tmp_path: Path) -> None:
    bundle = _export(changed, tmp_path / "b")
    keys = json.loads((bundle / "keys.json").read_text())
    del keys["council.officer"]["deactivated_at_leaf"]
    keys["sig"]["role"] = "implementation_group"
    (bundle / "keys.json").write_text(json.dumps(keys))
    report = _audit(changed, bundle)
    found = [p.detail for p in report.problems if p.check == "keys.json"]
    assert any("deactivated_at_leaf is absent" in d for d in found), found
    assert any("'sig': role" in d for d in found), found


def test_a_deactivated_users_signature_fails_the_audit(changed: World, tmp_path: Path) -> None:
    bundle = _export(changed, tmp_path / "b")
    comment = {"kind": "comment", "text": "signed after I left"}
    line = _signed(changed, "council.officer", "council.officer#2", "action.comment_added",
                   R1_1, comment)  # fmt: skip
    _append_and_resign(changed, bundle, [line])
    report = _audit(changed, bundle)
    assert not report.ok
    [problem] = report.problems
    assert problem.check == "deactivated user" and "deactivated at leaf" in problem.detail


def test_an_entry_signed_in_a_role_left_fails_the_audit(changed: World, tmp_path: Path) -> None:
    """sig added R1.1 as the implementation group (still valid); as scrutiny now, an
    amendment of theirs is not authorised."""
    bundle = _export(changed, tmp_path / "b")
    amend = {"changes": {"title": "Mine now"}, "reason": "as I please"}
    _append_and_resign(
        changed, bundle, [_signed(changed, "sig", "sig", "action.amended", R1_1, amend)]
    )
    [problem] = _audit(changed, bundle).problems
    assert problem.check == "not authorised" and "sig (scrutiny)" in problem.detail


def test_a_lead_moving_another_agencys_officer_fails_the_audit(
    world: World, tmp_path: Path
) -> None:
    world.checkpoint()
    bundle = _export(world, tmp_path / "b")
    move = {"user_id": "police.officer", "role": "officer", "agency": "council", "reason": "mine"}
    line = _signed(world, "council.lead", "council.lead", Directory.UserRoleChanged.TYPE,
                   DIRECTORY_ID, move)  # fmt: skip
    _append_and_resign(world, bundle, [line])
    [problem] = _audit(world, bundle).problems
    assert problem.check == "not authorised" and "for council and police" in problem.detail


@pytest.mark.parametrize(
    ("by", "user", "role"),
    [("admin", "sig", "chair"), ("admin", "scrutiny", "implementation_group"),
     ("chair", "sig", "admin")],
)  # fmt: skip
def test_no_one_moves_anyone_into_the_chair_or_administration(
    world: World, tmp_path: Path, by: str, user: str, role: str
) -> None:
    world.checkpoint()
    bundle = _export(world, tmp_path / "b")
    move = {"user_id": user, "role": role, "agency": None, "reason": "a promotion"}
    line = _signed(world, by, by, Directory.UserRoleChanged.TYPE, DIRECTORY_ID, move)
    _append_and_resign(world, bundle, [line])
    [problem] = _audit(world, bundle).problems
    assert problem.check == "not authorised", problem


def test_a_key_for_a_deactivated_user_is_not_applied(changed: World, tmp_path: Path) -> None:
    """The council's lead (the officer's appointer) gives the deactivated officer a key,
    and the operator writes both that and an entry signed with it into the log."""
    bundle = _export(changed, tmp_path / "b")
    sneaked = KeyPair.generate()
    changed.keys["sneaked"] = sneaked
    payload = {"user_id": "council.officer", "public_key": encode_public_key(sneaked.public_key),
               "reason": "back door"}  # fmt: skip
    add = _signed(changed, "council.lead", "council.lead", Directory.KeyAdded.TYPE,
                  DIRECTORY_ID, payload)  # fmt: skip
    comment = {"kind": "comment", "text": "I am back"}
    after = _signed(changed, "council.officer", "sneaked", "action.comment_added", R1_1, comment)
    _append_and_resign(changed, bundle, [add, after])
    problems = _audit(changed, bundle).problems
    assert [p.check for p in problems][:2] == ["directory", "unknown signer"], problems
    assert "council.officer is deactivated" in problems[0].detail
