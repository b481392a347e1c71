"""The README's two access tables, read back, and the authority table as the code says it.

tests/api/http/test_access_matrix.py holds the README to the running service (who reads
what) and to ledger/auditor/authority.py (who signs what)."""

from __future__ import annotations

import re
from pathlib import Path

from ledger.auditor.authority import APPOINTER_CHOICES, AUTHORITY, SIGN_OFF_ROLE

README = Path(__file__).resolve().parents[2] / "README.md"
SIGNING_ROLES = (
    "officer",
    "agency_lead",
    "implementation_group",
    "scrutiny",
    "lived_experience",
    "chair",
    "admin",
)
#: The roles that appoint someone under some charter (administrators appoint administrators).
APPOINTERS = frozenset().union(*APPOINTER_CHOICES.values()) | {"admin"}
#: The roles that may move a user from one role (or agency) to another: an appointer of
#: two roles under some charter, or of agency leads (who move agency). Not administrators,
#: who appoint only administrators, nor agency leads, who appoint only their own officers.
MOVERS = frozenset(
    r
    for r in APPOINTERS - {"admin"}
    if sum(r in by for by in APPOINTER_CHOICES.values()) >= 2
    or r in APPOINTER_CHOICES["agency_lead"]
)


def readme_table(name: str) -> tuple[list[str], dict[str, list[str]]]:
    """(column names, {first cell: the other cells}) of the table between the README's
    ``<!-- name -->`` and ``<!-- /name -->`` markers (backticks stripped)."""
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {name} -->\n(.*?)<!-- /{name} -->", text, re.S)
    assert found, f"README.md has no {name} table"
    lines = [line for line in found.group(1).splitlines() if line.startswith("|")]
    header = _cells(lines[0])
    rows = {}
    for line in lines[2:]:
        cells = _cells(line)
        assert cells[0] not in rows, f"{cells[0]} appears twice in the {name} table"
        rows[cells[0]] = cells[1:]
    return header[1:], rows


def _cells(line: str) -> list[str]:
    return [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]


def authority_rows() -> dict[str, list[str]]:
    """Who may sign each entry type, per role, from the auditor's authority table."""
    level_of = {role: level for level, role in SIGN_OFF_ROLE.items()}
    rows = {}
    for kind, fixed in AUTHORITY.items():
        if kind == "directory.user_registered":
            cells = ["as appointer" if r in APPOINTERS else "—" for r in SIGNING_ROLES]
        elif kind in ("directory.key_rotated", "directory.key_revoked", "directory.key_added"):
            cells = [
                "own key, as appointer" if r in APPOINTERS else "own key" for r in SIGNING_ROLES
            ]
        elif kind == "directory.user_deactivated":  # the chair is never deactivated
            cells = [
                ("as appointer" if r == "chair" else "self, as appointer")
                if r in APPOINTERS
                else "self"
                for r in SIGNING_ROLES
            ]
        elif kind == "directory.user_reactivated":
            cells = ["as appointer" if r in APPOINTERS else "—" for r in SIGNING_ROLES]
        elif kind == "directory.user_role_changed":
            cells = ["as appointer of both" if r in MOVERS else "—" for r in SIGNING_ROLES]
        elif fixed is None:  # a sign-off and its revocation: by level
            cells = [f"{level_of[r]} level" if r in level_of else "—" for r in SIGNING_ROLES]
        else:
            cells = ["yes" if r in fixed else "—" for r in SIGNING_ROLES]
        rows[kind] = cells
    return rows


def markdown_rows(rows: dict[str, list[str]]) -> str:
    return "".join(f"| `{key}` | " + " | ".join(cells) + " |\n" for key, cells in rows.items())
