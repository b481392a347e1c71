"""Findings of a security review of the standalone auditor, each made as the operator (who
holds the log key, the administrator's key and the database) would make it, and refused:

1. The log's origin was tied only to bundle.json's (the operator's word): a training
   log's checkpoints signed with the production log key passed as production. Now the
   log audited is the one the pinned log key is named for; bundle.json, every checkpoint,
   the genesis and every entry must name it, and the summary says which log it is.
2. Witness dating used only the cosignatures the operator left in the bundle: dropping a
   witness's newest cosignature moved the floor back, although the witness's own saved
   checkpoint (``--since``) carries it. Saved cosignatures now date and count too.
3. ``--witnesses K`` without any ``--witness-key`` asked for nothing and was ignored; K
   beyond the keys pinned could never be met. Both are option errors now.
4. The directory replay applied entries the domain refuses: a key revoked that is not the
   named user's, a user registered twice, a key registered twice. They are reported and
   not applied, so they cannot fail honest entries later for a misleading reason.

The auditor reads a bundle, never the database, so these run on SQLite alone.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain import DIRECTORY_ID, Action, Directory, Status, action_aggregate_id
from ledger.auditor import audit
from ledger.auditor.__main__ import main as auditor_main
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.cosignature import Cosigner, note_body
from ledger.auditor.dating import GRACE
from ledger.auditor.ed25519 import encode_public_key
from ledger.auditor.entry import SignedEntry
from ledger.auditor.findings import summary_lines
from ledger.auditor.merkle import CompactRange, leaf_hash
from ledger.auditor.note import NoteSigner
from ledger.bundle import export_bundle
from ledger.config import LedgerConfig
from ledger.keys import KeyPair
from tests.support.attacks import report_json, verify_bundle, written
from tests.support.bundles import append_crafted, export, lines, problems, write_lines
from tests.support.world import ORIGIN, World

R1_1 = action_aggregate_id("R1.1")
TRAINING = "training.example/ledger"
PRODUCTION = "prod.example/ledger"


@pytest.fixture
def config(tmp_path: Path) -> LedgerConfig:
    """SQLite only (overrides tests/conftest.py's): the audit never reads the database."""
    return LedgerConfig(home=tmp_path / "home")


def _audit(world: World, bundle: Path, **options: Any) -> Any:
    options.setdefault("log_key", world.vkey.encode())
    return audit(bundle, trust=world.trust, **options)


def _reseal(bundle: Path, entries: list[bytes], signer: NoteSigner, origin: str) -> None:
    """Replace the bundle's entries and its checkpoints by one checkpoint of `origin` over
    them, signed by `signer` (a log key the operator holds), and make bundle.json agree."""
    write_lines(bundle, entries)
    tree = CompactRange()
    for line in entries:
        tree.append(leaf_hash(line))
    note = Checkpoint(origin, tree.size, tree.root()).sign(signer)
    record = {"tree_size": tree.size, "note": note}
    (bundle / "checkpoints.jsonl").write_text(json.dumps(record) + "\n")
    meta = json.loads((bundle / "bundle.json").read_text())
    meta["tree_size"] = tree.size
    meta["log_key"] = signer.verifier.encode()
    (bundle / "bundle.json").write_text(json.dumps(meta))


# -- 1. the origin is the pinned log key's name -------------------------------------------------


def test_a_training_log_signed_with_the_production_log_key_is_not_production(
    world: World, cli: Any, tmp_path: Path
) -> None:
    """The operator holds the production log key and signs the training log's history
    (the chair signed there with the same charter key) as production's."""
    world.client("chair").comment("R1.1", "said on the TRAINING ledger")
    bundle = export(world, tmp_path / "bundle")
    production = NoteSigner(PRODUCTION, KeyPair.generate())
    _reseal(bundle, lines(bundle), production, ORIGIN)  # origin != the key's name

    report = _audit(world, bundle, log_key=production.verifier.encode())
    assert not report.ok
    assert report.origin == PRODUCTION  # the key's name, not what the bundle says
    found = {p.detail for p in report.problems if p.check == "another log"}
    assert (
        f"checkpoint {len(lines(bundle))} is of the log {ORIGIN!r}, but the log key that "
        f"signed it is that of {PRODUCTION!r} (a log key signs for its own log only)"
    ) in found
    assert f"bundle.json names the log {ORIGIN!r}, but the log key is that of {PRODUCTION!r}" in (
        found
    )
    assert report.checkpoints_verified == 0
    every_entry = {p.leaf_index for p in report.problems if p.check == "another log"}
    assert set(range(len(lines(bundle)))) <= every_entry  # each entry names the other log

    code, out, err = verify_bundle(
        cli, world, bundle, tmp_path / "audit", log_key=production.verifier.encode() + "\n"
    )
    assert code == 1 and "another log" in err
    assert out.splitlines()[0] == f"log: {PRODUCTION}"
    assert report_json(tmp_path / "audit")["origin"] == PRODUCTION


def test_bundle_json_must_name_the_log_of_the_pinned_key(world: World, tmp_path: Path) -> None:
    bundle = export(world, tmp_path / "bundle")
    assert _audit(world, bundle).ok
    meta = json.loads((bundle / "bundle.json").read_text())
    meta["origin"] = TRAINING
    (bundle / "bundle.json").write_text(json.dumps(meta))
    report = _audit(world, bundle)
    assert [(p.leaf_index, p.check, p.detail) for p in report.problems] == [
        (
            None,
            "another log",
            f"bundle.json names the log {TRAINING!r}, but the log key is that of {ORIGIN!r}",
        )
    ]
    assert report.origin == ORIGIN


def test_the_genesis_must_found_the_log_of_the_pinned_key(world: World, tmp_path: Path) -> None:
    """The operator re-signs the genesis with the administrator's key, founding another
    log (every entry, the genesis's too, still names this one), and re-signs the tree."""
    bundle = export(world, tmp_path / "bundle")
    entries = lines(bundle)
    genesis = SignedEntry.from_entry_bytes(entries[0]).body
    assert genesis.payload["origin"] == ORIGIN
    founding = dataclasses.replace(genesis, payload={**genesis.payload, "origin": TRAINING})
    entries[0] = SignedEntry.sign(founding, world.keys["admin"]).entry_bytes()
    _reseal(bundle, entries, world.log_signer, ORIGIN)
    report = _audit(world, bundle)
    assert [(p.leaf_index, p.check, p.detail) for p in report.problems] == [
        (
            0,
            "another log",
            f"the genesis founds the log {TRAINING!r}, but the log key is that of {ORIGIN!r}",
        )
    ]


def test_the_pinned_log_keys_must_all_be_of_one_log(world: World, tmp_path: Path) -> None:
    bundle = export(world, tmp_path / "bundle")
    other = NoteSigner(TRAINING, KeyPair.generate()).verifier.encode()
    report = _audit(world, bundle, log_key=f"{world.vkey.encode()}\n{other}\n")
    (detail,) = [p.detail for p in report.problems if p.check == "log key"]
    assert f"the pinned log keys name different logs ({ORIGIN}, {TRAINING})" in detail
    assert not report.ok


def test_the_summary_names_the_log_audited(world: World, tmp_path: Path) -> None:
    bundle = export(world, tmp_path / "bundle")
    report = _audit(world, bundle)
    assert report.ok and summary_lines(report)[0] == f"log: {ORIGIN}"
    folder = tmp_path / "audit"
    folder.mkdir()
    code = auditor_main(
        [
            str(bundle),
            "--log-key",
            written(folder / "log.vkey", world.vkey.encode() + "\n"),
            "--trust",
            written(folder / "trust.keys", world.trust),
        ]
    )
    assert code == 0


# -- 2. a witness's saved cosignature dates the log, in the bundle or not ------------------------


def _cosign(world: World, witness: Cosigner) -> tuple[int, str, int]:
    """Sign a checkpoint, have `witness` cosign it now and the ledger store it; the size,
    the cosigned note the witness keeps, and the cosignature's time."""
    stored = world.checkpoint()
    at = int(world.clock.now.timestamp())
    line = witness.cosign(note_body(stored.note), at)
    world.ledger.record_cosignature(stored.tree_size, witness.public.encode(), line, at)
    return stored.tree_size, stored.note + line + "\n", at


def _uncosigned(note: str) -> str:
    """The note with the log's own signatures only (its Ed25519 and post-quantum keys')."""
    text, _, block = note.rpartition("\n\n")
    lines = [line for line in block.splitlines() if line.startswith(f"\u2014 {ORIGIN} ")]
    assert lines
    return f"{text}\n\n" + "".join(line + "\n" for line in lines)


def _drop_cosignatures(bundle: Path, sizes: set[int]) -> None:
    """The operator strips the cosignatures from the bundle's checkpoints of `sizes`."""
    rows = [json.loads(line) for line in (bundle / "checkpoints.jsonl").read_text().splitlines()]
    for row in rows:
        if row["tree_size"] in sizes:
            row["note"] = _uncosigned(row["note"])
    (bundle / "checkpoints.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_dropping_a_witness_cosignature_from_the_bundle_does_not_move_the_floor(
    world: World, tmp_path: Path
) -> None:
    witness = Cosigner("witness.example", KeyPair.generate())
    wkey = witness.public.encode()
    world.add_action("R1.2")
    _, _, first = _cosign(world, witness)
    world.clock.advance(hours=2)
    world.client("sig").comment("R1.2", "later work")  # (R1.1's last entry stays before)
    size, saved, second = _cosign(world, witness)  # the witness keeps `saved`
    bundle = tmp_path / "bundle"
    export_bundle(world.ledger, world.vkey.encode(), bundle)
    _drop_cosignatures(bundle, {size})
    # An admin entry after the second checkpoint, dated half an hour after the first look.
    at = datetime.fromtimestamp(first, UTC) + timedelta(minutes=30)
    admin = dataclasses.replace(world.signer("admin"), clock=lambda: at)
    version = world.ledger.next_entry(R1_1).version
    entry = admin.sign(Action.CommentAdded.TYPE, R1_1, version, {"kind": "comment", "text": "x"})
    leaf = append_crafted(world, bundle, entry)
    assert leaf == size

    without = _audit(world, bundle, witness_keys=[wkey])
    assert problems(without) == {}  # all the bundle shows is the first look: no floor broken
    report = _audit(world, bundle, witness_keys=[wkey], since=[saved])
    assert problems(report) == {leaf: {"dated before a witness"}}
    (detail,) = [p.detail for p in report.problems]
    moment = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert f"{moment}.000000Z, when witness.example cosigned the checkpoint of size {size}" in (
        detail
    )


def test_a_saved_cosignature_counts_for_the_witness_and_bounds_dates_from_above(
    world: World, tmp_path: Path
) -> None:
    """The operator drops every cosignature from the bundle: the witness's saved note
    still shows it cosigned (the quorum holds), and an entry it holds cannot be dated
    more than GRACE after its look (future-dated)."""
    witness = Cosigner("witness.example", KeyPair.generate())
    wkey = witness.public.encode()
    world.client("council.officer").comment("R1.1", "honest")
    size, saved, at = _cosign(world, witness)
    bundle = tmp_path / "bundle"
    export_bundle(world.ledger, world.vkey.encode(), bundle)
    _drop_cosignatures(bundle, {size})

    stripped = _audit(world, bundle, witness_keys=[wkey])
    assert problems(stripped) == {None: {"not witnessed"}}
    report = _audit(world, bundle, witness_keys=[wkey], since=[saved])
    assert report.ok, report.problems
    assert report.witnessed == {"witness.example": size} and report.witnessed_size == size

    # Had the entry inside it been dated more than GRACE after the look, the saved note
    # shows it: the operator future-dated it (re-signed by the admin, re-sealed).
    entries = lines(bundle)
    last = SignedEntry.from_entry_bytes(entries[-1])
    late = datetime.fromtimestamp(at, UTC) + GRACE + timedelta(seconds=1)
    body = dataclasses.replace(last.body, timestamp=late)
    entries[-1] = SignedEntry.sign(body, world.keys["council.officer"]).entry_bytes()
    write_lines(bundle, entries)  # (no longer the root the log key or the witness signed)
    future = _audit(world, bundle, witness_keys=[wkey], since=[saved])
    assert "history rewritten" in problems(future)[size - 1]
    assert "dated before a witness" in problems(future)[size - 1]
    (detail,) = [
        p.detail
        for p in future.problems
        if p.check == "dated before a witness" and p.leaf_index == size - 1
    ]
    assert "(future-dated)" in detail


def test_a_bad_cosignature_in_a_saved_checkpoint_is_reported(world: World, tmp_path: Path) -> None:
    witness = Cosigner("witness.example", KeyPair.generate())
    size, saved, at = _cosign(world, witness)
    bundle = tmp_path / "bundle"
    export_bundle(world.ledger, world.vkey.encode(), bundle)
    plain = _uncosigned(saved)
    # The witness's key hash and a time, but a signature over another checkpoint's body.
    forged = plain + witness.cosign(f"{ORIGIN}\n{size}\nAAAA\n", at) + "\n"
    report = _audit(world, bundle, witness_keys=[witness.public.encode()], since=[forged])
    assert [(p.check, p.detail) for p in report.problems] == [
        (
            "bad cosignature",
            f"saved checkpoint {size}: the cosignature by witness.example does not verify",
        )
    ]
    # Another key's line under the witness's name is not the witness's: ignored.
    impostor = Cosigner("witness.example", KeyPair.generate())
    other = plain + impostor.cosign(note_body(plain), at) + "\n"
    report = _audit(world, bundle, witness_keys=[witness.public.encode()], since=[other])
    assert report.ok and report.witnessed == {"witness.example": size}


# -- 3. --witnesses K counts pinned witness keys --------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "quorum", "message"),
    [
        (0, "1", "--witnesses 1 needs the witnesses' keys: pin each with --witness-key"),
        (0, "2", "--witnesses 2 needs the witnesses' keys"),
        (1, "2", "--witnesses 2: K must be between 1 and the number of witness keys pinned"),
        (2, "0", "--witnesses 0: K must be between 1"),
    ],
)
def test_a_quorum_of_witnesses_needs_that_many_witness_keys(
    world: World, cli: Any, tmp_path: Path, capsys: Any, keys: int, quorum: str, message: str
) -> None:
    bundle = export(world, tmp_path / "bundle")
    witness_files = [
        written(tmp_path / f"w{n}.wkey", Cosigner(f"w{n}", KeyPair.generate()).public.encode())
        for n in range(keys)
    ]
    extra = [arg for path in witness_files for arg in ("--witness-key", path)]
    code, _, err = verify_bundle(
        cli, world, bundle, tmp_path / "audit", *extra, "--witnesses", quorum
    )
    assert code == 2 and message in err
    pinned = [
        "--log-key",
        written(tmp_path / "log.vkey", world.vkey.encode() + "\n"),
        "--trust",
        written(tmp_path / "trust.keys", world.trust),
    ]
    assert auditor_main([str(bundle), *pinned, *extra, "--witnesses", quorum]) == 2
    assert message in capsys.readouterr().err
    # The library call reports it too (no option parsing in between).
    if keys == 0:
        report = _audit(world, bundle, witnesses_required=int(quorum))
        assert problems(report) == {None: {"witness"}}


