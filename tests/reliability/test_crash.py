"""Crash safety: `inquiry-ledger serve` is killed with SIGKILL at random moments while
clients post signed entries and upload evidence, then restarted on the same port, over
and over (100 kills on PostgreSQL, 25 on SQLite, 25 on PostgreSQL with the evidence
encrypted in Ceph S3 instead of the local folder; loopback only, bounded).

Clients follow tests/support/reliability/client.py: sign once, re-send the same bytes with the
same command id until a definitive answer. With every command settled at the end:

- the log verifies (signatures, rules, Merkle tree, a fresh checkpoint);
- every acknowledged (2xx) entry is in the log, once: entries lost = 0;
- no entry is in the log that was not acknowledged, and no refused (409) entry is;
  entries recorded just before a kill whose reply was lost are acknowledged on retry as
  replays (`replayed_after_lost_reply`), never refused;
- every blob an entry names is stored and verifies; every stored blob is whole (reads
  back and hashes to its name); blobs no entry names are exactly what `evidence orphans`
  lists, and each is one a client uploaded.

INQUIRY_LEDGER_CRASH_KILLS changes the number of kills on PostgreSQL (default 100)."""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.application.tokens import TokenStore
from api.cli.main import main
from api.http.app import create_app
from domain import Action, action_aggregate_id
from evidence_store.config import EvidenceConfig, open_store
from ledger.config import LedgerConfig
from tests.support.reliability.checks import check_run
from tests.support.reliability.client import RetryingClient, Tally, finish, wire
from tests.support.reliability.fleet import officers_fleet
from tests.support.reliability.serve import ServeProcess
from tests.support.world import make_world

