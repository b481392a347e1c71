"""A lived-experience consultee end to end by the CLI, as the users would run it (issue 15):
the chair appoints them (the implementation group may not, under the default charter);
they comment on an action and challenge its agency, and close the challenge once the
agency answers; they sign nothing off, move no action and record no session; `verify` and
the auditor's `verify-bundle --rules` accept every entry, and list the consultee's
appointment under the charter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.support.sample_plan import assert_verified, init_ledger, setup_plan


def _key(cli: Any, tmp_path: Path, user: str) -> Path:
    key = tmp_path / f"{user}.key"
    assert cli("keys", "new", "--out", str(key))[0] == 0
    return key


def test_a_consultee_comments_and_challenges_and_signs_nothing_off(
    cli: Any, tmp_path: Path
) -> None:
    setup_plan(cli, tmp_path)
    key = _key(cli, tmp_path, "lx1")
    sig = ["--as", "sig", "--key", str(tmp_path / "sig.key")]
    chair = ["--as", "chair", "--key", str(tmp_path / "chair.key")]
    add = ["users", "add", "lx1", "--name", "Consultee 1", "--role", "lived_experience",
           "--key-file", str(key)]  # fmt: skip
    code, _, err = cli(*sig, *add)
    assert code == 3 and "lived_experience" in err and "chair" in err
    code, _, err = cli(*chair, *add)
    assert code == 0, err

    lx = ["--as", "lx1", "--key", str(key)]
    jo = ["--as", "jo", "--key", str(tmp_path / "jo.key")]
    sam = ["--as", "sam", "--key", str(tmp_path / "sam.key")]
    code, out, err = cli(*lx, "act", "R1.1", "comment", "Ask the young people too")
    assert code == 0 and "action.comment_added" in out, err
    code, out, err = cli(*lx, "challenge", "raise", "R1.1", "--text", "Who was consulted?")
    assert code == 0 and "raised challenge C1 on R1.1 to council" in out, err
    code, out, err = cli(*jo, "challenge", "answer", "C1", "--text", "The youth forum")
    assert code == 0, err
    code, out, err = cli(*lx, "challenge", "close", "C1", "--satisfied", "--reason", "Good")
    assert code == 0 and "challenge.closed" in out, err

    # No sign-off, no status, no session: a consultee advises, it does not decide.
    assert cli(*jo, "act", "R1.1", "start")[0] == 0
    code, _, err = cli(*lx, "act", "R1.1", "block", "--reason", "x")
    assert code == 3 and "lived_experience" in err
    evidence = tmp_path / "terms.txt"
    evidence.write_text("Terms of reference")
    code, _, err = cli(*jo, "act", "R1.1", "attach", str(evidence), "--description", "ToR",
                       "--effective-date", "2023-02-01")  # fmt: skip
    assert code == 0, err
    assert cli(*jo, "act", "R1.1", "submit")[0] == 0
    assert cli(*sam, "act", "R1.1", "sign-off", "--statement", "Done")[0] == 0
    code, _, err = cli(*lx, "act", "R1.1", "sign-off", "--statement", "Agreed")
    assert code == 3 and "lived_experience" in err
    code, _, err = cli(*lx, "act", "R1.1", "return", "--reason", "More")
    assert code == 3 and "lived_experience" in err

    code, out, err = cli("challenge", "show", "C1")
    assert code == 0 and "closed (satisfied)" in out and "lx1" in out, err
    code, out, err = cli("users", "list")
    assert code == 0 and "lx1" in out and "lived_experience" in out, err

    assert cli("checkpoint")[0] == 0
    assert_verified(cli, tmp_path)

    # The report gives their views a place of their own, by role, never by name.
    out_file = tmp_path / "report.html"
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    code, _, err = cli("report", "--as-of", tomorrow, "--out", str(out_file))
    assert code == 0, err
    html = out_file.read_text()
    views = html[html.index('id="views"') : html.index('id="challenges"')]
    assert "1 comment by lived-experience consultees in this period" in views
    assert '<th scope="row">R1.1</th><td>Ask the young people too</td>' in views
    assert "lx1" not in views and "Consultee 1" not in views


def test_the_charter_may_leave_consultees_to_the_implementation_group(
    cli: Any, tmp_path: Path
) -> None:
    """`charter adopt --consultees-appointed-by implementation_group`; the chair then may
    not appoint one, the group may."""
    init_ledger(cli, tmp_path, "council.example/inquiry")
    chair_key = _key(cli, tmp_path, "chair")
    chair = ["--as", "chair", "--key", str(chair_key)]
    code, _, err = cli(*chair, "charter", "adopt", "--name", "Chair", "--title", "T",
                       "--consultees-appointed-by", "implementation_group")  # fmt: skip
    assert code == 0, err
    sig_key = _key(cli, tmp_path, "sig")
    code, _, err = cli(*chair, "users", "add", "sig", "--name", "Sig", "--role",
                       "implementation_group", "--key-file", str(sig_key))  # fmt: skip
    assert code == 0, err
    code, out, _ = cli("charter", "show")
    assert "lived_experience" in out and "implementation_group" in out
    key = _key(cli, tmp_path, "lx1")
    add = ["users", "add", "lx1", "--name", "Consultee", "--role", "lived_experience",
           "--key-file", str(key)]  # fmt: skip
    code, _, err = cli(*chair, *add)
    assert code == 3, err
    code, _, err = cli("--as", "sig", "--key", str(sig_key), *add)
    assert code == 0, err
