"""PostgreSQL sessions that cannot wait for ever: every connection the ledger makes.

Three bounds, because a server can hang in three ways (issue 18):

* a statement that runs too long, or waits too long for a lock, on a live server: the
  server cancels it itself (`statement_timeout`, `lock_timeout`, set in the session's
  startup packet, so they cost no round trip) and the connection stays usable;
* a server that answers nothing at all (frozen: SIGSTOP, a stalled disk or VM, a
  partition). Its kernel still acknowledges every packet, so neither TCP keepalives nor
  its own timers help (measured on the private cluster: a query sent to a stopped
  server with keepalives of 1 s and statement_timeout of 2 s still waited after 12 s).
  Only the client can give up: `BoundedConnection` waits for any answer at most the
  statement bound plus `REPLY_GRACE`, then closes the connection and raises
  `DatabaseNotAnswering`. What it was doing the server either finishes when it resumes
  or rolls back when it sees the connection gone, never half: the events are one
  transaction, and a tree left short of them is completed by the next append (so a
  refused append retried with its command id is answered once, api/http/routes);
* a new connection that never completes its start-up: libpq's `connect_timeout`.

eventsourcing retries its reads and inserts of events ten times, 0.2 s apart, on any
OperationalError: right for a pooled connection that died with a restart (it fails at
once, and the next one works), wrong once one of these bounds ran out, which would make
every wait up to ten times as long (an append caught by a freeze had no answer after
13 s, with the tests' 3 s bounds). `BoundedApplicationRecorder` keeps the retries but
stops at such an error.

Keepalives are on all the same: they make a connection to a host that has vanished
(power cut, network partition) fail when next used instead of after the reply bound.

Every failure here is a psycopg OperationalError, which the API answers 503 with
Retry-After (api/http/unavailable.py) and eventsourcing re-raises as its own
OperationalError."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Self, cast

import psycopg
import psycopg_pool
from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.utils import Environment, EnvType
from psycopg.abc import RV, PQGen
from psycopg.connection import _WAIT_INTERVAL

from ledger.config import DbTimeouts

#: TCP keepalives: probe an idle connection after 10 s, every 5 s, give up after 3 misses.
KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


class DatabaseNotAnswering(psycopg.OperationalError):
    """The server sent no answer within the reply bound; the connection is closed."""


class BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection that waits for each answer at most `reply_timeout` seconds.

    Every operation (execute, fetch, commit, rollback) goes through `wait`, so one
    override bounds them all; psycopg's own timed waits (a cancel, notifies) keep theirs.
    A wait cut short leaves the protocol mid-message, so the connection is closed and a
    pool replaces it."""

    reply_timeout: float | None = None

    @classmethod
    def connect(  # type: ignore[override]  # one more keyword, a float: not a libpq one
        cls, conninfo: str = "", *, reply_timeout: float | None = None, **kwargs: Any
    ) -> Self:
        """`Connection.connect`, and `reply_timeout`: a pool passes it with its kwargs."""
        conn = super().connect(conninfo, **kwargs)
        conn.reply_timeout = reply_timeout
        return conn

    def wait(
        self, gen: PQGen[RV], interval: float = _WAIT_INTERVAL, timeout: float | None = None
    ) -> RV:
        if timeout is not None or self.reply_timeout is None:
            return super().wait(gen, interval, timeout)
        try:
            return super().wait(gen, interval, self.reply_timeout)
        except psycopg.errors._WaitTimeout:
            self.close()
            raise DatabaseNotAnswering(
                f"the database sent no answer within {self.reply_timeout:g} s"
            ) from None


#: A bound that ran out: the server is frozen or swamped, and asking again at once would
#: only wait as long again. The request is refused (503) and the client retries later.
BOUNDS_RAN_OUT: tuple[type[Exception], ...] = (
    DatabaseNotAnswering,
    psycopg.errors.QueryCanceled,
    psycopg.errors.LockNotAvailable,
    psycopg.errors.ConnectionTimeout,
    psycopg_pool.PoolTimeout,
)
#: eventsourcing's own retry policy (its `@retry` on the recorder's methods).
RETRY_ATTEMPTS = 10
RETRY_WAIT_SECONDS = 0.2


