"""Files the ledger and the local evidence store create are their owner's only: the
database holds every entry, a blob may hold personal data about children (issue 17)."""

from __future__ import annotations

import stat
from io import BytesIO
from pathlib import Path

from evidence_store.local import LocalEvidenceStore
from ledger.config import LedgerConfig
from ledger.service import Ledger


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_ledger_is_its_owners_only(tmp_path: Path) -> None:
    config = LedgerConfig(home=tmp_path / "home")
    with Ledger(config):
        pass
    assert _mode(config.home) == 0o700
    assert _mode(config.sqlite_path) == 0o600


def test_a_stored_blob_and_its_folders_are_their_owners_only(tmp_path: Path) -> None:
    store = LocalEvidenceStore(tmp_path / "evidence")
    blob = store.put(BytesIO(b"minutes of the meeting"))
    path = tmp_path / "evidence" / blob.storage_key
    assert _mode(path) == 0o400
    assert _mode(tmp_path / "evidence") == 0o700
    assert _mode(path.parent) == 0o700
    assert b"".join(store.read(blob.sha256)) == b"minutes of the meeting"
