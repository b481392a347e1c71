"""The log's second, post-quantum signature (ML-DSA-44) on its checkpoints.

The format (ledger/auditor/mldsa.py): the signature type bytes, key ids and verifier
keys, signing and verifying, a tampered line refused while Ed25519 verifiers ignore it.
The ledger (ledger/pqkeys.py): `init` makes the key, `add_pq_log_key` adds it to a ledger
made without it, and every checkpoint the log signs from then on, stored or in a receipt,
carries both lines. The audit (ledger/auditor/pqkey.py): with the right pinned key a
bundle passes, with a wrong one, a missing line or a bad line it fails with a finding that
names the checkpoint, and without one the report says the lines were not checked.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.support.world as world_module
from api.application.setup import initialise
from ledger.auditor import audit
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.findings import AuditReport
from ledger.auditor.mldsa import (
    MLDSA44,
    PUBLIC_KEY_SIZE,
    SIGNATURE_SIZE,
    PQSigner,
    PQVerifierKey,
    open_pq_note,
    pq_signed,
)
from ledger.auditor.note import NoteError, NoteSigner, VerifierKey, open_note, sign_note
from ledger.auditor.pqkey import BUNDLE_FILE, PQBinding, PQKeyError
from ledger.auditor.rotation import LogKeyError
from ledger.bundle import export_bundle
from ledger.config import LedgerConfig
from ledger.errors import WrongLogKey
from ledger.keys import KeyPair, PQKeyPair
from ledger.logkeys import home_keys, ledger_keys, rotate_log_key
from ledger.pqkeys import add_pq_log_key, pq_binding, pq_key_path, pq_vkey_path
from ledger.receipt import issue_receipts
from ledger.service import Ledger
from ledger.verify import verify_ledger
from tests.support.clock import Clock
from tests.support.world import ORIGIN, World, make_world

SQLITE = pytest.mark.parametrize("config", ["sqlite"], indirect=True)


@functools.cache
def pq_key(seed: int) -> PQKeyPair:
    from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey

    return PQKeyPair(MLDSA44PrivateKey.from_seed_bytes(bytes([seed]) * 32))


def ed_key(seed: int) -> KeyPair:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return KeyPair(Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


def two_key_note(text: str, ed: int = 1, pq: int = 1) -> str:
    signer = NoteSigner(ORIGIN, ed_key(ed), also=(PQSigner(ORIGIN, pq_key(pq)),))
    return sign_note(text, signer)


def flip_pq_signature(note: str, offset: int = 100) -> str:
    """The note with one byte of its ML-DSA-44 signature flipped (key id kept)."""
    text, _, block = note.rpartition("\n\n")
    ed_line, pq_line = block.splitlines()
    name, blob = pq_line.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[4 + offset] ^= 1
    return f"{text}\n\n{ed_line}\n{name} {base64.b64encode(bytes(raw)).decode()}\n"


def without_pq_line(note: str, key: PQVerifierKey) -> str:
    text, _, block = note.rpartition("\n\n")
    kept = [
        line
        for line in block.splitlines()
        if base64.b64decode(line.rsplit(" ", 1)[1])[:4] != key.key_hash
    ]
    return f"{text}\n\n" + "".join(line + "\n" for line in kept)


# -- the format --------------------------------------------------------------------------


def test_the_signature_type_is_0xff_and_a_fixed_ascii_identifier() -> None:
    assert bytes.fromhex("ff") + b"inquiry-ledger/ml-dsa-44/v1" == MLDSA44
    assert MLDSA44.hex() == "ff696e71756972792d6c65646765722f6d6c2d6473612d34342f7631"
    assert len(MLDSA44) == 28


def test_key_id_and_verifier_key_are_c2sp_framed() -> None:
    key = PQSigner(ORIGIN, pq_key(1)).verifier
    assert len(key.public_key) == PUBLIC_KEY_SIZE
    expected = hashlib.sha256(ORIGIN.encode() + b"\n" + MLDSA44 + key.public_key).digest()[:4]
    assert key.key_hash == expected
    name, hash_hex, blob = key.encode().split("+", 2)
    assert (name, hash_hex) == (ORIGIN, expected.hex())
    assert base64.b64decode(blob) == MLDSA44 + key.public_key
    assert PQVerifierKey.parse(key.encode()) == key
    # one kind of key is never read as the other
    ed = NoteSigner(ORIGIN, ed_key(1)).verifier
    with pytest.raises(NoteError, match="ML-DSA-44 key"):
        PQVerifierKey.parse(ed.encode())
    with pytest.raises(NoteError, match="Ed25519 key"):
        VerifierKey.parse(key.encode())


def test_a_note_signed_by_both_keys_verifies_with_each() -> None:
    body = Checkpoint(ORIGIN, 7, bytes(32)).body()
    note = two_key_note(body)
    ed = NoteSigner(ORIGIN, ed_key(1)).verifier
    pq = PQSigner(ORIGIN, pq_key(1)).verifier
    assert note.count("\n\u2014 ") == 2
    pq_line = note.rstrip("\n").rpartition("\n")[2]
    assert len(base64.b64decode(pq_line.rsplit(" ", 1)[1])) == 4 + SIGNATURE_SIZE
    assert open_note(note, ed) == body
    assert open_pq_note(note, pq) == body
    assert Checkpoint.verify(note, ed) == Checkpoint(ORIGIN, 7, bytes(32))
    # an Ed25519-only verifier of another key, or the pq opener of another key, refuse
    with pytest.raises(NoteError, match="carries no ML-DSA-44 signature"):
        open_pq_note(note, PQSigner(ORIGIN, pq_key(2)).verifier)


def test_a_tampered_ml_dsa_line_is_refused_and_ignored_by_ed25519() -> None:
    body = Checkpoint(ORIGIN, 7, bytes(32)).body()
    note = two_key_note(body)
    pq = PQSigner(ORIGIN, pq_key(1)).verifier
    for offset in (0, 1000, SIGNATURE_SIZE - 1):
        tampered = flip_pq_signature(note, offset)
        assert pq_signed(tampered, pq) is False
        with pytest.raises(NoteError, match=r"ML-DSA-44 signature by .* does not verify"):
            open_pq_note(tampered, pq)
        # Ed25519 verifiers do not know that key: its line changes nothing for them
        assert open_note(tampered, NoteSigner(ORIGIN, ed_key(1)).verifier) == body
    # the body changed under both signatures: both refuse
    forged = note.replace("\n7\n", "\n8\n", 1)
    with pytest.raises(NoteError):
        open_pq_note(forged, pq)
    with pytest.raises(NoteError):
        open_note(forged, NoteSigner(ORIGIN, ed_key(1)).verifier)
    # cut off: no signature by the key at all
    assert pq_signed(without_pq_line(note, pq), pq) is None


def test_the_binding_statement_needs_both_signatures() -> None:
    ed = NoteSigner(ORIGIN, ed_key(1))
    pq = PQSigner(ORIGIN, pq_key(1))
    body = PQBinding.body(ORIGIN, 5, bytes(32), ed.verifier, pq.verifier)
    both = sign_note(body, NoteSigner(ORIGIN, ed_key(1), also=(pq,)))
    binding = PQBinding.parse(both)
    assert (binding.size, binding.log, binding.pq) == (5, ed.verifier, pq.verifier)
    assert not binding.requires(5) and binding.requires(6)
    with pytest.raises(PQKeyError, match="carries no ML-DSA-44"):
        PQBinding.parse(sign_note(body, ed))  # the pq key never signed it
    with pytest.raises(PQKeyError, match="does not verify"):
        PQBinding.parse(flip_pq_signature(both))
    stranger = NoteSigner(ORIGIN, ed_key(2), also=(pq,))
    with pytest.raises(PQKeyError, match="no signature by"):
        PQBinding.parse(sign_note(body, stranger))  # not the log key it names


# -- the ledger --------------------------------------------------------------------------


def test_init_makes_the_key_and_every_checkpoint_carries_both_lines(world: World) -> None:
    config = world.config
    assert pq_key_path(config).stat().st_mode & 0o777 == 0o600
    binding = pq_binding(world.ledger.tables)
    assert binding is not None and binding.log == world.vkey
    assert pq_vkey_path(config).read_text() == binding.pq.encode() + "\n"
    assert binding.size == 1  # made right after the genesis, before the first checkpoint
    world.client("council.officer").comment("R1.1", "after init")
    stored = world.checkpoint()
    for stored_checkpoint in world.ledger.tables.checkpoints():
        assert open_pq_note(stored_checkpoint.note, binding.pq)
        assert Checkpoint.verify(stored_checkpoint.note, world.vkey).size == (
            stored_checkpoint.tree_size
        )
    # receipts' checkpoints (not stored) too
    world.client("council.officer").comment("R1.1", "a receipt's")
    (receipt,) = issue_receipts(world.ledger, world.log_signer, [world.ledger.tree_size() - 1])
    assert receipt.checkpoint != stored.note
    assert open_pq_note(receipt.checkpoint, binding.pq)
    report = verify_ledger(world.ledger, world.vkey, workers=1)
    assert report.ok, report.problems
    assert report.pq_checkpoints_verified == len(world.ledger.tables.checkpoints()) - 1


@SQLITE
def test_without_the_pq_key_file_no_checkpoint_is_signed(world: World) -> None:
    world.client("council.officer").comment("R1.1", "grows the log")
    path = pq_key_path(world.config)
    saved = path.read_bytes()
    path.unlink()
    fresh = Ledger(world.config)  # a process that never read the key
    try:
        with pytest.raises(WrongLogKey, match="post-quantum log key"):
            fresh.sign_checkpoint(world.log_signer)
        path.write_bytes(saved)
        path.chmod(0o600)
        assert open_pq_note(fresh.sign_checkpoint(world.log_signer).note, _pq(world))
    finally:
        fresh.close()


@SQLITE
def test_a_stored_checkpoint_without_its_pq_line_fails_verify(world: World) -> None:
    world.client("council.officer").comment("R1.1", "grows the log")
    stored = world.checkpoint()
    stripped = without_pq_line(stored.note, _pq(world))
    tables = world.ledger.tables
    with tables.transaction() as cursor:
        cursor.execute(
            tables.sql("UPDATE ledger_checkpoints SET note=? WHERE tree_size=?"),
            (stripped, stored.tree_size),
        )
    report = verify_ledger(world.ledger, world.vkey, workers=1)
    (problem,) = report.problems
    assert problem.what == "bad checkpoint"
    assert f"size {stored.tree_size}: it carries no ML-DSA-44 signature" in problem.detail


def _pq(world: World) -> PQVerifierKey:
    binding = pq_binding(world.ledger.tables)
    assert binding is not None
    return binding.pq


@pytest.fixture
def old_world(
    config: LedgerConfig, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    """A world made as ledgers were before the post-quantum key: Ed25519 only."""
    monkeypatch.setattr(
        world_module, "initialise", functools.partial(initialise, post_quantum=False)
    )
    w = make_world(config, clock)
    w.add_action("R1.1")
    yield w
    w.ledger.close()


def test_add_pq_to_an_existing_ledger(old_world: World) -> None:
    world = old_world
    before = world.checkpoint()
    assert pq_binding(world.ledger.tables) is None
    assert before.note.count("\n\u2014 ") == 1
    binding = add_pq_log_key(world.config, world.ledger)
    assert binding.size == world.ledger.tree_size() == before.tree_size
    assert binding.log == world.vkey and binding.origin == ORIGIN
    assert pq_key_path(world.config).stat().st_mode & 0o777 == 0o600
    assert world.checkpoint() == before  # nothing grew: the checkpoint is reused as it is
    world.client("council.officer").comment("R1.1", "after add-pq")
    after = world.checkpoint()
    assert open_pq_note(after.note, binding.pq)
    assert verify_ledger(world.ledger, world.vkey, workers=1).ok
    # once per ledger: never replaced by another key
    saved = pq_key_path(world.config).read_bytes()
    pq_key_path(world.config).unlink()
    with pytest.raises(LogKeyError, match="already has a post-quantum log key"):
        add_pq_log_key(world.config, world.ledger)
    assert not pq_key_path(world.config).exists()
    pq_key_path(world.config).write_bytes(saved)
    pq_key_path(world.config).chmod(0o600)
    # with its own key, a re-run (after a crash that recorded the statement) only
    # finishes the files
    pq_vkey_path(world.config).unlink()
    assert add_pq_log_key(world.config, world.ledger) == binding
    assert pq_vkey_path(world.config).read_text() == binding.pq.encode() + "\n"


@SQLITE
def test_add_pq_needs_the_log_key_the_ledger_names(old_world: World) -> None:
    world = old_world
    path = world.config.log_key_path
    path.unlink()
    KeyPair.generate().write(path)
    with pytest.raises(LogKeyError, match="not the log key the ledger names"):
        add_pq_log_key(world.config, world.ledger)
    assert pq_binding(world.ledger.tables) is None


@SQLITE
def test_a_rotated_log_key_keeps_the_pq_key(world: World, tmp_path: Path) -> None:
    world.client("council.officer").comment("R1.1", "before the rotation")
    old = world.vkey
    result = rotate_log_key(world.config, world.ledger)
    handover = world.ledger.latest_checkpoint()
    assert handover is not None and handover.tree_size == result.handover_size
    assert open_pq_note(handover.note, _pq(world))
    world.client("council.officer").comment("R1.1", "after the rotation")
    assert open_pq_note(world.checkpoint().note, _pq(world))
    keys = ledger_keys(world.ledger.tables, home_keys(world.config))
    assert verify_ledger(world.ledger, keys, workers=1).ok
    bundle = tmp_path / "bundle"
    export_bundle(world.ledger, world.config.log_vkey_path.read_text(), bundle)
    both = f"{old.encode()}\n{world.vkey.encode()}\n"
    report = audit(bundle, log_key=both, trust=world.trust, pq_log_key=_pq(world).encode())
    assert report.ok, report.problems


# -- the audit ---------------------------------------------------------------------------


@pytest.fixture
def exported(world: World, tmp_path: Path) -> Path:
    world.client("council.officer").comment("R1.1", "one")
    world.checkpoint()
    world.client("council.officer").comment("R1.1", "two")
    world.checkpoint()
    out = tmp_path / "bundle"
    export_bundle(world.ledger, world.vkey.encode(), out)
    return out


def _audit(world: World, bundle: Path, pq: str | None) -> AuditReport:
    return audit(bundle, log_key=world.vkey.encode(), trust=world.trust, pq_log_key=pq)


def _findings(report: AuditReport) -> list[tuple[str, str]]:
    return [(p.check, p.detail) for p in report.problems]


@SQLITE
def test_the_bundle_carries_the_pq_key_and_its_statement(world: World, exported: Path) -> None:
    meta = json.loads((exported / "bundle.json").read_text())
    assert meta["pq_log_key"] == _pq(world).encode()
    assert PQBinding.parse((exported / BUNDLE_FILE).read_text()).pq == _pq(world)


@SQLITE
def test_the_right_pinned_pq_key_passes(world: World, exported: Path) -> None:
    report = _audit(world, exported, _pq(world).encode() + "\n")
    assert report.ok, report.problems
    assert report.pq_checkpoints_verified == 3
    assert "pinned by the auditor" in report.pq_log_key_source


@SQLITE
def test_unpinned_the_report_says_the_pq_lines_were_not_checked(
    world: World, exported: Path
) -> None:
    report = _audit(world, exported, None)
    assert report.ok
    source = report.pq_log_key_source
    assert source.startswith("not checked: the ML-DSA-44 signatures were not verified")
    assert _pq(world).label in source
    assert report.pq_checkpoints_verified == 0
    json_report = report.to_json()
    assert json_report["pq_log_key_source"] == source


@SQLITE
def test_a_wrong_pinned_pq_key_fails_naming_each_checkpoint(world: World, exported: Path) -> None:
    wrong = PQSigner(ORIGIN, pq_key(9)).verifier
    report = _audit(world, exported, wrong.encode())
    assert not report.ok
    found = _findings(report)
    assert (
        "post-quantum signature",
        f"the bundle's post-quantum key statement names {_pq(world).label}, not the key you "
        f"pinned ({wrong.label})",
    ) in found
    sizes = [c.tree_size for c in world.ledger.tables.checkpoints()]
    for size in sizes:  # no valid statement for that key: every checkpoint needs its line
        assert (
            "post-quantum signature",
            f"checkpoint {size}: it carries no ML-DSA-44 signature by {wrong.label} (the "
            "post-quantum log key you pinned with --pq-log-key)",
        ) in found


@SQLITE
def test_a_missing_or_bad_pq_line_fails_naming_the_checkpoint(
    world: World, exported: Path, tmp_path: Path
) -> None:
    pq = _pq(world)
    records = [
        json.loads(line) for line in (exported / "checkpoints.jsonl").read_text().splitlines()
    ]
    last, middle = records[-1], records[-2]
    for name, change in (
        ("missing", lambda note: without_pq_line(note, pq)),
        ("bad", flip_pq_signature),
    ):
        bundle = Path(shutil.copytree(exported, tmp_path / name))
        edited = [dict(r) for r in records]
        edited[-1]["note"] = change(last["note"])
        edited[-2]["note"] = change(middle["note"])
        (bundle / "checkpoints.jsonl").write_text(
            "".join(json.dumps(r, sort_keys=True) + "\n" for r in edited)
        )
        unpinned = _audit(world, bundle, None)
        assert unpinned.ok  # Ed25519 alone: nothing wrong
        report = _audit(world, bundle, pq.encode())
        why = (
            f"it carries no ML-DSA-44 signature by {pq.label}"
            if name == "missing"
            else f"the ML-DSA-44 signature by {pq.label} does not verify"
        )
        assert sorted(_findings(report)) == sorted(
            (
                "post-quantum signature",
                f"checkpoint {r['tree_size']}: {why} (the post-quantum log key you pinned "
                "with --pq-log-key)",
            )
            for r in (middle, last)
        ), name


@SQLITE
def test_pinned_checkpoints_from_before_add_pq_predate_the_key(
    old_world: World, tmp_path: Path
) -> None:
    world = old_world
    world.checkpoint()
    binding = add_pq_log_key(world.config, world.ledger)
    world.client("council.officer").comment("R1.1", "after add-pq")
    world.checkpoint()
    bundle = tmp_path / "bundle"
    export_bundle(world.ledger, world.vkey.encode(), bundle)
    report = _audit(world, bundle, binding.pq.encode())
    assert report.ok, report.problems
    older = [c.tree_size for c in world.ledger.tables.checkpoints() if c.tree_size <= binding.size]
    assert older == [1, binding.size]  # init's and the one just before add-pq
    assert report.pq_predating == 2 and report.pq_checkpoints_verified == 1
    # without the statement nothing says since when: the older checkpoints fail
    (bundle / BUNDLE_FILE).unlink()
    report = _audit(world, bundle, binding.pq.encode())
    assert _findings(report) == [
        (
            "post-quantum signature",
            f"checkpoint {size}: it carries no ML-DSA-44 signature by "
            f"{binding.pq.label} (the post-quantum log key you pinned with --pq-log-key)",
        )
        for size in older
    ]


@SQLITE
def test_without_ml_dsa_in_cryptography_the_report_says_so(
    world: World, exported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ledger.auditor.pqkey as pqkey

    monkeypatch.setattr(pqkey, "mldsa_supported", lambda: False)
    report = _audit(world, exported, None)
    assert report.ok, report.problems  # the Ed25519 audit stands on its own
    assert report.pq_log_key_source == "not checked: this cryptography has no ML-DSA-44"
    report = _audit(world, exported, _pq(world).encode())
    assert _findings(report) == [
        (
            "post-quantum signature",
            "--pq-log-key: this cryptography (its OpenSSL) has no ML-DSA-44",
        )
    ]