def _retried_unless_a_bound_ran_out(method: Callable[..., Any]) -> Any:
    """`method` without eventsourcing's retry decorator, retried as that decorator does,
    except after an error caused by a bound running out (eventsourcing re-raises
    psycopg's errors as its own, the original as the cause)."""
    inner: Callable[..., Any] = getattr(method, "__wrapped__", method)

    @functools.wraps(inner)
    def retried(*args: Any, **kwargs: Any) -> Any:
        attempt = 1
        while True:
            try:
                return inner(*args, **kwargs)
            except (InterfaceError, OperationalError) as error:
                if attempt >= RETRY_ATTEMPTS or isinstance(error.__cause__, BOUNDS_RAN_OUT):
                    raise
            attempt += 1
            time.sleep(RETRY_WAIT_SECONDS)

    return retried


class BoundedApplicationRecorder(PostgresApplicationRecorder):
    """eventsourcing's recorder, its retried methods not retried once a bound ran out."""

    insert_events = _retried_unless_a_bound_ran_out(PostgresApplicationRecorder.insert_events)
    select_events = _retried_unless_a_bound_ran_out(PostgresApplicationRecorder.select_events)
    select_notifications = _retried_unless_a_bound_ran_out(
        PostgresApplicationRecorder.select_notifications
    )
    max_notification_id = _retried_unless_a_bound_ran_out(
        PostgresApplicationRecorder.max_notification_id
    )


def session_parameters(bounds: DbTimeouts, *, statement: bool = True) -> dict[str, Any]:
    """libpq parameters of a bounded session (`statement`: see `DbTimeouts.options`)."""
    return {
        "connect_timeout": bounds.connect_seconds,
        "options": bounds.options(statement=statement),
        **KEEPALIVES,
    }


def connect(
    conninfo: str, bounds: DbTimeouts, *, reply_timeout: float, statement: bool = True
) -> BoundedConnection:
    """A dedicated autocommit session (the append lock's, a run lock's)."""
    return BoundedConnection.connect(
        conninfo,
        reply_timeout=reply_timeout,
        autocommit=True,
        **session_parameters(bounds, statement=statement),
    )


def _timeouts(env: Environment) -> DbTimeouts:
    """The bounds LedgerConfig.eventsourcing_env() passed (seconds), else the defaults."""
    default = DbTimeouts()

    def seconds(name: str, fallback: timedelta) -> timedelta:
        text = env.get(name)
        return timedelta(seconds=float(text)) if text else fallback

    return DbTimeouts(
        statement=seconds("LEDGER_DB_STATEMENT_TIMEOUT", default.statement),
        lock=seconds("LEDGER_DB_LOCK_TIMEOUT", default.lock),
        pool=seconds("LEDGER_DB_POOL_TIMEOUT", default.pool),
        connect=seconds("LEDGER_DB_CONNECT_TIMEOUT", default.connect),
    )


class BoundedPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL factory, its pool making `BoundedConnection`s and its
    recorder a `BoundedApplicationRecorder`.

    eventsourcing offers no setting for libpq parameters or a statement timeout, so the
    pool (created closed, opened on first use) is adjusted before anything connects:
    the connection class, the session parameters and the exact pool wait (its own
    setting, POSTGRES_CONNECT_TIMEOUT, takes whole seconds)."""

    application_recorder_class = BoundedApplicationRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        bounds = _timeouts(self.env)
        pool = self.datastore.pool
        pool.connection_class = cast(Any, BoundedConnection)
        pool.timeout = bounds.pool.total_seconds()
        kwargs = cast(dict[str, Any], pool.kwargs)
        kwargs.update(session_parameters(bounds), reply_timeout=bounds.reply)
