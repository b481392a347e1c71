"""A hostile bundle fails closed, in bounded memory and time (issue 17, item 2).

Reproduced before the fix: a 432 KiB zip whose entries.jsonl ends in one 440 MiB line
(deflate packs a run of one byte about 1000 to 1) drove `python -m ledger.auditor` to
911 MB resident, and the same trick in bundle.json, keys.json, checkpoints.jsonl or the
evidence manifest did the same (each read whole, then decoded into a second copy); a
1.7 MB zip repeating one entry a million times took 143 s. The bounds are in
ledger/auditor/limits.py.

Each case runs the auditor in a fresh interpreter, started by a small parent process
that then reports the peak resident memory of its children (getrusage, RUSAGE_CHILDREN:
the auditor and its signature workers) and the wall time. Bounds asserted: 300 MB and
60 s, both generous. Measured after the fix on a 2-core machine: 31-40 MB and 0.1-0.3 s
for every case here but the memory-limit one (72 MB under a 40 MiB budget); before it,
911 MB for the long lines and 143 s for the repeated entries.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.auditor.checkpoint import Checkpoint
from ledger.bundle import export_bundle
from ledger.config import LedgerConfig
from tests.support.clock import Clock
from tests.support.world import ORIGIN, make_world

REPO = Path(__file__).resolve().parents[2]
MIB = 1 << 20
MAX_RSS_MB = 300
MAX_SECONDS = 60

#: Runs in a fresh interpreter: the command given, then its children's peak RSS and time.
MEASURE = """\
import json, resource, subprocess, sys, time
started = time.monotonic()
run = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=600)
print(json.dumps({
    "code": run.returncode, "stdout": run.stdout, "stderr": run.stderr,
    "seconds": time.monotonic() - started,
    "rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
}))
"""

Rewrite = Callable[[bytes], Iterator[bytes]]


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An honest folder bundle, its pinned log key and trust file, and (for crafting a
    checkpoint an operator holding the log key could sign) the world's log key."""
    folder = tmp_path_factory.mktemp("hostile")
    world = make_world(LedgerConfig(home=folder / "home"), Clock())
    world.add_action("R1.1")
    world.client("sig").comment("R1.1", "an honest comment")
    world.checkpoint()
    export_bundle(world.ledger, world.vkey.encode(), folder / "bundle")
    (folder / "pinned.vkey").write_text(world.vkey.encode() + "\n")
    (folder / "trust.keys").write_text(world.trust)
    huge = Checkpoint(ORIGIN, 2**40, b"\x07" * 32).sign(world.log_signer)
    (folder / "huge-checkpoint.json").write_text(json.dumps({"tree_size": 2**40, "note": huge}))
    world.ledger.close()
    return {
        "bundle": folder / "bundle",
        "pinned": folder / "pinned.vkey",
        "trust": folder / "trust.keys",
        "huge": folder / "huge-checkpoint.json",
    }


def _zip(genuine: dict[str, Path], out: Path, rewrites: dict[str, Rewrite]) -> Path:
    """The genuine bundle as a zip, with `rewrites[name](original bytes)` streamed in place
    of those members (never all in memory: a member may inflate to hundreds of MiB)."""
    base = genuine["bundle"]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bundle:
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            name = path.relative_to(base).as_posix()
            if name not in rewrites:
                bundle.write(path, name)
                continue
            with bundle.open(name, "w", force_zip64=True) as member:
                for piece in rewrites[name](path.read_bytes()):
                    member.write(piece)
    return out


def _run(
    genuine: dict[str, Path], bundle: Path, *extra: str, cli: str = "auditor"
) -> dict[str, Any]:
    command = (
        [sys.executable, "-m", "ledger.auditor", str(bundle)]
        if cli == "auditor"
        else [sys.executable, "-m", "api.cli", "verify-bundle", str(bundle)]
    )
    command += ["--log-key", str(genuine["pinned"]), "--trust", str(genuine["trust"]), *extra]
    if cli != "auditor":
        command += ["--report", str(bundle.parent / f"{bundle.stem}-report")]
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, *command],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    measured: dict[str, Any] = json.loads(result.stdout)
    return measured


def _run_of(byte: bytes, mib: int, *, keep: bool = False) -> Rewrite:
    """`mib` MiB of one byte and no newline, after the original content if `keep`."""

    def rewrite(original: bytes) -> Iterator[bytes]:
        if keep:
            yield original
        block = byte * MIB
        for _ in range(mib):
            yield block

    return rewrite


