"""Go's golang.org/x/mod/sumdb/note, which nobody here wrote, opens the log's checkpoints
now that they carry a second, ML-DSA-44 signature line (ledger/auditor/mldsa.py): it knows
only the Ed25519 log key, verifies that line, and ignores the other as a signature by an
unknown key (C2SP signed-note: "verifiers MUST ignore signatures from unknown keys"), even
when that line is tampered with. So the post-quantum line breaks no Ed25519 verifier.

Built as tests/interop/test_go_tlog.py builds its program (GOPATH mode, offline, from
Debian's golang-golang-x-mod-dev); without `go` skipped, except in CI, where it fails.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from ledger.auditor.mldsa import open_pq_note
from ledger.pqkeys import pq_binding
from tests.support.go import build_go
from tests.support.world import ORIGIN, World

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def noteopen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("go") / "noteopen"
    return build_go(HERE / "noteopen.go", out, needs="golang.org/x/mod/sumdb/note")


def go_open(program: Path, note: str, vkey: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(program), "-vkey", vkey], input=note, capture_output=True, text=True, timeout=60
    )


def _tamper_pq_line(note: str) -> str:
    """The note with one byte of its ML-DSA-44 signature flipped (its key id kept)."""
    text, _, block = note.rpartition("\n\n")
    lines = block.splitlines()
    name, blob = lines[1].rsplit(" ", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[100] ^= 1
    lines[1] = f"{name} {base64.b64encode(bytes(raw)).decode()}"
    return f"{text}\n\n" + "".join(line + "\n" for line in lines)


@pytest.mark.parametrize("config", ["sqlite"], indirect=True)
def test_go_opens_a_checkpoint_carrying_the_ml_dsa_line(world: World, noteopen: Path) -> None:
    world.client("council.officer").comment("R1.1", "a comment")
    note = world.checkpoint().note
    binding = pq_binding(world.ledger.tables)
    assert binding is not None
    assert open_pq_note(note, binding.pq)  # the second line is there, and verifies here
    assert note.count("\n\u2014 ") == 2

    opened = go_open(noteopen, note, world.vkey.encode())
    assert opened.returncode == 0, opened.stderr
    text, _, _ = note.rpartition("\n\n")
    assert opened.stdout.startswith(text + "\n")
    assert f"verified {ORIGIN} {world.vkey.key_hash.hex()}" in opened.stdout
    assert f"unverified {ORIGIN} {binding.pq.key_hash.hex()}" in opened.stdout

    # A tampered post-quantum line is still just a line by a key Go does not know.
    tampered = _tamper_pq_line(note)
    assert tampered != note
    opened = go_open(noteopen, tampered, world.vkey.encode())
    assert opened.returncode == 0, opened.stderr
    assert f"unverified {ORIGIN} {binding.pq.key_hash.hex()}" in opened.stdout

    # ...while a tampered Ed25519 line is refused, so Go really checked the log key.
    text, _, block = note.rpartition("\n\n")
    ed_line, pq_line = block.splitlines()
    name, blob = ed_line.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[10] ^= 1
    forged = f"{text}\n\n{name} {base64.b64encode(bytes(raw)).decode()}\n{pq_line}\n"
    assert go_open(noteopen, forged, world.vkey.encode()).returncode == 1
