"""Plan import from CSV and XLSX: the same columns, the same all-or-nothing checks, every
error named by row and column (and cell, for XLSX), on both event stores."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from api.application.plan_import import ACTION_COLUMNS, ImportRejected, import_csv
from domain import NotPermitted
from tests.support.plan_tables import GOOD, Row, Writer, write_csv, write_xlsx
from tests.support.world import World, clear_store_settings, make_world

LETTER = {name: chr(ord("A") + i) for i, name in enumerate(ACTION_COLUMNS)}

FORMATS: dict[str, Writer] = {"csv": write_csv, "xlsx": write_xlsx}


@pytest.fixture
def world(config: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    clear_store_settings(monkeypatch)
    w = make_world(config, clock)
    yield w
    w.ledger.close()


def rejected(world: World, path: Path) -> list[str]:
    size = world.ledger.tree_size()
    with pytest.raises(ImportRejected) as caught:
        import_csv(world.ledger, world.signer("sig"), path)
    assert world.ledger.tree_size() == size  # nothing was imported
    assert world.ledger.action("R1.1") is None
    return [str(e) for e in caught.value.errors]


def where(fmt: str, row: int, column: str) -> str:
    cell = f" ({LETTER[column]}{row})" if fmt == "xlsx" else ""
    return f"row {row}, column {column}{cell}"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_good_file_imports_with_typed_cells(world: World, tmp_path: Path, fmt: str) -> None:
    second = {
        **GOOD,
        "action_id": "R2.1",
        "recommendation": 2,  # a number cell in xlsx: fine in a number column
        "lead_agency": "police",
        "due_date": date(2023, 6, 30),  # a date cell in xlsx
    }
    path = FORMATS[fmt](tmp_path / "actions", list(ACTION_COLUMNS), [GOOD, second])
    results = import_csv(world.ledger, world.signer("sig"), path)
    assert len(results) == 2
    action = world.ledger.action("R2.1")
    assert action is not None
    assert (action.recommendation, action.lead_agency, action.due_date) == (
        2,
        "police",
        "2023-06-30",
    )
    first = world.ledger.action("R1.1")
    assert first is not None and first.lead_officers == ["Director", "Deputy"]


@pytest.mark.parametrize("user", ["admin", "chair", "council.lead"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_only_the_implementation_group_imports_the_plan(
    world: World, tmp_path: Path, fmt: str, user: str
) -> None:
    """The implementation group is the only plan editor: an administrator (or the chair, or
    a lead) who imports a good file is refused by the ledger and nothing is recorded."""
    actions = FORMATS[fmt](tmp_path / "actions", list(ACTION_COLUMNS), [GOOD])
    columns, third = (
        ["number", "title", "lead_agencies"],
        [{"number": 3, "title": "Third", "lead_agencies": "Police"}],
    )
    recs = (
        write_xlsx(tmp_path / "recs", columns, third, sheets=("recommendations",))
        if fmt == "xlsx"
        else write_csv(tmp_path / "recs", columns, third)
    )
    size = world.ledger.tree_size()
    for path, rule in ((actions, "action.add"), (recs, "plan.add_recommendation")):
        with pytest.raises(NotPermitted) as refused:
            import_csv(world.ledger, world.signer(user), path)
        assert refused.value.rule == rule
    assert world.ledger.tree_size() == size
    assert world.ledger.action("R1.1") is None
    plan = world.ledger.plan()
    assert plan is not None and 3 not in plan.recommendations
    # the same files, signed by the implementation group, import
    assert len(import_csv(world.ledger, world.signer("sig"), actions)) == 1
    assert len(import_csv(world.ledger, world.signer("sig"), recs)) == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_kind_of_bad_row_is_named_and_nothing_is_imported(
    world: World, tmp_path: Path, fmt: str
) -> None:
    rows: list[Row] = [
        GOOD,  # row 2: fine on its own
        {**GOOD, "action_id": "R1.2", "due_date": "2023-02-30"},  # 3: no such day
        {**GOOD, "action_id": "R1.3", "lead_agency": "Fire Service"},  # 4: unknown agency
        {**GOOD},  # 5: R1.1 again
        {**GOOD, "action_id": "R9.1", "recommendation": "9"},  # 6: no recommendation 9
        {**GOOD, "action_id": "R1.4", "title": ""},  # 7: empty required cell
        {**GOOD, "action_id": "R1.5", "title": '=HYPERLINK("http://x")'},  # 8: formula
        {**GOOD, "action_id": "R1.6", "due_date": 45000},  # 9: a number, not a date
    ]
    path = FORMATS[fmt](tmp_path / "actions", list(ACTION_COLUMNS), rows)
    errors = rejected(world, path)
    expected = [
        f"{where(fmt, 3, 'due_date')}: must be YYYY-MM-DD: '2023-02-30'",
        f"{where(fmt, 4, 'lead_agency')}: unknown agency 'Fire Service': add it to the plan "
        "first (inquiry-ledger plan agency add fire-service --name NAME --reason WHY)",
        f"{where(fmt, 5, 'action_id')}: action R1.1 already exists",
        f"{where(fmt, 6, 'recommendation')}: no recommendation '9'",
        f"{where(fmt, 7, 'title')}: must not be empty",
        f'{where(fmt, 8, "title")}: is a formula (=HYPERLINK("http://x")): import values, '
        "not formulas (paste as values)",
    ]
    if fmt == "xlsx":
        expected.append(
            f"{where(fmt, 9, 'due_date')}: is a number (45000), not a date: format the cell "
            "as a date or YYYY-MM-DD"
        )
    else:
        expected.append(f"{where(fmt, 9, 'due_date')}: must be YYYY-MM-DD: '45000'")
    assert sorted(errors) == sorted(expected)
    assert errors == sorted(errors, key=lambda e: int(e.split(",")[0].split()[1]))  # row order


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_missing_column_is_named(world: World, tmp_path: Path, fmt: str) -> None:
    columns = [c for c in ACTION_COLUMNS if c != "lead_agency"]
    path = FORMATS[fmt](tmp_path / "actions", columns, [GOOD])
    assert rejected(world, path) == ["row 1, column lead_agency: required column is missing"]


def test_xlsx_cells_that_are_not_plain_values(world: World, tmp_path: Path) -> None:
    rows: list[Row] = [
        {**GOOD, "title": 12},  # a number in a text column
        {**GOOD, "action_id": "R1.2", "recommendation": 1.5},  # not a whole number
        {**GOOD, "action_id": "R1.3", "due_date": datetime(2023, 3, 31, 14, 30)},
        {**GOOD, "action_id": "R1.4", "lead_officers": True},
        {**GOOD, "action_id": "R1.5", "expected_outcome": date(2023, 1, 1)},
    ]
    path = write_xlsx(tmp_path / "actions", list(ACTION_COLUMNS), rows)
    errors = rejected(world, path)
    assert errors == [
        "row 2, column title (C2): is a number (12); this column holds text: format the cell "
        "as text",
        "row 3, column recommendation (B3): is 1.5, not a whole number",
        "row 4, column due_date (H4): is a date and time (2023-03-31T14:30:00); give a date only",
        "row 5, column lead_officers (E5): is a true/false cell, not text",
        "row 6, column expected_outcome (F6): is a date cell; this column holds text",
    ]


def test_the_wrong_sheet_is_refused(world: World, tmp_path: Path) -> None:
    several = write_xlsx(
        tmp_path / "book", list(ACTION_COLUMNS), [GOOD], sheets=("Sheet1", "Notes")
    )
    assert rejected(world, several) == [
        "sheet: the workbook has 2 sheets with data, 'Sheet1', 'Notes': choose one with "
        "--sheet NAME"
    ]
    named = write_xlsx(tmp_path / "named", list(ACTION_COLUMNS), [GOOD], sheets=("Notes", "x"))
    assert rejected(world, named)[0].startswith(
        "sheet: the workbook has 2 sheets with data, 'Notes'"
    )
    # the right sheet among others is found by its name
    chosen = write_xlsx(
        tmp_path / "chosen", list(ACTION_COLUMNS), [GOOD], sheets=("Actions", "Notes")
    )
    assert len(import_csv(world.ledger, world.signer("sig"), chosen)) == 1


def test_a_file_that_is_not_a_table_is_refused(world: World, tmp_path: Path) -> None:
    fake = tmp_path / "plan.xlsx"
    fake.write_text("action_id,recommendation\n")
    assert rejected(world, fake) == ["file: not a readable .xlsx workbook"]
    binary = tmp_path / "plan.csv"
    binary.write_bytes(write_xlsx(tmp_path / "real", list(ACTION_COLUMNS), [GOOD]).read_bytes())
    assert rejected(world, binary) == [
        "file: is a zip (an .xlsx workbook?), not CSV text: name it .xlsx"
    ]
    old = tmp_path / "plan.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    assert rejected(world, old) == [
        "file: .xls files are not read: save the sheet as .xlsx or .csv"
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_recommendations_import_from_both_formats(world: World, tmp_path: Path, fmt: str) -> None:
    columns = ["number", "title", "lead_agencies"]
    bad = FORMATS[fmt](
        tmp_path / "recs",
        columns,
        [{"number": 3, "title": "Third", "lead_agencies": "Council;Ambulance"}],
    )
    size = world.ledger.tree_size()
    with pytest.raises(ImportRejected) as caught:
        import_csv(world.ledger, world.signer("sig"), bad)
    cell = " (C2)" if fmt == "xlsx" else ""
    assert [str(e) for e in caught.value.errors] == [
        f"row 2, column lead_agencies{cell}: unknown agency 'Ambulance': add it to the plan "
        "first (inquiry-ledger plan agency add ambulance --name NAME --reason WHY)"
    ]
    assert world.ledger.tree_size() == size
    good = FORMATS[fmt](
        tmp_path / "recs2", columns, [{"number": 3, "title": "Third", "lead_agencies": "Police"}]
    )
    sheet = ("recommendations",)
    if fmt == "xlsx":
        good = write_xlsx(
            tmp_path / "recs3",
            columns,
            [{"number": 3, "title": "Third", "lead_agencies": "Police"}],
            sheets=sheet,
        )
    assert len(import_csv(world.ledger, world.signer("sig"), good)) == 1
    plan = world.ledger.plan()
    assert plan is not None and plan.recommendations[3].title == "Third"


@pytest.mark.parametrize("fmt", FORMATS)
def test_cli_lists_every_error_with_its_cell(
    world: World, cli: Any, tmp_path: Path, fmt: str
) -> None:
    sig_key = world.config.home / "sig-test.key"
    world.keys["sig"].write(sig_key)
    rows: list[Row] = [
        {**GOOD, "due_date": "31/03/2023"},
        {**GOOD, "action_id": "R1.2", "title": ""},
    ]
    path = FORMATS[fmt](tmp_path / "actions", list(ACTION_COLUMNS), rows)
    size = world.ledger.tree_size()
    code, _, err = cli("--as", "sig", "--key", str(sig_key), "import", str(path))
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[0] == f"{path}: {where(fmt, 2, 'due_date')}: must be YYYY-MM-DD: '31/03/2023'"
    assert lines[1] == f"{path}: {where(fmt, 3, 'title')}: must not be empty"
    assert lines[2] == "inquiry-ledger: 2 error(s); nothing was imported"
    assert world.ledger.tree_size() == size
    good = FORMATS[fmt](tmp_path / "good", list(ACTION_COLUMNS), [GOOD])
    # the administrator no longer edits the plan: a good file is refused, nothing recorded
    admin_key = world.config.home / "admin-test.key"
    world.keys["admin"].write(admin_key)
    code, _, err = cli("--as", "admin", "--key", str(admin_key), "import", str(good))
    assert code == 3
    assert "refused: admin (admin) may not add actions to the plan" in err
    assert "[rule: action.add]" in err
    assert world.ledger.tree_size() == size
    code, out, err = cli("--as", "sig", "--key", str(sig_key), "import", str(good))
    assert code == 0, err
    assert out.startswith("imported 1 entries")


def test_remote_xlsx_import_through_a_real_server(
    world: World, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client reads and checks the workbook, signs, and the server appends it all."""
    from datetime import timedelta

    from api.application.tokens import TokenStore
    from tests.support.server import running_server

    config = world.config
    env = {"INQUIRY_LEDGER_HOME": str(config.home)}
    if config.database_url:
        env["INQUIRY_LEDGER_DATABASE_URL"] = config.database_url
    token = TokenStore(world.ledger.tables).create("sig", timedelta(days=1))
    sig_key = tmp_path / "sig.key"
    world.keys["sig"].write(sig_key)
    admin_token = TokenStore(world.ledger.tables).create("admin", timedelta(days=1))
    admin_key = tmp_path / "admin.key"
    world.keys["admin"].write(admin_key)
    bad = write_xlsx(tmp_path / "bad", list(ACTION_COLUMNS), [GOOD, {**GOOD, "due_date": 7}])
    good = write_xlsx(tmp_path / "good", list(ACTION_COLUMNS), [GOOD])
    size = world.ledger.tree_size()
    with running_server(env) as url:
        monkeypatch.setenv("INQUIRY_LEDGER_HOME", str(tmp_path / "client"))
        remote = ["--server", url, "--token", token, "--as", "sig", "--key", str(sig_key)]
        code, _, err = cli(*remote, "import", str(bad))
        assert code == 2
        assert "row 3, column action_id (A3): action R1.1 already exists" in err
        assert "row 3, column due_date (H3): is a number (7), not a date" in err
        assert world.ledger.tree_size() == size
        # the server refuses the administrator's import of a good file
        as_admin = ["--server", url, "--token", admin_token, "--as", "admin"]
        code, _, err = cli(*as_admin, "--key", str(admin_key), "import", str(good))
        assert code == 3 and "may not add actions to the plan" in err, err
        assert err.count("[rule: action.add]") == 1, err  # as the local CLI says it
        assert world.ledger.tree_size() == size
        code, out, err = cli(*remote, "import", str(good))
        assert code == 0 and out.startswith("imported 1 entries"), err
    assert world.ledger.action("R1.1") is not None
    assert world.ledger.tree_size() == size + 1
