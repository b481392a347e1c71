"""The chair's trusted base runs alone: importing `ledger.auditor`, or running
``python -m ledger.auditor``, loads nothing of this project outside `ledger.auditor` (and the
docstring-only package `ledger`) and no third-party package but `cryptography`.

Each check runs in a fresh interpreter (`python -I`, the repository put on sys.path by
hand; `python -E -s -m` from the repository for the command line), so nothing the test
process imported can leak in.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.auditor.note import VerifierKey
from ledger.bundle import export_bundle
from ledger.config import LedgerConfig
from ledger.keys import KeyPair
from tests.support.clock import Clock
from tests.support.world import ORIGIN, make_world

REPO = Path(__file__).resolve().parents[2]
PROJECT = ("api", "domain", "evidence_store", "ledger", "projections", "bench", "tests")
#: What `cryptography` itself loads (its Rust and cffi bindings), and multiprocessing's
#: alias of the main module (the auditor's process pool).
ALLOWED = {"cryptography", "_cffi_backend", "_openssl", "__mp_main__"}

#: Runs in a fresh `python -I`: puts the repository first on sys.path, imports or runs
#: (as `python -m` does) the auditor, then prints the modules that this loaded.
PROBE = """\
import json, runpy, sys
sys.path[:0] = [sys.argv[1]]
before = set(sys.modules)
code = None
if sys.argv[2] == "import":
    import ledger.auditor, ledger.auditor.__main__
else:
    sys.argv = ["ledger.auditor", *sys.argv[3:]]
    try:
        runpy.run_module("ledger.auditor", run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        code = stop.code
print(json.dumps({"code": code, "modules": sorted(set(sys.modules) - before)}))
"""


def _python(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )


def _probe(*args: str) -> tuple[int | None, list[str]]:
    result = _python("-I", "-c", PROBE, str(REPO), *args, cwd=Path("/"))
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.splitlines()[-1])
    return answer["code"], answer["modules"]


def _foreign(modules: list[str]) -> list[str]:
    """Modules that are neither the auditor, the standard library nor cryptography."""
    wrong = []
    for name in modules:
        top = name.split(".")[0]
        if top in PROJECT:
            if name != "ledger" and not (name + ".").startswith("ledger.auditor."):
                wrong.append(name)
        elif top not in sys.stdlib_module_names and top not in ALLOWED:
            wrong.append(name)
    return wrong


def test_importing_the_auditor_loads_only_itself_the_stdlib_and_cryptography() -> None:
    _, loaded = _probe("import")
    assert "ledger.auditor.audit" in loaded and "cryptography" in loaded
    assert _foreign(loaded) == []
    for banned in ("eventsourcing", "psycopg", "fastapi", "domain", "ledger.service"):
        assert not any(m == banned or m.startswith(banned + ".") for m in loaded), banned


def test_ledger_package_holds_no_code() -> None:
    source = (REPO / "ledger" / "__init__.py").read_text()
    assert source.strip().startswith('"""') and source.count("\n") <= 1, source


def test_python_m_ledger_auditor_help_works() -> None:
    result = _python("-E", "-s", "-m", "ledger.auditor", "--help")
    assert result.returncode == 0, result.stderr
    assert "--log-key" in result.stdout and "--since" in result.stdout


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("standalone")
    world = make_world(LedgerConfig(home=folder / "home"), Clock())
    world.add_action("R1.1")
    world.client("sig").comment("R1.1", "checked on the chair's own machine")
    world.checkpoint()
    export_bundle(world.ledger, world.vkey.encode(), folder / "bundle.zip")
    (folder / "pinned.vkey").write_text(world.vkey.encode() + "\n")
    (folder / "trust.keys").write_text(world.trust)
    world.ledger.close()
    return folder / "bundle.zip", folder / "pinned.vkey"


def test_python_m_ledger_auditor_audits_a_bundle_importing_nothing_else(
    bundle: tuple[Path, Path], tmp_path: Path
) -> None:
    path, pinned = bundle
    trust = pinned.with_name("trust.keys")
    code, loaded = _probe(
        "run", str(path), "--log-key", str(pinned), "--trust", str(trust), "--report", str(tmp_path)
    )
    assert code == 0
    report = json.loads((tmp_path / "verification-report.json").read_text())
    assert report["ok"] and report["counts"]["entries"] > 0
    assert "ledger.auditor.audit" in loaded and "concurrent.futures.process" in loaded
    assert _foreign(loaded) == []


def test_python_m_ledger_auditor_fails_against_another_pinned_key(
    bundle: tuple[Path, Path], tmp_path: Path
) -> None:
    path, _ = bundle
    other = tmp_path / "other.vkey"
    other.write_text(VerifierKey(ORIGIN, KeyPair.generate().public_key).encode() + "\n")
    result = _python("-E", "-s", "-m", "ledger.auditor", str(path), "--log-key", str(other))
    assert result.returncode == 1, result.stderr
    assert "FAILED" in result.stdout and "PROBLEM" in result.stderr
