"""Fuzzing the parsers that read untrusted bytes: the canonical-form parser, the entry
format, the audit bundle reader (folder and zip), and the backup reader.

tests/ledger/test_canonical.py already checks that every canonical value round-trips and that
other serialisations of it are refused; these properties add arbitrary bytes and
structured mutations of valid inputs (flipped, cut or spliced bytes, and canonical JSON
whose members have the wrong types or are missing), and require that nothing but the
project's own error types ever escapes: a malformed input is a clear refusal, never a
crash. Bounded: a few hundred examples each, a SQLite ledger built once."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from domain import Status
from ledger.auditor import audit
from ledger.auditor.canonical import CanonicalFormError, canonical_bytes, parse_canonical
from ledger.auditor.entry import EntryFormatError, SignedEntry
from ledger.backup_archive import ArchiveReader, BackupError
from ledger.bundle import export_bundle
from ledger.config import LedgerConfig
from ledger.entry import to_domain_event
from tests.support.clock import Clock
from tests.support.world import make_world

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SAFE = 2**53 - 1

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-SAFE, max_value=SAFE)
    | st.text(max_size=12)
    | st.sampled_from(["", "x" * 64, "2023-01-01", "not-a-uuid", "AAAA", "in_progress"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def valid() -> Iterator[dict[str, Any]]:
    """A real log, exported once: its entries and bundle files are the seeds mutated."""
    folder = Path(tempfile.mkdtemp(prefix="fuzz-seed-"))
    try:
        config = LedgerConfig(home=folder / "home")
        world = make_world(config, Clock())
        world.add_action("R1.1")
        officer = world.client("council.officer")
        officer.change_status("R1.1", Status.IN_PROGRESS)
        world.evidence("R1.1", b"minutes")
        officer.change_status("R1.1", Status.EVIDENCE_SUBMITTED)
        world.client("council.lead").sign_off("R1.1", "done")
        world.checkpoint()
        bundle = folder / "bundle"
        export_bundle(world.ledger, world.vkey.encode(), bundle)
        world.ledger.close()
        files = {
            path.relative_to(bundle).as_posix(): path.read_bytes()
            for path in bundle.rglob("*")
            if path.is_file()
        }
        yield {
            "files": files,
            "entries": files["entries.jsonl"].splitlines(),
            "vkey": world.vkey,
            "trust": world.trust,  # the chair's charter key, which an auditor pins
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- byte-level mutations ------------------------------------------------------------------


@st.composite
def mutated_bytes(draw: Any, seed: bytes) -> bytes:
    """`seed` with a flipped, deleted, inserted or truncated stretch (or arbitrary bytes)."""
    data = bytearray(seed)
    kind = draw(st.sampled_from(["flip", "delete", "insert", "truncate", "splice", "random"]))
    if kind == "random" or not data:
        return draw(st.binary(max_size=200))
    at = draw(st.integers(0, len(data) - 1))
    if kind == "flip":
        data[at] ^= draw(st.integers(1, 255))
    elif kind == "delete":
        del data[at : at + draw(st.integers(1, 8))]
    elif kind == "insert":
        data[at:at] = draw(st.binary(min_size=1, max_size=8))
    elif kind == "truncate":
        del data[at:]
    else:
        data[at:at] = draw(st.sampled_from([b"{", b"}", b'"', b"\\u0000", b",", b"\n", b"\xff"]))
    return bytes(data)


@st.composite
def mutated_entry(draw: Any, seed: bytes) -> bytes:
    """A valid entry re-serialised canonically with one member, or one payload member,
    replaced by an arbitrary JSON value, removed, or joined by an unknown member."""
    entry = json.loads(seed)
    target = entry["payload"] if draw(st.booleans()) and entry["payload"] else entry
    name = draw(st.sampled_from(sorted(target)))
    action = draw(st.sampled_from(["replace", "remove", "add"]))
    if action == "replace":
        target[name] = draw(json_values)
    elif action == "remove":
        del target[name]
    else:
        target[draw(st.text(min_size=1, max_size=8))] = draw(json_values)
    try:
        return canonical_bytes(entry)
    except CanonicalFormError:
        return json.dumps(entry).encode()


# -- the canonical parser and the entry format ---------------------------------------------


@FUZZ
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_are_refused_only_with_canonical_form_error(data: bytes) -> None:
    try:
        value = parse_canonical(data)
    except CanonicalFormError:
        return
    assert canonical_bytes(value) == data  # anything accepted is exactly canonical


@FUZZ
@given(data=st.data())
def test_mutated_entries_are_refused_only_with_the_entry_format_error(
    valid: dict[str, Any], data: Any
) -> None:
    seed = data.draw(st.sampled_from(valid["entries"]))
    mutated = data.draw(st.one_of(mutated_bytes(seed), mutated_entry(seed)))
    try:
        entry = SignedEntry.from_entry_bytes(mutated)
    except EntryFormatError:
        return
    assert entry.entry_bytes() == mutated
    # EntryFormatError and TypeError are what the ledger and the verifier turn into
    # "malformed entry"; anything else would escape them.
    with contextlib.suppress(EntryFormatError, TypeError):
        to_domain_event(entry)


@pytest.fixture(scope="module")
def live() -> Iterator[Any]:
    """A SQLite ledger that accepts appends for the whole module."""
    folder = Path(tempfile.mkdtemp(prefix="fuzz-live-"))
    try:
        world = make_world(LedgerConfig(home=folder / "home"), Clock())
        world.add_action("R1.1")
        officer = world.client("council.officer")
        officer.change_status("R1.1", Status.IN_PROGRESS)
        world.evidence("R1.1", b"minutes")
        officer.change_status("R1.1", Status.EVIDENCE_SUBMITTED)
        world.client("council.lead").sign_off("R1.1", "done")
        world.client("sig").comment("R1.1", "noted")
        seeds = [data for _, data in world.ledger.entries()][1:]  # not the genesis
        yield world, seeds
        world.ledger.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@settings(FUZZ, max_examples=250)
@given(data=st.data())
def test_signed_entries_with_mutated_payloads_are_refused_only_with_ledger_errors(
    live: Any, data: Any
) -> None:
    """What an authenticated user could send: a correctly signed entry, at the right
    version, whose payload has a member of the wrong type, missing or added. The rules
    must refuse it with a named rule (DomainError) or a ledger error, never crash."""
    from uuid import UUID

    from domain import DomainError
    from ledger.errors import LedgerError

    world, seeds = live
    entry = json.loads(data.draw(st.sampled_from(seeds)))
    payload = entry["payload"]
    action = data.draw(st.sampled_from(["replace", "remove", "add"]))
    if action == "add" or not payload:
        payload[data.draw(st.text(min_size=1, max_size=8))] = data.draw(json_values)
    else:
        name = data.draw(st.sampled_from(sorted(payload)))
        if action == "replace":
            payload[name] = data.draw(json_values)
        else:
            del payload[name]
    aggregate = UUID(entry["aggregate_id"])
    signer = world.signer(entry["actor"])
    try:
        signed = signer.sign(
            entry["type"], aggregate, world.ledger.version_of(aggregate) + 1, payload
        )
    except (EntryFormatError, CanonicalFormError):
        event("refused by the signer")
        return
    try:
        world.ledger.append([signed])
        event("accepted")
    except (DomainError, LedgerError) as error:
        event(f"refused: {type(error).__name__}")


# -- the bundle reader -----------------------------------------------------------------------


BUNDLE_PARTS = [
    "entries.jsonl",
    "checkpoints.jsonl",
    "keys.json",
    "bundle.json",
    "evidence/manifest.jsonl",
]


@st.composite
def mutated_bundle(draw: Any, files: dict[str, bytes]) -> dict[str, bytes]:
    files = dict(files)
    name = draw(st.sampled_from(BUNDLE_PARTS))
    if draw(st.booleans()) and name in files:
        lines = files[name].split(b"\n")
        at = draw(st.integers(0, len(lines) - 1))
        if name == "entries.jsonl" and lines[at]:
            lines[at] = draw(st.one_of(mutated_bytes(lines[at]), mutated_entry(lines[at])))
        else:
            lines[at] = draw(mutated_bytes(lines[at]))
        files[name] = b"\n".join(lines)
    elif draw(st.booleans()):
        files.pop(name, None)
    else:
        files[name] = draw(st.binary(max_size=120))
    return files


@st.composite
def type_confused_bundle(draw: Any, files: dict[str, bytes]) -> dict[str, bytes]:
    """The bundle with one entry re-serialised canonically with a member of the wrong type,
    missing or added: it passes the canonical check and reaches the checks behind it."""
    files = dict(files)
    lines = files["entries.jsonl"].splitlines()
    at = draw(st.integers(0, len(lines) - 1))
    lines[at] = draw(mutated_entry(lines[at]))
    files["entries.jsonl"] = b"\n".join(lines) + b"\n"
    return files


def _write_bundle(files: dict[str, bytes], as_zip: bool) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-bundle-"))
    if as_zip:
        path = folder / "bundle.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in files.items():
                archive.writestr(name, data)
        return path
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


@settings(FUZZ, max_examples=120)
@given(data=st.data())
def test_a_mutated_bundle_is_reported_never_crashes_the_auditor(
    valid: dict[str, Any], data: Any
) -> None:
    files = data.draw(mutated_bundle(valid["files"]))
    as_zip = data.draw(st.booleans())
    path = _write_bundle(files, as_zip)
    try:
        report = audit(path, log_key=valid["vkey"].encode(), trust=valid["trust"])
        if files == valid["files"]:
            assert report.ok
        assert report.to_json()["problems"] is not None
        report.to_html()
    finally:
        shutil.rmtree(path if path.is_dir() else path.parent)


@settings(FUZZ, max_examples=200)
@given(data=st.data())
def test_a_bundle_with_a_type_confused_entry_is_reported(valid: dict[str, Any], data: Any) -> None:
    """Canonical JSON with a member of the wrong type passes the canonical check and
    reaches the checks behind it (sequence, keys, authority, evidence)."""
    files = data.draw(type_confused_bundle(valid["files"]))
    path = _write_bundle(files, as_zip=False)
    try:
        report = audit(path, log_key=valid["vkey"].encode(), trust=valid["trust"])
        assert not report.ok or files == valid["files"]
    finally:
        shutil.rmtree(path)


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("aggregate_id", []),
        ("aggregate_id", {}),
        ("type", []),
        ("type", {"a": 1}),
        ("key_id", {}),
        ("key_id", []),
        ("actor", 5),
        ("version", "2"),
        ("version", None),
        ("timestamp", 5),
        ("payload", []),
        ("signature", 7),
        ("format", []),
    ],
    ids=repr,
)
def test_each_wrongly_typed_member_is_a_reported_problem(
    valid: dict[str, Any], member: str, value: Any
) -> None:
    files = dict(valid["files"])
    lines = list(valid["entries"])
    for at in (0, len(lines) - 1):  # the genesis and an ordinary entry
        entry = json.loads(lines[at])
        entry[member] = value
        lines[at] = canonical_bytes(entry)
    files["entries.jsonl"] = b"\n".join(lines) + b"\n"
    path = _write_bundle(files, as_zip=False)
    try:
        report = audit(path, log_key=valid["vkey"].encode(), trust=valid["trust"])
        assert not report.ok
        assert any(p.leaf_index == 0 for p in report.problems)
    finally:
        shutil.rmtree(path)


@settings(FUZZ, max_examples=60)
@given(data=st.binary(max_size=400), truncate=st.integers(0, 4000))
def test_a_damaged_zip_bundle_is_reported_never_crashes_the_auditor(
    valid: dict[str, Any], data: bytes, truncate: int
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-zip-"))
    try:
        whole = _write_bundle(valid["files"], as_zip=True)
        damaged = folder / "b.zip"
        damaged.write_bytes(whole.read_bytes()[:truncate] + data)
        shutil.rmtree(whole.parent)
        report = audit(damaged, log_key=valid["vkey"].encode(), trust=valid["trust"])
        assert not report.ok
    finally:
        shutil.rmtree(folder)


@settings(FUZZ, max_examples=80)
@given(data=st.data())
def test_the_cli_answers_a_mutated_bundle_with_a_message_not_a_traceback(
    valid: dict[str, Any], data: Any, capsys: Any
) -> None:
    from api.cli.main import main

    files = data.draw(
        st.one_of(mutated_bundle(valid["files"]), type_confused_bundle(valid["files"]))
    )
    path = _write_bundle(files, as_zip=data.draw(st.booleans()))
    report_dir = Path(tempfile.mkdtemp(prefix="fuzz-report-"))
    try:
        code = main(["verify-bundle", str(path), "--rules", "--report", str(report_dir)])
        _, err = capsys.readouterr()
        assert code in (0, 1, 2)
        assert "Traceback" not in err
    finally:
        shutil.rmtree(path if path.is_dir() else path.parent)
        shutil.rmtree(report_dir)


# -- the backup reader -----------------------------------------------------------------------


@settings(FUZZ, max_examples=100)
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes_as_a_backup_are_refused_with_backup_error(data: bytes) -> None:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-backup-"))
    try:
        (folder / "b.backup").write_bytes(data)
        with pytest.raises(BackupError):
            ArchiveReader(folder / "b.backup", b"correct horse battery staple").close()
    finally:
        shutil.rmtree(folder)


@settings(FUZZ, max_examples=60)
@given(manifest=json_values, mac=st.binary(max_size=70))
def test_a_zip_with_a_malformed_manifest_is_refused_with_backup_error(
    manifest: Any, mac: bytes
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-manifest-"))
    try:
        path = folder / "b.backup"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("manifest.json", json.dumps(manifest))
            archive.writestr("manifest.mac", mac)
        with pytest.raises(BackupError):
            ArchiveReader(path, b"correct horse battery staple").close()
    finally:
        shutil.rmtree(folder)


# -- regressions the fuzzing found ------------------------------------------------------------


def test_an_event_for_an_aggregate_that_does_not_exist_is_refused_by_rule(live: Any) -> None:
    """Found by the bundle fuzzing (--rules): every non-creation rule read its aggregate
    unchecked, so such an entry crashed the ledger, `verify` and the rules replay."""
    from domain import Action, DomainError, Plan, action_aggregate_id
    from domain.ids import PLAN_ID

    world, _ = live
    admin = world.signer("admin")
    missing = action_aggregate_id("R9.9")
    comment = admin.sign(Action.CommentAdded.TYPE, missing, 1, {"kind": "comment", "text": "x"})
    with pytest.raises(DomainError, match=r"aggregate\.exists"):
        world.ledger.append([comment])
    folder = Path(tempfile.mkdtemp(prefix="fuzz-noplan-"))
    try:
        from api.application.setup import initialise
        from ledger.keys import KeyPair
        from ledger.service import Ledger
        from ledger.signer import Signer

        clock = Clock()
        config = LedgerConfig(home=folder / "home")
        key = KeyPair.generate()
        with Ledger(config, clock=clock) as ledger:
            initialise(
                config, origin="o.example/x", admin_id="admin", admin_name="A", admin_key=key,
                ledger=ledger,
            )  # fmt: skip
            recommendation = Signer("admin", key, "o.example/x", clock=clock).sign(
                Plan.RecommendationAdded.TYPE,
                PLAN_ID,
                1,
                {"number": 1, "title": "T", "text": "", "lead_agencies": ["council"]},
            )
            with pytest.raises(DomainError, match="names no existing plan"):
                ledger.append([recommendation])
    finally:
        shutil.rmtree(folder)


def test_a_bundle_without_entries_or_not_a_zip_is_a_reported_problem(
    valid: dict[str, Any],
) -> None:
    files = {k: v for k, v in valid["files"].items() if k != "entries.jsonl"}
    path = _write_bundle(files, as_zip=True)
    try:
        report = audit(path, log_key=valid["vkey"].encode(), trust=valid["trust"])
        assert any("no entries.jsonl" in p.detail for p in report.problems)
        path.write_bytes(b"PK\x03\x04 not really a zip")
        report = audit(path, log_key=valid["vkey"].encode(), trust=valid["trust"])
        assert [p.check for p in report.problems] == ["bundle"]
    finally:
        shutil.rmtree(path.parent)
