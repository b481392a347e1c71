"""A backup's scrypt parameters are bounded before scrypt runs (issue 17, item 3).

The parameters are read from manifest.json, which is authenticated only by a MAC under
the key they derive: whoever hands over a backup chooses them. Before the fix `restore`
ran scrypt with whatever the manifest asked (n=2^20, r=32, p=16: 4 GiB and seconds of
CPU per attempt) and only then found the MAC wrong. Here scrypt is watched: a call with
parameters above the writer's own fails the test at once, so the hostile cost is never
paid even when the check is missing.
"""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

import ledger.backup_archive as archive
from api.application.backup import restore
from ledger.backup_archive import (
    MANIFEST,
    SCRYPT_N,
    SCRYPT_P,
    SCRYPT_R,
    ArchiveReader,
    ArchiveWriter,
    BackupError,
)
from ledger.config import LedgerConfig

PASSPHRASE = b"correct horse battery staple"


class _WatchedScrypt:
    """Stands in for cryptography's Scrypt: records each call's parameters and refuses
    to run any above what the product writes (the test would otherwise pay for them)."""

    calls: ClassVar[list[tuple[int, int, int]]] = []

    def __init__(self, *, salt: bytes, length: int, n: int, r: int, p: int) -> None:
        self.calls.append((n, r, p))
        if n > SCRYPT_N or r > SCRYPT_R or p > SCRYPT_P:
            raise AssertionError(f"scrypt was run with hostile parameters n={n} r={r} p={p}")
        self.real = _REAL_SCRYPT(salt=salt, length=length, n=n, r=r, p=p)

    def derive(self, key_material: bytes) -> bytes:
        derived: bytes = self.real.derive(key_material)
        return derived


_REAL_SCRYPT = Scrypt


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    _WatchedScrypt.calls = []
    monkeypatch.setattr(archive, "Scrypt", _WatchedScrypt)
    return _WatchedScrypt.calls


def _backup(path: Path) -> Path:
    writer = ArchiveWriter(path, PASSPHRASE)
    writer.add("db/events.jsonl", b"[]\n")
    writer.finish({"origin": "test.example/ledger"})
    return path


def _with_kdf(source: Path, out: Path, **kdf: Any) -> Path:
    """A copy of the backup whose manifest asks for other scrypt parameters (made by
    someone without the passphrase: the MAC is left as it was)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(out, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == MANIFEST:
                manifest = json.loads(data)
                manifest["kdf"].update(kdf)
                data = json.dumps(manifest, indent=1, sort_keys=True).encode()
            zout.writestr(name, data)
    return out


@pytest.mark.parametrize(
    ("kdf", "named"),
    [
        ({"n": 2**20, "r": 32, "p": 16}, "n=1048576 r=32 p=16"),
        ({"n": 2**16}, "n=65536 r=8 p=1"),
        ({"r": 9}, "n=32768 r=9 p=1"),
        ({"p": 2}, "n=32768 r=8 p=2"),
        ({"n": 3 * 2**10}, "n=3072 r=8 p=1"),  # not a power of two
    ],
)
def test_a_manifest_asking_for_costly_scrypt_is_refused_before_scrypt_runs(
    tmp_path: Path, scrypt_calls: list[tuple[int, int, int]], kdf: dict[str, int], named: str
) -> None:
    hostile = _with_kdf(_backup(tmp_path / "genuine.zip"), tmp_path / "hostile.zip", **kdf)
    scrypt_calls.clear()  # the writer's own derivation
    started = time.monotonic()
    with pytest.raises(BackupError, match="key-derivation parameters are out of bounds") as caught:
        ArchiveReader(hostile, PASSPHRASE)
    assert named in str(caught.value) and "nothing was derived" in str(caught.value)
    assert scrypt_calls == []
    assert time.monotonic() - started < 5  # measured: milliseconds; scrypt n=2^20 takes seconds


def test_restore_of_a_tampered_manifest_restores_nothing(
    tmp_path: Path, scrypt_calls: list[tuple[int, int, int]]
) -> None:
    hostile = _with_kdf(_backup(tmp_path / "genuine.zip"), tmp_path / "h.zip", n=2**20, r=32, p=16)
    scrypt_calls.clear()
    target = LedgerConfig(home=tmp_path / "restored")
    with pytest.raises(BackupError, match=r"out of bounds: scrypt n=1048576"):
        restore(target, hostile, PASSPHRASE)
    assert scrypt_calls == []
    assert not target.home.exists() or not any(target.home.iterdir())
    assert not list(tmp_path.glob(".restored.restore-*"))


def test_the_parameters_the_product_writes_still_open(
    tmp_path: Path, scrypt_calls: list[tuple[int, int, int]]
) -> None:
    path = _backup(tmp_path / "genuine.zip")
    with ArchiveReader(path, PASSPHRASE) as reader:
        assert reader.read("db/events.jsonl") == b"[]\n"
    assert scrypt_calls[-1] == (SCRYPT_N, SCRYPT_R, SCRYPT_P)


def test_string_or_oversized_parameters_are_malformed_not_derived(
    tmp_path: Path, scrypt_calls: list[tuple[int, int, int]]
) -> None:
    genuine = _backup(tmp_path / "genuine.zip")
    scrypt_calls.clear()
    hostile_kdfs: list[dict[str, Any]] = [{"n": "32768"}, {"r": True}, {"n": 10**400}]
    for i, kdf in enumerate(hostile_kdfs):
        hostile = _with_kdf(genuine, tmp_path / f"h{i}.zip", **kdf)
        with pytest.raises(BackupError, match=r"malformed|out of bounds"):
            ArchiveReader(hostile, PASSPHRASE)
    assert scrypt_calls == []


def test_a_manifest_too_large_to_be_genuine_is_refused_unread(tmp_path: Path) -> None:
    """A zip bomb in place of manifest.json (unauthenticated, 66 MiB of spaces in a 66 KiB
    member) is refused after reading one byte past the limit, not parsed."""
    path = tmp_path / "bomb.zip"
    block = b" " * (1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout, zout.open(MANIFEST, "w") as m:
        for _ in range(66):
            m.write(block)
    with pytest.raises(BackupError, match=r"manifest\.json is larger than"):
        ArchiveReader(path, PASSPHRASE)
