"""`session` and `arising` end to end (issue 15), on SQLite and PostgreSQL, as a clerk and a
chair would use them: the secretariat records two sessions of the PCC's Assurance &
Accountability meeting; in the second, the chair challenges an agency, the agency answers
and starts its action, an action arising is recorded and the first session's action
arising is closed; the minutes (HTML and PDF) hold all of it under the recommendations in
the order taken, with the action arising carried from the first session; the chair alone
approves them, and only the minutes as rebuilt; `verify` and the auditor's
`verify-bundle --rules` accept every entry."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.support.sample_plan import assert_verified, setup_plan

BODY = "PCC Assurance & Accountability"


def _hold(cli: Any, who: list[str], session_id: str, day: str, *recs: str) -> tuple[int, str, str]:
    numbers = [arg for n in recs for arg in ("--recommendation", n)]
    result: tuple[int, str, str] = cli(
        *who, "session", "hold", session_id, "--body", BODY, "--date", day,
        "--from", "00:00", "--to", "23:59", "--chair", "pcc",
        "--attendee", "Police and Crime Commissioner=PCC",
        "--attendee", "Head of Policy and Commissioning=CR",
        "--attendee", "Temporary Deputy Chief Constable:west-mercia-police=T/DCC",
        *numbers,
    )  # fmt: skip
    return result


def test_a_session_its_minutes_and_actions_arising(cli: Any, tmp_path: Path) -> None:
    setup_plan(cli, tmp_path)
    sig = ["--as", "sig", "--key", str(tmp_path / "sig.key")]
    jo = ["--as", "jo", "--key", str(tmp_path / "jo.key")]
    pcc = ["--as", "pcc", "--key", str(tmp_path / "pcc.key")]
    chair = ["--as", "chair", "--key", str(tmp_path / "chair.key")]
    assert cli("keys", "new", "--out", str(tmp_path / "pcc.key"))[0] == 0
    code, _, err = cli(
        *chair, "users", "add", "pcc", "--name", "PCC", "--role", "scrutiny",
        "--key-file", str(tmp_path / "pcc.key"),
    )  # fmt: skip
    assert code == 0, err
    today = datetime.now(UTC).date()
    before = (today - timedelta(days=30)).isoformat()

    # Who records a session, and what it must say.
    code, _, err = _hold(cli, jo, "pcc-aa-1", before, "1")
    assert code == 3 and "rule: session.hold" in err
    code, _, err = _hold(cli, sig, "pcc-aa-1", before, "9")
    assert code == 3 and "no recommendation 9" in err
    code, _, err = cli(*sig, "session", "hold", "x", "--body", BODY, "--date", before,
                       "--from", "12:00", "--to", "11:00", "--chair", "pcc",
                       "--attendee", "PCC=PCC", "--recommendation", "1")  # fmt: skip
    assert code == 3 and "ends after it starts" in err
    code, _, err = cli(*sig, "session", "hold", "x", "--body", BODY, "--date", before,
                       "--from", "10:00", "--to", "11:00", "--chair", "jo",
                       "--attendee", "PCC=PCC", "--recommendation", "1")  # fmt: skip
    assert code == 3 and "may not chair a session" in err

    # The first session, a month ago, with its action arising.
    code, out, err = _hold(cli, sig, "pcc-aa-1", before, "1")
    assert code == 0 and "session.held" in out, err
    code, out, err = cli(
        *sig, "arising", "add", "--session", "pcc-aa-1", "--recommendation", "1",
        "--owner", "council", "--due", today.isoformat(), "--done-means", "terms agreed",
        "--text", "Share the group's terms of reference with the OPCC",
    )  # fmt: skip
    assert code == 0 and "action arising pcc-aa-1.1" in out, err

    # Today's session takes recommendation 2, then 1.
    code, out, err = _hold(cli, sig, "pcc-aa-2", today.isoformat(), "2", "1")
    assert code == 0, err
    code, out, err = cli(*pcc, "challenge", "raise", "R1.1", "--text", "Who attends the group?")
    assert code == 0, err
    challenge_id = re.search(r"raised challenge (\S+)", out)[1]  # type: ignore[index]
    code, _, err = cli(*jo, "challenge", "answer", challenge_id, "--text", "All partners attend")
    assert code == 0, err
    code, _, err = cli(*jo, "act", "R1.1", "start")
    assert code == 0, err
    code, _, err = cli(
        *jo, "arising", "add", "--session", "pcc-aa-2", "--recommendation", "1",
        "--owner", "council", "--due", "2030-01-31", "--done-means", "d", "--text", "t",
    )  # fmt: skip
    assert code == 3 and "rule: arising.record" in err  # an agency's officer may not
    code, _, err = cli(
        *pcc, "arising", "add", "--session", "pcc-aa-2", "--recommendation", "3",
        "--owner", "council", "--due", "2030-01-31", "--done-means", "d", "--text", "t",
    )  # fmt: skip
    assert code == 3 and "did not cover recommendation 3" in err
    code, out, err = cli(
        *pcc, "arising", "add", "--session", "pcc-aa-2", "--recommendation", "1",
        "--owner", "west-mercia-police", "--due", "2030-01-31",
        "--done-means", "the OPCC has when and how often they run",
        "--text", "Share the extent and frequency of the mobile operations",
    )  # fmt: skip
    assert code == 0 and "pcc-aa-2.1" in out, err
    code, _, err = cli(*sig, "arising", "close", "pcc-aa-1.1", "--reason", "terms shared")
    assert code == 0, err
    code, _, err = cli(*sig, "arising", "close", "pcc-aa-1.1", "--reason", "again")
    assert code == 3 and "is closed" in err

    # The minutes, as a clerk would circulate them.
    html = tmp_path / "minutes.html"
    code, out, err = cli("session", "minutes", "pcc-aa-2", "--out", str(html))
    assert code == 0 and "draft minutes" in out, err
    sha = re.search(r"SHA-256 ([0-9a-f]{64})", out)[1]  # type: ignore[index]
    text = html.read_text()
    assert '<html lang="en-GB">' in text and "<caption>Attendees, by role</caption>" in text
    assert BODY.replace("&", "&amp;") in text and "T/DCC" in text and "west-mercia-police" in text
    assert text.index("Recommendation 2: Publish an annual report") < text.index(
        "Recommendation 1: Establish a Joint CSE Review Group"
    )
    assert "Who attends the group?" in text and "All partners attend" in text
    assert "not_started → in_progress" in text
    assert "Share the extent and frequency of the mobile operations" in text
    assert "the OPCC has when and how often they run" in text
    carried = text[text.index("carried from earlier sessions") :]
    assert "pcc-aa-1.1" in carried and "closed at this session" in carried
    assert "Draft: not approved" in text

    # Only the session's chair approves, and only the minutes as they are now.
    code, _, err = cli(*sig, "session", "approve", "pcc-aa-2")
    assert code == 3 and "only its chair, pcc" in err
    code, _, err = cli(*pcc, "session", "approve", "pcc-aa-2", "--sha256", "0" * 64)
    assert code == 3 and "read them again" in err
    code, out, err = cli(*pcc, "session", "approve", "pcc-aa-2", "--sha256", sha)
    assert code == 0 and "session.minutes_approved" in out and sha in out, err
    approval = int(re.search(r"appended entry (\d+): session.minutes_approved", out)[1])  # type: ignore[index]
    code, _, err = cli(*pcc, "session", "approve", "pcc-aa-2")
    assert code == 3 and "already approved" in err
    code, _, err = cli(
        *pcc, "arising", "add", "--session", "pcc-aa-2", "--recommendation", "1",
        "--owner", "council", "--due", "2030-01-31", "--done-means", "d", "--text", "t",
    )  # fmt: skip
    assert code == 3 and "record it at the next session" in err

    # What is signed after the approval, even in the window, is not in what was approved.
    code, _, err = cli(*jo, "act", "R1.1", "comment", "Said after the approval")
    assert code == 0, err
    code, out, err = cli("session", "minutes", "pcc-aa-2", "--out", str(html))
    assert code == 0 and "approved minutes" in out and sha in out and "warning" not in out, err
    text = html.read_text()
    assert f"Approved by the chair, pcc, on {today.isoformat()}" in text
    assert f"(entry {approval})" in text and "Said after the approval" not in text
    pdf = tmp_path / "minutes.pdf"
    code, out, err = cli("session", "minutes", "pcc-aa-2", "--out", str(pdf))
    assert code == 0, err
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000

    code, out, err = cli("session", "list")
    assert code == 0, err
    assert re.search(r"pcc-aa-1 .* draft +0", out) and f"approved (entry {approval})" in out
    code, out, err = cli("arising", "list", "--open")
    assert code == 0 and "pcc-aa-2.1" in out and "pcc-aa-1.1" not in out, err
    code, out, err = cli("arising", "list")
    assert "pcc-aa-1.1" in out and "closed" in out

    assert_verified(cli, tmp_path)
