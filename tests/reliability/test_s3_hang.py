"""A frozen S3 server (radosgw stopped with SIGSTOP) costs a bounded wait, then 503, and
the service answers again as soon as it thaws (issue 18, "hangs end").

Unlike a server that is down (connection refused: tests/reliability/test_outages.py), a
frozen one accepts connections and then says nothing, so only a read timeout ends the
wait. With INQUIRY_LEDGER_S3_READ_TIMEOUT=2, two attempts per S3 call and an upload
making two calls (is it stored? then the write), a frozen store answers 503 in about
6 s (measured 6.1 s); the test allows 12 s for a busy machine."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from api.application.evidence import ConfiguredEvidence
from tests.support.api_calls import auth
from tests.support.reliability.rgw import Gateway
from tests.support.web import web_client
from tests.support.world import World, clear_store_settings, make_world

BOUND_SECONDS = 12.0


@pytest.fixture
def s3_world(
    config: Any, clock: Any, ceph_s3: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    if ceph_s3.cluster is None:
        pytest.skip("the S3 server's folder is unknown: radosgw cannot be frozen")
    clear_store_settings(monkeypatch)
    for name, value in {
        "INQUIRY_LEDGER_S3_BUCKET": f"frozen-{uuid.uuid4().hex[:12]}",
        "INQUIRY_LEDGER_S3_ENDPOINT_URL": ceph_s3.endpoint_url,
        "INQUIRY_LEDGER_S3_ACCESS_KEY_ID": ceph_s3.access_key,
        "INQUIRY_LEDGER_S3_SECRET_ACCESS_KEY": ceph_s3.secret_key,
        "INQUIRY_LEDGER_S3_READ_TIMEOUT": "2",
    }.items():
        monkeypatch.setenv(name, value)
    world = make_world(config, clock)
    world.add_action("R1.1")
    world.ledger.evidence = ConfiguredEvidence(config.home)
    yield world
    world.ledger.close()


def timed(call: Any) -> tuple[Any, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_a_frozen_s3_server_is_a_bounded_503_and_recovers(s3_world: World, ceph_s3: Any) -> None:
    gateway = Gateway(ceph_s3.cluster, ceph_s3.endpoint_url)
    with web_client(s3_world) as http:
        headers = auth(http, "council.officer")
        stored = http.post("/v1/evidence", files={"file": ("m.txt", b"minutes\n")}, headers=headers)
        assert stored.status_code == 201, stored.text
        sha256 = stored.json()["sha256"]
        gateway.freeze()
        try:
            upload, upload_seconds = timed(
                lambda: http.post(
                    "/v1/evidence", files={"file": ("n.txt", b"notes\n")}, headers=headers
                )
            )
            _, status_seconds = timed(lambda: http.get("/healthz"))
        finally:
            gateway.thaw()
        assert upload.status_code == 503 and upload.headers.get("retry-after"), upload.text
        assert upload.json()["error"] == "unavailable"
        assert upload_seconds < BOUND_SECONDS, upload_seconds
        assert status_seconds < BOUND_SECONDS
        again = http.post("/v1/evidence", files={"file": ("n.txt", b"notes\n")}, headers=headers)
        assert again.status_code == 201, again.text
        assert http.get("/v1/status", headers=headers).status_code == 200
        print({"frozen_upload_503_seconds": round(upload_seconds, 2), "sha256": sha256[:8]})
