"""Erasure either completes or is left to a retry that completes it (issue 17, item 1).

Reproduced before the fix: `evidence erase` on the default (plain, local) store appended
the signed `action.evidence_erased`, then failed (exit 2) because the store could not
crypto-erase; the blob stayed downloadable, and a retry was refused as "already erased".
The order now (api/application/erasure.py): ask the store whether it can erase, append
the signed entry, erase in the store; a retry of an erasure whose store side failed
completes it. Runs on both event stores, on the local folder (plain and encrypted) and on
the real Ceph S3 server of the session.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from api.application.erasure import erase
from domain import Action, DomainError, Status
from evidence_store.base import BlobStatus, ErasedBlob, ErasureUnsupported, storage_key
from evidence_store.crypto import FileKeyStore
from evidence_store.local import LocalEvidenceStore
from evidence_store.s3 import S3EvidenceStore
from tests.support.sample_plan import setup_plan
from tests.support.world import World, make_world

JO = ("--as", "jo")
ADMIN = ("--as", "admin")


def _s3_env(monkeypatch: pytest.MonkeyPatch, server: Any) -> None:
    monkeypatch.setenv("INQUIRY_LEDGER_S3_BUCKET", f"erase-{uuid.uuid4().hex[:12]}")
    monkeypatch.setenv("INQUIRY_LEDGER_S3_ENDPOINT_URL", server.endpoint_url)
    monkeypatch.setenv("INQUIRY_LEDGER_S3_ACCESS_KEY_ID", server.access_key)
    monkeypatch.setenv("INQUIRY_LEDGER_S3_SECRET_ACCESS_KEY", server.secret_key)
    monkeypatch.setenv("INQUIRY_LEDGER_S3_RETENTION_DAYS", "1")


@pytest.fixture(params=["local-plain", "local-encrypted", "s3-encrypted"])
def store_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every store that can erase. (The `cli` fixture clears the store settings first.)"""
    request.getfixturevalue("cli")
    if request.param == "local-encrypted":
        monkeypatch.setenv("INQUIRY_LEDGER_EVIDENCE_ENCRYPTION", "on")
    elif request.param == "s3-encrypted":
        _s3_env(monkeypatch, request.getfixturevalue("ceph_s3"))
    return str(request.param)


def _attached(cli: Any, tmp_path: Path) -> str:
    """The sample plan, with one file attached to R1.1 by its officer; its SHA-256."""
    setup_plan(cli, tmp_path)
    jo = [*JO, "--key", str(tmp_path / "jo.key")]
    assert cli(*jo, "act", "R1.1", "start")[0] == 0
    minutes = tmp_path / "minutes.txt"
    minutes.write_bytes(b"minutes naming a child, to be erased lawfully\n")
    code, _, err = cli(
        *jo, "evidence", "add", "R1.1", str(minutes),
        "--description", "Minutes", "--effective-date", "2023-03-31",
    )  # fmt: skip
    assert code == 0, err
    return hashlib.sha256(minutes.read_bytes()).hexdigest()


def _erase(cli: Any, sha: str) -> tuple[int, str, str]:
    code, out, err = cli(*ADMIN, "evidence", "erase", "R1.1", sha, "--reason", "court order")
    return int(code), str(out), str(err)


def _readable(cli: Any, sha: str, tmp_path: Path) -> bool:
    out = tmp_path / f"copy-{uuid.uuid4().hex[:6]}"
    code, _, err = cli("evidence", "get", sha, "-o", str(out))
    assert code == 0 or "erased" in err, err
    return bool(code == 0)


def _erasures(cli: Any) -> int:
    code, out, _ = cli("history", "R1.1", "--json")
    assert code == 0
    return int(out.count(Action.EvidenceErased.TYPE))


def test_erasure_on_the_default_plain_local_store_completes(cli: Any, tmp_path: Path) -> None:
    """The reproduction: before the fix, exit 2 after the entry was appended, the blob
    still downloadable, and a retry refused as "already erased"."""
    sha = _attached(cli, tmp_path)
    blob = cli.config.evidence_dir / storage_key(sha)
    assert blob.is_file()
    code, out, err = _erase(cli, sha)
    assert code == 0, err
    assert "overwritten and deleted" in out and "action.evidence_erased" in out
    assert not blob.exists() and not _readable(cli, sha, tmp_path)
    assert (cli.config.home / "evidence-keys" / f"{sha}.erased").exists()
    code, out, _ = cli("evidence", "verify")
    assert code == 0 and "1 erased" in out
    code, out, err = _erase(cli, sha)  # again: nothing left to do, and not an error
    assert code == 0 and "already recorded" in out, err
    assert _erasures(cli) == 1


