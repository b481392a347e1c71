"""Narrative updates and the update-request cycle end to end (issue 15), on SQLite and
PostgreSQL, the CLI run as a user would: the council's officer signs an update of R1.1
(`act R1.1 update`), which `timeline R1.1` shows and the status JSON dates; an officer
may not update another agency's action, nor say nothing; `remind --updates` then sends,
through a real SMTP server, one message to the agency whose overdue action has no update
this period (West Mercia Police, R1.2, with its link into the pages) and none to the
council, records it as `reminder.update_requested` (the body's SHA-256, user ids, no
address), skips it as a repeat on the next run; `verify` and `verify-bundle --rules` say OK.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, cast

from api.cli.common import open_ledger
from domain import Reminders
from domain.reminders import reminders_aggregate_id
from tests.support.sample_plan import assert_verified, setup_plan
from tests.support.smtp_inbox import Inbox

BASE = "https://ledger.council.example"
POLICE = "west-mercia-police"


def test_updates_and_the_request_cycle(cli: Any, tmp_path: Path, inbox: Inbox) -> None:
    setup_plan(cli, tmp_path)
    key = tmp_path / "pat.key"
    assert cli("keys", "new", "--out", str(key))[0] == 0
    code, _, err = cli(
        "--as", "chair", "--key", str(tmp_path / "chair.key"), "users", "add", "pat",
        "--name", "Pat", "--role", "agency_lead", "--agency", POLICE, "--key-file", str(key),
    )  # fmt: skip
    assert code == 0, err
    jo = ["--as", "jo", "--key", str(tmp_path / "jo.key")]
    sig = ["--as", "sig", "--key", str(tmp_path / "sig.key")]
    update = ["--period", "2023-H1", "--done", "Group set up", "--risks", "Chair vacancy"]

    code, out, err = cli(*jo, "act", "R1.1", "update", *update)
    assert code == 0 and "action.narrative_updated" in out, err
    code, _, err = cli(*jo, "act", "R1.2", "update", *update)  # the police's action
    assert code == 3 and "rule: action.narrative_update" in err
    code, _, err = cli(*jo, "act", "R1.1", "update", "--period", "2023-H1")
    assert code == 3 and "at least one" in err and len(err.strip().splitlines()) == 1

    code, out, err = cli("timeline", "R1.1")
    assert code == 0, err
    assert "action.narrative_updated by jo" in out and "done: Group set up" in out
    assert "risks: Chair vacancy" in out
    code, out, _ = cli("status", "--json")
    rows = {row["action_id"]: row for row in json.loads(out)["actions"]}
    assert rows["R1.1"]["narrative_period"] == "2023-H1" and rows["R1.1"]["narrative_on"]
    assert rows["R1.2"]["narrative_period"] is None

    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "user_id,email\njo,jo@council.example\nsam,sam@council.example\npat,pat@police.example\n"
    )
    remind = [*sig, "remind", "--updates", "--contacts", str(contacts)]
    code, _, err = cli(*remind)
    assert code == 2 and "--base-url" in err  # links need the pages' address
    code, out, err = cli(*remind, "--base-url", BASE, "--dry-run")
    assert code == 0 and f"{BASE}/actions/R1.2" in out and not inbox.messages, err

    code, out, err = cli(*remind, "--base-url", BASE)
    assert code == 0, err
    assert out.startswith(f"{POLICE}: sent to pat (") and len(out.splitlines()) == 1
    [message] = inbox.messages
    assert message["To"] == "pat@police.example"
    body = cast(Any, message.get_body(("plain",))).get_content().replace("\r\n", "\n")
    assert f"{BASE}/actions/R1.2" in body and "R1.1" not in body

    with open_ledger(cli.config) as ledger:
        reminders = cast(Reminders, ledger.get(reminders_aggregate_id(POLICE)))
        [record] = reminders.update_requests
        assert ledger.get(reminders_aggregate_id("council")) is None
    assert record.action_ids == ("R1.2",) and record.recipients == ("pat",)
    assert record.body_sha256 == hashlib.sha256(body.encode()).hexdigest()

    code, out, err = cli(*remind, "--base-url", BASE)  # the same request: not sent again
    assert code == 0 and "skipped" in out and len(inbox.messages) == 1, err
    assert_verified(cli, tmp_path)