def _repeat_last_line(times: int, before: bytes = b"") -> Rewrite:
    def rewrite(original: bytes) -> Iterator[bytes]:
        yield original + before
        last = original.splitlines()[-1] + b"\n"
        for _ in range(times // 1000):
            yield last * 1000

    return rewrite


def _assert_refused(measured: dict[str, Any], reason: str) -> None:
    """Within the bounds (checked first: what failed before the fix), then exit 1 and
    one line "bundle too large/hostile: ..."."""
    assert measured["rss_mb"] < MAX_RSS_MB, measured["rss_mb"]
    assert measured["seconds"] < MAX_SECONDS, measured["seconds"]
    assert measured["code"] == 1, measured
    assert measured["stderr"].splitlines() == [measured["stderr"].strip()], measured["stderr"]
    assert measured["stderr"].startswith(f"bundle too large/hostile: {reason}"), measured
    assert "Traceback" not in measured["stderr"] and measured["stdout"] == ""


@pytest.mark.parametrize("cli", ["auditor", "verify-bundle"])
def test_the_reported_bundle_a_432_kib_zip_with_a_440_mib_entry_line(
    genuine: dict[str, Path], tmp_path: Path, cli: str
) -> None:
    bundle = _zip(genuine, tmp_path / "b.zip", {"entries.jsonl": _run_of(b"a", 440, keep=True)})
    # The reported 432 KiB, and the genuine bundle's post-quantum signatures and key
    # (ledger/auditor/mldsa.py: some 14 kB that deflate cannot pack) on top.
    assert bundle.stat().st_size < 470 * 1024
    measured = _run(genuine, bundle, cli=cli)
    _assert_refused(measured, "line 14 of entries.jsonl is longer than 4194304 bytes")


@pytest.mark.parametrize(
    ("member", "byte", "reason"),
    [
        ("bundle.json", b" ", "bundle.json is larger than 1048576 bytes"),
        ("keys.json", b" ", "keys.json is larger than"),
        ("keys.json", b"[", "keys.json is larger than"),  # deep JSON, too
        ("checkpoints.jsonl", b"a", "line 1 of checkpoints.jsonl is longer than"),
        ("evidence/manifest.jsonl", b"a", "line 1 of evidence/manifest.jsonl is longer than"),
    ],
)
def test_a_member_inflating_to_160_mib_is_refused_unread(
    genuine: dict[str, Path], tmp_path: Path, member: str, byte: bytes, reason: str
) -> None:
    bundle = _zip(genuine, tmp_path / "b.zip", {member: _run_of(byte, 160)})
    assert bundle.stat().st_size < 200 * 1024
    _assert_refused(_run(genuine, bundle), reason)


def test_a_million_copies_of_one_entry_are_not_all_read(
    genuine: dict[str, Path], tmp_path: Path
) -> None:
    """A bundle holding more entries than its checkpoint covers (before: 143 s)."""
    bundle = _zip(genuine, tmp_path / "b.zip", {"entries.jsonl": _repeat_last_line(1_000_000)})
    _assert_refused(_run(genuine, bundle), "entries.jsonl holds more than 1013 entries")


def test_a_checkpoint_claiming_2_40_entries_allocates_nothing_for_them(
    genuine: dict[str, Path], tmp_path: Path
) -> None:
    """An operator holding the log key signs a checkpoint of 2^40 entries, then repeats
    one entry a million times to fill the room it claims: repetition is refused."""
    huge = genuine["huge"].read_bytes() + b"\n"
    bundle = _zip(
        genuine,
        tmp_path / "b.zip",
        {
            "checkpoints.jsonl": lambda original: iter([original, huge]),
            "entries.jsonl": _repeat_last_line(1_000_000),
        },
    )
    _assert_refused(_run(genuine, bundle), "entries.jsonl repeats lines more than 1000 times")
    # Without the copies: an ordinary finding that the checkpoint covers entries not here.
    bundle = _zip(
        genuine, tmp_path / "c.zip", {"checkpoints.jsonl": lambda original: iter([original, huge])}
    )
    measured = _run(genuine, bundle)
    assert measured["code"] == 1 and "covers 1099511627776 entries" in measured["stderr"]
    assert measured["rss_mb"] < MAX_RSS_MB and measured["seconds"] < MAX_SECONDS


def test_a_million_copies_of_one_checkpoint_are_not_all_verified(
    genuine: dict[str, Path], tmp_path: Path
) -> None:
    bundle = _zip(genuine, tmp_path / "b.zip", {"checkpoints.jsonl": _repeat_last_line(1_000_000)})
    _assert_refused(_run(genuine, bundle), "checkpoints.jsonl repeats lines more than 1000")


def test_an_entry_nested_too_deep_is_a_malformed_entry_not_a_crash(
    genuine: dict[str, Path], tmp_path: Path
) -> None:
    """Before: a RecursionError out of the canonicaliser, and a traceback."""
    deep = b'{"\xc3\xa9":' * 600 + b"1" + b"}" * 600 + b"\n"
    bundle = _zip(genuine, tmp_path / "b.zip", {"entries.jsonl": lambda o: iter([o, deep])})
    measured = _run(genuine, bundle)
    assert measured["code"] == 1 and "Traceback" not in measured["stderr"], measured
    assert "malformed entry: JSON nested more than 64 levels deep" in measured["stderr"]


def test_past_its_memory_budget_the_audit_is_refused_not_swapped(
    genuine: dict[str, Path], tmp_path: Path
) -> None:
    """Within every bound, a 4 MiB entry line of empty arrays parses into some 110 MB of
    objects; under --max-memory 40 (MiB) that is refused as one line, like the rest."""
    arrays = b"[" + b"[]," * (4 * MIB // 3 - 1) + b"[]]\n"
    assert len(arrays) - 1 <= 4 * MIB  # the longest line allowed, newline aside
    bundle = _zip(genuine, tmp_path / "b.zip", {"entries.jsonl": lambda o: iter([o, arrays])})
    measured = _run(genuine, bundle, "--max-memory", "40")
    _assert_refused(measured, "the audit ran out of the memory it may use")
    unlimited = _run(genuine, bundle, "--max-memory", "0")
    assert unlimited["code"] == 1 and "malformed entry" in unlimited["stderr"]
    assert unlimited["rss_mb"] < MAX_RSS_MB
