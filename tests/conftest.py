"""Fixtures: every ledger test runs on SQLite and on the real PostgreSQL.

PostgreSQL is on 127.0.0.1:5432 with trust authentication on every machine of this
kind (CI included); each test gets a database of its own, dropped afterwards. Set
INQUIRY_LEDGER_TEST_POSTGRES to another server URL (its "postgres" database) to use it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.config import LedgerConfig
from tests.support.clock import Clock
from tests.support.postgres import POSTGRES_ADMIN_URL
from tests.support.world import World, clear_store_settings, make_world

#: Fixtures shared by several test packages (an SMTP inbox for the reminders' tests).
pytest_plugins = ["tests.support.smtp_inbox"]


def _database_url(name: str) -> str:
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    name = f"inquiry_ledger_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({error}); start it with "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _database_url(name)
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def cli(config: LedgerConfig, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Any:
    """Run the CLI against this test's ledger; returns (exit code, stdout, stderr)."""
    clear_store_settings(monkeypatch)
    monkeypatch.delenv("INQUIRY_LEDGER_USER", raising=False)
    monkeypatch.delenv("INQUIRY_LEDGER_KEY", raising=False)
    if config.database_url:
        monkeypatch.setenv("INQUIRY_LEDGER_DATABASE_URL", config.database_url)
    else:
        monkeypatch.delenv("INQUIRY_LEDGER_DATABASE_URL", raising=False)
    monkeypatch.setenv("INQUIRY_LEDGER_HOME", str(config.home))

    from api.cli.main import main

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    run.config = config  # type: ignore[attr-defined]
    return run


@pytest.fixture(params=["sqlite", "postgres"])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> LedgerConfig:
    if request.param == "sqlite":
        return LedgerConfig(home=tmp_path / "home")
    url = request.getfixturevalue("postgres_url")
    return LedgerConfig(home=tmp_path / "home", database_url=url)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def world(config: LedgerConfig, clock: Clock) -> Iterator[World]:
    """The small charter world (tests/support/world.py) with action R1.1 for the council,
    on this test's backend and clock. Modules that need another world define their own."""
    w = make_world(config, clock)
    w.add_action("R1.1")
    yield w
    w.ledger.close()


# -- a real S3 server: Ceph RADOS Gateway, started once per test session -----------------

CEPH_TOOLS = Path(__file__).resolve().parents[1] / "tools"
CEPH_ACCESS_KEY = "LEDGERACCESSKEY0001"
CEPH_SECRET_KEY = "ledgersecretkey0000000000000000000000001"
CEPH_HINT = (
    "install it with: apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd "
    "(CI does this in .ci/run)"
)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    # The cluster's folder (ceph.conf, pid files): outage tests stop and restart radosgw.
    cluster: Path | None = None

    def client(self) -> Any:
        from evidence_store.s3 import make_client

        return make_client(self.endpoint_url, "us-east-1", self.access_key, self.secret_key)


@pytest.fixture(scope="session")
def ceph_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """Ceph RGW on loopback (memstore). In CI it must start; elsewhere, without the
    packages, the S3 tests are skipped with a message saying how to enable them."""
    import shutil
    import subprocess

    up, down = CEPH_TOOLS / "ceph-s3-up.sh", CEPH_TOOLS / "ceph-s3-down.sh"
    missing = shutil.which("radosgw") is None or not up.exists()
    if missing:
        message = f"Ceph RADOS Gateway is not available ({up}); {CEPH_HINT}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    cluster = tmp_path_factory.mktemp("ceph") / "cluster"
    rgw_port = _free_port()
    env = dict(os.environ, MON_PORT=str(_free_port()), RGW_PORT=str(rgw_port))
    result = subprocess.run(
        ["bash", str(up), str(cluster)], env=env, capture_output=True, text=True, timeout=240
    )
    if result.returncode != 0:
        subprocess.run(["bash", str(down), str(cluster)], capture_output=True, timeout=60)
        pytest.fail(f"Ceph did not start:\n{result.stdout}\n{result.stderr}")
    try:
        yield S3Server(f"http://127.0.0.1:{rgw_port}", CEPH_ACCESS_KEY, CEPH_SECRET_KEY, cluster)
    finally:
        subprocess.run(["bash", str(down), str(cluster)], capture_output=True, timeout=120)