# -- 4. the directory replay refuses what the domain refuses --------------------------------------


def _directory_entry(world: World, user: str, kind: str, payload: dict[str, Any]) -> SignedEntry:
    version = world.ledger.next_entry(DIRECTORY_ID).version
    return world.signer(user).sign(kind, DIRECTORY_ID, version, payload)


def _start(world: World, user: str) -> SignedEntry:
    """`user` starts R1.1 (an act of the lead agency's officer)."""
    version = world.ledger.next_entry(R1_1).version
    payload = {"from_status": "not_started", "to_status": Status.IN_PROGRESS.value, "reason": ""}
    return world.signer(user).sign(Action.StatusChanged.TYPE, R1_1, version, payload)


def test_a_revocation_of_another_users_key_is_not_applied(world: World, tmp_path: Path) -> None:
    """council's officer 'revokes its own key', naming the chair's key id: the domain
    refuses it (not a key of that user); replayed, it would revoke the chair's key and
    fail the chair's next entry as signed with a revoked key."""
    bundle = export(world, tmp_path / "bundle")
    chair_key = world.keys["chair"].key_id
    revoke = _directory_entry(
        world,
        "council.officer",
        Directory.KeyRevoked.TYPE,
        {"user_id": "council.officer", "revoked_key_id": chair_key, "reason": "lost"},
    )
    version = world.ledger.next_entry(R1_1).version
    comment = world.signer("chair").sign(
        Action.CommentAdded.TYPE, R1_1, version, {"kind": "comment", "text": "still me"}
    )
    leaf = append_crafted(world, bundle, revoke, comment)
    report = _audit(world, bundle)
    assert problems(report) == {leaf: {"directory"}}
    (detail,) = [p.detail for p in report.problems]
    assert detail == (
        f"directory.key_revoked not applied: council.officer has no active key {chair_key}"
    )


