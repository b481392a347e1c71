"""Opening the local store sweeps the temporaries of uploads cut short (issue 18, item 1).

Reproduced before the fix: an upload killed between its temporary file and the link
left `evidence/tmp/tmp…` (a copy of the content) for ever; nothing removed it. Now
opening the store removes temporaries unwritten for an hour (evidence_store/local.py,
STALE_AFTER_SECONDS), and only those: an upload in progress elsewhere writes its file
continuously, so its mtime is fresh, and finished blobs are never touched.
"""

from __future__ import annotations

import logging
import os
import time
from io import BytesIO
from pathlib import Path

import pytest

from evidence_store.local import STALE_AFTER_SECONDS, LocalEvidenceStore


def _temporary(folder: Path, name: str, age: float, content: bytes = b"part of a file") -> Path:
    path = folder / name
    path.write_bytes(content)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_opening_the_store_removes_stale_temporaries_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "evidence"
    blob = LocalEvidenceStore(root).put(BytesIO(b"a finished blob"))
    tmp = root / "tmp"
    assert list(tmp.iterdir()) == []  # a finished upload leaves no temporary
    crashed = [
        _temporary(tmp, "tmpcrashed1", STALE_AFTER_SECONDS + 60, b"personal data"),
        _temporary(tmp, "tmpcrashed2", 7 * 24 * 3600),
    ]
    # A crash after the link, before the temporary was removed: a second name of a blob.
    final = root / blob.storage_key
    linked = tmp / "tmplinked"
    os.link(final, linked)
    then = time.time() - 2 * STALE_AFTER_SECONDS
    os.utime(linked, (then, then))
    in_progress = _temporary(tmp, "tmpuploading", STALE_AFTER_SECONDS - 60)
    just_started = _temporary(tmp, "tmpjuststarted", 0)
    not_ours = _temporary(tmp, "notes.txt", 30 * 24 * 3600)

    with caplog.at_level(logging.INFO, logger="inquiry_ledger.evidence"):
        store = LocalEvidenceStore(root)

    assert not any(path.exists() for path in [*crashed, linked])
    assert in_progress.exists() and just_started.exists() and not_ours.exists()
    assert final.read_bytes() == b"a finished blob" and store.verify(blob.sha256)
    assert list(store.stored_hashes()) == [blob.sha256]
    logged = [r.getMessage() for r in caplog.records if r.name == "inquiry_ledger.evidence"]
    assert len(logged) == 1 and "removed 3 stale upload temporaries" in logged[0]
    assert "tmpcrashed" not in logged[0] and "personal data" not in logged[0]

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="inquiry_ledger.evidence"):
        LocalEvidenceStore(root)  # nothing stale left: nothing removed, nothing said
    assert in_progress.exists() and just_started.exists()
    assert not [r for r in caplog.records if r.name == "inquiry_ledger.evidence"]


def test_a_store_whose_folder_does_not_exist_yet_opens(tmp_path: Path) -> None:
    store = LocalEvidenceStore(tmp_path / "not-yet")
    assert not (tmp_path / "not-yet").exists()  # opening creates nothing
    assert store.put(BytesIO(b"first")).size == 5
