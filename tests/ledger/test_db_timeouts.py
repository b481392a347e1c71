"""PostgreSQL's bounds (issue 18): read from the environment, carried by every session the
ledger opens, and each one that runs out answered 503 (the frozen-server runs are in
tests/reliability/test_hangs.py)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import psycopg
import psycopg_pool
import pytest
from eventsourcing.persistence import OperationalError
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.http import unavailable
from ledger import pg_session
from ledger.config import ConfigError, DbTimeouts, LedgerConfig
from ledger.locks import PostgresAppendLock
from ledger.pg_session import BoundedApplicationRecorder, BoundedConnection, DatabaseNotAnswering
from ledger.service import Ledger


def test_the_bounds_come_from_the_environment_and_zero_is_refused() -> None:
    assert DbTimeouts.from_env({}) == DbTimeouts(
        timedelta(seconds=10), timedelta(seconds=10), timedelta(seconds=3), timedelta(seconds=3)
    )
    bounds = DbTimeouts.from_env(
        {
            "INQUIRY_LEDGER_DB_STATEMENT_TIMEOUT": "1.5",
            "INQUIRY_LEDGER_DB_LOCK_TIMEOUT": "4",
            "INQUIRY_LEDGER_DB_POOL_TIMEOUT": "0.5",
            "INQUIRY_LEDGER_DB_CONNECT_TIMEOUT": "1",
        }
    )
    assert bounds.reply == 3.5 and bounds.lock_reply == 6.0
    assert bounds.connect_seconds == 2  # libpq's least
    assert bounds.options() == "-c statement_timeout=1500 -c lock_timeout=4000"
    assert bounds.options(statement=False) == "-c lock_timeout=4000"
    for value in ("0", "-1", "soon"):
        with pytest.raises(ConfigError, match="INQUIRY_LEDGER_DB_LOCK_TIMEOUT"):
            LedgerConfig.from_env({"INQUIRY_LEDGER_DB_LOCK_TIMEOUT": value})
    config = LedgerConfig.from_env(
        {
            "INQUIRY_LEDGER_DATABASE_URL": "postgresql://u@h/d",
            "INQUIRY_LEDGER_DB_POOL_TIMEOUT": "2.5",
        }
    )
    env = config.eventsourcing_env()
    assert env["PERSISTENCE_MODULE"] == "ledger.pg_session:BoundedPostgresFactory"
    assert env["POSTGRES_CONNECT_TIMEOUT"] == "3" and env["LEDGER_DB_POOL_TIMEOUT"] == "2.5"
    assert env["POSTGRES_LOCK_TIMEOUT"] == "10"


def test_every_session_carries_the_bounds(postgres_url: str, tmp_path: Path) -> None:
    bounds = DbTimeouts(statement=timedelta(seconds=0.5), pool=timedelta(seconds=1.5))
    config = LedgerConfig(home=tmp_path / "home", database_url=postgres_url, db_timeouts=bounds)
    with Ledger(config) as ledger:
        datastore = ledger.tables.datastore
        assert datastore.pool.timeout == 1.5  # type: ignore[attr-defined]
        with ledger.tables.reading() as cursor:
            assert isinstance(cursor.connection, BoundedConnection)
            assert cursor.connection.reply_timeout == 2.5
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()["statement_timeout"] == "500ms"
            cursor.execute("SHOW lock_timeout")
            assert cursor.fetchone()["lock_timeout"] == "10s"
        started = time.monotonic()
        with pytest.raises(Exception, match="statement timeout"), ledger.tables.reading() as c:
            c.execute("SELECT pg_sleep(5)")  # cancelled by the server; the connection stays
        assert time.monotonic() - started < 2
        assert ledger.tree_size() >= 0
    lock = PostgresAppendLock(postgres_url, bounds)
    try:
        session = lock._conn
        assert session.execute("SHOW lock_timeout").fetchone() == ("10s",)
        assert session.execute("SHOW statement_timeout").fetchone() == ("0",)  # a lock wait only
        assert session.reply_timeout == 12.0
    finally:
        lock.close()


def test_a_server_that_does_not_answer_is_given_up_on(postgres_url: str) -> None:
    """A reply slower than the client's bound (here: a server-side sleep with no statement
    timeout, standing in for a frozen server) closes the connection and raises."""
    conn = BoundedConnection.connect(postgres_url, reply_timeout=0.5, autocommit=True)
    started = time.monotonic()
    with pytest.raises(DatabaseNotAnswering, match=r"no answer within 0\.5 s"):
        conn.execute("SELECT pg_sleep(3)")
    assert time.monotonic() - started < 1.5
    assert conn.closed


@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
        psycopg_pool.PoolTimeout("couldn't get a connection after 3.00 sec"),
        psycopg.errors.ConnectionTimeout("connection timeout expired"),
        DatabaseNotAnswering("the database sent no answer within 12 s"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_each_bound_that_runs_out_is_a_503_with_retry_after(error: Exception) -> None:
    app = FastAPI()
    unavailable.install(app)

    @app.get("/")
    def fail() -> None:
        raise error

    with TestClient(app, raise_server_exceptions=False) as http:
        response = http.get("/")
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    assert response.headers["retry-after"] == str(unavailable.RETRY_AFTER_SECONDS)


def test_eventsourcing_retries_stop_once_a_bound_ran_out(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """eventsourcing retries a read or insert ten times: after a bound ran out that would
    wait ten bounds; a connection that merely died is still retried."""
    with Ledger(LedgerConfig(home=tmp_path / "home", database_url=postgres_url)) as ledger:
        assert isinstance(ledger.app.recorder, BoundedApplicationRecorder)
    monkeypatch.setattr(pg_session, "RETRY_WAIT_SECONDS", 0)
    for cause, calls in (
        (psycopg_pool.PoolTimeout("couldn't get a connection after 3.00 sec"), 1),
        (DatabaseNotAnswering("the database sent no answer within 12 s"), 1),
        (psycopg.OperationalError("server closed the connection unexpectedly"), 10),
    ):
        attempts: list[int] = []

        def fails(error: Exception = cause, attempts: list[int] = attempts) -> None:
            attempts.append(1)
            raise OperationalError(str(error)) from error

        with pytest.raises(OperationalError):
            pg_session._retried_unless_a_bound_ran_out(fails)()
        assert len(attempts) == calls, cause
