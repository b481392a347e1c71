"""Hangs: PostgreSQL freezes (SIGSTOP on the postmaster and every backend: connections stay
open, the kernel still acknowledges every packet, nothing answers) under a running
`inquiry-ledger serve` with clients writing, then resumes (SIGCONT).

While it is frozen every request is answered 503 {"error": "unavailable"} with
Retry-After within the bounds of ledger/config.py's DbTimeouts (set short here through
the INQUIRY_LEDGER_DB_*_TIMEOUT variables), never left hanging; the CLI in local mode
exits non-zero with one line on stderr. Once it resumes the service answers again by
itself; a refused append retried with its command id is appended once; requests caught
in flight were either completed or refused whole; the log verifies. A live server that
holds the append lock makes an append wait the lock bound, then 503.

The database is a private PostgreSQL 15 cluster on a free port (pgcluster.py), never
the machine's shared server; the tests stop only its processes, and always resume them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from domain import Action, action_aggregate_id
from evidence_store.config import EvidenceConfig, open_store
from ledger.config import LedgerConfig
from ledger.locks import PostgresAppendLock
from ledger.service import Ledger
from ledger.signer import Signer
from tests.support.reliability.checks import check_run
from tests.support.reliability.client import RetryingClient, Tally, finish, wire
from tests.support.reliability.fleet import officers_fleet
from tests.support.reliability.pgcluster import PgCluster
from tests.support.reliability.serve import ServeProcess
from tests.support.server import REPO
from tests.support.world import ORIGIN

pytestmark = pytest.mark.reliability

# Short bounds, so that the run takes seconds: the server cancels a statement after 1 s
# and the client gives up on an answer 2 s later (REPLY_GRACE); the append lock is waited
# for 2 s (plus the grace on a frozen server); a pooled connection 1 s; a new one 2 s.
BOUNDS = {
    "INQUIRY_LEDGER_DB_STATEMENT_TIMEOUT": "1",
    "INQUIRY_LEDGER_DB_LOCK_TIMEOUT": "2",
    "INQUIRY_LEDGER_DB_POOL_TIMEOUT": "1",
    "INQUIRY_LEDGER_DB_CONNECT_TIMEOUT": "2",
}
REPLY_SECONDS = 3.0  # statement bound + REPLY_GRACE: a request's first wait on a frozen server
# A fresh request's answer: its first database wait, plus the request's own work.
FRESH_BOUND = REPLY_SECONDS + 1.5
# A request caught in the middle of a write may add the append lock's waits (2 s for this
# process's lock, then 2 s + grace for the server's) before its own statement's 3 s.
IN_FLIGHT_BOUND = 2.0 + 4.0 + REPLY_SECONDS + 1.0
FROZEN_SECONDS = 6.0  # longer than every bound: each frozen wait runs out at least once
RECOVERY_SECONDS = 15.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[PgCluster]:
    if not PgCluster.available():
        message = "PostgreSQL 15 server binaries are not installed (/usr/lib/postgresql/15)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    cluster = PgCluster()
    cluster.init()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()


def _server_pids(cluster: PgCluster) -> list[int]:
    """The postmaster, then its children (backends and auxiliary processes)."""
    master = int((cluster.data / "postmaster.pid").read_text().split()[0])
    children: list[int] = []
    for task in os.listdir(f"/proc/{master}/task"):
        text = Path(f"/proc/{master}/task/{task}/children").read_text()
        children.extend(int(pid) for pid in text.split())
    return [master, *children]


@contextmanager
def frozen(cluster: PgCluster) -> Iterator[None]:
    """SIGSTOP the whole server (the postmaster first, so that it forks no new backend
    meanwhile); SIGCONT it on leaving, whatever happened."""
    stopped: list[int] = []
    try:
        for pid in _server_pids(cluster):
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
        yield
    finally:
        for pid in reversed(stopped):
            os.kill(pid, signal.SIGCONT)


def _timed(send: Any) -> tuple[httpx.Response | None, float]:
    """(response, seconds); None if no response came at all (the client's own timeout)."""
    started = time.monotonic()
    try:
        response = send()
    except httpx.TransportError:
        response = None
    return response, time.monotonic() - started


def _assert_unavailable(response: httpx.Response | None, seconds: float, bound: float) -> None:
    assert response is not None, f"no answer within {seconds:.1f} s: the request hung"
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "unavailable", response.text
    assert response.headers.get("retry-after"), "503 without Retry-After"
    assert seconds < bound, f"took {seconds:.1f} s to fail (bound {bound} s)"


def _env(home: Path, database_url: str) -> dict[str, str]:
    return {
        "INQUIRY_LEDGER_HOME": str(home),
        "INQUIRY_LEDGER_DATABASE_URL": database_url,
        "INQUIRY_LEDGER_EVIDENCE_BACKEND": "local",
        "INQUIRY_LEDGER_CHECKPOINT_INTERVAL": "0",  # no background writer: only the clients
        **BOUNDS,
    }


def _command(signer: Signer, aggregate: Any, after: int, count: int) -> dict[str, Any]:
    """An append of `count` comments (versions after+1 ...) with a fresh command id."""
    entries = [
        signer.sign(
            Action.CommentAdded.TYPE, aggregate, after + n, {"kind": "comment", "text": f"c{n}"}
        )
        for n in range(1, count + 1)
    ]
    return {
        "entries": [wire(e) for e in entries],
        "command_id": uuid.uuid4().hex,
        "signatures": [e.signature.hex() for e in entries],  # not sent (see _body)
    }


def _body(command: dict[str, Any]) -> dict[str, Any]:
    return {"entries": command["entries"], "command_id": command["command_id"]}


def test_a_frozen_database_is_a_bounded_503_and_the_service_recovers_with_nothing_lost(
    cluster: PgCluster, tmp_path: Path
) -> None:
    database_url = cluster.create_database("frozen")
    home = tmp_path / "home"
    config = LedgerConfig(home=home, database_url=database_url)
    env = _env(home, database_url)
    world, fleet, baseline = officers_fleet(config, 4, 4, prefix="hang")
    # Officers 0 and 1 are clients (R1.1-2, R2.1-2); officer 3 probes on R2.4 alone.
    probe = fleet[3]
    probe_signer = Signer(probe.user_id, probe.key, ORIGIN)
    probe_aggregate = action_aggregate_id("R2.4")
    server = ServeProcess(env, tmp_path / "logs")
    tally = Tally()
    clients = [
        RetryingClient(
            server.url, o.user_id, o.key, o.token, o.actions[:2], tally, seed=n,
            evidence_every=10**9,
        )
        for n, o in enumerate(fleet[:2])
    ]  # fmt: skip
    stop = threading.Event()
    threads = [threading.Thread(target=c.run, args=(stop,)) for c in clients]
    figures: dict[str, Any] = {}
    server.start()
    http = httpx.Client(
        base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {probe.token}"}
    )

    def probe_version() -> int:
        return int(http.get(f"/v1/aggregates/{probe_aggregate}/version").json()["version"])

    acknowledged: list[str] = []  # signatures of the probe's entries answered 200
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        version = probe_version()
        # In flight when the server freezes: a batch of 200 entries, sent just before.
        batch = _command(probe_signer, probe_aggregate, version, 200)
        in_flight: dict[str, Any] = {}

        def send_batch() -> None:
            in_flight["response"], in_flight["seconds"] = _timed(
                lambda: http.post("/v1/entries", json=_body(batch))
            )

        batch_thread = threading.Thread(target=send_batch)
        batch_thread.start()
        time.sleep(0.01)
        with frozen(cluster):
            frozen_at = time.monotonic()
            # Sent once the server is frozen: a read and a signed append, side by side.
            single = _command(probe_signer, probe_aggregate, version + 200, 1)
            answers: dict[str, tuple[httpx.Response | None, float]] = {}
            sends = {
                "status": lambda: http.get("/v1/status"),
                "append": lambda: http.post("/v1/entries", json=_body(single)),
            }
            fresh = [
                threading.Thread(target=lambda k=k, s=s: answers.__setitem__(k, _timed(s)))
                for k, s in sends.items()
            ]
            for thread in fresh:
                thread.start()
            for thread in fresh:
                thread.join()
            for name, (response, seconds) in answers.items():
                _assert_unavailable(response, seconds, FRESH_BOUND)
                figures[f"frozen_{name}_503_seconds"] = round(seconds, 2)
            batch_thread.join(timeout=IN_FLIGHT_BOUND)
            assert not batch_thread.is_alive(), "the in-flight batch got no answer"
            time.sleep(max(0.0, FROZEN_SECONDS - (time.monotonic() - frozen_at)))
        thawed_at = time.monotonic()

        # -- resumed: the service answers by itself ---------------------------------------
        while True:
            response, _ = _timed(lambda: http.get("/v1/status"))
            if response is not None and response.status_code == 200:
                break
            assert time.monotonic() - thawed_at < RECOVERY_SECONDS, "did not recover"
            time.sleep(0.05)
        figures["recovery_seconds"] = round(time.monotonic() - thawed_at, 2)

        # The batch caught in flight was completed or refused, whole; retried, it is
        # appended once, and a second retry is a replay.
        batch_response = in_flight["response"]
        figures["in_flight_batch"] = (
            None if batch_response is None else batch_response.status_code,
            round(in_flight["seconds"], 2),
        )
        assert batch_response is not None, "the in-flight batch hung"
        assert batch_response.status_code in (200, 503), batch_response.text
        assert in_flight["seconds"] < IN_FLIGHT_BOUND
        assert probe_version() in (version, version + 200), "the batch was half-written"
        for command in (batch, single):
            retried = _retry(http, command)
            assert retried.status_code == 200, retried.text
            acknowledged.extend(command["signatures"])
            again = http.post("/v1/entries", json=_body(command))
            assert again.status_code == 200 and again.json()["replayed"] is True, again.text
        assert probe_version() == version + 201, "an entry was lost or written twice"
        time.sleep(1.0)  # the clients write again after the outage
        finish(stop, clients, threads)
    finally:
        stop.set()
        for client in clients:
            client.abandon.set()
        http.close()
        server.stop()
        for thread in threads:
            thread.join(timeout=60)
    assert not tally.unexpected, tally.unexpected[:5]
    assert not server.tracebacks(), server.tracebacks()

    # The clients' requests: a success, a conflict or a bounded 503; none hung.
    attempts = tally.attempts
    assert {a.status for a in attempts} <= {200, 409, 503}, {a.status for a in attempts}
    unavailable = [a for a in attempts if a.status == 503]
    assert unavailable, "no client request met the frozen database"
    assert all(a.error == "unavailable" and a.retry_after for a in unavailable)
    assert max(a.seconds for a in attempts) < IN_FLIGHT_BOUND
    assert any(a.status == 200 and a.finished > thawed_at for a in attempts)

    result = check_run(
        config, world, baseline, tally, open_store(EvidenceConfig.from_env(home, env)),
        also_acknowledged=acknowledged,
    )  # fmt: skip
    figures.update(
        requests=len(attempts),
        answered_503=len(unavailable),
        slowest_503=round(max(a.seconds for a in unavailable), 2),
        acknowledged=result.acknowledged,
        replayed=result.replayed,
        entries_lost=result.entries_lost,
    )
    print(json.dumps(figures))


def _retry(http: httpx.Client, command: dict[str, Any]) -> httpx.Response:
    """Re-send the same command until it gets a definitive answer (a pooled connection
    that died with the freeze may answer 503 once more before it is replaced)."""
    for _ in range(50):
        response = http.post("/v1/entries", json=_body(command))
        if response.status_code != 503:
            return response
        time.sleep(0.1)
    return response


def test_the_cli_in_local_mode_exits_with_one_line_when_the_database_is_frozen(
    cluster: PgCluster, tmp_path: Path
) -> None:
    database_url = cluster.create_database("frozen_cli")
    home = tmp_path / "home"
    officers_fleet(LedgerConfig(home=home, database_url=database_url), 1, 1)
    env = {**os.environ, **_env(home, database_url), "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "api.cli", "status"]
    assert subprocess.run(command, env=env, capture_output=True, timeout=60).returncode == 0
    with frozen(cluster):
        started = time.monotonic()
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        seconds = time.monotonic() - started
    lines = result.stderr.strip().splitlines()
    print(json.dumps({"cli_seconds": round(seconds, 2), "stderr": lines[-3:]}))
    assert result.returncode != 0
    assert seconds < FRESH_BOUND + 3.0, f"the CLI took {seconds:.1f} s"  # + interpreter start
    assert len(lines) == 1 and "database" in lines[0] and "unavailable" in lines[0], lines


def test_an_append_waits_for_a_held_append_lock_only_the_lock_bound(
    cluster: PgCluster, tmp_path: Path
) -> None:
    """A live server, another session holding the append lock (a stuck writer elsewhere):
    the append is refused 503 after the lock bound, and goes through once it is free."""
    database_url = cluster.create_database("held_lock")
    home = tmp_path / "home"
    config = LedgerConfig(home=home, database_url=database_url)
    _, fleet, _ = officers_fleet(config, 1, 1, prefix="lock")
    officer = fleet[0]
    signer = Signer(officer.user_id, officer.key, ORIGIN)
    aggregate = action_aggregate_id(officer.actions[0])
    server = ServeProcess(_env(home, database_url), tmp_path / "logs")
    server.start()
    try:
        with httpx.Client(
            base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {officer.token}"}
        ) as http:
            version = int(http.get(f"/v1/aggregates/{aggregate}/version").json()["version"])
            command = _command(signer, aggregate, version, 1)
            with psycopg.connect(database_url, autocommit=True) as holder:
                holder.execute("SELECT pg_advisory_lock(%s)", (PostgresAppendLock.LOCK_KEY,))
                response, seconds = _timed(lambda: http.post("/v1/entries", json=_body(command)))
            _assert_unavailable(response, seconds, 2.0 + 1.5)
            assert seconds >= 2.0, f"refused after {seconds:.2f} s, before the lock bound"
            print(json.dumps({"held_lock_503_seconds": round(seconds, 2)}))
            retried = _retry(http, command)
            assert retried.status_code == 200, retried.text
    finally:
        server.stop()
    with Ledger(config) as ledger:
        assert ledger.version_of(aggregate) == version + 1
    assert not server.tracebacks(), server.tracebacks()
