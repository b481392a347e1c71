"""The layout's rules that import-linter cannot state: no private name crosses a module
boundary, no test module imports another, modules stay small, and the import contracts in
pyproject.toml (run by `make lint`) hold and really catch what they claim to."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "ledger", "evidence_store", "projections", "api")
MAX_LINES = 500
#: A module may be longer if its docstring says why, in a sentence starting with this.
LONG_BECAUSE = "Longer than 500 lines because"


def _modules(*roots: str) -> Iterator[Path]:
    for root in roots:
        yield from sorted((ROOT / root).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports_from(tree: ast.AST) -> Iterator[ast.ImportFrom]:
    for node in ast.walk(tree):  # function-level imports count too
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node


def test_no_private_name_is_imported_from_another_module() -> None:
    crossings = []
    for path in _modules(*PACKAGES, "bench"):  # tests may test private helpers
        tree = ast.parse(path.read_text(), str(path))
        for node in _imports_from(tree):
            if node.module is None or node.module.split(".")[0] not in PACKAGES:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    crossings.append(f"{where} imports {alias.name} from {node.module}")
    assert not crossings, "\n".join(crossings)


def test_test_modules_import_only_the_support_package_of_the_tests() -> None:
    wrong = []
    for path in _modules("tests"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                outside_support = parts[0] == "tests" and len(parts) > 1 and parts[1] != "support"
                a_test = name == "tests.conftest" or any(p.startswith("test_") for p in parts)
                if outside_support and a_test:
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_modules_are_small_or_say_why_they_are_not() -> None:
    long = []
    for path in _modules(*PACKAGES):
        lines = path.read_text().count("\n")
        if lines > MAX_LINES:
            docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
            if LONG_BECAUSE not in " ".join(docstring.split()):
                long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not long, f"over {MAX_LINES} lines with no '{LONG_BECAUSE} …' in the docstring:\n" + (
        "\n".join(long)
    )


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"]
    env = {"PYTHONPATH": f"{cwd}{':' + str(ROOT) if cwd != ROOT else ''}", "PATH": "/usr/bin"}
    return subprocess.run(
        [*command, "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_import_contracts_hold() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("imports", "kept"),
    [
        ("import hashlib\nfrom cryptography.exceptions import InvalidSignature\n", True),
        ("from trusted import helper\nimport json\n", True),
        ("from outside import thing\n", False),  # a sibling outside the trusted package
        ("def late():\n    import yaml\n", False),  # a third-party package, in a function
    ],
)
def test_the_standalone_contract_refuses_what_it_does_not_allow(
    tmp_path: Path, imports: str, kept: bool
) -> None:
    """The custom contract behind "the auditor imports only the standard library and
    cryptography", run on a small package made here."""
    (tmp_path / "trusted").mkdir()
    (tmp_path / "trusted" / "__init__.py").write_text("")
    (tmp_path / "trusted" / "helper.py").write_text("")
    (tmp_path / "trusted" / "check.py").write_text(imports)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "__init__.py").write_text("thing = 1\n")
    (tmp_path / ".importlinter").write_text(
        textwrap.dedent(
            """\
            [importlinter]
            root_packages =
                trusted
                outside
            include_external_packages = True
            contract_types =
                standalone: tests.support.import_contracts.StandaloneContract

            [importlinter:contract:1]
            name = trusted stands alone
            type = standalone
            packages = trusted
            allowed_external = cryptography
            """
        )
    )
    result = _lint_imports(tmp_path)
    assert (result.returncode == 0) is kept, result.stdout[-3000:] + result.stderr[-2000:]
