"""Actions arising chased up the actions' escalation ladder (issue 15), end to end on
SQLite and PostgreSQL, the CLI run as a user would, through a real SMTP server: the
implementation group holds a session and records two actions arising, one owned by the
council and one by its officer jo; `remind --arisings` chases both in one message to the
council (jo as owner, sam as its lead, with the session's link); four months later the
same message reaches the implementation group too (level 1); a repeat is skipped; once
both are closed there is nothing to chase. Each message is recorded as a signed
`reminder.arisings_chased` (ids, levels, user ids, the body's SHA-256, no address), and
`verify` and `verify-bundle --rules` say OK."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from api.cli.common import open_ledger
from domain import Reminders
from domain.reminders import reminders_aggregate_id
from tests.support.sample_plan import assert_verified, setup_plan
from tests.support.smtp_inbox import Inbox, body_of

BASE = "https://ledger.council.example"


def test_actions_arising_are_chased_up_the_ladder(cli: Any, tmp_path: Path, inbox: Inbox) -> None:
    setup_plan(cli, tmp_path)
    today = datetime.now(UTC).date()
    due = (today + timedelta(days=10)).isoformat()
    day = lambda days: (today + timedelta(days=days)).isoformat()  # noqa: E731
    sig = ["--as", "sig", "--key", str(tmp_path / "sig.key")]
    code, _, err = cli(
        *sig, "session", "hold", "sig-1", "--body", "Strategic Implementation Group",
        "--date", today.isoformat(), "--from", "00:00", "--to", "23:59", "--chair", "sig",
        "--attendee", "Chair of the group=Chair", "--recommendation", "1",
    )  # fmt: skip
    assert code == 0, err
    for owner, text in (("council", "Publish the terms"), ("user:jo", "Brief the team")):
        code, _, err = cli(
            *sig, "arising", "add", "--session", "sig-1", "--recommendation", "1",
            "--owner", owner, "--due", due, "--done-means", "on the website",
            "--text", text,
        )  # fmt: skip
        assert code == 0, err
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "user_id,email\njo,jo@council.example\nsam,sam@council.example\nsig,sig@x.example\n"
    )
    remind = [*sig, "remind", "--arisings", "--contacts", str(contacts), "--base-url", BASE]

    code, _, err = cli(*remind, "--updates")
    assert code == 2 and "two runs" in err
    code, out, err = cli(*remind, "--as-of", day(-30))
    assert code == 0 and "nothing due within 30 days" in out and not inbox.messages, err
    code, out, err = cli(*remind, "--dry-run")
    assert code == 0 and f"{BASE}/sessions/sig-1" in out and not inbox.messages, err

    code, out, err = cli(*remind)
    assert code == 0 and out.startswith("council: sent to jo, sam ("), err
    [first] = inbox.messages
    assert first["To"] == "jo@council.example, sam@council.example" and not first["Cc"]
    body = body_of(first)
    assert f"sig-1.1 due {due} (due in 10 days), owner agency council" in body
    assert f"sig-1.2 due {due} (due in 10 days), owner user jo: Brief the team" in body
    assert "done means: on the website" in body and f"{BASE}/sessions/sig-1" in body
    assert "@council.example" not in body

    code, out, err = cli(*remind, "--as-of", day(1))  # the same content: skipped
    assert code == 0 and "skipped" in out and len(inbox.messages) == 1, err
    code, out, err = cli(*remind, "--as-of", day(140))  # overdue 4 months: level 1
    assert code == 0 and out.startswith("council: sent to jo, sam, sig ("), err
    second = inbox.messages[1]
    assert second["Cc"] == "sig@x.example"
    assert "Level 1: overdue 3 months or more" in body_of(second)

    with open_ledger(cli.config) as ledger:
        reminders = cast(Reminders, ledger.get(reminders_aggregate_id("council")))
        one, two = reminders.arising_chases
        assert reminders.digests == [] and reminders.update_requests == []
    assert one.items == (("sig-1.1", due, 0, False), ("sig-1.2", due, 0, False))
    assert two.items == (("sig-1.1", due, 1, True), ("sig-1.2", due, 1, True))
    assert one.recipients == ("jo", "sam") and two.recipients == ("jo", "sam", "sig")
    assert one.body_sha256 == hashlib.sha256(body.encode()).hexdigest()

    for arising in ("sig-1.1", "sig-1.2"):
        code, _, err = cli(*sig, "arising", "close", arising, "--reason", "done")
        assert code == 0, err
    code, out, err = cli(*remind, "--as-of", day(200))
    assert code == 0 and "among the open actions arising" in out and len(inbox.messages) == 2
    assert cli("checkpoint")[0] == 0
    assert_verified(cli, tmp_path)


def test_only_senders_chase_and_only_as_the_ladder_says(
    cli: Any, tmp_path: Path, inbox: Inbox
) -> None:
    """An officer may not send; the record's levels must follow from the due dates."""
    setup_plan(cli, tmp_path)
    jo = ["--as", "jo", "--key", str(tmp_path / "jo.key")]
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("user_id,email\njo,jo@council.example\n")
    code, _, err = cli(*jo, "remind", "--arisings", "--contacts", str(contacts))
    assert code == 3 and "send reminders" in err and not inbox.messages
    code, _, err = cli(
        *jo, "remind", "--arisings", "--contacts", str(contacts), "--base-url", "ftp://x"
    )
    assert code == 2 and "--base-url must start with" in err
