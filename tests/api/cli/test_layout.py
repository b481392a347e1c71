"""The CLI's layout: small command modules over one public common module.

`api.cli.common` imports no command module, and every command module's parsers are
registered exactly once. (Private names crossing modules are refused for every package by
tests/architecture/test_layout.py; import cycles at any depth by `make lint`.)
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

cli_main = importlib.import_module("api.cli.main")  # `api.cli.main` is also the function

CLI = Path(cli_main.__file__).parent
PROJECT = ("api", "ledger", "domain", "projections", "evidence_store")


def _imports(path: Path) -> list[ast.ImportFrom]:
    tree = ast.parse(path.read_text())
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PROJECT)
    ]


#: The modules of client mode that every command shares, not commands themselves.
CLIENT_MODE = {"remote", "http_client"}
#: Modules that add subcommands under another module's command (`plan agency …` and
#: `plan recommendation …` from plan_changes, under plan), each imported by that module.
SUBCOMMANDS = {"plan_changes": "plan"}


def test_common_imports_no_command_module() -> None:
    commands = {f"api.cli.{m.__name__.rsplit('.', 1)[1]}" for m in cli_main.MODULES}
    imported = {node.module for node in _imports(CLI / "common.py")}
    assert not imported & commands
    shared = {f"api.cli.{name}" for name in CLIENT_MODE}
    assert not {m for m in imported if m and m.startswith("api.cli.")} - shared


def test_every_command_is_registered_once_in_the_help_order() -> None:
    assert sorted(cli_main.registry()) == sorted(cli_main.ORDER)
    assert len(set(cli_main.ORDER)) == len(cli_main.ORDER)
    modules = {p.stem for p in CLI.glob("*.py")} - {"__init__", "__main__", "common", "main"}
    registered = {m.__name__.rsplit(".", 1)[1] for m in cli_main.MODULES}
    assert registered == modules - CLIENT_MODE - set(SUBCOMMANDS)
    for module, parent in SUBCOMMANDS.items():
        assert f"api.cli.{module}" in {node.module for node in _imports(CLI / f"{parent}.py")}
