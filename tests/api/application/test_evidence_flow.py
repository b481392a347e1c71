"""Evidence through the ledger: upload, then sign and append; nothing lost or half-written.

Runs on both event stores; the S3 cases use the real Ceph server started for the session.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain import Action, Status, action_aggregate_id
from evidence_store.local import LocalEvidenceStore
from ledger.errors import MissingEvidence
from tests.support.sample_plan import setup_plan
from tests.support.world import World, make_world


@pytest.fixture
def world(config: Any, clock: Any) -> Iterator[World]:
    w = make_world(config, clock)
    w.add_action("R1.1")
    w.client("council.officer").change_status("R1.1", Status.IN_PROGRESS)
    yield w
    w.ledger.close()


def _evidence_payload(sha256: str, size: int) -> dict[str, Any]:
    return {
        "sha256": sha256,
        "size": size,
        "media_type": "text/plain",
        "original_name": "minutes.txt",
        "description": "Minutes",
        "storage_key": f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}",
        "effective_date": "2023-01-01",
    }


def test_an_event_naming_an_absent_blob_is_refused(world: World) -> None:
    size = world.ledger.tree_size()
    absent = hashlib.sha256(b"never uploaded").hexdigest()
    with pytest.raises(MissingEvidence, match="upload it first"):
        world.client("council.officer").attach_evidence("R1.1", _evidence_payload(absent, 14))
    assert world.ledger.tree_size() == size


def test_an_event_with_the_wrong_size_is_refused(world: World) -> None:
    blob = LocalEvidenceStore(world.config.evidence_dir).put(io.BytesIO(b"twelve bytes"))
    with pytest.raises(MissingEvidence, match="not 13"):
        world.client("council.officer").attach_evidence("R1.1", _evidence_payload(blob.sha256, 13))


def test_erasure_is_a_signed_admin_event(world: World) -> None:
    sha = world.evidence("R1.1", b"contains personal data")
    with pytest.raises(Exception, match=r"rule: action\.erase_evidence"):
        world.client("council.lead").erase_evidence("R1.1", sha, "not theirs to erase")
    world.client("admin").erase_evidence("R1.1", sha, "UK GDPR Art. 17 request, DPO ref 42")
    action = world.ledger.action("R1.1")
    assert action is not None and action.current_evidence() == []
    assert action.evidence[sha].erased_reason == "UK GDPR Art. 17 request, DPO ref 42"
    entry = world.ledger.aggregate_events(action_aggregate_id("R1.1"))[-1]
    assert isinstance(entry, Action.EvidenceErased) and entry.sha256 == sha


# -- the command line, on the local folder and on Ceph --------------------------------------


@pytest.fixture(params=["local", "s3"])
def evidence_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "s3":
        server = request.getfixturevalue("ceph_s3")
        monkeypatch.setenv("INQUIRY_LEDGER_S3_BUCKET", f"flow-{uuid.uuid4().hex[:12]}")
        monkeypatch.setenv("INQUIRY_LEDGER_S3_ENDPOINT_URL", server.endpoint_url)
        monkeypatch.setenv("INQUIRY_LEDGER_S3_ACCESS_KEY_ID", server.access_key)
        monkeypatch.setenv("INQUIRY_LEDGER_S3_SECRET_ACCESS_KEY", server.secret_key)
        monkeypatch.setenv("INQUIRY_LEDGER_S3_RETENTION_DAYS", "1")
    else:
        monkeypatch.setenv("INQUIRY_LEDGER_EVIDENCE_ENCRYPTION", "on")
    return str(request.param)


def test_add_get_verify_erase_orphans_from_the_command_line(
    cli: Any, evidence_env: str, tmp_path: Path
) -> None:
    setup_plan(cli, tmp_path)
    jo = ["--as", "jo", "--key", str(tmp_path / "jo.key")]
    admin = ["--as", "admin"]
    assert cli(*jo, "act", "R1.1", "start")[0] == 0
    pdf = tmp_path / "report.doc"  # the name says Word; the content says PDF
    pdf.write_bytes(b"%PDF-1.4\n% audit report\n" + b"x" * 5000)
    code, out, err = cli(
        *jo,
        "evidence",
        "add",
        "R1.1",
        str(pdf),
        "--description",
        "External audit report",
        "--effective-date",
        "2023-03-31",
    )
    assert code == 0, err
    sha = hashlib.sha256(pdf.read_bytes()).hexdigest()
    code, out, _ = cli("history", "R1.1", "--json")
    assert '"media_type": "application/pdf"' in out and sha in out

    fetched = tmp_path / "out" / "copy.pdf"
    code, out, err = cli("evidence", "get", sha, "-o", str(fetched))
    assert code == 0, err
    assert fetched.read_bytes() == pdf.read_bytes()

    code, out, _ = cli("evidence", "verify")
    assert code == 0 and "1 ok" in out

    # A refused append after a successful upload leaves an orphan: listed, never deleted.
    stray = tmp_path / "stray.txt"
    stray.write_text("uploaded by someone who may not attach it")
    code, _, err = cli(
        "--as",
        "sam",
        "--key",
        str(tmp_path / "sam.key"),
        "evidence",
        "add",
        "R1.2",
        str(stray),
        "--description",
        "x",
        "--effective-date",
        "2023-01-01",
    )
    assert code == 3 and "west-mercia-police" in err
    code, out, _ = cli("evidence", "orphans")
    assert out.split() == [hashlib.sha256(stray.read_bytes()).hexdigest()]

    # Lawful erasure: a signed event, then the key is destroyed; verify says erased.
    code, out, err = cli(
        *admin, "evidence", "erase", "R1.1", sha, "--reason", "court order 2024/17"
    )
    assert code == 0, err
    code, _, err = cli("evidence", "get", sha, "-o", str(tmp_path / "again.pdf"))
    assert code == 2 and "erased" in err and not (tmp_path / "again.pdf").exists()
    code, out, _ = cli("evidence", "verify")
    assert code == 0 and "1 erased" in out


def test_bad_evidence_input_is_a_clear_error(cli: Any, tmp_path: Path) -> None:
    setup_plan(cli, tmp_path)
    jo = ["--as", "jo", "--key", str(tmp_path / "jo.key")]
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    code, _, err = cli(
        *jo,
        "evidence",
        "add",
        "R1.1",
        str(empty),
        "--description",
        "x",
        "--effective-date",
        "2023-01-01",
    )
    assert code == 2 and "empty" in err
    code, _, err = cli(
        *jo,
        "evidence",
        "add",
        "R1.1",
        str(tmp_path / "nope.pdf"),
        "--description",
        "x",
        "--effective-date",
        "2023-01-01",
    )
    assert code == 2 and "no such file" in err
    code, _, err = cli("evidence", "get", "e" * 64, "-o", str(tmp_path / "x"))
    assert code == 2 and "no evidence blob" in err and not (tmp_path / "x").exists()
    code, out, _ = cli("evidence", "orphans")
    assert out == ""


def test_verify_reports_missing_and_altered_blobs(cli: Any, tmp_path: Path) -> None:
    setup_plan(cli, tmp_path)
    jo = ["--as", "jo", "--key", str(tmp_path / "jo.key")]
    assert cli(*jo, "act", "R1.1", "start")[0] == 0
    paths = []
    for name in ("a.txt", "b.txt"):
        path = tmp_path / name
        path.write_text(f"evidence {name}")
        assert (
            cli(
                *jo,
                "evidence",
                "add",
                "R1.1",
                str(path),
                "--description",
                name,
                "--effective-date",
                "2023-01-01",
            )[0]
            == 0
        )
        paths.append(path)
    store = LocalEvidenceStore(cli.config.evidence_dir)
    shas = [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]
    (store.root / store.key_for(shas[0])).unlink()
    altered = store.root / store.key_for(shas[1])
    altered.chmod(0o644)
    altered.write_text("evidence B.txt")
    code, out, err = cli("evidence", "verify")
    assert code == 1 and "1 missing" in out and "1 altered" in out
    assert f"{shas[0]} (R1.1): missing" in err and f"{shas[1]} (R1.1): altered" in err
