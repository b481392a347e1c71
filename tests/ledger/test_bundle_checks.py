"""The bundle's checks that used to pass what they did not look at (issue 13, item 9):
`verify-bundle --rules` skipped entries it could not parse or whose signer it did not
know and still said "the rules hold", and nobody compared keys.json with the log."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from domain import DIRECTORY_ID, Directory
from ledger.auditor import AuditReport, audit
from ledger.auditor.ed25519 import decode_public_key, encode_public_key, key_id_for
from ledger.auditor.entry import SignedEntry
from ledger.bundle import replay_rules
from ledger.keys import KeyPair
from tests.support.bundles import append_lines, export, lines, problems
from tests.support.world import World, make_world


@pytest.fixture
def world(config: Any, clock: Any) -> Any:
    """The test world, with a second administrator, a rotation and a revocation: every
    kind of record keys.json holds."""
    w = make_world(config, clock)
    admin = w.client("admin")
    w.keys["second.admin"] = KeyPair.generate()
    admin.register_user("second.admin", "Second", "admin", None, w.keys["second.admin"].public_key)
    spare = KeyPair.generate()
    w.client("second.admin").rotate_key("second.admin", spare.public_key, "new laptop")
    w.keys["second.admin"] = spare
    new_admin_key = KeyPair.generate()
    admin.rotate_key("admin", new_admin_key.public_key, "routine")
    w.keys["admin"] = new_admin_key
    yield w
    w.ledger.close()


@pytest.fixture
def bundle(world: World, tmp_path: Path) -> Path:
    return export(world, tmp_path / "bundle")


def _registration(world: World, user_id: str) -> SignedEntry:
    return world.client("admin").entry(
        Directory.UserRegistered.TYPE,
        DIRECTORY_ID,
        {
            "user_id": user_id,
            "name": "Mallory",
            "role": "admin",
            "agency": None,
            "public_key": _key_text(),
        },
    )


def _key_text() -> str:
    return encode_public_key(KeyPair.generate().public_key)


def _forged(world: World) -> SignedEntry:
    """A registration as the administrator would sign it, signed with a key nobody
    registered (it names that key, so only the key is unknown)."""
    honest = _registration(world, "mallory")
    mallory = KeyPair.generate()
    return SignedEntry.sign(dataclasses.replace(honest.body, key_id=mallory.key_id), mallory)


def _forged_and_unparseable(world: World, bundle: Path) -> tuple[int, int]:
    forged = _forged(world)
    first = append_lines(world, bundle, forged.entry_bytes(), b'{"not":"an entry"}')
    return first, first + 1


# -- the rules replay fails closed ---------------------------------------------------------


def test_an_honest_bundle_replays_every_entry(world: World, bundle: Path) -> None:
    report = audit(bundle, log_key=world.vkey.encode())
    replay_rules(bundle, report)
    assert not report.problems, report.problems
    total = len(lines(bundle))
    assert f"(replayed {total} of {total})" in report.checks[-1]


def test_the_rules_replay_reports_every_entry_it_cannot_replay_on_its_own(
    world: World, bundle: Path
) -> None:
    """Without the auditor's findings (an empty report), the replay itself refuses the
    forged entry (its key is not in the directory) and the unparseable one, and an entry
    of a type the domain does not know; the count says so."""
    forged, unparseable = _forged_and_unparseable(world, bundle)
    unknown_type = SignedEntry.sign(
        dataclasses.replace(_registration(world, "x").body, type="directory.teleported"),
        world.keys["admin"],
    )
    strange = append_lines(world, bundle, unknown_type.entry_bytes())
    report = AuditReport(str(bundle))
    replay_rules(bundle, report)
    found = {p.leaf_index: p for p in report.problems}
    assert set(found) == {forged, unparseable, strange}
    assert found[forged].check == "not replayed" and "unknown signer" in found[forged].detail
    assert f"key {_key_of(bundle, forged)} is not registered to admin" in found[forged].detail
    assert found[unparseable].check == "not replayed"
    assert "cannot be parsed" in found[unparseable].detail
    assert "unknown event type 'directory.teleported'" in found[strange].detail
    total = len(lines(bundle))
    assert f"(replayed {total - 3} of {total})" in report.checks[-1]


def _key_of(bundle: Path, position: int) -> str:
    return str(json.loads(lines(bundle)[position])["key_id"])


def test_after_the_audit_the_replay_still_names_each_entry_it_did_not_replay(
    world: World, bundle: Path
) -> None:
    forged, unparseable = _forged_and_unparseable(world, bundle)
    report = audit(bundle, log_key=world.vkey.encode())
    assert problems(report) == {forged: {"unknown signer"}, unparseable: {"malformed entry"}}
    replay_rules(bundle, report)
    found = problems(report)
    assert found[forged] == {"unknown signer", "not replayed"}
    assert found[unparseable] == {"malformed entry", "not replayed"}
    total = len(lines(bundle))
    assert f"(replayed {total - 2} of {total})" in report.checks[-1]


def test_verify_bundle_rules_exits_1_naming_both_entries(
    world: World, bundle: Path, cli: Any, tmp_path: Path
) -> None:
    forged, unparseable = _forged_and_unparseable(world, bundle)
    vkey = tmp_path / "pinned.vkey"
    vkey.write_text(world.vkey.encode())
    reports = tmp_path / "reports"
    code, stdout, stderr = cli(
        "verify-bundle", str(bundle), "--log-key", str(vkey), "--rules", "--report", str(reports)
    )
    assert code == 1 and "FAILED" in stdout
    assert f"entry {forged}: not replayed" in stderr
    assert f"entry {unparseable}: not replayed" in stderr
    saved = json.loads((reports / "verification-report.json").read_text())
    total = len(lines(bundle))
    assert any(f"(replayed {total - 2} of {total})" in check for check in saved["checks"])


# -- keys.json is checked against the directory the audit replays ------------------------


def test_an_honest_keys_json_is_the_replayed_directory(world: World, bundle: Path) -> None:
    listed = json.loads((bundle / "keys.json").read_text())
    admin_keys = listed["admin"]["keys"]
    assert len(admin_keys) == 2
    assert [k for k in admin_keys.values() if "revoked_at_leaf" in k]  # rotated away
    report = audit(bundle, log_key=world.vkey.encode())
    assert not report.problems, report.problems
    assert any("keys.json" in check for check in report.checks)


def _edit(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def tamper(bundle: Path) -> None:
        listed = json.loads((bundle / "keys.json").read_text())
        change(listed)
        (bundle / "keys.json").write_text(json.dumps(listed, indent=2))

    return tamper


def _active(listed: dict[str, Any], user: str) -> dict[str, Any]:
    return next(k for k in listed[user]["keys"].values() if "revoked_at_leaf" not in k)


def _revoked(listed: dict[str, Any], user: str) -> dict[str, Any]:
    return next(k for k in listed[user]["keys"].values() if "revoked_at_leaf" in k)


TAMPERINGS: dict[str, tuple[Callable[[Path], None], str | None]] = {
    # name: (tampering, the user whose registration leaf the finding names, or None)
    "another public key shown": (
        _edit(lambda k: _active(k, "admin").update(public_key=_key_text())),
        "admin",
    ),
    "a revocation hidden": (
        _edit(lambda k: _revoked(k, "second.admin").pop("revoked_at_leaf")),
        "second.admin",
    ),
    "a role changed": (_edit(lambda k: k["second.admin"].update(role="chair")), "second.admin"),
    "an agency changed": (_edit(lambda k: k["admin"].update(agency="police")), "admin"),
    "a registration leaf moved": (
        _edit(lambda k: k["second.admin"].update(registered_at_leaf=1)),
        "second.admin",
    ),
    "a key added": (
        _edit(
            lambda k: k["admin"]["keys"].update(
                {"0123456789abcdef": {"public_key": _key_text(), "registered_at_leaf": 3}}
            )
        ),
        "admin",
    ),
    "a user added": (_edit(lambda k: k.update(ghost=k["second.admin"])), None),
    "a user dropped": (_edit(lambda k: k.pop("second.admin")), "second.admin"),
    "not JSON": (lambda b: _write(b / "keys.json", '{"admin": '), None),
    "missing": (lambda b: (b / "keys.json").unlink(), None),
}


def _write(path: Path, text: str) -> None:
    path.write_text(text)


@pytest.mark.parametrize("name", TAMPERINGS)
def test_a_tampered_keys_json_is_reported(
    world: World, bundle: Path, tmp_path: Path, name: str
) -> None:
    tamper, user = TAMPERINGS[name]
    copy = tmp_path / "tampered"
    shutil.copytree(bundle, copy)
    tamper(copy)
    report = audit(copy, log_key=world.vkey.encode())
    assert report.problems, name
    assert {p.check for p in report.problems} == {"keys.json"}, report.problems
    listed = json.loads((bundle / "keys.json").read_text())
    expected_leaf = None if user is None else listed[user]["registered_at_leaf"]
    assert [p.leaf_index for p in report.problems] == [expected_leaf] * len(report.problems)


def test_a_forged_registration_is_not_taken_for_a_key_json_record(
    world: World, bundle: Path
) -> None:
    """An operator who adds the forged user to keys.json as well is reported for both:
    the entry's signer is unknown, and keys.json lists a user the log does not register."""
    forged = _forged(world)
    position = append_lines(world, bundle, forged.entry_bytes())
    listed = json.loads((bundle / "keys.json").read_text())
    key_text = forged.body.payload["public_key"]
    listed["mallory"] = {
        "role": "admin",
        "agency": None,
        "registered_at_leaf": position,
        "keys": {
            key_id_for(decode_public_key(key_text)): {
                "public_key": key_text,
                "registered_at_leaf": position,
            }
        },
    }
    (bundle / "keys.json").write_text(json.dumps(listed))
    report = audit(bundle, log_key=world.vkey.encode())
    assert problems(report) == {position: {"unknown signer"}, None: {"keys.json"}}
    [listed_problem] = [p for p in report.problems if p.check == "keys.json"]
    assert "'mallory', whom the log does not register" in listed_problem.detail