def _fail_once(monkeypatch: pytest.MonkeyPatch, store_class: Any) -> list[str]:
    """Make the store's erase raise once (a crash between the two steps), then work."""
    real: Callable[[Any, str], None] = store_class.erase
    failed: list[str] = []

    def erase_failing_once(self: Any, sha256: str) -> None:
        if not failed:
            failed.append(sha256)
            raise OSError(28, "No space left on device")
        real(self, sha256)

    monkeypatch.setattr(store_class, "erase", erase_failing_once)
    return failed


def test_a_store_failure_after_the_entry_is_reported_and_a_retry_completes_it(
    cli: Any, store_kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = _attached(cli, tmp_path)
    failed = _fail_once(
        monkeypatch, S3EvidenceStore if store_kind.startswith("s3") else LocalEvidenceStore
    )
    code, out, err = _erase(cli, sha)
    assert failed == [sha]
    assert code == 2 and "action.evidence_erased" in out  # appended, and said so
    assert "recorded in the log" in err and "run the same command again" in err
    assert "No space left on device" in err
    assert _readable(cli, sha, tmp_path)  # the gap, as it is...
    code, _, err = cli("evidence", "verify")
    assert code == 1 and "erasure recorded but still readable" in err  # ...and reported

    code, out, err = _erase(cli, sha)  # the retry completes instead of being refused
    assert code == 0, err
    assert "already recorded in the log; completed it" in out
    assert "can no longer be read" in out
    assert not _readable(cli, sha, tmp_path)
    code, out, _ = cli("evidence", "verify")
    assert code == 0 and "1 erased" in out
    assert _erasures(cli) == 1  # one signed erasure, not two


def test_a_plain_s3_bucket_refuses_and_nothing_is_recorded(
    cli: Any, ceph_s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _s3_env(monkeypatch, ceph_s3)
    monkeypatch.setenv("INQUIRY_LEDGER_EVIDENCE_ENCRYPTION", "off")
    sha = _attached(cli, tmp_path)
    code, out, err = _erase(cli, sha)
    assert code == 2 and "appended" not in out
    assert "plaintext under Object Lock" in err and "ENCRYPTION=on" in err
    assert _erasures(cli) == 0 and _readable(cli, sha, tmp_path)
    code, out, _ = cli("evidence", "verify")
    assert code == 0 and "1 ok" in out


# -- the application step by step, on the test world ---------------------------------------


@pytest.fixture
def world(config: Any, clock: Any) -> Any:
    w = make_world(config, clock)
    w.add_action("R1.1")
    w.client("council.officer").change_status("R1.1", Status.IN_PROGRESS)
    yield w
    w.ledger.close()


def _plain_store(world: World) -> LocalEvidenceStore:
    keys = FileKeyStore(world.config.home / "evidence-keys")
    return LocalEvidenceStore(world.config.evidence_dir, key_store=keys)


def test_a_refused_entry_erases_nothing(world: World) -> None:
    """Why the entry comes first: a refused append must leave the evidence as it was."""
    sha = world.evidence("R1.1", b"personal data")
    store = _plain_store(world)
    with pytest.raises(DomainError, match=r"rule: action\.erase_evidence"):
        erase(world.client("council.lead"), store, "R1.1", sha, "not theirs to erase")
    assert store.status(sha) is BlobStatus.OK


def test_a_store_that_cannot_erase_records_nothing(world: World) -> None:
    sha = world.evidence("R1.1", b"personal data")
    size = world.ledger.tree_size()

    class ServersStore:  # a client's view of the server's store (api/cli/remote.py)
        encrypted = False

    with pytest.raises(ErasureUnsupported, match="on the server's host"):
        erase(world.client("admin"), ServersStore(), "R1.1", sha, "lawful")
    without_tombstones = LocalEvidenceStore(world.config.evidence_dir)
    with pytest.raises(ErasureUnsupported, match="tombstones"):
        erase(world.client("admin"), without_tombstones, "R1.1", sha, "lawful")
    assert world.ledger.tree_size() == size


def test_a_plain_local_erasure_deletes_the_blob_and_leaves_a_tombstone(world: World) -> None:
    store = _plain_store(world)
    blob = store.put(BytesIO(b"plain personal data"))
    path = store.root / blob.storage_key
    store.erase(blob.sha256)
    assert not path.exists() and list(store.stored_hashes()) == []
    assert store.status(blob.sha256) is BlobStatus.ERASED
    with pytest.raises(ErasedBlob):
        store.put(BytesIO(b"plain personal data"))
    store.erase(blob.sha256)  # idempotent
    # The plaintext put back behind the store's back (a file-level backup): not erased.
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"plain personal data")
    assert store.status(blob.sha256) is BlobStatus.OK
    store.erase(blob.sha256)
    assert not path.exists() and store.status(blob.sha256) is BlobStatus.ERASED
