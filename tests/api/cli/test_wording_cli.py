"""`plan words` end to end (issue 14), on SQLite and PostgreSQL, in the ledger's folder:
a ledger that has signed no words shows only generic ones in its report, its status and
its pages (no council's wording anywhere); the implementation group signs its own words
and the report's title, the levels and the bodies change; a report as of a moment before
the change keeps the words that stood then; the wrong signer, an unknown key and a control
character are refused by rule; `verify` and the auditor's `verify-bundle --rules` accept
the new entry; and the same in client mode against a real `serve` process."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from api.application.demo import TELFORD_WORDS
from ledger.config import LedgerConfig
from tests.support.deployment import Deployment, served_site
from tests.support.sample_plan import setup_plan

#: Telford's words (and others only one council uses): none may appear unless signed.
TELFORD = (
    "Council progress report",
    "Strategic Implementation Group",
    "implementable locally",
    "Independent Inquiry",
    "Scrutiny committee",
    "Scrutiny Assembly",
)
WORDS_SET = [
    "--report-title", "Council progress report",
    "--level-implementation-group", "Strategic Implementation Group acceptance",
    "--body-implementation-group", "Strategic Implementation Group",
    "--set", "not_implementable=Not implementable locally",
    "--reason", "the names the council's reports use",
]  # fmt: skip


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _report(cli: Any, path: Path, as_of: str) -> str:
    code, _, err = cli("report", "--as-of", as_of, "--out", str(path))
    assert code == 0, err
    return _text(path.read_text())


def test_words_signed_change_the_report_and_an_earlier_report_keeps_the_old(
    cli: Any, tmp_path: Path
) -> None:
    setup_plan(cli, tmp_path)
    sig = ["--as", "sig", "--key", str(tmp_path / "sig.key")]
    sam = ["--as", "sam", "--key", str(tmp_path / "sam.key")]
    jo = ["--as", "jo", "--key", str(tmp_path / "jo.key")]
    # R1.1 through the agency's sign-off, so the report names a level.
    assert cli(*jo, "act", "R1.1", "start")[0] == 0
    evidence = tmp_path / "terms.txt"
    evidence.write_text("Terms of reference, approved.")
    code, _, err = cli(
        *jo, "act", "R1.1", "attach", str(evidence),
        "--description", "Terms", "--effective-date", "2023-02-01",
    )  # fmt: skip
    assert code == 0, err
    assert cli(*jo, "act", "R1.1", "submit")[0] == 0
    assert cli(*sam, "act", "R1.1", "sign-off", "--statement", "Complete")[0] == 0

    # No words signed: every word is the generic default, everywhere.
    code, out, err = cli("plan", "words", "show")
    assert code == 0, err
    assert "report_title" in out and "Progress report  (generic default)" in out
    assert out.count("(generic default)") == len(TELFORD_WORDS)
    code, out, err = cli("status")
    assert code == 0, err
    assert "the implementation group has accepted 0" in out
    assert "found 0 not implementable and 0 superseded" in out
    assert not [w for w in TELFORD if w in out]
    before = _report(cli, tmp_path / "before.html", datetime.now(UTC).date().isoformat())
    assert "Progress report as of" in before
    assert "signed off: Agency sign-off" in before
    assert not [w for w in TELFORD if w in before]

    cut = datetime.now(UTC)
    time.sleep(0.01)  # the words' entry is signed after `cut`

    # Refusals: the wrong signer, a key the vocabulary lacks, a control character.
    code, _, err = cli(*sam, "plan", "words", "set", "--report-title", "X", "--reason", "r")
    assert code == 3 and "rule: plan.set_wording" in err
    code, _, err = cli(*sig, "plan", "words", "set", "--set", "colour=blue", "--reason", "r")
    assert code == 3 and "unknown words: colour" in err and "report_title" in err
    code, _, err = cli(*sig, "plan", "words", "set", "--body-chair", "A\x07B", "--reason", "r")
    assert code == 3 and "control character" in err
    code, _, err = cli(*sig, "plan", "words", "set", "--reason", "nothing")
    assert code != 0 and "at least one word" in err
    with pytest.raises(SystemExit) as usage:  # argparse: every change carries a reason
        cli(*sig, "plan", "words", "set", "--report-title", "X")
    assert usage.value.code == 2

    code, out, err = cli(*sig, "plan", "words", "set", *WORDS_SET)
    assert code == 0 and "plan.wording_set" in out, err
    code, out, _ = cli("plan", "words", "show")
    assert "Council progress report" in out and "Not implementable locally" in out
    assert "Independent chair  (generic default)" in out  # not set: kept
    code, out, _ = cli("status")
    assert "the Strategic Implementation Group has accepted 0" in out
    assert "found 0 not implementable locally" in out

    after = _report(cli, tmp_path / "after.html", datetime.now(UTC).isoformat())
    assert "Council progress report as of" in after
    assert "the Strategic Implementation Group has accepted" in after
    assert "not implementable locally" in after
    assert "Accepted by the Strategic Implementation Group" in after
    assert "signed off: Agency sign-off" in after  # a level the change left alone

    # As of a moment before the change: the words that stood then.
    earlier = _report(cli, tmp_path / "earlier.html", cut.isoformat())
    assert "Progress report as of" in earlier and "Council progress report" not in earlier
    assert not [w for w in TELFORD if w in earlier]
    code, out, _ = cli("plan", "words", "show", "--as-of", cut.isoformat())
    assert out.count("(generic default)") == len(TELFORD_WORDS)

    # The entry verifies, by the ledger and by the auditor's own rules.
    assert cli("checkpoint")[0] == 0
    code, out, err = cli("verify", "--workers", "1")
    assert code == 0 and "OK" in out, err
    bundle = tmp_path / "bundle"
    assert cli("export", "--out", str(bundle))[0] == 0
    code, out, err = cli(
        "verify-bundle", str(bundle), "--log-key", str(cli.config.log_vkey_path),
        "--trust", str(tmp_path / "trust.keys"), "--rules",
    )  # fmt: skip
    assert code == 0 and out.rstrip().endswith("OK"), out + err


@pytest.fixture
def site(
    config: LedgerConfig,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """A served ledger set up over HTTP (tests/support/deployment.py `served_site`)."""
    with served_site(config, tmp_path, capsys, monkeypatch, "council.example/words") as deployed:
        yield deployed


def test_words_in_client_mode(site: Deployment) -> None:
    """Through a real `serve`: the entry goes through POST /v1/entries, and `plan words
    show` and `status` read the words back from /v1/status."""
    run = site.on_client
    sig, sam = site.as_user("sig"), site.as_user("sam")
    code, out, err = run(*sam, "plan", "words", "show")
    assert code == 0 and out.count("(generic default)") == len(TELFORD_WORDS), err
    code, _, err = run(*sam, "plan", "words", "set", "--report-title", "X", "--reason", "r")
    assert code == 3 and "rule: plan.set_wording" in err
    code, out, err = run(*sig, "plan", "words", "set", *WORDS_SET)
    assert code == 0 and "plan.wording_set" in out, err
    assert "receipt under checkpoint" in out  # the server's receipt, kept on sig's side
    code, out, err = run(*sam, "plan", "words", "show")
    assert code == 0 and "Council progress report" in out, err
    code, out, err = run(*sam, "status")
    assert code == 0 and "the Strategic Implementation Group has accepted 0" in out, err
