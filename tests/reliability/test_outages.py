"""Outages: PostgreSQL is restarted (stopped as if it crashed, then started) and the S3
server (Ceph RADOS Gateway) is stopped and started again, while clients keep posting
signed entries and evidence to a running `inquiry-ledger serve`.

While a store is down, requests fail fast (seconds, not a hang) with
503 {"error": "unavailable", ...} and Retry-After, never a 500; an evidence entry cannot be
appended while its blob cannot be checked; entries that need only the database still go
through while S3 is down. When the store returns the service recovers by itself (no
restart). Afterwards the log holds exactly the acknowledged entries and verifies, and
every blob an entry names is in S3.

The database is a private PostgreSQL 15 cluster on a free port (_pgcluster.py), never
the machine's shared server; the S3 outage stops only radosgw of the session's Ceph
cluster (objects live in the OSD, which keeps running)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from api.application.evidence import ConfiguredEvidence
from api.application.tokens import TokenStore
from api.application.uploads import EvidenceUploads
from api.http.app import create_app
from domain import Action, action_aggregate_id
from evidence_store.config import EvidenceConfig, open_store
from ledger.config import LedgerConfig
from ledger.signer import Signer
from tests.support.clock import Clock
from tests.support.postgres import POSTGRES_ADMIN_URL
from tests.support.reliability.checks import check_run
from tests.support.reliability.client import RetryingClient, Tally, finish, wire
from tests.support.reliability.fleet import officers_fleet
from tests.support.reliability.pgcluster import PgCluster
from tests.support.reliability.rgw import Gateway
from tests.support.reliability.serve import ServeProcess
from tests.support.server import free_port
from tests.support.world import ORIGIN, make_world

OUTAGE_SECONDS = 4.0
# The slowest acceptable answer around an outage. A request waits at most 3 s for a pooled
# connection (ledger/config.py), and one that reads twice (token, then data) while the
# database comes back can wait twice; measured worst 6.8 s. A hang would be unbounded.
FAIL_FAST_SECONDS = 10.0
RECOVERY_SECONDS = 60.0  # bound on waiting for the service to come back by itself


@pytest.fixture
def own_postgres() -> Iterator[PgCluster]:
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


def _timed(send: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


def _assert_unavailable(response: httpx.Response, seconds: float) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "unavailable", response.text
    assert response.headers.get("retry-after"), "503 without Retry-After"
    assert seconds < FAIL_FAST_SECONDS, f"took {seconds:.1f} s to fail"


def _wait_for(check: Any) -> float:
    """Seconds until `check()` is true (polled), at most RECOVERY_SECONDS."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < RECOVERY_SECONDS, "the service did not recover"
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.mark.reliability
def test_database_restart_and_s3_outage_fail_fast_with_503_and_recover(
    own_postgres: PgCluster, ceph_s3: Any, tmp_path: Path
) -> None:
    if ceph_s3.cluster is None:
        pytest.skip("the S3 server's folder is unknown: radosgw cannot be stopped")
    database_url = own_postgres.create_database("ledger")
    home = tmp_path / "home"
    config = LedgerConfig(home=home, database_url=database_url)
    env = {
        "INQUIRY_LEDGER_HOME": str(home),
        "INQUIRY_LEDGER_DATABASE_URL": database_url,
        "INQUIRY_LEDGER_S3_BUCKET": f"outage-{uuid.uuid4().hex[:12]}",
        "INQUIRY_LEDGER_S3_ENDPOINT_URL": ceph_s3.endpoint_url,
        "INQUIRY_LEDGER_S3_ACCESS_KEY_ID": ceph_s3.access_key,
        "INQUIRY_LEDGER_S3_SECRET_ACCESS_KEY": ceph_s3.secret_key,
        "INQUIRY_LEDGER_S3_RETENTION_DAYS": "1",
    }
    world, fleet, baseline = officers_fleet(config, 4, 4, prefix="outage")
    store = open_store(EvidenceConfig.from_env(home, env))  # creates the bucket
    # Officers 0-2 are clients; officer 3 probes on R2.4, an action no client writes to.
    probe = fleet[3]
    probe_signer = Signer(probe.user_id, probe.key, ORIGIN)
    probe_aggregate = action_aggregate_id("R2.4")
    gateway = Gateway(ceph_s3.cluster, ceph_s3.endpoint_url)

    server = ServeProcess(env, tmp_path / "logs")
    tally = Tally()
    clients = [
        RetryingClient(
            server.url, o.user_id, o.key, o.token, o.actions[:2], tally, seed=n,
            evidence_every=3, evidence_bytes=(1_000, 50_000),
        )
        for n, o in enumerate(fleet[:3])
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

    probe_appended: list[str] = []  # signatures (hex) of the probe's acknowledged entries

    def comment(text: str, version: int) -> dict[str, Any]:
        entry = probe_signer.sign(
            Action.CommentAdded.TYPE, probe_aggregate, version, {"kind": "comment", "text": text}
        )
        probe_appended.append(entry.signature.hex())  # each is acknowledged below
        return {"entries": [wire(entry)], "command_id": f"probe-{uuid.uuid4().hex}"}

    try:
        for thread in threads:
            thread.start()
        time.sleep(2)

        # -- PostgreSQL goes down (as if it crashed), then comes back ----------------------
        version = probe_version()
        during_db = comment("written while the database is down", version + 1)
        own_postgres.stop("immediate")
        db_down_at = time.monotonic()
        time.sleep(0.3)
        response, seconds = _timed(lambda: http.get("/healthz"))
        _assert_unavailable(response, seconds)
        response, seconds = _timed(lambda: http.post("/v1/entries", json=during_db))
        _assert_unavailable(response, seconds)
        figures["db_down_503_seconds"] = round(seconds, 2)
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - db_down_at)))
        own_postgres.start()
        db_up_at = time.monotonic()
        figures["db_recovery_seconds"] = round(
            _wait_for(lambda: http.get("/healthz").status_code == 200), 2
        )
        # The refused attempt left nothing behind; its retry is appended exactly once. A
        # pooled connection that died with the server answers 503 once, then is replaced.
        assert probe_version() == version
        retried = http.post("/v1/entries", json=during_db)
        late = 0
        while retried.status_code == 503 and late < 50:
            late += 1
            time.sleep(0.1)
            retried = http.post("/v1/entries", json=during_db)
        assert retried.status_code == 200, retried.text
        figures["db_503s_after_recovery"] = late
        assert probe_version() == version + 1
        time.sleep(2)

        # -- the S3 server stops, then starts again ------------------------------------------
        orphan_candidate = os.urandom(2048)
        never_stored = hashlib.sha256(orphan_candidate).hexdigest()

        def evidence_entry(sha256: str, size: int, media_type: str) -> Any:
            return probe_signer.sign(
                Action.EvidenceAttached.TYPE,
                probe_aggregate,
                probe_version() + 1,
                {
                    "sha256": sha256,
                    "size": size,
                    "media_type": media_type,
                    "original_name": "file.bin",
                    "description": "an evidence entry sent while S3 is down",
                    "storage_key": f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}",
                    "effective_date": "2024-01-01",
                },
            )

        unbacked = {
            "entries": [
                wire(
                    evidence_entry(never_stored, len(orphan_candidate), "application/octet-stream")
                )
            ],
            "command_id": "probe-unbacked-0001",
        }
        # A blob this agency uploaded before the outage: naming it needs the store.
        held = http.post("/v1/evidence", files={"file": ("held.bin", os.urandom(1024))})
        assert held.status_code == 201, held.text
        tally.uploads.add(held.json()["sha256"])  # an orphan once its entry is refused below
        backed = {
            "entries": [
                wire(
                    evidence_entry(
                        held.json()["sha256"], held.json()["size"], held.json()["media_type"]
                    )
                )
            ],
            "command_id": "probe-backed-0001",
        }
        gateway.stop()
        s3_down_at = time.monotonic()
        try:
            upload = lambda: http.post(  # noqa: E731
                "/v1/evidence", files={"file": ("e.bin", orphan_candidate)}
            )
            response, seconds = _timed(upload)
            _assert_unavailable(response, seconds)
            figures["s3_down_upload_503_seconds"] = round(seconds, 2)
            response, seconds = _timed(lambda: http.post("/v1/entries", json=backed))
            _assert_unavailable(response, seconds)  # cannot check the blob: not appended
            # A blob the agency never uploaded is refused without asking the store
            # (api/application/uploads.py), outage or not.
            response = http.post("/v1/entries", json=unbacked)
            assert response.status_code == 422, response.text
            version = probe_version()
            response = http.post("/v1/entries", json=comment("S3 is down", version + 1))
            assert response.status_code == 200, "the database alone should still serve"
            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - s3_down_at)))
        finally:
            figures["radosgw_restart_seconds"] = round(gateway.start(), 2)
        s3_up_at = time.monotonic()
        response = http.post("/v1/entries", json=unbacked)
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "missing_evidence"
        figures["s3_recovery_seconds"] = round(_wait_for(lambda: upload().status_code == 201), 2)
        time.sleep(2)
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

    # Every answer: a success, a conflict or a fast 503 with its reason; never a 500 or a hang.
    attempts = tally.attempts
    assert {a.status for a in attempts} <= {200, 201, 409, 503}, {a.status for a in attempts}
    unavailable = [a for a in attempts if a.status == 503]
    assert unavailable, "no client request met the outages"
    assert all(a.error == "unavailable" and a.retry_after for a in unavailable)
    assert max(a.seconds for a in attempts) < FAIL_FAST_SECONDS
    # ... and the clients themselves recovered after each outage.
    assert any(a.status == 200 and a.finished > db_up_at for a in attempts)
    assert any(a.status == 201 and a.finished > s3_up_at for a in attempts)

    tally.uploads.add(never_stored)  # the probe's upload after S3 came back
    result = check_run(config, world, baseline, tally, store, also_acknowledged=probe_appended)
    assert never_stored in result.orphans  # stored, but its entry was never appended
    figures.update(
        requests=len(attempts),
        answered_503=len(unavailable),
        slowest_answers=[
            f"{a.path} {a.status} {a.seconds:.2f}s"
            for a in sorted(attempts, key=lambda a: a.seconds)[-3:]
        ],
        acknowledged=result.acknowledged,
        refused_409=result.refused,
        entries_lost=result.entries_lost,
        evidence_named=result.evidence_named,
        orphan_blobs=len(result.orphans),
    )
    print(json.dumps(figures))


