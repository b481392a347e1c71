"""The progress report: figures, tables, decisions and checkpoint against a hand-built
history, in HTML and PDF, through the CLI, the API and a real server (both stores)."""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from api.application.tokens import TokenStore
from api.http.app import create_app
from domain import Status
from ledger.keys import KeyPair
from projections.asof import parse_as_of
from projections.report import (
    ProgressReport,
    ReportError,
    build_report,
    checkpoint_info,
    monthly_points,
    months_before,
)
from projections.report_render import render_html, render_pdf
from projections.status import Replay, status_from
from tests.support.report_html import ReportPage
from tests.support.tagged_pdf import structure_of
from tests.support.world import World, clear_store_settings, make_world

AS_OF = "2023-07-31"
SCRIPT = "National <script>alert(1)</script> policy & more"


@dataclass
class History:
    world: World
    checkpoint: Any
    #: leaf index -> (action, what, who, reasons) of every decision after 31 January
    decisions: dict[int, tuple[str, str, str, str]] = field(default_factory=dict)
    after_checkpoint: int = 0


@pytest.fixture
def history(config: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Three actions over seven months; a checkpoint; then one more entry after it."""
    clear_store_settings(monkeypatch)
    w = make_world(config, clock)
    w.add_action("R1.1")
    w.add_action("R1.2", lead="police")
    w.add_action("R2.1", lead="police")
    c = w.client
    c("council.officer").change_status("R1.1", Status.IN_PROGRESS)  # 2 January: before since
    c("police.officer").change_status("R1.2", Status.IN_PROGRESS)
    h = History(w, None)

    def decided(result: Any, action: str, what: str, who: str, reasons: str = "") -> None:
        h.decisions[result.leaf_index] = (action, what, who, reasons)

    clock.advance(days=40)  # 11 February
    w.evidence("R1.1", b"minutes of the group")
    decided(
        c("council.officer").change_status("R1.1", Status.EVIDENCE_SUBMITTED),
        "R1.1",
        "in progress → evidence submitted",
        "Council.Officer (officer)",
    )
    decided(
        c("council.lead").sign_off("R1.1", "Complete"),
        "R1.1",
        "signed off: Agency sign-off",
        "Council.Lead (agency lead)",
        "Complete",
    )
    decided(
        c("council.lead").rate("R1.1", "green", "on track"),
        "R1.1",
        "rated green (agency)",
        "Council.Lead (agency lead)",
        "on track",
    )
    clock.advance(days=30)  # 13 March
    decided(
        c("sig").sign_off("R1.1", "Accepted"),
        "R1.1",
        "signed off: Implementation group acceptance",
        "Sig (implementation group)",
        "Accepted",
    )
    w.evidence("R1.2", b"police policy", by="police.officer")
    decided(
        c("police.officer").change_status("R1.2", Status.EVIDENCE_SUBMITTED),
        "R1.2",
        "in progress → evidence submitted",
        "Police.Officer (officer)",
    )
    decided(
        c("police.lead").sign_off("R1.2", "Done"),
        "R1.2",
        "signed off: Agency sign-off",
        "Police.Lead (agency lead)",
        "Done",
    )
    clock.advance(days=60)  # 12 May
    decided(
        c("chair").sign_off("R1.1", "Verified on my visit"),
        "R1.1",
        "signed off: Independent verification",
        "Chair (independent chair)",
        "Verified on my visit",
    )
    decided(
        c("chair").rate("R1.2", "red", "needs a national change"),
        "R1.2",
        "rated red (review)",
        "Chair (independent chair)",
        "needs a national change",
    )
    decided(
        c("chair").change_status("R1.2", Status.NOT_IMPLEMENTABLE, SCRIPT),
        "R1.2",
        "agency signed off → not implementable",
        "Chair (independent chair)",
        SCRIPT,
    )
    h.checkpoint = w.checkpoint()
    clock.advance(days=10)  # 22 May: recorded, but after the checkpoint
    h.after_checkpoint = c("police.officer").change_status("R2.1", Status.IN_PROGRESS).leaf_index
    yield h
    w.ledger.close()


def report_of(h: History, as_of: str = AS_OF, since: str | None = None) -> ProgressReport:
    w = h.world
    info = checkpoint_info(h.checkpoint.note, w.ledger.tree_size(), w.vkey)
    return build_report(
        w.ledger,
        info,
        as_of=parse_as_of(as_of),
        since=parse_as_of(since) if since else None,
    )


def test_the_html_report_matches_the_history(history: History) -> None:
    page = ReportPage(render_html(report_of(history)))
    # R1.2 went from the agency's sign-off straight to the chair's outcome: never accepted.
    assert page.text["claims-sentence"] == (
        "Agencies report 2 of 3 actions complete; the implementation group has accepted 1; "
        "the independent chair has verified 1, found 1 not implementable and 0 "
        "superseded. 1 action is overdue."
    )  # the generic words: this ledger has signed none of its own
    assert page.as_dict("summary-counts") == {
        "Recommendations made by the inquiry": "3",
        "Recommendations in the record": "2",
        "Recommendations not yet imported": "1",
        "Actions in the plan (excluding merged and withdrawn)": "3",
    }
    assert page.as_dict("actions-by-status") == {
        "not started": "1",
        "verified": "1",
        "not implementable": "1",
    }
    assert page.as_dict("recommendations-by-status") == {
        "not started": "1",
        "not implementable": "1",
        "not yet imported": "1",
    }
    assert page.tables["agency-status"] == [
        ["Agency", "not started", "verified", "not implementable", "total"],
        ["Council", "0", "1", "0", "1"],
        ["Police", "1", "0", "1", "2"],
    ]
    assert page.body_rows("claims-verdicts") == [
        ["Council", "1", "1", "1", "1", "0", "0", "0"],
        ["Police", "2", "1", "0", "0", "1", "0", "1"],  # R1.2 never accepted
    ]
    assert page.body_rows("agency-rag", header=2) == [
        ["Council", "1", "0", "0", "1", "0", "0", "0", "0", "1"],
        ["Police", "2", "0", "0", "0", "2", "1", "0", "0", "1"],
    ]
    assert page.body_rows("recommendation-table") == [
        ["1", "First", "Council, Police", "not implementable", "—", "2", "green", "red"],
        ["2", "Second", "Police", "not started", "—", "1", "—", "—"],
        ["3", "not yet imported (not in our record)"],
    ]
    assert page.body_rows("overdue-table") == [
        ["R2.1", "Action R2.1", "Police", "2023-06-30", "not started"]
    ]


def test_decisions_since_the_default_six_months_with_leaf_and_reasons(history: History) -> None:
    page = ReportPage(render_html(report_of(history)))
    assert "Decisions since 2023-01-31" in render_html(report_of(history))
    assert "the default: six months before the as-of date" in page.text["since-note"]
    rows = page.body_rows("decision-table")
    found = {int(r[0]): (r[2], r[3], r[4], r[5]) for r in rows}
    expected = {
        leaf: (action, what, who, reasons or "—")
        for leaf, (action, what, who, reasons) in history.decisions.items()
    }
    assert found == expected
    assert [int(r[0]) for r in rows] == sorted(found)  # in log order
    assert history.after_checkpoint not in found  # recorded after the checkpoint
    assert page.captions["decision-table"] == "9 signed decisions in this period"


def test_since_given_narrows_the_decisions_and_says_so(history: History) -> None:
    page = ReportPage(render_html(report_of(history, since="2023-03-01")))
    assert "since the previous report, as requested" in page.text["since-note"]
    leaves = {int(r[0]) for r in page.body_rows("decision-table")}
    march_on = {leaf for leaf, d in history.decisions.items() if leaf >= min(leaves)}
    assert leaves == march_on and len(leaves) == 6  # three in March, three in May
    with pytest.raises(ReportError):
        report_of(history, since="2023-08-01")


def test_the_checkpoint_is_cited_in_full_and_the_growth_is_reported(history: History) -> None:
    w, cp = history.world, history.checkpoint
    page = ReportPage(render_html(report_of(history)))
    table = page.as_dict("checkpoint", header=0)
    assert table["Log (origin)"] == "test.example/ledger"
    assert table["Size (entries covered)"] == str(cp.tree_size)
    root = base64.b64encode(w.ledger.root_hash(cp.tree_size)).decode()
    assert table["Root hash (SHA-256, base64)"] == root
    assert page.text["checkpoint-note"] == re.sub(r"\s+", " ", cp.note).strip()
    assert "inquiry-ledger verify-bundle" in page.text["how-to-check"]
    assert f"tree_size={cp.tree_size}" in page.text["how-to-check"]
    assert w.ledger.tree_size() == cp.tree_size + 1
    assert "1 more entry was appended after it" in page.text["log-grown"]
    # a fresh checkpoint covers everything: no notice, and R2.1 is now in progress
    fresh = history.world.checkpoint()
    info = checkpoint_info(fresh.note, w.ledger.tree_size(), w.vkey)
    later = build_report(w.ledger, info, as_of=parse_as_of(AS_OF))
    assert "log-grown" not in ReportPage(render_html(later)).text
    assert later.actions_by_status["in_progress"] == 1


def test_a_checkpoint_signed_by_another_key_is_refused(history: History) -> None:
    from ledger.auditor.note import NoteError, NoteSigner
    from ledger.keys import KeyPair

    other = NoteSigner("test.example/ledger", KeyPair.generate()).verifier
    with pytest.raises(NoteError):
        checkpoint_info(history.checkpoint.note, 0, other)


def test_the_chart_agrees_with_a_replay_at_every_point(history: History) -> None:
    built = report_of(history)
    w = history.world
    assert [p.moment for p in built.chart] == [
        "2023-01-31",
        "2023-02-28",
        "2023-03-31",
        "2023-04-30",
        "2023-05-31",
        "2023-06-30",
        "2023-07-31",
    ]
    for point in built.chart:
        moment = parse_as_of(point.moment)
        replay = Replay().feed(
            w.ledger.entries(), until_position=history.checkpoint.tree_size, until_time=moment
        )
        rows = status_from(replay, as_of=point.moment, today=moment.date()).actions
        counts: dict[str, int] = {}
        for row in rows:
            counts[row.status] = counts.get(row.status, 0) + 1
        assert point.counts == counts, point.moment
    assert built.chart[0].counts == {"not_started": 1, "in_progress": 2}
    assert built.chart[-1].counts == built.actions_by_status
    html = render_html(built)
    assert "<svg" in html and 'role="img"' in html
    assert "At 2023-07-31: 1 not started, 1 verified, 1 not implementable" in html
    assert "<img" not in html and "http://" not in html.replace("http://www.w3.org", "")


def test_user_text_is_escaped(history: History) -> None:
    html = render_html(report_of(history))
    assert "<script>" not in html
    assert "National &lt;script&gt;alert(1)&lt;/script&gt; policy &amp; more" in html


def test_the_pdf_says_the_same(history: History) -> None:
    pdf = render_pdf(report_of(history))
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    text = re.sub(r"\s+", " ", " ".join(p.extract_text() or "" for p in reader.pages))
    assert len(reader.pages) >= 2
    for expected in (
        "Test plan",
        "Agencies report 2 of 3 actions complete",
        "the independent chair has verified 1, found 1 not implementable",
        "not yet imported (not in our record)",
        "9 signed decisions in this period",
        "Verified on my visit",
        "test.example/ledger",
        f"Size (entries covered) {history.checkpoint.tree_size}",
        "1 more entry was appended after it",
        "inquiry-ledger verify-bundle",
    ):
        assert expected in text, expected


def test_dates_and_points() -> None:
    moment = datetime(2024, 8, 31, 12, tzinfo=UTC)
    assert months_before(moment, 6) == datetime(2024, 2, 29, 12, tzinfo=UTC)
    assert months_before(moment, 12).date().isoformat() == "2023-08-31"
    points = monthly_points(datetime(2023, 11, 5).date(), moment)
    assert [p.date().isoformat() for p in points] == [
        "2023-11-30",
        "2023-12-31",
        "2024-01-31",
        "2024-02-29",
        "2024-03-31",
        "2024-04-30",
        "2024-05-31",
        "2024-06-30",
        "2024-07-31",
        "2024-08-31",
    ]
    assert points[-1] == moment


# -- through the CLI, the API and a real server ---------------------------------------------


def test_cli_report_html_and_pdf(history: History, cli: Any, tmp_path: Path) -> None:
    log_key = history.world.config.log_key_path
    log_key.rename(tmp_path / "log.key")  # without the log key: the latest checkpoint, as is
    code, out, err = cli("report", "--as-of", AS_OF, "--out", str(tmp_path / "r.html"))
    assert code == 0, err
    assert f"signed checkpoint of size {history.checkpoint.tree_size}" in out
    assert "the log has grown since that checkpoint" in out
    page = ReportPage((tmp_path / "r.html").read_text())
    assert page.as_dict("actions-by-status")["verified"] == "1"
    assert oct((tmp_path / "r.html").stat().st_mode & 0o777) == "0o600"
    (tmp_path / "log.key").rename(log_key)
    code, out, err = cli("report", "--as-of", AS_OF, "--out", str(tmp_path / "r.pdf"))
    assert code == 0, err
    assert "grown" not in out  # with the log key at hand, a fresh one is signed first
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF-")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_cli_report_bad_input(history: History, cli: Any, tmp_path: Path) -> None:
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    cases = [
        (["--as-of", AS_OF, "--out", str(tmp_path / "r.txt")], "written as .html or .pdf"),
        (["--as-of", "31/07/2023", "--out", str(tmp_path / "r.pdf")], "not a date"),
        (["--as-of", AS_OF, "--since", AS_OF, "--out", str(tmp_path / "r.pdf")], "--since"),
        (["--as-of", AS_OF, "--out", str(tmp_path / "none" / "r.pdf")], "no folder"),
    ]
    for args, message in cases:
        code, _, err = cli("report", *args)
        assert code == 2 and message in err, (args, err)
    assert list(tmp_path.iterdir()) == []


def test_cli_report_from_the_genesis_checkpoint_and_without_any(
    config: Any, clock: Any, cli: Any, tmp_path: Path
) -> None:
    from tests.support.rawdb import RawEvents

    w = make_world(config, clock)  # `init` signs a first checkpoint, of the genesis entry
    w.add_action("R1.1")
    config.log_key_path.rename(tmp_path / "log.key")  # so that no fresh one is signed
    try:
        code, _out, err = cli("report", "--as-of", AS_OF, "--out", str(tmp_path / "r.html"))
        assert code == 0, err
        page = ReportPage((tmp_path / "r.html").read_text())
        assert page.as_dict("checkpoint", header=0)["Size (entries covered)"] == "1"
        assert page.as_dict("summary-counts")["Recommendations in the record"] == "0"
        grown = w.ledger.tree_size() - 1
        assert f"{grown} more entries were appended after it" in page.text["log-grown"]
        RawEvents(config).execute("DELETE FROM ledger_checkpoints")
        code, _, err = cli("report", "--as-of", AS_OF, "--out", str(tmp_path / "none.html"))
        assert code == 2 and "no signed checkpoint" in err
        assert not (tmp_path / "none.html").exists()
    finally:
        w.ledger.close()


def test_cli_report_refuses_a_checkpoint_the_log_key_did_not_sign(
    history: History, cli: Any, tmp_path: Path
) -> None:
    from ledger.auditor.note import NoteSigner
    from ledger.keys import KeyPair

    vkey = history.world.config.log_vkey_path
    vkey.write_text(NoteSigner("test.example/ledger", KeyPair.generate()).verifier.encode())
    code, _, err = cli("report", "--as-of", AS_OF, "--out", str(tmp_path / "r.html"))
    assert code == 1 and "the latest checkpoint does not verify" in err
    assert not (tmp_path / "r.html").exists()


def _http(world: World) -> Any:
    client = TestClient(create_app(world.config, world.ledger))
    tokens = TokenStore(world.ledger.tables)
    client.tokens = {  # type: ignore[attr-defined]
        user: tokens.create(user, timedelta(days=1), now=world.clock.now) for user in world.keys
    }
    return client


def test_api_report_roles_formats_and_errors(history: History) -> None:
    with _http(history.world) as http:

        def get(user: str, **params: str) -> Any:
            return http.get(
                "/v1/report",
                params=params,
                headers={"Authorization": f"Bearer {http.tokens[user]}"},
            )

        for user in ("chair", "scrutiny", "sig", "admin"):
            response = get(user, as_of=AS_OF)
            assert response.status_code == 200, (user, response.text)
        assert response.headers["content-type"].startswith("text/html")
        # A document that runs no script, is never framed and never sniffed (issue 17).
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert "script-src" not in policy  # none: default-src 'none' covers scripts
        assert response.headers["x-content-type-options"] == "nosniff"
        # the log grew past the history's checkpoint: the server signed a fresh one first
        assert response.headers["x-checkpoint-size"] == str(history.world.ledger.tree_size())
        page = ReportPage(response.text)
        assert page.as_dict("actions-by-status")["not implementable"] == "1"
        for user in ("council.officer", "police.lead"):
            response = get(user, as_of=AS_OF)
            assert response.status_code == 403 and response.json()["error"] == "forbidden"
        pdf = get("chair", as_of=AS_OF, format="pdf")
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF-")
        assert get("chair", as_of="soon").json()["error"] == "invalid_entry"
        bad_since = get("chair", as_of=AS_OF, since="2023-08-01")
        assert bad_since.status_code == 422 and "since" in bad_since.json()["detail"]
        assert get("chair", as_of=AS_OF, format="docx").status_code == 422
        assert get("chair").status_code == 422  # as_of is required
        assert http.get("/v1/report", params={"as_of": AS_OF}).status_code == 401


def test_api_report_without_a_checkpoint_or_the_log_key_is_a_conflict(
    config: Any, clock: Any, tmp_path: Path
) -> None:
    from tests.support.rawdb import RawEvents

    w = make_world(config, clock)
    RawEvents(config).execute("DELETE FROM ledger_checkpoints")
    try:
        with _http(w) as http:

            def get() -> Any:
                return http.get(
                    "/v1/report",
                    params={"as_of": AS_OF},
                    headers={"Authorization": f"Bearer {http.tokens['chair']}"},
                )

            config.log_key_path.rename(tmp_path / "log.key")
            response = get()
            assert response.status_code == 409
            assert response.json()["error"] == "no_checkpoint"
            (tmp_path / "log.key").rename(config.log_key_path)
            response = get()  # the server holds the log key: it signs one first
            assert response.status_code == 200
            assert response.headers["x-checkpoint-size"] == str(w.ledger.tree_size())
    finally:
        w.ledger.close()


def test_remote_cli_report_through_a_real_server(
    history: History, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.server import running_server

    config = history.world.config
    env = {"INQUIRY_LEDGER_HOME": str(config.home)}
    if config.database_url:
        env["INQUIRY_LEDGER_DATABASE_URL"] = config.database_url
    tokens = TokenStore(history.world.ledger.tables)
    chair = tokens.create("chair", timedelta(days=1))
    officer = tokens.create("council.officer", timedelta(days=1))
    with running_server(env) as url:
        monkeypatch.setenv("INQUIRY_LEDGER_HOME", str(tmp_path / "client"))
        out = tmp_path / "remote.html"
        code, stdout, err = cli(
            "--server", url, "--token", chair, "report", "--as-of", AS_OF, "--out", str(out)
        )
        assert code == 0, err
        size = history.world.ledger.tree_size()  # the server signed a fresh one first
        assert size > history.checkpoint.tree_size
        assert f"signed checkpoint of size {size} (the log holds {size} entries)" in stdout
        page = ReportPage(out.read_text())
        assert page.as_dict("actions-by-status")["verified"] == "1"
        assert page.as_dict("checkpoint", header=0)["Size (entries covered)"] == str(size)
        code, _, err = cli(
            "--server", url, "--token", officer, "report", "--as-of", AS_OF,
            "--out", str(tmp_path / "no.html"),
        )  # fmt: skip
        assert code == 3 and "forbidden" in err
        assert not (tmp_path / "no.html").exists()
        code, stdout, err = cli(
            "--server", url, "--token", chair, "report", "--as-of", AS_OF, "--checkpoint",
            "--out", str(tmp_path / "again.html"),
        )  # fmt: skip
        assert code == 0 and "grown" not in stdout, err  # the server's default, asked for


def test_the_pdf_is_tagged_for_a_screen_reader(history: History) -> None:
    """PDF/UA-1: tagged, in English, titled, its headings and tables in the structure tree
    (a Full Council member reading it with a screen reader hears its sections and tables
    as such), and the chart a figure with its text alternative."""
    counts = structure_of(render_pdf(report_of(history)))
    assert counts["H1"] == 1 and counts["H2"] >= 3
    assert counts["Table"] >= 2 and counts["TH"] >= 4 and counts["TD"] >= 4
    assert counts["P"] >= 3


def test_the_consultees_views_are_every_comment_of_theirs_by_role_not_name(
    config: Any, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A consultee's comment and their comment that asks the agency to answer (the
    action page's "Challenge" form, not a `challenge.raised`) are both their views;
    others' comments are not; the text is escaped and the consultee is never named."""
    clear_store_settings(monkeypatch)
    w = make_world(config, clock)
    try:
        w.add_action("R1.1")
        w.keys["lx1"] = KeyPair.generate()
        lx1 = w.keys["lx1"].public_key
        w.client("chair").register_user("lx1", "Jane Doe", "lived_experience", None, lx1)
        clock.advance(days=40)
        w.client("lx1").comment("R1.1", SCRIPT)
        w.client("lx1").comment("R1.1", "Why were we not asked?", challenge=True)
        w.client("sig").comment("R1.1", "Not a consultee's view")
        report = build_report(
            w.ledger,
            checkpoint_info(w.checkpoint().note, w.ledger.tree_size(), w.vkey),
            as_of=parse_as_of(AS_OF),
        )
        assert [(v.kind, v.text) for v in report.views] == [
            ("comment", SCRIPT),
            ("challenge", "Why were we not asked?"),
        ]
        html = render_html(report)
        views = html[html.index('id="views"') : html.index('id="challenges"')]
        assert "2 comments by lived-experience consultees" in views
        assert "(asks the agency to answer)</span> Why were we not asked?" in views
        assert "&lt;script&gt;" in views and "<script>" not in html
        assert "Jane Doe" not in html and "lx1" not in views
    finally:
        w.ledger.close()