def test_a_revocation_of_a_key_already_revoked_is_not_applied(world: World, tmp_path: Path) -> None:
    """Revoking a revoked key again would move its revocation to a later leaf."""
    spare = KeyPair.generate()
    world.client("chair").rotate_key("scrutiny", spare.public_key, "new laptop")
    old = world.keys["scrutiny"].key_id
    world.keys["scrutiny"] = spare
    bundle = export(world, tmp_path / "bundle")
    again = _directory_entry(
        world,
        "scrutiny",
        Directory.KeyRevoked.TYPE,
        {"user_id": "scrutiny", "revoked_key_id": old, "reason": "again"},
    )
    leaf = append_crafted(world, bundle, again)
    report = _audit(world, bundle)
    assert problems(report) == {leaf: {"directory"}}  # keys.json still agrees: not applied


def test_a_user_registered_twice_is_not_applied(world: World, tmp_path: Path) -> None:
    """The chair 'registers' council's officer again, as scrutiny, with a new key: the
    domain refuses it (the user exists); replayed, it would make the officer scrutiny and
    fail the officer's next act as unauthorised."""
    bundle = export(world, tmp_path / "bundle")
    again = _directory_entry(
        world,
        "chair",
        Directory.UserRegistered.TYPE,
        {
            "user_id": "council.officer",
            "name": "Council.Officer",
            "role": "scrutiny",
            "agency": None,
            "public_key": encode_public_key(KeyPair.generate().public_key),
        },
    )
    leaf = append_crafted(world, bundle, again, _start(world, "council.officer"))
    report = _audit(world, bundle)
    assert problems(report) == {leaf: {"directory"}}
    (detail,) = [p.detail for p in report.problems]
    assert detail == "directory.user_registered not applied: user 'council.officer' already exists"


def test_a_key_registered_twice_is_not_applied(world: World, tmp_path: Path) -> None:
    """The chair registers a new user with council's officer's public key: replayed, the
    key id would pass to the new user and the officer's next act be 'unknown signer'."""
    bundle = export(world, tmp_path / "bundle")
    again = _directory_entry(
        world,
        "chair",
        Directory.UserRegistered.TYPE,
        {
            "user_id": "newcomer",
            "name": "Newcomer",
            "role": "scrutiny",
            "agency": None,
            "public_key": encode_public_key(world.keys["council.officer"].public_key),
        },
    )
    leaf = append_crafted(world, bundle, again, _start(world, "council.officer"))
    report = _audit(world, bundle)
    assert problems(report) == {leaf: {"directory"}}
    (detail,) = [p.detail for p in report.problems]
    key_id = world.keys["council.officer"].key_id
    assert detail == (
        f"directory.user_registered not applied: this public key (key {key_id}) is already "
        "registered, to council.officer"
    )