# -- fast checks of the same mapping, without restarting anything --------------------------


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("INQUIRY_LEDGER_"):
            monkeypatch.delenv(name)


def test_an_unreachable_s3_server_is_a_fast_503_and_no_evidence_entry_is_appended(
    config: LedgerConfig, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_env(monkeypatch)
    monkeypatch.setenv("INQUIRY_LEDGER_S3_BUCKET", "unreachable")
    monkeypatch.setenv("INQUIRY_LEDGER_S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("INQUIRY_LEDGER_S3_ACCESS_KEY_ID", "nobody")
    monkeypatch.setenv("INQUIRY_LEDGER_S3_SECRET_ACCESS_KEY", "nothing")
    world = make_world(config, clock)
    world.add_action("R1.1")
    world.ledger.evidence = ConfiguredEvidence(config.home)  # S3, where nothing listens
    try:
        with TestClient(create_app(config, world.ledger)) as http:
            token = TokenStore(world.ledger.tables).create(
                "council.officer", timedelta(days=1), now=clock.now
            )
            headers = {"Authorization": f"Bearer {token}"}
            data = b"minutes of the meeting\n"
            response, seconds = _timed(
                lambda: http.post("/v1/evidence", files={"file": ("m.txt", data)}, headers=headers)
            )
            _assert_unavailable(response, seconds)

            aggregate = action_aggregate_id("R1.1")
            version = world.ledger.version_of(aggregate)
            sha256 = hashlib.sha256(data).hexdigest()
            # As if the council had uploaded it before the outage: naming it then needs
            # the store (a blob it never uploaded is refused without asking it).
            EvidenceUploads(world.ledger.tables).record(sha256, "council", "council.officer")
            entry = world.signer("council.officer").sign(
                Action.EvidenceAttached.TYPE,
                aggregate,
                version + 1,
                {
                    "sha256": sha256,
                    "size": len(data),
                    "media_type": "text/plain",
                    "original_name": "m.txt",
                    "description": "Minutes",
                    "storage_key": f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}",
                    "effective_date": "2024-01-01",
                },
            )
            response, seconds = _timed(
                lambda: http.post("/v1/entries", json={"entries": [wire(entry)]}, headers=headers)
            )
            _assert_unavailable(response, seconds)
            assert world.ledger.version_of(aggregate) == version, "appended without its blob"
    finally:
        world.ledger.close()


def test_a_database_that_goes_away_is_a_503_not_a_500(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_env(monkeypatch)
    config = LedgerConfig(home=tmp_path / "home", database_url=postgres_url)
    world = make_world(config, Clock())
    token = TokenStore(world.ledger.tables).create(
        "council.officer", timedelta(days=1), now=world.clock.now
    )
    try:
        with TestClient(create_app(config, world.ledger)) as http:
            assert http.get("/healthz").status_code == 200
            name = postgres_url.rsplit("/", 1)[1]
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            for path in ("/healthz", "/v1/me"):
                response, seconds = _timed(
                    lambda: http.get(path, headers={"Authorization": f"Bearer {token}"})  # noqa: B023
                )
                _assert_unavailable(response, seconds)
    finally:
        world.ledger.close()
