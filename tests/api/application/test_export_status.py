"""Status export as of a date to CSV and XLSX: one row per action, evidence hashes, the
formula-injection guard, scoping by agency, import -> export round trips (both stores)."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.application.plan_import import ACTION_COLUMNS
from api.application.spreadsheet_export import neutralise
from api.application.tokens import TokenStore
from api.http.app import create_app
from domain import Status
from evidence_store.local import LocalEvidenceStore
from projections.report_sheets import ACTION_COLUMNS as EXPORT_COLUMNS
from projections.report_sheets import EVIDENCE_COLUMNS, RESPONSE_COLUMNS
from tests.support.plan_tables import GOOD, write_xlsx
from tests.support.world import World, clear_store_settings, make_world

AS_OF = "2023-03-31"
FORMULA_TITLE = "=1+1"
EVIL_DESCRIPTION = "@SUM(1+1)*cmd|' /C calc'!A0"


def attach(world: World, action_id: str, content: bytes, by: str, description: str) -> str:
    blob = LocalEvidenceStore(world.config.evidence_dir).put(BytesIO(content))
    world.client(by).attach_evidence(
        action_id,
        {
            "sha256": blob.sha256,
            "size": blob.size,
            "media_type": "text/plain",
            "original_name": "jane-doe-statement.txt",
            "description": description,
            "storage_key": blob.storage_key,
            "effective_date": "2023-01-31",
        },
    )
    return blob.sha256


@pytest.fixture
def world(config: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """R1.1 (council) through to the implementation group; R1.2 (police) with a title
    that is a formula and evidence whose description is one; R2.1 untouched."""
    clear_store_settings(monkeypatch)
    w = make_world(config, clock)
    w.add_action("R1.1")
    w.client("sig").add_action(
        {
            "action_id": "R1.2",
            "recommendation": 1,
            "title": FORMULA_TITLE,
            "lead_agency": "police",
            "lead_officers": ["Lead"],
            "expected_outcome": "Done",
            "evidence_required": "Minutes",
            "due_date": "2023-02-28",
        }
    )
    w.add_action("R2.1", lead="police")
    c = w.client
    c("council.officer").change_status("R1.1", Status.IN_PROGRESS)
    sha = {
        "first": attach(w, "R1.1", b"first minutes", "council.officer", "Minutes, January"),
        "second": attach(w, "R1.1", b"second minutes", "council.officer", "Minutes, February"),
        "evil": attach(w, "R1.2", b"police note", "police.officer", EVIL_DESCRIPTION),
    }
    w.sha = sha  # type: ignore[attr-defined]
    c("council.officer").withdraw_evidence("R1.1", sha["first"], "superseded by February's")
    c("council.officer").change_status("R1.1", Status.EVIDENCE_SUBMITTED)
    c("council.lead").sign_off("R1.1", "Complete")
    c("council.lead").rate("R1.1", "green", "on track")
    clock.advance(days=30)  # 1 February
    c("sig").sign_off("R1.1", "Accepted")
    c("chair").rate("R1.1", "amber", "check again on my visit")
    clock.advance(days=120)  # 1 June: after AS_OF
    c("chair").sign_off("R1.1", "Verified")
    yield w
    w.ledger.close()


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8 correctly
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def read_xlsx(data: bytes) -> Any:
    return load_workbook(BytesIO(data))


def expected_rows(w: World) -> dict[str, dict[str, str]]:
    sha = w.sha  # type: ignore[attr-defined]
    rows = {
        "R1.1": {
            "action_id": "R1.1",
            "recommendation": "1",
            "title": "Action R1.1",
            "lead_agency": "Council",
            "status": "accepted",
            "agency_claim": "complete",
            "chair_verdict": "",
            "agency_rag": "green",
            "review_rag": "amber",
            "due_date": "2023-06-30",
            "overdue": "no",
            "signed_off_agency": "council.lead",
            "signed_off_implementation_group": "sig",
            "signed_off_chair": "",
            "evidence_count": "1",
            "evidence_sha256": sha["second"],
        },
        "R1.2": {
            "action_id": "R1.2",
            "recommendation": "1",
            "title": "'" + FORMULA_TITLE,  # neutralised for spreadsheets
            "lead_agency": "Police",
            "status": "not_started",
            "agency_claim": "",
            "chair_verdict": "",
            "agency_rag": "",
            "review_rag": "",
            "due_date": "2023-02-28",
            "overdue": "yes",
            "signed_off_agency": "",
            "signed_off_implementation_group": "",
            "signed_off_chair": "",
            "evidence_count": "1",
            "evidence_sha256": sha["evil"],
        },
        "R2.1": {
            "action_id": "R2.1",
            "recommendation": "2",
            "title": "Action R2.1",
            "lead_agency": "Police",
            "status": "not_started",
            "agency_claim": "",
            "chair_verdict": "",
            "agency_rag": "",
            "review_rag": "",
            "due_date": "2023-06-30",
            "overdue": "no",
            "signed_off_agency": "",
            "signed_off_implementation_group": "",
            "signed_off_chair": "",
            "evidence_count": "0",
            "evidence_sha256": "",
        },
    }
    no_response = dict.fromkeys(RESPONSE_COLUMNS, "")  # no formal response is recorded here
    return {action_id: row | no_response for action_id, row in rows.items()}


def test_cli_csv_export_as_of_a_date(world: World, cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "status.csv"
    code, stdout, err = cli("status", "--as-of", AS_OF, "--out", str(out))
    assert code == 0, err
    assert "3 actions" in stdout
    rows = read_csv(out.read_bytes())
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    assert {r["action_id"]: r for r in rows} == expected_rows(world)
    # later: the chair has verified R1.1
    code, _, err = cli("status", "--out", str(out))
    assert code == 0, err
    now = {r["action_id"]: r for r in read_csv(out.read_bytes())}
    assert now["R1.1"]["status"] == "verified" and now["R1.1"]["chair_verdict"] == "verified"
    assert now["R1.1"]["signed_off_chair"] == "chair"


def test_cli_xlsx_export_has_a_typed_status_sheet_and_an_evidence_sheet(
    world: World, cli: Any, tmp_path: Path
) -> None:
    out = tmp_path / "status.xlsx"
    code, _, err = cli("status", "--as-of", AS_OF, "--out", str(out))
    assert code == 0, err
    book = read_xlsx(out.read_bytes())
    assert book.sheetnames == ["status", "evidence", "about"]
    status = list(book["status"].iter_rows(values_only=True))
    assert list(status[0]) == list(EXPORT_COLUMNS)
    by_id = {row[0]: dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in status[1:]}
    expected = expected_rows(world)
    expected["R1.2"]["title"] = FORMULA_TITLE  # kept exactly: a text cell, not a formula
    for action_id, row in expected.items():
        got = {k: "" if v is None else str(v) for k, v in by_id[action_id].items()}
        assert got == row, action_id
    for cells in book["status"].iter_rows(min_row=2):
        for cell in cells:
            assert cell.data_type in ("s", "inlineStr", "n"), cell.coordinate  # no "f"
    title_cell = book["status"]["C3"]
    assert title_cell.value == FORMULA_TITLE and title_cell.data_type != "f"
    evidence = list(book["evidence"].iter_rows(values_only=True))
    assert list(evidence[0]) == list(EVIDENCE_COLUMNS)
    items = {row[1]: dict(zip(EVIDENCE_COLUMNS, row, strict=True)) for row in evidence[1:]}
    sha = world.sha  # type: ignore[attr-defined]
    assert {k: v["state"] for k, v in items.items()} == {
        sha["first"]: "withdrawn",
        sha["second"]: "current",
        sha["evil"]: "current",
    }
    assert items[sha["evil"]]["description"] == EVIL_DESCRIPTION
    assert items[sha["second"]]["size"] == len(b"second minutes")
    evil_cell = next(c for c in book["evidence"]["E"] if c.value == EVIL_DESCRIPTION)
    assert evil_cell.data_type != "f"
    with zipfile.ZipFile(out) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    sheets = [data for name, data in parts.items() if name.startswith("xl/worksheets/")]
    assert sheets and all(b"<f>" not in data for data in sheets)  # no formula anywhere
    assert b"Minutes, February" in b"".join(parts.values())  # (the text is there...)
    assert all(b"jane-doe" not in data for data in parts.values())  # ...file names are not
    assert book["about"]["A2"].value.startswith("2023-03-31")


def test_bad_export_requests(world: World, cli: Any, tmp_path: Path) -> None:
    cases = [
        (["--out", str(tmp_path / "s.ods")], "exported as .csv or .xlsx"),
        (["--position", "5", "--out", str(tmp_path / "s.csv")], "not a log position"),
        (["--as-of", "yesterday", "--out", str(tmp_path / "s.csv")], "not a date"),
        (["--out", str(tmp_path / "missing" / "s.csv")], "no folder"),
    ]
    for args, message in cases:
        code, _, err = cli("status", *args)
        assert code == 2 and message in err, (args, err)
    assert not any(p.suffix in (".csv", ".ods") for p in tmp_path.iterdir())


def test_neutralise() -> None:
    for text in ("=1+1", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(text) == "'" + text
    assert neutralise("Minutes") == "Minutes" and neutralise(3) == 3 and neutralise("") == ""


def _http(world: World) -> Any:
    client = TestClient(create_app(world.config, world.ledger))
    tokens = TokenStore(world.ledger.tables)
    client.tokens = {
        user: tokens.create(user, timedelta(days=1), now=world.clock.now) for user in world.keys
    }
    return client


def test_api_export_is_scoped_like_the_action_reads(world: World) -> None:
    with _http(world) as http:

        def get(user: str, **params: str) -> Any:
            return http.get(
                "/v1/export/status",
                params=params,
                headers={"Authorization": f"Bearer {http.tokens[user]}"},
            )

        everything = get("scrutiny", as_of=AS_OF)
        assert everything.status_code == 200
        assert everything.headers["content-type"].startswith("text/csv")
        assert {r["action_id"] for r in read_csv(everything.content)} == {"R1.1", "R1.2", "R2.1"}
        council = get("council.officer", as_of=AS_OF)
        assert [r["action_id"] for r in read_csv(council.content)] == ["R1.1"]
        police = get("police.lead", as_of=AS_OF, format="xlsx")
        assert police.headers["content-type"].startswith(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        book = read_xlsx(police.content)
        assert [r[0] for r in book["status"].iter_rows(min_row=2, values_only=True)] == [
            "R1.2",
            "R2.1",
        ]
        sha = world.sha  # type: ignore[attr-defined]
        assert [r[1] for r in book["evidence"].iter_rows(min_row=2, values_only=True)] == [
            sha["evil"]
        ]
        assert get("chair", format="pdf").status_code == 422
        assert get("chair", as_of="31/03/2023").status_code == 422
        assert http.get("/v1/export/status").status_code == 401


def test_import_then_export_round_trip(world: World, cli: Any, tmp_path: Path) -> None:
    """What goes in through an XLSX plan comes out of the status export unchanged."""
    imported = [
        {
            **GOOD,
            "action_id": "R2.2",
            "recommendation": 2,
            "lead_agency": "Police",
            "title": "Review \u2013 \u201cquoted\u201d & accented: caf\u00e9",
            "due_date": "2024-01-15",
        },
        {**GOOD, "action_id": "R2.3", "recommendation": 2, "lead_agency": "council"},
    ]
    path = write_xlsx(tmp_path / "plan", list(ACTION_COLUMNS), imported)
    sig_key = world.config.home / "sig-test.key"
    world.keys["sig"].write(sig_key)
    code, _, err = cli("--as", "sig", "--key", str(sig_key), "import", str(path))
    assert code == 0, err
    for suffix in ("csv", "xlsx"):
        out = tmp_path / f"status.{suffix}"
        code, _, err = cli("status", "--out", str(out))
        assert code == 0, err
        if suffix == "csv":
            rows = read_csv(out.read_bytes())
        else:
            sheet = read_xlsx(out.read_bytes())["status"]
            values = list(sheet.iter_rows(values_only=True))
            rows = [
                {k: "" if v is None else str(v) for k, v in zip(values[0], row, strict=True)}
                for row in values[1:]
            ]
        by_id = {r["action_id"]: r for r in rows}
        for source in imported:
            row = by_id[str(source["action_id"])]
            assert row["title"] == source["title"]
            assert row["recommendation"] == str(source["recommendation"])
            assert row["due_date"] == source["due_date"]
            assert (
                row["lead_agency"]
                == {"Police": "Police", "council": "Council"}[str(source["lead_agency"])]
            )
            assert row["status"] == "not_started" and row["evidence_count"] == "0"


def test_remote_cli_export_through_a_real_server(
    world: World, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.server import running_server

    config = world.config
    env = {"INQUIRY_LEDGER_HOME": str(config.home)}
    if config.database_url:
        env["INQUIRY_LEDGER_DATABASE_URL"] = config.database_url
    token = TokenStore(world.ledger.tables).create("police.officer", timedelta(days=1))
    with running_server(env) as url:
        monkeypatch.setenv("INQUIRY_LEDGER_HOME", str(tmp_path / "client"))
        out = tmp_path / "remote.xlsx"
        code, stdout, err = cli(
            "--server", url, "--token", token, "status", "--as-of", AS_OF, "--out", str(out)
        )
        assert code == 0, err
        assert stdout.startswith(f"wrote {out} (xlsx)")
        sheet = read_xlsx(out.read_bytes())["status"]
        assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == ["R1.2", "R2.1"]