KILLS = int(os.environ.get("INQUIRY_LEDGER_CRASH_KILLS", "100"))
SHORTER_KILLS = max(1, KILLS // 4)  # SQLite, and PostgreSQL with evidence in Ceph S3
CLIENTS = 4
ACTIONS = 4  # per agency; each client writes to 3, so neighbours collide (409s happen)


@pytest.mark.reliability
@pytest.mark.parametrize(
    ("backend", "evidence"), [("postgres", "local"), ("sqlite", "local"), ("postgres", "s3")]
)
def test_kill_9_during_appends_and_uploads_loses_nothing(
    backend: str,
    evidence: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    kills = KILLS if (backend, evidence) == ("postgres", "local") else SHORTER_KILLS
    database_url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    home = tmp_path / "home"
    config = LedgerConfig(home=home, database_url=database_url)
    world, fleet, baseline = officers_fleet(config, CLIENTS, ACTIONS, prefix="crash")
    env = {
        "INQUIRY_LEDGER_HOME": str(home),
        "INQUIRY_LEDGER_DATABASE_URL": database_url or "",
        "INQUIRY_LEDGER_EVIDENCE_BACKEND": "local",
        "INQUIRY_LEDGER_EVIDENCE_ENCRYPTION": "off",
    }
    if evidence == "s3":
        # Encrypted, as S3 is by default: a kill between storing a blob's data key and
        # its object must never leave an object that cannot be read (checked below).
        ceph = request.getfixturevalue("ceph_s3")
        env.update(
            INQUIRY_LEDGER_EVIDENCE_BACKEND="s3",
            INQUIRY_LEDGER_EVIDENCE_ENCRYPTION="on",
            INQUIRY_LEDGER_S3_BUCKET=f"crash-{uuid.uuid4().hex[:12]}",
            INQUIRY_LEDGER_S3_ENDPOINT_URL=ceph.endpoint_url,
            INQUIRY_LEDGER_S3_ACCESS_KEY_ID=ceph.access_key,
            INQUIRY_LEDGER_S3_SECRET_ACCESS_KEY=ceph.secret_key,
            INQUIRY_LEDGER_S3_RETENTION_DAYS="1",
        )
    store = open_store(EvidenceConfig.from_env(home, env))
    server = ServeProcess(env, tmp_path / "logs", fork=True)
    tally = Tally()
    clients = [
        # Uploads of up to 1 MB stay in flight long enough for kills to land in them.
        RetryingClient(
            server.url,
            o.user_id,
            o.key,
            o.token,
            o.actions,
            tally,
            seed=n,
            evidence_bytes=(10_000, 1_000_000) if evidence == "local" else (1_000, 200_000),
        )
        for n, o in enumerate(fleet)
    ]
    stop = threading.Event()
    threads = [threading.Thread(target=c.run, args=(stop,)) for c in clients]
    rng = random.Random(2026)
    in_flight_at_kill: list[Counter[str]] = []
    restart_seconds = [server.start()]
    started = time.perf_counter()
    try:
        for thread in threads:
            thread.start()
        for _ in range(kills):
            # Kill at a random moment once requests are in flight (at most 2 s to wait).
            until = time.monotonic() + 2
            while tally.in_flight == 0 and time.monotonic() < until:
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.4))
            with tally.lock:
                in_flight_at_kill.append(+tally.in_flight_paths)  # the positive counts
            server.kill()
            restart_seconds.append(server.start())
        # Settle: the last server stays up while every client finishes its command.
        finish(stop, clients, threads)
    finally:
        stop.set()
        for client in clients:
            client.abandon.set()
        server.stop()
        for thread in threads:
            thread.join(timeout=60)
    elapsed = time.perf_counter() - started
    assert not tally.unexpected, tally.unexpected[:5]
    assert not server.tracebacks(), server.tracebacks()

    result = check_run(config, world, baseline, tally, store)

    for name in list(os.environ):
        if name.startswith("INQUIRY_LEDGER_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        if value:
            monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert main(["evidence", "orphans"]) == 0
    listed = capsys.readouterr().out.split()
    assert set(listed) == result.orphans and len(listed) == len(result.orphans)

    statuses = tally.statuses()
    if evidence == "s3":  # unfinished multipart uploads (not objects; nothing lists them)
        leftovers = store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
    else:  # temporary files of uploads cut short (never linked into place)
        leftovers = list((home / "evidence" / "tmp").glob("*"))
    summary = {
        "backend": backend,
        "evidence": evidence,
        "kills_survived": kills,
        "kills_with_requests_in_flight": sum(1 for paths in in_flight_at_kill if paths),
        "kills_during_appends": sum(1 for paths in in_flight_at_kill if paths["/v1/entries"]),
        "kills_during_uploads": sum(1 for paths in in_flight_at_kill if paths["/v1/evidence"]),
        "seconds": round(elapsed, 1),
        "median_restart_s": round(sorted(restart_seconds)[len(restart_seconds) // 2], 2),
        "requests_sent": sum(statuses.values()),
        "requests_without_response": statuses[0],
        "statuses": {str(status): n for status, n in sorted(statuses.items())},
        "commands": len(tally.commands),
        "acknowledged": result.acknowledged,
        "acknowledged_after_unknown_attempts": sum(
            1 for c in tally.settled("acknowledged") if c.unknown_attempts
        ),
        "replayed_after_lost_reply": result.replayed,
        "refused_409": result.refused,
        "entries_lost": result.entries_lost,
        "evidence_uploaded": len(tally.uploads),
        "evidence_named": result.evidence_named,
        "orphan_blobs": len(result.orphans),
        "partial_uploads_left_by_kills": len(leftovers),
    }
    print(json.dumps(summary))
    if kills >= 20:  # the run really crashed the server mid-append and mid-upload
        assert summary["kills_during_appends"] >= 1, summary
        assert summary["kills_during_uploads"] >= 1, summary
    if kills >= 50:  # ... and some entries were recorded just before their reply was lost
        assert summary["replayed_after_lost_reply"] >= 1, summary
    (tmp_path / "crash-summary.json").write_text(json.dumps(summary, indent=2))


def test_a_retry_of_an_entry_recorded_just_before_a_crash_is_answered_as_a_replay(
    config: LedgerConfig, clock: Any
) -> None:
    """The bug the crash test found: the server appended the entry, then died before it
    remembered the command id; the client's retry (same bytes, same command id) was
    refused as a version conflict although its entry was in the log."""
    world = make_world(config, clock)
    world.add_action("R1.1")
    try:
        with TestClient(create_app(config, world.ledger)) as http:
            token = TokenStore(world.ledger.tables).create(
                "council.officer", timedelta(days=1), now=clock.now
            )
            headers = {"Authorization": f"Bearer {token}"}
            aggregate = action_aggregate_id("R1.1")
            version = world.ledger.version_of(aggregate) + 1
            signer = world.signer("council.officer")
            entry = signer.sign(
                Action.CommentAdded.TYPE, aggregate, version, {"kind": "comment", "text": "a"}
            )
            recorded = world.ledger.append([entry])[0]  # ... and then the server died

            body = {"entries": [wire(entry)], "command_id": "lost-reply-0001"}
            for _ in range(2):  # found in the log, then answered from the command log
                response = http.post("/v1/entries", json=body, headers=headers)
                assert response.status_code == 200, response.text
                answer = response.json()
                assert answer["replayed"] is True
                assert answer["appended"][0]["leaf_index"] == recorded.leaf_index
                assert answer["appended"][0]["notification_id"] == recorded.notification_id
                assert answer["appended"][0]["version"] == version

            # Another entry at the taken version is still refused: only the same bytes match.
            other = signer.sign(
                Action.CommentAdded.TYPE, aggregate, version, {"kind": "comment", "text": "b"}
            )
            response = http.post(
                "/v1/entries",
                json={"entries": [wire(other)], "command_id": "lost-reply-0002"},
                headers=headers,
            )
            assert response.status_code == 409
            assert response.json()["error"] == "version_conflict"
            assert world.ledger.version_of(aggregate) == version
    finally:
        world.ledger.close()
