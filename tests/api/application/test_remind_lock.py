"""Overlapping `remind` runs (issue 18): two at once send each digest once.

Each run is a separate Ledger (as two processes would open), on SQLite and PostgreSQL
(the `config` fixture). The sender is a stand-in that takes its time, so that without a
lock both runs would find nothing recorded, and both send."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from api.application.mailer import SmtpSettings
from api.application.remind import Outcome, RemindInProgress, RemindOptions, remind, run_lock
from ledger.config import LedgerConfig
from ledger.service import Ledger
from ledger.signer import Signer
from tests.support.clock import Clock
from tests.support.world import ORIGIN, World, make_world

AS_OF = datetime.now(UTC).date()
CONTACTS = {"council.lead": "lead@council.example", "police.lead": "lead@police.example"}
SMTP = SmtpSettings("127.0.0.1", 25, "ledger@inquiry.example", timeout=5)


@pytest.fixture
def world(config: LedgerConfig) -> Any:
    """A plan with one digest due per agency, recorded a few minutes ago (its ledger's
    clock is the test clock; runs use a Ledger of their own, on the real clock)."""
    w = make_world(config, Clock(datetime.now(UTC) - timedelta(minutes=3)))
    for action_id, lead, due in (
        ("R1.1", "council", AS_OF - timedelta(days=20)),
        ("R2.1", "police", AS_OF + timedelta(days=3)),
    ):
        w.client("sig").add_action(
            {
                "action_id": action_id,
                "recommendation": int(action_id[1]),
                "title": f"Action {action_id}",
                "lead_agency": lead,
                "lead_officers": ["Lead"],
                "expected_outcome": "Done",
                "evidence_required": "Minutes",
                "due_date": due.isoformat(),
            }
        )
    yield w
    w.ledger.close()


class SlowOutbox:
    """Accepts every message after a pause (the SMTP round trips), counting per agency."""

    def __init__(self, pause: float = 0.3) -> None:
        self.pause = pause
        self.sent: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, settings: SmtpSettings, message: EmailMessage) -> set[str]:
        time.sleep(self.pause)
        with self.lock:
            self.sent[str(message["Subject"])] += 1
        return set()


def _run(ledger: Ledger, world: World, outbox: SlowOutbox, **kwargs: Any) -> list[Outcome]:
    return remind(
        ledger,
        RemindOptions(as_of=AS_OF),
        contacts=CONTACTS,
        signer=Signer("sig", world.keys["sig"], ORIGIN),
        smtp=SMTP,
        send=outbox,
        **kwargs,
    )


def test_two_runs_at_once_send_each_digest_once(world: World) -> None:
    outbox = SlowOutbox()
    first, second = Ledger(world.config), Ledger(world.config)  # the clock: now
    outcomes: dict[str, list[Outcome]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run(name: str, ledger: Ledger) -> None:
        start.wait()
        try:
            outcomes[name] = _run(ledger, world, outbox)
        except BaseException as error:
            errors.append(error)

    threads = [
        threading.Thread(target=run, args=("a", first)),
        threading.Thread(target=run, args=("b", second)),
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        first.close()
        second.close()
    assert not errors, errors
    assert len(outbox.sent) == 2, outbox.sent  # one digest per agency...
    assert set(outbox.sent.values()) == {1}, f"a digest was sent twice: {outbox.sent}"
    states = sorted(o.state for run in outcomes.values() for o in run)
    assert states == ["repeat", "repeat", "sent", "sent"], states  # ...the other run: repeats
    records = [
        e for _, e in world.ledger.entries() if b"reminder.digest_sent" in e
    ]  # each sent digest is recorded once
    assert len(records) == 2


def test_a_run_that_cannot_get_the_lock_in_time_sends_nothing(world: World) -> None:
    outbox = SlowOutbox(pause=0)
    with Ledger(world.config) as ledger:
        size = ledger.tree_size()
        started = time.monotonic()
        with (
            run_lock(world.config).hold(0),
            pytest.raises(RemindInProgress, match=r"waited 0\.3 s"),
        ):
            _run(ledger, world, outbox, wait=0.3)
        assert 0.3 <= time.monotonic() - started < 5
        assert not outbox.sent and ledger.tree_size() == size
        # a dry run sends nothing, so it does not wait for the lock
        with run_lock(world.config).hold(0):
            dry = remind(ledger, RemindOptions(as_of=AS_OF, dry_run=True), contacts=CONTACTS)
        assert [o.state for o in dry] == ["dry_run", "dry_run"]
        # once free, a run goes ahead
        assert [o.state for o in _run(ledger, world, outbox, wait=0.3)] == ["sent", "sent"]


def test_cli_exits_6_with_a_clear_message_when_another_run_holds_the_lock(
    world: World, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "sig.key"
    world.keys["sig"].write(key)
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "user_id,email\n" + "".join(f"{u},{a}\n" for u, a in CONTACTS.items()), encoding="utf-8"
    )
    monkeypatch.setenv("INQUIRY_LEDGER_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("INQUIRY_LEDGER_SMTP_PORT", "9")  # nothing listens: never reached
    monkeypatch.setenv("INQUIRY_LEDGER_SMTP_FROM", "ledger@inquiry.example")
    size = world.ledger.tree_size()
    with run_lock(world.config).hold(0):
        code, out, err = cli(
            "--as", "sig", "--key", str(key), "remind", "--contacts", str(contacts),
            "--wait", "0.2",
        )  # fmt: skip
    assert code == 6, err
    assert err.strip().splitlines() == [
        "inquiry-ledger: another remind run is in progress (waited 0.2 s); nothing was sent"
    ]
    assert out == "" and world.ledger.tree_size() == size
