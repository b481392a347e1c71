"""An import-linter contract type the stock ones cannot express: "this package imports only
itself, the standard library and these named packages".

The chair's trusted base (`ledger.auditor`) must be readable on its own: a forbidden
contract can only list what is refused, so a new dependency (a sibling module of `ledger`,
or a third-party package) would slip past it. This contract lists what is allowed instead,
so anything new fails `make lint` until someone decides it belongs there.
"""

from __future__ import annotations

import sys

import grimp
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


class StandaloneContract(Contract):
    """Modules under `packages` import only each other, the standard library, and the
    top-level packages named in `allowed_external` (grimp counts function-level imports)."""

    type_name = "standalone"

    packages = fields.ListField(subfield=fields.StringField())
    allowed_external = fields.ListField(subfield=fields.StringField(), required=False)

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        packages = [str(p) for p in self.packages]  # type: ignore[attr-defined]
        allowed = {str(p) for p in (self.allowed_external or [])}  # type: ignore[attr-defined]
        allowed |= set(sys.stdlib_module_names)
        allowed.add("__future__")
        inside: set[str] = set()
        for package in packages:
            inside |= {package} | graph.find_descendants(package)
        broken: list[tuple[str, str, int, str]] = []
        for importer in sorted(inside):
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                if imported in inside or _parent_of(imported, inside):
                    continue
                if imported.split(".")[0] in allowed and not _internal(graph, imported):
                    continue
                for detail in graph.get_import_details(importer=importer, imported=imported):
                    line, contents = int(detail["line_number"]), str(detail["line_contents"])
                    broken.append((importer, imported, line, contents))
        return ContractCheck(kept=not broken, metadata={"broken": broken})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, imported, line, contents in check.metadata["broken"]:
            output.print_error(f"{importer} imports {imported} (l.{line}: {contents})")
            output.new_line()


def _parent_of(module: str, inside: set[str]) -> bool:
    """`import ledger.auditor.x` also names the package `ledger`, which holds only a
    docstring: grimp records that as an import of `ledger`, and it adds no code."""
    return any(other.startswith(module + ".") for other in inside)


def _internal(graph: grimp.ImportGraph, module: str) -> bool:
    return module in graph.modules and not graph.is_module_squashed(module)
